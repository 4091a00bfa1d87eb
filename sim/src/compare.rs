//! A baseline and a candidate policy over a preset's whole matrix, paired
//! row by row with the same seeds (common random numbers), as in the
//! reference table of docs/design.md.

use pollwise_core::{Params, RunRow};

use crate::batch::{check_runs, mean_row, nth_seed, run_jobs, spread, Job};
use crate::error::SimError;
use crate::preset::Preset;
use crate::workload::Workload;

/// One matrix row: both policies' runs averaged over the seeds.
#[derive(Clone, Debug)]
pub struct ComparedRow {
    pub workload: Workload,
    pub baseline: RunRow,
    pub candidate: RunRow,
    /// Standard deviation of the candidate's IOPS change over seeds, in
    /// percentage points (0 with one seed).
    pub iops_diff_sd_pct: f64,
}

impl ComparedRow {
    /// Candidate IOPS relative to the baseline, in percent.
    pub fn iops_diff_pct(&self) -> f64 {
        pct_diff(self.baseline.iops, self.candidate.iops)
    }
    /// Candidate IOThread CPU relative to the baseline, in percent.
    pub fn cpu_diff_pct(&self) -> f64 {
        pct_diff(
            self.baseline.iothread_cpu_pct,
            self.candidate.iothread_cpu_pct,
        )
    }
}

pub fn pct_diff(base: f64, cand: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        100.0 * (cand - base) / base
    }
}

/// The summary line: the worst IOPS change and the mean CPU saving.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub worst_iops_diff_pct: f64,
    pub mean_iops_diff_pct: f64,
    /// Mean over rows of the CPU change in percent (negative = saving).
    pub mean_cpu_diff_pct: f64,
    /// Mean over rows of the CPU change in points of one core.
    pub mean_cpu_diff_points: f64,
}

pub fn summarize(rows: &[ComparedRow]) -> Summary {
    let n = rows.len().max(1) as f64;
    Summary {
        worst_iops_diff_pct: rows
            .iter()
            .map(ComparedRow::iops_diff_pct)
            .fold(f64::INFINITY, f64::min),
        mean_iops_diff_pct: rows.iter().map(ComparedRow::iops_diff_pct).sum::<f64>() / n,
        mean_cpu_diff_pct: rows.iter().map(ComparedRow::cpu_diff_pct).sum::<f64>() / n,
        mean_cpu_diff_points: rows
            .iter()
            .map(|r| r.candidate.iothread_cpu_pct - r.baseline.iothread_cpu_pct)
            .sum::<f64>()
            / n,
    }
}

/// Runs every workload for both policies with seeds `seed .. seed+seeds`.
pub fn compare(
    preset: &Preset,
    workloads: &[Workload],
    baseline: &Params,
    candidate: &Params,
    seed: u64,
    seeds: u32,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<ComparedRow>, SimError> {
    if seeds == 0 {
        return Err(SimError::Workload(
            "seeds = 0: at least one seed is needed".into(),
        ));
    }
    check_runs(
        (workloads.len() as u64)
            .checked_mul(2)
            .and_then(|n| n.checked_mul(u64::from(seeds))),
        "this compare",
    )?;
    let mut jobs = Vec::new();
    for w in workloads {
        for params in [baseline, candidate] {
            for s in 0..u64::from(seeds) {
                jobs.push(Job {
                    preset,
                    workload: w.clone(),
                    params: params.clone(),
                    seed: nth_seed(seed, s)?,
                });
            }
        }
    }
    let rows = run_jobs(&jobs, done)?;
    let per = seeds as usize;
    Ok(rows
        .chunks(2 * per)
        .zip(workloads)
        .map(|(runs, w)| {
            let (base, cand) = runs.split_at(per);
            let diffs: Vec<RunRow> = base
                .iter()
                .zip(cand)
                .map(|(b, c)| RunRow {
                    iops: pct_diff(b.iops, c.iops),
                    ..b.clone()
                })
                .collect();
            ComparedRow {
                workload: w.clone(),
                baseline: mean_row(base),
                candidate: mean_row(cand),
                iops_diff_sd_pct: spread(&diffs, |r| r.iops),
            }
        })
        .collect())
}
