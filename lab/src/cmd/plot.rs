//! `pollwise plot`: trade-off pictures from results, trace and compare CSV,
//! each written through a checked output.

use std::path::{Path, PathBuf};

use pollwise_plots::{
    CompareOptions, Filter, HeatmapOptions, ParetoOptions, PlotError, Size, Summary, Table,
    WindowOptions,
};

use super::{fail, Context, Result, Ui};
use crate::formats::input::{read_bytes, InputKind};
use crate::{Input, Kind, Output};

/// The flags every plot takes, as typed.
#[derive(Clone, Debug)]
pub struct Common {
    /// The picture: PNG or SVG by its extension.
    pub out: PathBuf,
    /// `--where NAME=VALUE` items.
    pub filters: Vec<String>,
    pub title: Option<String>,
    pub width: u32,
    pub height: u32,
    pub force: bool,
}

/// One plot, as typed.
#[derive(Clone, Debug)]
pub enum PlotCmd {
    Pareto {
        input: PathBuf,
        baseline: String,
        normalize: bool,
    },
    Window {
        trace: PathBuf,
        start_us: Option<f64>,
        span_us: Option<f64>,
    },
    Heatmap {
        input: PathBuf,
        x: String,
        y: String,
        metric: String,
    },
    Compare {
        input: PathBuf,
    },
}

impl Common {
    fn filters(&self) -> Result<Vec<Filter>> {
        let parsed = self.filters.iter().map(|f| f.parse::<Filter>());
        Ok(parsed.collect::<std::result::Result<_, _>>()?)
    }

    /// The checked --out: not the input, not someone else's file, in a
    /// writable directory; the picture is drawn into it.
    fn draw(
        &self,
        input: &Path,
        flag: &str,
        what: &str,
        f: impl FnOnce(Table, &Path, Size) -> std::result::Result<Summary, PlotError>,
    ) -> Result<Summary> {
        // The format is the name's: checked before anything is read, and
        // said of the name given (the renderer sees a temporary one).
        pollwise_plots::Format::of(&self.out)?;
        let inputs = [Input::new(flag, input)];
        let out = Output::prepare("--out", &self.out, Kind::Picture, &inputs, self.force)?;
        // Read with a bound, then parsed: plots never open a file.
        let bytes = read_bytes(flag, input, InputKind::Table)?;
        let table = Table::from_reader(input, bytes.as_slice())?;
        let size = Size {
            width: self.width,
            height: self.height,
        };
        out.write_path(|path| f(table, path, size).context(format!("plot {what}")))
    }
}

/// Draws the plot; notes what it drew.
pub fn run(ui: &dyn Ui, cmd: &PlotCmd, common: &Common) -> Result<()> {
    let (s, what) = draw(cmd, common)?;
    let out = common.out.display();
    ui.note(&format!(
        "wrote {out} ({} rows, {} {what})",
        s.rows, s.series
    ));
    for n in &s.notes {
        ui.note(n);
    }
    if s.outside_band > 0 {
        let band = pollwise_plots::BAND_PCT;
        ui.note(&format!(
            "{} of {} rows lose more than {band}% IOPS",
            s.outside_band, s.rows
        ));
    }
    Ok(())
}

/// The plot drawn, and what its series are called.
fn draw(cmd: &PlotCmd, common: &Common) -> Result<(Summary, &'static str)> {
    let (filters, title) = (common.filters()?, common.title.clone());
    Ok(match cmd {
        PlotCmd::Pareto {
            input,
            baseline,
            normalize,
        } => {
            let baseline = baseline.clone();
            let o = ParetoOptions {
                baseline,
                normalize: *normalize,
                filters,
                title,
            };
            let s = common.draw(input, "--input", "pareto", |table, out, size| {
                pollwise_plots::plot_pareto(table, out, size, &o)
            })?;
            (s, "policies")
        }
        PlotCmd::Window {
            trace,
            start_us,
            span_us,
        } => {
            let start_ns = start_us.map(|v| us_to_ns("--start-us", v)).transpose()?;
            let span_ns = span_us.map(|v| us_to_ns("--span-us", v)).transpose()?;
            let o = WindowOptions {
                filters,
                start_ns,
                span_ns,
                title,
            };
            let s = common.draw(trace, "--trace", "window", |table, out, size| {
                pollwise_plots::plot_window(table, out, size, &o)
            })?;
            (s, "runs")
        }
        PlotCmd::Heatmap {
            input,
            x,
            y,
            metric,
        } => {
            let (x, y, metric) = (x.clone(), y.clone(), metric.clone());
            let o = HeatmapOptions {
                x,
                y,
                metric,
                filters,
                title,
            };
            let s = common.draw(input, "--input", "heatmap", |table, out, size| {
                pollwise_plots::plot_heatmap(table, out, size, &o)
            })?;
            (s, "cells")
        }
        PlotCmd::Compare { input } => {
            let o = CompareOptions { filters, title };
            let s = common.draw(input, "--input", "compare", |table, out, size| {
                pollwise_plots::plot_compare(table, out, size, &o)
            })?;
            (s, "bars")
        }
    })
}

fn us_to_ns(flag: &str, us: f64) -> Result<u64> {
    if us.is_nan() || us < 0.0 {
        return fail(format!(
            "{flag} must be a non-negative number of microseconds, got {us}"
        ));
    }
    // u64 nanoseconds end after about 584 years.
    const MAX_US: f64 = u64::MAX as f64 / 1e3;
    if us >= MAX_US {
        return fail(format!(
            "{flag} {us} is too large: the most a trace can span is {:.0} us (u64 nanoseconds)",
            MAX_US.floor()
        ));
    }
    Ok((us * 1e3).round() as u64)
}
