//! `pollwise import`: results from outside pollwise in its schemas.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};
use pollwise_lab::cmd::import::{self, CpuSource, FioImport};
use pollwise_lab::MAX_TIME_NS;

use crate::policy_args::PolicyArgs;
use crate::progress::TERM;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Measured fio runs (JSON or json+ output) as rows of the common
    /// schema with source=fio, to sit beside simulations in compare, plot
    /// and validate. The IOThread's CPU comes from a number, sar or pidstat.
    Fio(FioArgs),
    /// A real QEMU's poll window from its `log` trace backend output
    /// (run QEMU with -trace 'poll_*' -trace 'run_poll_handlers_*'
    /// -msg timestamp=on) as a window trace for `plot window`.
    QemuTrace(TraceArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("cpu").required(true).args(["iothread_cpu", "sar", "pidstat"])))]
pub struct FioArgs {
    /// fio's --output-format=json (or json+) output; repeat for several
    /// runs, one row each.
    #[arg(long = "json", value_name = "FIO.json", required = true)]
    json: Vec<PathBuf>,
    /// The IOThread's CPU in % of one core, measured some other way.
    #[arg(long, value_name = "PCT")]
    iothread_cpu: Option<f64>,
    /// `sar -u -P CPU` output for the CPU the IOThread is pinned to
    /// (alone): its CPU is 100 - %idle of the Average line.
    #[arg(long, value_name = "FILE", requires = "sar_cpu")]
    sar: Option<PathBuf>,
    /// The CPU number in the sar output.
    #[arg(long, value_name = "N")]
    sar_cpu: Option<u32>,
    /// `pidstat -t` output containing the IOThread's TID.
    #[arg(long, value_name = "FILE", requires = "tid")]
    pidstat: Option<PathBuf>,
    /// The IOThread's thread id in the pidstat output.
    #[arg(long, value_name = "TID")]
    tid: Option<u32>,
    /// A name for the testbed, written in the rows' preset column.
    #[arg(long, default_value = "testbed")]
    testbed: String,
    /// IOThreads the guest's disks used.
    #[arg(long, default_value_t = 1)]
    iothreads: u32,
    /// The policy and parameters QEMU ran with (labels the rows).
    #[command(flatten)]
    policy: PolicyArgs,
    /// Write the rows here instead of standard output.
    #[arg(long, value_name = "FILE.csv")]
    out: Option<PathBuf>,
    #[command(flatten)]
    force: crate::output::ForceArg,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// QEMU's log output (stderr, or the -D file).
    #[arg(long, value_name = "LOG")]
    input: PathBuf,
    /// The window trace CSV to write.
    #[arg(long, value_name = "TRACE.csv")]
    out: PathBuf,
    /// The poll-max-ns the IOThread had (a trace does not say).
    #[arg(long, value_name = "NS", default_value_t = 32768,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIME_NS))]
    poll_max_ns: u64,
    #[command(flatten)]
    force: crate::output::ForceArg,
}

pub fn run(command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Fio(a) => {
            let c = FioImport {
                json: a.json,
                cpu: CpuSource::of(a.iothread_cpu, (a.sar, a.sar_cpu), (a.pidstat, a.tid)),
                testbed: a.testbed,
                iothreads: a.iothreads,
                policy: a.policy.flags(),
                out: a.out,
                force: a.force.force,
            };
            Ok(import::fio(&TERM, &c, &mut std::io::stdout().lock())?)
        }
        ImportCommand::QemuTrace(a) => {
            let files = (a.input.as_path(), a.out.as_path());
            Ok(import::qemu_trace(
                &TERM,
                files,
                a.poll_max_ns,
                a.force.force,
            )?)
        }
    }
}
