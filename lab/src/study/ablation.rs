//! The ablation: the proposal against QEMU on the optane preset with each
//! of the model's mechanisms switched off in turn, against the
//! maintainer's published table.

use std::path::Path;

use pollwise_core::{Params, PolicyKind, Rw, Workload};
use pollwise_sim::Preset;

use super::options::StudyOptions;
use super::plan::{flatten, Batch, PerWorkload};
use super::settings::Setting;
use crate::formats::rows::write_csv_file;
use crate::stats::{mean, mean_of, pct_diff, sample_sd};
use crate::{LabError, Ticker};

/// One variant of the optane preset: a mechanism switched off.
fn variants(base: &Preset) -> Vec<(&'static str, Preset)> {
    let with = |f: &dyn Fn(&mut Preset)| {
        let mut p = base.clone();
        f(&mut p);
        p
    };
    let stale = if base.iothread.stale_eventfd {
        "stale eventfd off"
    } else {
        "stale eventfd on (not in the preset)"
    };
    vec![
        ("all mechanisms on (the preset)", base.clone()),
        (
            "self-notification off",
            with(&|p| p.iothread.self_notify = false),
        ),
        (
            "notifier not polled",
            with(&|p| p.iothread.notifier_polled = false),
        ),
        (
            stale,
            with(&|p| p.iothread.stale_eventfd = !base.iothread.stale_eventfd),
        ),
        (
            "constant guest cost (jitter off)",
            with(&|p| p.guest.io_cpu_jitter_sigma = 0.0),
        ),
        // Not in the preset: Linux intel_idle's idle states for Skylake-SP
        // and Cascade Lake-SP (skx_cstates: C1E exit 10 us at 20 us of
        // residency, C6 133 us at 600 us), as exits over C1's 2 us.
        (
            "idle states added (intel_idle skx table; not in the preset)",
            with(&|p| {
                p.iothread.cstate_residency_ns = vec![20_000, 600_000];
                p.iothread.cstate_exit_ns = vec![8_000, 131_000];
            }),
        ),
        // The calibration before the fit (docs/model-fidelity.md, "The fit").
        (
            "previous per-iteration costs (300, 800, 700 ns)",
            with(&|p| {
                p.iothread.iteration_ns = 300;
                p.iothread.submit_batch_ns = 800;
                p.iothread.notify_guest_ns = 700;
            }),
        ),
    ]
}

/// The ablation's runs: per variant, `qemu` and the proposal as
/// benchmarked (poll-weight 2) on the optane preset's randread rows.
pub(crate) struct AblationPlan {
    workloads: Vec<Workload>,
    variants: Vec<(&'static str, Batch)>,
}

impl AblationPlan {
    pub fn points(&self) -> usize {
        self.variants.iter().map(|(_, b)| b.points()).sum()
    }

    pub fn events(&self) -> f64 {
        self.variants.iter().map(|(_, b)| b.events()).sum()
    }
}

pub(crate) fn plan(args: &StudyOptions) -> Result<AblationPlan, LabError> {
    let base = Preset::load("optane-p4800x")?;
    let workloads: Vec<Workload> = base
        .matrix
        .workloads()
        .into_iter()
        .filter(|w| w.rw == Rw::RandRead)
        .map(|w| Workload {
            duration_ms: args.duration_ms.unwrap_or(w.duration_ms),
            ..w
        })
        .collect();
    let settings = vec![
        Setting::of(Params::defaults(PolicyKind::Qemu)),
        Setting::of(
            Params::from_pairs(PolicyKind::Weighted, [("poll-weight", "2")]).expect("in range"),
        ),
    ];
    let variants = variants(&base)
        .into_iter()
        .map(|(name, preset)| {
            let batch = Batch {
                preset,
                settings: settings.clone(),
                workloads: workloads.clone(),
                seeds: args.seeds,
                rollout: None,
            };
            (name, batch)
        })
        .collect();
    Ok(AblationPlan {
        workloads,
        variants,
    })
}

/// The proposal against QEMU on one variant: three rows' IOPS changes (mean
/// over seeds of the per-seed change, and its sd) and the mean CPU per
/// IOThread count.
pub(crate) struct AblationRow {
    pub variant: &'static str,
    pub diffs: Vec<(f64, f64)>,
    pub cpu: [(f64, f64); 2],
}

/// The three rows of the published table the ablation shows, as
/// (numjobs, IOThreads) of the 8k randread rows.
const ABLATION_ROWS: [(u32, u32); 3] = [(1, 1), (1, 2), (8, 2)];

/// Runs the ablation, writes `ablation.csv` (each row's preset named with
/// its variant) into `out` and returns a row per variant.
pub(crate) fn run(
    plan: &AblationPlan,
    out: &Path,
    ticker: &Ticker,
) -> Result<Vec<AblationRow>, LabError> {
    let mut rows = Vec::new();
    let mut all_rows = Vec::new();
    for (variant, batch) in &plan.variants {
        let g = batch.run(ticker)?;
        all_rows.extend(flatten(&g).into_iter().map(|mut r| {
            r.preset = format!("{} / {variant}", r.preset);
            r
        }));
        rows.push(analyse(variant, &plan.workloads, &g));
    }
    write_csv_file(&out.join("ablation.csv"), &all_rows)?;
    Ok(rows)
}

/// One variant's row from its `qemu` and proposal rows.
fn analyse(variant: &'static str, workloads: &[Workload], g: &[PerWorkload]) -> AblationRow {
    let diffs = ABLATION_ROWS
        .iter()
        .map(|&(nj, it)| {
            let i = workloads
                .iter()
                .position(|w| w.bs == 8192 && w.numjobs == nj && w.iothreads == it)
                .expect("the optane matrix has the published rows");
            let per_seed: Vec<f64> = g[0][i]
                .iter()
                .zip(&g[1][i])
                .map(|(b, c)| pct_diff(b.iops, c.iops))
                .collect();
            (mean(&per_seed), sample_sd(&per_seed))
        })
        .collect();
    let cpu = [1, 2].map(|it| {
        let of = |k: usize| {
            mean_of(
                workloads
                    .iter()
                    .zip(&g[k])
                    .filter(|(w, _)| w.iothreads == it)
                    .flat_map(|(_, rows)| rows.iter().map(|r| r.iothread_cpu_pct)),
            )
        };
        (of(0), of(1))
    });
    AblationRow {
        variant,
        diffs,
        cpu,
    }
}
