//! `plot pareto`: IOThread CPU against IOPS, one series per policy, each
//! policy's non-dominated points joined as its frontier, the simulator's
//! clairvoyant policies dashed (reference curves, not bounds), the baseline
//! marked.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use pollwise_stats::{mean_of, ratio};

use crate::frontier::{frontier, Point};
use crate::render::{render, Draw, Size};
use crate::style::{self, distinct_pixels, padded, series_color, tick, varying_params, Chart};
use crate::table::{param, Col, Filter, Table};
use crate::{PlotError, Summary};

/// The columns that name a workload: rows agreeing on the ones present are
/// compared with the baseline row of that workload.
pub const WORKLOAD_COLUMNS: [&str; 5] = ["rw", "bs", "numjobs", "iodepth", "iothreads"];

#[derive(Debug, Clone)]
pub struct ParetoOptions {
    /// The baseline: a policy name, optionally followed by `name=value`
    /// parameters its rows must have, e.g. `qemu poll-max-ns=32768`.
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
    /// The mean of the baseline rows, if any row is the baseline.
    pub baseline: Option<Point>,
    pub baseline_label: String,
    /// How many configurations the baseline rows span (more than one: the
    /// baseline point is their mean).
    pub baseline_configs: usize,
    pub normalized: bool,
    pub rows: usize,
    pub preset: Option<String>,
}

struct BaselineSpec {
    policy: String,
    params: Vec<Filter>,
}

impl BaselineSpec {
    fn parse(text: &str) -> Result<BaselineSpec, PlotError> {
        let mut words = text.split_whitespace();
        let policy = words.next().ok_or_else(|| {
            PlotError::Invalid(
                "--baseline is empty: name a policy, e.g. 'qemu' or 'qemu poll-max-ns=32768'"
                    .to_string(),
            )
        })?;
        let params = words
            .map(|w| w.parse::<Filter>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BaselineSpec {
            policy: policy.to_string(),
            params,
        })
    }

    fn matches(&self, policy: &str, params: &str) -> bool {
        policy == self.policy
            && self.params.iter().all(|f| {
                param(params, &f.name).is_some_and(|v| crate::table::same_value(v, &f.value))
            })
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

/// One row of the table: policy, params, its point, whether it is the
/// baseline, and its index.
type RawRow<'a> = (&'a str, &'a str, Point, bool, usize);

/// Groups the table's rows into configurations and finds the baseline.
pub fn pareto_data(table: &Table, opts: &ParetoOptions) -> Result<ParetoData, PlotError> {
    let policy_col = table.col("policy")?;
    let cpu_col = table.col("iothread_cpu_pct")?;
    let iops_col = table.col("iops")?;
    let params_col = table.opt_col("params");
    let spec = BaselineSpec::parse(&opts.baseline)?;
    let workloads = Workloads::of(table);
    let mut raw = Vec::with_capacity(table.len());
    let mut base_by_workload: HashMap<String, Group> = HashMap::new();
    for r in 0..table.len() {
        let policy = table.text(r, policy_col);
        let params = params_col.map_or("", |c| table.text(r, c));
        let point = Point {
            cpu: table.num(r, cpu_col)?,
            iops: table.num(r, iops_col)?,
        };
        let is_base = spec.matches(policy, params);
        if is_base {
            base_by_workload
                .entry(workloads.key(r))
                .or_default()
                .add(point);
        }
        raw.push((policy, params, point, is_base, r));
    }
    if opts.normalize {
        normalize(&mut raw, &base_by_workload, &workloads, opts)?;
    }
    let (configs, baseline, baseline_configs) = group_configs(&raw);
    Ok(ParetoData {
        configs,
        baseline: (!baseline.0.is_empty()).then(|| baseline.point()),
        baseline_label: opts.baseline.clone(),
        baseline_configs,
        normalized: opts.normalize,
        rows: table.len(),
        preset: single_preset(table),
    })
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

/// Turns every point into percentages of its workload's baseline.
fn normalize(
    raw: &mut [RawRow<'_>],
    base_by_workload: &HashMap<String, Group>,
    workloads: &Workloads<'_>,
    opts: &ParetoOptions,
) -> Result<(), PlotError> {
    if base_by_workload.is_empty() {
        return Err(PlotError::Invalid(format!(
            "--normalize baseline: no row of {} is the baseline '{}' (policies present: {})",
            workloads.table.path().display(),
            opts.baseline,
            policies(raw).join(", ")
        )));
    }
    for (_, _, point, _, r) in raw.iter_mut() {
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

/// One pass: each configuration's index by its (policy, params), the
/// configurations in the order first seen, their sums in row order; and
/// the baseline's points and how many configurations they span.
fn group_configs(raw: &[RawRow<'_>]) -> (Vec<Config>, Group, usize) {
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut configs: Vec<(&str, &str, Group)> = Vec::new();
    let mut baseline = Group::default();
    let mut baseline_params: HashSet<&str> = HashSet::new();
    for (policy, params, point, is_base, _) in raw {
        if *is_base {
            baseline.add(*point);
            baseline_params.insert(params);
        }
        let i = *index.entry((policy, params)).or_insert_with(|| {
            configs.push((policy, params, Group::default()));
            configs.len() - 1
        });
        configs[i].2.add(*point);
    }
    let configs = configs
        .into_iter()
        .map(|(policy, params, m)| Config {
            policy: policy.to_string(),
            params: params.to_string(),
            point: m.point(),
            runs: m.0.len(),
        })
        .collect();
    (configs, baseline, baseline_params.len())
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
    let plot = ParetoPlot {
        data,
        title: opts.title.clone(),
    };
    render(&plot, out, size)?;
    Ok(Summary {
        rows: plot.data.rows,
        series: plot.policy_names().len(),
        outside_band: 0,
    })
}

struct ParetoPlot {
    data: ParetoData,
    title: Option<String>,
}

/// Parameter names print without QEMU's common prefix, to keep labels short.
fn short(name: &str) -> &str {
    name.strip_prefix("poll-")
        .or_else(|| name.strip_prefix("oracle-"))
        .unwrap_or(name)
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
        let mut xs: Vec<f64> = d.configs.iter().map(|c| c.point.cpu).collect();
        let mut ys: Vec<f64> = d.configs.iter().map(|c| c.point.iops).collect();
        if let Some(b) = d.baseline {
            xs.push(b.cpu);
            ys.push(b.iops);
        }
        let (x0, x1) = padded(min(&xs), max(&xs), 0.08);
        let (y0, y1) = padded(min(&ys), max(&ys), 0.08);

        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), style::font(style::TITLE_SIZE))
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

        // Labels are placed after every marker is drawn, frontier points
        // first, each where it overlaps no label placed before it (or not
        // at all), so a crowded sweep stays readable.
        let mut labels: Vec<PointLabel> = Vec::new();
        for (i, policy) in self.policy_names().into_iter().enumerate() {
            self.draw_policy(&mut chart, i, policy, &mut labels)?;
        }
        place_labels(&mut chart, labels)?;
        self.draw_baseline(&mut chart)?;
        chart
            .configure_series_labels()
            .position(legend_corner(&xs, &ys, (x0, x1), (y0, y1)))
            .label_font(style::font(style::LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

impl ParetoPlot {
    /// One policy: its frontier as a line, a marker per configuration, and
    /// each configuration's label (its varying parameters) into `labels`.
    fn draw_policy<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        i: usize,
        policy: &str,
        labels: &mut Vec<PointLabel>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let d = &self.data;
        // The simulator's clairvoyant policies (by current or old name).
        let is_oracle = matches!(policy, "threshold-oracle" | "clairvoyant" | "oracle");
        let color: RGBColor = if is_oracle { BLACK } else { series_color(i) };
        let configs: Vec<&Config> = d.configs.iter().filter(|c| c.policy == policy).collect();
        let points: Vec<Point> = configs.iter().map(|c| c.point).collect();
        let front = frontier(&points);
        let mut on_front = vec![false; points.len()];
        for &k in &front {
            on_front[k] = true;
        }
        let line: Vec<(f64, f64)> = front
            .iter()
            .map(|&k| (points[k].cpu, points[k].iops))
            .collect();
        draw_frontier(chart, policy, is_oracle, color, &line)?;

        let all_params: Vec<&str> = configs.iter().map(|c| c.params.as_str()).collect();
        let varying = varying_params(&all_params);
        for (k, c) in configs.iter().enumerate() {
            let text: Vec<String> = crate::table::param_pairs(&c.params)
                .iter()
                .filter(|(n, _)| configs.len() == 1 || varying.iter().any(|v| v == n))
                .map(|(n, v)| format!("{}={v}", short(n)))
                .collect();
            labels.push(PointLabel {
                at: (c.point.cpu, c.point.iops),
                text: text.join(" "),
                color,
                on_frontier: on_front[k],
            });
        }
        let anno = chart.draw_series(
            configs
                .iter()
                .map(|c| Circle::new((c.point.cpu, c.point.iops), 6, color.filled())),
        )?;
        if !is_oracle {
            anno.label(policy.to_string())
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
        }
        Ok(())
    }

    /// The baseline: a circled cross, in the legend with what it is.
    fn draw_baseline<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let d = &self.data;
        if let Some(b) = d.baseline {
            let label = if d.baseline_configs > 1 {
                format!(
                    "baseline ({}, mean of {} configurations)",
                    d.baseline_label, d.baseline_configs
                )
            } else {
                format!("baseline ({})", d.baseline_label)
            };
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((b.cpu, b.iops))
                        + Circle::new((0, 0), 13, BLACK.stroke_width(3))
                        + Cross::new((0, 0), 8, BLACK.stroke_width(2)),
                ))?
                .label(label)
                .legend(|(x, y)| Circle::new((x + 10, y), 7, BLACK.stroke_width(2)));
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

/// Draws each label beside its point where it stays inside the plot and
/// overlaps no label placed before it; frontier points' labels first.
fn place_labels<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    mut labels: Vec<PointLabel>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    labels.sort_by_key(|l| !l.on_frontier);
    let mut placed: Vec<Rect> = Vec::new();
    let size = style::POINT_LABEL_SIZE;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    for l in labels.iter().filter(|l| !l.text.is_empty()) {
        let (w, h) = style::font(size).box_size(&l.text).unwrap_or((0, 0));
        let (w, h) = (w as i32, h as i32);
        let (px, py) = chart.backend_coord(&l.at);
        let spots = [(9, -h - 4), (9, 4), (-9 - w, -h - 4), (-9 - w, 4)];
        let free = spots.into_iter().find(|&(dx, dy)| {
            let r = Rect {
                x0: px + dx,
                y0: py + dy,
                x1: px + dx + w,
                y1: py + dy + h,
            };
            let inside = r.x0 >= xr.start && r.x1 <= xr.end && r.y0 >= yr.start && r.y1 <= yr.end;
            inside && placed.iter().all(|p| !p.overlaps(&r))
        });
        if let Some((dx, dy)) = free {
            placed.push(Rect {
                x0: px + dx,
                y0: py + dy,
                x1: px + dx + w,
                y1: py + dy + h,
            });
            let font = style::text(size).color(&l.color);
            chart.draw_series(std::iter::once(
                EmptyElement::at(l.at) + Text::new(l.text.clone(), (dx, dy), font),
            ))?;
        }
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
    on_frontier: bool,
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
        assert_eq!(
            d.baseline,
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
            d.baseline,
            Some(Point {
                cpu: 100.0,
                iops: 100.0
            })
        );
    }

    #[test]
    fn several_baseline_rows_of_one_workload_are_averaged() {
        let t = table(
            "policy,params,rw,iops,iothread_cpu_pct
qemu,poll-max-ns=1000,randread,1000,40
qemu,poll-max-ns=2000,randread,3000,60
fixed,poll-ns=5,randread,1000,25
",
        );
        let opts = ParetoOptions {
            normalize: true,
            ..ParetoOptions::default()
        };
        let d = pareto_data(&t, &opts).unwrap();
        // Baseline mean: CPU 50, IOPS 2000; fixed: 25/50 = 50 %, 1000/2000 = 50 %.
        assert_eq!(
            d.configs[2].point,
            Point {
                cpu: 50.0,
                iops: 50.0
            }
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
            d.baseline,
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
