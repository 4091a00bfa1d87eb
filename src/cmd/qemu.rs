//! `pollwise qemu build|run`, and the parts of `compare --backend` and
//! `validate --against` that choose a real backend: pollwise's device loop
//! or QEMU's own `aio_poll()` (the harness of `pollwise-qemu`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use pollwise_lab::qemu_backend::check_variant;
use pollwise_lab::{Backend, Point, QemuBackend};
use pollwise_qemu::BuildOptions;

use crate::cmd::real::CacheArgs;
use crate::device_args::TargetArgs;
use crate::output::Format;
use crate::policy_args::PolicyArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Subcommand, Debug)]
pub enum QemuCommand {
    /// Build QEMU 10.0.2 with the harness, once per variant (stock and each
    /// patch series), into the cache, and print the build times.
    Build(BuildArgs),
    /// Run one workload in QEMU's own loop (the variant that implements the
    /// policy) and print its result row.
    ///
    /// Workload defaults: 4k randread, numjobs 1, iodepth 1, one IOThread
    /// (QEMU's harness runs one), 1000 ms.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// An unpacked, unpatched QEMU 10.0.2 source tree [default: download
    /// Debian's source package].
    #[arg(long, value_name = "DIR")]
    pub src: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Build only this variant (repeatable): stock, weighted.
    #[arg(long, value_name = "NAME")]
    pub variant: Vec<String>,
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
}

pub fn run(command: QemuCommand) -> Result<()> {
    match command {
        QemuCommand::Build(a) => build(&a),
        QemuCommand::Run(a) => run_one(&a),
    }
}

fn build(a: &BuildArgs) -> Result<()> {
    let t0 = Instant::now();
    let cache = pollwise_qemu::build(&BuildOptions {
        src: a.src.clone(),
        cache: Some(a.cache.dir()?),
        variants: a.variant.clone(),
        check: a.check,
    })?;
    println!(
        "pollwise qemu build: done in {:.1} s; harnesses in {}",
        t0.elapsed().as_secs_f64(),
        cache.join("bin").display()
    );
    Ok(())
}

fn run_one(a: &RunArgs) -> Result<()> {
    let params = a.policy.params()?;
    let cache = a.cache.dir()?;
    check_variant(&cache, &params)?;
    let workload = a.workload.real_one(&pollwise_lab::qemu_backend::LIMITS)?;
    crate::cmd::real::refuse_randrw(std::slice::from_ref(&workload))?;
    let mut backend = QemuBackend::open(&cache, &a.target.spec()?, workload.bs)?;
    backend.warmup_ms = a.warmup_ms;
    let row = backend.run(&Point {
        workload,
        params,
        seed: a.seed,
    })?;
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        Format::Table => pollwise_lab::text::write_qemu_run(&mut out, &row)?,
        f => pollwise_lab::text::write_rows(&mut out, f.into(), std::slice::from_ref(&row))?,
    }
    out.flush()?;
    Ok(())
}
