//! `pollwise policy list`, `policy show`, `policy replay`, `policy ratio`
//! and `policy waits`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use pollwise_lab::cmd::policy;
use pollwise_lab::MAX_TIME_NS;

use crate::policy_args::PolicyArgs;
use crate::progress::TERM;

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
        #[arg(long, default_value = "iothread1", value_parser = pollwise_lab::formats::qemu_syntax::qom_id)]
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
    /// The competitive ratio of every online policy on a recorded trace of
    /// waits: each policy replays the trace (as `replay` does), pays the
    /// wait when its window covers it and its window plus the price of a
    /// block otherwise; the offline optimum pays min(wait, price) per wait.
    ///
    /// The input is `replay`'s: CSV with a `block_ns` column, optionally
    /// `handler` and `in_flight` (requests at the device when the
    /// iteration began). The waits are replayed as recorded. `realdev run
    /// --waits FILE` and `qemu run --waits FILE` record such traces from
    /// the device loop and from QEMU's own loop.
    Ratio {
        /// A policy to replay, NAME[:PARAM=VALUE,...]; repeat for several
        /// (default: every online policy at its defaults).
        #[arg(long = "policy", value_name = "SPEC")]
        policies: Vec<String>,
        /// The trace ('-' reads standard input).
        #[arg(long, value_name = "EVENTS.csv")]
        input: PathBuf,
        /// What one block costs, in ns of CPU, for every policy and the
        /// optimum alike.
        #[arg(long, default_value_t = 24_000, conflicts_with = "wake_ns",
              value_parser = clap::value_parser!(u64).range(1..=MAX_TIME_NS))]
        price_ns: u64,
        /// Price each block as pollwise does instead: this wake-up path
        /// plus 8 of them divided by the requests in flight (the trace's
        /// in_flight column).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_TIME_NS))]
        wake_ns: Option<u64>,
    },
    /// Summarise a recorded trace of waits: per handler and per where the
    /// wait ended (its `how` column), how many, their share, and their
    /// 10th, 50th and 90th percentiles and mean in us.
    ///
    /// The input is `replay`'s and `ratio`'s. Two traces of one point
    /// under two policies (`realdev run --policy P --waits FILE`) show what
    /// a policy's own choices do to the waits that follow, which `ratio`
    /// (replaying the waits as recorded) does not count.
    Waits {
        /// The trace ('-' reads standard input).
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
    let mut out = BufWriter::new(io::stdout().lock());
    match command {
        PolicyCommand::List {
            format: ListFormat::Csv,
        } => policy::write_list_csv(&mut out)?,
        PolicyCommand::List {
            format: ListFormat::Table,
        } => policy::write_list_table(&mut out)?,
        PolicyCommand::Replay { policy: p, input } => {
            let params = p.flags().params(&TERM)?;
            policy::replay(params, &input, io::stdin().lock(), &mut out)?;
        }
        PolicyCommand::Ratio {
            policies,
            input,
            price_ns,
            wake_ns,
        } => {
            use pollwise_lab::ratio::Price;
            let price = wake_ns.map_or(Price::Fixed(price_ns), |w| Price::InFlight { wake_ns: w });
            let stdin = io::stdin().lock();
            policy::ratio(&TERM, &policies, &input, stdin, price, &mut out)?;
        }
        PolicyCommand::Waits { input } => {
            policy::waits(&input, io::stdin().lock(), &mut out)?;
        }
        PolicyCommand::Show {
            policy: p,
            qemu,
            iothread_id,
        } => {
            let params = p.flags().params(&TERM)?;
            let shown = policy::write_show(&mut out, &params, qemu, &iothread_id);
            out.flush()?;
            shown?;
        }
    }
    Ok(out.flush()?)
}
