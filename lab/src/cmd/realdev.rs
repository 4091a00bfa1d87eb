//! `pollwise realdev`: policies on a real file or block device through the
//! epoll + Linux AIO loop (one run, a paired compare), the calibration of
//! a simulator preset, and the removal of stale scratch files.

use std::io::Write;
use std::path::{Path, PathBuf};

use pollwise_core::MAX_ITER_RECORDS;
use pollwise_realdev::calibrate::CalibrateConfig;
use pollwise_realdev::loadgen::{JobSpec, LIMITS};
use pollwise_realdev::run::{self as device, RunConfig, RunOutput};

use super::compared::Compared;
use super::policy::{PairFlags, PolicyFlags};
use super::real::{self, BackendKind, RealFlags};
use super::target::TargetFlags;
use super::workload::WorkloadFlags;
use super::{fail, guarded, Context, Result, Ui, DEVICE_STOPPED};
use crate::formats::parse::{list, parse_size};
use crate::formats::rows::write_trace;
use crate::formats::waits::write_waits;
use crate::{online, CompareSpec, Kind, Output};

/// Removes this user's marked scratch files of dead owners in `dir`
/// [default: the system temp dir]; notes the lookalikes it left and
/// writes each removed file and a count to `out`.
pub fn clean(ui: &dyn Ui, dir: Option<&PathBuf>, out: &mut dyn Write) -> Result<()> {
    let dir = dir.cloned().unwrap_or_else(std::env::temp_dir);
    let cleanup = pollwise_realdev::scratch::clean_stale_scratch(&dir).context(format!(
        "cannot list the scratch directory {}",
        dir.display()
    ))?;
    for l in &cleanup.left {
        ui.note(&format!("warning: {l}"));
    }
    for r in &cleanup.removed {
        writeln!(out, "{r}")?;
    }
    let n = cleanup.removed.len();
    writeln!(
        out,
        "{n} stale scratch file(s) removed from {}",
        dir.display()
    )?;
    Ok(())
}

/// `pollwise realdev run`, as typed.
#[derive(Clone, Debug)]
pub struct DeviceRun {
    pub workload: WorkloadFlags,
    pub seed: u64,
    pub target: TargetFlags,
    pub policy: PolicyFlags,
    /// `--trace FILE`: the window trajectory as CSV.
    pub trace: Option<PathBuf>,
    /// `--waits FILE`: every iteration's wait as CSV (`formats::waits`),
    /// the trace `policy ratio` reads.
    pub waits: Option<PathBuf>,
    /// `--set-at MS:NAME=VALUE,...` items.
    pub set_at: Vec<String>,
    pub force: bool,
}

/// One run on the target; a stop signal ends it through its clean path.
pub fn run(ui: &dyn Ui, c: &DeviceRun) -> Result<RunOutput> {
    let params = c.policy.params(ui)?;
    online(&params)?;
    let w = c.workload.real_one(ui, &LIMITS)?;
    let changes = crate::formats::parse::set_at(&c.set_at, &params, w.duration_ms)?;
    let cfg = RunConfig {
        workload: JobSpec::new(&w, c.seed),
        duration_ms: w.duration_ms,
        params,
        target: c.target.spec(ui)?,
        changes,
        trace: c.trace.is_some(),
        log_iterations: c.waits.is_some(),
        catch_sigint: true,
    };
    // Checked before the run: not the target, not someone else's file, a
    // writable directory.
    let mut inputs = c.target.inputs();
    inputs.extend(c.workload.inputs());
    let trace = c
        .trace
        .as_ref()
        .map(|path| Output::prepare("--trace", path, Kind::Trace, &inputs, c.force))
        .transpose()?;
    let waits = c
        .waits
        .as_ref()
        .map(|path| Output::prepare("--waits", path, Kind::Waits, &inputs, c.force))
        .transpose()?;
    super::run_outputs_apart(&trace, &waits)?;
    let out = guarded(DEVICE_STOPPED, || Ok(device::run(&cfg)?))?;
    if let Some(trace) = &trace {
        trace.write_with(|w| write_trace(w, &out.trace))?;
    }
    if let Some(waits) = &waits {
        let log = &out.loop_report.iterations_log;
        if log.len() == MAX_ITER_RECORDS {
            ui.note(&format!(
                "warning: --waits holds the first {MAX_ITER_RECORDS} iterations of {}; a \
                 shorter --duration-ms keeps them all",
                out.loop_report.iterations
            ));
        }
        waits.write_with(|w| write_waits(w, log, waits.path()))?;
    }
    Ok(out)
}

/// `pollwise realdev calibrate`, as typed.
#[derive(Clone, Debug)]
pub struct Calibrate {
    pub target: TargetFlags,
    pub out: PathBuf,
    pub force: bool,
    /// `--bs` list.
    pub bs: String,
    pub point_ms: u64,
    pub depth: u32,
    pub rounds: u32,
    pub repeat: u32,
    pub seed: u64,
}

/// Measures and writes the preset to `--out` (notes each finding; refuses
/// to write without `--force` if one is a contradiction); unless that is standard output,
/// writes the measurement summary and how to use the preset to `stdout`.
pub fn calibrate(ui: &dyn Ui, c: &Calibrate, stdout: &mut dyn Write) -> Result<()> {
    let inputs = c.target.inputs();
    let output = Output::prepare("--out", &c.out, Kind::Preset, &inputs, c.force)?;
    let cfg = CalibrateConfig {
        target: c.target.spec(ui)?,
        sizes: list("bs", &c.bs, parse_size)?,
        point_ms: c.point_ms,
        saturation_depth: c.depth,
        probe_rounds: c.rounds,
        repeats: c.repeat,
        seed: c.seed,
    };
    let name = c.out.display().to_string();
    let cal = guarded(DEVICE_STOPPED, || Ok(crate::local_preset::measure(&cfg)?))?;
    let warnings = cal.warnings();
    for w in &warnings {
        let kind = if w.refuses() { "warning" } else { "note" };
        ui.note(&format!("{kind}: {w}"));
    }
    let refusing = warnings.iter().filter(|w| w.refuses()).count();
    if refusing > 0 && !c.force {
        return fail(format!(
            "{refusing} warning(s): the measurements contradict each other, so no preset was \
             written to {name}; fix the cause and rerun, or pass --force to write it anyway"
        ));
    }
    let text = crate::local_preset::preset_text(&cal, &name)?;
    output.write_with(|w| {
        w.write_all(text.as_bytes())
            .context(format!("writing {}", c.out.display()))
    })?;
    if output.is_stdout() {
        return Ok(());
    }
    write_summary(stdout, &text, &c.out)
}

/// The preset's leading comments (the measurements) and how to use it.
fn write_summary(out: &mut dyn Write, text: &str, path: &Path) -> Result<()> {
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches("# ").trim_start_matches('#');
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "wrote {}; use it with `pollwise sim --preset {0}` or `pollwise validate --preset {0}`",
        path.display()
    )?;
    Ok(())
}

/// `pollwise realdev compare`, as typed.
#[derive(Clone, Debug)]
pub struct DeviceCompare {
    pub policies: PairFlags,
    pub workload: WorkloadFlags,
    pub repeat: u32,
    pub seed: u64,
    pub target: TargetFlags,
    pub accept_iops_loss: f64,
    pub rows: Option<PathBuf>,
    pub force: bool,
}

/// A paired, interleaved compare on the device.
pub fn compare(ui: &dyn Ui, c: &DeviceCompare) -> Result<Compared> {
    let bar = crate::acceptance::check_bar(c.accept_iops_loss)?;
    let (baseline, candidate) = c.policies.params(ui)?;
    if c.repeat == 0 {
        return fail("--repeat 0: give at least 1 (runs per point and policy)");
    }
    let workloads = c.workload.real_matrix(ui)?.workloads(&LIMITS)?;
    let real = RealFlags {
        target: c.target.clone(),
        cache: None,
        rows: c.rows.clone(),
        force: c.force,
    };
    let spec = CompareSpec {
        workloads,
        baseline,
        candidate,
        variants: [None, None],
        seed: c.seed,
        repeats: c.repeat,
    };
    let paired = real::compare(
        ui,
        BackendKind::Device,
        spec,
        (&real, &c.workload.inputs()),
        bar,
    )?;
    Ok(Compared::Paired(paired))
}
