//! The search in the calibrated simulator: every setting of the release's
//! grid (and `pollwise`, which no release has) at every workload point,
//! with the same seeds for all (common random numbers); then a finer step
//! of `poll-max-ns` around the cheapest setting that keeps IOPS. A setting
//! is kept when its predicted IOPS at every point stay within the
//! accepted loss of stock's; the kept ones are ranked by predicted
//! IOThread CPU, cheapest first.

use pollwise_core::{Param, Params, PolicyKind, RunRow, Workload};
use pollwise_sim::batch::{nth_seed, run_jobs, Job};
use pollwise_sim::Preset;

use super::version::QemuVersion;
use crate::stats::{mean_of, pct_diff};
use crate::{LabError, Progress, Ticker};

/// Simulator seeds per setting and point.
pub const SEEDS: u64 = 2;

/// One workload point's prediction: the mean over the seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predicted {
    pub iops: f64,
    /// The mean over the point's IOThreads, in % of one core.
    pub cpu_pct: f64,
    pub iothreads: u32,
}

/// One setting's predictions, in workload order.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub params: Params,
    pub points: Vec<Predicted>,
}

impl Prediction {
    /// IOThread CPU summed over the points (what "cheapest" ranks by).
    pub fn cpu_sum(&self) -> f64 {
        self.points.iter().map(|p| p.cpu_pct).sum()
    }
    /// Mean IOThread CPU over the points, in % of one core.
    pub fn cpu_mean(&self) -> f64 {
        mean_of(self.points.iter().map(|p| p.cpu_pct))
    }
    /// IOPS per IOThread core over all points: their IOPS over their
    /// IOThreads' CPU in cores; none without CPU.
    pub fn iops_per_core(&self) -> Option<f64> {
        let iops: f64 = self.points.iter().map(|p| p.iops).sum();
        let cores: f64 = self
            .points
            .iter()
            .map(|p| p.cpu_pct / 100.0 * f64::from(p.iothreads))
            .sum();
        (cores > 0.0).then(|| iops / cores)
    }
    /// The IOPS change against `stock` at each point, in %.
    pub fn iops_changes(&self, stock: &Prediction) -> Vec<f64> {
        self.points
            .iter()
            .zip(&stock.points)
            .map(|(c, s)| pct_diff(s.iops, c.iops))
            .collect()
    }
    /// The worst IOPS change against `stock` over the points, in %.
    pub fn worst_iops_change(&self, stock: &Prediction) -> f64 {
        self.iops_changes(stock)
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }
    /// Whether QEMU can be set to it (`pollwise` is a patch no release has).
    pub fn settable(&self) -> bool {
        self.params.kind() != PolicyKind::Pollwise
    }
}

/// What the search found.
#[derive(Clone, Debug)]
pub struct Search {
    pub stock: Prediction,
    /// Every setting simulated (stock first), coarse grid then refinement.
    pub all: Vec<Prediction>,
    /// Indices into `all` of the settable settings within the bar, cheapest
    /// first (stock is among them).
    pub kept: Vec<usize>,
    pub bar_pct: f64,
}

impl Search {
    /// The cheapest kept setting.
    pub fn best(&self) -> &Prediction {
        &self.all[self.kept[0]]
    }
}

/// The whole search: the coarse grid, then `poll-max-ns` refined around
/// the cheapest kept setting.
pub fn search(
    preset: &Preset,
    workloads: &[Workload],
    version: QemuVersion,
    bar_pct: f64,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Search, LabError> {
    let mut settings = version.grid();
    settings.push(Params::defaults(PolicyKind::Pollwise));
    progress(Progress::Step(
        "tune [2/4]: search the knobs in the calibrated simulator",
    ));
    let mut all = simulate(preset, workloads, &settings, "coarse grid", progress)?;
    let best = rank(&all, bar_pct)[0];
    let finer: Vec<Params> = refinements(version, &all[best].params)
        .into_iter()
        .filter(|p| !settings.contains(p))
        .collect();
    if !finer.is_empty() {
        all.extend(simulate(preset, workloads, &finer, "refinement", progress)?);
    }
    let kept = rank(&all, bar_pct);
    Ok(Search {
        stock: all[0].clone(),
        all,
        kept,
        bar_pct,
    })
}

/// The settings between the grid's steps of `poll-max-ns` around `best`
/// (its other knobs kept).
pub fn refinements(version: QemuVersion, best: &Params) -> Vec<Params> {
    let max = best.get(Param::PollMaxNs);
    let factors: &[f64] = if max == 0 {
        &[]
    } else {
        &[0.5, 0.71, 1.41, 2.0]
    };
    let mut steps: Vec<u64> = factors.iter().map(|f| (max as f64 * f) as u64).collect();
    if max == 0 {
        steps.extend([512, 1024]);
    }
    steps
        .into_iter()
        .map(|m| {
            version.setting(
                m,
                best.get(Param::PollGrow),
                best.get(Param::PollShrink),
                best.get(Param::PollWeight),
            )
        })
        .collect()
}

/// A setting must save at least this much IOThread CPU against stock
/// (points of one core, mean over the points), or [`MIN_SAVING_FRAC`] of
/// stock's, to be worth changing to: less is within the simulator's
/// run-to-run noise.
pub const MIN_SAVING_PTS: f64 = 1.0;
pub const MIN_SAVING_FRAC: f64 = 0.2;

/// Indices of the settable settings within the bar at every point that
/// save enough ([`MIN_SAVING_PTS`]), by predicted CPU (ties: the earlier
/// setting); stock (index 0) always qualifies.
pub fn rank(all: &[Prediction], bar_pct: f64) -> Vec<usize> {
    let stock = &all[0];
    let worth = |p: &Prediction| {
        p.settable()
            && p.worst_iops_change(stock) >= -bar_pct
            && stock.cpu_mean() - p.cpu_mean()
                >= MIN_SAVING_PTS.min(MIN_SAVING_FRAC * stock.cpu_mean())
    };
    let mut kept: Vec<usize> = (0..all.len())
        .filter(|&i| i == 0 || worth(&all[i]))
        .collect();
    kept.sort_by(|&a, &b| {
        all[a]
            .cpu_sum()
            .total_cmp(&all[b].cpu_sum())
            .then(a.cmp(&b))
    });
    kept
}

/// Every setting at every point, [`SEEDS`] seeds each, averaged.
fn simulate(
    preset: &Preset,
    workloads: &[Workload],
    settings: &[Params],
    what: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Prediction>, LabError> {
    let mut jobs = Vec::new();
    for p in settings {
        for w in workloads {
            for s in 0..SEEDS {
                jobs.push(Job {
                    preset,
                    workload: w.clone(),
                    params: p.clone(),
                    seed: nth_seed(1, s)?,
                });
            }
        }
    }
    let events: f64 = jobs
        .iter()
        .map(|j| pollwise_sim::batch::run_events(j.preset, &j.workload))
        .sum();
    let ticker = Ticker::new(jobs.len(), events, what, progress);
    let rows = run_jobs(&jobs, &|run| ticker.tick(run))?;
    let per_setting = workloads.len() * SEEDS as usize;
    Ok(settings
        .iter()
        .zip(rows.chunks(per_setting))
        .map(|(p, rows)| Prediction {
            params: p.clone(),
            points: rows
                .chunks(SEEDS as usize)
                .zip(workloads)
                .map(|(rows, w)| averaged(rows, w.iothreads))
                .collect(),
        })
        .collect())
}

fn averaged(rows: &[RunRow], iothreads: u32) -> Predicted {
    Predicted {
        iops: mean_of(rows.iter().map(|r| r.iops)),
        cpu_pct: mean_of(rows.iter().map(|r| r.iothread_cpu_pct)),
        iothreads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(max_ns: u64, points: &[(f64, f64)]) -> Prediction {
        let v = QemuVersion::parse("10.0").unwrap();
        Prediction {
            params: v.setting(max_ns, 0, 0, 0),
            points: points
                .iter()
                .map(|&(iops, cpu_pct)| Predicted {
                    iops,
                    cpu_pct,
                    iothreads: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn only_settings_within_the_bar_at_every_point_are_kept_cheapest_first() {
        let all = [
            pred(32768, &[(100.0, 80.0), (200.0, 90.0)]),
            // Cheapest, but loses 2% at the second point: out at a 1% bar.
            pred(0, &[(100.0, 10.0), (196.0, 20.0)]),
            // Loses 0.5%: kept, and cheaper than the next.
            pred(4096, &[(99.5, 40.0), (200.0, 50.0)]),
            pred(8192, &[(100.0, 60.0), (201.0, 70.0)]),
            // Saves less than a point: not worth a change.
            pred(16384, &[(100.0, 79.5), (200.0, 89.5)]),
            // Pollwise is no release's: never kept.
            Prediction {
                params: Params::defaults(PolicyKind::Pollwise),
                points: vec![
                    Predicted {
                        iops: 100.0,
                        cpu_pct: 1.0,
                        iothreads: 1,
                    };
                    2
                ],
            },
        ];
        assert_eq!(rank(&all, 1.0), vec![2, 3, 0]);
        // A wider bar admits the cheapest.
        assert_eq!(rank(&all, 2.5)[0], 1);
    }
}
