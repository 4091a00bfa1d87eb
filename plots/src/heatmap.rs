//! `plot heatmap`: a metric over two swept parameters, the mean of the runs
//! in each cell printed in it, with a colour bar.

use std::collections::HashMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::render::{render, Draw, Size};
use crate::style::{self, number, tick, Chart};
use crate::table::{Filter, Table, ValueKey};
use crate::{PlotError, Summary};

#[derive(Debug, Clone)]
pub struct HeatmapOptions {
    /// Column or parameter on the x axis.
    pub x: String,
    /// Column or parameter on the y axis.
    pub y: String,
    /// Numeric column coloured and printed in the cells.
    pub metric: String,
    pub filters: Vec<Filter>,
    pub title: Option<String>,
}

/// The metric's mean per (x, y) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Distinct x values, ascending (numerically when all are numbers).
    pub xs: Vec<String>,
    pub ys: Vec<String>,
    /// `cells[yi][xi]`: (mean, number of runs), `None` when no row fell there.
    pub cells: Vec<Vec<Option<(f64, usize)>>>,
    /// Rows used, and rows left out: without an x or y value, or with the
    /// metric empty (a value the source could not know, e.g. an imported
    /// fio run's loop counters), which is no 0.
    pub rows: usize,
    pub skipped: usize,
    /// The policy, when every row used has the same one.
    pub policy: Option<String>,
}

/// An axis: its distinct values in ascending order (numeric when every value
/// is a number), and each value's position, found in O(1).
struct Axis<'a> {
    labels: Vec<String>,
    index: HashMap<ValueKey<'a>, usize>,
}

impl<'a> Axis<'a> {
    /// Values equal by [`crate::table::same_value`] are one; the first one seen names it.
    fn new(values: impl Iterator<Item = &'a str>) -> Axis<'a> {
        let mut seen: HashMap<ValueKey<'a>, usize> = HashMap::new();
        let mut out: Vec<&str> = Vec::new();
        for v in values {
            seen.entry(ValueKey::of(v)).or_insert_with(|| {
                out.push(v);
                out.len() - 1
            });
        }
        let nums: Option<Vec<f64>> = out.iter().map(|v| v.parse::<f64>().ok()).collect();
        let mut order: Vec<usize> = (0..out.len()).collect();
        match nums {
            // Stable: equal numbers that are not the same value ("inf" and
            // "+inf") keep the order they were first seen in.
            Some(n) => order.sort_by(|&a, &b| n[a].total_cmp(&n[b])),
            None => order.sort_unstable_by(|&a, &b| out[a].cmp(out[b])),
        }
        // rank[i]: where the i-th value seen ends up.
        let mut rank = vec![0; out.len()];
        for (pos, &i) in order.iter().enumerate() {
            rank[i] = pos;
        }
        Axis {
            labels: order.iter().map(|&i| out[i].to_string()).collect(),
            index: seen.into_iter().map(|(k, i)| (k, rank[i])).collect(),
        }
    }

    fn position(&self, value: &'a str) -> usize {
        self.index.get(&ValueKey::of(value)).copied().unwrap_or(0)
    }
}

/// Averages the metric over the rows of each (x, y) cell.
pub fn heatmap_grid(table: &Table, opts: &HeatmapOptions) -> Result<Grid, PlotError> {
    if opts.x == opts.y {
        return Err(PlotError::Invalid(format!(
            "--x and --y are both {}: a heatmap needs two different columns",
            opts.x
        )));
    }
    let metric = table.col(&opts.metric)?;
    let mut used: Vec<(usize, &str, &str)> = Vec::new();
    let mut unknown = 0;
    for r in 0..table.len() {
        if let (Some(x), Some(y)) = (table.value(r, &opts.x), table.value(r, &opts.y)) {
            if table.text(r, metric).is_empty() {
                unknown += 1;
            } else if !x.is_empty() && !y.is_empty() {
                used.push((r, x, y));
            }
        }
    }
    if used.is_empty() {
        return Err(no_cells(table, opts, unknown));
    }
    let xs = Axis::new(used.iter().map(|u| u.1));
    let ys = Axis::new(used.iter().map(|u| u.2));
    let mut sums = vec![vec![(0.0, 0usize); xs.labels.len()]; ys.labels.len()];
    let policy_col = table.opt_col("policy");
    let mut policy: Option<Option<&str>> = None;
    for &(r, x, y) in &used {
        let v = table.num(r, metric)?;
        let (xi, yi) = (xs.position(x), ys.position(y));
        sums[yi][xi].0 += v;
        sums[yi][xi].1 += 1;
        let p = policy_col.map(|c| table.text(r, c));
        policy = match policy {
            None => Some(p),
            Some(prev) if prev == p => Some(prev),
            Some(_) => Some(None),
        };
    }
    let cells = sums
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(s, n)| (n > 0).then(|| (s / n as f64, n)))
                .collect()
        })
        .collect();
    Ok(Grid {
        xs: xs.labels,
        ys: ys.labels,
        cells,
        rows: used.len(),
        skipped: table.len() - used.len(),
        policy: policy.flatten().map(str::to_string),
    })
}

/// Why no row of `table` gave a cell: the metric was empty in the
/// `unknown` rows that had both keys, or no row had both.
fn no_cells(table: &Table, opts: &HeatmapOptions, unknown: usize) -> PlotError {
    if unknown > 0 {
        return PlotError::Invalid(format!(
            "'{}' is empty in every row of {} with '{}' and '{}': its source did not know it \
             (fio's rows have no IOThread loop counters); choose another --metric",
            opts.metric,
            table.path().display(),
            opts.x,
            opts.y
        ));
    }
    let missing = [&opts.x, &opts.y]
        .into_iter()
        .filter(|n| (0..table.len()).all(|r| table.value(r, n).is_none()))
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>();
    let why = if missing.is_empty() {
        "each is in some rows, but never both in one".to_string()
    } else {
        format!(
            "{} found neither as a column nor in params",
            missing.join(" and ")
        )
    };
    PlotError::Invalid(format!(
        "no row of {} has both '{}' and '{}': {why}",
        table.path().display(),
        opts.x,
        opts.y,
    ))
}

/// Viridis, sampled at five stops and interpolated linearly: perceptually
/// ordered and readable in greyscale.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Black text on light cells, white on dark.
fn text_color_on(c: RGBColor) -> RGBColor {
    let luma = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if luma > 140.0 {
        BLACK
    } else {
        WHITE
    }
}

/// Draws the heatmap of `table` into `out`.
pub fn plot_heatmap(
    table: Table,
    out: &Path,
    size: Size,
    opts: &HeatmapOptions,
) -> Result<Summary, PlotError> {
    crate::render::Format::of(out)?;
    let mut table = crate::unpair::results_view(table)?;
    table.retain(&opts.filters)?;
    let grid = heatmap_grid(&table, opts)?;
    let plot = HeatmapPlot {
        grid,
        opts: opts.clone(),
    };
    render(&plot, out, size)?;
    Ok(Summary {
        rows: plot.grid.rows,
        series: plot.grid.xs.len() * plot.grid.ys.len(),
        outside_band: 0,
        notes: Vec::new(),
    })
}

struct HeatmapPlot {
    grid: Grid,
    opts: HeatmapOptions,
}

impl HeatmapPlot {
    fn title(&self) -> String {
        if let Some(t) = &self.opts.title {
            return t.clone();
        }
        let g = &self.grid;
        let mut t = format!(
            "{} over {} and {}",
            self.opts.metric, self.opts.x, self.opts.y
        );
        if let Some(p) = &g.policy {
            t.push_str(&format!(" ({p})"));
        }
        let most = g
            .cells
            .iter()
            .flatten()
            .flatten()
            .map(|c| c.1)
            .max()
            .unwrap_or(1);
        if most > 1 {
            t.push_str(&format!(", mean of up to {most} runs per cell"));
        }
        t
    }
}

impl Draw for HeatmapPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let g = &self.grid;
        let values: Vec<f64> = g.cells.iter().flatten().flatten().map(|c| c.0).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            style::padded(lo, hi, 0.0)
        };
        let body = root.titled(&self.title(), style::font(style::TITLE_SIZE))?;
        let (w, _) = body.dim_in_pixel();
        let (main, bar) = body.split_horizontally(w.saturating_sub(150));

        let (nx, ny) = (g.xs.len(), g.ys.len());
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(-0.5..nx as f64 - 0.5, -0.5..ny as f64 - 0.5)?;
        let label_at = |labels: &[String], v: f64| -> String {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).cloned().unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nx.max(2))
            .y_labels(ny.max(2))
            .x_label_formatter(&|v| label_at(&g.xs, *v))
            .y_label_formatter(&|v| label_at(&g.ys, *v))
            .x_desc(self.opts.x.as_str())
            .y_desc(self.opts.y.as_str())
            .axis_desc_style(style::font(style::AXIS_DESC_SIZE))
            .label_style(style::font(style::LABEL_SIZE))
            .draw()?;

        self.draw_cells(&mut chart, (lo, hi))?;
        self.draw_colour_bar(&bar, (lo, hi))?;
        Ok(())
    }
}

impl HeatmapPlot {
    /// Every cell filled with its colour and labelled with its value (or
    /// "no runs"); `range` is the lowest and highest value.
    fn draw_cells<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        (lo, hi): (f64, f64),
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let g = &self.grid;
        let (nx, ny) = (g.xs.len(), g.ys.len());
        let norm = |v: f64| (v - lo) / (hi - lo);
        // Cell text shrinks with the cell so it stays inside it.
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        let cell_w = pw as f64 / nx as f64;
        let cell_h = ph as f64 / ny as f64;
        let text_size = (cell_h * 0.3).min(cell_w / 5.0).clamp(9.0, 22.0);
        let centered = Pos::new(HPos::Center, VPos::Center);
        for (yi, row) in g.cells.iter().enumerate() {
            for (xi, cell) in row.iter().enumerate() {
                let (x, y) = (xi as f64, yi as f64);
                let corners = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
                let (fill, label) = match cell {
                    Some((v, _)) => (viridis(norm(*v)), number(*v)),
                    None => (RGBColor(225, 225, 225), "no runs".to_string()),
                };
                let ink = text_color_on(fill);
                let text_style = style::text(text_size).color(&ink).pos(centered);
                chart.draw_series([Rectangle::new(corners, fill.filled())])?;
                chart.draw_series([Rectangle::new(corners, WHITE.stroke_width(1))])?;
                chart.draw_series([Text::new(label, (x, y), text_style)])?;
            }
        }
        Ok(())
    }

    /// The colour bar: the same map from the lowest to the highest cell.
    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        bar: &DrawingArea<DB, Shift>,
        (lo, hi): (f64, f64),
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let mut bar_chart = ChartBuilder::on(bar)
            .margin_top(20)
            .margin_bottom(80)
            .margin_right(10)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        bar_chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(8)
            .y_label_formatter(&|v| tick(*v))
            .y_desc(self.opts.metric.as_str())
            .axis_desc_style(style::font(style::LABEL_SIZE))
            .label_style(style::font(style::LABEL_SIZE))
            .draw()?;
        const STEPS: usize = 100;
        bar_chart.draw_series((0..STEPS).map(|k| {
            let a = lo + (hi - lo) * k as f64 / STEPS as f64;
            let b = lo + (hi - lo) * (k + 1) as f64 / STEPS as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(k as f64 / (STEPS - 1) as f64).filled(),
            )
        }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(x: &str, y: &str) -> HeatmapOptions {
        HeatmapOptions {
            x: x.to_string(),
            y: y.to_string(),
            metric: "iothread_cpu_pct".to_string(),
            filters: Vec::new(),
            title: None,
        }
    }

    #[test]
    fn cells_average_seeds_and_axes_sort_numerically() {
        let t = Table::from_reader(
            Path::new("s.csv"),
            "policy,params,seed,iothread_cpu_pct
qemu,poll-max-ns=16384 poll-shrink=0,1,50
qemu,poll-max-ns=16384 poll-shrink=0,2,60
qemu,poll-max-ns=4096 poll-shrink=0,1,20
qemu,poll-max-ns=4096 poll-shrink=2,1,30
weighted,poll-weight=3,1,99
"
            .as_bytes(),
        )
        .unwrap();
        let g = heatmap_grid(&t, &opts("poll-max-ns", "poll-shrink")).unwrap();
        assert_eq!(g.xs, vec!["4096", "16384"], "numeric, not text, order");
        assert_eq!(g.ys, vec!["0", "2"]);
        assert_eq!(g.cells[0][0], Some((20.0, 1)));
        assert_eq!(g.cells[0][1], Some((55.0, 2)), "(50+60)/2");
        assert_eq!(g.cells[1][0], Some((30.0, 1)));
        assert_eq!(g.cells[1][1], None);
        assert_eq!((g.rows, g.skipped), (4, 1), "the weighted row has neither");
        assert_eq!(g.policy.as_deref(), Some("qemu"));
        let e = heatmap_grid(&t, &opts("poll-max-ns", "poll-max-ns"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--x and --y are both poll-max-ns"), "{e}");
    }

    #[test]
    fn an_empty_metric_is_left_out_not_a_zero() {
        let t = Table::from_reader(
            Path::new("f.csv"),
            "policy,params,source,kicks_per_s\n\
             qemu,poll-max-ns=1,sim,100\n\
             qemu,poll-max-ns=1,fio,\n\
             qemu,poll-max-ns=2,fio,\n"
                .as_bytes(),
        )
        .unwrap();
        let opts = |x: &str| HeatmapOptions {
            x: x.to_string(),
            y: "policy".to_string(),
            metric: "kicks_per_s".to_string(),
            filters: Vec::new(),
            title: None,
        };
        let g = heatmap_grid(&t, &opts("poll-max-ns")).unwrap();
        // The cell of poll-max-ns=1 is the sim row's 100, not (100+0)/2.
        assert_eq!(g.xs, ["1"]);
        assert_eq!(g.cells, vec![vec![Some((100.0, 1))]]);
        assert_eq!((g.rows, g.skipped), (1, 2));
        let only_fio = Table::from_reader(
            Path::new("g.csv"),
            "policy,params,kicks_per_s\nqemu,poll-max-ns=1,\n".as_bytes(),
        )
        .unwrap();
        let e = heatmap_grid(&only_fio, &opts("poll-max-ns"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'kicks_per_s' is empty in every row"), "{e}");
    }

    #[test]
    fn a_plain_column_can_be_an_axis() {
        let t = Table::from_reader(
            Path::new("s.csv"),
            "policy,params,numjobs,iothread_cpu_pct\nqemu,poll-max-ns=1,4,10\nqemu,poll-max-ns=2,1,20\n"
                .as_bytes(),
        )
        .unwrap();
        let g = heatmap_grid(&t, &opts("numjobs", "poll-max-ns")).unwrap();
        assert_eq!(g.xs, vec!["1", "4"]);
        assert_eq!(g.cells[1][0], Some((20.0, 1)));
    }

    #[test]
    fn an_unknown_axis_is_named() {
        let t = Table::from_reader(
            Path::new("s.csv"),
            "policy,params,iothread_cpu_pct\nqemu,poll-max-ns=1,10\n".as_bytes(),
        )
        .unwrap();
        let e = heatmap_grid(&t, &opts("poll-max-ns", "poll-bogus"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'poll-bogus' found neither"), "{e}");
    }

    #[test]
    fn viridis_ends_and_midpoint() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        // Halfway between the first two stops: (68+59)/2 = 63.5 -> 64 (round half away).
        assert_eq!(viridis(0.125), RGBColor(64, 42, 112));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
    }
}
