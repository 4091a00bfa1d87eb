//! `pollwise sim`: one simulated run.

use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use pollwise_core::TraceRow;
use pollwise_lab::formats::output::preset_input;
use pollwise_lab::{Kind, Output};
use pollwise_sim::Preset;

use crate::output::Format;
use crate::policy_args::PolicyArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct SimArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Seed of the run's random generator (same seed, same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiply the simulated device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the window trajectory (CSV, one row per change) to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
}

/// Loads a preset and applies a latency scale, checking the factor.
pub fn load_preset(name: &str, latency_scale: Option<f64>) -> Result<Preset> {
    let preset = Preset::load(name)?;
    match latency_scale {
        None => Ok(preset),
        Some(f) if f.is_finite() && (1e-3..=1e4).contains(&f) => Ok(preset.with_latency_scale(f)),
        Some(f) => anyhow::bail!("--latency-scale {f} is out of range: expected 0.001 ..= 10000"),
    }
}

pub fn run(args: SimArgs) -> Result<()> {
    let preset = args
        .workload
        .apply_to_preset(load_preset(&args.preset, args.latency_scale)?)?;
    let params = args.policy.params()?;
    let workload = args.workload.workload(&preset)?;
    let trace = match &args.trace {
        Some(path) => Some(Output::prepare(
            "--trace",
            path,
            Kind::Trace,
            &preset_input(&args.preset),
            args.force,
        )?),
        None => None,
    };
    let row = match &trace {
        None => pollwise_sim::simulate(&preset, &workload, &params, args.seed)?,
        Some(out) => {
            // The trace streams to a temporary file through a bounded
            // buffer; it replaces the output only when complete.
            let mut pending = out.start()?;
            let mut failed: Option<csv::Error> = None;
            let row = {
                let mut w = csv::Writer::from_writer(pending.writer());
                let row = pollwise_sim::simulate_streamed(
                    &preset,
                    &workload,
                    &params,
                    args.seed,
                    |r: TraceRow| {
                        if failed.is_none() {
                            failed = w.serialize(&r).err();
                        }
                    },
                )?;
                if failed.is_none() {
                    failed = w.flush().err().map(csv::Error::from);
                }
                row
            };
            if let Some(e) = failed {
                return Err(e).with_context(|| format!("writing {}", out.path().display()));
            }
            pending.commit()?;
            row
        }
    };
    if row.iops == 0.0 {
        eprintln!(
            "warning: no request completed in the measured {} ms (after the preset's warm-up); \
             a longer --duration-ms or fewer requests in flight would give numbers",
            row.duration_ms
        );
    }
    Ok(pollwise_lab::text::write_rows(
        io::stdout().lock(),
        args.format.into(),
        &[row],
    )?)
}
