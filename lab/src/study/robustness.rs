//! The robustness sweep: the online policies' defaults against `qemu` on
//! the optane preset with its device replaced, from 2 us to 2 ms and with
//! three shapes of jitter.

use std::path::Path;

use pollwise_core::{Params, PolicyKind, Rw, Workload};
use pollwise_sim::{LatencyDist, Preset};

use super::options::StudyOptions;
use super::plan::{flatten, Batch, PerWorkload};
use super::settings::Setting;
use crate::formats::rows::write_csv_file;
use crate::stats::{mean, mean_of, pct_diff, sample_sd};
use crate::{LabError, Ticker};

/// Device medians of the robustness sweep: 2 us to 2 ms.
const MEDIANS_NS: [u64; 4] = [2_000, 20_000, 200_000, 2_000_000];

/// `qemu` (the baseline) and the candidates.
pub(crate) const POLICIES: [PolicyKind; 3] =
    [PolicyKind::Qemu, PolicyKind::Weighted, PolicyKind::Pollwise];

/// The device shapes of the robustness sweep, each with median `m`.
fn shapes(m: u64) -> [(&'static str, LatencyDist); 3] {
    [
        (
            "lognormal",
            LatencyDist::Lognormal {
                median_ns: m,
                sigma: 0.3,
            },
        ),
        (
            "bimodal",
            LatencyDist::Bimodal {
                low_median_ns: m,
                high_median_ns: 10 * m,
                high_frac: 0.05,
                sigma: 0.2,
            },
        ),
        (
            "pareto",
            LatencyDist::ParetoTail {
                median_ns: m,
                sigma: 0.2,
                tail_frac: 0.05,
                tail_alpha: 1.5,
            },
        ),
    ]
}

/// One device: its median and shape, and the batch that runs it.
pub(crate) type Device = (u64, &'static str, Batch);

/// Per device (median, shape), every policy on randread 8k, numjobs
/// 1/4/16, 1/2 IOThreads; runs on slower devices are longer.
pub(crate) fn plan(args: &StudyOptions) -> Result<Vec<Device>, LabError> {
    let base = Preset::load("optane-p4800x")?;
    let settings: Vec<Setting> = POLICIES
        .iter()
        .map(|&k| Setting::of(Params::defaults(k)))
        .collect();
    let mut plan = Vec::new();
    for m in MEDIANS_NS {
        // Slow devices complete few I/Os per second: lengthen their runs so
        // every point sees a similar number of I/Os and a usable spread.
        let stretch = (m / 20_000).clamp(1, 20);
        let mut workloads = Vec::new();
        for numjobs in [1, 4, 16] {
            for iothreads in [1, 2] {
                workloads.push(Workload {
                    rw: Rw::RandRead,
                    rwmixread: 50,
                    bs: 8192,
                    numjobs,
                    iodepth: base.matrix.iodepth,
                    iothreads,
                    duration_ms: args.robust_duration_ms * stretch,
                });
            }
        }
        for (shape, dist) in shapes(m) {
            let mut preset = base.clone();
            preset.name = format!("optane-p4800x/{shape}-{}us", m / 1000);
            preset.device.read_latency = dist.clone();
            preset.device.write_latency = dist;
            let batch = Batch {
                preset,
                settings: settings.clone(),
                workloads: workloads.clone(),
                seeds: args.seeds,
                rollout: None,
            };
            plan.push((m, shape, batch));
        }
    }
    Ok(plan)
}

/// One robustness point: a device and a workload, each policy's IOPS
/// change against qemu (mean and spread over seeds) and CPU change.
pub(crate) struct RobustPoint {
    pub median_ns: u64,
    pub shape: &'static str,
    pub numjobs: u32,
    pub iothreads: u32,
    /// Per candidate: (IOPS diff %, its sd over seeds, CPU diff %).
    pub diffs: Vec<(f64, f64, f64)>,
    /// Per candidate: the least of its seeds' CPU changes against `qemu`'s
    /// on the same seed, in %: above 0, it used more CPU on every seed.
    pub least_cpu_diff: Vec<f64>,
}

/// Runs the sweep, writes `robustness.csv` into `out` and returns its
/// points.
pub(crate) fn run(
    plan: &[Device],
    out: &Path,
    ticker: &Ticker,
) -> Result<Vec<RobustPoint>, LabError> {
    let mut points = Vec::new();
    let mut all_rows = Vec::new();
    for (m, shape, batch) in plan {
        let groups = batch.run(ticker)?;
        all_rows.extend(flatten(&groups));
        points.extend(analyse(*m, shape, &batch.workloads, &groups));
    }
    write_csv_file(&out.join("robustness.csv"), &all_rows)?;
    Ok(points)
}

/// One device's points: per workload, each candidate against `qemu`.
fn analyse(
    median_ns: u64,
    shape: &'static str,
    workloads: &[Workload],
    groups: &[PerWorkload],
) -> Vec<RobustPoint> {
    workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let b = &groups[0][i];
            let least_cpu_diff = groups[1..]
                .iter()
                .map(|g| {
                    b.iter()
                        .zip(&g[i])
                        .map(|(x, y)| pct_diff(x.iothread_cpu_pct, y.iothread_cpu_pct))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            let diffs = groups[1..]
                .iter()
                .map(|g| {
                    let c = &g[i];
                    let per_seed: Vec<f64> = b
                        .iter()
                        .zip(c)
                        .map(|(x, y)| pct_diff(x.iops, y.iops))
                        .collect();
                    let bc = mean_of(b.iter().map(|r| r.iothread_cpu_pct));
                    let cc = mean_of(c.iter().map(|r| r.iothread_cpu_pct));
                    (mean(&per_seed), sample_sd(&per_seed), pct_diff(bc, cc))
                })
                .collect();
            RobustPoint {
                median_ns,
                shape,
                numjobs: w.numjobs,
                iothreads: w.iothreads,
                diffs,
                least_cpu_diff,
            }
        })
        .collect()
}

/// One candidate over the whole sweep.
pub(crate) struct RobustSummary {
    pub name: &'static str,
    pub worst_iops_diff_pct: f64,
    /// Points whose IOPS change is -1% or better.
    pub within_1pct: usize,
    pub mean_cpu_diff_pct: f64,
    /// Points where it used more CPU than `qemu` on every seed.
    pub more_cpu_every_seed: usize,
}

/// Each candidate (every policy of [`POLICIES`] but `qemu`) over `points`.
pub(crate) fn summaries(points: &[RobustPoint]) -> Vec<RobustSummary> {
    POLICIES[1..]
        .iter()
        .enumerate()
        .map(|(i, k)| RobustSummary {
            name: k.name(),
            worst_iops_diff_pct: points
                .iter()
                .map(|p| p.diffs[i].0)
                .fold(f64::INFINITY, f64::min),
            within_1pct: points.iter().filter(|p| p.diffs[i].0 >= -1.0).count(),
            mean_cpu_diff_pct: mean_of(points.iter().map(|p| p.diffs[i].2)),
            more_cpu_every_seed: points.iter().filter(|p| p.least_cpu_diff[i] > 0.0).count(),
        })
        .collect()
}
