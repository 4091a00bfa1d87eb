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
    /// `fcp-16disk`: the rows of IBM's later figures (see [`IBM_LATER`]).
    later: Option<Batch>,
}

impl PresetPlan {
    pub fn points(&self) -> usize {
        plan::points(&self.whole)
            + self.reduced.as_deref().map_or(0, plan::points)
            + self.later.as_ref().map_or(0, Batch::points)
    }

    pub fn events(&self) -> f64 {
        plan::events(&self.whole)
            + self.reduced.as_deref().map_or(0.0, plan::events)
            + self.later.as_ref().map_or(0.0, Batch::events)
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
    let later = (name == "fcp-16disk").then(|| Batch {
        preset: preset.clone(),
        settings: online_settings()[..3].to_vec(),
        workloads: later_workloads(&workloads),
        seeds: args.seeds,
        rollout: None,
    });
    Ok(PresetPlan {
        name: name.to_string(),
        all: preset.matrix.workloads().len(),
        whole: points_plan(&preset, &workloads, args.seeds, None),
        workloads,
        reduced,
        later,
    })
}

/// The rows of IBM's later figures: the mean over numjobs 1, 4 and 8 with
/// 1 and 8 IOThreads; every pattern and block size of the preset's
/// distinct rows (the cover letters do not say which they averaged).
fn later_workloads(workloads: &[Workload]) -> Vec<Workload> {
    let one: Vec<&Workload> = workloads
        .iter()
        .filter(|w| w.iothreads == 1 && IBM_LATER_NUMJOBS.contains(&w.numjobs))
        .collect();
    IBM_LATER_IOTHREADS
        .iter()
        .flat_map(|&it| {
            one.iter().map(move |w| Workload {
                iothreads: it,
                ..(*w).clone()
            })
        })
        .collect()
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
    /// `fcp-16disk` against IBM's later figures, one row per proposal.
    pub ibm_later: Option<Vec<IbmLaterRow>>,
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
    let mut result = analyse(plan, &groups, reduced);
    if let Some(later) = &plan.later {
        let lgroups = later.run(ticker)?;
        write_csv_file(
            &out.join(format!("ibm-later-{name}.csv")),
            &flatten(&lgroups),
        )?;
        result.ibm_later = Some(ibm_later_rows(&later.workloads, &lgroups));
    }
    Ok(result)
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
        ibm_later: None,
    }
}

/// The later revisions' cover letters (qemu-devel, 2026; RHEL 10.1 with
/// QEMU 10.0.0 on FCP/FICON): the proposal's throughput and CPU change
/// against QEMU's rule, the mean over numjobs 1, 4 and 8 with 1 and 8
/// IOThreads, as (the study's setting, its weight, throughput %, CPU %).
pub(crate) const IBM_LATER: [(&str, u32, f64, f64); 2] = [
    ("weighted", 2, -2.4, -10.9),
    ("weighted-merged", 3, -2.2, -9.4),
];
const IBM_LATER_NUMJOBS: [u32; 3] = [1, 4, 8];
const IBM_LATER_IOTHREADS: [u32; 2] = [1, 8];

/// One proposal against IBM's later figures.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IbmLaterRow {
    pub label: &'static str,
    pub weight: u32,
    /// The mean over the rows of each row's IOPS change against `qemu`, %.
    pub iops_diff_pct: f64,
    /// The change of the IOThreads' CPU (all of a row's), mean over the
    /// rows, %.
    pub cpu_diff_pct: f64,
    /// IBM's throughput and CPU change, %.
    pub published: (f64, f64),
}

impl IbmLaterRow {
    /// The target: the throughput change within 1 point of IBM's.
    pub fn within_a_point(&self) -> bool {
        (self.iops_diff_pct - self.published.0).abs() <= 1.0
    }
}

/// Each proposal of [`IBM_LATER`] against `qemu` over `workloads`; `groups`
/// per setting as [`online_settings`] orders them (qemu, weighted,
/// weighted-merged).
fn ibm_later_rows(workloads: &[Workload], groups: &[PerWorkload]) -> Vec<IbmLaterRow> {
    let iops = |g: &PerWorkload, i: usize| mean_of(g[i].iter().map(|r| r.iops));
    // All IOThreads' CPU, as a host's CPU counts them (a row's
    // `iothread_cpu_pct` is the mean over its IOThreads).
    let cpu = |g: &PerWorkload| {
        mean_of(g.iter().flat_map(|rows| {
            rows.iter()
                .map(|r| r.iothread_cpu_pct * f64::from(r.iothreads))
        }))
    };
    IBM_LATER
        .iter()
        .enumerate()
        .map(|(k, &(label, weight, tput, cpu_pub))| {
            let (q, p) = (&groups[0], &groups[k + 1]);
            IbmLaterRow {
                label,
                weight,
                iops_diff_pct: mean_of(
                    (0..workloads.len()).map(|i| pct_diff(iops(q, i), iops(p, i))),
                ),
                cpu_diff_pct: pct_diff(cpu(q), cpu(p)),
                published: (tput, cpu_pub),
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::RunRow;

    fn row(iops: f64, cpu: f64, iothreads: u32) -> RunRow {
        RunRow {
            iops,
            iothread_cpu_pct: cpu,
            iothreads,
            ..crate::test_row()
        }
    }

    #[test]
    fn the_later_figures_average_row_changes_and_count_every_iothread() {
        // Two rows, one seed each: 1 IOThread, then 8.
        let preset = Preset::load("fcp-16disk").unwrap();
        let workloads = preset.matrix.workloads()[..2].to_vec();
        let qemu = vec![vec![row(1000.0, 50.0, 1)], vec![row(2000.0, 10.0, 8)]];
        // weighted: -2% and -4% IOPS; CPU 40 of one core, then 8 x 5.
        let weighted = vec![vec![row(980.0, 40.0, 1)], vec![row(1920.0, 5.0, 8)]];
        // weighted-merged: unchanged.
        let merged = qemu.clone();
        let rows = ibm_later_rows(&workloads, &[qemu, weighted, merged]);
        assert_eq!(rows.len(), 2);
        assert!((rows[0].iops_diff_pct - -3.0).abs() < 1e-9, "{rows:?}");
        // CPU: (50 + 80) / 2 = 65 against (40 + 40) / 2 = 40.
        let want = 100.0 * (40.0 - 65.0) / 65.0;
        assert!((rows[0].cpu_diff_pct - want).abs() < 1e-9, "{rows:?}");
        assert!(rows[0].within_a_point(), "-3.0 is within a point of -2.4");
        assert_eq!(rows[1].iops_diff_pct, 0.0);
        assert!(!rows[1].within_a_point(), "0 is not within a point of -2.2");
    }

    #[test]
    fn the_later_rows_are_numjobs_1_4_8_with_1_and_8_iothreads() {
        let preset = Preset::load("fcp-16disk").unwrap();
        let later = later_workloads(&distinct_workloads(&preset));
        let key = |w: &Workload| (w.numjobs, w.iothreads);
        let mut keys: Vec<(u32, u32)> = later.iter().map(key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys, [(1, 1), (1, 8), (4, 1), (4, 8), (8, 1), (8, 8)]);
        assert_eq!(later.len(), 24, "2 patterns x 2 sizes x 3 numjobs x 2");
    }
}
