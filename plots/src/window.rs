//! `plot window`: the poll window over time, one panel per run (policy,
//! parameters, iothread), with poll-max-ns drawn as a line.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::render::{render, Draw, Size};
use crate::style::{self, distinct_pixels, tick};
use crate::table::{Filter, Table};
use crate::{PlotError, Summary};

/// More runs than this would make panels too thin to read.
pub const MAX_PANELS: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct WindowOptions {
    pub filters: Vec<Filter>,
    /// Show the trace from this time on (ns since the start of the run).
    pub start_ns: Option<u64>,
    /// Show this much of the trace (ns).
    pub span_ns: Option<u64>,
    pub title: Option<String>,
}

/// One run's trajectory.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub policy: String,
    pub params: String,
    pub iothread: String,
    /// (time_ns, window_ns), in time order.
    pub window: Vec<(u64, u64)>,
    /// (time_ns, poll_max_ns), when the trace has that column.
    pub poll_max: Vec<(u64, u64)>,
}

impl Run {
    fn name(&self) -> String {
        let mut s = self.policy.clone();
        if !self.params.is_empty() {
            s.push_str(&format!(" {}", self.params));
        }
        if !self.iothread.is_empty() {
            s.push_str(&format!(", iothread {}", self.iothread));
        }
        s
    }
}

/// Splits a trace into runs, keeping the rows inside the time range.
pub fn window_runs(table: &Table, opts: &WindowOptions) -> Result<Vec<Run>, PlotError> {
    let time_col = table.col("time_ns")?;
    let window_col = table.col("window_ns")?;
    let policy_col = table.col("policy")?;
    let params_col = table.opt_col("params");
    let thread_col = table.opt_col("iothread");
    let max_col = table.opt_col("poll_max_ns");
    let start = opts.start_ns.unwrap_or(0);
    let end = opts.span_ns.map_or(u64::MAX, |s| start.saturating_add(s));
    if opts.span_ns == Some(0) {
        return Err(PlotError::Invalid(
            "--span-us 0 shows no time: give a span of more than 0 us, or none for the rest of \
             the trace"
                .into(),
        ));
    }
    let mut runs: Vec<Rows> = Vec::new();
    let mut last_ns = 0u64;
    for r in 0..table.len() {
        let t = table.num(r, time_col)?;
        last_ns = last_ns.max(t as u64);
        let w = table.num(r, window_col)?;
        if t < 0.0 || w < 0.0 {
            return Err(PlotError::Invalid(format!(
                "{}: time_ns and window_ns must not be negative (got time {t}, window {w})",
                table.path().display()
            )));
        }
        let m = match max_col {
            Some(c) => Some(table.num(r, c)?.max(0.0) as u64),
            None => None,
        };
        let i = Rows::find_or_add(
            &mut runs,
            table.text(r, policy_col),
            params_col.map_or("", |c| table.text(r, c)),
            thread_col.map_or("", |c| table.text(r, c)),
        );
        runs[i].add(t as u64, w as u64, m, (start, end));
    }
    // A window held past the last row would draw a range with no data.
    if start > last_ns && !table.is_empty() {
        return Err(PlotError::Invalid(format!(
            "{} ends at {} us; --start-us {} is past it: start at or before its end",
            table.path().display(),
            last_ns as f64 / 1e3,
            start as f64 / 1e3
        )));
    }
    let out: Vec<Run> = runs
        .into_iter()
        .map(|x| x.finish((start, end), max_col.is_some()))
        .filter(|run| !run.window.is_empty())
        .collect();
    if out.is_empty() {
        return Err(PlotError::Invalid(format!(
            "{} has no trace rows in the chosen time range (from {start} ns{})",
            table.path().display(),
            opts.span_ns
                .map_or(String::new(), |s| format!(", for {s} ns"))
        )));
    }
    if out.len() > MAX_PANELS {
        let names: Vec<String> = out.iter().map(Run::name).collect();
        return Err(PlotError::Invalid(format!(
            "the trace has {} runs; at most {MAX_PANELS} fit in one picture: choose some with \
             --where (e.g. --where policy=qemu --where iothread=0). Runs: {}",
            out.len(),
            names.join("; ")
        )));
    }
    Ok(out)
}

/// A run's rows, and what its window was on either side of the range.
struct Rows {
    run: Run,
    /// The last row before `start` (time, window, poll-max-ns).
    before: Option<(u64, u64, u64)>,
    /// Whether the run goes on past `end`.
    after: bool,
}

impl Rows {
    /// The index of the run of (`policy`, `params`, `thread`), added if new.
    fn find_or_add(runs: &mut Vec<Rows>, policy: &str, params: &str, thread: &str) -> usize {
        if let Some(i) = runs.iter().position(|x| {
            x.run.policy == policy && x.run.params == params && x.run.iothread == thread
        }) {
            return i;
        }
        runs.push(Rows {
            run: Run {
                policy: policy.to_string(),
                params: params.to_string(),
                iothread: thread.to_string(),
                window: Vec::new(),
                poll_max: Vec::new(),
            },
            before: None,
            after: false,
        });
        runs.len() - 1
    }

    /// One row at `t`: window `w`, poll-max-ns `m` if the trace has them.
    fn add(&mut self, t: u64, w: u64, m: Option<u64>, (start, end): (u64, u64)) {
        if t < start {
            if self.before.is_none_or(|b| b.0 <= t) {
                self.before = Some((t, w, m.unwrap_or(0)));
            }
        } else if t > end {
            self.after = true;
        } else {
            self.run.window.push((t, w));
            if let Some(m) = m {
                self.run.poll_max.push((t, m));
            }
        }
    }

    /// The run in time order. A zoom starts with the window in force at
    /// its start and holds the last one to its end, as the run did.
    fn finish(self, (start, end): (u64, u64), has_max: bool) -> Run {
        let mut run = self.run;
        run.window.sort_by_key(|p| p.0);
        run.poll_max.sort_by_key(|p| p.0);
        if let Some((_, w, m)) = self.before {
            if run.window.first().is_none_or(|f| f.0 > start) {
                run.window.insert(0, (start, w));
                if has_max {
                    run.poll_max.insert(0, (start, m));
                }
            }
        }
        if self.after && end != u64::MAX {
            if let Some(&(t, w)) = run.window.last() {
                if t < end {
                    run.window.push((end, w));
                }
            }
            if let Some(&(t, m)) = run.poll_max.last() {
                if t < end {
                    run.poll_max.push((end, m));
                }
            }
        }
        run
    }
}

/// A step line through `points`: the value holds until the next point.
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(t, v)) in points.iter().enumerate() {
        if i > 0 {
            out.push((t, points[i - 1].1));
        }
        out.push((t, v));
    }
    out
}

/// Thins a line to at most about four points per bucket of `buckets` equal
/// time slices, keeping each slice's first, lowest, highest and last point,
/// so every spike and reset still shows at pixel resolution.
pub fn decimate(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= buckets * 4 || points.len() < 2 || buckets == 0 {
        return points.to_vec();
    }
    let t0 = points[0].0;
    let t1 = points[points.len() - 1].0;
    let width = (t1 - t0) / buckets as f64;
    if width <= 0.0 {
        return points.to_vec();
    }
    let bucket_of = |t: f64| (((t - t0) / width) as usize).min(buckets - 1);
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let b = bucket_of(points[i].0);
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && bucket_of(points[j].0) == b {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = vec![i, lo, hi, j - 1];
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.into_iter().map(|k| points[k]));
        i = j;
    }
    out
}

/// Draws the window plot of the trace `table` into `out`.
pub fn plot_window(
    table: Table,
    out: &Path,
    size: Size,
    opts: &WindowOptions,
) -> Result<Summary, PlotError> {
    crate::render::Format::of(out)?;
    let mut table = table;
    table.retain(&opts.filters)?;
    let runs = window_runs(&table, opts)?;
    let plot = WindowPlot {
        runs,
        title: opts
            .title
            .clone()
            .unwrap_or_else(|| "Poll window over time".to_string()),
        width: size.width,
    };
    render(&plot, out, size)?;
    Ok(Summary {
        rows: table.len(),
        series: plot.runs.len(),
        outside_band: 0,
        notes: Vec::new(),
    })
}

struct WindowPlot {
    runs: Vec<Run>,
    title: String,
    width: u32,
}

/// The time unit that keeps tick labels short for a span of `span_ns`.
fn time_unit(span_ns: u64) -> (&'static str, f64) {
    if span_ns >= 10_000_000 {
        ("ms", 1e6)
    } else if span_ns >= 10_000 {
        ("µs", 1e3)
    } else {
        ("ns", 1.0)
    }
}

impl Draw for WindowPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let axes = self.axes();
        let body = root.titled(&self.title, style::font(style::TITLE_SIZE))?;
        let panels = body.split_evenly((self.runs.len(), 1));
        for (i, (run, area)) in self.runs.iter().zip(&panels).enumerate() {
            self.panel(area, i, run, &axes)?;
        }
        Ok(())
    }
}

/// The axes every panel shares: time from `x0` to `x1` in `unit` (`div`
/// ns each), the window from 0 to `y_top` ns.
struct Axes {
    x0: f64,
    x1: f64,
    div: f64,
    unit: &'static str,
    y_top: f64,
}

impl WindowPlot {
    fn axes(&self) -> Axes {
        let t_min = self
            .runs
            .iter()
            .filter_map(|r| r.window.first())
            .map(|p| p.0)
            .min();
        let t_max = self
            .runs
            .iter()
            .filter_map(|r| r.window.last())
            .map(|p| p.0)
            .max();
        let (t_min, t_max) = (t_min.unwrap_or(0), t_max.unwrap_or(0));
        let (unit, div) = time_unit(t_max - t_min);
        let x0 = t_min as f64 / div;
        let x1 = (t_max as f64 / div).max(x0 + 1.0 / div);
        let y_top = self
            .runs
            .iter()
            .flat_map(|r| r.window.iter().chain(&r.poll_max).map(|p| p.1))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.12;
        Axes {
            x0,
            x1,
            div,
            unit,
            y_top,
        }
    }

    /// Run `i`'s panel: its window as steps, its poll-max-ns dashed, the
    /// time axis described under the last panel only.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        i: usize,
        run: &Run,
        axes: &Axes,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let last = i + 1 == self.runs.len();
        let color = style::series_color(i);
        let buckets = self.width as usize;
        let mut chart = ChartBuilder::on(area)
            .caption(run.name(), style::font(style::AXIS_DESC_SIZE - 2.0))
            .margin(12)
            .x_label_area_size(if last { 55 } else { 30 })
            .y_label_area_size(90)
            .build_cartesian_2d(axes.x0..axes.x1, 0.0..axes.y_top)?;
        let mut mesh = chart.configure_mesh();
        mesh.y_desc("window (ns)")
            .axis_desc_style(style::font(style::LABEL_SIZE + 1.0))
            .label_style(style::font(style::LABEL_SIZE))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .y_labels(5)
            .light_line_style(RGBColor(238, 238, 238));
        let x_desc = format!("time since the start of the run ({})", axes.unit);
        if last {
            mesh.x_desc(x_desc.as_str());
        }
        mesh.draw()?;

        let to_xy = |p: &(u64, u64)| (p.0 as f64 / axes.div, p.1 as f64);
        let window: Vec<(f64, f64)> = run.window.iter().map(to_xy).collect();
        let line = distinct_pixels(&chart, &decimate(&steps(&window), buckets));
        // plotters draws wider lines as polygons whose joins at very sharp
        // angles spike far out of the plot; a dense line is drawn one pixel
        // wide, which has no joins.
        let stroke = if line.len() > buckets / 4 { 1 } else { 2 };
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(stroke)))?
            .label("poll window")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if !run.poll_max.is_empty() {
            let mut max_line: Vec<(f64, f64)> = run.poll_max.iter().map(to_xy).collect();
            // Extend the bound to the last window point so it spans the panel.
            if let (Some(&(_, m)), Some(&(t, _))) = (max_line.last(), window.last()) {
                max_line.push((t, m));
            }
            chart
                .draw_series(DashedLineSeries::new(
                    distinct_pixels(&chart, &decimate(&steps(&max_line), buckets)),
                    8,
                    5,
                    ShapeStyle::from(&RED).stroke_width(2),
                ))?
                .label("poll-max-ns")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(style::font(style::LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_each_value_until_the_next_point() {
        let s = steps(&[(0.0, 1.0), (2.0, 5.0), (3.0, 0.0)]);
        assert_eq!(
            s,
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 5.0), (3.0, 5.0), (3.0, 0.0)]
        );
    }

    #[test]
    fn decimation_keeps_extremes_of_each_slice() {
        // 1000 points, value 0 except a single spike of 99 at t=500 and a
        // dip to -7 at t=10: both must survive thinning to 10 slices.
        let mut pts: Vec<(f64, f64)> = (0..1000).map(|t| (t as f64, 0.0)).collect();
        pts[500].1 = 99.0;
        pts[10].1 = -7.0;
        let d = decimate(&pts, 10);
        assert!(d.len() <= 40, "{}", d.len());
        assert!(d.contains(&(500.0, 99.0)));
        assert!(d.contains(&(10.0, -7.0)));
        assert_eq!(d.first(), Some(&(0.0, 0.0)));
        assert_eq!(d.last(), Some(&(999.0, 0.0)));
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0), "time order kept");
    }

    #[test]
    fn short_lines_are_not_thinned() {
        let pts = vec![(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)];
        assert_eq!(decimate(&pts, 1), pts);
    }

    #[test]
    fn runs_are_split_and_the_time_range_applies() {
        let t = Table::from_reader(
            Path::new("trace.csv"),
            "policy,params,iothread,time_ns,window_ns,poll_max_ns
qemu,poll-max-ns=100,0,30,8,100
qemu,poll-max-ns=100,0,10,4,100
weighted,poll-weight=2,0,10,4,100
qemu,poll-max-ns=100,1,10,0,100
qemu,poll-max-ns=100,0,99,16,100
"
            .as_bytes(),
        )
        .unwrap();
        let opts = WindowOptions {
            start_ns: Some(5),
            span_ns: Some(50),
            ..WindowOptions::default()
        };
        let runs = window_runs(&t, &opts).unwrap();
        assert_eq!(runs.len(), 3);
        // Sorted, t=99 cut, the last window held to the end of the range.
        assert_eq!(runs[0].window, vec![(10, 4), (30, 8), (55, 8)]);
        assert_eq!(runs[0].poll_max, vec![(10, 100), (30, 100), (55, 100)]);
        assert_eq!(runs[1].policy, "weighted");
        assert_eq!(runs[1].window, vec![(10, 4)], "nothing after: not extended");
        assert_eq!(runs[2].iothread, "1");
    }

    #[test]
    fn a_zoom_starts_with_the_window_in_force() {
        let t = Table::from_reader(
            Path::new("trace.csv"),
            "policy,time_ns,window_ns\nqemu,0,4000\nqemu,100,8000\nqemu,300,0\nqemu,900,4000\n"
                .as_bytes(),
        )
        .unwrap();
        let opts = WindowOptions {
            start_ns: Some(200),
            span_ns: Some(400),
            ..WindowOptions::default()
        };
        let runs = window_runs(&t, &opts).unwrap();
        // 8000 was set at 100 and holds at 200; 0 from 300 holds to 600.
        assert_eq!(runs[0].window, vec![(200, 8000), (300, 0), (600, 0)]);
        assert!(runs[0].poll_max.is_empty());
        // A range with no change in it still shows the window in force.
        let opts = WindowOptions {
            start_ns: Some(400),
            span_ns: Some(100),
            ..WindowOptions::default()
        };
        let runs = window_runs(&t, &opts).unwrap();
        assert_eq!(runs[0].window, vec![(400, 0), (500, 0)]);
        // Past the last row, or no span at all: nothing to draw.
        for (start, span, says) in [
            (901_000, None, "ends at 0.9 us; --start-us 901 is past it"),
            (0, Some(0), "--span-us 0"),
        ] {
            let opts = WindowOptions {
                start_ns: Some(start),
                span_ns: span,
                ..WindowOptions::default()
            };
            let e = window_runs(&t, &opts).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
