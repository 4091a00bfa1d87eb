//! Flags several commands share: how many threads simulate, and how many
//! times each run is repeated.

use anyhow::{bail, Result};
use clap::Args;

use crate::policy_args::deprecated;

/// `--threads`, on the commands that run simulations in parallel.
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

/// The repeat count from `--repeat`, or from the deprecated `--seeds`
/// (with its note), or `default`; at least 1.
pub fn repeat_of(repeat: Option<u32>, seeds: Option<u32>, default: u32) -> Result<u32> {
    if let Some(n) = seeds {
        deprecated(&format!("--seeds {n}"), &format!("--repeat {n}"));
    }
    let n = repeat.or(seeds).unwrap_or(default);
    if n == 0 {
        bail!("--repeat 0: give at least 1 (runs per point and policy)");
    }
    Ok(n)
}
