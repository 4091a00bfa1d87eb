//! Validation: the same workloads with the same policy on two backends
//! (typically the device as the reference and the simulator, with a
//! preset calibrated on that device, as the model), side by side; and
//! validation on *differences* ([`validate_diffs`]): what the model
//! predicts a policy changes against a baseline, against what the device
//! measures, with the measurement's interval.

use std::sync::atomic::{AtomicUsize, Ordering};

use pollwise_core::{Params, RunRow, Workload};
use pollwise_sim::batch::{check_runs, nth_seed};

use crate::backend::{Backend, Point};
use crate::compare::ComparedPoint;
use crate::stats::{mean, mean_row, pct_diff, PairedDiff};

pub mod explain;
mod scheduler;
mod steep;
mod trust;
use crate::{LabError, Progress};
pub use scheduler::{scheduler_changes, scheduler_note};
pub use steep::{steepness, Steepness, WAKEUP_DRIFT};
pub use trust::{
    diff_agrees, Prediction, Tally, TrustFailure, CPU_DIFF_TOLERANCE_POINTS, CPU_TOLERANCE_POINTS,
    DIFF_TOLERANCE_POINTS, IOPS_TOLERANCE_PCT, PAIRS_AGREE_TARGET_PCT,
};

/// The line `validate` prints beside its predictions when the preset
/// records its calibration's spread (`[calibration] device_spread_pct`):
/// how far apart the calibrated disk's own repeats were, so how far an
/// absolute prediction can be trusted.
pub fn spread_line(preset: &pollwise_sim::Preset) -> Option<String> {
    let pct = preset.calibration.as_ref()?.device_spread_pct;
    Some(format!(
        "calibration: the device's repeats differed by up to {pct:.1}% (max - min over the \
         median, its widest point); an absolute IOPS error within that is within the disk's own \
         variation"
    ))
}

/// One point measured on both backends (each the mean over the repeats).
#[derive(Clone, Debug)]
pub struct Agreement {
    pub reference: RunRow,
    pub model: RunRow,
    /// The reference's IOPS in each of its runs, in order.
    pub reference_iops: Vec<f64>,
    /// The model's baseline with the calibrated wake-ups drifted
    /// ([`steepness`]), where it was run.
    pub steepness: Option<Steepness>,
}

impl Agreement {
    /// The model's IOPS relative to the reference's, in percent.
    pub fn iops_err_pct(&self) -> f64 {
        pct_diff(self.reference.iops, self.model.iops)
    }
    pub fn cpu_err_points(&self) -> f64 {
        self.model.iothread_cpu_pct - self.reference.iothread_cpu_pct
    }
    pub fn iops_ok(&self) -> bool {
        self.iops_err_pct().abs() <= IOPS_TOLERANCE_PCT
    }
    pub fn cpu_ok(&self) -> bool {
        self.cpu_err_points().abs() <= CPU_TOLERANCE_POINTS
    }
    /// The reference's runs in two groups further apart than the IOPS
    /// target (each group's lowest and highest IOPS): the host ran the
    /// point in two states (on a VM that packs wake-ups, the loop and its
    /// job together or apart), and the mean, between them, is neither.
    pub fn two_states(&self) -> Option<((f64, f64), (f64, f64))> {
        pollwise_stats::two_groups(&self.reference_iops, IOPS_TOLERANCE_PCT)
    }
    /// The model moves past a target at this point when the calibrated
    /// wake-ups drift ([`Steepness::steep`]).
    pub fn steep(&self) -> bool {
        self.steepness.is_some_and(|s| s.steep(self.model.iops))
    }
}

/// Runs every workload `repeats` times (seeds `seed, seed+1, ...`) on both
/// backends and averages each side.
/// The number of runs a validation does (both backends), refused with
/// the number and the limit when absurd; callers check it before opening
/// a device.
pub fn run_count(workloads: usize, repeats: u32) -> Result<u64, LabError> {
    Ok(check_runs(
        (workloads as u64)
            .checked_mul(u64::from(repeats))
            .and_then(|n| n.checked_mul(2)),
        &format!("this validation ({workloads} workloads x {repeats} repeats x 2 backends)"),
    )?)
}

pub fn validate(
    reference: &dyn Backend,
    model: &dyn Backend,
    workloads: &[Workload],
    params: &Params,
    seed: u64,
    repeats: u32,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Agreement>, LabError> {
    if repeats == 0 {
        return Err(LabError::Input("--repeat must be at least 1".into()));
    }
    for b in [reference, model] {
        b.check_params(params)?;
        for w in workloads {
            w.check(b.limits())?;
        }
    }
    run_count(workloads.len(), repeats)?;
    let mut points = Vec::new();
    for w in workloads {
        for rep in 0..u64::from(repeats) {
            points.push(Point {
                workload: w.clone(),
                params: params.clone(),
                seed: nth_seed(seed, rep)?,
                qemu_variant: None,
            });
        }
    }
    let tick = ticker(2 * points.len(), progress);
    let refs = reference.run_all(&points, &tick)?;
    let models = model.run_all(&points, &tick)?;
    let per = repeats as usize;
    Ok(refs
        .chunks(per)
        .zip(models.chunks(per))
        .filter_map(|(r, m)| {
            Some(Agreement {
                reference: mean_row(r)?,
                model: mean_row(m)?,
                reference_iops: r.iter().map(|row| row.iops).collect(),
                steepness: None,
            })
        })
        .collect())
}

/// What [`validate_diffs`] runs.
#[derive(Clone, Debug)]
pub struct DiffSpec {
    pub workloads: Vec<Workload>,
    pub baseline: Params,
    pub candidates: Vec<Params>,
    pub seed: u64,
    /// Interleaved device rounds per point (each: the baseline and every
    /// candidate once), and simulator seeds per point and policy.
    pub repeats: u32,
    /// The preset's `[calibration] device_spread_pct`, if it has one: how
    /// far the calibrated disk's own repeats differed, which widens every
    /// prediction's interval (see [`DiffPoint::predicted_iops`]).
    pub spread_pct: Option<f64>,
}

/// One candidate at one point: the model's predicted change against the
/// baseline and the reference's measured change.
#[derive(Clone, Debug)]
pub struct DiffPoint {
    pub workload: Workload,
    /// The reference's runs, paired by round.
    pub measured: ComparedPoint,
    /// The model's runs, paired by seed.
    pub predicted: ComparedPoint,
    /// The calibration's spread in percent (0 without one).
    pub spread_pct: f64,
}

impl DiffPoint {
    /// The model's IOPS change in percent (means over its seeds).
    pub fn predicted_iops_pct(&self) -> f64 {
        self.predicted.iops_diff_pct()
    }
    /// The model's CPU change in points of one core (means over seeds).
    pub fn predicted_cpu_pts(&self) -> f64 {
        mean(&self.predicted.cpu_diffs_pts())
    }
    /// The predicted IOPS change with its interval (seeds and the
    /// calibration's spread).
    pub fn predicted_iops(&self) -> Prediction {
        Prediction::of(
            self.predicted_iops_pct(),
            &self.predicted.iops_paired(),
            self.spread_pct,
        )
    }
    /// The predicted CPU change with its interval, as for IOPS.
    pub fn predicted_cpu(&self) -> Prediction {
        Prediction::of(
            self.predicted_cpu_pts(),
            &self.predicted.cpu_paired(),
            self.spread_pct,
        )
    }
    /// The reference's paired IOPS change (median, 95% interval).
    pub fn measured_iops(&self) -> PairedDiff {
        self.measured.iops_paired()
    }
    pub fn measured_cpu(&self) -> PairedDiff {
        self.measured.cpu_paired()
    }
    /// The predicted and the measured intervals overlap, or the prediction
    /// is within [`DIFF_TOLERANCE_POINTS`] of the measured median; and the
    /// sign is not wrong ([`DiffPoint::sign_ok`]).
    pub fn iops_ok(&self) -> bool {
        diff_agrees(
            &self.predicted_iops(),
            &self.measured_iops(),
            DIFF_TOLERANCE_POINTS,
        ) && self.sign_ok() != Some(false)
    }
    /// Where both the predicted and the measured intervals exclude zero,
    /// whether they have the same sign (`None` where either is not
    /// resolved).
    pub fn sign_ok(&self) -> Option<bool> {
        let (p, m) = (self.predicted_iops(), self.measured_iops());
        (p.resolved() && m.resolved()).then_some((p.value > 0.0) == (m.median > 0.0))
    }
    /// As [`DiffPoint::iops_ok`], within [`CPU_DIFF_TOLERANCE_POINTS`].
    pub fn cpu_ok(&self) -> bool {
        diff_agrees(
            &self.predicted_cpu(),
            &self.measured_cpu(),
            CPU_DIFF_TOLERANCE_POINTS,
        )
    }
}

/// Everything [`validate_diffs`] measured.
#[derive(Clone, Debug)]
pub struct DiffValidation {
    /// Per candidate (in the spec's order), per workload.
    pub diffs: Vec<DiffPoint>,
    /// The baseline itself, per workload: the reference's and the model's
    /// means (absolute agreement).
    pub baseline: Vec<Agreement>,
}

impl DiffValidation {
    pub fn tally(&self) -> Tally {
        let count = |f: &dyn Fn(&DiffPoint) -> bool| self.diffs.iter().filter(|d| f(d)).count();
        Tally {
            pairs: self.diffs.len(),
            iops_ok: count(&|d| d.iops_ok()),
            resolved: count(&|d| d.sign_ok().is_some()),
            sign_ok: count(&|d| d.sign_ok() == Some(true)),
            cpu_ok: count(&|d| d.cpu_ok()),
            points: self.baseline.len(),
            absolute_ok: self
                .baseline
                .iter()
                .filter(|r| r.iops_ok() && r.cpu_ok())
                .count(),
            steep: self
                .baseline
                .iter()
                .all(|r| r.steepness.is_some())
                .then(|| self.baseline.iter().filter(|r| r.steep()).count()),
        }
    }
}

/// Runs the baseline and every candidate at every point on both backends
/// and pairs each candidate with the baseline.
///
/// The reference (the device) runs one warm-up run, discarded, then
/// `repeats` rounds; in each round every point runs the baseline and every
/// candidate once, in an order rotated by one each round so that no policy
/// always runs first or right after another, and each candidate is paired
/// with the baseline run of the same round. The model runs seeds `seed,
/// seed+1, ...` shared by every policy (common random numbers).
pub fn validate_diffs(
    reference: &dyn Backend,
    model: &dyn Backend,
    spec: &DiffSpec,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<DiffValidation, LabError> {
    if spec.repeats == 0 {
        return Err(LabError::Input("--repeat must be at least 1".into()));
    }
    let policies: Vec<&Params> = std::iter::once(&spec.baseline)
        .chain(&spec.candidates)
        .collect();
    for b in [reference, model] {
        for p in &policies {
            b.check_params(p)?;
        }
        for w in &spec.workloads {
            w.check(b.limits())?;
        }
    }
    let total = 2 * spec.workloads.len() * policies.len() * spec.repeats as usize + 1;
    let tick = ticker(total, progress);
    let modelled = model.run_all(&model_points(spec, &policies)?, &tick)?;
    let measured = rounds(reference, spec, &policies, &tick)?;
    Ok(pair(spec, &modelled, &measured))
}

/// Reports one more of `total` validate runs each time it is called.
fn ticker(total: usize, progress: &(dyn Fn(Progress) + Sync)) -> impl Fn() + Sync + '_ {
    let done = AtomicUsize::new(0);
    move || {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(Progress::Run {
            done,
            total,
            what: "validate",
        });
    }
}

/// Repeat `rep` of `params` at workload `w`.
fn point(spec: &DiffSpec, w: &Workload, params: &Params, rep: usize) -> Result<Point, LabError> {
    Ok(Point {
        workload: w.clone(),
        params: params.clone(),
        seed: nth_seed(spec.seed, rep as u64)?,
        qemu_variant: None,
    })
}

/// The model's runs: every (point, policy, seed), to run in parallel.
fn model_points(spec: &DiffSpec, policies: &[&Params]) -> Result<Vec<Point>, LabError> {
    let per = spec.repeats as usize;
    let mut points = Vec::with_capacity(spec.workloads.len() * policies.len() * per);
    for w in &spec.workloads {
        for p in policies {
            for rep in 0..per {
                points.push(point(spec, w, p, rep)?);
            }
        }
    }
    Ok(points)
}

/// The reference's runs: a warm-up, then rotated rounds;
/// `measured[point][policy]` holds the rows in round order.
fn rounds(
    reference: &dyn Backend,
    spec: &DiffSpec,
    policies: &[&Params],
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<Vec<RunRow>>>, LabError> {
    let k = policies.len();
    let mut measured: Vec<Vec<Vec<RunRow>>> = vec![vec![Vec::new(); k]; spec.workloads.len()];
    if let Some(w) = spec.workloads.first() {
        reference.run(&point(spec, w, &spec.baseline, 0)?)?;
    }
    tick();
    for rep in 0..spec.repeats as usize {
        for (wi, w) in spec.workloads.iter().enumerate() {
            for i in 0..k {
                let pi = (i + rep) % k;
                let row = reference.run(&point(spec, w, policies[pi], rep)?)?;
                measured[wi][pi].push(row);
                tick();
            }
        }
    }
    Ok(measured)
}

/// Each candidate paired with the baseline at every point, measured and
/// predicted, and the baseline's agreement.
fn pair(spec: &DiffSpec, modelled: &[RunRow], measured: &[Vec<Vec<RunRow>>]) -> DiffValidation {
    let per = spec.repeats as usize;
    let k = spec.candidates.len() + 1;
    let mut diffs = Vec::new();
    for ci in 1..k {
        for (wi, w) in spec.workloads.iter().enumerate() {
            let m = &modelled[(wi * k) * per..(wi * k + k) * per];
            diffs.push(DiffPoint {
                workload: w.clone(),
                measured: ComparedPoint {
                    workload: w.clone(),
                    baseline: measured[wi][0].clone(),
                    candidate: measured[wi][ci].clone(),
                },
                predicted: ComparedPoint {
                    workload: w.clone(),
                    baseline: m[..per].to_vec(),
                    candidate: m[ci * per..(ci + 1) * per].to_vec(),
                },
                spread_pct: spec.spread_pct.unwrap_or(0.0),
            });
        }
    }
    let baseline = spec
        .workloads
        .iter()
        .enumerate()
        .filter_map(|(wi, _)| {
            Some(Agreement {
                reference: mean_row(&measured[wi][0])?,
                model: mean_row(&modelled[wi * k * per..(wi * k + 1) * per])?,
                reference_iops: measured[wi][0].iter().map(|row| row.iops).collect(),
                steepness: None,
            })
        })
        .collect();
    DiffValidation { diffs, baseline }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_line_quotes_the_preset_and_is_absent_without_one() {
        let mut p = pollwise_sim::Preset::load("optane-p4800x").unwrap();
        assert_eq!(spread_line(&p), None);
        p.calibration = Some(pollwise_sim::CalibrationSpread {
            device_spread_pct: 55.46,
        });
        let line = spread_line(&p).unwrap();
        assert!(line.starts_with("calibration: "), "{line}");
        assert!(line.contains("differed by up to 55.5%"), "{line}");
    }
    use pollwise_core::PolicyKind;

    /// A backend whose IOPS and CPU depend only on the policy, and which
    /// records the order it ran in.
    struct Fake {
        deterministic: bool,
        iops: fn(&str) -> f64,
        log: std::sync::Mutex<Vec<String>>,
    }

    impl Backend for Fake {
        fn source(&self) -> &'static str {
            "fake"
        }
        fn label(&self) -> String {
            "fake".into()
        }
        fn deterministic(&self) -> bool {
            self.deterministic
        }
        fn limits(&self) -> &pollwise_core::Limits {
            &pollwise_sim::LIMITS
        }
        fn run(&self, p: &Point) -> Result<RunRow, LabError> {
            let name = p.params.kind().name().to_string();
            self.log.lock().unwrap().push(name.clone());
            Ok(RunRow {
                policy: name.clone(),
                iops: (self.iops)(&name),
                iothread_cpu_pct: if name == "off" { 20.0 } else { 60.0 },
                ..crate::test_row()
            })
        }
    }

    #[test]
    fn diffs_pair_each_candidate_with_the_baseline_in_rotated_rounds() {
        let params = |n: &str| Params::defaults(PolicyKind::from_name(n).unwrap());
        let device = Fake {
            deterministic: false,
            iops: |p| if p == "off" { 90.0 } else { 100.0 },
            log: Default::default(),
        };
        let sim = Fake {
            deterministic: true,
            iops: |p| if p == "off" { 80.0 } else { 100.0 },
            log: Default::default(),
        };
        let spec = DiffSpec {
            workloads: vec![crate::test_workload()],
            baseline: params("qemu"),
            candidates: vec![params("off"), params("fixed")],
            seed: 1,
            repeats: 3,
            spread_pct: None,
        };
        let v = validate_diffs(&device, &sim, &spec, &crate::quiet).unwrap();
        // Warm-up, then rounds rotated by one.
        let log = device.log.lock().unwrap().clone();
        assert_eq!(
            log,
            ["qemu", "qemu", "off", "fixed", "off", "fixed", "qemu", "fixed", "qemu", "off"]
        );
        assert_eq!(v.diffs.len(), 2);
        let off = &v.diffs[0];
        assert_eq!(off.measured.candidate[0].policy, "off");
        assert_eq!(off.measured_iops().median, -10.0);
        assert_eq!(off.predicted_iops_pct(), -20.0);
        assert_eq!(off.predicted_cpu_pts(), -40.0);
        assert_eq!(off.measured_cpu().median, -40.0);
        // -20 is 10 points from -10 with a point interval: a miss, and the
        // sign is right.
        assert!(!off.iops_ok() && off.cpu_ok());
        assert_eq!(off.sign_ok(), Some(true));
        assert!(v.diffs[1].iops_ok());
        // Constant differences of zero: the sign is not resolved.
        assert_eq!(v.diffs[1].sign_ok(), None);
        assert_eq!(v.baseline.len(), 1);
        assert_eq!(v.baseline[0].iops_err_pct(), 0.0);
    }

    fn compared(base: &[f64], cand: &[f64]) -> ComparedPoint {
        let rows = |v: &[f64]| -> Vec<RunRow> {
            v.iter()
                .map(|&iops| RunRow {
                    iops,
                    ..crate::test_row()
                })
                .collect()
        };
        ComparedPoint {
            workload: crate::test_workload(),
            baseline: rows(base),
            candidate: rows(cand),
        }
    }

    #[test]
    fn the_sign_is_judged_only_where_both_intervals_exclude_zero() {
        let base = [100.0; 5];
        let point = |predicted: &[f64]| DiffPoint {
            workload: crate::test_workload(),
            measured: compared(&base, &[110.0, 111.0, 112.0, 113.0, 114.0]),
            predicted: compared(&base, predicted),
            spread_pct: 0.0,
        };
        // Predicted -10% with a resolved interval: the wrong sign.
        let wrong = point(&[90.0, 91.0, 89.0, 90.0, 90.0]);
        assert_eq!(wrong.sign_ok(), Some(false));
        assert!(!wrong.iops_ok());
        // A prediction whose interval straddles zero has no sign to judge.
        let unresolved = point(&[95.0, 105.0, 99.0, 102.0, 108.0]);
        assert_eq!(unresolved.sign_ok(), None);
        // Within 3 points of the median but the sign wrong: still a miss.
        let measured_small = DiffPoint {
            measured: compared(&base, &[101.0, 101.5, 102.0, 101.0, 101.2]),
            ..point(&[99.0, 99.2, 99.1, 99.0, 99.3])
        };
        assert_eq!(measured_small.sign_ok(), Some(false));
        assert!(!measured_small.iops_ok());
    }

    #[test]
    fn errors_are_model_against_reference() {
        let a = Agreement {
            reference: RunRow {
                iops: 200.0,
                iothread_cpu_pct: 30.0,
                ..crate::test_row()
            },
            model: RunRow {
                iops: 150.0,
                iothread_cpu_pct: 45.0,
                ..crate::test_row()
            },
            reference_iops: vec![200.0; 4],
            steepness: None,
        };
        assert_eq!(a.iops_err_pct(), -25.0);
        assert_eq!(a.cpu_err_points(), 15.0);
        assert!(!a.iops_ok() && !a.cpu_ok());
    }
}
