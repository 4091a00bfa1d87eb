//! `pollwise sweep`: a policy's parameters swept in simulation.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use clap::Args;
use pollwise_lab::formats::merge::{sweep_id, write_sweep_csv, ShardInfo};
use pollwise_lab::formats::output::preset_input;
use pollwise_lab::{Kind, Matrix, Output, Progress};
use pollwise_sim::sweep::{Shard, SweepSpec};

use crate::cmd::sim::load_preset;
use crate::policy_args::SPEC_HELP;
use crate::progress;
use crate::run_args::{repeat_of, ThreadsArgs};
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    /// The policy whose parameters are swept, with any parameter fixed for
    /// the whole sweep, e.g. `qemu` or `weighted:poll-weight=3` (`pollwise
    /// policy list` has the names, parameters and defaults).
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub policy: String,
    /// NAME=V1,V2,... : one axis of the sweep, a parameter and the list of
    /// its values (repeatable; every combination of the axes runs).
    #[arg(
        long = "param",
        value_name = "NAME=V1,V2,...",
        allow_hyphen_values = true
    )]
    pub params: Vec<String>,
    /// Workload flags take comma-separated lists too; all combinations run.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Run the preset's whole compare matrix as the workloads.
    #[arg(long, conflicts_with_all = ["rw", "bs", "numjobs", "iodepth", "iothreads"])]
    pub matrix: bool,
    /// Runs per point, with seeds SEED, SEED+1, ... [default: 1].
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Deprecated: --repeat N.
    #[arg(long, hide = true, conflicts_with = "repeat")]
    pub seeds: Option<u32>,
    /// Seed of the first run; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only part I of N (1-based) of the points. Every row carries the
    /// sweep's id (a hash of its spec), its shard and its row number in the
    /// whole sweep; `pollwise merge` joins the parts into the whole.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Multiply the simulated device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    /// Output CSV file [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

pub fn spec(args: &SweepArgs, preset: &pollwise_sim::Preset) -> Result<SweepSpec> {
    let base = crate::policy_args::spec_with("policy", &args.policy, &[])?;
    let fixed: Vec<(String, String)> = match args.policy.split_once(':') {
        Some((_, pairs)) => pollwise_lab::parse::parse_pairs(pairs)?
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        None => Vec::new(),
    };
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
    let spec = SweepSpec {
        kind: base.kind(),
        fixed,
        axes,
        workloads,
        seed: args.seed,
        seeds: repeat_of(args.repeat, args.seeds, 1)?,
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
