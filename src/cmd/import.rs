//! `pollwise import`: results from outside pollwise in its schemas.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use pollwise_lab::qemu_syntax::parse_qemu_trace;
use pollwise_lab::rows::write_trace_file;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// A real QEMU's poll window from its `log` trace backend output
    /// (run QEMU with -trace 'poll_*' -trace 'run_poll_handlers_*'
    /// -msg timestamp=on) as a window trace for `plot window`.
    QemuTrace {
        /// QEMU's log output (stderr, or the -D file).
        #[arg(long, value_name = "LOG")]
        input: PathBuf,
        /// The window trace CSV to write.
        #[arg(long, value_name = "TRACE.csv")]
        out: PathBuf,
        /// The poll-max-ns the IOThread had (a trace does not say).
        #[arg(long, value_name = "NS", default_value_t = 32768)]
        poll_max_ns: u64,
    },
}

pub fn run(command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::QemuTrace {
            input,
            out,
            poll_max_ns,
        } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read the QEMU log {}", input.display()))?;
            let t = parse_qemu_trace(&text, poll_max_ns)
                .with_context(|| format!("{}", input.display()))?;
            write_trace_file(&out, &t.rows)?;
            let iothreads = t.rows.iter().map(|r| r.iothread).max().unwrap_or(0) + 1;
            eprintln!(
                "wrote {} ({} window points over {iothreads} IOThread(s); {} poll_add/end \
                 events without a window, {} other lines skipped)",
                out.display(),
                t.rows.len(),
                t.events,
                t.skipped
            );
            Ok(())
        }
    }
}
