//! Many independent runs in parallel. Each run is deterministic, and the
//! results come back in job order, so the output does not depend on the
//! number of threads or on scheduling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use pollwise_core::{Params, RunRow, Rw};

use crate::error::SimError;
use crate::preset::Preset;
use crate::workload::Workload;

/// The most runs one batch may hold: far beyond any useful sweep on one
/// machine (shard larger ones), and small enough that the job list fits in
/// memory.
pub const MAX_RUNS: u64 = 10_000_000;

/// `count` runs, or an error saying the batch is too large.
pub fn check_runs(count: Option<u64>, what: &str) -> Result<u64, SimError> {
    match count {
        Some(n) if n <= MAX_RUNS => Ok(n),
        Some(n) => Err(SimError::Workload(format!(
            "{what} would be {n} runs; at most {MAX_RUNS} are allowed: use fewer values or seeds"
        ))),
        None => Err(SimError::Workload(format!(
            "{what} would be more than 2^64 runs; at most {MAX_RUNS} are allowed: use fewer \
             values or seeds"
        ))),
    }
}

/// Simulated events one run may process at most before a run set is
/// refused: about 5.5 hours of one CPU at [`EVENTS_PER_SEC`] (the default
/// study is about 3e10).
pub const MAX_EVENTS: f64 = 2e11;

/// Events the simulator processes per second on one thread, about (an
/// optimised build, `pollwise bench`): for the time an error quotes.
pub const EVENTS_PER_SEC: f64 = 1e7;

/// Events one request causes, at most (submission, completion, the
/// IOThread's iterations and the guest's interrupt; 6 to 22 in the
/// embedded presets' matrices).
pub const EVENTS_PER_REQUEST: f64 = 24.0;

/// The events one run of `w` on `preset` processes, about: its virtual time
/// (warm-up and measured) times the fastest request rate the preset allows
/// (the requests in flight over its fastest median latency, capped by its
/// channels, its bandwidth and the guest's CPU per request) times
/// [`EVENTS_PER_REQUEST`].
pub fn run_events(preset: &Preset, w: &Workload) -> f64 {
    let d = &preset.device;
    let disks = f64::from(preset.topology.disks);
    let (latency, bytes_per_s) = match w.rw {
        Rw::Read | Rw::RandRead => (d.read_latency.median_ns(), d.read_bytes_per_s),
        Rw::Write | Rw::RandWrite => (d.write_latency.median_ns(), d.write_bytes_per_s),
        Rw::RandRw => (
            d.read_latency.median_ns().min(d.write_latency.median_ns()),
            d.read_bytes_per_s.max(d.write_bytes_per_s),
        ),
    };
    let inflight = f64::from(w.numjobs) * f64::from(w.iodepth);
    let channels = disks * f64::from(d.parallelism);
    // Requests per ns by each limit.
    let by_depth = inflight.min(channels) / latency.max(1) as f64;
    let by_bandwidth = disks * bytes_per_s as f64 / 1e9 / w.bs.max(1) as f64;
    let g = &preset.guest;
    let guest_ns = g.io_cpu_ns + g.io_cpu_ns_per_kib * w.bs / 1024;
    let by_guest = f64::from(w.numjobs.min(g.vcpus)) / guest_ns.max(1) as f64;
    let virtual_ns = (preset.matrix.warmup_ms + w.duration_ms) as f64 * 1e6;
    by_depth.min(by_bandwidth).min(by_guest) * virtual_ns * EVENTS_PER_REQUEST
}

/// `events` (the sum of [`run_events`] over a run set), or an error saying
/// the work is too large, how long it would take and what to lower.
pub fn check_events(events: f64, runs: u64, what: &str, lower: &str) -> Result<f64, SimError> {
    if events <= MAX_EVENTS {
        return Ok(events);
    }
    let threads = threads_for(runs.try_into().unwrap_or(usize::MAX));
    let hours = events / EVENTS_PER_SEC / threads as f64 / 3600.0;
    Err(SimError::Workload(format!(
        "{what} would process about {events:.1e} simulated events (runs x virtual time x the \
         preset's fastest request rate), about {hours:.1} h on {threads} threads; at most \
         {MAX_EVENTS:.0e} are allowed: lower {lower}"
    )))
}

/// The threads asked for (`--threads`); 0: one per CPU.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the threads runs use (0: one per CPU).
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The threads `--threads` asked for; 0: not given (one per CPU).
pub fn threads_asked() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// The threads a run set of `runs` runs uses: those asked for (or one per
/// CPU), at most one per run, at least one.
pub fn threads_for(runs: usize) -> usize {
    let asked = match threads_asked() {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    asked.min(runs).max(1)
}

/// Runs `f` on a pool of [`threads_for`]`(runs)` threads: a pool sized
/// where the run set is known, never larger than it.
pub fn in_pool<R: Send>(runs: usize, f: impl FnOnce() -> R + Send) -> Result<R, SimError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads_for(runs))
        .build()
        .map_err(|e| SimError::Workload(format!("cannot start the run threads: {e}")))?;
    Ok(pool.install(f))
}

/// Seed `base + index`, or an error when it would pass u64::MAX.
pub fn nth_seed(base: u64, index: u64) -> Result<u64, SimError> {
    base.checked_add(index).ok_or_else(|| {
        SimError::Workload(format!(
            "seed {base} + {index} overflows: use a smaller --seed"
        ))
    })
}

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    pub preset: &'a Preset,
    pub workload: Workload,
    pub params: Params,
    pub seed: u64,
}

/// Rows already made, kept by the caller (a cache across runs and
/// processes): a run is a pure function of its job and `variant` (what
/// kind of run it is), so a row found needs no simulation.
pub trait RunStore: Send + Sync {
    fn get(&self, job: &Job<'_>, variant: &str) -> Option<RunRow>;
    fn put(&self, job: &Job<'_>, variant: &str, row: &RunRow);
}

static STORE: OnceLock<Box<dyn RunStore>> = OnceLock::new();

/// Makes every run set of this process look rows up in `store` first and
/// keep the rows it makes there. Set once; later calls are ignored.
pub fn set_store(store: Box<dyn RunStore>) {
    let _ = STORE.set(store);
}

/// Runs every job (in parallel) and calls `done` after each one, from any
/// thread, for progress reporting.
pub fn run_jobs(
    jobs: &[Job<'_>],
    done: &(dyn Fn(Finished) + Sync),
) -> Result<Vec<RunRow>, SimError> {
    run_each(jobs, "plain", done, |j| {
        crate::simulate(j.preset, &j.workload, &j.params, j.seed)
    })
}

/// A finished run, as the `done` callbacks of [`run_each`] hear of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finished {
    /// Its expected cost ([`run_events`]), for an ETA that tells long runs
    /// from short ones.
    pub events: f64,
    /// It came from the run cache and took no time.
    pub cached: bool,
}

/// Runs `run` on every job whose row the store (if any) does not have, on
/// a pool of [`threads_for`] threads that take the longest runs
/// ([`run_events`]) first, so no thread is left with a long run at the end;
/// rows come back in job order.
pub fn run_each(
    jobs: &[Job<'_>],
    variant: &str,
    done: &(dyn Fn(Finished) + Sync),
    run: impl Fn(&Job<'_>) -> Result<RunRow, SimError> + Sync,
) -> Result<Vec<RunRow>, SimError> {
    let store = STORE.get();
    let mut rows: Vec<Option<RunRow>> = jobs
        .iter()
        .map(|j| store.and_then(|s| s.get(j, variant)))
        .collect();
    let cost = |i: &usize| run_events(jobs[*i].preset, &jobs[*i].workload);
    for i in (0..jobs.len()).filter(|&i| rows[i].is_some()) {
        done(Finished {
            events: cost(&i),
            cached: true,
        });
    }
    let mut todo: Vec<usize> = (0..jobs.len()).filter(|&i| rows[i].is_none()).collect();
    todo.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
    let next = AtomicUsize::new(0);
    let made: Vec<(usize, Result<RunRow, SimError>)> = in_pool(todo.len(), || {
        rayon::broadcast(|_| {
            let mut mine = Vec::new();
            while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                let row = run(&jobs[i]);
                if let (Some(s), Ok(r)) = (store, &row) {
                    s.put(&jobs[i], variant, r);
                }
                done(Finished {
                    events: cost(&i),
                    cached: false,
                });
                mine.push((i, row));
            }
            mine
        })
        .into_iter()
        .flatten()
        .collect()
    })?;
    for (i, row) in made {
        rows[i] = Some(row?);
    }
    Ok(rows
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::PolicyKind;

    /// Every row of both embedded presets' matrices, short.
    fn rows() -> Vec<(Preset, Workload)> {
        let mut out = Vec::new();
        for name in ["optane-p4800x", "fcp-16disk"] {
            let p = Preset::load(name).unwrap();
            for mut w in p.matrix.workloads() {
                w.duration_ms = 20;
                out.push((p.clone(), w));
            }
        }
        out
    }

    #[test]
    fn the_estimate_bounds_the_events_a_run_processes_within_a_small_factor() {
        for (p, w) in rows() {
            for kind in [PolicyKind::Qemu, PolicyKind::Fixed] {
                let (_, events) =
                    crate::simulate_counted(&p, &w, &Params::defaults(kind), 1).unwrap();
                let estimate = run_events(&p, &w);
                let ratio = estimate / events as f64;
                assert!(
                    (1.0..=12.0).contains(&ratio),
                    "{} {w:?} {kind:?}: estimate {estimate:.0}, processed {events}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn the_default_compares_fit_and_a_day_of_them_does_not() {
        for name in ["optane-p4800x", "fcp-16disk"] {
            let p = Preset::load(name).unwrap();
            let whole: f64 = p.matrix.workloads().iter().map(|w| run_events(&p, w)).sum();
            assert!(
                check_events(whole * 2.0, 64, "a compare", "x").is_ok(),
                "{name}: {whole:.1e}"
            );
            let day = 86_400_000.0 / p.matrix.duration_ms as f64;
            let e = check_events(whole * 2.0 * day, 64, "this compare", "--repeat")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("at most 2e11") && e.contains("lower --repeat"),
                "{e}"
            );
            assert!(e.contains(" h on "), "{e}");
        }
    }

    #[test]
    fn a_pool_never_has_more_threads_than_runs() {
        set_threads(64);
        assert_eq!(threads_for(3), 3);
        assert_eq!(in_pool(2, rayon::current_num_threads).unwrap(), 2);
        assert_eq!(threads_for(0), 1);
        set_threads(2);
        assert_eq!(in_pool(100, rayon::current_num_threads).unwrap(), 2);
        set_threads(0);
    }
}
