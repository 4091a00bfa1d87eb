//! The one place for the statistics experiments report: means, spreads,
//! percentage differences, medians, a confidence interval for a paired
//! difference, and the verdict against an acceptance bar.

use pollwise_core::RunRow;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// The arithmetic mean; 0 for no values (an empty set of changes is no
/// change).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// The sample standard deviation (divisor n - 1); 0 for fewer than two
/// values, where no spread can be measured.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let n = values.len() as f64;
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// `cand` relative to `base`, in percent: `100 (cand - base) / base`.
///
/// The one rule for a zero baseline: if both are zero there is no change
/// (0); if only the baseline is zero the relative change is unbounded and
/// the result is +infinity or -infinity with the sign of `cand`, so it is
/// never mistaken for "no change" and fails any finite acceptance bar.
pub fn pct_diff(base: f64, cand: f64) -> f64 {
    if base == 0.0 {
        if cand == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(cand)
        }
    } else {
        100.0 * (cand - base) / base
    }
}

/// The median (the mean of the two middle values for an even count); NaN
/// for no values.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// A two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Resamples of [`paired_ci`].
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// A confidence interval for the mean of paired differences (e.g. the
/// per-repeat IOPS change of a candidate against its baseline), by the
/// **percentile bootstrap**: [`BOOTSTRAP_RESAMPLES`] resamples of the
/// differences with replacement, drawn from a PCG generator seeded with
/// `seed` (so the same data and seed give the same interval), and the
/// `(1 - level) / 2` and `(1 + level) / 2` quantiles of their means.
///
/// `None` for fewer than two differences (nothing to resample) or a level
/// outside (0, 1). With few pairs the percentile bootstrap is narrow; the
/// caller should not read much into an interval of two or three pairs.
pub fn paired_ci(diffs: &[f64], level: f64, seed: u64) -> Option<Interval> {
    if diffs.len() < 2 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let n = diffs.len();
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((BOOTSTRAP_RESAMPLES - 1) as f64 * q).round() as usize];
    Some(Interval {
        lo: at((1.0 - level) / 2.0),
        hi: at((1.0 + level) / 2.0),
    })
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

/// The mean of several runs of one point (repeats or seeds): every metric
/// averaged, `abrupt_resets` rounded to the nearest whole count, the
/// descriptive columns taken from the first run. `None` for no runs.
pub fn mean_row(rows: &[RunRow]) -> Option<RunRow> {
    let first = rows.first()?;
    let n = rows.len() as f64;
    let mean = |f: fn(&RunRow) -> f64| rows.iter().map(f).sum::<f64>() / n;
    Some(RunRow {
        iops: mean(|r| r.iops),
        mb_per_s: mean(|r| r.mb_per_s),
        lat_mean_us: mean(|r| r.lat_mean_us),
        lat_p50_us: mean(|r| r.lat_p50_us),
        lat_p99_us: mean(|r| r.lat_p99_us),
        lat_p999_us: mean(|r| r.lat_p999_us),
        iothread_cpu_pct: mean(|r| r.iothread_cpu_pct),
        poll_cpu_pct: mean(|r| r.poll_cpu_pct),
        kicks_per_s: mean(|r| r.kicks_per_s),
        wakeups_per_s: mean(|r| r.wakeups_per_s),
        window_mean_ns: mean(|r| r.window_mean_ns),
        window_zero_frac: mean(|r| r.window_zero_frac),
        abrupt_resets: (rows.iter().map(|r| r.abrupt_resets).sum::<u64>() as f64 / n).round()
            as u64,
        ..first.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd_by_hand() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert_eq!(mean(&[]), 0.0);
        // Deviations -2, -1, 3: squares 4 + 1 + 9 = 14, / (3 - 1) = 7.
        assert_eq!(sample_sd(&[1.0, 2.0, 6.0]), 7f64.sqrt());
        // +10 and -10: mean 0, (100 + 100) / 1 = 200.
        assert_eq!(sample_sd(&[10.0, -10.0]), 200f64.sqrt());
        assert_eq!(sample_sd(&[5.0]), 0.0);
    }

    #[test]
    fn pct_diff_and_its_zero_baseline_rule() {
        assert_eq!(pct_diff(100.0, 110.0), 10.0);
        assert_eq!(pct_diff(200.0, 150.0), -25.0);
        assert_eq!(pct_diff(150.0, 145.0), 100.0 * -5.0 / 150.0);
        assert_eq!(pct_diff(0.0, 0.0), 0.0);
        assert_eq!(pct_diff(0.0, 3.0), f64::INFINITY);
        assert_eq!(pct_diff(0.0, -3.0), f64::NEG_INFINITY);
    }

    #[test]
    fn median_odd_even_and_unsorted() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

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

    #[test]
    fn mean_row_averages_metrics_and_keeps_labels() {
        let row = |iops, resets| RunRow {
            iops,
            abrupt_resets: resets,
            ..crate::test_row()
        };
        let m = mean_row(&[row(100.0, 1), row(200.0, 2)]).unwrap();
        assert_eq!(m.iops, 150.0);
        assert_eq!(m.abrupt_resets, 2); // 1.5 rounds half away from zero
        assert!(mean_row(&[]).is_none());
    }
}
