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
        _ => Err(SimError::Workload(format!(
            "{what} would be more than {MAX_RUNS} runs: use fewer values or seeds"
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

/// The mean of several runs of one point (e.g. over seeds): every metric
/// averaged, the descriptive columns taken from the first run.
pub fn mean_row(rows: &[RunRow]) -> RunRow {
    assert!(!rows.is_empty(), "mean of no rows");
    let n = rows.len() as f64;
    let mean = |f: fn(&RunRow) -> f64| rows.iter().map(f).sum::<f64>() / n;
    RunRow {
        iops: mean(|r| r.iops),
        mb_per_s: mean(|r| r.mb_per_s),
        lat_mean_us: mean(|r| r.lat_mean_us),
        lat_p50_us: mean(|r| r.lat_p50_us),
        lat_p99_us: mean(|r| r.lat_p99_us),
        lat_p999_us: mean(|r| r.lat_p999_us),
        iothread_cpu_pct: mean(|r| r.iothread_cpu_pct),
        poll_cpu_pct: mean(|r| r.poll_cpu_pct),
        kicks_per_s: mean(|r| r.kicks_per_s),
        wakeups_per_s: mean(|r| r.wakeups_per_s),
        window_mean_ns: mean(|r| r.window_mean_ns),
        window_zero_frac: mean(|r| r.window_zero_frac),
        abrupt_resets: (rows.iter().map(|r| r.abrupt_resets).sum::<u64>() as f64 / n).round()
            as u64,
        ..rows[0].clone()
    }
}

/// The sample standard deviation of one metric over runs (0 for one run).
pub fn spread(rows: &[RunRow], metric: fn(&RunRow) -> f64) -> f64 {
    let n = rows.len() as f64;
    if rows.len() < 2 {
        return 0.0;
    }
    let mean = rows.iter().map(metric).sum::<f64>() / n;
    (rows.iter().map(|r| (metric(r) - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}
