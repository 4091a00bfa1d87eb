//! `plot compare`: per-row IOPS and CPU difference of a candidate against
//! the baseline, with the acceptance band (QEMU's bar: no row may lose
//! more than 5% IOPS).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::render::{render, Draw, Size};
use crate::style::{self, tick, Chart};
use crate::table::{Filter, Table};
use crate::{PlotError, Summary};

/// The acceptance band, in percent either side of zero.
pub const BAND_PCT: f64 = 5.0;

#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    pub filters: Vec<Filter>,
    pub title: Option<String>,
}

/// One row of the paired table.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub label: String,
    pub iops_diff_pct: f64,
    pub cpu_diff_pct: f64,
}

/// `8192` -> `8k`, `131072` -> `128k`; other text as it is.
fn block_size(text: &str) -> String {
    match text.parse::<u64>() {
        Ok(b) if b >= 1024 && b % 1024 == 0 => format!("{}k", b / 1024),
        _ => text.to_string(),
    }
}

/// Turns one workload cell into its part of a row label.
type LabelPart = fn(&str) -> String;

/// The rows of a compare CSV, each labelled by its workload.
pub fn compare_rows(table: &Table) -> Result<Vec<CompareRow>, PlotError> {
    let iops = table.col("iops_diff_pct")?;
    let cpu = table.col("cpu_diff_pct")?;
    let parts: [(&str, LabelPart); 4] = [
        ("rw", |v| v.to_string()),
        ("bs", block_size),
        ("numjobs", |v| format!("j{v}")),
        ("iothreads", |v| format!("t{v}")),
    ];
    let present: Vec<_> = parts
        .iter()
        .filter_map(|(n, f)| table.opt_col(n).map(|c| (c, f)))
        .collect();
    (0..table.len())
        .map(|r| {
            let label = if present.is_empty() {
                format!("row {}", r + 1)
            } else {
                present
                    .iter()
                    .map(|(c, f)| f(table.text(r, *c)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            Ok(CompareRow {
                label,
                iops_diff_pct: table.num(r, iops)?,
                cpu_diff_pct: table.num(r, cpu)?,
            })
        })
        .collect()
}

/// Draws the compare plot of `table` into `out`.
pub fn plot_compare(
    table: Table,
    out: &Path,
    size: Size,
    opts: &CompareOptions,
) -> Result<Summary, PlotError> {
    crate::render::Format::of(out)?;
    let mut table = table;
    table.retain(&opts.filters)?;
    let rows = compare_rows(&table)?;
    let first = |name: &str| table.opt_col(name).map(|c| table.text(0, c).to_string());
    let title = opts.title.clone().unwrap_or_else(|| {
        let mut t = match (first("candidate"), first("baseline")) {
            (Some(c), Some(b)) => format!("{c} against {b}"),
            _ => "Candidate against baseline".to_string(),
        };
        t.push_str(": IOPS and CPU difference per row");
        if let Some(p) = first("preset") {
            t.push_str(&format!(" ({p})"));
        }
        t
    });
    let plot = ComparePlot { rows, title };
    render(&plot, out, size)?;
    Ok(Summary {
        rows: plot.rows.len(),
        series: 2 * plot.rows.len(),
        outside_band: plot
            .rows
            .iter()
            .filter(|r| r.iops_diff_pct < -BAND_PCT)
            .count(),
        notes: Vec::new(),
    })
}

struct ComparePlot {
    rows: Vec<CompareRow>,
    title: String,
}

const IOPS_COLOR: RGBColor = RGBColor(0, 114, 178);
const IOPS_FAIL_COLOR: RGBColor = RGBColor(213, 94, 0);
const CPU_COLOR: RGBColor = RGBColor(204, 121, 167);
const BAND_COLOR: RGBColor = RGBColor(0, 158, 115);

impl Draw for ComparePlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = self.rows.len();
        let diffs = self
            .rows
            .iter()
            .flat_map(|r| [r.iops_diff_pct, r.cpu_diff_pct]);
        let lo = diffs.clone().fold(-BAND_PCT, f64::min);
        let hi = diffs.fold(BAND_PCT, f64::max);
        let (lo, hi) = style::padded(lo, hi, 0.1);
        let longest = self.rows.iter().map(|r| r.label.len()).max().unwrap_or(4);

        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, style::font(style::TITLE_SIZE))
            .margin(20)
            .x_label_area_size((longest as u32 * 9 + 50).clamp(70, 260))
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            // Row labels are drawn below, rotated; the mesh's own x labels
            // would place rotated text over the plot.
            .x_labels(0)
            .y_label_formatter(&|v| format!("{}%", tick(*v)))
            .x_desc("row: rw, block size, jN = numjobs, tN = iothreads")
            .y_desc("candidate against baseline (%)")
            .axis_desc_style(style::font(style::AXIS_DESC_SIZE))
            .label_style(style::font(style::LABEL_SIZE))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;

        draw_band(&mut chart, n)?;
        self.draw_bars(&mut chart)?;
        self.draw_row_labels(root, &chart, lo)?;
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

/// The acceptance band, its edges dashed, and the zero line, across the
/// `n` rows.
fn draw_band<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, n: usize) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let (left, right) = (-0.5, n as f64 - 0.5);
    chart
        .draw_series([Rectangle::new(
            [(left, -BAND_PCT), (right, BAND_PCT)],
            BAND_COLOR.mix(0.12).filled(),
        )])?
        .label(format!("acceptance band (±{BAND_PCT}%)"))
        .legend(|(x, y)| {
            Rectangle::new([(x, y - 6), (x + 20, y + 6)], BAND_COLOR.mix(0.3).filled())
        });
    for edge in [-BAND_PCT, BAND_PCT] {
        chart.draw_series(DashedLineSeries::new(
            [(left, edge), (right, edge)],
            8,
            5,
            ShapeStyle::from(&BAND_COLOR).stroke_width(2),
        ))?;
    }
    chart.draw_series(LineSeries::new(
        [(left, 0.0), (right, 0.0)],
        BLACK.stroke_width(1),
    ))?;
    Ok(())
}

impl ComparePlot {
    /// Per row, the IOPS difference (coloured when beyond the band) and
    /// the IOThread CPU difference side by side.
    fn draw_bars<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let bar = |x0: f64, x1: f64, v: f64, c: RGBColor| {
            Rectangle::new([(x0, 0.0), (x1, v)], c.filled())
        };
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                let c = if r.iops_diff_pct < -BAND_PCT {
                    IOPS_FAIL_COLOR
                } else {
                    IOPS_COLOR
                };
                bar(i as f64 - 0.38, i as f64 - 0.02, r.iops_diff_pct, c)
            }))?
            .label("IOPS difference")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], IOPS_COLOR.filled()));
        if self.rows.iter().any(|r| r.iops_diff_pct < -BAND_PCT) {
            // An empty series only to explain the colour in the legend.
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(format!("IOPS loss beyond {BAND_PCT}%"))
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], IOPS_FAIL_COLOR.filled())
                });
        }
        chart
            .draw_series(
                self.rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| bar(i as f64 + 0.02, i as f64 + 0.38, r.cpu_diff_pct, CPU_COLOR)),
            )?
            .label("IOThread CPU difference")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], CPU_COLOR.filled()));
        Ok(())
    }

    /// Each row's label under the plot, rotated.
    fn draw_row_labels<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &Chart<'_, DB>,
        lo: f64,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = self.rows.len();
        // Rotated labels stand side by side: their height is the row width.
        let (plot_w, _) = chart.plotting_area().dim_in_pixel();
        let row_px = plot_w as f64 / n.max(1) as f64;
        let label_size = (row_px * 0.8).clamp(9.0, style::LABEL_SIZE);
        let label_style = style::text(label_size)
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, row) in self.rows.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, lo));
            root.draw(&Text::new(
                row.label.as_str(),
                (px, py + 8),
                label_style.clone(),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_labelled_by_workload() {
        let t = Table::from_reader(
            Path::new("c.csv"),
            "rw,bs,numjobs,iothreads,iops_diff_pct,cpu_diff_pct
randread,8192,1,1,-7.8,-2.9
randread,131072,16,2,0.027,-15.7
"
            .as_bytes(),
        )
        .unwrap();
        let rows = compare_rows(&t).unwrap();
        assert_eq!(rows[0].label, "randread 8k j1 t1");
        assert_eq!(rows[1].label, "randread 128k j16 t2");
        assert_eq!(rows[0].iops_diff_pct, -7.8);
        assert_eq!(rows[1].cpu_diff_pct, -15.7);
    }

    #[test]
    fn without_workload_columns_rows_are_numbered() {
        let t = Table::from_reader(
            Path::new("c.csv"),
            "iops_diff_pct,cpu_diff_pct\n1,2\n3,4\n".as_bytes(),
        )
        .unwrap();
        let rows = compare_rows(&t).unwrap();
        assert_eq!(rows[1].label, "row 2");
    }

    #[test]
    fn block_sizes_print_in_kib() {
        assert_eq!(block_size("8192"), "8k");
        assert_eq!(block_size("4096000"), "4000k");
        assert_eq!(block_size("512"), "512");
        assert_eq!(block_size("8k"), "8k");
    }
}
