//! `pollwise validate`: not built yet.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs) -> Result<()> {
    bail!("`pollwise validate` is not implemented yet")
}
