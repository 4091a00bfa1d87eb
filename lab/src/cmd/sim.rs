//! `pollwise sim`: one simulated run, its window trace streamed to a file
//! and its waits written as `policy ratio` reads them.

use std::path::PathBuf;

use pollwise_core::{IterRecord, Params, RunRow, TraceRow, Workload, MAX_ITER_RECORDS};
use pollwise_sim::Preset;

use super::policy::PolicyFlags;
use super::workload::WorkloadFlags;
use super::{fail, Context, Result, Ui};
use crate::formats::output::preset_input;
use crate::formats::waits::write_waits;
use crate::{Kind, Output};

/// Loads a preset and applies a latency scale, checking the factor.
pub fn load_preset(name: &str, latency_scale: Option<f64>) -> Result<Preset> {
    let preset = Preset::load(name)?;
    match latency_scale {
        None => Ok(preset),
        Some(f) if f.is_finite() && (1e-3..=1e4).contains(&f) => Ok(preset.with_latency_scale(f)),
        Some(f) => fail(format!(
            "--latency-scale {f} is out of range: expected 0.001 ..= 10000"
        )),
    }
}

/// `pollwise sim`, as typed.
#[derive(Clone, Debug)]
pub struct SimCmd {
    pub preset: String,
    pub policy: PolicyFlags,
    pub workload: WorkloadFlags,
    pub seed: u64,
    pub latency_scale: Option<f64>,
    /// `--trace FILE`: the window trajectory as CSV.
    pub trace: Option<PathBuf>,
    /// `--waits FILE`: every iteration's wait as CSV (`formats::waits`),
    /// the trace `policy ratio` reads; one IOThread only.
    pub waits: Option<PathBuf>,
    pub force: bool,
}

/// Trace bytes per simulated event as `run_events` estimates them: a row
/// of about 90 bytes per window change, which `weighted` makes at about
/// every iteration (8k randread, one job: 4.3 MB for 200 ms, 1.12 million
/// estimated events, 3.9 bytes each; the other policies far fewer). The
/// estimate only refuses the hopeless run up front: a trace that outgrows
/// it still stops before its filesystem fills (`Output::start`).
const TRACE_BYTES_PER_EVENT: f64 = 4.0;

/// The trace and the waits file, checked before the run: neither is an
/// input or the other, and the trace fits on its disk.
fn outputs(
    c: &SimCmd,
    workload: &Workload,
    events: f64,
) -> Result<(Option<Output>, Option<Output>)> {
    let mut inputs = preset_input(&c.preset);
    inputs.extend(c.workload.inputs());
    let trace = c
        .trace
        .as_ref()
        .map(|path| Output::prepare("--trace", path, Kind::Trace, &inputs, c.force))
        .transpose()?;
    if let Some(t) = &trace {
        // Checked before the run: a long run's trace can outgrow the disk.
        let bytes = events * TRACE_BYTES_PER_EVENT;
        t.check_room(bytes as u64, "a shorter --duration-ms writes less")?;
    }
    let waits = match &c.waits {
        Some(_) if workload.iothreads != 1 => {
            return fail(format!(
                "--waits records one IOThread's iterations (the file has no IOThread column), \
                 and this run has {}: give --iothreads 1",
                workload.iothreads
            ))
        }
        Some(path) => Some(Output::prepare(
            "--waits",
            path,
            Kind::Waits,
            &inputs,
            c.force,
        )?),
        None => None,
    };
    super::run_outputs_apart(&trace, &waits)?;
    Ok((trace, waits))
}

/// Runs the simulation; the trace (if asked for) is written when complete.
pub fn run(ui: &dyn Ui, c: &SimCmd) -> Result<RunRow> {
    let preset = load_preset(&c.preset, c.latency_scale)?;
    let preset = c.workload.apply_to_preset(preset)?;
    let params = c.policy.params(ui)?;
    let workload = c.workload.workload(ui, &preset)?;
    let events = pollwise_sim::batch::run_events(&preset, &workload);
    super::bound_work(&|l| ui.note(l), 1, events, "this run", "--duration-ms")?;
    let (trace, waits) = outputs(c, &workload, events)?;
    let (row, log) = match &trace {
        None if waits.is_none() => (
            pollwise_sim::simulate(&preset, &workload, &params, c.seed)?,
            None,
        ),
        None => {
            let (row, log) =
                pollwise_sim::simulate_iterations(&preset, &workload, &params, c.seed)?;
            (row, Some(log))
        }
        Some(out) => traced(&preset, &workload, &params, c.seed, out, waits.is_some())?,
    };
    if let (Some(waits), Some(log)) = (&waits, &log) {
        if log.len() == MAX_ITER_RECORDS {
            ui.note(&format!(
                "warning: --waits holds the first {MAX_ITER_RECORDS} iterations; a shorter \
                 --duration-ms keeps them all"
            ));
        }
        waits.write_with(|w| write_waits(w, log, waits.path()))?;
    }
    if row.iops == 0.0 {
        ui.note(&format!(
            "warning: no request completed in the measured {} ms (after the preset's warm-up); \
             a longer --duration-ms or fewer requests in flight would give numbers",
            row.duration_ms
        ));
    }
    Ok(row)
}

/// One run whose trace streams to a temporary file through a bounded
/// buffer; it replaces `out` only when complete. With `log`, also returns
/// the run's iterations.
fn traced(
    preset: &Preset,
    w: &Workload,
    params: &Params,
    seed: u64,
    out: &Output,
    log: bool,
) -> Result<(RunRow, Option<Vec<IterRecord>>)> {
    let mut pending = out.start()?;
    let mut failed: Option<csv::Error> = None;
    let result = {
        let mut csv = csv::Writer::from_writer(pending.writer());
        let sink = |r: TraceRow| {
            if failed.is_none() {
                failed = csv.serialize(&r).err();
            }
        };
        let result = if log {
            let (row, iters) =
                pollwise_sim::simulate_streamed_iterations(preset, w, params, seed, sink)?;
            (row, Some(iters))
        } else {
            (
                pollwise_sim::simulate_streamed(preset, w, params, seed, sink)?,
                None,
            )
        };
        if failed.is_none() {
            failed = csv.flush().err().map(csv::Error::from);
        }
        result
    };
    if let Some(e) = failed {
        return Err(e).context(format!("writing {}", out.path().display()));
    }
    pending.commit()?;
    Ok(result)
}
