//! `pollwise qemu build|run`: QEMU's own `aio_poll()` (see
//! `pollwise_lab::cmd::qemu`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use pollwise_lab::cmd::qemu::{self, QemuRun};

use crate::device_args::{CacheArgs, TargetArgs};
use crate::output::Format;
use crate::policy_args::PolicyArgs;
use crate::progress::TERM;
use crate::workload_args::WorkloadArgs;

#[derive(Subcommand, Debug)]
pub enum QemuCommand {
    /// Build QEMU with the harness per variant (stock, shipped, --series); print the times.
    Build(BuildArgs),
    /// Run one workload in QEMU's own loop (the variant that implements the
    /// policy) and print its result row.
    ///
    /// Workload defaults: 4k randread, numjobs 1, iodepth 1, one IOThread,
    /// 1000 ms.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// An unpatched QEMU tree, 10.0 or newer [default: download QEMU 10.0.2's Debian source].
    #[arg(long, value_name = "DIR")]
    pub src: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Build only this variant (repeatable): stock, weighted, pollwise, a series.
    #[arg(long, value_name = "NAME")]
    pub variant: Vec<String>,
    /// Build variant NAME from DIR's `git format-patch` files (see qemu/README.md).
    #[arg(long, value_name = "NAME=DIR")]
    pub series: Vec<String>,
    /// Also build and run QEMU's own AIO unit tests.
    #[arg(long)]
    pub check: bool,
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
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Warm-up before the measured time.
    #[arg(long, default_value_t = 500)]
    pub warmup_ms: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the first IOThread's waits as CSV (block_ns,handler,in_flight,how:
    /// from each aio_poll() call to its work), the trace `pollwise policy
    /// ratio` reads; see docs/pollwise-policy.md.
    #[arg(long, value_name = "FILE")]
    pub waits: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

pub fn run(command: QemuCommand) -> Result<()> {
    let a = match command {
        QemuCommand::Build(a) => {
            let cache = a.cache.cache_dir.as_ref();
            let (secs, bin) = qemu::build(a.src, cache, a.variant, &a.series, a.check)?;
            let bin = bin.display();
            println!("pollwise qemu build: done in {secs:.1} s; harnesses in {bin}");
            return Ok(());
        }
        QemuCommand::Run(a) => a,
    };
    let c = QemuRun {
        workload: a.workload.flags(),
        seed: a.seed,
        target: a.target.flags(),
        policy: a.policy.flags(),
        cache: a.cache.cache_dir,
        warmup_ms: a.warmup_ms,
        waits: a.waits,
        force: a.force.force,
    };
    let (row, version) = qemu::run(&TERM, &c)?;
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        Format::Table => pollwise_lab::text::write_qemu_run(&mut out, &row, &version)?,
        f => pollwise_lab::text::write_rows(&mut out, f.into(), std::slice::from_ref(&row))?,
    }
    Ok(out.flush()?)
}
