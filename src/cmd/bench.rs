//! `pollwise bench`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> Result<()> {
    bail!("`pollwise bench` is not implemented yet")
}
