//! `pollwise policy list` and `pollwise policy replay`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use pollwise_core::{HandlerId, Outcome, Policy, PolicyKind, MAX_HANDLER_ID};

use crate::policy_args::PolicyArgs;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// List every policy with its parameters, defaults and ranges.
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
        #[arg(long, default_value = "iothread0")]
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
                        s.default,
                        s.min,
                        s.max,
                        s.help
                    )?;
                }
            }
        }
        ListFormat::Table => {
            for kind in PolicyKind::ALL {
                writeln!(out, "{:<15} {}", kind.name(), kind.description())?;
                for s in kind.specs() {
                    writeln!(
                        out,
                        "    --{:<20} default {:<8} range [{}, {}]  {}",
                        s.param.name(),
                        s.default,
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

fn replay(args: &PolicyArgs, input: &PathBuf) -> Result<()> {
    let mut policy = args.build()?;
    if policy.kind().is_clairvoyant() {
        bail!(
            "policy '{}' is clairvoyant and runs only in the simulator (`pollwise sim`); \
             replay an online policy instead",
            policy.kind()
        );
    }
    let reader: Box<dyn Read> = if input.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            File::open(input)
                .with_context(|| format!("cannot open the trace {}", input.display()))?,
        )
    };
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .context("cannot read the trace's header row")?
        .clone();
    let block_col = headers
        .iter()
        .position(|h| h == "block_ns")
        .with_context(|| {
            format!(
                "{} has no 'block_ns' column; its columns are: {}",
                input.display(),
                headers.iter().collect::<Vec<_>>().join(", ")
            )
        })?;
    let handler_col = headers.iter().position(|h| h == "handler");

    let mut out = BufWriter::new(io::stdout().lock());
    writeln!(out, "step,block_ns,window_ns")?;
    let mut handlers: Vec<HandlerId> = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let step = i + 1;
        let line = step + 1;
        let record = record.with_context(|| format!("line {line}: malformed CSV"))?;
        let text = record.get(block_col).unwrap_or("");
        let block_ns: u64 = text.parse().with_context(|| {
            format!("line {line}: block_ns '{text}' is not a non-negative whole number of ns")
        })?;
        handlers.clear();
        match handler_col {
            None => handlers.push(0),
            Some(c) => {
                for h in record
                    .get(c)
                    .unwrap_or("")
                    .split(';')
                    .filter(|s| !s.is_empty())
                {
                    let id: HandlerId = h.trim().parse().ok().filter(|&id| id <= MAX_HANDLER_ID).with_context(|| {
                        format!("line {line}: handler '{h}' is not a handler id in [0, {MAX_HANDLER_ID}]")
                    })?;
                    handlers.push(id);
                }
            }
        }
        let polled = block_ns <= policy.window_ns();
        policy.observe(&Outcome {
            block_ns,
            polled,
            handlers: &handlers,
            slept_ns: 0,
        });
        writeln!(out, "{step},{block_ns},{}", policy.window_ns())?;
    }
    out.flush()?;
    Ok(())
}
