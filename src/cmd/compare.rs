//! `pollwise compare`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct CompareArgs {}

pub fn run(_args: CompareArgs) -> Result<()> {
    bail!("`pollwise compare` is not implemented yet")
}
