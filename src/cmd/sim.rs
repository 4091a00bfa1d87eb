//! `pollwise sim`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct SimArgs {}

pub fn run(_args: SimArgs) -> Result<()> {
    bail!("`pollwise sim` is not implemented yet")
}
