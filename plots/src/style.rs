//! Shared look: series colours, fonts and number formatting.

use plotters::chart::ChartContext;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::DrawingBackend;
use plotters::style::{FontDesc, IntoFont, RGBColor, TextStyle};

use crate::font::FAMILY;

/// Colour-blind-safe palette (Okabe-Ito), cycled per series.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
];

pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub fn font(size: f64) -> FontDesc<'static> {
    (FAMILY, size).into_font()
}

pub fn text(size: f64) -> TextStyle<'static> {
    font(size).into()
}

pub const TITLE_SIZE: f64 = 26.0;
pub const AXIS_DESC_SIZE: f64 = 20.0;
pub const LABEL_SIZE: f64 = 17.0;
pub const POINT_LABEL_SIZE: f64 = 15.0;

/// A number with as many digits as its size warrants, for tick and cell labels.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The chart type every line-drawing plot uses.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Drops each point that lands on the same pixel as the one before it.
/// plotters draws lines wider than one pixel as polygons and a zero-length
/// segment gives it a NaN direction, which shoots stray lines across the
/// picture; this also thins long lines to what can be seen.
pub fn distinct_pixels<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    points: &[(f64, f64)],
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    let mut last = None;
    for &p in points {
        let px = chart.backend_coord(&p);
        if last != Some(px) {
            out.push(p);
            last = Some(px);
        }
    }
    out
}

/// An axis tick: whole numbers without a fraction, others with at most
/// two decimals and no trailing zeros.
pub fn tick(v: f64) -> String {
    if v.abs() >= 1000.0 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// `[lo, hi]` widened by `frac` of its span on each side (a fixed margin
/// when the span is zero), so markers at the edges stay inside the plot.
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * frac
    } else {
        (lo.abs() * 0.05).max(1.0)
    };
    (lo - pad, hi + pad)
}

/// The value of each parameter varies across `params` lists: these are the
/// names worth printing beside a point.
pub fn varying_params(all: &[&str]) -> Vec<String> {
    use crate::table::param_pairs;
    let mut names: Vec<String> = Vec::new();
    for p in all {
        for (n, _) in param_pairs(p) {
            if !names.iter().any(|m| m == n) {
                names.push(n.to_string());
            }
        }
    }
    names.retain(|n| {
        let first = crate::table::param(all[0], n);
        all.iter().any(|p| crate::table::param(p, n) != first)
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_digits_follow_magnitude() {
        assert_eq!(number(163417.4), "163417");
        assert_eq!(number(98.74), "98.7");
        assert_eq!(number(4.256), "4.26");
        assert_eq!(number(0.1234), "0.123");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-7.84), "-7.84");
    }

    #[test]
    fn ticks_drop_needless_zeros() {
        assert_eq!(tick(40.0), "40");
        assert_eq!(tick(97.5), "97.5");
        assert_eq!(tick(0.126), "0.13");
        assert_eq!(tick(-0.0001), "0");
        assert_eq!(tick(163417.0), "163417");
    }

    #[test]
    fn padding_widens_both_sides() {
        assert_eq!(padded(0.0, 10.0, 0.1), (-1.0, 11.0));
        assert_eq!(padded(5.0, 5.0, 0.1), (4.0, 6.0));
        assert_eq!(padded(100.0, 100.0, 0.1), (95.0, 105.0));
    }

    #[test]
    fn only_parameters_that_change_are_varying() {
        let all = [
            "poll-max-ns=1000 poll-grow=0 poll-shrink=0",
            "poll-max-ns=2000 poll-grow=0 poll-shrink=0",
            "poll-max-ns=2000 poll-grow=0 poll-shrink=2",
        ];
        assert_eq!(varying_params(&all), vec!["poll-max-ns", "poll-shrink"]);
        assert!(varying_params(&all[..1]).is_empty());
    }
}
