//! The row formats every command offers, as a flag.

use clap::ValueEnum;
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
