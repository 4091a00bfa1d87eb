//! `pollwise sweep`: a policy's parameters swept in simulation, whole or
//! one shard, written as the sweep CSV.

use std::io::Write;
use std::path::PathBuf;

use pollwise_sim::sweep::{Shard, SweepSpec};
use pollwise_sim::Preset;

use super::policy::spec_with;
use super::sim::load_preset;
use super::workload::WorkloadFlags;
use super::{fail, repeat_of, CmdError, Result, Ui};
use crate::formats::merge::{sweep_id, write_sweep_csv, ShardInfo};
use crate::formats::output::preset_input;
use crate::{Kind, Matrix, Output, Progress, Ticker};

/// `pollwise sweep`, as typed.
#[derive(Clone, Debug)]
pub struct SweepCmd {
    pub preset: String,
    /// `--policy SPEC`: the policy swept, with parameters fixed for all.
    pub policy: String,
    /// `--param NAME=V1,V2,...`: the axes.
    pub axes: Vec<String>,
    pub workload: WorkloadFlags,
    /// `--matrix`: the preset's whole compare matrix as the workloads.
    pub matrix: bool,
    pub repeat: Option<u32>,
    pub seeds: Option<u32>,
    pub seed: u64,
    /// `--shard I/N`.
    pub shard: Option<String>,
    pub latency_scale: Option<f64>,
    /// `--out FILE` [default: `stdout`].
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// The sweep's run set, every value checked before anything runs.
pub fn spec(ui: &dyn Ui, c: &SweepCmd, preset: &Preset) -> Result<SweepSpec> {
    let base = spec_with(ui, "policy", &c.policy, &[])?;
    let fixed: Vec<(String, String)> = match c.policy.split_once(':') {
        Some((_, pairs)) => crate::formats::parse::parse_pairs(pairs)?
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        None => Vec::new(),
    };
    let axes = c
        .axes
        .iter()
        .map(|p| crate::formats::parse::axis(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    // A second axis of the same parameter would replace the first's values.
    let names: Vec<&String> = axes.iter().map(|(n, _)| n).collect();
    if let Some((first, i)) = crate::formats::parse::first_repeat(&names) {
        let name = names[i];
        return fail(format!(
            "--param {name} is given twice (axes {} and {}): give one --param {name}=V1,V2,... \
             with every value",
            first + 1,
            i + 1
        ));
    }
    for (name, values) in &axes {
        if let Some((_, v)) = fixed.iter().find(|(k, _)| k == name) {
            return fail(format!(
                "--param {name} sweeps a parameter --policy {} fixes at {v}: drop it from one \
                 of the two",
                c.policy
            ));
        }
        // Two spellings of one value (4000 and 4_000) would run its rows twice.
        let parsed = values
            .iter()
            .map(|v| {
                let mut p = base.clone();
                p.set_str(name, v)
                    .map_err(|e| CmdError::Msg(format!("--param {name}={v}: {e}")))?;
                Ok(p.pairs().iter().find(|(k, _)| k == name).map_or(0, |x| x.1))
            })
            .collect::<Result<Vec<u64>>>()?;
        if let Some((j, i)) = crate::formats::parse::first_repeat(&parsed) {
            return fail(format!(
                "--param {name} lists {} twice ('{}' and '{}'): give each value once",
                parsed[i], values[j], values[i]
            ));
        }
    }
    let workloads = if c.matrix {
        let m = c.workload.matrix(ui, Matrix::of_preset(&preset.matrix))?;
        m.workloads(&pollwise_sim::LIMITS)?
    } else {
        c.workload.workloads(ui, preset)?
    };
    let spec = SweepSpec {
        kind: base.kind(),
        fixed,
        axes,
        workloads,
        seed: c.seed,
        seeds: repeat_of(ui, c.repeat, c.seeds, 1)?,
    };
    spec.param_points()?; // Validate every value before running anything.
    Ok(spec)
}

/// The shard's work bounded before it runs; returns its expected cost
/// (`batch::run_events` summed).
fn bound(ui: &dyn Ui, spec: &SweepSpec, preset: &Preset, shard: Shard) -> Result<f64> {
    let range = shard.range(spec.len()?);
    let events = spec.events(preset, shard)?;
    let what = match shard {
        Shard::WHOLE => format!("this sweep ({} runs)", range.len()),
        s => format!(
            "shard {}/{} of this sweep ({} runs)",
            s.index,
            s.count,
            range.len()
        ),
    };
    let lower = "--repeat, --duration-ms or the values, or split it with --shard";
    super::bound_work(&|l| ui.note(l), range.len() as u64, events, &what, lower)?;
    Ok(events)
}

/// Runs the sweep (or its shard) and writes its CSV to `--out`, or to
/// `stdout` without one.
pub fn run(ui: &dyn Ui, c: &SweepCmd, stdout: &mut dyn Write) -> Result<()> {
    let preset = c
        .workload
        .apply_to_preset(load_preset(&c.preset, c.latency_scale)?)?;
    let spec = spec(ui, c, &preset)?;
    let shard = match &c.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::WHOLE,
    };
    // Check the output before the work, so a bad path fails at once; it is
    // replaced only when every row is written.
    let mut inputs = preset_input(&c.preset);
    inputs.extend(c.workload.inputs());
    let out = c
        .out
        .as_ref()
        .map(|path| Output::prepare("--out", path, Kind::Results, &inputs, c.force))
        .transpose()?;
    let (total, what) = (spec.shard_len(shard)?, format!("sweep {}", spec.kind));
    let events = bound(ui, &spec, &preset, shard)?;
    let progress = |p: Progress| ui.progress(p);
    let ticker = Ticker::new(total, events, &what, &progress);
    let rows = spec.run(&preset, shard, &|run| ticker.tick(run))?;
    let total_rows = spec.len()?;
    let info = ShardInfo {
        sweep_id: sweep_id(&format!("{}\n{spec:?}", preset.to_toml())),
        index: shard.index,
        count: shard.count,
        first_row: shard.range(total_rows).start,
        total_rows,
    };
    match out {
        Some(out) => out.write_with(|w| write_sweep_csv(w, &rows, &info))?,
        None => write_sweep_csv(stdout, &rows, &info)?,
    }
    Ok(())
}
