//! `pollwise plot`: trade-off pictures from results, trace and compare CSV.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use pollwise_lab::{Input, Kind, Output};
use pollwise_plots::{
    CompareOptions, Filter, HeatmapOptions, ParetoOptions, Size, Summary, WindowOptions,
};

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
    /// Replace an existing --out that is not a PNG or SVG picture.
    #[arg(long)]
    force: bool,
}

impl Common {
    fn filters(&self) -> Result<Vec<Filter>> {
        self.filters
            .iter()
            .map(|f| f.parse::<Filter>().map_err(anyhow::Error::from))
            .collect()
    }

    /// The checked --out: not the input, not someone else's file, in a
    /// writable directory.
    fn output(&self, input: &Path, flag: &str) -> Result<Output> {
        Ok(Output::prepare(
            "--out",
            &self.out,
            Kind::Picture,
            &[Input::new(flag, input)],
            self.force,
        )?)
    }

    fn size(&self) -> Size {
        Size {
            width: self.width,
            height: self.height,
        }
    }
}

pub fn run(command: PlotCommand) -> Result<()> {
    match command {
        PlotCommand::Pareto {
            input,
            baseline,
            normalize,
            common,
        } => {
            let opts = ParetoOptions {
                baseline,
                normalize: normalize.is_some(),
                filters: common.filters()?,
                title: common.title.clone(),
            };
            let s = common.output(&input, "--input")?.write_path(|out| {
                pollwise_plots::plot_pareto(&input, out, common.size(), &opts)
                    .context("plot pareto")
            })?;
            done(&common, s, "policies");
        }
        PlotCommand::Window {
            trace,
            start_us,
            span_us,
            common,
        } => {
            let opts = WindowOptions {
                filters: common.filters()?,
                start_ns: start_us.map(|v| us_to_ns("--start-us", v)).transpose()?,
                span_ns: span_us.map(|v| us_to_ns("--span-us", v)).transpose()?,
                title: common.title.clone(),
            };
            let s = common.output(&trace, "--trace")?.write_path(|out| {
                pollwise_plots::plot_window(&trace, out, common.size(), &opts)
                    .context("plot window")
            })?;
            done(&common, s, "runs");
        }
        PlotCommand::Heatmap {
            input,
            x,
            y,
            metric,
            common,
        } => {
            let opts = HeatmapOptions {
                x,
                y,
                metric,
                filters: common.filters()?,
                title: common.title.clone(),
            };
            let s = common.output(&input, "--input")?.write_path(|out| {
                pollwise_plots::plot_heatmap(&input, out, common.size(), &opts)
                    .context("plot heatmap")
            })?;
            done(&common, s, "cells");
        }
        PlotCommand::Compare { input, common } => {
            let opts = CompareOptions {
                filters: common.filters()?,
                title: common.title.clone(),
            };
            let s = common.output(&input, "--input")?.write_path(|out| {
                pollwise_plots::plot_compare(&input, out, common.size(), &opts)
                    .context("plot compare")
            })?;
            done(&common, s, "bars");
            if s.outside_band > 0 {
                eprintln!(
                    "{} of {} rows lose more than {}% IOPS",
                    s.outside_band,
                    s.rows,
                    pollwise_plots::BAND_PCT
                );
            }
        }
    }
    Ok(())
}

fn us_to_ns(flag: &str, us: f64) -> Result<u64> {
    if us.is_nan() || us < 0.0 {
        bail!("{flag} must be a non-negative number of microseconds, got {us}");
    }
    // u64 nanoseconds end after about 584 years.
    const MAX_US: f64 = u64::MAX as f64 / 1e3;
    if us >= MAX_US {
        bail!(
            "{flag} {us} is too large: the most a trace can span is {:.0} us (u64 nanoseconds)",
            MAX_US.floor()
        );
    }
    Ok((us * 1e3).round() as u64)
}

fn done(common: &Common, s: Summary, what: &str) {
    eprintln!(
        "wrote {} ({} rows, {} {what})",
        common.out.display(),
        s.rows,
        s.series
    );
}
