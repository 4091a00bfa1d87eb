//! How steep the model is at each point: the baseline simulated again with
//! the calibrated wake-up latencies taken [`WAKEUP_DRIFT`] shorter and
//! longer. Where that moves the prediction past an absolute target, the
//! prediction rests on the hour the host was calibrated in: two
//! calibrations of one machine two hours apart measured its wake-ups
//! across CPUs 15-20% apart, and QEMU's rule, which drops its window when
//! a wait passes `poll-max-ns`, turned that into 51% or 88% CPU at one
//! job, depth 1 (docs/model-fidelity.md, "Two calibrations two hours
//! apart").

use pollwise_sim::Preset;

use super::{model_points, Agreement, DiffSpec, CPU_TOLERANCE_POINTS, IOPS_TOLERANCE_PCT};
use crate::backend::{Backend, SimBackend};
use crate::stats::mean_row;
use crate::LabError;

/// How far the wake-ups are moved each way: less than the two
/// calibrations above differed by.
pub const WAKEUP_DRIFT: f64 = 0.10;

/// The model's baseline at one point over the nominal calibration and the
/// two drifted ones: the lowest and highest mean of each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steepness {
    pub iops: (f64, f64),
    pub cpu: (f64, f64),
}

impl Steepness {
    /// Whether the drift moves the prediction past a target: its IOPS over
    /// a span wider than the IOPS target of the nominal prediction, or its
    /// CPU over more points than the CPU target.
    pub fn steep(&self, nominal_iops: f64) -> bool {
        let (lo, hi) = self.iops;
        (nominal_iops > 0.0 && 100.0 * (hi - lo) / nominal_iops > IOPS_TOLERANCE_PCT)
            || self.cpu.1 - self.cpu.0 > CPU_TOLERANCE_POINTS
    }
}

/// The steepness at every point of `spec`, the baseline only, with the
/// seeds of the model's side; `nominal` holds the model's baseline at
/// the calibration as measured (the validation's own runs).
pub fn steepness(
    preset: &Preset,
    spec: &DiffSpec,
    nominal: &[Agreement],
) -> Result<Vec<Steepness>, LabError> {
    let per = spec.repeats as usize;
    let points = model_points(spec, &[&spec.baseline])?;
    let mut drifted = Vec::new();
    for factor in [1.0 - WAKEUP_DRIFT, 1.0 + WAKEUP_DRIFT] {
        let sim = SimBackend {
            preset: preset.wakeups_scaled(factor),
        };
        let rows = sim.run_all(&points, &|| {})?;
        drifted.push(
            rows.chunks(per)
                .map(|r| mean_row(r).map(|m| (m.iops, m.iothread_cpu_pct)))
                .collect::<Vec<_>>(),
        );
    }
    Ok(nominal
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let all = std::iter::once(Some((a.model.iops, a.model.iothread_cpu_pct)))
                .chain(drifted.iter().map(|d| d.get(i).copied().flatten()))
                .flatten();
            let mut s = Steepness {
                iops: (f64::INFINITY, f64::NEG_INFINITY),
                cpu: (f64::INFINITY, f64::NEG_INFINITY),
            };
            for (iops, cpu) in all {
                s.iops = (s.iops.0.min(iops), s.iops.1.max(iops));
                s.cpu = (s.cpu.0.min(cpu), s.cpu.1.max(cpu));
            }
            s
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::{Params, PolicyKind, Rw, Workload};

    /// The model's baseline at each of `spec`'s points, as the validation
    /// has it.
    fn nominal(preset: &Preset, spec: &DiffSpec) -> Vec<Agreement> {
        let sim = SimBackend {
            preset: preset.clone(),
        };
        let points = model_points(spec, &[&spec.baseline]).unwrap();
        let rows = sim.run_all(&points, &|| {}).unwrap();
        rows.chunks(spec.repeats as usize)
            .map(|r| {
                let m = mean_row(r).unwrap();
                Agreement {
                    reference: m.clone(),
                    model: m,
                    reference_iops: Vec::new(),
                    steepness: None,
                }
            })
            .collect()
    }

    fn spec(baseline: Params) -> DiffSpec {
        DiffSpec {
            workloads: vec![Workload {
                rw: Rw::RandRead,
                rwmixread: 50,
                bs: 8192,
                numjobs: 1,
                iodepth: 1,
                iothreads: 1,
                duration_ms: 20,
            }],
            baseline,
            candidates: Vec::new(),
            seed: 1,
            repeats: 2,
            spread_pct: None,
        }
    }

    #[test]
    fn the_drift_spans_the_nominal_and_moves_only_what_wakes_up() {
        let preset = Preset::load("optane-p4800x").unwrap();
        // `off` sleeps for every event, so its IOPS move with the wake-up.
        let off = spec(Params::defaults(PolicyKind::Off));
        let n = nominal(&preset, &off);
        let s = steepness(&preset, &off, &n).unwrap();
        let (lo, hi) = s[0].iops;
        assert!(lo < n[0].model.iops && n[0].model.iops < hi, "{s:?} {n:?}");
        // A window longer than any wait never sleeps: nothing moves.
        let poll =
            spec(Params::from_pairs(PolicyKind::Fixed, [("poll-max-ns", "1000000000")]).unwrap());
        let n = nominal(&preset, &poll);
        let s = steepness(&preset, &poll, &n).unwrap();
        assert_eq!(s[0].iops, (n[0].model.iops, n[0].model.iops), "{s:?}");
        assert!(!s[0].steep(n[0].model.iops));
    }

    #[test]
    fn a_point_is_steep_when_the_drift_spans_more_than_a_target() {
        let flat = Steepness {
            iops: (9_500.0, 10_500.0),
            cpu: (50.0, 59.0),
        };
        assert!(!flat.steep(10_000.0));
        let iops = Steepness {
            iops: (9_000.0, 10_600.0),
            ..flat
        };
        assert!(iops.steep(10_000.0));
        let cpu = Steepness {
            cpu: (50.0, 60.5),
            ..flat
        };
        assert!(cpu.steep(10_000.0));
    }
}
