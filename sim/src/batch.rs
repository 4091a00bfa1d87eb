//! Many independent runs in parallel. Each run is deterministic, and the
//! results come back in job order, so the output does not depend on the
//! number of threads or on scheduling.

use pollwise_core::{Params, RunRow};
use rayon::prelude::*;

use crate::error::SimError;
use crate::preset::Preset;
use crate::workload::Workload;

/// The most runs one batch may hold: far beyond any useful sweep on one
/// machine (shard larger ones), and small enough that the job list fits in
/// memory.
pub const MAX_RUNS: u64 = 10_000_000;

/// `count` runs, or an error saying the batch is too large.
pub fn check_runs(count: Option<u64>, what: &str) -> Result<u64, SimError> {
    match count {
        Some(n) if n <= MAX_RUNS => Ok(n),
        Some(n) => Err(SimError::Workload(format!(
            "{what} would be {n} runs; at most {MAX_RUNS} are allowed: use fewer values or seeds"
        ))),
        None => Err(SimError::Workload(format!(
            "{what} would be more than 2^64 runs; at most {MAX_RUNS} are allowed: use fewer \
             values or seeds"
        ))),
    }
}

/// Seed `base + index`, or an error when it would pass u64::MAX.
pub fn nth_seed(base: u64, index: u64) -> Result<u64, SimError> {
    base.checked_add(index).ok_or_else(|| {
        SimError::Workload(format!(
            "seed {base} + {index} overflows: use a smaller --seed"
        ))
    })
}

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    pub preset: &'a Preset,
    pub workload: Workload,
    pub params: Params,
    pub seed: u64,
}

/// Runs every job (in parallel) and calls `done` after each one, from any
/// thread, for progress reporting.
pub fn run_jobs(jobs: &[Job<'_>], done: &(dyn Fn() + Sync)) -> Result<Vec<RunRow>, SimError> {
    jobs.par_iter()
        .map(|j| {
            let row = crate::simulate(j.preset, &j.workload, &j.params, j.seed);
            done();
            row
        })
        .collect()
}
