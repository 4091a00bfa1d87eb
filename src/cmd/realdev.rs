//! `pollwise realdev`: run policies on a real file or block device through
//! the epoll + Linux AIO loop, compare them, and calibrate a sim preset.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use pollwise_lab::cmd::realdev::{self, Calibrate, DeviceCompare, DeviceRun};

use crate::device_args::TargetArgs;
use crate::output::{CompareFormat, Format};
use crate::policy_args::{PolicyArgs, PolicyPairArgs};
use crate::progress::TERM;
use crate::workload_args::WorkloadArgs;

#[derive(Subcommand, Debug)]
pub enum RealdevCommand {
    /// Run one workload on a scratch file (or --file) and print its result
    /// row, in the same schema as `pollwise sim`.
    ///
    /// Workload defaults: 4k randread, numjobs 1, iodepth 1, one IOThread,
    /// 1000 ms (a fio job's runtime if --fio-job is given).
    Run(RunArgs),
    /// Run a small matrix for a baseline and a candidate policy in
    /// interleaved pairs, and report each paired difference with its
    /// interval and a verdict.
    ///
    /// Matrix defaults: 4k randread, numjobs 1, iodepth 1 and 8, one
    /// IOThread, 2000 ms per run; lists are comma-separated.
    Compare(CompareArgs),
    /// Measure the device's latency and throughput and the loop's own
    /// costs, and write a simulator preset (load it with --preset FILE).
    Calibrate(CalibrateArgs),
    /// Remove scratch files left by runs that were killed (SIGKILL, power
    /// loss) and whose processes are gone: this user's files that pollwise
    /// marked as its own. Others with such names are named, not removed.
    Clean(CleanArgs),
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// The scratch directory [default: the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Seeds the jobs' offset generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the window trajectory as CSV: the window at the start, at
    /// every change and at every live parameter change.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write every iteration's wait as CSV (block_ns,handler,in_flight,how:
    /// from the iteration's start to its work), the trace `pollwise policy
    /// ratio` and `policy replay` read; see docs/pollwise-policy.md.
    #[arg(long, value_name = "FILE")]
    pub waits: Option<PathBuf>,
    /// Change policy parameters while running, e.g. --set-at
    /// 500:poll-max-ns=8000 (repeatable; like QEMU's qom-set on a live
    /// IOThread).
    #[arg(long, value_name = "MS:NAME=VALUE,...")]
    pub set_at: Vec<String>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where to write the preset (TOML); - for standard output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Write the preset even if the measurements do not add up (see the
    /// warnings), and replace an output file that pollwise did not write
    /// (judged by its content).
    #[arg(long)]
    pub force: bool,

    /// Block sizes to measure, comma-separated; the smallest gives the
    /// latency distributions, the largest the transfer rate.
    #[arg(long, default_value = "4k,128k")]
    pub bs: String,
    /// Length of each device measurement.
    #[arg(long, default_value_t = 2000)]
    pub point_ms: u64,
    /// Queue depth of the throughput measurements.
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    /// Repetitions of each wake-up probe.
    #[arg(long, default_value_t = 2000)]
    pub rounds: u32,
    /// Times each probe is repeated; the preset takes the median and the
    /// spread is written beside it.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Seed of the probes' random offsets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub policies: PolicyPairArgs,
    #[command(flatten)]
    pub matrix: WorkloadArgs,
    /// Runs per point and policy, after one warm-up run; baseline and
    /// candidate alternate (AB, BA, ...) so drift in the machine's load
    /// hits both alike.
    #[arg(long, default_value_t = pollwise_lab::stats::DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    /// Seed of the first pair's offset generators; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    #[command(flatten)]
    pub accept: crate::run_args::AcceptArgs,
    /// Also write every single run's row (the common schema) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

pub fn run(command: RealdevCommand) -> Result<()> {
    // Not locked: the device's threads run while this is alive.
    let mut out = BufWriter::new(io::stdout());
    match command {
        RealdevCommand::Run(a) => {
            let o = realdev::run(&TERM, &run_spec(&a))?;
            match a.format {
                Format::Table => pollwise_lab::text::write_device_run(&mut out, &o)?,
                f => pollwise_lab::text::write_rows(&mut out, f.into(), &[o.row])?,
            }
        }
        RealdevCommand::Compare(a) => {
            realdev::compare(&TERM, &compare_spec(&a))?.write(&mut out, a.format.into())?
        }
        RealdevCommand::Calibrate(a) => realdev::calibrate(&TERM, &calibrate_spec(a), &mut out)?,
        RealdevCommand::Clean(a) => realdev::clean(&TERM, a.dir.as_ref(), &mut out)?,
    }
    Ok(out.flush()?)
}

fn run_spec(a: &RunArgs) -> DeviceRun {
    DeviceRun {
        workload: a.workload.flags(),
        seed: a.seed,
        target: a.target.flags(),
        policy: a.policy.flags(),
        trace: a.trace.clone(),
        waits: a.waits.clone(),
        set_at: a.set_at.clone(),
        force: a.force.force,
    }
}

fn calibrate_spec(a: CalibrateArgs) -> Calibrate {
    Calibrate {
        target: a.target.flags(),
        out: a.out,
        force: a.force,
        bs: a.bs,
        point_ms: a.point_ms,
        depth: a.depth,
        rounds: a.rounds,
        repeat: a.repeat,
        seed: a.seed,
    }
}

fn compare_spec(a: &CompareArgs) -> DeviceCompare {
    DeviceCompare {
        policies: a.policies.flags(),
        workload: a.matrix.flags(),
        repeat: a.repeat,
        seed: a.seed,
        target: a.target.flags(),
        accept_iops_loss: a.accept.accept_iops_loss,
        rows: a.rows.clone(),
        force: a.force.force,
    }
}
