//! `plot pareto`: IOThread CPU against IOPS, one series per policy, each
//! policy's non-dominated points joined as its frontier, the simulator's
//! clairvoyant policies dashed (reference curves, not bounds), the baseline
//! marked.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use pollwise_stats::{mean_of, ratio};

use crate::baseline::{BaselineSpec, NoBaseline};
use crate::frontier::{frontier, Point};
use crate::render::{render, Draw, Size};
use crate::spots::{spots, Spot, SPOT_FRACTION};
use crate::style::{self, distinct_pixels, padded, series_color, tick, varying_params, Chart};
use crate::table::{Col, Filter, Table};
use crate::{PlotError, Summary};

/// The columns that name a workload: rows agreeing on the ones present are
/// compared with the baseline row of that workload.
pub const WORKLOAD_COLUMNS: [&str; 5] = ["rw", "bs", "numjobs", "iodepth", "iothreads"];

#[derive(Debug, Clone)]
pub struct ParetoOptions {
    /// The baseline: a policy name, optionally followed by `name=value`
    /// parameters its rows must have, e.g. `qemu poll-max-ns=32768`;
    /// parameters not named are the policy's defaults.
    pub baseline: String,
    /// Plot CPU and IOPS as % of the baseline of the same workload.
    pub normalize: bool,
    pub filters: Vec<Filter>,
    pub title: Option<String>,
}

impl Default for ParetoOptions {
    fn default() -> Self {
        ParetoOptions {
            baseline: "qemu".to_string(),
            normalize: false,
            filters: Vec::new(),
            title: None,
        }
    }
}

/// One policy configuration: the mean of its rows (seeds, workloads).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub policy: String,
    pub params: String,
    pub point: Point,
    pub runs: usize,
}

/// What the pareto plot shows, computed from the table before drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoData {
    pub configs: Vec<Config>,
    /// The baseline: one configuration (its index in `configs`, its own
    /// rows), or why there is none.
    pub baseline: Result<usize, NoBaseline>,
    pub normalized: bool,
    pub rows: usize,
    pub preset: Option<String>,
    /// The axes' ranges (CPU, then IOPS), padded so markers stay inside.
    pub ranges: ((f64, f64), (f64, f64)),
    /// The configurations grouped by where they are drawn: each
    /// configuration is in exactly one spot.
    pub spots: Vec<Spot>,
}

impl ParetoData {
    /// The baseline's point: its configuration's.
    pub fn baseline_point(&self) -> Option<Point> {
        self.baseline.as_ref().ok().map(|&i| self.configs[i].point)
    }

    /// Configuration `i` as the key names it: its policy and the parameters
    /// that vary between that policy's configurations (all of them when it
    /// has one).
    pub fn setting(&self, i: usize) -> String {
        let c = &self.configs[i];
        let same: Vec<&str> = self
            .configs
            .iter()
            .filter(|o| o.policy == c.policy)
            .map(|o| o.params.as_str())
            .collect();
        let varying = varying_params(&same);
        let mut words = vec![c.policy.clone()];
        words.extend(
            crate::table::param_pairs(&c.params)
                .iter()
                .filter(|(n, _)| same.len() == 1 || varying.iter().any(|v| v == n))
                .map(|(n, v)| format!("{}={v}", short(n))),
        );
        if self.baseline == Ok(i) {
            words.push("(baseline)".to_string());
        }
        words.join(" ")
    }

    /// The key beside the plot: a line per spot of one setting (`3  qemu
    /// max-ns=0`), and for a spot of several a line with its count (`1
    /// x8:`) and an indented line per setting. Each line names the
    /// configuration whose colour it takes, if one.
    pub fn key(&self) -> Vec<(String, Option<usize>)> {
        let mut lines = Vec::new();
        for (n, spot) in self.spots.iter().enumerate() {
            match spot.configs[..] {
                [one] => lines.push((format!("{}  {}", n + 1, self.setting(one)), Some(one))),
                _ => {
                    lines.push((format!("{}  x{}:", n + 1, spot.configs.len()), None));
                    for &i in &spot.configs {
                        lines.push((format!("    {}", self.setting(i)), Some(i)));
                    }
                }
            }
        }
        lines
    }
}

/// The points of one group, averaged with `pollwise_stats::mean_of`.
#[derive(Default, Clone)]
struct Group(Vec<Point>);

impl Group {
    fn add(&mut self, p: Point) {
        self.0.push(p);
    }
    fn point(&self) -> Point {
        Point {
            cpu: mean_of(self.0.iter().map(|p| p.cpu)),
            iops: mean_of(self.0.iter().map(|p| p.iops)),
        }
    }
}

/// One row of the table: policy, params, its point, and its index.
type RawRow<'a> = (&'a str, &'a str, Point, usize);

/// Groups the table's rows into configurations, finds the baseline
/// configuration and the spots.
pub fn pareto_data(table: &Table, opts: &ParetoOptions) -> Result<ParetoData, PlotError> {
    let policy_col = table.col("policy")?;
    let cpu_col = table.col("iothread_cpu_pct")?;
    let iops_col = table.col("iops")?;
    let params_col = table.opt_col("params");
    let spec = BaselineSpec::parse(&opts.baseline)?;
    let mut raw = Vec::with_capacity(table.len());
    for r in 0..table.len() {
        let policy = table.text(r, policy_col);
        let params = params_col.map_or("", |c| table.text(r, c));
        let point = Point {
            cpu: table.num(r, cpu_col)?,
            iops: table.num(r, iops_col)?,
        };
        raw.push((policy, params, point, r));
    }
    let (names, config_of) = config_index(&raw);
    let baseline = spec.choose(&names);
    if opts.normalize {
        let base = baseline.clone().map_err(|e| match e {
            NoBaseline::Absent { .. } => PlotError::Invalid(format!(
                "--normalize baseline: no row of {} is the baseline '{}' (policies present: {})",
                table.path().display(),
                opts.baseline,
                policies(&raw).join(", ")
            )),
            e => PlotError::Invalid(format!("--normalize baseline: {e}")),
        })?;
        normalize(&mut raw, &config_of, base, &Workloads::of(table), opts)?;
    }
    let configs = group_configs(&raw, &names, &config_of);
    let points: Vec<Point> = configs.iter().map(|c| c.point).collect();
    let ranges = ranges(&points);
    let tol = (
        (ranges.0 .1 - ranges.0 .0) * SPOT_FRACTION,
        (ranges.1 .1 - ranges.1 .0) * SPOT_FRACTION,
    );
    Ok(ParetoData {
        spots: spots(&points, tol),
        configs,
        baseline,
        normalized: opts.normalize,
        rows: table.len(),
        preset: single_preset(table),
        ranges,
    })
}

/// The distinct (policy, params) in the order first seen, and each row's
/// index among them.
fn config_index<'a>(raw: &[RawRow<'a>]) -> (Vec<(&'a str, &'a str)>, Vec<usize>) {
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut names = Vec::new();
    let config_of = raw
        .iter()
        .map(|&(policy, params, ..)| {
            *index.entry((policy, params)).or_insert_with(|| {
                names.push((policy, params));
                names.len() - 1
            })
        })
        .collect();
    (names, config_of)
}

/// The axes' ranges over `points`, padded by 8% of their span.
fn ranges(points: &[Point]) -> ((f64, f64), (f64, f64)) {
    let xs: Vec<f64> = points.iter().map(|p| p.cpu).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.iops).collect();
    (
        padded(min(&xs), max(&xs), 0.08),
        padded(min(&ys), max(&ys), 0.08),
    )
}

/// The workload columns a table has, to tell rows of different workloads
/// apart.
struct Workloads<'a> {
    table: &'a Table,
    cols: Vec<(&'static str, Col)>,
}

impl<'a> Workloads<'a> {
    fn of(table: &'a Table) -> Workloads<'a> {
        Workloads {
            table,
            cols: WORKLOAD_COLUMNS
                .iter()
                .filter_map(|&n| table.opt_col(n).map(|c| (n, c)))
                .collect(),
        }
    }

    /// Row `r`'s workload as `name=value` pairs.
    fn key(&self, r: usize) -> String {
        self.cols
            .iter()
            .map(|(n, c)| format!("{n}={}", self.table.text(r, *c)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Turns every point into percentages of its workload's baseline: the
/// baseline configuration's rows of that workload (seeds averaged).
fn normalize(
    raw: &mut [RawRow<'_>],
    config_of: &[usize],
    base: usize,
    workloads: &Workloads<'_>,
    opts: &ParetoOptions,
) -> Result<(), PlotError> {
    let mut base_by_workload: HashMap<String, Group> = HashMap::new();
    for (&(.., point, r), &c) in raw.iter().zip(config_of) {
        if c == base {
            base_by_workload
                .entry(workloads.key(r))
                .or_default()
                .add(point);
        }
    }
    for (_, _, point, r) in raw.iter_mut() {
        let key = workloads.key(*r);
        let base = base_by_workload.get(&key).ok_or_else(|| {
            PlotError::Invalid(format!(
                "--normalize baseline: no baseline '{}' row for the workload {key}",
                opts.baseline
            ))
        })?;
        let base = base.point();
        // The one zero-baseline rule (pollwise_stats::ratio): equal zeros
        // are 100%, anything over a zero baseline is unbounded.
        let (cpu, iops) = (ratio(base.cpu, point.cpu), ratio(base.iops, point.iops));
        if !cpu.is_finite() || !iops.is_finite() {
            return Err(PlotError::Invalid(format!(
                "--normalize baseline: the baseline of the workload {key} has CPU {} % and \
                 {} IOPS, and a row of it has CPU {} % and {} IOPS: a value above a zero \
                 baseline has no percentage; normalize against a baseline with CPU and IOPS \
                 above 0",
                base.cpu, base.iops, point.cpu, point.iops
            )));
        }
        point.cpu = 100.0 * cpu;
        point.iops = 100.0 * iops;
    }
    Ok(())
}

/// Each configuration's mean point over its rows, in the order first seen.
fn group_configs(raw: &[RawRow<'_>], names: &[(&str, &str)], config_of: &[usize]) -> Vec<Config> {
    let mut groups = vec![Group::default(); names.len()];
    for (&(.., point, _), &c) in raw.iter().zip(config_of) {
        groups[c].add(point);
    }
    names
        .iter()
        .zip(groups)
        .map(|(&(policy, params), g)| Config {
            policy: policy.to_string(),
            params: params.to_string(),
            point: g.point(),
            runs: g.0.len(),
        })
        .collect()
}

/// The preset every row names, if they all name the same one.
fn single_preset(table: &Table) -> Option<String> {
    table.opt_col("preset").and_then(|c| {
        let first = table.text(0, c);
        (0..table.len())
            .all(|r| table.text(r, c) == first)
            .then(|| first.to_string())
    })
}

fn policies(raw: &[RawRow<'_>]) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    raw.iter()
        .filter(|(p, ..)| seen.insert(p))
        .map(|(p, ..)| p.to_string())
        .collect()
}

/// Draws the pareto plot of `table` into `out`.
pub fn plot_pareto(
    table: Table,
    out: &Path,
    size: Size,
    opts: &ParetoOptions,
) -> Result<Summary, PlotError> {
    crate::render::Format::of(out)?;
    let mut table = crate::unpair::results_view(table)?;
    table.retain(&opts.filters)?;
    let data = pareto_data(&table, opts)?;
    let key = data.key();
    // The key's lines that fit beside the plot; when some do not, the last
    // line says how many settings are left out, and so does the summary.
    let fit = key_lines_fitting(size.height);
    let listed = if key.len() > fit { fit - 1 } else { key.len() };
    let plot = ParetoPlot {
        title: opts.title.clone(),
        key: key[..listed].to_vec(),
        unlisted: key[listed..].iter().filter(|l| l.1.is_some()).count(),
        data,
    };
    render(&plot, out, size)?;
    let mut notes = Vec::new();
    if let Err(e) = &plot.data.baseline {
        notes.push(format!("no baseline marked: {e}"));
    }
    if plot.unlisted > 0 {
        notes.push(format!(
            "{} of {} settings did not fit the key beside the plot: narrow it with --where \
             or draw it taller with --height",
            plot.unlisted,
            plot.data.configs.len()
        ));
    }
    Ok(Summary {
        rows: plot.data.rows,
        series: plot.policy_names().len(),
        outside_band: 0,
        notes,
    })
}

/// The key's first line.
const KEY_TITLE: &str = "Settings by spot";

/// Key lines are this far apart, in pixels.
const KEY_LINE_PX: u32 = 20;

/// How many key lines fit in a picture `height` pixels tall (under the
/// title, above the bottom margin), at least 2.
fn key_lines_fitting(height: u32) -> usize {
    (height.saturating_sub(120) / KEY_LINE_PX).max(2) as usize
}

/// The key's width: its widest line, at most 40% of the picture.
fn key_width(key: &[(String, Option<usize>)], width: u32) -> u32 {
    let font = style::font(style::POINT_LABEL_SIZE);
    let widest = key
        .iter()
        .chain(std::iter::once(&(KEY_TITLE.to_string(), None)))
        .map(|(t, _)| font.box_size(t).map_or(0, |(w, _)| w))
        .max()
        .unwrap_or(0);
    (widest + 30).min(width * 2 / 5)
}

struct ParetoPlot {
    data: ParetoData,
    title: Option<String>,
    /// The key lines drawn, and how many settings did not fit.
    key: Vec<(String, Option<usize>)>,
    unlisted: usize,
}

/// Parameter names print without QEMU's common prefix, to keep labels short.
fn short(name: &str) -> &str {
    name.strip_prefix("poll-")
        .or_else(|| name.strip_prefix("oracle-"))
        .unwrap_or(name)
}

/// The simulator's clairvoyant policies (by current or old name).
fn is_oracle(policy: &str) -> bool {
    matches!(policy, "threshold-oracle" | "clairvoyant" | "oracle")
}

impl ParetoPlot {
    fn policy_names(&self) -> Vec<&str> {
        let mut seen: HashSet<&str> = HashSet::new();
        self.data
            .configs
            .iter()
            .map(|c| c.policy.as_str())
            .filter(|p| seen.insert(p))
            .collect()
    }

    /// Configuration `i`'s colour: its policy's.
    fn color(&self, i: usize) -> RGBColor {
        let policy = self.data.configs[i].policy.as_str();
        if is_oracle(policy) {
            return BLACK;
        }
        let k = self.policy_names().iter().position(|p| *p == policy);
        series_color(k.unwrap_or(0))
    }

    fn title(&self) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        let mut t = if self.data.normalized {
            "IOPS against IOThread CPU, relative to the baseline".to_string()
        } else {
            "IOPS against IOThread CPU".to_string()
        };
        if let Some(p) = &self.data.preset {
            t.push_str(&format!(" ({p})"));
        }
        t
    }
}

impl Draw for ParetoPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let d = &self.data;
        let root = root.margin(10, 0, 0, 0);
        let root = root.titled(&self.title(), style::font(style::TITLE_SIZE))?;
        let (w, _) = root.dim_in_pixel();
        // Measured here, where the embedded font is registered.
        let key_w = key_width(&self.key, w);
        let (plot_area, key_area) = root.split_horizontally(w.saturating_sub(key_w));
        let ((x0, x1), (y0, y1)) = d.ranges;
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let (x_desc, y_desc) = if d.normalized {
            ("IOThread CPU (% of baseline)", "IOPS (% of baseline)")
        } else {
            ("IOThread CPU (% of one core)", "IOPS")
        };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .axis_desc_style(style::font(style::AXIS_DESC_SIZE))
            .label_style(style::font(style::LABEL_SIZE))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, policy) in self.policy_names().into_iter().enumerate() {
            self.draw_policy(&mut chart, i, policy)?;
        }
        self.draw_baseline(&mut chart)?;
        place_labels(&mut chart, self.spot_labels())?;
        let xs: Vec<f64> = d.configs.iter().map(|c| c.point.cpu).collect();
        let ys: Vec<f64> = d.configs.iter().map(|c| c.point.iops).collect();
        chart
            .configure_series_labels()
            .position(legend_corner(&xs, &ys, (x0, x1), (y0, y1)))
            .label_font(style::font(style::LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        self.draw_key(&key_area)
    }
}

impl ParetoPlot {
    /// One policy: its frontier as a line and a marker per configuration.
    fn draw_policy<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        i: usize,
        policy: &str,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let oracle = is_oracle(policy);
        let color: RGBColor = if oracle { BLACK } else { series_color(i) };
        let configs: Vec<&Config> = self
            .data
            .configs
            .iter()
            .filter(|c| c.policy == policy)
            .collect();
        let points: Vec<Point> = configs.iter().map(|c| c.point).collect();
        let line: Vec<(f64, f64)> = frontier(&points)
            .iter()
            .map(|&k| (points[k].cpu, points[k].iops))
            .collect();
        draw_frontier(chart, policy, oracle, color, &line)?;
        let anno = chart.draw_series(
            configs
                .iter()
                .map(|c| Circle::new((c.point.cpu, c.point.iops), 6, color.filled())),
        )?;
        if !oracle {
            anno.label(policy.to_string())
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
        }
        Ok(())
    }

    /// Each spot's number, with its count when several settings share it
    /// (`2 x8`), in its policy's colour (black when policies share it).
    fn spot_labels(&self) -> Vec<PointLabel> {
        let d = &self.data;
        d.spots
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let first = &d.configs[s.configs[0]].policy;
                let one_policy = s.configs.iter().all(|&i| d.configs[i].policy == *first);
                PointLabel {
                    at: (s.at.cpu, s.at.iops),
                    text: match s.configs.len() {
                        1 => format!("{}", n + 1),
                        k => format!("{} x{k}", n + 1),
                    },
                    color: if one_policy {
                        self.color(s.configs[0])
                    } else {
                        BLACK
                    },
                }
            })
            .collect()
    }

    /// The baseline: a circled cross on its configuration's point, in the
    /// legend with its parameters; without one, the legend says why.
    fn draw_baseline<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let d = &self.data;
        match d.baseline {
            Ok(i) => {
                let c = &d.configs[i];
                let run = format!("{} {}", c.policy, c.params);
                let label = format!("baseline ({})", run.trim_end());
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((c.point.cpu, c.point.iops))
                            + Circle::new((0, 0), 13, BLACK.stroke_width(3))
                            + Cross::new((0, 0), 8, BLACK.stroke_width(2)),
                    ))?
                    .label(label)
                    .legend(|(x, y)| Circle::new((x + 10, y), 7, BLACK.stroke_width(2)));
            }
            Err(ref e) => {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                    .label(e.short())
                    .legend(|(x, y)| Cross::new((x + 10, y), 6, RED.stroke_width(2)));
            }
        }
        Ok(())
    }

    /// The key: every spot's number and settings, down the right side.
    fn draw_key<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let size = style::POINT_LABEL_SIZE;
        let mut y = 30;
        let mut line = |text: &str, color: RGBColor| -> Result<(), PlotError> {
            area.draw(&Text::new(
                text.to_string(),
                (8, y),
                style::text(size).color(&color),
            ))?;
            y += KEY_LINE_PX as i32;
            Ok(())
        };
        line(KEY_TITLE, BLACK)?;
        for (text, config) in &self.key {
            line(text, config.map_or(BLACK, |i| self.color(i)))?;
        }
        if self.unlisted > 0 {
            line(&format!("... {} more settings", self.unlisted), BLACK)?;
        }
        Ok(())
    }
}

/// A policy's frontier: dashed black for a clairvoyant policy (in the
/// legend), a line in its colour otherwise.
fn draw_frontier<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    policy: &str,
    is_oracle: bool,
    color: RGBColor,
    line: &[(f64, f64)],
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let line = distinct_pixels(chart, line);
    if is_oracle {
        chart
            .draw_series(DashedLineSeries::new(
                line,
                10,
                6,
                ShapeStyle::from(&BLACK).stroke_width(3),
            ))?
            .label(format!("{policy} (knows the future; not a bound)"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
    } else if line.len() > 1 {
        chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
    }
    Ok(())
}

/// Draws each label beside its point, where it stays inside the plot and
/// overlaps no label placed before it if there is such a place, else at
/// the first place inside the plot: a spot's number is never left out.
fn place_labels<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    labels: Vec<PointLabel>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let mut placed: Vec<Rect> = Vec::new();
    let size = style::POINT_LABEL_SIZE;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    for l in &labels {
        let (w, h) = style::font(size).box_size(&l.text).unwrap_or((0, 0));
        let (w, h) = (w as i32, h as i32);
        let (px, py) = chart.backend_coord(&l.at);
        let rect = |(dx, dy): (i32, i32)| Rect {
            x0: px + dx,
            y0: py + dy,
            x1: px + dx + w,
            y1: py + dy + h,
        };
        let inside =
            |r: &Rect| r.x0 >= xr.start && r.x1 <= xr.end && r.y0 >= yr.start && r.y1 <= yr.end;
        let spots = [(9, -h - 4), (9, 4), (-9 - w, -h - 4), (-9 - w, 4)];
        let free = spots.into_iter().find(|&o| {
            let r = rect(o);
            inside(&r) && placed.iter().all(|p| !p.overlaps(&r))
        });
        let (dx, dy) = free
            .or_else(|| spots.into_iter().find(|&o| inside(&rect(o))))
            .unwrap_or(spots[0]);
        placed.push(rect((dx, dy)));
        let font = style::text(size).color(&l.color);
        chart.draw_series(std::iter::once(
            EmptyElement::at(l.at) + Text::new(l.text.clone(), (dx, dy), font),
        ))?;
    }
    Ok(())
}

/// The corner of the plot with the fewest points, for the legend (lower
/// right, where neither the cheap nor the fast settings sit, on a tie).
fn legend_corner(xs: &[f64], ys: &[f64], xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
        (SeriesLabelPosition::UpperRight, true, true),
    ];
    let rel = |v: f64, (lo, hi): (f64, f64)| (v - lo) / (hi - lo);
    let count = |right: bool, top: bool| {
        xs.iter()
            .zip(ys)
            .filter(|&(&x, &y)| {
                let (fx, fy) = (rel(x, xr), rel(y, yr));
                // The legend box covers about this much of the plot.
                let in_x = if right { fx > 0.55 } else { fx < 0.45 };
                let in_y = if top { fy > 0.7 } else { fy < 0.3 };
                in_x && in_y
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, top)| count(right, top))
        .map_or(SeriesLabelPosition::LowerRight, |c| c.0)
}

struct PointLabel {
    at: (f64, f64),
    text: String,
    color: RGBColor,
}

/// A label's box in pixels.
struct Rect {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        Table::from_reader(Path::new("t.csv"), text.as_bytes()).unwrap()
    }

    const ROWS: &str = "policy,params,rw,bs,numjobs,iothreads,iops,iothread_cpu_pct
qemu,poll-max-ns=32768,randread,8192,1,1,1000,80
weighted,poll-weight=2,randread,8192,1,1,900,60
qemu,poll-max-ns=32768,randread,8192,4,1,2000,50
weighted,poll-weight=2,randread,8192,4,1,2100,40
";

    #[test]
    fn configurations_are_means_over_workloads() {
        let d = pareto_data(&table(ROWS), &ParetoOptions::default()).unwrap();
        assert_eq!(d.configs.len(), 2);
        // qemu: (80+50)/2 = 65 % CPU, (1000+2000)/2 = 1500 IOPS.
        assert_eq!(
            d.configs[0].point,
            Point {
                cpu: 65.0,
                iops: 1500.0
            }
        );
        assert_eq!(d.configs[0].runs, 2);
        assert_eq!(
            d.configs[1].point,
            Point {
                cpu: 50.0,
                iops: 1500.0
            }
        );
        assert_eq!(d.baseline, Ok(0));
        assert_eq!(
            d.baseline_point(),
            Some(Point {
                cpu: 65.0,
                iops: 1500.0
            })
        );
    }

    #[test]
    fn normalizing_divides_by_the_same_workloads_baseline() {
        let opts = ParetoOptions {
            normalize: true,
            ..ParetoOptions::default()
        };
        let d = pareto_data(&table(ROWS), &opts).unwrap();
        // weighted: CPU 60/80 = 75 %, 40/50 = 80 % -> 77.5 %;
        // IOPS 900/1000 = 90 %, 2100/2000 = 105 % -> 97.5 %.
        let w = d.configs[1].point;
        assert!((w.cpu - 77.5).abs() < 1e-9, "{w:?}");
        assert!((w.iops - 97.5).abs() < 1e-9, "{w:?}");
        assert_eq!(
            d.baseline_point(),
            Some(Point {
                cpu: 100.0,
                iops: 100.0
            })
        );
    }

    #[test]
    fn the_baseline_is_one_settings_rows_never_a_mean_of_settings() {
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct
qemu,poll-max-ns=1000,randread,1000,40
qemu,poll-max-ns=32768,randread,3000,60
qemu,poll-max-ns=32768,randread,3400,64
fixed,poll-ns=5,randread,1000,31
",
        );
        let opts = ParetoOptions {
            normalize: true,
            ..ParetoOptions::default()
        };
        let d = pareto_data(&t, &opts).unwrap();
        // The baseline is qemu at its default poll-max-ns, its two rows
        // (seeds) averaged: CPU 62, IOPS 3200; fixed: 50 %, 31.25 %.
        assert_eq!(d.baseline, Ok(1));
        assert_eq!(
            d.configs[2].point,
            Point {
                cpu: 50.0,
                iops: 31.25
            }
        );
        // Two qemu settings, neither at the defaults: no baseline, and
        // normalizing says how to name one.
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct
qemu,poll-max-ns=1000,randread,1000,40
qemu,poll-max-ns=2000,randread,3000,60
",
        );
        let d = pareto_data(&t, &ParetoOptions::default()).unwrap();
        assert_eq!(d.baseline_point(), None);
        let e = pareto_data(&t, &opts).unwrap_err().to_string();
        assert!(
            e.contains("matches 2 settings") && e.contains("--baseline 'qemu poll-max-ns=1000'"),
            "{e}"
        );
    }

    /// Ten qemu settings of a sweep, eight of which land on one point
    /// (every window above the device's latency polls alike), two seeds each.
    fn sweep_of_ten() -> Table {
        let mut csv = String::from("policy,params,seed,iops,iothread_cpu_pct\n");
        for max_ns in [0, 4000, 16000, 32768, 65536] {
            for shrink in [0, 2] {
                for seed in [1, 2] {
                    let (iops, cpu) = match max_ns {
                        0 => (167_900 + seed, 83.0),
                        _ => (193_500 + seed + shrink, 100.0),
                    };
                    csv.push_str(&format!(
                        "qemu,poll-max-ns={max_ns} poll-grow=0 poll-shrink={shrink},{seed},{iops},{cpu}\n"
                    ));
                }
            }
        }
        table(&csv)
    }

    #[test]
    fn coincident_settings_are_one_spot_and_the_key_names_each() {
        let d = pareto_data(&sweep_of_ten(), &ParetoOptions::default()).unwrap();
        assert_eq!(d.configs.len(), 10);
        let sizes: Vec<usize> = d.spots.iter().map(|s| s.configs.len()).collect();
        assert_eq!(sizes, vec![2, 8]);
        let key = d.key();
        assert_eq!(key[0].0, "1  x2:");
        assert_eq!(key[3].0, "2  x8:");
        // Every setting has its own line in the key, once.
        for max_ns in [0, 4000, 16000, 32768, 65536] {
            for shrink in [0, 2] {
                let name = format!("qemu max-ns={max_ns} shrink={shrink}");
                let lines = key.iter().filter(|(t, _)| {
                    t.trim_start() == name || t.trim_start() == format!("{name} (baseline)")
                });
                assert_eq!(lines.count(), 1, "{name} in {key:?}");
            }
        }
        assert_eq!(key.iter().filter(|l| l.1.is_some()).count(), 10);
    }

    #[test]
    fn the_baseline_marker_is_the_baseline_runs_own_point() {
        let d = pareto_data(&sweep_of_ten(), &ParetoOptions::default()).unwrap();
        let b = d.baseline.clone().unwrap();
        assert_eq!(
            d.configs[b].params,
            "poll-max-ns=32768 poll-grow=0 poll-shrink=0"
        );
        // The mean of its two seeds' rows: 193501 and 193502 IOPS at 100 %.
        assert_eq!(
            d.baseline_point(),
            Some(Point {
                cpu: 100.0,
                iops: 193_501.5
            })
        );
        // A baseline no row is: no point, and the reason.
        let opts = ParetoOptions {
            baseline: "weighted".to_string(),
            ..ParetoOptions::default()
        };
        let d = pareto_data(&sweep_of_ten(), &opts).unwrap();
        assert_eq!(d.baseline_point(), None);
        assert_eq!(
            d.baseline.unwrap_err().short(),
            "no baseline: no 'weighted' row"
        );
    }

    #[test]
    fn baseline_parameters_narrow_the_baseline_rows() {
        let t = table(
            "policy,params,iops,iothread_cpu_pct
qemu,poll-max-ns=1000,1000,40
qemu,poll-max-ns=2000,3000,60
",
        );
        let opts = ParetoOptions {
            baseline: "qemu poll-max-ns=2000".to_string(),
            ..ParetoOptions::default()
        };
        let d = pareto_data(&t, &opts).unwrap();
        assert_eq!(
            d.baseline_point(),
            Some(Point {
                cpu: 60.0,
                iops: 3000.0
            })
        );
    }

    #[test]
    fn a_zero_baseline_follows_the_one_zero_rule() {
        let opts = ParetoOptions {
            normalize: true,
            ..ParetoOptions::default()
        };
        // Zero CPU against a zero baseline is no change: 100%.
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct\nqemu,,randread,1000,0\noff,,randread,500,0\n",
        );
        let d = pareto_data(&t, &opts).unwrap();
        let off = d.configs.iter().find(|c| c.policy == "off").unwrap();
        assert_eq!((off.point.cpu, off.point.iops), (100.0, 50.0));
        // Any CPU over a zero baseline has no percentage: an error.
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct\nqemu,,randread,1000,0\noff,,randread,500,3\n",
        );
        let e = pareto_data(&t, &opts).unwrap_err().to_string();
        assert!(e.contains("zero baseline") && e.contains("CPU 3 %"), "{e}");
    }

    #[test]
    fn normalizing_without_a_baseline_row_is_a_clear_error() {
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct
qemu,,randread,1000,40
weighted,,randwrite,1000,40
",
        );
        let opts = ParetoOptions {
            normalize: true,
            ..ParetoOptions::default()
        };
        let e = pareto_data(&t, &opts).unwrap_err().to_string();
        assert!(e.contains("rw=randwrite"), "{e}");
        let opts = ParetoOptions {
            normalize: true,
            baseline: "off".to_string(),
            ..ParetoOptions::default()
        };
        let e = pareto_data(&t, &opts).unwrap_err().to_string();
        assert!(e.contains("policies present: qemu, weighted"), "{e}");
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        let r = (0.0, 10.0);
        // Points in the lower right: the upper left is free (and first of
        // the empty corners after the lower right).
        let pos = legend_corner(&[9.0, 8.0], &[1.0, 2.0], r, r);
        assert!(matches!(pos, SeriesLabelPosition::UpperLeft));
        // No points near any corner: the lower right, the default.
        let pos = legend_corner(&[5.0], &[5.0], r, r);
        assert!(matches!(pos, SeriesLabelPosition::LowerRight));
        // Every corner but the lower left has a point.
        let pos = legend_corner(&[9.0, 1.0, 9.0], &[1.0, 9.0, 9.0], r, r);
        assert!(matches!(pos, SeriesLabelPosition::LowerLeft));
    }

    #[test]
    fn label_boxes_overlap_only_when_they_share_area() {
        let a = Rect {
            x0: 0,
            y0: 0,
            x1: 10,
            y1: 10,
        };
        assert!(a.overlaps(&Rect {
            x0: 9,
            y0: 9,
            x1: 20,
            y1: 20
        }));
        assert!(
            !a.overlaps(&Rect {
                x0: 10,
                y0: 0,
                x1: 20,
                y1: 10
            }),
            "touching edges"
        );
        assert!(!a.overlaps(&Rect {
            x0: 0,
            y0: 11,
            x1: 10,
            y1: 20
        }));
    }

    #[test]
    fn missing_iops_column_names_it() {
        let t = table("policy,iothread_cpu_pct\nqemu,40\n");
        let e = pareto_data(&t, &ParetoOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column 'iops'"), "{e}");
        assert!(e.contains("policy, iothread_cpu_pct"), "{e}");
    }
}
