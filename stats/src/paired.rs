//! Paired differences summarised for a reader, and the verdict against an
//! acceptance bar.

use crate::{median, paired_median_ci, Interval};

/// How [`PairedDiff::of`] computes its interval, for output that says
/// which method it used.
pub const PAIRED_CI_METHOD: &str =
    "95% percentile bootstrap (4000 resamples) of the median of the paired per-repeat differences";

/// Paired per-repeat differences summarised for a reader: how many, their
/// median, a 95% interval for the median ([`paired_median_ci`]) and the
/// verdict against a noise bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDiff {
    pub n: usize,
    pub median: f64,
    /// `None` with fewer than two pairs.
    pub ci: Option<Interval>,
}

impl PairedDiff {
    pub fn of(diffs: &[f64]) -> PairedDiff {
        PairedDiff {
            n: diffs.len(),
            median: median(diffs),
            ci: paired_median_ci(diffs, 0.95, 1),
        }
    }
    /// Whether the interval excludes zero (the sign is resolved).
    pub fn resolved(&self) -> bool {
        self.ci.is_some_and(|ci| ci.excludes_zero())
    }
    /// The verdict against `bar` (see [`Verdict::of`]); `None` without an
    /// interval.
    pub fn verdict(&self, bar: f64, higher_is_better: bool) -> Option<Verdict> {
        self.ci.map(|ci| Verdict::of(ci, bar, higher_is_better))
    }
}

/// Pairs needed so that a true paired difference of `effect` is resolved
/// (its 95% interval excludes zero) with 80% power, when per-pair
/// differences have sample sd `sd` (from A/A runs): the normal-theory
/// `n = ((1.96 + 0.84) * 1.253 * sd / effect)^2`, where 1.253 is the
/// median's standard error relative to the mean's for normal data. At
/// least 2 (an interval needs two pairs); `None` if `effect` is not
/// positive.
pub fn repeats_to_resolve(sd: f64, effect: f64) -> Option<u32> {
    if effect.is_nan() || effect <= 0.0 || !sd.is_finite() {
        return None;
    }
    let n = ((1.96 + 0.84) * 1.253 * sd.abs() / effect).powi(2).ceil();
    Some((n as u32).max(2))
}

/// What a paired comparison shows against an acceptance bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is worse than the bar.
    Regression,
    /// The whole interval is better than the bar.
    Improvement,
    /// The interval reaches inside the bar: the data cannot tell.
    NoResolvableDifference,
}

impl Verdict {
    /// `ci` is a change in percent; `bar` (>= 0) is the smallest change in
    /// percent that counts, in either direction (0: any resolvable change).
    /// `higher_is_better` is true for IOPS, false for CPU or latency.
    pub fn of(ci: Interval, bar: f64, higher_is_better: bool) -> Verdict {
        let (lo, hi) = if higher_is_better {
            (ci.lo, ci.hi)
        } else {
            (-ci.hi, -ci.lo)
        };
        if hi < -bar {
            Verdict::Regression
        } else if lo > bar {
            Verdict::Improvement
        } else {
            Verdict::NoResolvableDifference
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoResolvableDifference => "no resolvable difference",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_diff_of_nine_good_pairs_and_one_wild() {
        let d = [5.0, 5.5, 6.0, 6.5, 7.0, 5.2, 6.2, 6.8, 5.8, -80.0];
        let p = PairedDiff::of(&d);
        assert_eq!(p.n, 10);
        assert_eq!(p.median, (5.8 + 6.0) / 2.0);
        assert!(p.resolved());
        assert_eq!(p.verdict(1.0, true), Some(Verdict::Improvement));
        assert!(!PairedDiff::of(&[-1.0, 1.0, -2.0, 2.0]).resolved());
        assert!(!PairedDiff::of(&[3.0]).resolved());
        assert_eq!(PairedDiff::of(&[3.0]).verdict(1.0, true), None);
    }

    #[test]
    fn repeats_to_resolve_by_hand() {
        // sd 5%, effect 5%: (2.8 * 1.253)^2 = 12.31 -> 13.
        assert_eq!(repeats_to_resolve(5.0, 5.0), Some(13));
        // Halving the spread quarters the count.
        assert_eq!(repeats_to_resolve(2.5, 5.0), Some(4));
        assert_eq!(repeats_to_resolve(0.0, 5.0), Some(2));
        assert_eq!(repeats_to_resolve(1.0, 0.0), None);
        assert_eq!(repeats_to_resolve(f64::INFINITY, 5.0), None);
    }

    #[test]
    fn verdict_against_the_bar() {
        let ci = |lo, hi| Interval { lo, hi };
        use Verdict::*;
        assert_eq!(Verdict::of(ci(-9.0, -6.0), 5.0, true), Regression);
        assert_eq!(
            Verdict::of(ci(-9.0, -4.0), 5.0, true),
            NoResolvableDifference
        );
        assert_eq!(Verdict::of(ci(6.0, 9.0), 5.0, true), Improvement);
        // Less CPU is better: a -9..-6% CPU change is an improvement.
        assert_eq!(Verdict::of(ci(-9.0, -6.0), 5.0, false), Improvement);
        assert_eq!(Verdict::of(ci(0.5, 1.0), 0.0, false), Regression);
        assert_eq!(
            Verdict::of(ci(f64::NEG_INFINITY, f64::NEG_INFINITY), 5.0, true),
            Regression
        );
    }
}
