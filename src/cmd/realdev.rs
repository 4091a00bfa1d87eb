//! `pollwise realdev`: not built yet.

use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum RealdevCommand {}

pub fn run(_command: RealdevCommand) -> Result<()> {
    bail!("`pollwise realdev` is not implemented yet")
}
