//! A plan: the simulated runs an experiment needs, as a value. Every
//! experiment of the study is a plan and an analysis of the plan's rows;
//! the study's size (what it refuses before the first run, and the total
//! its progress counts to) is the sum of its plans' sizes.

use pollwise_core::{RunRow, Workload};
use pollwise_sim::batch::{run_jobs, Job};
use pollwise_sim::rollout::{run_rollout_jobs, RolloutOptions};
use pollwise_sim::Preset;

use super::settings::Setting;
use crate::{LabError, Ticker};

/// Rows of one setting grouped per workload, in workload order, each with
/// one row per seed.
pub type PerWorkload = Vec<Vec<RunRow>>;

/// Every (setting, workload, seed) on one preset, in that order; with
/// `rollout`, each run is a rollout over its clairvoyant.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub preset: Preset,
    pub settings: Vec<Setting>,
    pub workloads: Vec<Workload>,
    pub seeds: u32,
    pub rollout: Option<RolloutOptions>,
}

impl Batch {
    /// The (setting, workload) points: runs are these times the seeds.
    pub fn points(&self) -> usize {
        self.settings.len() * self.workloads.len()
    }

    /// The simulated events of every run, about (`batch::run_events`; a
    /// rollout counted as one plain run, which it costs at least).
    pub fn events(&self) -> f64 {
        let per_setting: f64 = self
            .workloads
            .iter()
            .map(|w| pollwise_sim::batch::run_events(&self.preset, w))
            .sum();
        per_setting * self.settings.len() as f64 * f64::from(self.seeds)
    }

    /// Runs every point with seeds 1, 2, ... and groups the rows per
    /// setting, then per workload.
    pub fn run(&self, ticker: &Ticker) -> Result<Vec<PerWorkload>, LabError> {
        let mut jobs = Vec::new();
        for s in &self.settings {
            for w in &self.workloads {
                for seed in 1..=u64::from(self.seeds) {
                    jobs.push(Job {
                        preset: &self.preset,
                        workload: w.clone(),
                        params: s.params.clone(),
                        seed,
                    });
                }
            }
        }
        let rows = match self.rollout {
            Some(opts) => run_rollout_jobs(&jobs, opts, &|run| ticker.tick(run))?,
            None => run_jobs(&jobs, &|run| ticker.tick(run))?,
        };
        let per = self.seeds as usize;
        Ok(rows
            .chunks(per * self.workloads.len())
            .map(|setting_rows| setting_rows.chunks(per).map(<[RunRow]>::to_vec).collect())
            .collect())
    }
}

/// The points of a plan of several batches.
pub(crate) fn points(plan: &[Batch]) -> usize {
    plan.iter().map(Batch::points).sum()
}

/// The events of a plan of several batches, about.
pub(crate) fn events(plan: &[Batch]) -> f64 {
    plan.iter().map(Batch::events).sum()
}

/// Runs every batch of a plan in order: per batch, the rows per setting.
pub(crate) fn run(plan: &[Batch], ticker: &Ticker) -> Result<Vec<Vec<PerWorkload>>, LabError> {
    plan.iter().map(|b| b.run(ticker)).collect()
}

/// Every row of `groups`, in order.
pub(crate) fn flatten(groups: &[PerWorkload]) -> Vec<RunRow> {
    groups.iter().flatten().flatten().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::settings::online_settings;
    use crate::Progress;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The study's progress total is the sum of its plans' points times the
    /// seeds: a batch must run exactly that many runs.
    #[test]
    fn a_batch_runs_its_points_times_its_seeds() {
        let preset = Preset::load("optane-p4800x").unwrap();
        let workloads: Vec<Workload> = preset.matrix.workloads()[..3]
            .iter()
            .map(|w| Workload {
                duration_ms: 1,
                ..w.clone()
            })
            .collect();
        let batch = Batch {
            preset,
            settings: online_settings()[..2].to_vec(),
            workloads,
            seeds: 2,
            rollout: None,
        };
        let ticks = AtomicUsize::new(0);
        let progress = |p: Progress| {
            if let Progress::Timed { .. } = p {
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        };
        let ticker = Ticker::new(0, 0.0, "test", &progress);
        let groups = batch.run(&ticker).unwrap();
        let runs = batch.points() * batch.seeds as usize;
        assert_eq!(runs, 12);
        assert_eq!(ticks.load(Ordering::Relaxed), runs);
        assert_eq!(flatten(&groups).len(), runs);
        // Grouped per setting, then per workload, one row per seed.
        assert_eq!(groups.len(), 2);
        assert!(groups
            .iter()
            .all(|g| g.len() == 3 && g.iter().all(|r| r.len() == 2)));
        assert_eq!(groups[1][2][1].seed, 2);
        assert_eq!(groups[1][0][0].policy, "weighted");
    }
}
