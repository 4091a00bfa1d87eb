//! The output formats commands offer, as flags.

use clap::ValueEnum;
use pollwise_lab::cmd::compare::CompareFormat as LabCompareFormat;
use pollwise_lab::text::RowFormat;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// CSV with a header row (the common result schema).
    Csv,
    /// One JSON object per row, one per line.
    Json,
}

impl From<Format> for RowFormat {
    fn from(f: Format) -> RowFormat {
        match f {
            Format::Table => RowFormat::Table,
            Format::Csv => RowFormat::Csv,
            Format::Json => RowFormat::Json,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// The reference table's layout (docs/design.md) plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
}

impl From<CompareFormat> for LabCompareFormat {
    fn from(f: CompareFormat) -> LabCompareFormat {
        match f {
            CompareFormat::Table => LabCompareFormat::Table,
            CompareFormat::Csv => LabCompareFormat::Csv,
        }
    }
}
