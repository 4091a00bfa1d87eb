//! `pollwise validate`: what the simulator (with a calibrated preset)
//! predicts each policy changes against a baseline, against what a real
//! backend measures, with the measurement's interval.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pollwise_core::Params;
use pollwise_sim::Preset;

use super::policy::{old_pairs, spec_with};
use super::real::{self, BackendKind, RealFlags};
use super::workload::WorkloadFlags;
use super::{deprecated, fail, guarded, Result, Ui, DEVICE_STOPPED};
use crate::formats::input::{read_text, InputKind};
use crate::formats::output::preset_input;
use crate::formats::parse::{policy_spec, MatrixText};
use crate::text::ReportSource;
use crate::text::{
    write_explanation, write_validation_csv, write_validation_markdown, write_validation_table,
    ExplainSource,
};
use crate::validate::explain::Explanation;
use crate::{online, validate_diffs, DiffSpec, DiffValidation, Kind, Output, SimBackend};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidateFormat {
    Table,
    Csv,
    Markdown,
    /// As a benchmark is posted to qemu-devel ([`crate::text::mail`]).
    Mail,
}

/// `pollwise validate`, as typed.
#[derive(Clone, Debug)]
pub struct ValidateCmd {
    pub preset: String,
    pub baseline: String,
    pub baseline_params: Option<String>,
    /// The `--policy` specs compared against the baseline.
    pub policies: Vec<String>,
    pub workload: WorkloadFlags,
    pub repeat: u32,
    pub seed: u64,
    /// The target and the QEMU cache (`rows` is not used).
    pub real: RealFlags,
    pub format: ValidateFormat,
    pub out: Option<PathBuf>,
    /// `--backend`, and the deprecated `--against`.
    pub backend: Option<BackendKind>,
    pub against: Option<BackendKind>,
    /// `--explain`: one point (the matrix's first) with the baseline, on
    /// both sides, compared phase by phase.
    pub explain: bool,
}

impl ValidateCmd {
    /// Where the measured runs happen: --backend, or the deprecated
    /// --against (with its note), else the device.
    fn backend(&self, ui: &dyn Ui) -> BackendKind {
        if let (None, Some(k)) = (self.backend, self.against) {
            let name = format!("{k:?}").to_lowercase();
            deprecated(
                ui,
                &format!("--against {name}"),
                &format!("--backend {name}"),
            );
        }
        self.backend.or(self.against).unwrap_or(BackendKind::Device)
    }
}

/// The `--policy` specs, or those that run on the backend: the device
/// runs every online policy, QEMU's loop those it has a variant of.
fn policies_or_default(given: &[String], against: BackendKind) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    let mut all = vec!["off", "weighted:poll-weight=2", "pollwise"];
    if against != BackendKind::Qemu {
        all.push("fixed");
    }
    all.into_iter().map(String::from).collect()
}

/// The simulator's loop made QEMU's where the two differ by source: linux-aio
/// notifies its own context after every submission and completion batch,
/// the context's notifier is one of the poll handlers, and a harness built
/// without liburing waits in `ppoll()`, where doorbells a poll pass found
/// stay readable (docs/presets.md, `self_notify`, `notifier_polled`,
/// `stale_eventfd`; docs/model-fidelity.md). A calibration measures
/// pollwise's loop, which does none of them.
fn qemu_loop(preset: &mut Preset) {
    preset.iothread.self_notify = true;
    preset.iothread.notifier_polled = true;
    preset.iothread.stale_eventfd = true;
}

/// Everything checked before anything is created.
struct Checked {
    against: BackendKind,
    preset: Preset,
    spec: DiffSpec,
}

fn check(ui: &dyn Ui, c: &ValidateCmd) -> Result<Checked> {
    let against = c.backend(ui);
    let old = old_pairs("--baseline-params", c.baseline_params.as_deref())?;
    let baseline = spec_with(ui, "baseline", &c.baseline, &old)?;
    let candidates: Vec<Params> = policies_or_default(&c.policies, against)
        .iter()
        .map(|p| policy_spec("policy", p))
        .collect::<std::result::Result<_, _>>()?;
    let mut preset = Preset::load(&c.preset)?;
    if against == BackendKind::Qemu {
        qemu_loop(&mut preset);
    }
    let all: Vec<&Params> = std::iter::once(&baseline).chain(&candidates).collect();
    for p in &all {
        online(p)?;
    }
    if c.repeat == 0 {
        return fail("--repeat must be at least 1");
    }
    let defaults = MatrixText {
        numjobs: "1,4",
        ..MatrixText::DEVICE_DEFAULT
    }
    .matrix(50, 1000)?;
    let matrix = c.workload.real_matrix_with(ui, defaults)?;
    real::check_policies(against, c.real.cache.as_ref(), &all)?;
    let workloads = matrix.workloads(real::limits(against))?;
    if against == BackendKind::Qemu {
        real::refuse_randrw(&workloads)?;
    }
    // Every policy runs each point once per round.
    let runs = crate::validate::run_count(workloads.len() * all.len(), c.repeat)?;
    let events: f64 = workloads
        .iter()
        .map(|w| pollwise_sim::batch::run_events(&preset, w))
        .sum::<f64>()
        * (all.len() as f64 * f64::from(c.repeat));
    let what = format!("this validation's simulated side ({} runs)", runs / 2);
    let lower = "--repeat, --duration-ms or the matrix";
    super::bound_work(&|l| ui.note(l), runs / 2, events, &what, lower)?;
    let spec = DiffSpec {
        workloads,
        baseline,
        candidates,
        seed: c.seed,
        repeats: c.repeat,
        spread_pct: preset.calibration.as_ref().map(|c| c.device_spread_pct),
    };
    if let Some(note) = crate::validate::scheduler_note(&preset) {
        ui.note(&note);
    }
    Ok(Checked {
        against,
        preset,
        spec,
    })
}

/// Runs the validation and writes it in its format to `--out`, or to
/// `stdout` without one; `command` is the command line as typed (quoted
/// in the markdown report).
pub fn run(ui: &dyn Ui, c: &ValidateCmd, command: &str, stdout: &mut dyn Write) -> Result<()> {
    if c.explain {
        return explain(ui, c, stdout);
    }
    let Checked {
        against,
        preset,
        spec,
    } = check(ui, c)?;
    // Checked before the first run: the runs take minutes.
    let output = match &c.out {
        Some(path) => {
            let kind = match c.format {
                ValidateFormat::Table | ValidateFormat::Markdown | ValidateFormat::Mail => {
                    Kind::ValidationReport
                }
                ValidateFormat::Csv => Kind::ValidationCsv,
            };
            let mut inputs = preset_input(&c.preset);
            inputs.extend(c.real.target.inputs());
            inputs.extend(c.workload.inputs());
            Some(Output::prepare("--out", path, kind, &inputs, c.real.force)?)
        }
        None => None,
    };
    let largest_bs = spec.workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let device = real::open(ui, against, &c.real, largest_bs)?;
    let spread = crate::validate::spread_line(&preset);
    let sim = SimBackend { preset };
    let mut v = guarded(DEVICE_STOPPED, || {
        Ok(validate_diffs(device.as_ref(), &sim, &spec, &|p| {
            ui.progress(p)
        })?)
    })?;
    // How steep the model is where it was checked: the baseline again
    // with the calibrated wake-ups drifted (simulated only, seconds).
    let steep = crate::validate::steepness(&sim.preset, &spec, &v.baseline)?;
    for (a, s) in v.baseline.iter_mut().zip(steep) {
        a.steepness = Some(s);
    }
    // Read as bounded as any input; an embedded preset has no file.
    let preset_text = read_text("--preset", Path::new(&c.preset), InputKind::Small).ok();
    let src = ReportSource {
        command,
        preset: &c.preset,
        preset_text: preset_text.as_deref(),
        reference: device.source(),
    };
    let mail = mail_setup(ui, c, against, &spec)?;
    let write = |out: &mut dyn Write| {
        write(out, c.format, &v, &spec, (&src, &mail))?;
        // The table's reader learns how far the absolute numbers can be
        // trusted; the markdown report quotes the preset's comments, which
        // say it, and the CSV stays rows only.
        match (&spread, c.format) {
            (Some(line), ValidateFormat::Table) => writeln!(out, "{line}"),
            _ => Ok(()),
        }
    };
    match &output {
        Some(o) => o.write_with(|w| write(w).map_err(super::CmdError::from))?,
        None => write(stdout)?,
    }
    Ok(())
}

/// The setup a `--format mail` reader needs beside the tables.
fn mail_setup(
    ui: &dyn Ui,
    c: &ValidateCmd,
    against: BackendKind,
    spec: &DiffSpec,
) -> Result<crate::text::mail::Setup> {
    let backend = match against {
        BackendKind::Qemu => {
            let cache = super::target::cache_dir(c.real.cache.as_ref())?;
            let version = pollwise_qemu::variant_info(&cache, "stock")
                .map(|i| format!(", QEMU {}", i.qemu_version))
                .unwrap_or_default();
            format!("qemu: measured in QEMU's own aio_poll() and linux-aio{version}")
        }
        _ => "device: measured in pollwise's IOThread loop on a real disk".into(),
    };
    let mut durations: Vec<u64> = spec.workloads.iter().map(|w| w.duration_ms).collect();
    durations.sort_unstable();
    durations.dedup();
    let durations: Vec<String> = durations.iter().map(u64::to_string).collect();
    Ok(crate::text::mail::Setup {
        backend,
        disk: real::disk_text(&c.real.target.spec(ui)?),
        calibration: format!(
            "the simulated side runs preset {} ({} seeds per point)",
            c.preset, spec.repeats
        ),
        repeats: format!(
            "{} interleaved round(s) per point after one discarded warm-up run; {} ms per run",
            spec.repeats,
            durations.join("/")
        ),
        ..Default::default()
    })
}

/// `validate --explain`: the first point of the matrix with the baseline,
/// one run on the device and one on the simulator, each logging every
/// iteration, compared phase by phase.
fn explain(ui: &dyn Ui, c: &ValidateCmd, stdout: &mut dyn Write) -> Result<()> {
    if c.backend(ui) == BackendKind::Qemu {
        return fail(
            "validate --explain runs on the device only: QEMU's harness does not write the \
             per-iteration record; drop --backend qemu",
        );
    }
    if c.format != ValidateFormat::Table || c.out.is_some() {
        return fail(
            "validate --explain prints its table on standard output: drop --format and --out",
        );
    }
    if !c.policies.is_empty() {
        return fail(
            "validate --explain runs the baseline only: drop --policy, and give the policy to \
             explain as --baseline (e.g. --baseline pollwise)",
        );
    }
    let Checked { preset, spec, .. } = check(ui, c)?;
    let workload = spec.workloads[0].clone();
    if workload.iothreads > 1 {
        // Its CPU is one loop's; the phases would sum every loop's.
        return fail(format!(
            "validate --explain compares one loop with one loop, and this point has {} \
             IOThreads: give --iothreads 1",
            workload.iothreads
        ));
    }
    let point = crate::Point {
        workload: workload.clone(),
        params: spec.baseline.clone(),
        seed: spec.seed,
        qemu_variant: None,
    };
    let device = crate::DeviceBackend::open(&c.real.target.spec(ui)?, workload.bs)?;
    let model = pollwise_sim::simulate_explained(&preset, &workload, &point.params, point.seed)?;
    let measured = guarded(DEVICE_STOPPED, || Ok(device.run_logged(&point)?))?;
    let span_s = workload.duration_ms as f64 / 1000.0;
    let e = Explanation::of(
        (measured.0, &measured.1, measured.2),
        (model.0, &model.1, model.2),
        span_s,
    );
    let policy = crate::text::policy_label(&spec.baseline);
    let src = ExplainSource {
        workload: &workload,
        policy: &policy,
        preset: &c.preset,
        reference: "device",
        seed: point.seed,
    };
    write_explanation(stdout, &e, &src)?;
    Ok(())
}

fn write(
    out: &mut dyn Write,
    format: ValidateFormat,
    v: &DiffValidation,
    spec: &DiffSpec,
    (src, mail): (&ReportSource, &crate::text::mail::Setup),
) -> io::Result<()> {
    match format {
        ValidateFormat::Table => write_validation_table(out, v, src.preset, spec, src.reference),
        ValidateFormat::Csv => write_validation_csv(out, v, spec),
        ValidateFormat::Markdown => write_validation_markdown(out, v, spec, src),
        ValidateFormat::Mail => {
            let bar = crate::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT;
            crate::text::mail::write_validation_mail(out, v, spec, mail, bar)
        }
    }
}

/// The command line as a reader would type it again: the program by its
/// name, and any argument that is not plain in single quotes.
pub fn command_line(args: impl Iterator<Item = String>) -> String {
    let args: Vec<String> = args.skip(1).collect();
    let words = std::iter::once("pollwise").chain(args.iter().map(String::as_str));
    crate::text::shell_line(words)
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn the_command_line_reads_as_typed() {
        let args = [
            "./target/release/pollwise",
            "validate",
            "--preset",
            "my local.toml",
            "--policy",
            "it's",
        ];
        assert_eq!(
            command_line(args.iter().map(|a| a.to_string())),
            "pollwise validate --preset 'my local.toml' --policy 'it'\\''s'"
        );
    }
}
