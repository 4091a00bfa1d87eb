//! The confirmation on a real backend: stock against one candidate at a
//! time, interleaved pairs ([`crate::compare`]), judged by the one verdict
//! ([`crate::acceptance::judge`]). Pairs come in batches: three first, then
//! as many more as the measured spread says the unclear rows need
//! ([`repeats_to_resolve`]), while the budget lasts. A candidate whose
//! interval shows a loss beyond the bar is rejected and the next tried.

use std::time::{Duration, Instant};

use pollwise_core::{Params, Workload};

use crate::acceptance::{judge, Acceptance, Overall, RowOutcome};
use crate::compared::ComparedPoint;
use crate::stats::repeats_to_resolve;
use crate::{Backend, CompareSpec, LabError, Progress};

/// Pairs of the first batch of every candidate.
pub const FIRST_BATCH: u32 = 3;
/// Pairs at most per candidate, whatever the spread.
pub const MAX_PAIRS: u32 = 30;

/// How one candidate's confirmation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every row's interval lies within the bar.
    Confirmed,
    /// A row's interval lies wholly beyond the bar.
    Rejected,
    /// The budget ran out with rows still unclear.
    Unresolved,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Rejected => "rejected",
            Outcome::Unresolved => "unresolved (budget spent)",
        }
    }
}

/// One candidate measured against stock.
#[derive(Clone, Debug)]
pub struct Measured {
    pub params: Params,
    pub points: Vec<ComparedPoint>,
    pub acceptance: Acceptance,
    pub outcome: Outcome,
    /// The same candidate against stock in QEMU's own loop, measured when
    /// the disk confirmed it and QEMU's variants are built.
    pub in_qemu: Option<Box<Measured>>,
}

impl Measured {
    /// Whether the setting holds: confirmed on the disk and not rejected
    /// in QEMU's loop (a QEMU verdict the budget left unclear does not
    /// overturn the disk's).
    pub fn holds(&self) -> bool {
        self.outcome == Outcome::Confirmed
            && self
                .in_qemu
                .as_ref()
                .is_none_or(|q| q.outcome != Outcome::Rejected)
    }

    /// The verdicts as the answer names them: the disk's, and QEMU's
    /// loop's beside it when it ran.
    pub fn verdicts(&self) -> String {
        match &self.in_qemu {
            Some(q) => format!(
                "{} on the disk, {} in QEMU's loop",
                self.outcome.name(),
                q.outcome.name()
            ),
            None => format!("{} on the disk", self.outcome.name()),
        }
    }
}

/// The time one pair of runs at every point takes, estimated before
/// anything ran: both policies' runs, a warm-up and a second of setup.
pub fn pair_estimate(workloads: &[Workload]) -> Duration {
    let ms: u64 = workloads.iter().map(|w| w.duration_ms).sum();
    Duration::from_millis(ms * 2 + ms / 2 + 1000)
}

/// What a confirmation runs on and against.
pub struct Confirm<'a> {
    pub backend: &'a dyn Backend,
    pub workloads: &'a [Workload],
    pub stock: &'a Params,
    pub bar_pct: f64,
    pub seed: u64,
    /// The time one pair at every point is expected to take before one
    /// ran ([`pair_estimate`] on the disk).
    pub pair: Duration,
    pub deadline: Instant,
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

impl Confirm<'_> {
    /// Stock against `candidate` until the verdict is clear or the budget
    /// is spent.
    pub fn candidate(&self, candidate: &Params) -> Result<Measured, LabError> {
        let mut points: Vec<ComparedPoint> = Vec::new();
        let mut next = FIRST_BATCH;
        let mut per_pair = self.pair;
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let affordable = (left.as_secs_f64() / per_pair.as_secs_f64()) as u32;
            let batch = next.min(affordable);
            if batch == 0 {
                return Ok(self.measured(candidate, points, Outcome::Unresolved));
            }
            let started = Instant::now();
            let new = self.batch(candidate, batch, pairs_done(&points))?;
            per_pair = started.elapsed() / batch;
            merge(&mut points, new);
            let a = judge(&points, self.bar_pct);
            let pairs = pairs_done(&points) as u32;
            // One pair is a point estimate: it neither confirms nor rejects.
            match (a.overall, a.point_estimates_only) {
                (Overall::Reject, false) => {
                    return Ok(self.measured(candidate, points, Outcome::Rejected))
                }
                (Overall::Accept, false) => {
                    return Ok(self.measured(candidate, points, Outcome::Confirmed))
                }
                _ => {}
            }
            let needed = pairs_needed(&points, &a, self.bar_pct);
            // A row with no I/O stays undefined however many pairs follow.
            if pairs >= MAX_PAIRS || a.count(RowOutcome::NoIo) > 0 {
                return Ok(self.measured(candidate, points, Outcome::Unresolved));
            }
            next = needed.saturating_sub(pairs).clamp(1, MAX_PAIRS - pairs);
        }
    }

    /// `repeats` more pairs; `done` pairs ran before (their seeds differ).
    fn batch(
        &self,
        candidate: &Params,
        repeats: u32,
        done: usize,
    ) -> Result<Vec<ComparedPoint>, LabError> {
        let spec = CompareSpec {
            workloads: self.workloads.to_vec(),
            baseline: self.stock.clone(),
            candidate: candidate.clone(),
            seed: self.seed.saturating_add(done as u64),
            repeats,
            variants: [None, None],
        };
        crate::compare(self.backend, &spec, self.progress)
    }

    fn measured(&self, params: &Params, points: Vec<ComparedPoint>, outcome: Outcome) -> Measured {
        Measured {
            params: params.clone(),
            acceptance: judge(&points, self.bar_pct),
            points,
            outcome,
            in_qemu: None,
        }
    }
}

/// Pairs measured so far at each point.
fn pairs_done(points: &[ComparedPoint]) -> usize {
    points.first().map_or(0, |p| p.baseline.len())
}

/// `new`'s runs appended to `points`' (the same workloads, in order).
fn merge(points: &mut Vec<ComparedPoint>, new: Vec<ComparedPoint>) {
    if points.is_empty() {
        *points = new;
        return;
    }
    for (p, n) in points.iter_mut().zip(new) {
        p.baseline.extend(n.baseline);
        p.candidate.extend(n.candidate);
    }
}

/// Pairs the unclear rows need to resolve their distance to the bar, at
/// their measured spread (the largest over them).
pub fn pairs_needed(points: &[ComparedPoint], a: &Acceptance, bar_pct: f64) -> u32 {
    points
        .iter()
        .zip(&a.rows)
        .filter(|(_, r)| r.outcome != RowOutcome::Within || r.ci.is_none())
        .map(|(p, _)| {
            let margin = (p.iops_paired().median + bar_pct).abs().max(bar_pct / 4.0);
            repeats_to_resolve(p.iops_diff_sd_pct(), margin).unwrap_or(MAX_PAIRS)
        })
        .max()
        .unwrap_or(FIRST_BATCH)
}
