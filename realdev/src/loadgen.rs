//! The load generator: `numjobs` threads playing fio jobs. Each keeps
//! `iodepth` requests outstanding through the loop's submission queue and
//! waits for their completions on its own channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvError, TryRecvError};
use std::sync::Arc;

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::aio::Opcode;
use crate::handoff::{Doorbell, StopSignal, SubmitQueue};
use crate::sys::{current_cpu, mono_ns, NO_CPU};
use pollwise_core::{JobWakes, Limits, Rw};

/// fio's `rw=` modes: the one [`Rw`] of the core, under the name this
/// crate's tests know.
pub use pollwise_core::Rw as RwMode;

/// What the device accepts ([`pollwise_core::Workload::check`]): up to 16
/// loop threads, and at most 4096 requests in flight (one buffer slot each).
pub const LIMITS: Limits = Limits {
    backend: "the device",
    bs: (1, 64 << 20),
    // The target checks alignment against the device's logical block.
    bs_align: 1,
    numjobs: (1, 256),
    iodepth: (1, 1024),
    iothreads: (1, 16),
    duration_ms: (1, 24 * 3_600_000),
    max_in_flight: Some(4096),
};

/// What the jobs are told: a [`pollwise_core::Workload`]'s fio knobs, how
/// many IOThreads serve them, and the seed of the jobs' offset generators.
/// The run's duration is [`crate::run::RunConfig`]'s.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub rw: Rw,
    /// Percentage of reads in `randrw` (fio's `rwmixread`).
    pub rwmixread: u32,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    /// Event loops; job `j` is served by loop `j % iothreads`, as the
    /// simulator spreads queues over IOThreads.
    pub iothreads: u32,
    pub seed: u64,
}

/// The name the device tests use for [`JobSpec`].
pub type Workload = JobSpec;

impl JobSpec {
    /// The jobs of `w` (whose `iothreads` and duration the run applies).
    pub fn new(w: &pollwise_core::Workload, seed: u64) -> JobSpec {
        JobSpec {
            rw: w.rw,
            rwmixread: w.rwmixread,
            bs: w.bs,
            numjobs: w.numjobs,
            iodepth: w.iodepth,
            iothreads: w.iothreads,
            seed,
        }
    }

    /// The workload these jobs run for `duration_ms`.
    pub fn workload(&self, duration_ms: u64) -> pollwise_core::Workload {
        pollwise_core::Workload {
            rw: self.rw,
            rwmixread: self.rwmixread,
            bs: self.bs,
            numjobs: self.numjobs,
            iodepth: self.iodepth,
            iothreads: self.iothreads,
            duration_ms,
        }
    }

    /// Checks the numbers a user can get wrong against [`LIMITS`], with
    /// what would be right (the duration is checked by the run).
    pub fn validate(&self) -> Result<(), String> {
        self.workload(1).check(&LIMITS).map_err(|e| e.to_string())
    }

    pub fn slots(&self) -> usize {
        self.numjobs as usize * self.iodepth as usize
    }
}

/// One request from a job to the loop. `slot` names the buffer (and so the
/// job: `slot / iodepth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub slot: u32,
    pub op: Opcode,
    pub offset: u64,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The kernel's result: bytes transferred.
    Done(u64),
    /// The kernel's `-errno`, as a positive errno.
    Failed(i32),
    /// Never submitted: the run was stopping.
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub slot: u32,
    pub status: Status,
}

/// What one job measured inside the run's time window.
#[derive(Debug)]
pub struct JobReport {
    /// Completion latency in ns, as the job saw it (submit to receipt).
    pub latency: Histogram<u64>,
    pub ios: u64,
    pub bytes: u64,
    /// Pushes that rang the doorbell (the loop was not polling).
    pub kicks: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub cancelled: u64,
    /// Requests never answered (only if the loop died).
    pub lost: u64,
    /// Its wake-ups by the loop's completions inside the run's window and
    /// how many ran it on the loop's CPU (counted only with
    /// [`Job::loop_cpu`]).
    pub wakes: JobWakes,
}

/// A latency histogram from 100 ns to 100 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(100, 100_000_000_000, 3).expect("static bounds are valid")
}

/// Everything one job thread needs.
pub struct Job {
    pub index: u32,
    pub workload: JobSpec,
    /// Usable bytes of the target (a whole number of blocks).
    pub target_size: u64,
    pub queue: Arc<SubmitQueue<Request>>,
    pub bell: Arc<dyn Doorbell>,
    /// Completions arrive in batches, one per loop iteration.
    pub completions: Receiver<Vec<Completion>>,
    pub stop: Arc<StopSignal>,
    /// Completions after this instant (CLOCK_MONOTONIC ns) are not counted.
    pub deadline_ns: u64,
    /// The loop's CPU at its last completion send
    /// ([`crate::eventloop::EventLoop::record_send_cpu`]): with it, each
    /// wake-up by a send is counted in [`JobReport::wakes`].
    pub loop_cpu: Option<Arc<AtomicU64>>,
}

impl Job {
    /// Runs until stopped, then waits for every outstanding request.
    pub fn run(self) -> JobReport {
        let mut s = JobState::new(&self);
        loop {
            if !self.stop.is_stopped() {
                s.submit_free(&self);
            }
            if s.outstanding == 0 {
                if self.stop.is_stopped() || self.queue.is_closed() {
                    break;
                }
                continue;
            }
            let Ok(first) = self.receive(&mut s.report) else {
                s.report.lost = u64::from(s.outstanding);
                break;
            };
            let mut next = Some(first);
            while let Some(batch) = next {
                for c in batch {
                    s.complete(&self, c);
                }
                next = self.completions.try_recv().ok();
            }
        }
        s.report
    }

    /// The next batch of completions, waiting for it if none is there;
    /// a wait that ends in the measured window is counted in the report's
    /// wakes with whether the job runs on the CPU the loop sent from.
    fn receive(&self, report: &mut JobReport) -> Result<Vec<Completion>, RecvError> {
        let Some(cell) = &self.loop_cpu else {
            return self.completions.recv();
        };
        match self.completions.try_recv() {
            Ok(batch) => return Ok(batch),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) => {}
        }
        let batch = self.completions.recv()?;
        let sent_from = cell.load(Ordering::Acquire);
        if sent_from != NO_CPU && mono_ns() <= self.deadline_ns {
            report.wakes.woken += 1;
            let here = current_cpu().map(|c| c as u64);
            report.wakes.on_loop_cpu += u64::from(here == Some(sent_from));
        }
        Ok(batch)
    }

    fn error(&self, report: &mut JobReport, what: String) {
        report.errors += 1;
        if report.first_error.is_none() {
            report.first_error = Some(format!("job {}: {what}", self.index));
        }
    }
}

/// A running job's slots, offsets and counts.
struct JobState {
    first_slot: u32,
    blocks: u64,
    /// The next block of a sequential job.
    cursor: u64,
    rng: Pcg64,
    free: Vec<u32>,
    /// When each slot's request was pushed, CLOCK_MONOTONIC ns.
    issued_at: Vec<u64>,
    outstanding: u32,
    report: JobReport,
}

impl JobState {
    fn new(job: &Job) -> JobState {
        let w = &job.workload;
        let depth = w.iodepth;
        let first_slot = job.index * depth;
        let blocks = job.target_size / w.bs;
        JobState {
            first_slot,
            blocks,
            // Sequential jobs start at evenly spaced points, as separate
            // fio jobs on one file would otherwise read the same blocks.
            cursor: blocks * u64::from(job.index) / u64::from(w.numjobs),
            rng: Pcg64::seed_from_u64(
                w.seed ^ u64::from(job.index).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            free: (first_slot..first_slot + depth).rev().collect(),
            issued_at: vec![0u64; depth as usize],
            outstanding: 0,
            report: JobReport {
                latency: new_histogram(),
                ios: 0,
                bytes: 0,
                kicks: 0,
                errors: 0,
                first_error: None,
                cancelled: 0,
                lost: 0,
                wakes: JobWakes::default(),
            },
        }
    }

    /// Pushes a request on every free slot until the queue is closed. Each
    /// request is its own submission with its own kick decision, as fio
    /// (iodepth_batch_submit=1) on virtio-blk does; the simulator's guest
    /// does the same.
    fn submit_free(&mut self, job: &Job) {
        while let Some(slot) = self.free.pop() {
            let req = self.request(&job.workload, slot);
            let now = mono_ns();
            self.issued_at[(slot - self.first_slot) as usize] = now;
            match job.queue.push(req, job.bell.as_ref()) {
                Ok(kicked) => {
                    self.outstanding += 1;
                    if kicked && now <= job.deadline_ns {
                        self.report.kicks += 1;
                    }
                }
                Err(req) => {
                    self.free.push(req.slot);
                    break;
                }
            }
        }
    }

    /// The next request of `slot`: its block (random, or the next one in
    /// order) and, for a mixed job, whether it reads.
    fn request(&mut self, w: &JobSpec, slot: u32) -> Request {
        let block = if w.rw.random() {
            self.rng.random_range(0..self.blocks)
        } else {
            let b = self.cursor;
            self.cursor = (self.cursor + 1) % self.blocks;
            b
        };
        let op = match w.rw {
            Rw::RandRead | Rw::Read => Opcode::Read,
            Rw::RandWrite | Rw::Write => Opcode::Write,
            Rw::RandRw => {
                if self.rng.random_range(0..100) < w.rwmixread {
                    Opcode::Read
                } else {
                    Opcode::Write
                }
            }
        };
        Request {
            slot,
            op,
            offset: block * w.bs,
        }
    }

    /// Counts one completion (inside the run's window) and frees its slot.
    fn complete(&mut self, job: &Job, c: Completion) {
        let bs = job.workload.bs;
        self.outstanding -= 1;
        let local = (c.slot - self.first_slot) as usize;
        self.free.push(c.slot);
        let now = mono_ns();
        match c.status {
            Status::Cancelled => self.report.cancelled += 1,
            Status::Done(n) if n == bs => {
                if now <= job.deadline_ns {
                    self.report.ios += 1;
                    self.report.bytes += n;
                    self.report
                        .latency
                        .saturating_record(now - self.issued_at[local]);
                }
            }
            Status::Done(n) => job.error(
                &mut self.report,
                format!("short transfer: {n} of {bs} bytes"),
            ),
            Status::Failed(errno) => job.error(
                &mut self.report,
                format!("I/O error: {}", std::io::Error::from_raw_os_error(errno)),
            ),
        }
    }
}
