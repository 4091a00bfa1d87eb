//! What `validate` judges by: the targets, a prediction's own interval,
//! the agreement rule for a change, and whether the model of this host can
//! be trusted.

use crate::stats::{Interval, PairedDiff};

/// Absolute agreement targets (issue 14's for the baseline policy on the
/// machine at hand): IOPS within 15%, IOThread CPU within 10 points.
pub const IOPS_TOLERANCE_PCT: f64 = 15.0;
pub const CPU_TOLERANCE_POINTS: f64 = 10.0;
/// A predicted IOPS change outside the measured interval still agrees if
/// it is within this many percentage points of the measured median.
pub const DIFF_TOLERANCE_POINTS: f64 = 3.0;
/// A predicted CPU change agrees within this many points of the measured
/// median.
pub const CPU_DIFF_TOLERANCE_POINTS: f64 = 10.0;

/// A predicted change with its own interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The change of the means over the seeds.
    pub value: f64,
    /// The seeds' 95% interval for the median paired change (with one
    /// seed, the value itself), holding the value, widened by the
    /// calibration's spread.
    pub interval: Interval,
}

impl Prediction {
    /// `value` and the seeds' `paired` changes, widened on each side by
    /// half the calibration's `spread_pct` of the change: a disk known to
    /// within +-spread/2 % gives, to first order, a change known to within
    /// the same fraction of itself.
    pub(crate) fn of(value: f64, paired: &PairedDiff, spread_pct: f64) -> Prediction {
        let seeds = paired
            .ci
            .unwrap_or(Interval::around(value, 0.0))
            .including(value);
        Prediction {
            value,
            interval: seeds.widened(value.abs() * spread_pct / 200.0),
        }
    }
    /// The sign is resolved: the interval excludes zero.
    pub fn resolved(&self) -> bool {
        self.interval.excludes_zero()
    }
}

/// The interval of a measured change: its 95% interval, holding the
/// median; with one run, the median itself.
fn measured_interval(m: &PairedDiff) -> Interval {
    m.ci.unwrap_or(Interval::around(m.median, 0.0))
        .including(m.median)
}

/// The agreement rule for a predicted change against a measured one: the
/// two intervals overlap, or the prediction lies within `tolerance` of the
/// measured median (the floor that keeps one run, whose interval is a
/// point, from needing an exact hit).
pub fn diff_agrees(predicted: &Prediction, measured: &PairedDiff, tolerance: f64) -> bool {
    predicted.interval.overlaps(&measured_interval(measured))
        || (predicted.value - measured.median).abs() <= tolerance
}

/// How many pairs and points pass each check of a validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub pairs: usize,
    pub iops_ok: usize,
    /// Pairs whose measured interval excludes zero, and of those, how
    /// many the prediction has the sign of.
    pub resolved: usize,
    pub sign_ok: usize,
    pub cpu_ok: usize,
    pub points: usize,
    /// Baseline points within both absolute targets.
    pub absolute_ok: usize,
    /// Baseline points where the model moves past a target when the
    /// calibrated wake-ups drift (`steep::Steepness`); `None` where that
    /// was not run.
    pub steep: Option<usize>,
}

/// Share of (policy, point) pairs whose change must agree for the model to
/// be trusted (the target), for IOPS and for CPU.
pub const PAIRS_AGREE_TARGET_PCT: f64 = 80.0;

/// A check of [`Tally::failures`] that failed, with its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustFailure {
    /// The baseline is outside the absolute targets at `off` of `points`.
    Absolute { off: usize, points: usize },
    /// The prediction has the wrong sign at `wrong` pairs where both
    /// intervals are resolved.
    WrongSign { wrong: usize, resolved: usize },
    /// IOPS changes agree on fewer than [`PAIRS_AGREE_TARGET_PCT`].
    IopsChanges { ok: usize, pairs: usize },
    /// CPU changes agree on fewer than [`PAIRS_AGREE_TARGET_PCT`].
    CpuChanges { ok: usize, pairs: usize },
    /// The model's baseline moves past a target at `steep` of `points`
    /// when the calibrated wake-ups drift by `steep::WAKEUP_DRIFT`: what
    /// it predicts there holds for the hour of its calibration only.
    Steep { steep: usize, points: usize },
    /// Nothing to judge: no point, or no pair.
    Empty,
}

impl Tally {
    /// Whether this host's model can be trusted: every check in order of
    /// what a user relies on first (the disk's own numbers, then the
    /// changes' signs, then their sizes); the failures, first the most
    /// basic. Empty: trusted.
    pub fn failures(&self) -> Vec<TrustFailure> {
        let mut failed = Vec::new();
        if self.points == 0 || self.pairs == 0 {
            failed.push(TrustFailure::Empty);
        }
        if self.absolute_ok < self.points {
            failed.push(TrustFailure::Absolute {
                off: self.points - self.absolute_ok,
                points: self.points,
            });
        }
        if self.sign_ok < self.resolved {
            failed.push(TrustFailure::WrongSign {
                wrong: self.resolved - self.sign_ok,
                resolved: self.resolved,
            });
        }
        let enough = |ok: usize| 100.0 * ok as f64 >= PAIRS_AGREE_TARGET_PCT * self.pairs as f64;
        if !enough(self.iops_ok) {
            failed.push(TrustFailure::IopsChanges {
                ok: self.iops_ok,
                pairs: self.pairs,
            });
        }
        if !enough(self.cpu_ok) {
            failed.push(TrustFailure::CpuChanges {
                ok: self.cpu_ok,
                pairs: self.pairs,
            });
        }
        if let Some(steep @ 1..) = self.steep {
            failed.push(TrustFailure::Steep {
                steep,
                points: self.points,
            });
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point_prediction(value: f64) -> Prediction {
        Prediction {
            value,
            interval: Interval::around(value, 0.0),
        }
    }

    #[test]
    fn a_prediction_agrees_when_the_intervals_overlap_or_near_the_median() {
        let m = PairedDiff {
            n: 10,
            median: -8.0,
            ci: Some(Interval {
                lo: -12.0,
                hi: -6.0,
            }),
        };
        let tol = DIFF_TOLERANCE_POINTS;
        assert!(diff_agrees(&point_prediction(-11.9), &m, tol));
        assert!(diff_agrees(&point_prediction(-6.0), &m, tol));
        // Outside the interval and more than 3 points from the median.
        assert!(!diff_agrees(&point_prediction(-4.5), &m, tol));
        // The same value with an interval of its own that reaches -6.
        let wide = Prediction {
            value: -4.5,
            interval: Interval { lo: -6.0, hi: -3.0 },
        };
        assert!(diff_agrees(&wide, &m, tol));
        // One run: the median is the measured interval.
        let one = PairedDiff { ci: None, ..m };
        assert!(diff_agrees(&point_prediction(-10.0), &one, tol));
        assert!(!diff_agrees(&point_prediction(0.0), &one, tol));
    }

    #[test]
    fn the_calibration_spread_widens_the_prediction_by_half_of_itself() {
        let seeds = PairedDiff {
            n: 3,
            median: -10.0,
            ci: Some(Interval {
                lo: -12.0,
                hi: -9.0,
            }),
        };
        // 40% spread: +-20% of the 10-point change, 2 points each side.
        let p = Prediction::of(-10.0, &seeds, 40.0);
        assert_eq!(
            p.interval,
            Interval {
                lo: -14.0,
                hi: -7.0
            }
        );
        assert!(p.resolved());
        // One seed and no spread: the value alone.
        let one = PairedDiff { ci: None, ..seeds };
        assert_eq!(
            Prediction::of(-10.0, &one, 0.0).interval,
            Interval::around(-10.0, 0.0)
        );
        // A wide spread can leave the sign unresolved.
        assert!(!Prediction::of(-10.0, &seeds, 200.0).resolved());
    }

    #[test]
    fn the_trust_checks_name_what_failed_basic_first() {
        let all = Tally {
            pairs: 10,
            iops_ok: 8,
            resolved: 4,
            sign_ok: 4,
            cpu_ok: 8,
            points: 4,
            absolute_ok: 4,
            steep: Some(0),
        };
        assert_eq!(all.failures(), []);
        // Steep last, and only where it was checked.
        let steep = Tally {
            steep: Some(1),
            ..all
        };
        assert_eq!(
            steep.failures(),
            [TrustFailure::Steep {
                steep: 1,
                points: 4
            }]
        );
        let unchecked = Tally { steep: None, ..all };
        assert_eq!(unchecked.failures(), []);
        let t = Tally {
            iops_ok: 7,
            sign_ok: 3,
            absolute_ok: 0,
            ..all
        };
        assert_eq!(
            t.failures(),
            [
                TrustFailure::Absolute { off: 4, points: 4 },
                TrustFailure::WrongSign {
                    wrong: 1,
                    resolved: 4
                },
                TrustFailure::IopsChanges { ok: 7, pairs: 10 },
            ]
        );
        let empty = Tally {
            pairs: 0,
            iops_ok: 0,
            resolved: 0,
            sign_ok: 0,
            cpu_ok: 0,
            points: 0,
            absolute_ok: 0,
            steep: None,
        };
        assert_eq!(empty.failures(), [TrustFailure::Empty]);
    }
}
