//! `--threads`, on the commands that run simulations in parallel.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Clone, Debug, Default)]
pub struct ThreadsArgs {
    /// Threads for the simulated runs, which run in parallel [default: one
    /// per CPU].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Sizes the pool parallel runs use; 0 or a second call is an error.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    match threads {
        None => Ok(()),
        Some(0) => bail!("--threads 0: give at least 1 (or leave it out for one per CPU)"),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?),
    }
}
