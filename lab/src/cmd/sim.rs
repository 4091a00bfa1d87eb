//! `pollwise sim`: one simulated run, its window trace streamed to a file.

use std::path::PathBuf;

use pollwise_core::{Params, RunRow, TraceRow, Workload};
use pollwise_sim::Preset;

use super::policy::PolicyFlags;
use super::workload::WorkloadFlags;
use super::{fail, Context, Result, Ui};
use crate::formats::output::preset_input;
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
    pub force: bool,
}

/// Runs the simulation; the trace (if asked for) is written when complete.
pub fn run(ui: &dyn Ui, c: &SimCmd) -> Result<RunRow> {
    let preset = load_preset(&c.preset, c.latency_scale)?;
    let preset = c.workload.apply_to_preset(preset)?;
    let params = c.policy.params(ui)?;
    let workload = c.workload.workload(ui, &preset)?;
    let events = pollwise_sim::batch::run_events(&preset, &workload);
    super::bound_work(&|l| ui.note(l), 1, events, "this run", "--duration-ms")?;
    let inputs = preset_input(&c.preset);
    let trace = c
        .trace
        .as_ref()
        .map(|path| Output::prepare("--trace", path, Kind::Trace, &inputs, c.force))
        .transpose()?;
    let row = match &trace {
        None => pollwise_sim::simulate(&preset, &workload, &params, c.seed)?,
        Some(out) => traced(&preset, &workload, &params, c.seed, out)?,
    };
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
/// buffer; it replaces `out` only when complete.
fn traced(
    preset: &Preset,
    w: &Workload,
    params: &Params,
    seed: u64,
    out: &Output,
) -> Result<RunRow> {
    let mut pending = out.start()?;
    let mut failed: Option<csv::Error> = None;
    let row = {
        let mut csv = csv::Writer::from_writer(pending.writer());
        let row = pollwise_sim::simulate_streamed(preset, w, params, seed, |r: TraceRow| {
            if failed.is_none() {
                failed = csv.serialize(&r).err();
            }
        })?;
        if failed.is_none() {
            failed = csv.flush().err().map(csv::Error::from);
        }
        row
    };
    if let Some(e) = failed {
        return Err(e).context(format!("writing {}", out.path().display()));
    }
    pending.commit()?;
    Ok(row)
}
