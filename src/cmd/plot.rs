//! `pollwise plot`: not built yet.

use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum PlotCommand {}

pub fn run(_command: PlotCommand) -> Result<()> {
    bail!("`pollwise plot` is not implemented yet")
}
