//! The `pollwise` command line: a thin layer over the workspace crates.

// Argument enums are parsed once per process; their size does not matter.
#![allow(clippy::large_enum_variant)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pollwise_lab::cmd::{self as lab, CmdError};

/// `From` between a flag's enum and lab's enum of the same variants.
macro_rules! same_variants {
    ($from:ty => $to:ty: $($v:ident),+) => {
        impl From<$from> for $to {
            fn from(x: $from) -> $to {
                match x { $(<$from>::$v => <$to>::$v),+ }
            }
        }
    };
}

mod cmd;
mod device_args;
mod output;
#[cfg(test)]
mod parse_tests;
mod policy_args;
mod progress;
mod run_args;
mod workload_args;

#[derive(Parser)]
#[command(
    name = "pollwise",
    version,
    about = "Design, simulate and validate adaptive poll-window policies",
    long_about = "Design, simulate and validate adaptive poll-window policies: how long an \
I/O event loop (QEMU's IOThread) should busy-poll before it blocks.\n\n\
Start with `pollwise compare` (QEMU's policy against the 2026 proposal on a \
simulated Optane P4800X) or `pollwise policy list`."
)]
struct Cli {
    /// Deprecated: `pollwise --threads N CMD`; write `pollwise CMD --threads N`.
    #[arg(long, hide = true, value_name = "N")]
    threads: Option<usize>,
    /// Read at most MB MiB of any input file [default: 64 to 1024 by kind].
    #[arg(long, global = true, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
    max_input_mb: Option<u64>,
    /// Simulate every run again, reusing no cached rows (or POLLWISE_NO_CACHE=1).
    #[arg(long, global = true)]
    no_cache: bool,
    #[command(subcommand)]
    command: Command,
}

impl Command {
    /// The `--threads` of a command that simulates in parallel.
    fn threads(&self) -> Option<usize> {
        match self {
            Command::Compare(a) => a.threads.threads,
            Command::Sweep(a) => a.threads.threads,
            Command::Bench(a) => a.threads.threads,
            Command::Validate(a) => a.threads.threads,
            Command::Study(a) => a.threads.threads,
            Command::Report(a) => a.threads.threads,
            _ => None,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List policies or replay a recorded event trace through one.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// List the embedded device presets or print one as TOML.
    #[command(subcommand)]
    Preset(cmd::preset::PresetCommand),
    /// Simulate one run of a workload on a device preset.
    Sim(cmd::sim::SimArgs),
    /// Run a preset's whole matrix for a baseline and a candidate policy.
    Compare(cmd::compare::CompareArgs),
    /// Sweep policy parameters in simulation (cartesian product, parallel).
    Sweep(cmd::sweep::SweepArgs),
    /// Join the shard files of a sweep into the whole sweep's CSV.
    Merge(cmd::merge::MergeArgs),
    /// Measure the simulator's speed against a raw event-queue loop.
    Bench(cmd::bench::BenchArgs),
    /// Bring outside results in: fio runs as rows, a QEMU trace as a window trace.
    #[command(subcommand)]
    Import(cmd::import::ImportCommand),
    /// Run policies on a real disk through epoll and Linux AIO.
    #[command(subcommand)]
    Realdev(cmd::realdev::RealdevCommand),
    /// Build QEMU's own loop (variants with the harness) and run it.
    #[command(subcommand)]
    Qemu(cmd::qemu::QemuCommand),
    /// Run a workload on the device and in simulation and compare them.
    ///
    /// Matrix defaults: 4k randread, numjobs 1 and 4, iodepth 1 and 8, one
    /// IOThread, 1000 ms per run; lists are comma-separated.
    Validate(cmd::validate::ValidateArgs),
    /// Draw trade-off plots from results CSV.
    #[command(subcommand)]
    Plot(cmd::plot::PlotCommand),
    /// Evaluate every policy on both presets, against the frontier and across
    /// devices, and write the results and a markdown summary.
    ///
    /// With --dir or --file, also measure pollwise and the proposal against
    /// QEMU's rule on that disk (4k randread; one and four jobs at queue depth
    /// 1 and 8), in pollwise's loop and, for each variant `pollwise
    /// qemu build` has built, in QEMU's.
    Study(cmd::study::StudyArgs),
    /// Run the default compare and a sweep and write every plot and an index.
    Report(cmd::report::ReportArgs),
    /// What to set on this host: calibrate, search the QEMU release's knobs
    /// in the simulator, confirm the cheapest on the disk, print the lines.
    Tune(cmd::tune::TuneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    pollwise_lab::formats::input::set_max_input_mb(cli.max_input_mb.unwrap_or(0));
    let cache = pollwise_lab::runcache::install(!cli.no_cache);
    let threads = lab::threads(&progress::TERM, cli.threads, cli.command.threads());
    let result = threads
        .map_err(anyhow::Error::from)
        .and_then(|_| match cli.command {
            Command::Policy(c) => cmd::policy::run(c),
            Command::Preset(c) => cmd::preset::run(c),
            Command::Sim(a) => cmd::sim::run(a),
            Command::Compare(a) => cmd::compare::run(a),
            Command::Sweep(a) => cmd::sweep::run(a),
            Command::Merge(a) => cmd::merge::run(a),
            Command::Bench(a) => cmd::bench::run(a),
            Command::Import(c) => cmd::import::run(c),
            Command::Realdev(c) => cmd::realdev::run(c),
            Command::Qemu(c) => cmd::qemu::run(c),
            Command::Validate(a) => cmd::validate::run(a),
            Command::Plot(c) => cmd::plot::run(c),
            Command::Report(a) => cmd::report::run(a),
            Command::Study(a) => cmd::study::run(a),
            Command::Tune(a) => cmd::tune::run(a),
        });
    match result {
        Ok(()) => {
            if let Some(line) = cache.summary() {
                eprintln!("{line}");
            }
            ExitCode::SUCCESS
        }
        // A reader such as `head` closed the pipe: that is not a failure.
        Err(e) if e.chain().any(lab::is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            let stopped = e
                .downcast_ref::<CmdError>()
                .and_then(CmdError::stop_exit_code);
            stopped.map_or(ExitCode::FAILURE, ExitCode::from)
        }
    }
}

/// The error and its causes on one line, as `{:#}` prints them, but
/// without a cause whose text the line already holds (an error whose own
/// message quotes its source, as "writing CSV: No space left on device"
/// does, would otherwise print it twice).
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    // An input can put megabytes into a message (a TOML key, a CSV cell):
    // each cause keeps its start, so the root cause and the hint survive.
    const MAX_CAUSE_BYTES: usize = 2048;
    for cause in e.chain() {
        let mut text = cause.to_string();
        if text.len() > MAX_CAUSE_BYTES {
            let mut cut = MAX_CAUSE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let total = text.len();
            text.truncate(cut);
            text.push_str(&format!(" [... the first {cut} of {total} bytes]"));
        }
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
