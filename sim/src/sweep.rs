//! The cartesian product of parameter values, over workloads and seeds,
//! with deterministic per-point seeds so that shards of a sweep concatenate
//! to exactly the rows of the unsharded sweep.

use pollwise_core::{Params, PolicyKind, RunRow};

use crate::batch::{check_runs, nth_seed, run_events, run_jobs, Finished, Job};
use crate::error::SimError;
use crate::preset::Preset;
use crate::workload::Workload;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    pub kind: PolicyKind,
    /// Parameters held fixed (applied before the axes).
    pub fixed: Vec<(String, String)>,
    /// Each axis: a parameter name and the values it takes.
    pub axes: Vec<(String, Vec<String>)>,
    pub workloads: Vec<Workload>,
    pub seed: u64,
    pub seeds: u32,
}

/// Which contiguous part of the points to run: shard `index` of `count`,
/// 1-based as batch-scheduler array jobs usually are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N` with 1 <= I <= N.
    pub fn parse(text: &str) -> Result<Shard, SimError> {
        let err = || {
            SimError::Workload(format!(
                "shard '{text}' is invalid: expected I/N with 1 <= I <= N, e.g. 3/8"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(err)?;
        let index: u32 = i.trim().parse().map_err(|_| err())?;
        let count: u32 = n.trim().parse().map_err(|_| err())?;
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }

    /// The half-open range of point indices this shard runs.
    pub fn range(self, points: usize) -> std::ops::Range<usize> {
        let (i, n) = (self.index as usize - 1, self.count as usize);
        points * i / n..points * (i + 1) / n
    }
}

impl SweepSpec {
    /// Every parameter combination, validated, in axis order (the last
    /// axis varies fastest).
    pub fn param_points(&self) -> Result<Vec<Params>, SimError> {
        self.len_unchecked()?;
        let mut base = Params::defaults(self.kind);
        for (k, v) in &self.fixed {
            base.set_str(k, v)?;
        }
        let mut points = vec![base];
        for (name, values) in &self.axes {
            if values.is_empty() {
                return Err(SimError::Workload(format!(
                    "sweep axis {name} has no values: give e.g. {name}=1,2,4"
                )));
            }
            let mut next = Vec::with_capacity(points.len() * values.len());
            for p in &points {
                for v in values {
                    let mut q = p.clone();
                    q.set_str(name, v)?;
                    next.push(q);
                }
            }
            points = next;
        }
        Ok(points)
    }

    /// The number of runs: workloads x parameter points x seeds.
    pub fn len(&self) -> Result<usize, SimError> {
        self.param_points()?;
        self.len_unchecked()
    }

    /// The run count from the axes' lengths alone, refused before anything
    /// is allocated when it is absurd.
    fn len_unchecked(&self) -> Result<usize, SimError> {
        let points = self
            .axes
            .iter()
            .try_fold(1u64, |acc, (_, v)| acc.checked_mul(v.len() as u64));
        let runs = points
            .and_then(|p| p.checked_mul(self.workloads.len() as u64))
            .and_then(|p| p.checked_mul(u64::from(self.seeds)));
        Ok(check_runs(runs, "this sweep")? as usize)
    }

    pub fn is_empty(&self) -> Result<bool, SimError> {
        Ok(self.len()? == 0)
    }

    /// Runs this shard's points; rows come in point order.
    pub fn run(
        &self,
        preset: &Preset,
        shard: Shard,
        done: &(dyn Fn(Finished) + Sync),
    ) -> Result<Vec<RunRow>, SimError> {
        let jobs = self.jobs(preset)?;
        let range = shard.range(jobs.len());
        run_jobs(&jobs[range], done)
    }

    /// The expected cost of this shard's runs ([`run_events`] summed),
    /// without making them (runs come per workload, each workload's points
    /// and seeds together).
    pub fn events(&self, preset: &Preset, shard: Shard) -> Result<f64, SimError> {
        let total = self.len()?;
        let range = shard.range(total);
        let per = total / self.workloads.len().max(1);
        Ok(self
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mine = range
                    .end
                    .min((i + 1) * per)
                    .saturating_sub(range.start.max(i * per));
                run_events(preset, w) * mine as f64
            })
            .sum())
    }

    /// How many runs `shard` will do.
    pub fn shard_len(&self, shard: Shard) -> Result<usize, SimError> {
        Ok(shard.range(self.len()?).len())
    }

    fn jobs<'a>(&self, preset: &'a Preset) -> Result<Vec<Job<'a>>, SimError> {
        let points = self.param_points()?;
        let mut jobs = Vec::new();
        for w in &self.workloads {
            for p in &points {
                for s in 0..u64::from(self.seeds) {
                    jobs.push(Job {
                        preset,
                        workload: w.clone(),
                        params: p.clone(),
                        // The same seeds at every point: differences
                        // between points are the policy's, not the dice's.
                        seed: nth_seed(self.seed, s)?,
                    });
                }
            }
        }
        Ok(jobs)
    }
}
