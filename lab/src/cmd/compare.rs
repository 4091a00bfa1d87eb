//! `pollwise compare`: a baseline and a candidate over a preset's matrix
//! on the simulator, or over a small matrix on a real backend.

use pollwise_core::{Params, Rw};

use super::compared::{Compared, SimCompared};
use super::policy::PairFlags;
use super::real::{self, BackendKind, RealFlags};
use super::sim::load_preset;
use super::workload::WorkloadFlags;
use super::{fail, repeat_of, Result, Ui};
use crate::acceptance::check_bar;
use crate::stats::DEFAULT_DEVICE_REPEATS;
use crate::{compare, CompareSpec, ComparedPoint, Matrix, SimBackend};

pub use super::compared::CompareFormat;

/// The preset `compare` simulates when none is given.
pub const DEFAULT_PRESET: &str = "optane-p4800x";

/// `pollwise compare`, as typed.
#[derive(Clone, Debug)]
pub struct CompareCmd {
    /// `--preset`, if given (the simulator's; a real backend refuses it).
    pub preset: Option<String>,
    pub policies: PairFlags,
    pub workload: WorkloadFlags,
    pub repeat: Option<u32>,
    /// The deprecated `--seeds`.
    pub seeds: Option<u32>,
    pub seed: u64,
    pub latency_scale: Option<f64>,
    pub backend: BackendKind,
    pub real: RealFlags,
    pub accept_iops_loss: f64,
}

impl CompareCmd {
    /// The default compare (QEMU's rule against the proposal on the
    /// default preset's whole matrix), for `bench`.
    pub fn default_sim() -> CompareCmd {
        CompareCmd {
            preset: None,
            policies: PairFlags::default_pair(),
            workload: WorkloadFlags::default(),
            repeat: None,
            seeds: None,
            seed: 1,
            latency_scale: None,
            backend: BackendKind::Sim,
            real: RealFlags::default(),
            accept_iops_loss: crate::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT,
        }
    }
}

/// Everything `compare` computes on the simulator, and the preset's
/// warm-up. Flags not given keep the whole preset matrix's values for
/// their axis.
pub fn sim_points(
    ui: &dyn Ui,
    c: &CompareCmd,
    (baseline, candidate): (Params, Params),
    repeats: u32,
) -> Result<(Vec<ComparedPoint>, u64, Option<Vec<Rw>>)> {
    let name = c.preset.as_deref().unwrap_or(DEFAULT_PRESET);
    let preset = load_preset(name, c.latency_scale)?;
    let preset = c.workload.apply_to_preset(preset)?;
    let matrix = c.workload.matrix(ui, Matrix::of_preset(&preset.matrix))?;
    let spec = CompareSpec {
        workloads: matrix.workloads(&pollwise_sim::LIMITS)?,
        baseline,
        candidate,
        variants: [None, None],
        seed: c.seed,
        repeats,
    };
    let runs = pollwise_sim::batch::check_runs(
        (spec.workloads.len() as u64 * 2).checked_mul(u64::from(repeats)),
        &format!(
            "this compare ({} workloads x {repeats} repeats x 2 policies)",
            spec.workloads.len()
        ),
    )?;
    let events: f64 = spec
        .workloads
        .iter()
        .map(|w| pollwise_sim::batch::run_events(&preset, w) * f64::from(repeats) * 2.0)
        .sum();
    let what = format!("this compare ({runs} runs)");
    let lower = "--repeat, --duration-ms or the matrix (--rw, --bs, --numjobs, --iothreads)";
    super::bound_work(&|l| ui.note(l), runs, events, &what, lower)?;
    let warmup_ms = preset.matrix.warmup_ms;
    let fitted_rw = preset.matrix.fitted_rw.clone();
    let points = compare(&SimBackend { preset }, &spec, &|p| ui.progress(p))?;
    Ok((points, warmup_ms, fitted_rw))
}

/// Runs the compare on its backend.
pub fn run(ui: &dyn Ui, c: &CompareCmd) -> Result<Compared> {
    let bar = check_bar(c.accept_iops_loss)?;
    if c.backend == BackendKind::Qemu {
        let (policies, variants) = qemu_pair(ui, c)?;
        let repeats = repeat_of(ui, c.repeat, c.seeds, DEFAULT_DEVICE_REPEATS)?;
        return real_run(ui, c, policies, variants, repeats, bar);
    }
    let policies = c.policies.params(ui)?;
    if c.backend != BackendKind::Sim {
        let repeats = repeat_of(ui, c.repeat, c.seeds, DEFAULT_DEVICE_REPEATS)?;
        return real_run(ui, c, policies, [None, None], repeats, bar);
    }
    if c.real.used() {
        return fail(RealFlags::SIM_ERROR);
    }
    let repeats = repeat_of(ui, c.repeat, c.seeds, 1)?;
    let (points, warmup_ms, fitted_rw) = sim_points(ui, c, policies.clone(), repeats)?;
    let (baseline, candidate) = policies;
    Ok(Compared::Sim(SimCompared {
        points,
        baseline,
        candidate,
        seed: c.seed,
        warmup_ms,
        bar,
        fitted_rw,
    }))
}

/// The baseline's and the candidate's parameters.
type PolicyPair = (Params, Params);

/// The baseline and candidate on the qemu backend: a name that is not a
/// policy but a variant built from a patch series in the cache is that
/// variant with its own IOThread properties
/// ([`crate::qemu_backend::series_spec`]).
fn qemu_pair(ui: &dyn Ui, c: &CompareCmd) -> Result<(PolicyPair, [Option<String>; 2])> {
    let cache = super::target::cache_dir(c.real.cache.as_ref())?;
    let f = &c.policies;
    let mut out = Vec::new();
    for (flag, spec, old_flag, old) in [
        (
            "baseline",
            &f.baseline,
            "--baseline-params",
            &f.baseline_params,
        ),
        (
            "candidate",
            &f.candidate,
            "--candidate-params",
            &f.candidate_params,
        ),
    ] {
        let old = super::policy::old_pairs(old_flag, old.as_deref())?;
        let extra: Vec<(String, String)> = old
            .iter()
            .filter_map(|(_, pair)| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        out.push(
            match crate::qemu_backend::series_spec(&cache, flag, spec, &extra)? {
                Some((params, name)) => (params, Some(name)),
                None => (super::policy::spec_with(ui, flag, spec, &old)?, None),
            },
        );
    }
    let (c_params, c_variant) = out.pop().expect("two sides");
    let (b_params, b_variant) = out.pop().expect("two sides");
    Ok(((b_params, c_params), [b_variant, c_variant]))
}

/// `compare --backend device|qemu`.
fn real_run(
    ui: &dyn Ui,
    c: &CompareCmd,
    (baseline, candidate): (Params, Params),
    variants: [Option<String>; 2],
    repeats: u32,
    bar: f64,
) -> Result<Compared> {
    let kind = c.backend;
    let backend = kind.name();
    if c.latency_scale.is_some() {
        return fail(format!(
            "--latency-scale scales the simulator's device; it has no effect with --backend \
             {backend}"
        ));
    }
    if let Some(p) = &c.preset {
        return fail(format!(
            "--preset {p} is the simulator's device and host; --backend {backend} runs on the \
             real one: leave --preset out (or use `pollwise validate --preset {p} --backend \
             {backend}` to check a preset against it)"
        ));
    }
    let workloads = c.workload.real_matrix(ui)?.workloads(real::limits(kind))?;
    let spec = CompareSpec {
        workloads,
        baseline,
        candidate,
        variants,
        seed: c.seed,
        repeats,
    };
    Ok(Compared::Paired(real::compare(
        ui,
        kind,
        spec,
        (&c.real, &c.workload.inputs()),
        bar,
    )?))
}
