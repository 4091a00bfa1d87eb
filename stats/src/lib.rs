//! The one place for the statistics pollwise reports: means, spreads,
//! medians and quantiles, percentage changes with one rule for a zero
//! baseline, a bootstrap confidence interval for any statistic, and the
//! verdict of a paired comparison against an acceptance bar.
//!
//! Every crate that summarises numbers (the lab, the plots, the device
//! calibration) uses these functions; none keeps its own copy, so a median
//! or a percentage change means the same thing in every output. The only
//! dependency is a seeded PCG generator, so a bootstrap interval is
//! reproducible from its data and seed.

mod bootstrap;
mod paired;

pub use bootstrap::{bootstrap_ci, paired_ci, paired_median_ci, Interval, BOOTSTRAP_RESAMPLES};
pub use paired::{repeats_to_resolve, PairedDiff, Verdict, PAIRED_CI_METHOD};

/// The arithmetic mean, summed in slice order; 0 for no values (an empty
/// set of changes is no change).
pub fn mean(values: &[f64]) -> f64 {
    mean_of(values.iter().copied())
}

/// [`mean`] of numbers an iterator yields, summed in order (so the same
/// numbers give the same bits either way).
pub fn mean_of(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut n = 0usize;
    let sum: f64 = values.into_iter().inspect(|_| n += 1).sum();
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
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

/// The median: the middle value, or the mean of the two middle values for
/// an even count (so it equals [`quantile`] at 0.5); NaN for no values.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let v = sorted(values);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// The `q` quantile (0 <= q <= 1) by linear interpolation between the
/// order statistics at rank `(n - 1) q` (Hyndman and Fan's type 7, the
/// default of R and NumPy): the minimum at 0, the median at 0.5, the
/// maximum at 1. NaN for no values or `q` outside [0, 1].
pub fn quantile(values: &[f64], q: f64) -> f64 {
    quantile_sorted(&sorted(values), q)
}

/// Several quantiles of one sample ([`quantile`] at each of `qs`), with
/// one sort.
pub fn quantiles<const N: usize>(values: &[f64], qs: [f64; N]) -> [f64; N] {
    let v = sorted(values);
    qs.map(|q| quantile_sorted(&v, q))
}

/// [`quantile`] of values already sorted in ascending order (saves the
/// sort when several quantiles of one sample are wanted).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let rank = (sorted.len() - 1) as f64 * q;
    let below = rank.floor() as usize;
    let frac = rank - below as f64;
    match sorted.get(below + 1) {
        Some(&next) if frac > 0.0 => sorted[below] + frac * (next - sorted[below]),
        _ => sorted[below],
    }
}

/// The values in ascending order (NaN last, by `f64::total_cmp`).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The range, max - min; 0 for no values.
pub fn range(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

/// The spread of repeats of one measurement: the range relative to the
/// median, in percent; 0 for fewer than two values. A median at or below
/// zero has no relative spread: +infinity unless every value is equal
/// (then 0), the rule of [`pct_diff`].
pub fn spread_pct(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let (med, r) = (median(values), range(values));
    if med <= 0.0 {
        return if r == 0.0 { 0.0 } else { f64::INFINITY };
    }
    100.0 * r / med
}

/// Repeats that fall into two groups with a gap between them: the sorted
/// values split at their widest gap between neighbours, when that gap is
/// at least `min_gap_pct` of the median and each side holds at least two
/// values. Returns each group's `(lowest, highest)`; `None` when the
/// repeats are one group (or fewer than four, or any is not finite). A
/// measurement whose repeats land in two states (a host that places its
/// threads two ways) has a mean that neither state shows.
pub fn two_groups(values: &[f64], min_gap_pct: f64) -> Option<((f64, f64), (f64, f64))> {
    if values.len() < 4 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let s = sorted(values);
    let (at, gap) = s
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i + 1, w[1] - w[0]))
        .skip(1)
        .take(s.len() - 3)
        .fold(
            (0, f64::NEG_INFINITY),
            |best, c| if c.1 > best.1 { c } else { best },
        );
    let med = median(&s);
    (med > 0.0 && gap >= med * min_gap_pct / 100.0)
        .then(|| ((s[0], s[at - 1]), (s[at], s[s.len() - 1])))
}

/// The two-sample Kolmogorov-Smirnov statistic: the largest distance,
/// over every value `x`, between the fractions of `a` and of `b` at or
/// below `x` (0: the same distribution, 1: no overlap at all). A sample
/// with no values is at distance 1 from one with values, and 0 from
/// another empty one. NaN values are ignored.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let clean = |v: &[f64]| {
        sorted(
            &v.iter()
                .copied()
                .filter(|x| !x.is_nan())
                .collect::<Vec<_>>(),
        )
    };
    let (a, b) = (clean(a), clean(b));
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return 1.0,
        _ => {}
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
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

/// `cand / base`, with [`pct_diff`]'s rule for a zero baseline: 1 (equal)
/// if both are zero, +infinity or -infinity with the sign of `cand` if
/// only the baseline is.
pub fn ratio(base: f64, cand: f64) -> f64 {
    if base == 0.0 {
        if cand == 0.0 {
            1.0
        } else {
            f64::INFINITY.copysign(cand)
        }
    } else {
        cand / base
    }
}

/// The least-squares line through `(x, y)` points: `(intercept, slope)`;
/// `None` for fewer than two points or when every x is the same.
pub fn line_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 2 {
        return None;
    }
    let mx = mean_of(points.iter().map(|p| p.0));
    let my = mean_of(points.iter().map(|p| p.1));
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_groups_split_at_the_widest_gap_with_two_values_a_side() {
        // The device's rounds of one point in two placements.
        let rounds = [10_778.0, 7_490.0, 9_700.0, 10_400.0, 7_677.0, 10_000.0];
        assert_eq!(
            two_groups(&rounds, 10.0),
            Some(((7_490.0, 7_677.0), (9_700.0, 10_778.0)))
        );
        // The gap (2,023) is 20.5% of the median (9,850): not 25%.
        assert_eq!(two_groups(&rounds, 25.0), None);
        // One group, or one outlier alone on a side, is not two groups.
        assert_eq!(two_groups(&[100.0, 101.0, 102.0, 103.0, 104.0], 1.0), None);
        assert_eq!(two_groups(&[100.0, 101.0, 102.0, 103.0, 200.0], 10.0), None);
        assert_eq!(two_groups(&[1.0, 1.0, 9.0], 10.0), None);
        assert_eq!(two_groups(&[1.0, 1.0, 9.0, f64::NAN], 10.0), None);
        assert_eq!(
            two_groups(&[1.0, 1.1, 9.0, 9.2], 10.0),
            Some(((1.0, 1.1), (9.0, 9.2)))
        );
    }

    #[test]
    fn line_fit_recovers_a_line_and_refuses_a_vertical_one() {
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&x| (x, 3.0 + 2.0 * x))
            .collect();
        let (a, b) = line_fit(&pts).unwrap();
        assert!((a - 3.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9, "{a} {b}");
        assert_eq!(line_fit(&[(1.0, 2.0), (1.0, 5.0)]), None);
        assert_eq!(line_fit(&[(1.0, 2.0)]), None);
    }

    #[test]
    fn mean_and_sample_sd_by_hand() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(mean_of([1.0, 2.0, 6.0].iter().map(|v| v * 2.0)), 6.0);
        assert_eq!(mean_of(std::iter::empty()), 0.0);
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
    fn ratio_follows_the_same_zero_rule() {
        assert_eq!(ratio(200.0, 150.0), 0.75);
        assert_eq!(ratio(0.0, 0.0), 1.0);
        assert_eq!(ratio(0.0, 2.0), f64::INFINITY);
        assert_eq!(ratio(0.0, -2.0), f64::NEG_INFINITY);
        assert_eq!(ratio(4.0, 0.0), 0.0);
    }

    #[test]
    fn ks_distance_by_hand() {
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), 0.0);
        // Disjoint: every value of a lies below every value of b.
        assert_eq!(ks_distance(&[1.0, 2.0], &[5.0, 6.0, 7.0]), 1.0);
        // At x = 2: F_a = 2/4, F_b = 0/2; at x = 3: 3/4 and 1/2.
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0]), 0.5);
        // Symmetric, and ties counted on both sides at once.
        assert_eq!(
            ks_distance(&[3.0, 5.0], &[1.0, 2.0, 3.0, 4.0]),
            ks_distance(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0])
        );
        assert_eq!(ks_distance(&[1.0, 1.0], &[1.0]), 0.0);
        assert_eq!(ks_distance(&[], &[]), 0.0);
        assert_eq!(ks_distance(&[], &[1.0]), 1.0);
    }

    #[test]
    fn intervals_overlap_widen_and_resolve() {
        let a = Interval { lo: -2.0, hi: 1.0 };
        assert!(a.overlaps(&Interval { lo: 1.0, hi: 4.0 }), "touching");
        assert!(!a.overlaps(&Interval { lo: 1.5, hi: 4.0 }));
        assert!(Interval { lo: 1.5, hi: 4.0 }.overlaps(&a.widened(0.5)));
        assert_eq!(a.including(3.0), Interval { lo: -2.0, hi: 3.0 });
        assert_eq!(Interval::around(2.0, 3.0), Interval { lo: -1.0, hi: 5.0 });
        assert!(!a.excludes_zero() && Interval { lo: 0.5, hi: 1.0 }.excludes_zero());
    }

    #[test]
    fn median_odd_even_and_unsorted() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        // Rank 99 q: 9.9 -> 10 + 0.9 (11 - 10).
        assert!((quantile(&v, 0.1) - 10.9).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.5), 50.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        let [p10, p50, p99] = quantiles(&v, [0.1, 0.5, 0.99]);
        assert_eq!(
            [p10, p50, p99],
            [quantile(&v, 0.1), 50.5, quantile(&v, 0.99)]
        );
        assert!(quantile(&[], 0.5).is_nan());
        assert!(quantile(&v, 1.5).is_nan());
        assert!(quantile(&v, f64::NAN).is_nan());
    }

    #[test]
    fn range_and_spread_by_hand() {
        assert_eq!(range(&[3.0, 9.0, 5.0]), 6.0);
        assert_eq!(range(&[]), 0.0);
        assert_eq!(spread_pct(&[90.0, 100.0, 110.0]), 20.0);
        // Even count: the median averages the middle two, 100.
        assert_eq!(spread_pct(&[90.0, 95.0, 105.0, 110.0]), 20.0);
        assert_eq!(spread_pct(&[5.0]), 0.0);
        assert_eq!(spread_pct(&[0.0, 0.0]), 0.0);
        assert_eq!(spread_pct(&[0.0, 0.0, 3.0]), f64::INFINITY);
    }
}
