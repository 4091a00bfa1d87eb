//! `pollwise report`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct ReportArgs {}

pub fn run(_args: ReportArgs) -> Result<()> {
    bail!("`pollwise report` is not implemented yet")
}
