//! Trade-off plots from pollwise results CSV, as PNG or SVG.
//!
//! Every plot reads its input by column name (the schema of
//! [`pollwise_core::RunRow`], [`pollwise_core::TraceRow`] or
//! [`pollwise_core::COMPARE_COLUMNS`]), so files from `sim`, `compare`,
//! `sweep` and the real-device loop all work, and draws with an embedded
//! font so text renders on a machine without system fonts.

mod baseline;
mod compare;
mod error;
mod font;
pub mod frontier;
mod heatmap;
mod pareto;
mod render;
pub mod spots;
mod style;
pub mod table;
mod tradeoff;
pub mod unpair;
mod window;

pub use baseline::NoBaseline;
pub use compare::{compare_rows, plot_compare, CompareOptions, CompareRow, BAND_PCT};
pub use error::PlotError;
pub use heatmap::{heatmap_grid, plot_heatmap, viridis, Grid, HeatmapOptions};
pub use pareto::{pareto_data, plot_pareto, Config, ParetoData, ParetoOptions, WORKLOAD_COLUMNS};
pub use render::{Format, Size};
pub use table::{Filter, Table};
pub use tradeoff::{plot_tradeoff, Role, TradeoffPoint};
pub use window::{decimate, plot_window, steps, window_runs, Run, WindowOptions, MAX_PANELS};

/// What a plot was drawn from, for the command to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Input rows used (after filters).
    pub rows: usize,
    /// Series (pareto), panels (window), cells (heatmap) or bars (compare).
    pub series: usize,
    /// Compare rows losing more IOPS than the acceptance band allows; 0
    /// for the other plots.
    pub outside_band: usize,
    /// What the picture could not show, for the command to say.
    pub notes: Vec<String>,
}
