//! What every loom test shares: running a model and counting what it explored.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set, so that a
/// bare `RUSTFLAGS="--cfg loom" cargo test` still finishes quickly.
const DEFAULT_PREEMPTIONS: usize = 2;

/// Explores every interleaving of `model` within the preemption bound and
/// returns how many executions loom ran; prints the count for the record.
pub fn explore<F>(name: &str, model: F) -> usize
where
    F: Fn() + Sync + Send + 'static,
{
    let executions = Arc::new(AtomicUsize::new(0));
    let bound = explore_counting(Arc::clone(&executions), model);
    let n = executions.load(Ordering::Relaxed);
    eprintln!("{name}: {n} executions explored (preemption bound {bound:?})");
    n
}

/// Like [`explore`], but counts into `executions`, which stays readable when
/// loom panics on a failing execution; returns the preemption bound used.
pub fn explore_counting<F>(executions: Arc<AtomicUsize>, model: F) -> Option<usize>
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    let bound = builder.preemption_bound;
    builder.check(move || {
        // A plain std atomic: it lives outside the model and is not part of
        // what loom permutes.
        executions.fetch_add(1, Ordering::Relaxed);
        model();
    });
    bound
}
