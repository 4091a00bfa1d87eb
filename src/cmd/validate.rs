//! `pollwise validate`: the baseline's absolute agreement, then what the simulator predicts
//! each policy changes against what the device measures; or (`--explain`) one point's phases.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_lab::cmd::real::RealFlags;
use pollwise_lab::cmd::validate::{self, ValidateCmd, ValidateFormat as Lab};
use pollwise_lab::stats::DEFAULT_DEVICE_REPEATS;

use crate::device_args::{CacheArgs, RealKind, TargetArgs};
use crate::policy_args::SPEC_HELP;
use crate::progress::TERM;
use crate::run_args::ThreadsArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The calibrated preset (`pollwise realdev calibrate --out FILE`), or any preset.
    #[arg(long, value_name = "FILE")]
    pub preset: String,
    /// The policy every other is compared against, e.g.
    /// `qemu:poll-max-ns=16000` (`pollwise policy list` has the names,
    /// parameters and defaults).
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub baseline: String,
    /// Deprecated: --baseline NAME:PAIRS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub baseline_params: Option<String>,
    /// A policy to compare against the baseline, as `--baseline` takes it
    /// (repeatable) [default: off, weighted:poll-weight=2, pollwise, and
    /// fixed on the device, which QEMU's loop has no variant of].
    #[arg(long = "policy", value_name = SPEC_HELP)]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Interleaved device rounds per point (each runs the baseline and
    /// every policy once, after one warm-up run), and simulator seeds.
    #[arg(long, default_value_t = DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    /// Seed of the first round; round i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = ValidateFormat::Table)]
    pub format: ValidateFormat,
    /// Write the output to FILE (through a temporary file, renamed when
    /// complete) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
    /// Where the measured runs happen, which the simulator is checked
    /// against: device (pollwise's loop on the disk) or qemu (QEMU's own
    /// loop, `pollwise qemu build` first) [default: device].
    #[arg(long, value_enum)]
    pub backend: Option<RealKind>,
    /// Deprecated: --backend.
    #[arg(long, value_enum, hide = true, conflicts_with = "backend")]
    pub against: Option<RealKind>,
    /// Run the matrix's first point with the baseline on the device and the simulator and
    /// print the loop's phases side by side, the most different first (device only).
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Table,
    /// One row per (policy, point); see `VALIDATION_CSV_COLUMNS` in lab.
    Csv,
    /// A report for the docs: the command, the checks against their targets, the
    /// pairs that miss, the table, the preset's calibration comments and the CSV.
    Markdown,
    /// Plain text within 72 columns, as posted to qemu-devel.
    Mail,
}

same_variants!(ValidateFormat => Lab: Table, Csv, Markdown, Mail);

pub fn run(a: ValidateArgs) -> Result<()> {
    let real = RealFlags {
        target: a.target.flags(),
        cache: a.cache.cache_dir,
        rows: None,
        force: a.force.force,
    };
    let c = ValidateCmd {
        preset: a.preset,
        baseline: a.baseline,
        baseline_params: a.baseline_params,
        policies: a.policies,
        workload: a.workload.flags(),
        repeat: a.repeat,
        seed: a.seed,
        real,
        format: a.format.into(),
        out: a.out,
        backend: a.backend.map(Into::into),
        against: a.against.map(Into::into),
        explain: a.explain,
    };
    let command = validate::command_line(std::env::args());
    let mut out = BufWriter::new(io::stdout());
    validate::run(&TERM, &c, &command, &mut out)?;
    Ok(out.flush()?)
}
