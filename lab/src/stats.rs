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

/// How [`paired_median_ci`] computes its interval, for output that says
/// which method it used.
pub const PAIRED_CI_METHOD: &str =
    "95% percentile bootstrap (4000 resamples) of the median of the paired per-repeat differences";

/// A confidence interval for the **median** of paired differences, by the
/// percentile bootstrap: as [`paired_ci`], but each resample's statistic is
/// its median, which one disturbed repeat (a burst of other load on a
/// shared VM) moves far less than the mean. `None` as for [`paired_ci`].
pub fn paired_median_ci(diffs: &[f64], level: f64, seed: u64) -> Option<Interval> {
    if diffs.len() < 2 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let n = diffs.len();
    let mut sample = vec![0.0; n];
    let mut medians: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for s in sample.iter_mut() {
                *s = diffs[rng.random_range(0..n)];
            }
            median(&sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((BOOTSTRAP_RESAMPLES - 1) as f64 * q).round() as usize];
    Some(Interval {
        lo: at((1.0 - level) / 2.0),
        hi: at((1.0 + level) / 2.0),
    })
}

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
        self.ci.is_some_and(|ci| ci.lo > 0.0 || ci.hi < 0.0)
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

/// Paired device runs per point by default (`realdev compare`,
/// `validate`). With [`repeats_to_resolve`], ten pairs resolve a 5% IOPS
/// change when the paired differences' sd is at most 4.5%. On the 2-vCPU
/// shared VM this project is developed on, A/A runs (qemu against itself,
/// docs/validation.md) measured a paired sd of 40-85% while other tenants
/// kept both CPUs busy, which would need hundreds to thousands of pairs:
/// no default can promise 5% there, so the output states the spread and
/// the pairs it would need (n(5%)) instead, and the verdict stays "no
/// resolvable difference" until the data can tell.
pub const DEFAULT_DEVICE_REPEATS: u32 = 10;

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
        let p = PairedDiff::of(&d);
        assert_eq!(p.n, 10);
        assert_eq!(p.median, (5.8 + 6.0) / 2.0);
        assert!(p.resolved());
        assert_eq!(p.verdict(1.0, true), Some(Verdict::Improvement));
        assert!(!PairedDiff::of(&[-1.0, 1.0, -2.0, 2.0]).resolved());
        assert!(!PairedDiff::of(&[3.0]).resolved());
    }

    #[test]
    fn repeats_to_resolve_by_hand() {
        // sd 5%, effect 5%: (2.8 * 1.253)^2 = 12.31 -> 13.
        assert_eq!(repeats_to_resolve(5.0, 5.0), Some(13));
        // Halving the spread quarters the count.
        assert_eq!(repeats_to_resolve(2.5, 5.0), Some(4));
        assert_eq!(repeats_to_resolve(0.0, 5.0), Some(2));
        assert_eq!(repeats_to_resolve(1.0, 0.0), None);
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
