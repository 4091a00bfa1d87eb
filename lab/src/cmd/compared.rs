//! What a compare returns, on any backend, and the table or CSV it prints.

use std::io::Write;

use pollwise_core::{Params, Rw};

use super::Result;
use crate::compare::{write_csv, write_csv_at};
use crate::effective::effective_text;
use crate::text::mail::{write_compare_mail, Setup, Side};
use crate::text::{paired_compare_table, write_compare_table, TableContext};
use crate::{CompareSpec, ComparedPoint};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    /// The reference table's layout plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
    /// A plain-text table no wider than 72 columns, the setup and the
    /// verdict, as a benchmark is posted to qemu-devel.
    Mail,
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
    /// What the runs read and wrote, for the mail's setup.
    pub disk: String,
    /// On qemu: each side's variant (baseline, candidate).
    pub qemu: Box<[Option<pollwise_qemu::VariantInfo>; 2]>,
    /// Warm-up before each run's measured time (the qemu backend's).
    pub warmup_ms: Option<u64>,
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
            (Compared::Sim(s), CompareFormat::Mail) => {
                write_compare_mail(out, &s.points, &s.mail_setup(), s.bar)?
            }
            (Compared::Paired(p), CompareFormat::Mail) => {
                write_compare_mail(out, &p.points, &p.mail_setup(), p.bar)?
            }
        }
        Ok(())
    }
}

/// "3000 ms" or "1000/3000 ms": the run lengths of the points.
fn durations(points: &[ComparedPoint]) -> String {
    let mut d: Vec<u64> = points.iter().map(|p| p.workload.duration_ms).collect();
    d.sort_unstable();
    d.dedup();
    let d: Vec<String> = d.iter().map(u64::to_string).collect();
    format!("{} ms", d.join("/"))
}

impl SimCompared {
    fn mail_setup(&self) -> Setup {
        let side = |p: &Params| Side {
            name: p.kind().to_string(),
            params: effective_text(p),
            ..Side::default()
        };
        let preset = self
            .points
            .first()
            .and_then(|p| p.baseline.first())
            .map_or(String::new(), |r| r.preset.clone());
        let runs = self.points.first().map_or(0, |p| p.baseline.len() as u64);
        Setup {
            backend: format!("sim: SIMULATED, not measured (pollwise's model, preset {preset})"),
            before: side(&self.baseline),
            after: side(&self.candidate),
            disk: format!("the simulated device of preset {preset}"),
            calibration: format!("preset {preset} (its device latencies and IOThread costs)"),
            repeats: format!(
                "{runs} run(s) per row and policy on seeds {}..{} (the same seeds for both); \
                 {} of virtual time per run after a {} ms warm-up",
                self.seed,
                self.seed + runs.saturating_sub(1),
                durations(&self.points),
                self.warmup_ms
            ),
        }
    }
}

impl Paired {
    fn mail_setup(&self) -> Setup {
        let side = |candidate: bool| {
            let (name, params) = self.spec.label(candidate);
            let info = self.qemu[usize::from(candidate)].as_ref();
            Side {
                name,
                params,
                qemu_version: info.map(|i| i.qemu_version.clone()),
                subjects: info.map(|i| i.subjects.clone()).unwrap_or_default(),
            }
        };
        let backend = match self.source {
            "qemu" => "qemu: measured in QEMU's own aio_poll(), block layer and linux-aio \
                       (pollwise's harness plays a virtio-blk guest; no VM)"
                .to_string(),
            other => format!("{other}: measured in pollwise's IOThread loop on a real disk"),
        };
        let warmup = self
            .warmup_ms
            .map(|w| format!(" after a {w} ms warm-up"))
            .unwrap_or_default();
        Setup {
            backend,
            before: side(false),
            after: side(true),
            disk: self.disk.clone(),
            calibration: "none: both sides measured, nothing simulated".into(),
            repeats: format!(
                "{} interleaved pair(s) per row (before/after, then after/before, ...) \
                 after one discarded warm-up run; {} per run{warmup}",
                self.spec.repeats,
                durations(&self.points)
            ),
        }
    }
}
