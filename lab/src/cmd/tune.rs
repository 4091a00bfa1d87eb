//! `pollwise tune`: the checks before any measurement, the order of the
//! work (calibrate or take the preset, search, confirm on the disk and in
//! QEMU's loop, report) and what a stop signal leaves: the answer so far
//! on standard output.

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
use crate::tune::confirm::{pair_estimate, Confirm, FIRST_BATCH};
use crate::tune::in_qemu::{qemu_pair_estimate, unavailable, variant_params};
use crate::tune::{report, search, text, Measured, Outcome, QemuLoop, QemuVersion, Tuned};
use crate::{Backend, DeviceBackend, Progress, QemuBackend};

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
    /// `--cache`: where QEMU's builds are (default as `compare --backend
    /// qemu` finds them).
    pub cache: Option<PathBuf>,
    /// `--no-qemu`: confirm on the disk only.
    pub no_qemu: bool,
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
/// scratch file: about 70 device points of `point_ms`, the depth curve's
/// included, and the probes).
pub fn calibration_estimate(point_ms: u64, rounds: u32) -> Duration {
    Duration::from_millis(point_ms * 70 + u64::from(rounds) * 5 + 5000)
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
    // A week is more than any tuning session; beyond about 5e12 minutes
    // the budget is no Duration at all.
    const MAX_BUDGET_MINUTES: f64 = 10_080.0;
    if !(c.budget_minutes.is_finite() && c.budget_minutes > 0.0) {
        return fail(format!(
            "--budget-minutes {} is not a positive number of minutes (e.g. 10)",
            c.budget_minutes
        ));
    }
    if c.budget_minutes > MAX_BUDGET_MINUTES {
        return fail(format!(
            "--budget-minutes {} is more than a week: give at most {MAX_BUDGET_MINUTES} (e.g. 10)",
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
    let (device, qemu, qemu_loop) = open_backends(ui, c, &k)?;
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
        qemu_loop,
    };
    let stop = match &device {
        Some(d) => {
            let loops = Loops {
                device: d,
                qemu: qemu.as_ref(),
                seed: c.seed,
                deadline: start + k.budget,
            };
            confirm(ui, &mut tuned, &loops)
        }
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

/// The disk's backend and QEMU's loop, opened first: a disk without
/// O_DIRECT is refused before any measurement.
fn open_backends(
    ui: &dyn Ui,
    c: &TuneCmd,
    k: &Checked,
) -> Result<(Option<DeviceBackend>, Option<QemuBackend>, QemuLoop)> {
    if !k.measure {
        return Ok((None, None, QemuLoop::Off));
    }
    let largest_bs = k.workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let spec = c.target.spec(ui)?;
    // A named file is opened by each run: opened once here to check it.
    let writes = k.workloads.iter().any(|w| w.rw.writes());
    drop(pollwise_realdev::target::Target::open(
        &spec, largest_bs, writes,
    )?);
    let device = DeviceBackend::open(&spec, largest_bs.max(131_072))?;
    if c.no_qemu {
        return Ok((Some(device), None, QemuLoop::Off));
    }
    let why = match super::target::cache_dir(c.cache.as_ref()) {
        Err(e) => Some(format!("{e} (or give --cache DIR)")),
        Ok(_) if writes && c.target.file.is_some() => Some(
            "QEMU's harness writes only to a scratch file it creates; use --dir instead of \
             --file"
                .into(),
        ),
        Ok(cache) => match unavailable(&cache, &k.version.stock(), &k.workloads) {
            Some(why) => Some(why),
            None => {
                let q = QemuBackend::open(&cache, &spec, largest_bs.max(131_072))?;
                let label = q.label();
                return Ok((Some(device), Some(q), QemuLoop::On(label)));
            }
        },
    };
    Ok((
        Some(device),
        None,
        QemuLoop::Skipped(why.unwrap_or_default()),
    ))
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

/// Where and until when the candidates are confirmed.
struct Loops<'a> {
    device: &'a DeviceBackend,
    qemu: Option<&'a QemuBackend>,
    seed: u64,
    deadline: Instant,
}

/// Confirms the cheapest kept settings, cheapest first, until one holds or
/// the budget is spent: each on the disk, then, if the disk confirmed it,
/// in QEMU's loop. A stop signal ends it (returned, after the answer so
/// far is printed).
fn confirm(ui: &dyn Ui, t: &mut Tuned, loops: &Loops) -> Option<CmdError> {
    let candidates: Vec<Params> = Tuned::to_confirm(&t.search);
    for (i, p) in candidates.iter().enumerate() {
        let left = loops
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs();
        if left == 0 {
            ui.note(&format!(
                "note: the budget is spent; {} cheaper setting(s) left unmeasured",
                candidates.len() - i
            ));
            break;
        }
        let of = format!("{}/{}", i + 1, candidates.len());
        let mut m = match confirm_in(ui, t, loops, None, p, &of) {
            Ok(m) => m,
            Err(e) => return Some(stopped(t, e)),
        };
        if let (Some(q), Outcome::Confirmed) = (loops.qemu, m.outcome) {
            match confirm_in(ui, t, loops, Some(q), p, &of) {
                Ok(q) => m.in_qemu = Some(Box::new(q)),
                Err(e) => {
                    t.measured.push(m);
                    return Some(stopped(t, e));
                }
            }
        }
        let done = m.holds();
        t.measured.push(m);
        if done {
            break;
        }
    }
    None
}

/// `e`, with `t` marked stopped if it is a stop signal.
fn stopped(t: &mut Tuned, e: CmdError) -> CmdError {
    if e.stop_exit_code().is_some() {
        t.stopped = true;
    }
    e
}

/// Stock against `p` on the disk (`qemu` none) or in QEMU's loop. The
/// disk leaves QEMU's loop time for its first batch (at most half of
/// what is left); QEMU's loop has the rest of the budget.
fn confirm_in(
    ui: &dyn Ui,
    t: &Tuned,
    loops: &Loops,
    qemu: Option<&QemuBackend>,
    p: &Params,
    of: &str,
) -> Result<Measured> {
    let left = loops.deadline.saturating_duration_since(Instant::now());
    let (backend, pair, where_, deadline): (&dyn Backend, _, _, _) = match qemu {
        Some(q) => {
            let pair = qemu_pair_estimate(&t.workloads);
            (q, pair, "in QEMU's loop", loops.deadline)
        }
        None => {
            let reserve = loops.qemu.map_or(Duration::ZERO, |_| {
                (qemu_pair_estimate(&t.workloads) * FIRST_BATCH).min(left / 2)
            });
            let pair = pair_estimate(&t.workloads);
            (loops.device, pair, "on the disk", loops.deadline - reserve)
        }
    };
    ui.progress(Progress::Step(&format!(
        "tune [3/4]: confirm {p} against stock {where_} ({of}, budget left {} s)",
        left.as_secs()
    )));
    let progress = |p: Progress| ui.progress(p);
    let (stock, candidate) = match qemu {
        Some(_) => (variant_params(&t.search.stock.params), variant_params(p)),
        None => (t.search.stock.params.clone(), p.clone()),
    };
    let confirm = Confirm {
        backend,
        workloads: &t.workloads,
        stock: &stock,
        bar_pct: t.search.bar_pct,
        seed: loops.seed,
        pair,
        deadline,
        progress: &progress,
    };
    guarded(TUNE_STOPPED, || Ok(confirm.candidate(&candidate)?))
}
