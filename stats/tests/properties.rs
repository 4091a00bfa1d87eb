//! Properties every statistic must keep, on random samples.

use pollwise_stats::{
    bootstrap_ci, mean, median, paired_ci, paired_median_ci, pct_diff, quantile, range, ratio,
    sample_sd,
};
use proptest::prelude::*;

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e6..1e6f64, 1..40)
}

fn bounds(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

proptest! {
    #[test]
    fn centres_lie_between_min_and_max(v in sample()) {
        let (min, max) = bounds(&v);
        let slack = 1e-9 * (max.abs() + min.abs() + 1.0);
        for c in [mean(&v), median(&v), quantile(&v, 0.3)] {
            prop_assert!(c >= min - slack && c <= max + slack, "{c} outside [{min}, {max}]");
        }
        prop_assert_eq!(range(&v), max - min);
        prop_assert!(sample_sd(&v) >= 0.0);
    }

    #[test]
    fn the_median_is_the_half_quantile(v in sample()) {
        let (m, q) = (median(&v), quantile(&v, 0.5));
        prop_assert!((m - q).abs() <= 1e-9 * (m.abs() + 1.0), "{m} vs {q}");
    }

    #[test]
    fn quantiles_rise_with_q(v in sample(), a in 0.0..=1.0f64, b in 0.0..=1.0f64) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(quantile(&v, lo) <= quantile(&v, hi));
        let (min, max) = bounds(&v);
        prop_assert_eq!(quantile(&v, 0.0), min);
        prop_assert_eq!(quantile(&v, 1.0), max);
    }

    #[test]
    fn pct_diff_and_ratio_agree(base in -1e6..1e6f64, cand in -1e6..1e6f64) {
        let (d, r) = (pct_diff(base, cand), ratio(base, cand));
        if base == 0.0 {
            prop_assert_eq!(d.is_infinite(), cand != 0.0);
            prop_assert_eq!(r.is_infinite(), cand != 0.0);
        } else {
            prop_assert!((d - 100.0 * (r - 1.0)).abs() <= 1e-6 * (d.abs() + 1.0), "{d} vs {r}");
        }
        // Never NaN: a zero baseline is not "unknown".
        prop_assert!(!d.is_nan() && !r.is_nan());
        prop_assert_eq!(pct_diff(base, base), 0.0);
        prop_assert_eq!(ratio(base, base), 1.0);
    }

    #[test]
    fn bootstrap_intervals_are_ordered_and_inside_the_data(
        v in prop::collection::vec(-1e3..1e3f64, 2..12),
        seed in any::<u64>(),
    ) {
        let (min, max) = bounds(&v);
        for ci in [paired_ci(&v, 0.9, seed), paired_median_ci(&v, 0.9, seed)] {
            let ci = ci.expect("two or more values have an interval");
            prop_assert!(ci.lo <= ci.hi, "{ci:?}");
            prop_assert!(ci.lo >= min - 1e-9 && ci.hi <= max + 1e-9, "{ci:?} vs [{min}, {max}]");
        }
        // Same data, statistic and seed: the same interval.
        prop_assert_eq!(
            bootstrap_ci(&v, 0.8, seed, median),
            bootstrap_ci(&v, 0.8, seed, median)
        );
    }
}
