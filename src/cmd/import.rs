//! `pollwise import`: results from outside pollwise in its schemas.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Subcommand};
use pollwise_lab::formats::fio::{fio_json_row, Labels};
use pollwise_lab::formats::import::{parse_qemu_trace, pidstat_cpu_pct, sar_busy_pct};
use pollwise_lab::formats::rows::{write_csv, write_csv_file, write_trace_file};

use crate::policy_args::PolicyArgs;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Measured fio runs (JSON or json+ output) as rows of the common
    /// schema with source=fio, to sit beside simulations in compare, plot
    /// and validate. The IOThread's CPU comes from a number, sar or pidstat.
    #[command(group(ArgGroup::new("cpu").required(true).args(["iothread_cpu", "sar", "pidstat"])))]
    Fio {
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
    },
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
        ImportCommand::Fio {
            json,
            iothread_cpu,
            sar,
            sar_cpu,
            pidstat,
            tid,
            testbed,
            iothreads,
            policy,
            out,
        } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            };
            let cpu = match (iothread_cpu, &sar, &pidstat) {
                (Some(v), ..) => v,
                (_, Some(f), _) => sar_busy_pct(
                    &read(f)?,
                    &f.display().to_string(),
                    sar_cpu.context("--sar needs --sar-cpu")?,
                )?,
                (_, _, Some(f)) => pidstat_cpu_pct(
                    &read(f)?,
                    &f.display().to_string(),
                    tid.context("--pidstat needs --tid")?,
                )?,
                _ => bail!("give --iothread-cpu, --sar or --pidstat"),
            };
            if !cpu.is_finite() || cpu < 0.0 {
                bail!("the IOThread CPU must be a non-negative percentage, got {cpu}");
            }
            if iothreads == 0 {
                bail!("--iothreads must be at least 1");
            }
            let params = policy.params()?;
            let labels = Labels {
                testbed,
                policy: params.kind().name().to_string(),
                params: params.to_string(),
                iothreads,
            };
            let mut rows = Vec::new();
            for path in &json {
                let (row, warnings) =
                    fio_json_row(&read(path)?, &path.display().to_string(), &labels, cpu)?;
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                rows.push(row);
            }
            match out {
                Some(p) => write_csv_file(&p, &rows)?,
                None => write_csv(std::io::stdout().lock(), &rows)?,
            }
            Ok(())
        }
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
