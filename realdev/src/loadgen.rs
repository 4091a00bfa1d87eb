//! The load generator: `numjobs` threads playing fio jobs. Each keeps
//! `iodepth` requests outstanding through the loop's submission queue and
//! waits for their completions on its own channel.

use std::fmt;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::aio::Opcode;
use crate::handoff::{Doorbell, StopSignal, SubmitQueue};
use crate::sys::mono_ns;

/// fio's `rw=` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RwMode {
    RandRead,
    RandWrite,
    Read,
    Write,
    RandRw,
}

impl RwMode {
    pub const ALL: [RwMode; 5] = [
        RwMode::RandRead,
        RwMode::RandWrite,
        RwMode::Read,
        RwMode::Write,
        RwMode::RandRw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RwMode::RandRead => "randread",
            RwMode::RandWrite => "randwrite",
            RwMode::Read => "read",
            RwMode::Write => "write",
            RwMode::RandRw => "randrw",
        }
    }

    pub fn from_name(name: &str) -> Result<RwMode, String> {
        RwMode::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = RwMode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown rw mode '{name}'; expected one of {}",
                    known.join(", ")
                )
            })
    }

    pub fn writes(self) -> bool {
        matches!(self, RwMode::RandWrite | RwMode::Write | RwMode::RandRw)
    }

    pub fn random(self) -> bool {
        matches!(self, RwMode::RandRead | RwMode::RandWrite | RwMode::RandRw)
    }
}

impl fmt::Display for RwMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the jobs do, as fio would be told.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub rw: RwMode,
    /// Percentage of reads in `randrw` (fio's `rwmixread`).
    pub rwmixread: u32,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    pub seed: u64,
}

impl Workload {
    /// Checks the numbers a user can get wrong, with what would be right.
    pub fn validate(&self) -> Result<(), String> {
        if self.bs == 0 {
            return Err("bs must be positive (e.g. 4096)".into());
        }
        if self.numjobs == 0 || self.numjobs > 256 {
            return Err(format!("numjobs {} is out of range 1..=256", self.numjobs));
        }
        if self.iodepth == 0 || self.iodepth > 1024 {
            return Err(format!("iodepth {} is out of range 1..=1024", self.iodepth));
        }
        if self.rwmixread > 100 {
            return Err(format!(
                "rwmixread {} is a percentage: 0..=100",
                self.rwmixread
            ));
        }
        let slots = u64::from(self.numjobs) * u64::from(self.iodepth);
        if slots > 4096 {
            return Err(format!(
                "numjobs x iodepth = {slots} requests in flight; at most 4096 are supported"
            ));
        }
        Ok(())
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
    pub workload: Workload,
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
                        RwMode::RandRead | RwMode::Read => Opcode::Read,
                        RwMode::RandWrite | RwMode::Write => Opcode::Write,
                        RwMode::RandRw => {
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
