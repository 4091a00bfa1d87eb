//! A best-known frontier by rollout: the priced clairvoyant (see
//! `pollwise_core::Clairvoyant`) improved by trying both choices at every
//! decision in the deterministic simulator.
//!
//! At each decision of the measured interval the run's whole state is
//! cloned twice; one copy is made to poll for the next event, the other to
//! block for it, and each then runs under the clairvoyant at the same price
//! until `horizon_completions` more requests have completed (or
//! `max_horizon_ns` has passed). Each copy's cost is its IOThread CPU over
//! that stretch plus the price times its length (the time the guest took
//! for the same work); the real run takes the cheaper choice and goes on to
//! the next decision. This is Bertsekas's rollout with the clairvoyant as
//! its base policy.
//!
//! What it guarantees, and what not: every point it produces is achievable
//! by a policy that knows the future, so it is a frontier *that is known to
//! be reachable*, not a lower bound. With an exact evaluation to the end of
//! the run, rollout is never worse than its base policy under the price;
//! here the horizon is truncated to keep it affordable, so even that holds
//! only approximately (the study reports both side by side). Decisions in
//! the warm-up, and those whose horizon would pass the end of the measured
//! interval, are left to the base policy. A run costs about
//! `2 x horizon` extra events per decision plus two copies of the state, so
//! the study runs it on a reduced matrix.

use pollwise_core::{Params, PolicyKind, RunRow};

use crate::engine::Engine;
use crate::error::SimError;
use crate::preset::Preset;
use crate::workload::Workload;

/// How far each branch of a decision is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolloutOptions {
    /// Completions each branch waits for.
    pub horizon_completions: u32,
    /// The longest a branch runs, in simulated ns.
    pub max_horizon_ns: u64,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            horizon_completions: 8,
            max_horizon_ns: 2_000_000,
        }
    }
}

/// The cost of one branch: IOThread CPU plus the priced time the guest took
/// for the same completions, in milli-ns.
fn branch_cost(start: &Engine<'_>, poll: bool, price_milli: u64, opts: &RolloutOptions) -> u128 {
    let mut e = start.clone();
    let (c0, cpu0) = e.progress();
    let t0 = e.now();
    e.force_next(poll);
    let d0 = e.decisions();
    let deadline = t0.saturating_add(opts.max_horizon_ns);
    loop {
        if !e.step() {
            break;
        }
        let decided = e.decisions() > d0;
        if decided
            && (e.completions() >= c0 + u64::from(opts.horizon_completions) || e.now() >= deadline)
        {
            break;
        }
    }
    let (_, cpu1) = e.progress();
    u128::from(cpu1 - cpu0) * 1000 + u128::from(price_milli) * u128::from(e.now() - t0)
}

/// Simulates one run of the rollout over the priced clairvoyant `params`
/// (kind `clairvoyant`). The row's policy is `rollout`; its parameters name
/// the horizon.
pub fn simulate_rollout(
    preset: &Preset,
    workload: &Workload,
    params: &Params,
    seed: u64,
    opts: RolloutOptions,
) -> Result<RunRow, SimError> {
    if params.kind() != PolicyKind::Clairvoyant {
        return Err(SimError::Policy(format!(
            "the rollout improves the priced clairvoyant; got policy {}, use clairvoyant",
            params.kind()
        )));
    }
    if opts.horizon_completions == 0 || opts.max_horizon_ns == 0 {
        return Err(SimError::Workload(
            "the rollout's horizon must be at least one completion and 1 ns".into(),
        ));
    }
    let price_milli = params.get(pollwise_core::Param::DelayPriceMilli);
    let mut e = Engine::new(preset, workload, params, seed, false)?;
    e.start();
    let (from, to) = e.measured();
    let mut running = true;
    while running {
        let now = e.now();
        if now < from || now.saturating_add(opts.max_horizon_ns) >= to {
            running = e.step();
            continue;
        }
        let poll = branch_cost(&e, true, price_milli, &opts);
        let block = branch_cost(&e, false, price_milli, &opts);
        e.force_next(poll <= block);
        let d0 = e.decisions();
        while running && e.decisions() == d0 {
            running = e.step();
        }
    }
    let (mut row, _) = e.finish();
    row.policy = "rollout".into();
    row.params = format!(
        "{} rollout-completions={} rollout-max-ns={}",
        row.params, opts.horizon_completions, opts.max_horizon_ns
    );
    Ok(row)
}

/// Runs every job (kind `clairvoyant`) as a rollout, in parallel, results in
/// job order; `done` is called after each.
pub fn run_rollout_jobs(
    jobs: &[crate::batch::Job<'_>],
    opts: RolloutOptions,
    done: &(dyn Fn(crate::batch::Finished) + Sync),
) -> Result<Vec<RunRow>, SimError> {
    let variant = format!("rollout {opts:?}");
    crate::batch::run_each(jobs, &variant, done, |j| {
        simulate_rollout(j.preset, &j.workload, &j.params, j.seed, opts)
    })
}
