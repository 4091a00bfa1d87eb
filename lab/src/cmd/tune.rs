//! `pollwise tune`: the checks before any measurement, the order of the
//! work (calibrate or take the preset, search, confirm, report) and what
//! a stop signal leaves: the answer so far on standard output.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pollwise_core::{Params, Workload};
use pollwise_realdev::calibrate::CalibrateConfig;
use pollwise_realdev::loadgen::LIMITS;
use pollwise_sim::Preset;

use super::target::TargetFlags;
use super::workload::WorkloadFlags;
use super::{fail, guarded, CmdError, Result, Ui};
use crate::formats::output::preset_input;
use crate::formats::parse::MatrixText;
use crate::tune::confirm::{pair_estimate, Confirm};
use crate::tune::{report, search, text, QemuVersion, Tuned};
use crate::{DeviceBackend, Progress};

/// `pollwise tune`, as typed.
#[derive(Clone, Debug)]
pub struct TuneCmd {
    pub workload: WorkloadFlags,
    pub target: TargetFlags,
    /// `--preset`: a calibrated preset instead of calibrating.
    pub preset: Option<String>,
    pub qemu_version: String,
    pub accept_iops_loss: f64,
    pub budget_minutes: f64,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// The largest accepted loss `tune` takes, in %.
pub const MAX_LOSS_PCT: f64 = 50.0;
/// Simulated time per search run, whatever the disk's runs take: long
/// enough that a slow device's few requests do not make a 1% step.
pub const SEARCH_MS: u64 = 1000;
/// What a stop signal leaves behind.
pub const TUNE_STOPPED: &str =
    "AIO contexts destroyed and any scratch file removed; the answer so far is above";

/// The calibration's settings for a budget: short points when the budget
/// is short.
fn calibration(budget: Duration) -> (u64, u32) {
    if budget < Duration::from_secs(300) {
        (300, 300)
    } else {
        (2000, 2000)
    }
}

/// The calibration's time, estimated before it runs (measured on a
/// scratch file: about 60 device points of `point_ms`, and the probes).
pub fn calibration_estimate(point_ms: u64, rounds: u32) -> Duration {
    Duration::from_millis(point_ms * 60 + u64::from(rounds) * 5 + 5000)
}

/// Everything checked before anything is measured or created.
struct Checked {
    version: QemuVersion,
    bar: f64,
    budget: Duration,
    workloads: Vec<Workload>,
    preset: Option<Preset>,
    /// Whether the disk is measured (a calibration or a confirmation).
    measure: bool,
}

fn check(ui: &dyn Ui, c: &TuneCmd) -> Result<Checked> {
    let version = QemuVersion::parse(&c.qemu_version)?;
    let bar = c.accept_iops_loss;
    if !(bar.is_finite() && bar > 0.0 && bar <= MAX_LOSS_PCT) {
        return fail(format!(
            "--accept-iops-loss {bar} is out of range: give a percentage above 0 and at most \
             {MAX_LOSS_PCT} (e.g. 1)"
        ));
    }
    if !(c.budget_minutes.is_finite() && c.budget_minutes > 0.0) {
        return fail(format!(
            "--budget-minutes {} is not a positive number of minutes (e.g. 10)",
            c.budget_minutes
        ));
    }
    let budget = Duration::from_secs_f64(c.budget_minutes * 60.0);
    let defaults = MatrixText {
        numjobs: "1,4",
        ..MatrixText::DEVICE_DEFAULT
    }
    .matrix(50, 1000)?;
    let workloads = c
        .workload
        .real_matrix_with(ui, defaults)?
        .workloads(&LIMITS)?;
    let preset = match &c.preset {
        Some(p) => Some(c.workload.apply_to_preset(Preset::load(p)?)?),
        None => None,
    };
    let measure = preset.is_none() || c.target.named();
    if measure {
        let mut needed = pair_estimate(&workloads);
        if preset.is_none() {
            let (ms, rounds) = calibration(budget);
            needed += calibration_estimate(ms, rounds);
        }
        if budget < needed {
            return fail(format!(
                "--budget-minutes {} is too small for one confirmation pair: the {} take about \
                 {:.1} minutes here; give at least that, shorten --duration-ms, or pass --preset \
                 to skip the calibration",
                c.budget_minutes,
                if preset.is_none() {
                    "calibration and one pair"
                } else {
                    "pair"
                },
                needed.as_secs_f64() / 60.0
            ));
        }
    }
    Ok(Checked {
        version,
        bar,
        budget,
        workloads,
        preset,
        measure,
    })
}

/// Runs `tune` and writes the answer to `stdout` (also when stopped);
/// `command` is the command line as typed, for the report.
pub fn run(ui: &dyn Ui, c: &TuneCmd, command: &str, stdout: &mut dyn Write) -> Result<Tuned> {
    let start = Instant::now();
    let k = check(ui, c)?;
    let dir = match &c.out {
        Some(d) => {
            let mut inputs = c.target.inputs();
            if let Some(p) = &c.preset {
                inputs.extend(preset_input(p));
            }
            Some(report::prepare(d, c.preset.is_none(), &inputs, c.force)?)
        }
        None => None,
    };
    let largest_bs = k.workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    // Opened first: a disk without O_DIRECT is refused before any measurement.
    let device = if k.measure {
        let spec = c.target.spec(ui)?;
        // A named file is opened by each run: opened once here to check it.
        let writes = k.workloads.iter().any(|w| w.rw.writes());
        drop(pollwise_realdev::target::Target::open(
            &spec, largest_bs, writes,
        )?);
        Some(DeviceBackend::open(&spec, largest_bs.max(131_072))?)
    } else {
        None
    };
    let (preset, preset_text) = match k.preset.clone() {
        Some(p) => (p, None),
        None => calibrate(ui, c, &k)?,
    };
    let bar = k.bar;
    let sim_workloads: Vec<Workload> = k
        .workloads
        .iter()
        .map(|w| Workload {
            duration_ms: SEARCH_MS,
            ..w.clone()
        })
        .collect();
    let progress = |p: Progress| ui.progress(p);
    let found = search::search(&preset, &sim_workloads, k.version, bar, &progress)?;
    let mut tuned = Tuned {
        version: k.version,
        workloads: k.workloads.clone(),
        preset: preset.name.clone(),
        search: found,
        measured: Vec::new(),
        reference: device
            .as_ref()
            .map(|d| format!("realdev ({})", crate::Backend::label(d))),
        stopped: false,
    };
    let stop = match &device {
        Some(d) => confirm(ui, &mut tuned, d, c.seed, start + k.budget),
        None => None,
    };
    text::write_answer(stdout, &tuned)?;
    if let Some(dir) = &dir {
        ui.progress(Progress::Step("tune [4/4]: write the report"));
        report::write(dir, &tuned, command, preset_text.as_deref())?;
        writeln!(stdout, "report: {}", dir.join("tune.md").display())?;
    }
    match stop {
        Some(e) => Err(e),
        None => Ok(tuned),
    }
}

/// The calibration, refused when its measurements contradict each other.
fn calibrate(ui: &dyn Ui, c: &TuneCmd, k: &Checked) -> Result<(Preset, Option<String>)> {
    let (point_ms, rounds) = calibration(k.budget);
    let mut sizes: Vec<u64> = k.workloads.iter().map(|w| w.bs).collect();
    sizes.extend([4096, 131_072]);
    sizes.sort_unstable();
    sizes.dedup();
    let cfg = CalibrateConfig {
        target: c.target.spec(ui)?,
        sizes,
        point_ms,
        saturation_depth: 16,
        probe_rounds: rounds,
        repeats: 3,
        seed: c.seed,
    };
    let eta = calibration_estimate(point_ms, rounds).as_secs();
    ui.progress(Progress::Step(&format!(
        "tune [1/4]: calibrate the host (about {eta} s)"
    )));
    let cal = guarded(super::DEVICE_STOPPED, || {
        Ok(crate::local_preset::measure(&cfg)?)
    })?;
    let refusing: Vec<String> = cal
        .warnings()
        .iter()
        .filter(|w| w.refuses())
        .map(|w| w.to_string())
        .collect();
    if !refusing.is_empty() {
        return fail(format!(
            "the calibration does not add up, so tune stops before searching: {}; fix the \
             cause (a quiet machine, another --dir) or calibrate with `pollwise realdev \
             calibrate --force` and pass --preset",
            refusing.join("; ")
        ));
    }
    let text = crate::local_preset::preset_text(&cal, "tune's calibration")?;
    let preset = Preset::from_toml(&text, "tune's calibration")?;
    Ok((c.workload.apply_to_preset(preset)?, Some(text)))
}

/// Confirms the cheapest kept settings, cheapest first, until one holds or
/// the budget is spent; a stop signal ends it (returned, after the answer
/// so far is printed).
fn confirm(
    ui: &dyn Ui,
    t: &mut Tuned,
    device: &DeviceBackend,
    seed: u64,
    deadline: Instant,
) -> Option<CmdError> {
    let candidates: Vec<Params> = Tuned::to_confirm(&t.search);
    let progress = |p: Progress| ui.progress(p);
    let stock = t.search.stock.params.clone();
    let confirm = Confirm {
        backend: device,
        workloads: &t.workloads,
        stock: &stock,
        bar_pct: t.search.bar_pct,
        seed,
        deadline,
        progress: &progress,
    };
    for (i, p) in candidates.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        if left == 0 {
            ui.note(&format!(
                "note: the budget is spent; {} cheaper setting(s) left unmeasured",
                candidates.len() - i
            ));
            break;
        }
        ui.progress(Progress::Step(&format!(
            "tune [3/4]: confirm {p} against stock on the disk ({}/{}, budget left {left} s)",
            i + 1,
            candidates.len()
        )));
        match guarded(TUNE_STOPPED, || Ok(confirm.candidate(p)?)) {
            Ok(m) => {
                let done = m.outcome == crate::tune::Outcome::Confirmed;
                t.measured.push(m);
                if done {
                    break;
                }
            }
            Err(e) if e.stop_exit_code().is_some() => {
                t.stopped = true;
                return Some(e);
            }
            Err(e) => return Some(e),
        }
    }
    None
}
