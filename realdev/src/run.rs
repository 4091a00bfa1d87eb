//! One measured run: open the target, start the loop and the jobs, stop
//! them at the deadline (or on Ctrl-C), and collect the result row.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use pollwise_core::{Params, RunRow, TraceRow};

use crate::buffer::BufferPool;
use crate::eventloop::{EventLoop, LoopReport};
use crate::handoff::{Doorbell, ParamCell, StopSignal, SubmitQueue};
use crate::loadgen::{Completion, Job, JobReport, JobSpec, Request, LIMITS};
use crate::measure::{run_row, CpuSplit, RowMeta};
use crate::sys::{mono_ns, EventFd, SigintGuard};
use crate::target::{Target, TargetError, TargetSpec};

/// The loop's doorbell in production: a write to its eventfd.
impl Doorbell for EventFd {
    fn ring(&self) {
        self.ring_stamped();
    }
}

/// A live parameter change: at `at_ms` into the run, `params` take effect.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamChange {
    pub at_ms: u64,
    pub params: Params,
}

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub workload: JobSpec,
    pub duration_ms: u64,
    pub params: Params,
    pub target: TargetSpec,
    /// Applied in order of `at_ms` while the run goes on.
    pub changes: Vec<ParamChange>,
    pub trace: bool,
    /// Log every loop iteration phase by phase
    /// ([`LoopReport::iterations_log`]).
    pub log_iterations: bool,
    /// Route Ctrl-C to a clean stop (the CLI sets this; a library caller
    /// running several runs in parallel threads should not).
    pub catch_sigint: bool,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct RunOutput {
    pub row: RunRow,
    pub split: CpuSplit,
    pub loop_report: LoopReport,
    pub jobs: Vec<JobReport>,
    pub trace: Vec<TraceRow>,
    pub target_path: String,
    pub target_block_size: u64,
}

#[derive(Debug)]
pub enum RunError {
    Workload(String),
    Target(TargetError),
    Setup(std::io::Error),
    Loop(std::io::Error),
    Io { errors: u64, first: String },
    Interrupted { after_ms: u64 },
    Panicked(&'static str),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Workload(m) => f.write_str(m),
            RunError::Target(e) => write!(f, "{e}"),
            RunError::Setup(e) => write!(f, "setting up the event loop: {e}"),
            RunError::Loop(e) => write!(f, "event loop failed: {e}"),
            RunError::Io { errors, first } => {
                write!(f, "{errors} I/O request(s) failed; the first: {first}")
            }
            RunError::Interrupted { after_ms } => write!(
                f,
                "interrupted by Ctrl-C after {after_ms} ms; AIO contexts destroyed and any \
                 scratch file removed"
            ),
            RunError::Panicked(who) => write!(f, "the {who} thread panicked"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<TargetError> for RunError {
    fn from(e: TargetError) -> Self {
        RunError::Target(e)
    }
}

/// Runs the workload for `duration_ms` and measures it.
pub fn run(cfg: &RunConfig) -> Result<RunOutput, RunError> {
    let w = &cfg.workload;
    w.workload(cfg.duration_ms)
        .check(&LIMITS)
        .map_err(|e| RunError::Workload(e.to_string()))?;
    // Installed before the scratch file exists, so a Ctrl-C during the
    // fill also ends through the path that removes it.
    let sigint = if cfg.catch_sigint {
        Some(SigintGuard::install().map_err(RunError::Setup)?)
    } else {
        None
    };
    let target = Target::open(&cfg.target, w.bs, w.rw.writes())?;
    if sigint.as_ref().is_some_and(|g| g.interrupted()) {
        return Err(RunError::Interrupted { after_ms: 0 });
    }
    let (mut loops, receivers) = Loops::new(cfg, &target)?;
    let start = mono_ns();
    let deadline = start + cfg.duration_ms * 1_000_000;
    let (loop_threads, job_threads) = loops.spawn(cfg, &target, receivers, start, deadline)?;
    let interrupted_at = control(cfg, &loops, &loop_threads, sigint.as_ref(), start, deadline);
    stop_all(&loops.stop, &loops.bells);

    let (jobs, mut loop_report) = collect(loop_threads, job_threads)?;
    loop_report.loops = loops.bells.len() as u32;
    drop(sigint);
    if let Some(after_ms) = interrupted_at {
        return Err(RunError::Interrupted { after_ms });
    }
    let errors: u64 = jobs.iter().map(|j| j.errors).sum();
    if errors > 0 {
        let first = jobs
            .iter()
            .find_map(|j| j.first_error.clone())
            .unwrap_or_default();
        return Err(RunError::Io { errors, first });
    }
    Ok(output(cfg, &target, jobs, loop_report))
}

type LoopThread = JoinHandle<std::io::Result<LoopReport>>;
type JobThread = JoinHandle<JobReport>;
/// Where each job receives its completions, one batch per loop iteration.
type CompletionRx = Receiver<Vec<Completion>>;

/// One loop per IOThread, each with its own submission queue, doorbell
/// and AIO context; job j is served by loop j % iothreads. The buffer pool
/// is shared: each slot belongs to one job, so to one loop.
struct Loops {
    event_loops: Vec<EventLoop>,
    queues: Vec<Arc<SubmitQueue<Request>>>,
    bells: Vec<Arc<EventFd>>,
    /// Per loop, its CPU at each completion send, when iterations are
    /// logged (see [`Job::loop_cpu`]).
    send_cpus: Vec<Option<Arc<AtomicU64>>>,
    params_cell: Arc<ParamCell>,
    stop: Arc<StopSignal>,
}

impl Loops {
    /// The loops, not yet running, and each job's completion channel.
    fn new(cfg: &RunConfig, target: &Target) -> Result<(Loops, Vec<CompletionRx>), RunError> {
        let w = &cfg.workload;
        let pool = Arc::new(
            BufferPool::new(w.slots(), w.bs as usize)
                .map_err(|e| RunError::Setup(std::io::Error::other(e)))?,
        );
        let loops = w.iothreads.max(1) as usize;
        let mut all = Loops {
            event_loops: Vec::with_capacity(loops),
            queues: Vec::with_capacity(loops),
            bells: Vec::with_capacity(loops),
            send_cpus: Vec::with_capacity(loops),
            params_cell: Arc::new(ParamCell::new(cfg.params.clone())),
            stop: Arc::new(StopSignal::new()),
        };
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..w.numjobs).map(|_| channel()).unzip();
        let mut senders: Vec<Option<_>> = senders.into_iter().map(Some).collect();
        for l in 0..loops {
            let queue = Arc::new(SubmitQueue::new());
            let submit_efd = Arc::new(EventFd::new().map_err(RunError::Setup)?);
            // The loop answers its own jobs; the others' slots never reach
            // it, so their places hold senders nobody listens to.
            let txs = (0..w.numjobs as usize)
                .map(|j| {
                    if j % loops == l {
                        senders[j].take().expect("each job has one loop")
                    } else {
                        channel().0
                    }
                })
                .collect();
            let mut event_loop = EventLoop::new(
                target.fd(),
                w.bs,
                w.iodepth,
                pool.clone(),
                queue.clone(),
                submit_efd.clone(),
                txs,
                all.params_cell.clone(),
                cfg.params.clone(),
                all.stop.clone(),
                cfg.trace,
            )
            .map_err(RunError::Setup)?;
            let send_cpu = cfg.log_iterations.then(|| {
                event_loop.log_iterations();
                event_loop.record_send_cpu()
            });
            all.send_cpus.push(send_cpu);
            all.event_loops.push(event_loop);
            all.queues.push(queue);
            all.bells.push(submit_efd);
        }
        Ok((all, receivers))
    }

    /// Starts the loops' threads, then the jobs'. If a thread cannot be
    /// started, stops everything started so far and waits for the loops.
    fn spawn(
        &mut self,
        cfg: &RunConfig,
        target: &Target,
        receivers: Vec<CompletionRx>,
        start: u64,
        deadline: u64,
    ) -> Result<(Vec<LoopThread>, Vec<JobThread>), RunError> {
        let mut loop_threads = Vec::with_capacity(self.event_loops.len());
        let mut job_threads = Vec::new();
        let spawned = self
            .spawn_loops(start, &mut loop_threads)
            .and_then(|()| self.spawn_jobs(cfg, target, receivers, deadline, &mut job_threads));
        if let Err(e) = spawned {
            stop_all(&self.stop, &self.bells);
            for h in loop_threads {
                let _ = h.join();
            }
            return Err(RunError::Setup(e));
        }
        Ok((loop_threads, job_threads))
    }

    fn spawn_loops(&mut self, start: u64, threads: &mut Vec<LoopThread>) -> std::io::Result<()> {
        for (l, event_loop) in std::mem::take(&mut self.event_loops)
            .into_iter()
            .enumerate()
        {
            threads.push(
                std::thread::Builder::new()
                    .name(format!("pollwise-iothread{l}"))
                    .spawn(move || event_loop.run(start))?,
            );
        }
        Ok(())
    }

    fn spawn_jobs(
        &self,
        cfg: &RunConfig,
        target: &Target,
        receivers: Vec<CompletionRx>,
        deadline: u64,
        threads: &mut Vec<JobThread>,
    ) -> std::io::Result<()> {
        let loops = self.queues.len();
        for (index, completions) in receivers.into_iter().enumerate() {
            let l = index % loops;
            let job = Job {
                index: index as u32,
                workload: cfg.workload.clone(),
                target_size: target.size(),
                queue: self.queues[l].clone(),
                bell: self.bells[l].clone() as Arc<dyn Doorbell>,
                completions,
                stop: self.stop.clone(),
                deadline_ns: deadline,
                loop_cpu: self.send_cpus[l].clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("pollwise-job{index}"))
                    .spawn(move || job.run())?,
            );
        }
        Ok(())
    }
}

/// The controller: waits for the deadline, applying live changes and
/// watching for Ctrl-C and for a loop that ended early (its error is
/// reported when it is joined). Returns when the run was interrupted, ms
/// after its start.
fn control(
    cfg: &RunConfig,
    loops: &Loops,
    loop_threads: &[LoopThread],
    sigint: Option<&SigintGuard>,
    start: u64,
    deadline: u64,
) -> Option<u64> {
    let mut changes = cfg.changes.clone();
    changes.sort_by_key(|c| c.at_ms);
    let mut next_change = 0;
    loop {
        let now = mono_ns();
        while next_change < changes.len() && start + changes[next_change].at_ms * 1_000_000 <= now {
            loops
                .params_cell
                .publish(changes[next_change].params.clone());
            next_change += 1;
        }
        if now >= deadline || loop_threads.iter().any(|h| h.is_finished()) {
            return None;
        }
        if sigint.is_some_and(|g| g.interrupted()) {
            return Some((now - start) / 1_000_000);
        }
        let mut sleep_ns = (deadline - now).min(10_000_000);
        if let Some(c) = changes.get(next_change) {
            sleep_ns = sleep_ns.min((start + c.at_ms * 1_000_000).saturating_sub(now));
        }
        std::thread::sleep(Duration::from_nanos(sleep_ns.max(1)));
    }
}

/// Waits for every thread: the jobs' reports and the loops' merged.
fn collect(
    loop_threads: Vec<LoopThread>,
    job_threads: Vec<JobThread>,
) -> Result<(Vec<JobReport>, LoopReport), RunError> {
    let loop_results: Vec<_> = loop_threads.into_iter().map(|h| h.join()).collect();
    let jobs: Vec<JobReport> = job_threads
        .into_iter()
        .map(|h| h.join())
        .collect::<Result<_, _>>()
        .map_err(|_| RunError::Panicked("load generator"))?;
    let mut loop_report: Option<LoopReport> = None;
    for result in loop_results {
        let r = result
            .map_err(|_| RunError::Panicked("event loop"))?
            .map_err(RunError::Loop)?;
        match loop_report.as_mut() {
            None => loop_report = Some(r),
            Some(all) => all.merge(&r),
        }
    }
    Ok((jobs, loop_report.expect("at least one loop ran")))
}

/// The row, the CPU split and the trace of a finished run.
fn output(
    cfg: &RunConfig,
    target: &Target,
    jobs: Vec<JobReport>,
    loop_report: LoopReport,
) -> RunOutput {
    let meta = RowMeta {
        preset: if target.is_scratch() {
            "scratch".to_string()
        } else {
            target.path().display().to_string()
        },
        policy: cfg.params.kind().name().to_string(),
        params: cfg.params.to_string(),
        workload: cfg.workload.clone(),
        duration_ms: cfg.duration_ms,
    };
    let row = run_row(&meta, &jobs, &loop_report);
    let trace = loop_report
        .trace
        .iter()
        .map(|p| TraceRow {
            policy: meta.policy.clone(),
            params: loop_report.params_history[p.params_version as usize].clone(),
            iothread: 0,
            time_ns: p.time_ns,
            window_ns: p.window_ns,
            poll_max_ns: p.poll_max_ns,
        })
        .collect();
    RunOutput {
        row,
        split: CpuSplit::from_loop(&loop_report),
        loop_report,
        jobs,
        trace,
        target_path: target.path().display().to_string(),
        target_block_size: target.block_size(),
    }
}

fn stop_all(stop: &StopSignal, bells: &[Arc<EventFd>]) {
    stop.stop();
    // Wakes each loop if it is blocked; it then sees the stop flag.
    for bell in bells {
        bell.signal();
    }
}
