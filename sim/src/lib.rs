//! pollwise's deterministic discrete-event simulator.
//!
//! A run is a pure function of (preset, workload, policy parameters, seed):
//! an integer-nanosecond virtual clock, one explicitly seeded PCG generator
//! per run, events ordered by (time, sequence number). Parallelism lives
//! only across runs (see [`sweep`]).

pub mod batch;
mod dist;
mod engine;
mod error;
pub mod host;
pub mod loop_driver;
mod preset;
mod queue;
pub mod rollout;
pub mod sweep;
mod trace;
mod workload;

pub use dist::{LatencyDist, MAX_LATENCY_NS};
pub use error::SimError;
pub use preset::{
    CalibrationSpread, Device, Guest, Host, HostPasses, IoThreadCosts, Matrix, Packing, Preset,
    Topology, VqMapping, MAX_SCHEDULER_FACTS, MAX_SCHEDULER_FACT_LEN, MAX_SPREAD_PCT,
};
pub use workload::{Rw, Validate, Workload, LIMITS};

use pollwise_core::{IterRecord, JobWakes, Params, RunRow, TraceRow};

/// Simulates one run and returns its metrics row.
pub fn simulate(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
) -> Result<RunRow, SimError> {
    Ok(engine::Engine::new(preset, workload, params, seed, false)?
        .run()
        .0)
}

/// Simulates one run and also returns its window trajectory: one row per
/// window change, per IOThread.
pub fn simulate_traced(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
) -> Result<(RunRow, Vec<TraceRow>), SimError> {
    Ok(engine::Engine::new(preset, workload, params, seed, true)?.run())
}

/// Simulates one run and hands its window trajectory to `sink` row by row
/// as it is made (memory does not grow with the run's length); the rows
/// are those [`simulate_traced`] returns, in the same order.
pub fn simulate_streamed<'a>(
    preset: &'a Preset,
    workload: &'a Workload,
    params: &'a Params,
    seed: u64,
    sink: impl FnMut(TraceRow) + 'a,
) -> Result<RunRow, SimError> {
    Ok(engine::Engine::new(preset, workload, params, seed, true)?
        .stream_trace(Box::new(sink))
        .run()
        .0)
}

/// Simulates one run and also returns every loop iteration of its measured
/// interval, phase by phase (at most [`pollwise_core::MAX_ITER_RECORDS`]),
/// start times from the start of the measured interval.
pub fn simulate_iterations(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
) -> Result<(RunRow, Vec<IterRecord>), SimError> {
    simulate_explained(preset, workload, params, seed).map(|(row, log, _)| (row, log))
}

/// [`simulate_iterations`], and on a shared host where the jobs woken by
/// completions ran ([`JobWakes`]; all 0 without one).
pub fn simulate_explained(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
) -> Result<(RunRow, Vec<IterRecord>, JobWakes), SimError> {
    Ok(engine::Engine::new(preset, workload, params, seed, false)?
        .log_iterations()
        .run_logged())
}

/// Simulates one run, hands its window trajectory to `sink` as
/// [`simulate_streamed`] does, and returns every loop iteration of its
/// measured interval as [`simulate_iterations`] does.
pub fn simulate_streamed_iterations<'a>(
    preset: &'a Preset,
    workload: &'a Workload,
    params: &'a Params,
    seed: u64,
    sink: impl FnMut(TraceRow) + 'a,
) -> Result<(RunRow, Vec<IterRecord>), SimError> {
    let (row, log, _) = engine::Engine::new(preset, workload, params, seed, true)?
        .stream_trace(Box::new(sink))
        .log_iterations()
        .run_logged();
    Ok((row, log))
}

/// Simulates one run and returns its metrics and the number of events the
/// engine processed (for measuring the simulator's speed).
pub fn simulate_counted(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
) -> Result<(RunRow, u64), SimError> {
    let (row, _, events) =
        engine::Engine::new(preset, workload, params, seed, false)?.run_counted();
    Ok((row, events))
}
