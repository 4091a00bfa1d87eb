//! Checks of a calibration: measurements that cannot all be true of an
//! idle device become warnings that say what to do.

use std::fmt;

use pollwise_core::Rw;
use pollwise_stats::spread_pct;

use super::Calibration;

/// Something calibration measured that does not add up, and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub what: String,
    pub fix: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.what, self.fix)
    }
}

/// The numbers [`checks`] looks at, plain so that tests can make them up.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckInput {
    /// Small-block random reads at qd1: IOPS and median latency (ns).
    pub qd1_read_iops: f64,
    pub qd1_read_p50_ns: f64,
    /// The same at the saturation depth.
    pub sat_read_iops: f64,
    pub sat_depth: u32,
    /// Per device point: a name and the IOPS of each repeat.
    pub repeats: Vec<(String, Vec<f64>)>,
    pub background_load_cpus: f64,
    pub steal_frac: f64,
}

/// A median latency below this is memory, not a device.
pub const RAM_LATENCY_NS: f64 = 2_000.0;
/// Repeats of a device point differing by more than this (max - min over
/// the median, %) get more repeats (see `more_repeats`).
pub const WIDE_SPREAD_PCT: f64 = 25.0;
/// Other load beyond this many CPUs disturbs every probe.
pub const MAX_BACKGROUND_CPUS: f64 = 0.25;
pub const MAX_STEAL_FRAC: f64 = 0.10;

impl Calibration {
    pub fn check_input(&self) -> Option<CheckInput> {
        let small = self.latency_points.iter().map(|p| p.bs).min()?;
        let qd1 = self
            .latency_points
            .iter()
            .find(|p| p.rw == Rw::RandRead && p.bs == small)?;
        let sat = self
            .saturation_points
            .iter()
            .filter(|p| p.rw == Rw::RandRead)
            .min_by_key(|p| p.bs)?;
        Some(CheckInput {
            qd1_read_iops: qd1.iops(),
            qd1_read_p50_ns: qd1.latency.value_at_quantile(0.5) as f64,
            sat_read_iops: sat.iops(),
            sat_depth: sat.depth,
            repeats: self
                .device_points()
                .map(|p| {
                    (
                        format!("{} bs={} qd={}", p.rw.name(), p.bs, p.depth),
                        p.repeat_iops.clone(),
                    )
                })
                .collect(),
            background_load_cpus: self.host.background_load_cpus,
            steal_frac: self.host.steal_frac,
        })
    }

    /// [`checks`] on this calibration.
    pub fn warnings(&self) -> Vec<Warning> {
        self.check_input().map_or_else(Vec::new, |c| checks(&c))
    }
}

/// Measurements that cannot all be true of an idle device: each is a
/// reason not to trust a preset built from them.
pub fn checks(c: &CheckInput) -> Vec<Warning> {
    let mut w = Vec::new();
    if c.qd1_read_p50_ns < RAM_LATENCY_NS {
        w.push(Warning {
            what: format!(
                "reads complete in {:.1} us at qd1: that is memory (tmpfs or a cache), not a disk",
                c.qd1_read_p50_ns / 1000.0
            ),
            fix: "pass --dir on a disk filesystem that supports O_DIRECT (e.g. /var/tmp), or --file naming the device"
                .into(),
        });
    }
    if c.sat_depth > 1 && c.sat_read_iops < 0.9 * c.qd1_read_iops {
        w.push(Warning {
            what: format!(
                "throughput falls with queue depth: {:.0} IOPS at qd{} against {:.0} at qd1",
                c.sat_read_iops, c.sat_depth, c.qd1_read_iops
            ),
            fix: "the disk was busy or throttled during the run; rerun on an idle machine, or with a longer --point-ms"
                .into(),
        });
    }
    for (name, iops) in &c.repeats {
        let spread = spread_pct(iops);
        if spread > WIDE_SPREAD_PCT {
            w.push(Warning {
                what: format!(
                    "repeats of {name} differ by {spread:.0}% (IOPS {}): the run was disturbed",
                    iops.iter()
                        .map(|v| format!("{v:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix: format!(
                    "stop other load and rerun, or use more --repeat; the limit is {WIDE_SPREAD_PCT}%"
                ),
            });
        }
    }
    if c.background_load_cpus > MAX_BACKGROUND_CPUS {
        w.push(Warning {
            what: format!(
                "{:.2} CPUs were busy with other work before the probes began",
                c.background_load_cpus
            ),
            fix: format!(
                "stop other load (builds, tests, other VMs' work) and rerun; the limit is {MAX_BACKGROUND_CPUS} CPUs"
            ),
        });
    }
    if c.steal_frac > MAX_STEAL_FRAC {
        w.push(Warning {
            what: format!(
                "the hypervisor stole {:.0}% of CPU time",
                c.steal_frac * 100.0
            ),
            fix: "the host is oversubscribed; rerun at a quieter time".into(),
        });
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle NVMe-like disk: 80 us at qd1, 8x the IOPS at qd16, steady
    /// repeats, no other load.
    fn healthy() -> CheckInput {
        CheckInput {
            qd1_read_iops: 12_000.0,
            qd1_read_p50_ns: 80_000.0,
            sat_read_iops: 96_000.0,
            sat_depth: 16,
            repeats: vec![
                (
                    "randread bs=4096 qd=1".into(),
                    vec![11_800.0, 12_000.0, 12_300.0],
                ),
                (
                    "randread bs=4096 qd=16".into(),
                    vec![95_000.0, 96_000.0, 99_000.0],
                ),
            ],
            background_load_cpus: 0.02,
            steal_frac: 0.0,
        }
    }

    fn whats(c: &CheckInput) -> Vec<String> {
        checks(c).into_iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_healthy_calibration_passes() {
        assert_eq!(checks(&healthy()), vec![]);
    }

    #[test]
    fn throughput_falling_with_depth_is_flagged() {
        let c = CheckInput {
            sat_read_iops: 9_000.0,
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("falls with queue depth") && w[0].contains("qd16"));
        assert!(w[0].contains("rerun on an idle machine"));
        // Level throughput (a device with no parallelism) is not an error.
        let level = CheckInput {
            sat_read_iops: 11_500.0,
            ..healthy()
        };
        assert_eq!(checks(&level), vec![]);
    }

    #[test]
    fn memory_speed_latency_is_flagged() {
        let c = CheckInput {
            qd1_read_p50_ns: 900.0,
            qd1_read_iops: 600_000.0,
            sat_read_iops: 900_000.0,
            repeats: vec![],
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("memory") && w[0].contains("--dir"), "{w:?}");
    }

    #[test]
    fn disturbed_repeats_and_other_load_are_flagged() {
        let mut c = healthy();
        c.repeats[0].1 = vec![6_000.0, 12_000.0, 12_100.0];
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("differ by 51%") && w[0].contains("disturbed"));
        let c = CheckInput {
            background_load_cpus: 1.1,
            steal_frac: 0.3,
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("1.10 CPUs") && w[1].contains("stole 30%"));
    }
}
