//! Device latency distributions, sampled in integer nanoseconds.

use rand::Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Pareto};
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The longest latency a sample may take (10 s); a Pareto tail is cut here
/// so one sample cannot stall a run.
pub const MAX_LATENCY_NS: u64 = 10_000_000_000;

/// A latency distribution as written in a preset (`kind = "..."`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LatencyDist {
    /// Always the same latency: for tests and idealised devices.
    Fixed { ns: u64 },
    /// Lognormal with the given median and shape (sigma of the log).
    Lognormal { median_ns: u64, sigma: f64 },
    /// Gamma with the given mean and shape (shape 1 is exponential).
    Gamma { mean_ns: u64, shape: f64 },
    /// Two lognormal modes (e.g. cache hit and media access, or GC stalls):
    /// `high_frac` of the samples come from the slow mode.
    Bimodal {
        low_median_ns: u64,
        high_median_ns: u64,
        high_frac: f64,
        sigma: f64,
    },
    /// A lognormal body with a Pareto tail: with probability `tail_frac` the
    /// sample is `median_ns` times a Pareto(1, `tail_alpha`) factor.
    ParetoTail {
        median_ns: u64,
        sigma: f64,
        tail_frac: f64,
        tail_alpha: f64,
    },
    /// A measured histogram: bucket `i` spans `[bounds_ns[i], bounds_ns[i+1])`
    /// and is chosen with probability proportional to `weights[i]`; the
    /// sample is uniform within the bucket.
    Empirical {
        bounds_ns: Vec<u64>,
        weights: Vec<f64>,
    },
}

/// Checks of one preset table's fields; each error names the field, the
/// value and what would be valid.
struct FieldCheck<'a> {
    key: &'a str,
}

impl FieldCheck<'_> {
    fn bad(&self, field: &str, value: String, want: &str) -> Result<(), SimError> {
        Err(SimError::Preset(format!(
            "{}.{field} = {value} is invalid: expected {want}",
            self.key
        )))
    }

    /// A time in 1 ..= [`MAX_LATENCY_NS`].
    fn time(&self, field: &str, v: u64) -> Result<(), SimError> {
        if v == 0 || v > MAX_LATENCY_NS {
            self.bad(field, v.to_string(), "1 ..= 10000000000 ns")
        } else {
            Ok(())
        }
    }

    /// A finite number in `lo ..= hi`.
    fn shape(&self, field: &str, v: f64, lo: f64, hi: f64) -> Result<(), SimError> {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.bad(field, v.to_string(), &format!("a number in {lo} ..= {hi}"))
        } else {
            Ok(())
        }
    }

    /// Buckets: one more bound than weights, strictly increasing bounds
    /// above 0, weights non-negative with a positive sum.
    fn empirical(&self, bounds_ns: &[u64], weights: &[f64]) -> Result<(), SimError> {
        if bounds_ns.len() < 2 || weights.len() + 1 != bounds_ns.len() {
            return self.bad(
                "bounds_ns",
                format!("{} bounds for {} weights", bounds_ns.len(), weights.len()),
                "one more bound than weights, at least 2 bounds",
            );
        }
        if bounds_ns.windows(2).any(|w| w[0] >= w[1]) || bounds_ns[0] == 0 {
            return self.bad(
                "bounds_ns",
                format!("{bounds_ns:?}"),
                "strictly increasing bounds above 0",
            );
        }
        self.time("bounds_ns", *bounds_ns.last().unwrap_or(&0))?;
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || weights.iter().sum::<f64>() <= 0.0
        {
            return self.bad(
                "weights",
                format!("{weights:?}"),
                "non-negative numbers with a positive sum",
            );
        }
        Ok(())
    }
}

impl LatencyDist {
    /// Checks every field; `key` names the preset table for the message.
    pub fn validate(&self, key: &str) -> Result<(), SimError> {
        let c = FieldCheck { key };
        match self {
            LatencyDist::Fixed { ns } => c.time("ns", *ns),
            LatencyDist::Lognormal { median_ns, sigma } => {
                c.time("median_ns", *median_ns)?;
                c.shape("sigma", *sigma, 0.0, 4.0)
            }
            LatencyDist::Gamma { mean_ns, shape: k } => {
                c.time("mean_ns", *mean_ns)?;
                c.shape("shape", *k, 0.01, 1000.0)
            }
            LatencyDist::Bimodal {
                low_median_ns,
                high_median_ns,
                high_frac,
                sigma,
            } => {
                c.time("low_median_ns", *low_median_ns)?;
                c.time("high_median_ns", *high_median_ns)?;
                c.shape("high_frac", *high_frac, 0.0, 1.0)?;
                c.shape("sigma", *sigma, 0.0, 4.0)
            }
            LatencyDist::ParetoTail {
                median_ns,
                sigma,
                tail_frac,
                tail_alpha,
            } => {
                c.time("median_ns", *median_ns)?;
                c.shape("sigma", *sigma, 0.0, 4.0)?;
                c.shape("tail_frac", *tail_frac, 0.0, 1.0)?;
                c.shape("tail_alpha", *tail_alpha, 0.1, 100.0)
            }
            LatencyDist::Empirical { bounds_ns, weights } => c.empirical(bounds_ns, weights),
        }
    }

    /// The median (or, for gamma and empirical, a central value), used to
    /// scale a distribution and to describe it.
    pub fn median_ns(&self) -> u64 {
        match self {
            LatencyDist::Fixed { ns } => *ns,
            LatencyDist::Lognormal { median_ns, .. } => *median_ns,
            LatencyDist::Gamma { mean_ns, .. } => *mean_ns,
            LatencyDist::Bimodal { low_median_ns, .. } => *low_median_ns,
            LatencyDist::ParetoTail { median_ns, .. } => *median_ns,
            LatencyDist::Empirical { bounds_ns, weights } => {
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                for (i, w) in weights.iter().enumerate() {
                    acc += w;
                    if acc >= total / 2.0 {
                        return (bounds_ns[i] + bounds_ns[i + 1]) / 2;
                    }
                }
                bounds_ns[0]
            }
        }
    }

    /// The same shape with every time multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> LatencyDist {
        let s = |v: u64| ((v as f64 * factor).round() as u64).clamp(1, MAX_LATENCY_NS);
        match self.clone() {
            LatencyDist::Fixed { ns } => LatencyDist::Fixed { ns: s(ns) },
            LatencyDist::Lognormal { median_ns, sigma } => LatencyDist::Lognormal {
                median_ns: s(median_ns),
                sigma,
            },
            LatencyDist::Gamma { mean_ns, shape } => LatencyDist::Gamma {
                mean_ns: s(mean_ns),
                shape,
            },
            LatencyDist::Bimodal {
                low_median_ns,
                high_median_ns,
                high_frac,
                sigma,
            } => LatencyDist::Bimodal {
                low_median_ns: s(low_median_ns),
                high_median_ns: s(high_median_ns),
                high_frac,
                sigma,
            },
            LatencyDist::ParetoTail {
                median_ns,
                sigma,
                tail_frac,
                tail_alpha,
            } => LatencyDist::ParetoTail {
                median_ns: s(median_ns),
                sigma,
                tail_frac,
                tail_alpha,
            },
            LatencyDist::Empirical { bounds_ns, weights } => {
                let mut b: Vec<u64> = bounds_ns.into_iter().map(s).collect();
                // Rounding may merge neighbours; keep the bounds increasing.
                for i in 1..b.len() {
                    b[i] = b[i].max(b[i - 1] + 1);
                }
                LatencyDist::Empirical {
                    bounds_ns: b,
                    weights,
                }
            }
        }
    }

    /// A validated distribution ready to sample.
    pub fn sampler(&self) -> Sampler {
        let lognormal = |median: u64, sigma: f64| {
            // Validated: median > 0 and 0 <= sigma <= 4, so this cannot fail.
            LogNormal::new((median as f64).ln(), sigma).expect("validated lognormal")
        };
        match self {
            LatencyDist::Fixed { ns } => Sampler::Fixed(*ns),
            LatencyDist::Lognormal { median_ns, sigma } => {
                Sampler::Lognormal(lognormal(*median_ns, *sigma))
            }
            LatencyDist::Gamma { mean_ns, shape } => Sampler::Gamma(
                Gamma::new(*shape, *mean_ns as f64 / shape).expect("validated gamma"),
            ),
            LatencyDist::Bimodal {
                low_median_ns,
                high_median_ns,
                high_frac,
                sigma,
            } => Sampler::Bimodal {
                low: lognormal(*low_median_ns, *sigma),
                high: lognormal(*high_median_ns, *sigma),
                high_frac: *high_frac,
            },
            LatencyDist::ParetoTail {
                median_ns,
                sigma,
                tail_frac,
                tail_alpha,
            } => Sampler::ParetoTail {
                body: lognormal(*median_ns, *sigma),
                tail: Pareto::new(1.0, *tail_alpha).expect("validated pareto"),
                median: *median_ns as f64,
                tail_frac: *tail_frac,
            },
            LatencyDist::Empirical { bounds_ns, weights } => {
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                let cumulative = weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect();
                Sampler::Empirical {
                    bounds: bounds_ns.clone(),
                    cumulative,
                }
            }
        }
    }
}

/// A distribution prepared for sampling.
#[derive(Clone, Debug)]
pub enum Sampler {
    Fixed(u64),
    Lognormal(LogNormal<f64>),
    Gamma(Gamma<f64>),
    Bimodal {
        low: LogNormal<f64>,
        high: LogNormal<f64>,
        high_frac: f64,
    },
    ParetoTail {
        body: LogNormal<f64>,
        tail: Pareto<f64>,
        median: f64,
        tail_frac: f64,
    },
    Empirical {
        bounds: Vec<u64>,
        cumulative: Vec<f64>,
    },
}

impl Sampler {
    pub fn sample<R: Rng>(&self, rng: &mut R) -> u64 {
        let ns = match self {
            Sampler::Fixed(ns) => return *ns,
            Sampler::Lognormal(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Bimodal {
                low,
                high,
                high_frac,
            } => {
                if rng.random::<f64>() < *high_frac {
                    high.sample(rng)
                } else {
                    low.sample(rng)
                }
            }
            Sampler::ParetoTail {
                body,
                tail,
                median,
                tail_frac,
            } => {
                if rng.random::<f64>() < *tail_frac {
                    median * tail.sample(rng)
                } else {
                    body.sample(rng)
                }
            }
            Sampler::Empirical { bounds, cumulative } => {
                let u: f64 = rng.random();
                // Rounding can leave the last sum just under 1: fall back to
                // the last bucket that has any weight.
                let i = cumulative.iter().position(|c| u < *c).unwrap_or_else(|| {
                    let last = cumulative[cumulative.len() - 1];
                    cumulative.iter().position(|c| *c >= last).unwrap_or(0)
                });
                let (lo, hi) = (bounds[i], bounds[i + 1]);
                return rng.random_range(lo..hi);
            }
        };
        round_ns(ns).clamp(1, MAX_LATENCY_NS)
    }
}

/// `x.round() as u64`, bit for bit, without the library call `round` is
/// on x86-64 (a few percent of a run): below 2^52 the whole part and the
/// fraction of `x` are exact, so rounding half away from zero is a
/// comparison of the fraction.
pub(crate) fn round_ns(x: f64) -> u64 {
    const EXACT: f64 = (1u64 << 52) as f64;
    if (0.0..EXACT).contains(&x) {
        let whole = x as u64;
        whole + u64::from(x - whole as f64 >= 0.5)
    } else {
        x.round() as u64
    }
}

#[cfg(test)]
mod round_tests {
    use super::round_ns;

    /// Equal to `round() as u64` at every edge: halves, the largest
    /// double below a half, the ends of the fast range, negatives, NaN
    /// and infinities, and a spread of ordinary values.
    #[test]
    fn rounds_exactly_as_the_library_does() {
        let two52 = (1u64 << 52) as f64;
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.499_999_999_999_999_94,
            -0.4,
            -0.5,
            -1.5,
            two52 - 0.5,
            two52 - 1.5,
            two52,
            two52 + 1.0,
            two52 * 2.0 + 2.0,
            1e19,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ];
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            xs.extend([v, (x % 10_000_000) as f64 / 7.0, (x >> 11) as f64 * 0.5]);
            let f = (x % 1_000_000) as f64;
            xs.extend([f + 0.5, f + 0.499_999_999_999, f.next_down() + 0.5]);
        }
        for v in xs {
            assert_eq!(round_ns(v), v.round() as u64, "{v:e} ({:#x})", v.to_bits());
        }
    }
}
