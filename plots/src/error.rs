//! The one error type of the plots crate: every message says what was wrong
//! and, where it can, what would be right.

use std::fmt;
use std::path::PathBuf;

use plotters::drawing::DrawingAreaErrorKind;

#[derive(Debug)]
pub enum PlotError {
    /// The input could not be opened or read.
    Read { path: PathBuf, message: String },
    /// The input is not well-formed CSV (ragged row, bad UTF-8, ...).
    Csv { path: PathBuf, message: String },
    /// The input has no header, or a header and no data rows.
    Empty { path: PathBuf, header_only: bool },
    /// A column the plot needs is not in the header.
    MissingColumn {
        path: PathBuf,
        column: String,
        present: Vec<String>,
    },
    /// A cell that must be a finite number is not.
    BadNumber {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    /// A data row repeats the header: shard files concatenated with their
    /// header lines.
    RepeatedHeader { path: PathBuf, line: u64 },
    /// The output's extension names no format we write.
    UnknownExtension { path: PathBuf },
    /// A plot option is malformed or does not fit the data.
    Invalid(String),
    /// Drawing or writing the picture failed.
    Draw(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Read { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            PlotError::Csv { path, message } => {
                write!(f, "{} is not valid CSV: {message}", path.display())
            }
            PlotError::Empty { path, header_only } => {
                if *header_only {
                    write!(
                        f,
                        "{} has a header but no data rows: nothing to plot",
                        path.display()
                    )
                } else {
                    write!(
                        f,
                        "{} is empty: expected CSV with a header row and data rows",
                        path.display()
                    )
                }
            }
            PlotError::MissingColumn {
                path,
                column,
                present,
            } => write!(
                f,
                "{} has no column '{column}' (columns present: {})",
                path.display(),
                present.join(", ")
            ),
            PlotError::BadNumber {
                path,
                line,
                column,
                value,
            } => write!(
                f,
                "{} line {line}: column '{column}' must be a number between -1e18 and 1e18, got \
                 '{value}'",
                path.display()
            ),
            PlotError::RepeatedHeader { path, line } => write!(
                f,
                "{} line {line} repeats the header line (line 1): it looks like several CSV \
                 files were concatenated with their headers; keep only the first header line \
                 (e.g. `tail -n +2` on every file after the first)",
                path.display()
            ),
            PlotError::UnknownExtension { path } => write!(
                f,
                "cannot tell the picture format of {}: the output must end in .png or .svg",
                path.display()
            ),
            PlotError::Invalid(message) => f.write_str(message),
            PlotError::Draw(message) => write!(f, "drawing failed: {message}"),
        }
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Draw(e.to_string())
    }
}
