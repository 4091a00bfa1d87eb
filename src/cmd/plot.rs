//! `pollwise plot`: trade-off pictures from results, trace and compare CSV.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use pollwise_lab::cmd::plot::{self, PlotCmd};

use crate::progress::TERM;

#[derive(Subcommand, Debug)]
pub enum PlotCommand {
    /// IOThread CPU % (x) against IOPS (y): a marker series per policy,
    /// each policy's non-dominated points joined as its frontier, the
    /// oracle's frontier as the bound, the baseline marked.
    ///
    /// Rows of the same policy and parameters (seeds, workloads) are
    /// averaged into one point.
    Pareto {
        /// Results CSV (the schema `sim`, `sweep` and `realdev` write);
        /// needs policy, iops and iothread_cpu_pct. A `compare --format
        /// csv` file is read as two rows per line, baseline and candidate.
        #[arg(long, value_name = "RESULTS.csv")]
        input: PathBuf,
        /// The baseline policy, optionally with parameters its rows must
        /// have, e.g. 'qemu poll-max-ns=32768'.
        #[arg(long, default_value = "qemu")]
        baseline: String,
        /// `baseline`: plot CPU and IOPS as % of the baseline row of the
        /// same workload (rw, bs, numjobs, iodepth, iothreads).
        #[arg(long, value_name = "baseline", value_parser = ["baseline"])]
        normalize: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// The poll window over time, one panel per run (policy, parameters,
    /// iothread), with poll-max-ns drawn as a dashed line.
    Window {
        /// Trace CSV (`sim --trace`): policy, params, iothread, time_ns,
        /// window_ns, poll_max_ns.
        #[arg(long, value_name = "TRACE.csv")]
        trace: PathBuf,
        /// Show the trace from this time on, in microseconds.
        #[arg(long, value_name = "US")]
        start_us: Option<f64>,
        /// Show this much of the trace, in microseconds.
        #[arg(long, value_name = "US")]
        span_us: Option<f64>,
        #[command(flatten)]
        common: Common,
    },
    /// A metric over two swept parameters: colour and value per cell (the
    /// mean of the runs that fall in it, e.g. several seeds), with a colour bar.
    Heatmap {
        /// Results CSV, typically from `sweep`.
        #[arg(long, value_name = "RESULTS.csv")]
        input: PathBuf,
        /// The x axis: a parameter in `params` (e.g. poll-max-ns) or a column.
        #[arg(long)]
        x: String,
        /// The y axis: a parameter in `params` (e.g. poll-shrink) or a column.
        #[arg(long)]
        y: String,
        /// The numeric column to show.
        #[arg(long, default_value = "iothread_cpu_pct")]
        metric: String,
        #[command(flatten)]
        common: Common,
    },
    /// Per-row IOPS and CPU difference bars of a compare run, with the
    /// +-5% acceptance band.
    Compare {
        /// The paired table of `compare --format csv`.
        #[arg(long, value_name = "COMPARE.csv")]
        input: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// Flags every plot takes.
#[derive(Args, Debug)]
pub struct Common {
    /// The picture to write: PNG or SVG by its extension.
    #[arg(long, value_name = "FILE.png|FILE.svg")]
    out: PathBuf,
    /// Keep only rows where a column (or a parameter in `params`) has this
    /// value; repeat to combine, e.g. --where rw=randread --where bs=8192.
    #[arg(long = "where", value_name = "NAME=VALUE")]
    filters: Vec<String>,
    /// Replace the generated title.
    #[arg(long)]
    title: Option<String>,
    #[arg(long, default_value_t = 1200)]
    width: u32,
    #[arg(long, default_value_t = 800)]
    height: u32,
    #[command(flatten)]
    force: crate::output::ForceArg,
}

pub fn run(command: PlotCommand) -> Result<()> {
    let (cmd, c) = match command {
        PlotCommand::Pareto {
            input,
            baseline,
            normalize,
            common,
        } => (
            PlotCmd::Pareto {
                input,
                baseline,
                normalize: normalize.is_some(),
            },
            common,
        ),
        PlotCommand::Window {
            trace,
            start_us,
            span_us,
            common,
        } => (
            PlotCmd::Window {
                trace,
                start_us,
                span_us,
            },
            common,
        ),
        PlotCommand::Heatmap {
            input,
            x,
            y,
            metric,
            common,
        } => (
            PlotCmd::Heatmap {
                input,
                x,
                y,
                metric,
            },
            common,
        ),
        PlotCommand::Compare { input, common } => (PlotCmd::Compare { input }, common),
    };
    let common = plot::Common {
        out: c.out,
        filters: c.filters,
        title: c.title,
        width: c.width,
        height: c.height,
        force: c.force.force,
    };
    Ok(plot::run(&TERM, &cmd, &common)?)
}
