//! The output formats commands offer, as flags.

use clap::{Args, ValueEnum};
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

same_variants!(Format => RowFormat: Table, Csv, Json);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// The reference table's layout (docs/design.md) plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
    /// A table within 72 columns, the setup and the verdict, for qemu-devel.
    Mail,
}

same_variants!(CompareFormat => LabCompareFormat: Table, Csv, Mail);

#[derive(Args, Debug)]
pub struct ForceArg {
    /// Replace an output file that pollwise did not write (judged by its content).
    #[arg(long)]
    pub force: bool,
}
