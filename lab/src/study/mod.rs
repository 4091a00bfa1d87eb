//! The evaluation of every policy, regenerated from the simulator: all
//! policies on both presets, the best-known frontier (the threshold oracle,
//! the priced clairvoyant and, on a reduced matrix, the rollout) and each
//! policy's distance from it with the seeds' spread as the tolerance, the
//! ablation of the model's mechanisms, `fcp-16disk` against IBM's summary,
//! and a robustness sweep over devices; and, given a disk, the online
//! policies against QEMU's rule measured on it, in pollwise's own loop and
//! in QEMU's. Writes the CSVs and a markdown summary ([`crate::text`]).
//!
//! Each experiment is a module with a plan (the runs it needs, a value:
//! `plan::Batch`es) and an analysis of the plan's rows; the study's size
//! is the sum of its plans'. [`settings`] is the catalogue they share.

pub(crate) mod ablation;
pub mod frontier;
pub(crate) mod idle;
pub(crate) mod measured;
pub(crate) mod options;
pub(crate) mod plan;
pub mod presets;
pub(crate) mod ratio;
pub(crate) mod robustness;
pub mod settings;

pub use frontier::{front_point, frontier_points, standing, violations, FrontPoint, Standing};
pub use options::{check_measure_runs, MeasureOptions, StudyOptions};
pub use plan::PerWorkload;
pub use presets::{summarize, PolicySummary};
pub use settings::Family;

use std::fs;

use pollwise_core::RunRow;
use pollwise_sim::batch::{check_events, check_runs};
use pollwise_sim::SimError;

use crate::compare::all_runs;
use crate::formats::output::{Kind, OutputDir};
use crate::formats::rows::write_csv_file;
use crate::{LabError, Progress, Ticker};

/// Every file the study may write, checked before the first run.
fn prepare(opts: &StudyOptions) -> Result<OutputDir, LabError> {
    let names: Vec<String> = presets::PRESETS
        .iter()
        .flat_map(|p| {
            [
                format!("policies-{p}.csv"),
                format!("frontier-{p}.csv"),
                format!("rollout-{p}.csv"),
            ]
        })
        .chain([
            "ibm-later-fcp-16disk.csv".to_string(),
            "ablation.csv".to_string(),
            "robustness.csv".to_string(),
        ])
        .collect();
    let mut files: Vec<(&str, Kind)> = names.iter().map(|n| (n.as_str(), Kind::Results)).collect();
    let waits = measured::waits_files();
    files.push(("measured.csv", Kind::Results));
    files.extend(waits.iter().map(|n| (n.as_str(), Kind::Waits)));
    files.push(("README.md", Kind::StudyReadme));
    let dir = OutputDir::prepare("--out", &opts.out, &files, &[], opts.force)?;
    // A study's files are replaced as a set: an earlier study's (each
    // checked above as written by pollwise, or given up with --force) go
    // before this one writes, so none of them, and no README that names
    // another command, stays beside this run's files, and a run stopped
    // part-way leaves no README at all.
    for (name, _) in &files {
        let path = dir.join(name);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            fs::remove_file(&path).map_err(LabError::file(&path))?;
        }
    }
    Ok(dir)
}

/// What a study found, before it is written as markdown (`text::study`):
/// the experiments' results and the output directory, prepared, where the
/// CSVs already are and README.md goes.
pub(crate) struct StudyRun {
    pub(crate) presets: Vec<presets::PresetResult>,
    pub(crate) ablation: Vec<ablation::AblationRow>,
    pub(crate) robustness: Vec<robustness::RobustPoint>,
    pub(crate) ratios: Vec<ratio::TraceRatios>,
    pub(crate) idle: Vec<idle::IdleRow>,
    pub(crate) measured: Option<measured::MeasuredPart>,
    pub(crate) dir: OutputDir,
}

/// The size of the whole study (`points` x seeds runs, `events` simulated
/// events), refused before anything is allocated, with the flags that
/// make it smaller; the number of runs.
fn check_size(opts: &StudyOptions, points: usize, events: f64) -> Result<u64, LabError> {
    let runs = check_runs(
        (points as u64).checked_mul(u64::from(opts.seeds)),
        &format!("this study ({points} points x {} seeds)", opts.seeds),
    )
    .map_err(|e| too_large(e, "; the seeds are --repeat"))?;
    check_events(
        events,
        runs,
        &format!("this study ({runs} runs)"),
        if opts.skip_robustness {
            "--repeat, --duration-ms or --rollout-duration-ms"
        } else {
            "--repeat, --duration-ms, --robust-duration-ms or --rollout-duration-ms (or add \
             --skip-robustness)"
        },
    )
    .map_err(|e| too_large(e, ""))?;
    Ok(runs)
}

/// A size refusal of the simulator's, as the study's own: its message
/// without the simulator's "workload:" kind, then `more`.
fn too_large(e: SimError, more: &str) -> LabError {
    let message = match e {
        SimError::Workload(m) => m,
        e => e.to_string(),
    };
    LabError::Input(format!("{message}{more}"))
}

/// Runs the study and writes its CSVs into `opts.out`. With
/// `measure_opts`, also measures the online policies against QEMU's rule
/// on a disk (after the simulations, so they do not share the CPUs) and
/// writes `measured.csv`.
pub(crate) fn run(
    opts: &StudyOptions,
    measure_opts: Option<&MeasureOptions>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<StudyRun, LabError> {
    options::check(opts, measure_opts)?;
    let preset_plans = presets::PRESETS
        .iter()
        .map(|name| presets::plan(opts, name))
        .collect::<Result<Vec<_>, _>>()?;
    let ablation_plan = ablation::plan(opts)?;
    let robust_plan = if opts.skip_robustness {
        Vec::new()
    } else {
        robustness::plan(opts)?
    };
    let points = preset_plans.iter().map(|p| p.points()).sum::<usize>()
        + ablation_plan.points()
        + robust_plan
            .iter()
            .map(|(_, _, b)| b.points())
            .sum::<usize>();
    let events = preset_plans.iter().map(|p| p.events()).sum::<f64>()
        + ablation_plan.events()
        + robust_plan.iter().map(|(_, _, b)| b.events()).sum::<f64>();
    let runs = check_size(opts, points, events)?;
    let dir = prepare(opts)?;
    let ticker = Ticker::new(runs as usize, events, "study", progress);
    let presets = preset_plans
        .iter()
        .map(|p| presets::run(p, &opts.out, &ticker))
        .collect::<Result<Vec<_>, _>>()?;
    let ablation = ablation::run(&ablation_plan, &opts.out, &ticker)?;
    let robustness = if opts.skip_robustness {
        Vec::new()
    } else {
        robustness::run(&robust_plan, &opts.out, &ticker)?
    };
    let ratios = ratio::simulated(opts, &presets::PRESETS)?;
    let idle = idle::idle()?;
    let measured = match measure_opts {
        Some(m) => {
            let part = measured::measure(m, &dir, progress)?;
            let rows: Vec<RunRow> = part.runs.iter().flat_map(|r| all_runs(&r.points)).collect();
            write_csv_file(&opts.out.join("measured.csv"), &rows)?;
            Some(part)
        }
        None => None,
    };
    Ok(StudyRun {
        presets,
        ablation,
        robustness,
        ratios,
        idle,
        measured,
        dir,
    })
}
