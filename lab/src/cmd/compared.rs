//! What a compare returns, on any backend, and the table or CSV it prints.

use std::io::Write;

use pollwise_core::{Params, Rw};

use super::Result;
use crate::compare::{write_csv, write_csv_at};
use crate::text::{paired_compare_table, write_compare_table, TableContext};
use crate::{CompareSpec, ComparedPoint};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    /// The reference table's layout plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
}

/// A compare on the simulator: seeds averaged, no intervals.
pub struct SimCompared {
    pub points: Vec<ComparedPoint>,
    pub baseline: Params,
    pub candidate: Params,
    pub seed: u64,
    /// The preset's warm-up before the measured time.
    pub warmup_ms: u64,
    /// The verdict's bar (`--accept-iops-loss`).
    pub bar: f64,
    /// The kinds of rows the preset was fitted on (`[matrix] fitted_rw`):
    /// other rows are predictions.
    pub fitted_rw: Option<Vec<Rw>>,
}

/// A paired, interleaved compare on a real backend.
pub struct Paired {
    pub points: Vec<ComparedPoint>,
    pub spec: CompareSpec,
    /// The backend's source name (`device`, `qemu`).
    pub source: &'static str,
    pub bar: f64,
}

/// A compare's result.
pub enum Compared {
    Sim(SimCompared),
    Paired(Paired),
}

impl Compared {
    /// The table or the CSV on `out`.
    pub fn write(&self, out: &mut dyn Write, format: CompareFormat) -> Result<()> {
        match (self, format) {
            (Compared::Sim(s), CompareFormat::Table) => {
                let ctx = TableContext {
                    baseline: &s.baseline,
                    candidate: &s.candidate,
                    seed: s.seed,
                    warmup_ms: Some(s.warmup_ms),
                    accept_iops_loss_pct: s.bar,
                    fitted_rw: s.fitted_rw.as_deref(),
                };
                write_compare_table(out, &s.points, &ctx)?;
            }
            (Compared::Sim(s), CompareFormat::Csv) => write_csv(out, &s.points, false)?,
            (Compared::Paired(p), CompareFormat::Table) => {
                let mut out = out;
                paired_compare_table(&mut out, p.source, &p.points, &p.spec, p.bar)?;
            }
            (Compared::Paired(p), CompareFormat::Csv) => write_csv_at(out, &p.points, true, p.bar)?,
        }
        Ok(())
    }
}
