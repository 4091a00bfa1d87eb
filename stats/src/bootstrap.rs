//! The percentile bootstrap, one loop for any statistic.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::{mean, median, quantile_sorted};

/// A two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// The interval `[point - half, point + half]` (`half` >= 0).
    pub fn around(point: f64, half: f64) -> Interval {
        Interval {
            lo: point - half.abs(),
            hi: point + half.abs(),
        }
    }
    /// The smallest interval holding this one and `point`.
    pub fn including(self, point: f64) -> Interval {
        Interval {
            lo: self.lo.min(point),
            hi: self.hi.max(point),
        }
    }
    /// This interval with `by` (>= 0) added on each side.
    pub fn widened(self, by: f64) -> Interval {
        Interval {
            lo: self.lo - by.abs(),
            hi: self.hi + by.abs(),
        }
    }
    /// Whether the two intervals share a point (closed intervals: touching
    /// counts).
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
    /// Whether the interval excludes zero: the sign it gives is resolved.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// Resamples of every bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// A confidence interval for `statistic` of `data` by the **percentile
/// bootstrap**: [`BOOTSTRAP_RESAMPLES`] resamples of the data with
/// replacement, drawn from a PCG generator seeded with `seed` (so the same
/// data, statistic and seed give the same interval), and the
/// `(1 - level) / 2` and `(1 + level) / 2` quantiles ([`crate::quantile`])
/// of the statistic over the resamples.
///
/// `None` for fewer than two values (nothing to resample) or a level
/// outside (0, 1). With few values the percentile bootstrap is narrow; the
/// caller should not read much into an interval of two or three.
pub fn bootstrap_ci(
    data: &[f64],
    level: f64,
    seed: u64,
    mut statistic: impl FnMut(&[f64]) -> f64,
) -> Option<Interval> {
    if data.len() < 2 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let n = data.len();
    let mut sample = vec![0.0; n];
    let mut stats: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for s in sample.iter_mut() {
                *s = data[rng.random_range(0..n)];
            }
            statistic(&sample)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    Some(Interval {
        lo: quantile_sorted(&stats, (1.0 - level) / 2.0),
        hi: quantile_sorted(&stats, (1.0 + level) / 2.0),
    })
}

/// A confidence interval for the mean of paired differences (e.g. the
/// per-repeat IOPS change of a candidate against its baseline):
/// [`bootstrap_ci`] of [`mean`].
pub fn paired_ci(diffs: &[f64], level: f64, seed: u64) -> Option<Interval> {
    bootstrap_ci(diffs, level, seed, mean)
}

/// A confidence interval for the **median** of paired differences:
/// [`bootstrap_ci`] of [`median`], which one disturbed repeat (a burst of
/// other load on a shared VM) moves far less than the mean.
pub fn paired_median_ci(diffs: &[f64], level: f64, seed: u64) -> Option<Interval> {
    bootstrap_ci(diffs, level, seed, median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_sd;

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_is_reproducible() {
        let d = [-1.0, 0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 0.0];
        let ci = paired_ci(&d, 0.95, 7).unwrap();
        assert_eq!(paired_ci(&d, 0.95, 7), Some(ci));
        let m = mean(&d); // 1.5
        assert!(ci.lo < m && m < ci.hi, "{ci:?}");
        // Resample means can never leave [min, max] of the data.
        assert!(ci.lo >= -1.0 && ci.hi <= 4.0, "{ci:?}");
        // Constant differences: no spread, the interval is the point.
        assert_eq!(
            paired_ci(&[2.0, 2.0, 2.0], 0.9, 1),
            Some(Interval { lo: 2.0, hi: 2.0 })
        );
        assert_eq!(paired_ci(&[1.0], 0.95, 1), None);
        assert_eq!(paired_ci(&d, 1.0, 1), None);
        assert_eq!(paired_ci(&d, 0.0, 1), None);
    }

    #[test]
    fn the_statistic_is_a_parameter() {
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        // The same resamples (same seed) under three statistics: the
        // maximum's interval sits above the mean's, the minimum's below.
        let max = |s: &[f64]| s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
        let (hi, mid, lo) = (
            bootstrap_ci(&d, 0.9, 5, max).unwrap(),
            bootstrap_ci(&d, 0.9, 5, mean).unwrap(),
            bootstrap_ci(&d, 0.9, 5, min).unwrap(),
        );
        assert!(hi.lo > mid.lo && mid.lo > lo.lo, "{hi:?} {mid:?} {lo:?}");
        assert_eq!(hi.hi, 8.0);
        assert_eq!(lo.lo, 1.0);
        // A statistic that ignores the data gives a point.
        let c = bootstrap_ci(&d, 0.9, 5, |_| 3.5).unwrap();
        assert_eq!((c.lo, c.hi), (3.5, 3.5));
        // The named wrappers are the generic loop with mean and median.
        assert_eq!(paired_ci(&d, 0.9, 5), Some(mid));
        assert_eq!(
            paired_median_ci(&d, 0.9, 5),
            bootstrap_ci(&d, 0.9, 5, median)
        );
        // The sd is a statistic too: its interval is non-negative.
        let sd = bootstrap_ci(&d, 0.9, 5, sample_sd).unwrap();
        assert!(sd.lo >= 0.0 && sd.hi > sd.lo, "{sd:?}");
    }

    #[test]
    fn median_interval_ignores_one_wild_pair() {
        // Nine pairs near +6% and one disturbed repeat at -80%: the mean's
        // interval reaches below zero, the median's does not.
        let mut d = vec![5.0, 5.5, 6.0, 6.5, 7.0, 5.2, 6.2, 6.8, 5.8];
        d.push(-80.0);
        let mean_ci = paired_ci(&d, 0.95, 3).unwrap();
        let med_ci = paired_median_ci(&d, 0.95, 3).unwrap();
        assert!(mean_ci.lo < 0.0, "{mean_ci:?}");
        assert!(med_ci.lo > 0.0 && med_ci.hi <= 7.0, "{med_ci:?}");
        assert_eq!(paired_median_ci(&d, 0.95, 3), Some(med_ci));
        assert_eq!(paired_median_ci(&[1.0], 0.95, 3), None);
    }
}
