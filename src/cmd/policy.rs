//! `pollwise policy list` and `pollwise policy replay`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use pollwise_core::PolicyKind;
use pollwise_lab::effective::effective_value;

use crate::policy_args::PolicyArgs;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// List every policy with its parameters, defaults and ranges. Every
    /// command names a policy as NAME[:PARAM=VALUE,...], e.g.
    /// `--policy weighted:poll-weight=3`.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show one policy setting: its parameters as they act, and with
    /// --qemu the same setting in QEMU's syntaxes (the -object iothread
    /// option, QMP qom-set commands for a live change, libvirt XML).
    Show {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Print the setting as QEMU and libvirt take it.
        #[arg(long)]
        qemu: bool,
        /// The IOThread's QOM id in the QEMU output.
        #[arg(long, default_value = "iothread1", value_parser = pollwise_lab::qemu_syntax::qom_id)]
        iothread_id: String,
    },
    /// Replay a recorded trace through a policy, printing the window after
    /// each step as CSV `step,block_ns,window_ns`.
    ///
    /// The input is CSV with a header row and a `block_ns` column (QEMU's
    /// block_ns: ns from the start of an aio_poll() iteration to its event)
    /// and optionally a `handler` column (the poll handler that had the
    /// event; several may be separated by ';', an empty cell means none).
    /// Without a `handler` column every event belongs to handler 0.
    Replay {
        #[command(flatten)]
        policy: PolicyArgs,
        /// The trace to replay ('-' reads standard input).
        #[arg(long, value_name = "EVENTS.csv")]
        input: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ListFormat {
    Table,
    Csv,
}

pub fn run(command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::List { format } => list(format),
        PolicyCommand::Replay { policy, input } => replay(&policy, &input),
        PolicyCommand::Show {
            policy,
            qemu,
            iothread_id,
        } => crate::cmd::policy_show::show(&policy, qemu, &iothread_id),
    }
}

fn list(format: ListFormat) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match format {
        ListFormat::Csv => {
            writeln!(out, "policy,parameter,default,min,max,description")?;
            for kind in PolicyKind::ALL {
                if kind.specs().is_empty() {
                    writeln!(out, "{},,,,,\"{}\"", kind.name(), kind.description())?;
                }
                for s in kind.specs() {
                    writeln!(
                        out,
                        "{},{},{},{},{},\"{}\"",
                        kind.name(),
                        s.param.name(),
                        effective_value(s, s.default),
                        s.min,
                        s.max,
                        s.help
                    )?;
                }
            }
        }
        ListFormat::Table => {
            writeln!(
                out,
                "A policy is named NAME[:PARAM=VALUE,...] wherever a command takes one \
                 (--policy, --baseline, --candidate), e.g. weighted:poll-weight=3.\n"
            )?;
            for kind in PolicyKind::ALL {
                writeln!(out, "{:<15} {}", kind.name(), kind.description())?;
                for s in kind.specs() {
                    writeln!(
                        out,
                        "    {:<22} default {:<8} range [{}, {}]  {}",
                        s.param.name(),
                        effective_value(s, s.default),
                        s.min,
                        s.max,
                        s.help
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn replay(args: &PolicyArgs, input: &Path) -> Result<()> {
    let policy = args.build()?;
    let reader: Box<dyn Read> = if input.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            File::open(input)
                .with_context(|| format!("cannot open the trace {}", input.display()))?,
        )
    };
    let mut out = BufWriter::new(io::stdout().lock());
    pollwise_lab::replay::replay(policy, reader, &input.display().to_string(), &mut out)?;
    out.flush()?;
    Ok(())
}
