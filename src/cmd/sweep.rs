//! `pollwise sweep`: a policy's parameters swept in simulation.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Result};
use clap::Args;
use pollwise_core::PolicyKind;
use pollwise_lab::merge::{sweep_id, write_sweep_csv, ShardInfo};
use pollwise_lab::output::preset_input;
use pollwise_lab::{Kind, Matrix, Output, Progress};
use pollwise_sim::sweep::{Shard, SweepSpec};

use crate::cmd::sim::load_preset;
use crate::progress;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    /// The policy whose parameters are swept.
    #[arg(long, default_value = "qemu")]
    pub policy: String,
    /// NAME=V1,V2,... : one axis of the sweep (repeatable; one value fixes
    /// the parameter).
    #[arg(long = "param", value_name = "NAME=VALUES", allow_hyphen_values = true)]
    pub params: Vec<String>,
    /// Workload flags take comma-separated lists too; all combinations run.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Run the preset's whole compare matrix as the workloads.
    #[arg(long, conflicts_with_all = ["rw", "bs", "numjobs", "iodepth", "iothreads"])]
    pub matrix: bool,
    /// Runs per point, with seeds SEED, SEED+1, ...
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only part I of N (1-based) of the points. Every row carries the
    /// sweep's id (a hash of its spec), its shard and its row number in the
    /// whole sweep; `pollwise merge` joins the parts into the whole.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Multiply the device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    /// Output CSV file [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
}

pub fn spec(args: &SweepArgs, preset: &pollwise_sim::Preset) -> Result<SweepSpec> {
    let kind = PolicyKind::from_name(&args.policy)?;
    let axes = args
        .params
        .iter()
        .map(|p| pollwise_lab::parse::axis(p))
        .collect::<Result<Vec<_>, _>>()?;
    let workloads = if args.matrix {
        let m = args.workload.matrix(Matrix::of_preset(&preset.matrix))?;
        m.workloads(&pollwise_sim::LIMITS)?
    } else {
        args.workload.workloads(preset)?
    };
    if args.seeds == 0 {
        bail!("--seeds 0: at least one seed is needed");
    }
    let spec = SweepSpec {
        kind,
        fixed: Vec::new(),
        axes,
        workloads,
        seed: args.seed,
        seeds: args.seeds,
    };
    spec.param_points()?; // Validate every value before running anything.
    Ok(spec)
}

pub fn run(args: SweepArgs) -> Result<()> {
    let preset = args
        .workload
        .apply_to_preset(load_preset(&args.preset, args.latency_scale)?)?;
    let spec = spec(&args, &preset)?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::WHOLE,
    };
    // Check the output before the work, so a bad path fails at once; it is
    // replaced only when every row is written.
    let out = match &args.out {
        Some(path) => Some(Output::prepare(
            "--out",
            path,
            Kind::Results,
            &preset_input(&args.preset),
            args.force,
        )?),
        None => None,
    };
    let (total, what) = (spec.shard_len(shard)?, format!("sweep {}", spec.kind));
    let (report, done) = (progress::reporter(), AtomicU64::new(0));
    let rows = spec.run(&preset, shard, &|| {
        let done = done.fetch_add(1, Ordering::Relaxed) as usize + 1;
        report(Progress::Run {
            done,
            total,
            what: &what,
        });
    })?;
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
        None => write_sweep_csv(io::stdout().lock(), &rows, &info)?,
    }
    Ok(())
}
