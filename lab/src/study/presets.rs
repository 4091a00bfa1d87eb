//! The preset tables: every setting on the distinct rows of a preset's
//! matrix (and, with the rollout, on a reduced matrix), each online policy
//! summarized against `qemu`, the frontier's points, and `fcp-16disk`
//! against IBM's published summary.

use std::path::Path;

use pollwise_core::{Rw, Workload};
use pollwise_sim::rollout::RolloutOptions;
use pollwise_sim::Preset;

use super::frontier::{points_of, points_plan, FrontPoint};
use super::options::StudyOptions;
use super::plan::{self, flatten, Batch, PerWorkload};
use super::settings::{distinct_workloads, online_settings, reduced_workloads, row_label};
use crate::formats::rows::write_csv_file;
use crate::stats::{mean, mean_of, pct_diff, ratio, sample_sd};
use crate::{LabError, Ticker};

/// The presets the study runs, in order.
pub(crate) const PRESETS: [&str; 2] = ["optane-p4800x", "fcp-16disk"];

/// One policy's summary over a preset's matrix, against `qemu`.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySummary {
    pub label: String,
    pub worst_iops_diff_pct: f64,
    pub worst_row: String,
    pub worst_row_sd_pct: f64,
    pub mean_iops_diff_pct: f64,
    pub mean_cpu_pct: f64,
    pub mean_cpu_diff_pct: f64,
    /// Mean over rows of IOPS relative to qemu (1.0 = equal).
    pub mean_iops_ratio: f64,
}

/// Pairs a candidate with the baseline workload by workload and seed.
pub fn summarize(label: &str, base: &PerWorkload, cand: &PerWorkload) -> PolicySummary {
    let mut worst = (f64::INFINITY, String::new(), 0.0);
    let mut diffs = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu = Vec::new();
    let mut cpu_diffs = Vec::new();
    for (b, c) in base.iter().zip(cand) {
        let per_seed: Vec<f64> = b
            .iter()
            .zip(c)
            .map(|(x, y)| pct_diff(x.iops, y.iops))
            .collect();
        let bi = mean_of(b.iter().map(|r| r.iops));
        let ci = mean_of(c.iter().map(|r| r.iops));
        let d = pct_diff(bi, ci);
        if d < worst.0 {
            worst = (d, row_label(&b[0]), sample_sd(&per_seed));
        }
        diffs.push(d);
        ratios.push(ratio(bi, ci));
        let bc = mean_of(b.iter().map(|r| r.iothread_cpu_pct));
        let cc = mean_of(c.iter().map(|r| r.iothread_cpu_pct));
        cpu.push(cc);
        cpu_diffs.push(pct_diff(bc, cc));
    }
    PolicySummary {
        label: label.to_string(),
        worst_iops_diff_pct: worst.0,
        worst_row: worst.1,
        worst_row_sd_pct: worst.2,
        mean_iops_diff_pct: mean(&diffs),
        mean_cpu_pct: mean(&cpu),
        mean_cpu_diff_pct: mean(&cpu_diffs),
        mean_iops_ratio: mean(&ratios),
    }
}

/// What one preset's tables need: its rows, then, with the rollout, the
/// reduced matrix's.
pub(crate) struct PresetPlan {
    name: String,
    /// Rows of the preset's whole matrix (some are not run: see
    /// [`distinct_workloads`]).
    all: usize,
    workloads: Vec<Workload>,
    whole: Vec<Batch>,
    reduced: Option<Vec<Batch>>,
}

impl PresetPlan {
    pub fn points(&self) -> usize {
        plan::points(&self.whole) + self.reduced.as_deref().map_or(0, plan::points)
    }

    pub fn events(&self) -> f64 {
        plan::events(&self.whole) + self.reduced.as_deref().map_or(0.0, plan::events)
    }
}

/// The plan of preset `name`'s tables.
pub(crate) fn plan(args: &StudyOptions, name: &str) -> Result<PresetPlan, LabError> {
    let preset = Preset::load(name)?;
    let mut workloads = distinct_workloads(&preset);
    if let Some(ms) = args.duration_ms {
        workloads.iter_mut().for_each(|w| w.duration_ms = ms);
    }
    let reduced = (args.rollout_duration_ms > 0).then(|| {
        let rw = reduced_workloads(&preset, args.rollout_duration_ms);
        points_plan(&preset, &rw, args.seeds, Some(RolloutOptions::default()))
    });
    Ok(PresetPlan {
        name: name.to_string(),
        all: preset.matrix.workloads().len(),
        whole: points_plan(&preset, &workloads, args.seeds, None),
        workloads,
        reduced,
    })
}

/// One preset's tables.
pub(crate) struct PresetResult {
    pub name: String,
    pub rows: usize,
    pub dropped: usize,
    pub summaries: Vec<PolicySummary>,
    pub points: Vec<FrontPoint>,
    /// The reduced matrix's points with the rollout, and its row labels.
    pub reduced: Option<(Vec<FrontPoint>, Vec<String>)>,
    /// `fcp-16disk` against IBM's summary (on that preset only).
    pub ibm: Option<Vec<IbmRow>>,
}

/// Runs a preset's plan, writes its CSVs (`policies-`, `frontier-` and
/// `rollout-NAME.csv`) into `out` and returns its tables.
pub(crate) fn run(
    plan: &PresetPlan,
    out: &Path,
    ticker: &Ticker,
) -> Result<PresetResult, LabError> {
    let name = &plan.name;
    let groups = plan::run(&plan.whole, ticker)?;
    let n_online = online_settings().len();
    write_csv_file(
        &out.join(format!("policies-{name}.csv")),
        &flatten(&groups[0][..n_online]),
    )?;
    write_csv_file(
        &out.join(format!("frontier-{name}.csv")),
        &flatten(&groups[0][n_online..]),
    )?;
    let reduced = match &plan.reduced {
        Some(reduced) => {
            let rgroups = plan::run(reduced, ticker)?;
            let rows: Vec<_> = rgroups.iter().flat_map(|g| flatten(g)).collect();
            write_csv_file(&out.join(format!("rollout-{name}.csv")), &rows)?;
            Some((reduced.as_slice(), rgroups))
        }
        None => None,
    };
    Ok(analyse(plan, &groups, reduced))
}

/// The tables of a preset's rows.
fn analyse(
    plan: &PresetPlan,
    groups: &[Vec<PerWorkload>],
    reduced: Option<(&[Batch], Vec<Vec<PerWorkload>>)>,
) -> PresetResult {
    let online = &groups[0][..online_settings().len()];
    let summaries = online_settings()
        .iter()
        .zip(online)
        .map(|(s, g)| summarize(&s.label, &online[0], g))
        .collect();
    let reduced = reduced.map(|(batches, rgroups)| {
        let labels = batches[0]
            .workloads
            .iter()
            .map(|w| {
                format!(
                    "{} {}k nj{} it{}",
                    w.rw.name(),
                    w.bs / 1024,
                    w.numjobs,
                    w.iothreads
                )
            })
            .collect();
        (points_of(batches, &rgroups), labels)
    });
    PresetResult {
        name: plan.name.clone(),
        rows: plan.workloads.len(),
        dropped: plan.all - plan.workloads.len(),
        summaries,
        points: points_of(&plan.whole, groups),
        reduced,
        ibm: (plan.name == "fcp-16disk").then(|| ibm_rows(&plan.workloads, &online[0], &online[1])),
    }
}

/// IBM's summary of the proposal on 16 FCP disks (qemu-devel, the 2026
/// proposal's thread): throughput change averaged over numjobs, per
/// IOThread count, as (IOThreads, lowest %, highest %).
pub(crate) const IBM_RANGES: [(u32, f64, f64); 2] = [(1, -8.0, -3.0), (2, -5.0, -2.0)];

/// One access pattern against IBM's ranges.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IbmRow {
    pub rw: Rw,
    /// Per entry of [`IBM_RANGES`]: the mean IOPS change over the pattern's
    /// rows with that many IOThreads, and the mean IOThread CPU of qemu and
    /// of the proposal.
    pub cells: Vec<(f64, (f64, f64))>,
    /// Every cell's change is inside its range.
    pub inside: bool,
}

/// `weighted` (v1) against `qemu` per distinct access pattern of
/// `workloads`, in the order they first appear.
fn ibm_rows(workloads: &[Workload], q: &PerWorkload, w: &PerWorkload) -> Vec<IbmRow> {
    let mut patterns = Vec::new();
    for wl in workloads {
        if !patterns.contains(&wl.rw) {
            patterns.push(wl.rw);
        }
    }
    let cell = |rw: Rw, it: u32| {
        let idx: Vec<usize> = workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| w.rw == rw && w.iothreads == it)
            .map(|(i, _)| i)
            .collect();
        let d = mean_of(idx.iter().map(|&i| {
            pct_diff(
                mean_of(q[i].iter().map(|r| r.iops)),
                mean_of(w[i].iter().map(|r| r.iops)),
            )
        }));
        let cpu = |g: &PerWorkload| {
            mean_of(
                idx.iter()
                    .flat_map(|&i| g[i].iter().map(|r| r.iothread_cpu_pct)),
            )
        };
        (d, (cpu(q), cpu(w)))
    };
    patterns
        .into_iter()
        .map(|rw| {
            let cells: Vec<(f64, (f64, f64))> =
                IBM_RANGES.iter().map(|&(it, _, _)| cell(rw, it)).collect();
            let inside = cells
                .iter()
                .zip(IBM_RANGES)
                .all(|((d, _), (_, lo, hi))| (lo..=hi).contains(d));
            IbmRow { rw, cells, inside }
        })
        .collect()
}
