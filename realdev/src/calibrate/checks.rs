//! Checks of a calibration. Measurements that contradict each other (or
//! say the machine was not idle, or that a probe measured nothing) are
//! contradictions: no preset is built from them without `--force`. A disk
//! whose repeats vary widely is a fact about the disk: it is reported and
//! written into the preset. Each message says what to do.

use std::fmt;

use pollwise_core::Rw;
use pollwise_stats::spread_pct;

use super::Calibration;

/// Whether a finding stops the preset from being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The numbers cannot all be true of an idle machine: refuse unless
    /// `--force`.
    Contradiction,
    /// True of this disk and worth knowing: warn, and write the preset.
    Fact,
}

/// Something calibration measured that does not add up (or that a reader
/// of the preset must know), and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub severity: Severity,
    pub what: String,
    pub fix: String,
}

impl Warning {
    fn contradiction(what: String, fix: String) -> Warning {
        Warning {
            severity: Severity::Contradiction,
            what,
            fix,
        }
    }

    /// Whether this finding refuses the preset (without `--force`).
    pub fn refuses(&self) -> bool {
        self.severity == Severity::Contradiction
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.what, self.fix)
    }
}

/// One device point's repeats, plain so that tests can make them up.
#[derive(Clone, Debug, PartialEq)]
pub struct PointRepeats {
    pub rw: Rw,
    pub bs: u64,
    pub depth: u32,
    /// IOPS of each repeat.
    pub iops: Vec<f64>,
}

impl PointRepeats {
    fn name(&self) -> String {
        format!("{} bs={} qd={}", self.rw.name(), self.bs, self.depth)
    }
}

/// The numbers [`checks`] looks at, plain so that tests can make them up.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckInput {
    /// Small-block random reads at qd1: median latency (ns).
    pub qd1_read_p50_ns: f64,
    /// Every device point with its repeats, at qd1 and at the saturation
    /// depth.
    pub points: Vec<PointRepeats>,
    /// Probes of the loop's costs whose result must be a positive time:
    /// a name and the value kept.
    pub probe_ns: Vec<(String, f64)>,
    pub background_load_cpus: f64,
    pub steal_frac: f64,
}

/// A median latency below this is memory, not a device.
pub const RAM_LATENCY_NS: f64 = 2_000.0;
/// Repeats of a device point differing by more than this (max - min over
/// the median, %) get more repeats (see `more_repeats`) and are reported.
pub const WIDE_SPREAD_PCT: f64 = 25.0;
/// Throughput at depth may fall this far below qd1's before the fall is a
/// contradiction (a device without parallelism stays level, within noise).
pub const DEPTH_FALL_MARGIN: f64 = 0.10;
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
        let c = &self.costs;
        let mut probe_ns = vec![
            ("eventfd wake-up latency".to_string(), c.wakeup_latency_ns),
            (
                "completion channel wake-up latency".to_string(),
                c.completion_wake_latency_ns,
            ),
        ];
        for b in &self.host.submit_batches {
            probe_ns.push((format!("io_submit of {}", b.batch), b.wall_ns));
        }
        Some(CheckInput {
            qd1_read_p50_ns: qd1.latency.value_at_quantile(0.5) as f64,
            points: self
                .device_points()
                .map(|p| PointRepeats {
                    rw: p.rw,
                    bs: p.bs,
                    depth: p.depth,
                    iops: p.repeat_iops.clone(),
                })
                .collect(),
            probe_ns,
            background_load_cpus: self.host.background_load_cpus,
            steal_frac: self.host.steal_frac,
        })
    }

    /// [`checks`] on this calibration.
    pub fn warnings(&self) -> Vec<Warning> {
        self.check_input().map_or_else(Vec::new, |c| checks(&c))
    }
}

/// Every finding: contradictions first (memory for a disk, a probe that
/// measured nothing, throughput falling with depth beyond the repeats'
/// spread, other load or steal while idle), then facts (wide spreads).
pub fn checks(c: &CheckInput) -> Vec<Warning> {
    let mut w = Vec::new();
    if c.qd1_read_p50_ns < RAM_LATENCY_NS {
        w.push(Warning::contradiction(
            format!(
                "reads complete in {:.1} us at qd1: that is memory (tmpfs or a cache), not a disk",
                c.qd1_read_p50_ns / 1000.0
            ),
            "pass --dir on a disk filesystem that supports O_DIRECT (e.g. /var/tmp), or --file naming the device"
                .into(),
        ));
    }
    w.extend(measured_nothing(c));
    w.extend(c.points.iter().filter_map(|p| falls_with_depth(c, p)));
    w.extend(load_while_idle(c));
    w.extend(c.points.iter().filter_map(wide_spread));
    w
}

/// A value that is no measurement: zero, negative or not a number.
fn nothing(v: f64) -> bool {
    !(v.is_finite() && v > 0.0)
}

/// Contradictions: a device point with a repeat that completed nothing, a
/// loop-cost probe that timed nothing.
fn measured_nothing(c: &CheckInput) -> Vec<Warning> {
    let mut w = Vec::new();
    for p in &c.points {
        if p.iops.is_empty() || p.iops.iter().any(|&v| nothing(v)) {
            w.push(Warning::contradiction(
                format!(
                    "{} measured no I/O in a repeat (IOPS {})",
                    p.name(),
                    list(&p.iops)
                ),
                "the device stopped answering or the point was too short: check the disk (dmesg), \
                 then rerun with a longer --point-ms"
                    .into(),
            ));
        }
    }
    for (name, v) in &c.probe_ns {
        if nothing(*v) {
            w.push(Warning::contradiction(
                format!("the {name} probe measured nothing ({v} ns)"),
                "rerun with more --rounds; if it stays at nothing, the clock or the kernel \
                 interface the probe uses does not work here"
                    .into(),
            ));
        }
    }
    w
}

/// Contradiction: a saturation point's every repeat below the same rw and
/// bs at qd1's every repeat, by more than [`DEPTH_FALL_MARGIN`]: the
/// points' own spreads cannot explain it.
fn falls_with_depth(c: &CheckInput, deep: &PointRepeats) -> Option<Warning> {
    if deep.depth <= 1 {
        return None;
    }
    let qd1 = c
        .points
        .iter()
        .find(|p| p.depth == 1 && p.rw == deep.rw && p.bs == deep.bs)?;
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, init| v.iter().copied().fold(init, f);
    let deep_max = fold(&deep.iops, f64::max, f64::NEG_INFINITY);
    let qd1_min = fold(&qd1.iops, f64::min, f64::INFINITY);
    if deep_max >= (1.0 - DEPTH_FALL_MARGIN) * qd1_min || nothing(deep_max) {
        return None;
    }
    Some(Warning::contradiction(
        format!(
            "throughput falls with queue depth beyond the repeats' spread: {} IOPS at qd{} \
             against {} at qd1 ({} bs={})",
            list(&deep.iops),
            deep.depth,
            list(&qd1.iops),
            deep.rw.name(),
            deep.bs
        ),
        "something else used the disk or throttled it during the deep point; stop other I/O \
         and rerun (a longer --point-ms averages over short bursts)"
            .into(),
    ))
}

/// Contradictions: other load or steal while calibration sat idle.
fn load_while_idle(c: &CheckInput) -> Vec<Warning> {
    let mut w = Vec::new();
    if c.background_load_cpus > MAX_BACKGROUND_CPUS {
        w.push(Warning::contradiction(
            format!(
                "{:.2} CPUs were busy with other work while calibration sat idle",
                c.background_load_cpus
            ),
            format!(
                "stop other load (builds, tests, other VMs' work) and rerun; the limit is {MAX_BACKGROUND_CPUS} CPUs"
            ),
        ));
    }
    if c.steal_frac > MAX_STEAL_FRAC {
        w.push(Warning::contradiction(
            format!(
                "the hypervisor stole {:.0}% of CPU time while calibration sat idle",
                c.steal_frac * 100.0
            ),
            format!(
                "the host is oversubscribed; rerun at a quieter time; the limit is {:.0}%",
                MAX_STEAL_FRAC * 100.0
            ),
        ));
    }
    w
}

/// Fact: repeats that differ by more than [`WIDE_SPREAD_PCT`], after the
/// extra repeats such a point gets.
fn wide_spread(p: &PointRepeats) -> Option<Warning> {
    let spread = spread_pct(&p.iops);
    if spread.is_nan() || spread <= WIDE_SPREAD_PCT {
        return None;
    }
    Some(Warning {
        severity: Severity::Fact,
        what: format!(
            "repeats of {} differ by {spread:.0}% over {} runs (IOPS {}): the preset takes the \
             median, and the spread is written into it ([calibration] device_spread_pct) for \
             validate to report",
            p.name(),
            p.iops.len(),
            list(&p.iops)
        ),
        fix: "to narrow it, rerun with a longer --point-ms or more --repeat; if other work ran \
              meanwhile, stop it first"
            .into(),
    })
}

/// IOPS values as `1200, 1300`.
fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rw: Rw, bs: u64, depth: u32, iops: &[f64]) -> PointRepeats {
        PointRepeats {
            rw,
            bs,
            depth,
            iops: iops.to_vec(),
        }
    }

    /// An idle NVMe-like disk: 80 us at qd1, 8x the IOPS at qd16, steady
    /// repeats, no other load.
    fn healthy() -> CheckInput {
        CheckInput {
            qd1_read_p50_ns: 80_000.0,
            points: vec![
                point(Rw::RandRead, 4096, 1, &[11_800.0, 12_000.0, 12_300.0]),
                point(Rw::RandRead, 4096, 16, &[95_000.0, 96_000.0, 99_000.0]),
            ],
            probe_ns: vec![("eventfd wake-up latency".into(), 9_000.0)],
            background_load_cpus: 0.02,
            steal_frac: 0.0,
        }
    }

    fn refusing(c: &CheckInput) -> Vec<String> {
        checks(c)
            .into_iter()
            .filter(Warning::refuses)
            .map(|w| w.to_string())
            .collect()
    }

    #[test]
    fn a_healthy_calibration_passes() {
        assert_eq!(checks(&healthy()), vec![]);
    }

    #[test]
    fn a_noisy_disk_with_rising_throughput_is_a_fact_not_a_refusal() {
        // The 128k repeats of a quiet VM's disk: 55% apart, qd16 above qd1.
        let mut c = healthy();
        c.points = vec![
            point(Rw::RandRead, 131_072, 1, &[2_000.0, 2_600.0, 3_430.0]),
            point(
                Rw::RandRead,
                131_072,
                16,
                &[6_000.0, 9_300.0, 8_000.0, 8_200.0, 7_900.0, 8_100.0],
            ),
        ];
        let w = checks(&c);
        assert_eq!(refusing(&c), Vec::<String>::new());
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().all(|w| w.severity == Severity::Fact));
        let text = w[0].to_string();
        assert!(text.contains("differ by 55% over 3 runs"), "{text}");
        assert!(text.contains("device_spread_pct") && text.contains("--point-ms"));
    }

    #[test]
    fn throughput_falling_beyond_the_spread_is_refused() {
        let mut c = healthy();
        c.points[1].iops = vec![9_000.0, 9_500.0, 10_000.0];
        let w = refusing(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("falls with queue depth") && w[0].contains("at qd16"));
        assert!(w[0].contains("stop other I/O and rerun"), "{w:?}");
        // Level throughput (a device with no parallelism) is not an error.
        c.points[1].iops = vec![11_000.0, 11_500.0, 11_200.0];
        assert_eq!(checks(&c), vec![]);
        // Nor is a fall the repeats' own spread covers: one deep repeat
        // reaches the qd1 repeats.
        c.points[1].iops = vec![8_000.0, 9_000.0, 11_700.0];
        assert_eq!(refusing(&c), Vec::<String>::new());
    }

    #[test]
    fn memory_speed_latency_is_refused() {
        let c = CheckInput {
            qd1_read_p50_ns: 900.0,
            ..healthy()
        };
        let w = refusing(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("memory") && w[0].contains("--dir"), "{w:?}");
    }

    #[test]
    fn other_load_and_steal_while_idle_are_refused() {
        let c = CheckInput {
            background_load_cpus: 1.1,
            steal_frac: 0.3,
            ..healthy()
        };
        let w = refusing(&c);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("1.10 CPUs") && w[0].contains("stop other load"));
        assert!(w[1].contains("stole 30%") && w[1].contains("quieter time"));
    }

    #[test]
    fn a_probe_that_measured_nothing_is_refused() {
        let mut c = healthy();
        c.points[0].iops[1] = 0.0;
        c.probe_ns.push(("io_submit of 4".into(), f64::NAN));
        let w = refusing(&c);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("qd=1 measured no I/O") && w[0].contains("--point-ms"));
        assert!(
            w[1].contains("io_submit of 4 probe measured nothing"),
            "{w:?}"
        );
    }
}
