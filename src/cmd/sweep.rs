//! `pollwise sweep`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct SweepArgs {}

pub fn run(_args: SweepArgs) -> Result<()> {
    bail!("`pollwise sweep` is not implemented yet")
}
