//! The load generator: `numjobs` threads playing fio jobs. Each keeps
//! `iodepth` requests outstanding through the loop's submission queue and
//! waits for their completions on its own channel.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::aio::Opcode;
use crate::handoff::{Doorbell, StopSignal, SubmitQueue};
use crate::sys::mono_ns;
use pollwise_core::{Limits, Rw};

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
}

impl Job {
    /// Runs until stopped, then waits for every outstanding request.
    pub fn run(self) -> JobReport {
        let w = &self.workload;
        let depth = w.iodepth;
        let first_slot = self.index * depth;
        let blocks = self.target_size / w.bs;
        // Sequential jobs start at evenly spaced points, as separate fio
        // jobs on one file would otherwise read the same blocks.
        let mut cursor = blocks * u64::from(self.index) / u64::from(w.numjobs);
        let mut rng = Pcg64::seed_from_u64(
            w.seed ^ u64::from(self.index).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut free: Vec<u32> = (first_slot..first_slot + depth).rev().collect();
        let mut issued_at = vec![0u64; depth as usize];
        let mut report = JobReport {
            latency: new_histogram(),
            ios: 0,
            bytes: 0,
            kicks: 0,
            errors: 0,
            first_error: None,
            cancelled: 0,
            lost: 0,
        };
        let mut outstanding = 0u32;
        loop {
            if !self.stop.is_stopped() {
                // Each request is its own submission with its own kick
                // decision, as fio (iodepth_batch_submit=1) on virtio-blk
                // does; the simulator's guest does the same.
                while let Some(slot) = free.pop() {
                    let block = if w.rw.random() {
                        rng.random_range(0..blocks)
                    } else {
                        let b = cursor;
                        cursor = (cursor + 1) % blocks;
                        b
                    };
                    let op = match w.rw {
                        Rw::RandRead | Rw::Read => Opcode::Read,
                        Rw::RandWrite | Rw::Write => Opcode::Write,
                        Rw::RandRw => {
                            if rng.random_range(0..100) < w.rwmixread {
                                Opcode::Read
                            } else {
                                Opcode::Write
                            }
                        }
                    };
                    let now = mono_ns();
                    issued_at[(slot - first_slot) as usize] = now;
                    let req = Request {
                        slot,
                        op,
                        offset: block * w.bs,
                    };
                    match self.queue.push(req, self.bell.as_ref()) {
                        Ok(kicked) => {
                            outstanding += 1;
                            if kicked && now <= self.deadline_ns {
                                report.kicks += 1;
                            }
                        }
                        Err(req) => {
                            free.push(req.slot);
                            break;
                        }
                    }
                }
            }
            if outstanding == 0 {
                if self.stop.is_stopped() || self.queue.is_closed() {
                    break;
                }
                continue;
            }
            let Ok(first) = self.completions.recv() else {
                report.lost = u64::from(outstanding);
                break;
            };
            let mut next = Some(first);
            while let Some(batch) = next {
                for c in batch {
                    outstanding -= 1;
                    let local = (c.slot - first_slot) as usize;
                    free.push(c.slot);
                    let now = mono_ns();
                    match c.status {
                        Status::Cancelled => report.cancelled += 1,
                        Status::Done(n) if n == w.bs => {
                            if now <= self.deadline_ns {
                                report.ios += 1;
                                report.bytes += n;
                                report.latency.saturating_record(now - issued_at[local]);
                            }
                        }
                        Status::Done(n) => self.error(
                            &mut report,
                            format!("short transfer: {n} of {} bytes", w.bs),
                        ),
                        Status::Failed(errno) => self.error(
                            &mut report,
                            format!("I/O error: {}", std::io::Error::from_raw_os_error(errno)),
                        ),
                    }
                }
                next = self.completions.try_recv().ok();
            }
        }
        report
    }

    fn error(&self, report: &mut JobReport, what: String) {
        report.errors += 1;
        if report.first_error.is_none() {
            report.first_error = Some(format!("job {}: {what}", self.index));
        }
    }
}
