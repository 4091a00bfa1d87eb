//! `tune`'s trade-off picture: every setting the search simulated as its
//! mean IOThread CPU against its worst IOPS change from stock, the
//! accepted loss as a line, stock and the chosen setting marked, and the
//! measured changes of the settings confirmed on the disk beside their
//! predictions.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::render::{render, Draw, Size};
use crate::style::{self, padded, tick};
use crate::PlotError;

/// What a point of the picture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A setting the search simulated.
    Candidate,
    /// The release's defaults.
    Stock,
    /// The answer.
    Chosen,
    /// A setting's measured change on the disk (not a prediction).
    Measured,
}

/// One point: mean IOThread CPU (% of one core) and the worst IOPS change
/// from stock (%).
#[derive(Debug, Clone, PartialEq)]
pub struct TradeoffPoint {
    pub label: String,
    pub cpu_pct: f64,
    pub iops_change_pct: f64,
    pub role: Role,
}

struct TradeoffPlot<'a> {
    points: &'a [TradeoffPoint],
    bar_pct: f64,
    title: &'a str,
}

/// Draws the picture into `out` (PNG or SVG by its extension).
pub fn plot_tradeoff(
    points: &[TradeoffPoint],
    bar_pct: f64,
    title: &str,
    out: &Path,
    size: Size,
) -> Result<(), PlotError> {
    crate::render::Format::of(out)?;
    let finite = |p: &&TradeoffPoint| p.cpu_pct.is_finite() && p.iops_change_pct.is_finite();
    if let Some(p) = points.iter().find(|p| !finite(p)) {
        return Err(PlotError::Invalid(format!(
            "{}: no finite CPU and IOPS change to draw",
            p.label
        )));
    }
    let plot = TradeoffPlot {
        points,
        bar_pct,
        title,
    };
    render(&plot, out, size)
}

fn style_of(role: Role) -> (RGBColor, u32, &'static str) {
    match role {
        Role::Candidate => (RGBColor(150, 150, 150), 3, "simulated settings"),
        Role::Stock => (style::series_color(0), 8, "stock (the release's defaults)"),
        Role::Chosen => (style::series_color(1), 9, "chosen"),
        Role::Measured => (style::series_color(2), 7, "measured on the disk"),
    }
}

impl Draw for TradeoffPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let xs: Vec<f64> = self.points.iter().map(|p| p.cpu_pct).collect();
        let mut ys: Vec<f64> = self.points.iter().map(|p| p.iops_change_pct).collect();
        ys.push(-self.bar_pct);
        ys.push(0.0);
        let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (x0, x1) = padded(lo(&xs).min(0.0), hi(&xs).max(1.0), 0.05);
        let (y0, y1) = padded(lo(&ys), hi(&ys), 0.08);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, style::font(style::TITLE_SIZE))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("IOThread CPU, mean over the points (% of one core)")
            .y_desc("IOPS change at the worst point (% of stock)")
            .axis_desc_style(style::font(style::AXIS_DESC_SIZE))
            .label_style(style::font(style::LABEL_SIZE))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        let bar = -self.bar_pct;
        chart
            .draw_series(LineSeries::new([(x0, bar), (x1, bar)], RED.stroke_width(2)))?
            .label(format!("accepted loss ({bar}%)"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        for role in [Role::Candidate, Role::Measured, Role::Stock, Role::Chosen] {
            self.draw_role(&mut chart, role)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(style::font(style::LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

impl TradeoffPlot<'_> {
    fn draw_role<DB: DrawingBackend>(
        &self,
        chart: &mut style::Chart<'_, DB>,
        role: Role,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let (color, size, name) = style_of(role);
        let pts: Vec<&TradeoffPoint> = self.points.iter().filter(|p| p.role == role).collect();
        if pts.is_empty() {
            return Ok(());
        }
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.cpu_pct, p.iops_change_pct), size, color.filled())),
            )?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        if role != Role::Candidate {
            chart.draw_series(pts.iter().map(|p| {
                Text::new(
                    p.label.clone(),
                    (p.cpu_pct, p.iops_change_pct),
                    style::text(style::POINT_LABEL_SIZE),
                )
            }))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_is_drawn_with_every_role() {
        let dir = std::env::temp_dir().join(format!("pollwise-tradeoff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("t.svg");
        let p = |label: &str, cpu, d, role| TradeoffPoint {
            label: label.into(),
            cpu_pct: cpu,
            iops_change_pct: d,
            role,
        };
        let points = [
            p("a", 50.0, -3.0, Role::Candidate),
            p("stock", 80.0, 0.0, Role::Stock),
            p("chosen", 40.0, -0.5, Role::Chosen),
            p("chosen measured", 42.0, -0.7, Role::Measured),
        ];
        plot_tradeoff(&points, 1.0, "tune", &out, Size::default()).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        for text in [
            "stock (the release",
            "chosen measured",
            "accepted loss (-1%)",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // A point without numbers is an error, not a picture (plotters
        // would loop on a NaN range).
        let nan = [p("empty", f64::NAN, f64::INFINITY, Role::Measured)];
        let e = plot_tradeoff(&nan, 1.0, "tune", &out, Size::default()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
