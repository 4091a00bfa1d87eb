//! Where runs happen. A [`Backend`] turns one [`Point`] (a workload, policy
//! parameters and a seed) into a [`RunRow`]. The simulator is
//! deterministic (repeats are seeds, and runs may go in parallel); the
//! device is not (repeats are real repetitions, interleaved). A third
//! backend (for example QEMU's own `aio_poll()` built from source) only
//! implements this trait.

use pollwise_core::{IterRecord, JobWakes, Limits, Params, RunRow, Workload};
use pollwise_realdev::run::{self as device, RunConfig};
use pollwise_realdev::sys::SigintGuard;
use pollwise_realdev::target::{Target, TargetSpec};
use pollwise_sim::batch::{run_events, run_jobs, Finished, Job};
use pollwise_sim::Preset;

use crate::LabError;

/// One run to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub workload: Workload,
    pub params: Params,
    /// The run's random seed (the simulator's generator, the device jobs'
    /// offsets).
    pub seed: u64,
    /// A QEMU variant built from a patch series that runs `params` instead
    /// of the policy's own variant (only the qemu backend has one).
    pub qemu_variant: Option<String>,
}

pub trait Backend: Sync {
    /// The `source` its rows carry ("sim", "realdev").
    fn source(&self) -> &'static str;
    /// What it runs on: a preset's name, "scratch" or a device path.
    fn label(&self) -> String;
    /// True when a point's row is a pure function of the point: repeats
    /// are then seeds, and order does not matter.
    fn deterministic(&self) -> bool;
    /// The workloads it accepts.
    fn limits(&self) -> &Limits;
    /// Checks that the backend can run a policy (the clairvoyant oracle
    /// needs the simulator's knowledge of the future).
    fn check_params(&self, _params: &Params) -> Result<(), LabError> {
        Ok(())
    }
    /// [`Backend::check_params`] for a point that may name a QEMU series
    /// variant ([`Point::qemu_variant`]), which only the qemu backend runs.
    fn check_variant(&self, params: &Params, qemu_variant: Option<&str>) -> Result<(), LabError> {
        match qemu_variant {
            Some(v) => Err(LabError::Input(format!(
                "'{v}' is a QEMU variant built from a patch series: it runs only with \
                 --backend qemu, not on {}",
                self.source()
            ))),
            None => self.check_params(params),
        }
    }
    fn run(&self, point: &Point) -> Result<RunRow, LabError>;
    /// Runs `points` and returns their rows in the same order, calling
    /// `done` after each; deterministic backends may run them in parallel.
    fn run_all(&self, points: &[Point], done: &(dyn Fn() + Sync)) -> Result<Vec<RunRow>, LabError> {
        self.run_each(points, &|_| done())
    }
    /// A point's expected cost, in a unit of the backend's own: a run's
    /// duration unless the backend knows better.
    fn cost(&self, point: &Point) -> f64 {
        point.workload.duration_ms as f64
    }
    /// [`Backend::run_all`], telling `done` each run's [`Backend::cost`].
    fn run_each(
        &self,
        points: &[Point],
        done: &(dyn Fn(Finished) + Sync),
    ) -> Result<Vec<RunRow>, LabError> {
        points
            .iter()
            .map(|p| {
                let row = self.run(p);
                done(Finished {
                    events: self.cost(p),
                    cached: false,
                });
                row
            })
            .collect()
    }
}

/// The discrete-event simulator on a preset.
pub struct SimBackend {
    pub preset: Preset,
}

impl Backend for SimBackend {
    fn source(&self) -> &'static str {
        "sim"
    }
    fn label(&self) -> String {
        self.preset.name.clone()
    }
    fn deterministic(&self) -> bool {
        true
    }
    fn limits(&self) -> &Limits {
        &pollwise_sim::LIMITS
    }
    fn run(&self, p: &Point) -> Result<RunRow, LabError> {
        Ok(pollwise_sim::simulate(
            &self.preset,
            &p.workload,
            &p.params,
            p.seed,
        )?)
    }
    fn cost(&self, p: &Point) -> f64 {
        run_events(&self.preset, &p.workload)
    }
    fn run_each(
        &self,
        points: &[Point],
        done: &(dyn Fn(Finished) + Sync),
    ) -> Result<Vec<RunRow>, LabError> {
        let jobs: Vec<Job> = points
            .iter()
            .map(|p| Job {
                preset: &self.preset,
                workload: p.workload.clone(),
                params: p.params.clone(),
                seed: p.seed,
            })
            .collect();
        Ok(run_jobs(&jobs, done)?)
    }
}

/// The real-device loop on one target, opened once for every run: a
/// scratch file made (and filled) once, sized for the largest block size,
/// or the user's file. Ctrl-C between runs ends the experiment through the
/// path that removes the scratch file.
pub struct DeviceBackend {
    spec: TargetSpec,
    label: String,
    sigint: SigintGuard,
    // Dropped (and so removed) with the backend.
    _scratch: Option<Target>,
}

impl DeviceBackend {
    /// Opens `target` for runs of block sizes up to `max_bs`.
    pub fn open(target: &TargetSpec, max_bs: u64) -> Result<DeviceBackend, LabError> {
        // Installed before the scratch file exists, so a Ctrl-C while it
        // is filled also ends through the path that removes it.
        let sigint = SigintGuard::install().map_err(|e| LabError::Input(e.to_string()))?;
        Ok(match target {
            TargetSpec::Scratch { .. } => {
                let scratch = Target::open(target, max_bs, true)?;
                let path = scratch.path().to_path_buf();
                DeviceBackend {
                    spec: TargetSpec::Existing {
                        path: path.clone(),
                        allow_write_to: Some(path),
                    },
                    label: "scratch".into(),
                    sigint,
                    _scratch: Some(scratch),
                }
            }
            TargetSpec::Existing { path, .. } => DeviceBackend {
                spec: target.clone(),
                label: path.display().to_string(),
                sigint,
                _scratch: None,
            },
        })
    }
}

impl DeviceBackend {
    /// One run that also logs every loop iteration, phase by phase
    /// (`validate --explain`).
    pub fn run_logged(&self, p: &Point) -> Result<(RunRow, Vec<IterRecord>, JobWakes), LabError> {
        self.run_with(p, true)
    }

    fn run_with(
        &self,
        p: &Point,
        log: bool,
    ) -> Result<(RunRow, Vec<IterRecord>, JobWakes), LabError> {
        if self.sigint.interrupted() {
            return Err(LabError::Interrupted);
        }
        self.check_params(&p.params)?;
        let cfg = RunConfig {
            workload: pollwise_realdev::loadgen::JobSpec::new(&p.workload, p.seed),
            duration_ms: p.workload.duration_ms,
            params: p.params.clone(),
            target: self.spec.clone(),
            changes: Vec::new(),
            trace: false,
            log_iterations: log,
            catch_sigint: true,
        };
        let out = device::run(&cfg)?;
        let wakes = out.jobs.iter().fold(JobWakes::default(), |a, j| JobWakes {
            woken: a.woken + j.wakes.woken,
            on_loop_cpu: a.on_loop_cpu + j.wakes.on_loop_cpu,
        });
        let mut row = out.row;
        row.preset = self.label.clone();
        Ok((row, out.loop_report.iterations_log, wakes))
    }
}

/// Refuses the clairvoyant oracle on a backend that cannot know the
/// future.
pub fn online(params: &Params) -> Result<(), LabError> {
    if params.kind().is_clairvoyant() {
        return Err(LabError::Input(format!(
            "policy '{}' needs to know the future and only runs in simulation; \
             pick an online policy (see `pollwise policy list`)",
            params.kind()
        )));
    }
    Ok(())
}

impl Backend for DeviceBackend {
    fn source(&self) -> &'static str {
        "realdev"
    }
    fn label(&self) -> String {
        self.label.clone()
    }
    fn deterministic(&self) -> bool {
        false
    }
    fn limits(&self) -> &Limits {
        &pollwise_realdev::loadgen::LIMITS
    }
    fn check_params(&self, params: &Params) -> Result<(), LabError> {
        online(params)
    }
    fn run(&self, p: &Point) -> Result<RunRow, LabError> {
        Ok(self.run_with(p, false)?.0)
    }
}
