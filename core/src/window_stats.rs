//! Window statistics every host reports the same way.

use crate::kind::PolicyKind;
use crate::params::Params;

/// Whether one adjustment from `before` to `after` is an abrupt reset: a fall
/// by more than the policy's shrink divisor that is not the permitted drop
/// to 0 from below the grow-start value. This is the negation of the
/// no-abrupt-reset property the property tests check.
pub fn is_abrupt_reset(kind: PolicyKind, params: &Params, before: u64, after: u64) -> bool {
    let (divisor, floor) = kind.shrink_bound(params);
    let gentle = before / divisor;
    after < gentle && !(after == 0 && gentle < floor)
}

/// Time-weighted window statistics over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    weighted_sum: u128,
    total_ns: u64,
    zero_ns: u64,
    abrupt_resets: u64,
}

impl WindowStats {
    /// Statistics a host accumulated itself (QEMU's harness): the sum of
    /// window times time, the time, the time at window 0, the abrupt resets.
    pub fn from_totals(
        weighted_sum: u128,
        total_ns: u64,
        zero_ns: u64,
        abrupt_resets: u64,
    ) -> Self {
        WindowStats {
            weighted_sum,
            total_ns,
            zero_ns,
            abrupt_resets,
        }
    }

    /// The window `window_ns` was in force for `span_ns` of time.
    pub fn record_span(&mut self, window_ns: u64, span_ns: u64) {
        self.weighted_sum += u128::from(window_ns) * u128::from(span_ns);
        self.total_ns += span_ns;
        if window_ns == 0 {
            self.zero_ns += span_ns;
        }
    }

    /// One adjustment of the window.
    pub fn record_change(&mut self, kind: PolicyKind, params: &Params, before: u64, after: u64) {
        if is_abrupt_reset(kind, params, before, after) {
            self.abrupt_resets += 1;
        }
    }

    /// Folds another host thread's statistics into these.
    pub fn merge(&mut self, other: &WindowStats) {
        self.weighted_sum += other.weighted_sum;
        self.total_ns += other.total_ns;
        self.zero_ns += other.zero_ns;
        self.abrupt_resets += other.abrupt_resets;
    }

    pub fn mean_ns(&self) -> f64 {
        if self.total_ns == 0 {
            0.0
        } else {
            self.weighted_sum as f64 / self.total_ns as f64
        }
    }

    pub fn zero_frac(&self) -> f64 {
        if self.total_ns == 0 {
            0.0
        } else {
            self.zero_ns as f64 / self.total_ns as f64
        }
    }

    pub fn abrupt_resets(&self) -> u64 {
        self.abrupt_resets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_default_reset_from_above_grow_start_is_abrupt() {
        let p = Params::defaults(PolicyKind::Qemu);
        assert!(is_abrupt_reset(PolicyKind::Qemu, &p, 8000, 0));
        // 4000 / 1 is not below the 4000 floor, so this reset is abrupt too.
        assert!(is_abrupt_reset(PolicyKind::Qemu, &p, 4000, 0));
        assert!(!is_abrupt_reset(PolicyKind::Qemu, &p, 3999, 0));
        assert!(!is_abrupt_reset(PolicyKind::Qemu, &p, 8000, 16000));
    }

    #[test]
    fn halving_is_gentle_for_weighted() {
        let p = Params::defaults(PolicyKind::Weighted);
        assert!(!is_abrupt_reset(PolicyKind::Weighted, &p, 8001, 4000));
        assert!(is_abrupt_reset(PolicyKind::Weighted, &p, 8002, 4000));
    }

    #[test]
    fn time_weighted_mean_and_zero_fraction() {
        let mut s = WindowStats::default();
        s.record_span(0, 300);
        s.record_span(1000, 100);
        assert_eq!(s.mean_ns(), 250.0);
        assert_eq!(s.zero_frac(), 0.75);
    }
}
