//! Calibration: the device's latency and throughput, measured without the
//! loop in the way, and the loop's own costs (wake-ups, kicks, syscalls,
//! handler checks), each measured by a small dedicated probe. A simulator
//! preset is built from these numbers.
//!
//! The device probe submits from one thread and spins on the completion
//! ring, so a latency sample is the time from `io_submit` returning to the
//! completion being visible: the device and the kernel's block path, not
//! a wake-up (which the loop-cost probes measure separately, and the
//! simulator adds on its own).

use std::fmt;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;

use hdrhistogram::Histogram;
use pollwise_core::{HandlerId, IoThread, Params, PolicyKind};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::aio::{AioContext, IoEvent, Iocb, Opcode};
use crate::buffer::BufferPool;
use crate::eventloop::{drive, LoopHost, HANDLERS};
use crate::handoff::{Doorbell, ParamCell, StopSignal, SubmitQueue};
use crate::loadgen::{new_histogram, Completion, Request, Status};
use crate::sys::{mono_ns, thread_cpu_ns, Epoll, EventFd};
use crate::target::{Target, TargetError, TargetSpec};
use pollwise_core::Rw;
use pollwise_stats::{median, quantiles, spread_pct};

/// What to measure.
#[derive(Clone, Debug)]
pub struct CalibrateConfig {
    pub target: TargetSpec,
    /// Block sizes for the latency points; the largest also gives the
    /// transfer rate.
    pub sizes: Vec<u64>,
    /// How long each device point runs.
    pub point_ms: u64,
    /// Queue depth of the throughput points.
    pub saturation_depth: u32,
    /// Wake-up and syscall probes: repetitions each.
    pub probe_rounds: u32,
    /// Times each probe (device point, loop-cost probe) is repeated; the
    /// value kept is the median, the spread is reported beside it.
    pub repeats: u32,
    pub seed: u64,
}

/// One device point: a rw mode and block size at one queue depth.
#[derive(Debug)]
pub struct DevicePoint {
    pub rw: Rw,
    pub bs: u64,
    pub depth: u32,
    /// Per-request latency, submit-return to completion visible, ns.
    pub latency: Histogram<u64>,
    pub ios: u64,
    pub elapsed_ns: u64,
    /// Mean duration of one `io_submit` call of one request, ns.
    pub submit_call_ns: f64,
    /// The part of it the thread's CPU clock counts. Inside a VM the
    /// virtqueue notification exits to the host, and that time is steal
    /// time, not the thread's CPU.
    pub submit_call_cpu_ns: f64,
    /// Times the spinning reaper found completions: `ios / reaps` is how
    /// many the device completed at once.
    pub reaps: u64,
    /// IOPS of every repeat of this point (this one is the median's).
    pub repeat_iops: Vec<f64>,
    /// Median latency of every repeat, ns.
    pub repeat_p50_ns: Vec<f64>,
}

impl DevicePoint {
    pub fn iops(&self) -> f64 {
        self.ios as f64 * 1e9 / self.elapsed_ns.max(1) as f64
    }
    pub fn bytes_per_s(&self) -> f64 {
        self.iops() * self.bs as f64
    }
}

/// The loop's own costs, each the median or mean of a probe, in ns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopCosts {
    /// A thread blocked in epoll_wait on an eventfd: from the write until it
    /// runs (median).
    pub wakeup_latency_ns: f64,
    /// The same wake-up's 10th, 50th, 90th and 99th percentiles.
    pub wakeup_latency_q: [f64; 4],
    /// CPU of one block-and-wake cycle of that thread (epoll_wait, eventfd
    /// read, scheduler).
    pub wakeup_cpu_ns: f64,
    /// The writer's side: one eventfd write that wakes a sleeper (a kick).
    pub kick_ns: f64,
    /// A job blocked on its completion channel: from the send until it runs
    /// (median).
    pub completion_wake_latency_ns: f64,
    /// Its 10th, 50th, 90th and 99th percentiles.
    pub completion_wake_latency_q: [f64; 4],
    /// CPU of one blocking receive that is woken.
    pub completion_wake_cpu_ns: f64,
    /// The loop's side: one send that wakes a blocked job (wall clock).
    pub completion_notify_ns: f64,
    /// The same send on the loop thread's CPU clock.
    pub completion_notify_cpu_ns: f64,
    /// One send to a job that is not blocked (plus reaping one event).
    pub complete_ns: f64,
    /// A job taking one batch of completions that is already there (the
    /// part of its wake-up that lies on the request's path; the spinning
    /// and sleeping before it do not delay anything).
    pub completion_take_ns: f64,
    /// One check of one poll handler (the mean of the queue check and the
    /// ring check).
    pub poll_check_ns: f64,
    /// Per request in the loop: drain from the queue, build the iocb.
    pub submit_ns: f64,
    /// Fixed work per loop iteration: parameter check, window, clocks,
    /// observe.
    pub iteration_ns: f64,
    /// A job's CPU per request besides kicks and wake-ups: offset, push,
    /// bookkeeping, latency record.
    pub job_io_ns: f64,
    /// Both wake-ups again, after the sleeper's CPU had been idle for each
    /// of [`WAKE_IDLE_US`] (the waker spinning on another CPU).
    pub wake_by_idle: Vec<WakeRow>,
}

/// How long the probe of [`LoopCosts::wake_by_idle`] leaves the sleeper
/// asleep before waking it, in us: from the short gaps of a loop at queue
/// depth 1 to the long ones of a light load. On a VM the latency grows
/// with it: the guest's idle loop halts the vCPU, and the host polls a
/// halted vCPU for a while (KVM's `halt_poll_ns`, 200 us by default)
/// before it deschedules it.
pub const WAKE_IDLE_US: [u64; 8] = [10, 20, 50, 100, 200, 400, 1000, 3000];

/// The wake-ups after one idle time: p10, p50, p90, p99, ns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WakeRow {
    pub idle_ns: u64,
    /// A thread in epoll_wait woken by an eventfd write.
    pub eventfd_q: [f64; 4],
    /// A thread blocked on a channel woken by a send.
    pub channel_q: [f64; 4],
}

/// Everything calibration measured.
#[derive(Debug)]
pub struct Calibration {
    pub target_path: String,
    pub block_size: u64,
    /// Queue depth 1, per rw and bs.
    pub latency_points: Vec<DevicePoint>,
    /// Queue depth `saturation_depth`: smallest bs reads (IOPS bound) and
    /// largest bs reads and writes (bandwidth bound).
    pub saturation_points: Vec<DevicePoint>,
    /// The loop costs: per field, the median of [`Self::cost_runs`].
    pub costs: LoopCosts,
    /// Every repeat of the loop-cost probes.
    pub cost_runs: Vec<LoopCosts>,
    pub cpus: usize,
    /// The host's CPUs: load, steal, io_submit against batch size.
    pub host: HostMeasure,
    /// Whether writes were measured (false for a read-only --file).
    pub measured_writes: bool,
}

#[derive(Debug)]
pub enum CalibrateError {
    Config(String),
    Interrupted,
    Target(TargetError),
    Io(String, std::io::Error),
}

impl fmt::Display for CalibrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibrateError::Config(m) => f.write_str(m),
            CalibrateError::Interrupted => f.write_str(
                "interrupted by Ctrl-C; AIO contexts destroyed and any scratch file removed",
            ),
            CalibrateError::Target(e) => write!(f, "{e}"),
            CalibrateError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for CalibrateError {}

impl From<TargetError> for CalibrateError {
    fn from(e: TargetError) -> Self {
        CalibrateError::Target(e)
    }
}

/// Runs every probe. A Ctrl-C (seen through a [`crate::sys::SigintGuard`]
/// the caller holds) ends it between probes.
pub fn calibrate(cfg: &CalibrateConfig) -> Result<Calibration, CalibrateError> {
    let mut sizes = cfg.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let (Some(&small), Some(&large)) = (sizes.first(), sizes.last()) else {
        return Err(CalibrateError::Config(
            "calibration needs at least one bs".into(),
        ));
    };
    if cfg.point_ms == 0 || cfg.saturation_depth == 0 || cfg.probe_rounds == 0 {
        return Err(CalibrateError::Config(
            "point duration, saturation depth and probe rounds must be positive".into(),
        ));
    }
    let writable = matches!(cfg.target, TargetSpec::Scratch { .. })
        || matches!(
            &cfg.target,
            TargetSpec::Existing {
                allow_write_to: Some(_),
                ..
            }
        );
    let target = Target::open(&cfg.target, large, writable)?;
    let check = || {
        if crate::sys::sigint_received() {
            Err(CalibrateError::Interrupted)
        } else {
            Ok(())
        }
    };
    check()?;
    for &bs in &sizes {
        if !bs.is_multiple_of(target.block_size()) {
            return Err(TargetError::Unaligned {
                bs,
                block: target.block_size(),
                path: target.path().to_path_buf(),
            }
            .into());
        }
    }
    let rws: &[Rw] = if writable {
        &[Rw::RandRead, Rw::RandWrite]
    } else {
        &[Rw::RandRead]
    };
    // Other load, measured first while this process is idle.
    let (background_load_cpus, steal_frac) = idle_load(300);
    let mut rng = Pcg64::seed_from_u64(cfg.seed);
    let repeats = cfg.repeats.max(1);
    let mut latency_points = Vec::new();
    for &rw in rws {
        for &bs in &sizes {
            latency_points.push(repeated_point(
                &target,
                rw,
                bs,
                1,
                cfg.point_ms,
                repeats,
                &mut rng,
                &check,
            )?);
        }
    }
    let mut saturation_points = vec![repeated_point(
        &target,
        Rw::RandRead,
        small,
        cfg.saturation_depth,
        cfg.point_ms,
        repeats,
        &mut rng,
        &check,
    )?];
    for &rw in rws {
        saturation_points.push(repeated_point(
            &target,
            rw,
            large,
            cfg.saturation_depth,
            cfg.point_ms,
            repeats,
            &mut rng,
            &check,
        )?);
    }
    check()?;
    let submit_batches = submit_batch_probe(&target, small, cfg.saturation_depth, &mut rng)?;
    let mut cost_runs = Vec::new();
    for _ in 0..repeats {
        cost_runs.push(loop_costs(cfg.probe_rounds)?);
        check()?;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Calibration {
        target_path: target.path().display().to_string(),
        block_size: target.block_size(),
        latency_points,
        saturation_points,
        costs: median_costs(&cost_runs),
        cost_runs,
        cpus,
        host: HostMeasure {
            cpus,
            background_load_cpus,
            steal_frac,
            submit_batches,
        },
        measured_writes: writable,
    })
}

/// The host's CPUs as calibration saw them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostMeasure {
    pub cpus: usize,
    /// CPUs' worth of other work while calibration slept (from /proc/stat).
    pub background_load_cpus: f64,
    /// Fraction of CPU time stolen by the hypervisor meanwhile.
    pub steal_frac: f64,
    /// `io_submit` of a batch of requests, by batch size.
    pub submit_batches: Vec<SubmitBatch>,
}

/// One `io_submit` call of `batch` requests: mean wall time and the part
/// the thread's CPU clock counts, ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubmitBatch {
    pub batch: u32,
    pub wall_ns: f64,
    pub cpu_ns: f64,
}

/// Runs [`device_point`] `repeats` times; keeps the run with the median
/// IOPS, with every run's IOPS and median latency beside it.
#[allow(clippy::too_many_arguments)]
fn repeated_point(
    target: &Target,
    rw: Rw,
    bs: u64,
    depth: u32,
    ms: u64,
    repeats: u32,
    rng: &mut Pcg64,
    check: &dyn Fn() -> Result<(), CalibrateError>,
) -> Result<DevicePoint, CalibrateError> {
    let mut runs = Vec::new();
    for _ in 0..repeats {
        runs.push(device_point(target, rw, bs, depth, ms, rng)?);
        check()?;
    }
    let repeat_iops: Vec<f64> = runs.iter().map(DevicePoint::iops).collect();
    let repeat_p50_ns: Vec<f64> = runs
        .iter()
        .map(|p| p.latency.value_at_quantile(0.5) as f64)
        .collect();
    runs.sort_by(|a, b| a.iops().total_cmp(&b.iops()));
    let mut keep = runs.swap_remove(runs.len() / 2);
    keep.repeat_iops = repeat_iops;
    keep.repeat_p50_ns = repeat_p50_ns;
    Ok(keep)
}

/// Per field, the median over the runs (default for none).
pub fn median_costs(runs: &[LoopCosts]) -> LoopCosts {
    let mut c = LoopCosts::default();
    if runs.is_empty() {
        return c;
    }
    let med = |f: &dyn Fn(&LoopCosts) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    macro_rules! fields {
        ($($f:ident),*) => { $( c.$f = med(&|x: &LoopCosts| x.$f); )* };
    }
    fields!(
        wakeup_latency_ns,
        wakeup_cpu_ns,
        kick_ns,
        completion_wake_latency_ns,
        completion_wake_cpu_ns,
        completion_notify_ns,
        completion_notify_cpu_ns,
        complete_ns,
        completion_take_ns,
        poll_check_ns,
        submit_ns,
        iteration_ns,
        job_io_ns
    );
    for i in 0..4 {
        c.wakeup_latency_q[i] = med(&|x: &LoopCosts| x.wakeup_latency_q[i]);
        c.completion_wake_latency_q[i] = med(&|x: &LoopCosts| x.completion_wake_latency_q[i]);
    }
    // The table row by row, where every run measured the same idle times.
    let rows = runs[0].wake_by_idle.len();
    let same = runs.iter().all(|r| {
        r.wake_by_idle.len() == rows
            && r.wake_by_idle
                .iter()
                .zip(&runs[0].wake_by_idle)
                .all(|(a, b)| a.idle_ns == b.idle_ns)
    });
    if same {
        c.wake_by_idle = (0..rows)
            .map(|r| {
                let mut row = WakeRow {
                    idle_ns: runs[0].wake_by_idle[r].idle_ns,
                    ..WakeRow::default()
                };
                for i in 0..4 {
                    row.eventfd_q[i] = med(&|x: &LoopCosts| x.wake_by_idle[r].eventfd_q[i]);
                    row.channel_q[i] = med(&|x: &LoopCosts| x.wake_by_idle[r].channel_q[i]);
                }
                row
            })
            .collect();
    }
    c
}

/// The aggregate `cpu` line of /proc/stat: (busy, steal, total) in ticks,
/// busy excluding idle, iowait and steal.
pub fn proc_stat_cpu(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    if v.len() < 8 {
        return None;
    }
    // guest time is already counted in user.
    let total: u64 = v[..8].iter().sum();
    let busy = total - v[3] - v[4] - v[7];
    Some((busy, v[7], total))
}

/// Other load between two /proc/stat samples: (CPUs' worth of busy time,
/// fraction stolen). `cpus` scales the busy fraction to CPUs.
pub fn load_between(before: (u64, u64, u64), after: (u64, u64, u64), cpus: usize) -> (f64, f64) {
    let total = after.2.saturating_sub(before.2);
    if total == 0 {
        return (0.0, 0.0);
    }
    let busy = after.0.saturating_sub(before.0) as f64 / total as f64;
    let steal = after.1.saturating_sub(before.1) as f64 / total as f64;
    (busy * cpus as f64, steal)
}

/// Sleeps `ms` and reports other load meanwhile; (0, 0) where /proc/stat
/// cannot be read.
fn idle_load(ms: u64) -> (f64, f64) {
    let read = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| proc_stat_cpu(&t))
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(before) = read() else {
        return (0.0, 0.0);
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    read().map_or((0.0, 0.0), |after| load_between(before, after, cpus))
}

/// `io_submit` of 1, 2, 4, ... up to `max` requests of `bs` in one call,
/// each size 50 times; waits for each batch before the next.
fn submit_batch_probe(
    target: &Target,
    bs: u64,
    max: u32,
    rng: &mut Pcg64,
) -> Result<Vec<SubmitBatch>, CalibrateError> {
    let max = max.max(1);
    let mut ctx = AioContext::new(max).map_err(io_err("io_setup"))?;
    let pool = BufferPool::new(max as usize, bs as usize)
        .map_err(|e| CalibrateError::Io("allocating buffers".into(), std::io::Error::other(e)))?;
    let efd = EventFd::new().map_err(io_err("eventfd"))?;
    let blocks = target.size() / bs;
    let clock_cost = cpu_clock_cost();
    let mut out = Vec::new();
    let mut batch = 1u32;
    let mut events = Vec::with_capacity(max as usize);
    while batch <= max {
        let (mut wall, mut cpu) = (0u64, 0u64);
        const ROUNDS: u64 = 50;
        for _ in 0..ROUNDS {
            let mut iocbs: Vec<Iocb> = (0..batch)
                .map(|slot| {
                    Iocb::new(
                        Opcode::Read,
                        target.fd(),
                        pool.slot_ptr(slot as usize),
                        bs,
                        rng.random_range(0..blocks) * bs,
                        u64::from(slot),
                        efd.as_raw_fd(),
                    )
                })
                .collect();
            let mut ptrs: Vec<*mut Iocb> = iocbs.iter_mut().map(|c| c as *mut Iocb).collect();
            let mut done = 0;
            let c0 = thread_cpu_ns();
            let t0 = mono_ns();
            while done < ptrs.len() {
                // SAFETY: the pool outlives the context (dropped after it).
                match unsafe { ctx.submit(&mut ptrs[done..]) }.map_err(io_err("io_submit"))? {
                    0 => break,
                    n => done += n,
                }
            }
            wall += mono_ns() - t0;
            cpu += (thread_cpu_ns() - c0).saturating_sub(clock_cost);
            events.clear();
            ctx.wait_for(done, &mut events)
                .map_err(io_err("io_getevents"))?;
            efd.drain();
        }
        out.push(SubmitBatch {
            batch,
            wall_ns: wall as f64 / ROUNDS as f64,
            cpu_ns: cpu as f64 / ROUNDS as f64,
        });
        batch *= 2;
    }
    drop(ctx);
    drop(pool);
    Ok(out)
}

/// Something calibration measured that does not add up, and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub what: String,
    pub fix: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.what, self.fix)
    }
}

/// The numbers [`checks`] looks at, plain so that tests can make them up.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckInput {
    /// Small-block random reads at qd1: IOPS and median latency (ns).
    pub qd1_read_iops: f64,
    pub qd1_read_p50_ns: f64,
    /// The same at the saturation depth.
    pub sat_read_iops: f64,
    pub sat_depth: u32,
    /// Per device point: a name and the IOPS of each repeat.
    pub repeats: Vec<(String, Vec<f64>)>,
    pub background_load_cpus: f64,
    pub steal_frac: f64,
}

/// A median latency below this is memory, not a device.
pub const RAM_LATENCY_NS: f64 = 2_000.0;
/// Repeats of a device point differing by more than this (max - min over
/// the median, %) were disturbed.
pub const MAX_REPEAT_SPREAD_PCT: f64 = 25.0;
/// Other load beyond this many CPUs disturbs every probe.
pub const MAX_BACKGROUND_CPUS: f64 = 0.25;
pub const MAX_STEAL_FRAC: f64 = 0.10;

impl Calibration {
    pub fn check_input(&self) -> Option<CheckInput> {
        let small = self.latency_points.iter().map(|p| p.bs).min()?;
        let qd1 = self
            .latency_points
            .iter()
            .find(|p| p.rw == Rw::RandRead && p.bs == small)?;
        let sat = self
            .saturation_points
            .iter()
            .filter(|p| p.rw == Rw::RandRead)
            .min_by_key(|p| p.bs)?;
        Some(CheckInput {
            qd1_read_iops: qd1.iops(),
            qd1_read_p50_ns: qd1.latency.value_at_quantile(0.5) as f64,
            sat_read_iops: sat.iops(),
            sat_depth: sat.depth,
            repeats: self
                .latency_points
                .iter()
                .chain(&self.saturation_points)
                .map(|p| {
                    (
                        format!("{} bs={} qd={}", p.rw.name(), p.bs, p.depth),
                        p.repeat_iops.clone(),
                    )
                })
                .collect(),
            background_load_cpus: self.host.background_load_cpus,
            steal_frac: self.host.steal_frac,
        })
    }

    /// [`checks`] on this calibration.
    pub fn warnings(&self) -> Vec<Warning> {
        self.check_input().map_or_else(Vec::new, |c| checks(&c))
    }
}

/// Measurements that cannot all be true of an idle device: each is a
/// reason not to trust a preset built from them.
pub fn checks(c: &CheckInput) -> Vec<Warning> {
    let mut w = Vec::new();
    if c.qd1_read_p50_ns < RAM_LATENCY_NS {
        w.push(Warning {
            what: format!(
                "reads complete in {:.1} us at qd1: that is memory (tmpfs or a cache), not a disk",
                c.qd1_read_p50_ns / 1000.0
            ),
            fix: "pass --dir on a disk filesystem that supports O_DIRECT (e.g. /var/tmp), or --file naming the device"
                .into(),
        });
    }
    if c.sat_depth > 1 && c.sat_read_iops < 0.9 * c.qd1_read_iops {
        w.push(Warning {
            what: format!(
                "throughput falls with queue depth: {:.0} IOPS at qd{} against {:.0} at qd1",
                c.sat_read_iops, c.sat_depth, c.qd1_read_iops
            ),
            fix: "the disk was busy or throttled during the run; rerun on an idle machine, or with a longer --point-ms"
                .into(),
        });
    }
    for (name, iops) in &c.repeats {
        let spread = spread_pct(iops);
        if spread > MAX_REPEAT_SPREAD_PCT {
            w.push(Warning {
                what: format!(
                    "repeats of {name} differ by {spread:.0}% (IOPS {}): the run was disturbed",
                    iops.iter()
                        .map(|v| format!("{v:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix: format!(
                    "stop other load and rerun, or use more --repeat; the limit is {MAX_REPEAT_SPREAD_PCT}%"
                ),
            });
        }
    }
    if c.background_load_cpus > MAX_BACKGROUND_CPUS {
        w.push(Warning {
            what: format!(
                "{:.2} CPUs were busy with other work before the probes began",
                c.background_load_cpus
            ),
            fix: format!(
                "stop other load (builds, tests, other VMs' work) and rerun; the limit is {MAX_BACKGROUND_CPUS} CPUs"
            ),
        });
    }
    if c.steal_frac > MAX_STEAL_FRAC {
        w.push(Warning {
            what: format!(
                "the hypervisor stole {:.0}% of CPU time",
                c.steal_frac * 100.0
            ),
            fix: "the host is oversubscribed; rerun at a quieter time".into(),
        });
    }
    w
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> CalibrateError + '_ {
    move |e| CalibrateError::Io(what.to_string(), e)
}

/// Keeps `depth` requests of `bs` in flight for `ms`, spinning on the ring.
fn device_point(
    target: &Target,
    rw: Rw,
    bs: u64,
    depth: u32,
    ms: u64,
    rng: &mut Pcg64,
) -> Result<DevicePoint, CalibrateError> {
    let mut ctx = AioContext::new(depth).map_err(io_err("io_setup"))?;
    let pool = BufferPool::new(depth as usize, bs as usize)
        .map_err(|e| CalibrateError::Io("allocating buffers".into(), std::io::Error::other(e)))?;
    let efd = EventFd::new().map_err(io_err("eventfd"))?;
    let blocks = target.size() / bs;
    let op = if rw.writes() {
        Opcode::Write
    } else {
        Opcode::Read
    };
    let mut issued_at = vec![0u64; depth as usize];
    let mut latency = new_histogram();
    let (mut ios, mut submit_total, mut submit_calls) = (0u64, 0u64, 0u64);
    let mut submit_cpu_total = 0u64;
    let mut reaps = 0u64;
    let clock_cost = cpu_clock_cost();
    let mut events: Vec<IoEvent> = Vec::with_capacity(depth as usize);
    let mut free: Vec<u32> = (0..depth).collect();
    let mut in_flight = 0usize;
    let start = mono_ns();
    let end = start + ms * 1_000_000;
    loop {
        let now = mono_ns();
        if now >= end {
            break;
        }
        while let Some(slot) = free.pop() {
            let offset = rng.random_range(0..blocks) * bs;
            let mut iocb = Iocb::new(
                op,
                target.fd(),
                pool.slot_ptr(slot as usize),
                bs,
                offset,
                u64::from(slot),
                efd.as_raw_fd(),
            );
            let mut ptrs = [&mut iocb as *mut Iocb];
            let c0 = thread_cpu_ns();
            let t0 = mono_ns();
            // SAFETY: the pool outlives the context (dropped after it below).
            let n = unsafe { ctx.submit(&mut ptrs) }.map_err(io_err("io_submit"))?;
            let t1 = mono_ns();
            let c1 = thread_cpu_ns();
            if n == 0 {
                free.push(slot);
                break;
            }
            submit_total += t1 - t0;
            submit_cpu_total += (c1 - c0).saturating_sub(clock_cost);
            submit_calls += 1;
            issued_at[slot as usize] = t1;
            in_flight += 1;
        }
        while ctx.ready() == 0 {
            std::hint::spin_loop();
        }
        let seen = mono_ns();
        events.clear();
        ctx.reap(&mut events);
        efd.drain();
        reaps += 1;
        for ev in &events {
            in_flight -= 1;
            if ev.res != bs as i64 {
                return Err(CalibrateError::Io(
                    format!("{rw} bs={bs}: request completed with {}", ev.res),
                    std::io::Error::from_raw_os_error(if ev.res < 0 {
                        -ev.res as i32
                    } else {
                        libc::EIO
                    }),
                ));
            }
            let slot = ev.data as u32;
            latency.saturating_record(seen - issued_at[slot as usize]);
            ios += 1;
            free.push(slot);
        }
    }
    let elapsed_ns = mono_ns() - start;
    let mut rest = Vec::new();
    ctx.wait_for(in_flight, &mut rest)
        .map_err(io_err("io_getevents"))?;
    drop(ctx);
    drop(pool);
    Ok(DevicePoint {
        rw,
        bs,
        depth,
        latency,
        ios,
        elapsed_ns,
        submit_call_ns: submit_total as f64 / submit_calls.max(1) as f64,
        submit_call_cpu_ns: submit_cpu_total as f64 / submit_calls.max(1) as f64,
        reaps,
        repeat_iops: Vec::new(),
        repeat_p50_ns: Vec::new(),
    })
}

/// What one read of the thread CPU clock adds to a CPU-clock interval (it
/// is a system call), the median of back-to-back reads.
pub fn cpu_clock_cost() -> u64 {
    let d: Vec<u64> = (0..200)
        .map(|_| {
            let a = thread_cpu_ns();
            thread_cpu_ns() - a
        })
        .collect();
    median(&ns(&d)) as u64
}

/// The quantiles a wake-up's latency is reported by: p10, p50, p90, p99.
const WAKE_QUANTILES: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

/// Nanosecond counts as numbers for the statistics.
fn ns(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Runs every loop-cost probe `rounds` times.
pub fn loop_costs(rounds: u32) -> Result<LoopCosts, CalibrateError> {
    let mut c = LoopCosts::default();
    eventfd_probe(rounds, &mut c)?;
    channel_probe(rounds, &mut c);
    software_probe(rounds.max(10_000), &mut c);
    c.wake_by_idle = wake_by_idle_probe((rounds / 5).clamp(20, 1_000))?;
    Ok(c)
}

/// The eventfd and channel wake-ups after each idle time of
/// [`WAKE_IDLE_US`], `rounds` of each.
fn wake_by_idle_probe(rounds: u32) -> Result<Vec<WakeRow>, CalibrateError> {
    let spin = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let mut rows = Vec::with_capacity(WAKE_IDLE_US.len());
    for us in WAKE_IDLE_US {
        let gap = us * 1_000;
        let efd = Arc::new(EventFd::new().map_err(io_err("eventfd"))?);
        let epoll = Epoll::new().map_err(io_err("epoll_create"))?;
        epoll.add(efd.as_raw_fd(), 0).map_err(io_err("epoll_ctl"))?;
        let mut tokens = Vec::new();
        let signal = efd.clone();
        let mut failed = None;
        let eventfd = wake_after_idle(
            rounds,
            gap,
            spin,
            move || signal.signal(),
            || {
                if let Err(e) = wait_for_event(&epoll, &mut tokens) {
                    failed = Some(e);
                }
                efd.drain();
            },
        );
        if let Some(e) = failed {
            return Err(io_err("epoll_wait")(e));
        }
        let (tx, rx) = channel::<()>();
        let channel = wake_after_idle(
            rounds,
            gap,
            spin,
            move || {
                let _ = tx.send(());
            },
            || {
                let _ = rx.recv();
            },
        );
        rows.push(WakeRow {
            idle_ns: gap,
            eventfd_q: quantiles(&ns(&eventfd), WAKE_QUANTILES),
            channel_q: quantiles(&ns(&channel), WAKE_QUANTILES),
        });
    }
    Ok(rows)
}

/// `rounds` wake-ups of a thread that has slept `gap_ns`: this thread arms
/// (records when it goes to sleep) and `sleep`s; a waker thread waits for
/// the arm, lets `gap_ns` pass (spinning on another CPU if `spin`, so that
/// the sleeper's CPU is the one left idle; sleeping itself otherwise) and
/// calls `wake`. Returns each latency from the wake call to the sleeper
/// running, ns.
fn wake_after_idle(
    rounds: u32,
    gap_ns: u64,
    spin: bool,
    mut wake: impl FnMut() + Send + 'static,
    mut sleep: impl FnMut(),
) -> Vec<u64> {
    // When the sleeper armed (0: not armed).
    let armed = Arc::new(AtomicU64::new(0));
    let stamp = Arc::new(AtomicU64::new(0));
    let waker = {
        let (armed, stamp) = (armed.clone(), stamp.clone());
        std::thread::spawn(move || {
            for _ in 0..rounds {
                let at = loop {
                    let at = armed.swap(0, Ordering::SeqCst);
                    if at != 0 {
                        break at;
                    }
                    if spin {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                };
                let until = at + gap_ns;
                if spin {
                    while mono_ns() < until {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::sleep(std::time::Duration::from_nanos(
                        until.saturating_sub(mono_ns()),
                    ));
                }
                stamp.store(mono_ns(), Ordering::SeqCst);
                wake();
            }
        })
    };
    let mut latencies = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        armed.store(mono_ns().max(1), Ordering::SeqCst);
        sleep();
        let woke = mono_ns();
        latencies.push(woke.saturating_sub(stamp.load(Ordering::SeqCst)));
    }
    let _ = waker.join();
    latencies
}

/// Sleeps in epoll_wait until an event arrives (a wait can return none).
fn wait_for_event(epoll: &Epoll, tokens: &mut Vec<u64>) -> std::io::Result<()> {
    loop {
        epoll.wait(-1, tokens)?;
        if !tokens.is_empty() {
            return Ok(());
        }
    }
}

/// A sleeper in epoll_wait woken by eventfd writes from another thread.
fn eventfd_probe(rounds: u32, c: &mut LoopCosts) -> Result<(), CalibrateError> {
    let efd = Arc::new(EventFd::new().map_err(io_err("eventfd"))?);
    let epoll = Epoll::new().map_err(io_err("epoll_create"))?;
    epoll.add(efd.as_raw_fd(), 0).map_err(io_err("epoll_ctl"))?;
    let stamp = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = channel::<()>();
    let writer = {
        let (efd, stamp) = (efd.clone(), stamp.clone());
        std::thread::spawn(move || {
            let mut costs = Vec::with_capacity(rounds as usize);
            for _ in 0..rounds {
                // Wait for the sleeper to be (about to be) in epoll_wait,
                // then give it time to really fall asleep.
                if ready_rx.recv().is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
                let t0 = mono_ns();
                stamp.store(t0, Ordering::SeqCst);
                efd.signal();
                costs.push(mono_ns() - t0);
            }
            costs
        })
    };
    let mut latencies = Vec::with_capacity(rounds as usize);
    let mut tokens = Vec::new();
    let mut cpu = 0u64;
    for _ in 0..rounds {
        let _ = ready_tx.send(());
        let cpu0 = thread_cpu_ns();
        wait_for_event(&epoll, &mut tokens).map_err(io_err("epoll_wait"))?;
        let woke = mono_ns();
        efd.drain();
        cpu += thread_cpu_ns() - cpu0;
        latencies.push(woke.saturating_sub(stamp.load(Ordering::SeqCst)));
    }
    drop(ready_tx);
    let kicks = writer.join().unwrap_or_default();
    c.wakeup_latency_q = quantiles(&ns(&latencies), WAKE_QUANTILES);
    c.wakeup_latency_ns = median(&ns(&latencies));
    // Each round's CPU also covers the two clock reads around it (about one
    // CPU-clock syscall); the probe reports the cycle as a whole.
    c.wakeup_cpu_ns = cpu as f64 / f64::from(rounds);
    c.kick_ns = median(&ns(&kicks));
    Ok(())
}

/// A job blocked on its completion channel, woken by the loop's send.
fn channel_probe(rounds: u32, c: &mut LoopCosts) {
    let (tx, rx) = channel::<u64>();
    let (ready_tx, ready_rx) = channel::<()>();
    let sender = std::thread::spawn(move || {
        let clock_cost = cpu_clock_cost();
        let mut costs = Vec::with_capacity(rounds as usize);
        let mut cpu_costs = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            if ready_rx.recv().is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
            let c0 = thread_cpu_ns();
            let t0 = mono_ns();
            if tx.send(t0).is_err() {
                break;
            }
            costs.push(mono_ns() - t0);
            cpu_costs.push((thread_cpu_ns() - c0).saturating_sub(clock_cost));
        }
        (costs, cpu_costs)
    });
    let mut latencies = Vec::with_capacity(rounds as usize);
    let mut cpu = 0u64;
    for _ in 0..rounds {
        let _ = ready_tx.send(());
        let cpu0 = thread_cpu_ns();
        let Ok(sent) = rx.recv() else { break };
        let woke = mono_ns();
        cpu += thread_cpu_ns() - cpu0;
        latencies.push(woke.saturating_sub(sent));
    }
    drop(ready_tx);
    let (sends, send_cpus) = sender.join().unwrap_or_default();
    c.completion_wake_latency_q = quantiles(&ns(&latencies), WAKE_QUANTILES);
    c.completion_wake_latency_ns = median(&ns(&latencies));
    c.completion_wake_cpu_ns = cpu as f64 / f64::from(rounds);
    c.completion_notify_ns = median(&ns(&sends));
    c.completion_notify_cpu_ns = median(&ns(&send_cpus));
}

struct NoBell;
impl Doorbell for NoBell {
    fn ring(&self) {}
}

/// The per-request and per-iteration software paths, timed in bulk.
fn software_probe(rounds: u32, c: &mut LoopCosts) {
    let n = u64::from(rounds);
    let queue: SubmitQueue<Request> = SubmitQueue::new();
    let mut rng = Pcg64::seed_from_u64(1);
    let mut hist = new_histogram();

    // A job's own work per request (notifications off: no kick).
    let t0 = mono_ns();
    for i in 0..n {
        let issued = mono_ns();
        let offset = rng.random_range(0..1u64 << 20) * 4096;
        let _ = queue.push(
            Request {
                slot: (i % 8) as u32,
                op: Opcode::Read,
                offset,
            },
            &NoBell,
        );
        let done = mono_ns();
        hist.saturating_record(done - issued);
    }
    let job_total = mono_ns() - t0;

    // The loop's per-request work: drain and build the iocb.
    let mut drained = Vec::with_capacity(rounds as usize);
    let pool = BufferPool::new(8, 4096).expect("small pool");
    let t1 = mono_ns();
    queue.drain_into(&mut drained);
    let mut iocbs = Vec::with_capacity(drained.len());
    for r in &drained {
        iocbs.push(Iocb::new(
            r.op,
            0,
            pool.slot_ptr(r.slot as usize),
            4096,
            r.offset,
            u64::from(r.slot),
            0,
        ));
    }
    let submit_total = mono_ns() - t1;
    std::hint::black_box(&iocbs);

    // Completions to a job that is not blocked.
    let (tx, rx) = channel::<Completion>();
    let t2 = mono_ns();
    for i in 0..n {
        let _ = tx.send(Completion {
            slot: (i % 8) as u32,
            status: Status::Done(4096),
        });
    }
    let complete_total = mono_ns() - t2;
    let t_take = mono_ns();
    let mut taken = 0usize;
    while let Ok(c) = rx.try_recv() {
        taken += c.slot as usize;
    }
    let take_total = mono_ns() - t_take;
    std::hint::black_box(taken);
    drop(rx);

    // One poll pass: queue check and ring check.
    let mut ctx = AioContext::new(1).ok();
    let t3 = mono_ns();
    let mut seen = 0usize;
    for _ in 0..n {
        seen += usize::from(queue.has_work());
        if let Some(ctx) = ctx.as_mut() {
            seen += ctx.ready();
        }
    }
    let poll_total = mono_ns() - t3;
    std::hint::black_box(seen);
    drop(ctx);

    let iteration_ns = iteration_probe(n);

    c.job_io_ns = job_total as f64 / n as f64;
    c.submit_ns = submit_total as f64 / n as f64;
    c.complete_ns = complete_total as f64 / n as f64;
    c.completion_take_ns = take_total as f64 / n as f64;
    c.poll_check_ns = poll_total as f64 / n as f64 / 2.0;
    c.iteration_ns = iteration_ns;
}

/// The loop's fixed work per iteration: the real [`drive`] over core's
/// [`IoThread`] (QEMU's policy, a live-parameter check, the clock reads),
/// `n` iterations over a host whose completion ring always has work and
/// whose processing does nothing. Returns ns per iteration.
fn iteration_probe(n: u64) -> f64 {
    let queue: SubmitQueue<()> = SubmitQueue::new();
    let stop = StopSignal::new();
    let cell = ParamCell::new(Params::defaults(PolicyKind::Qemu));
    let mut lp = IoThread::new(Params::defaults(PolicyKind::Qemu), HANDLERS, 0, u64::MAX);
    let mut host = BareHost {
        left: n.max(1),
        stop: &stop,
    };
    let t0 = mono_ns();
    drive(&mut lp, &mut host, &queue, &stop, Some(&cell)).expect("the bare host never fails");
    let total = mono_ns() - t0;
    let iterations = lp.finish(u64::MAX).iterations;
    assert_eq!(iterations, n.max(1), "the probe times whole iterations");
    total as f64 / n.max(1) as f64
}

/// A host with work always in view and nothing to do with it: what
/// [`drive`] costs by itself. Stops the loop after `left` iterations.
struct BareHost<'a> {
    left: u64,
    stop: &'a StopSignal,
}

impl LoopHost for BareHost<'_> {
    type Request = ();

    fn now(&mut self) -> u64 {
        mono_ns()
    }

    fn completions_ready(&mut self) -> bool {
        true
    }

    fn reset_doorbells(&mut self) {}

    fn wait(&mut self, _handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        Ok(())
    }

    fn process(&mut self, _requests: &mut Vec<()>, _lp: &IoThread) -> std::io::Result<()> {
        self.left -= 1;
        if self.left == 0 {
            self.stop.stop();
        }
        Ok(())
    }

    fn shutdown(&mut self, _cancelled: &mut Vec<()>) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle NVMe-like disk: 80 us at qd1, 8x the IOPS at qd16, steady
    /// repeats, no other load.
    fn healthy() -> CheckInput {
        CheckInput {
            qd1_read_iops: 12_000.0,
            qd1_read_p50_ns: 80_000.0,
            sat_read_iops: 96_000.0,
            sat_depth: 16,
            repeats: vec![
                (
                    "randread bs=4096 qd=1".into(),
                    vec![11_800.0, 12_000.0, 12_300.0],
                ),
                (
                    "randread bs=4096 qd=16".into(),
                    vec![95_000.0, 96_000.0, 99_000.0],
                ),
            ],
            background_load_cpus: 0.02,
            steal_frac: 0.0,
        }
    }

    fn whats(c: &CheckInput) -> Vec<String> {
        checks(c).into_iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_iteration_probe_runs_the_loop() {
        let ns = iteration_probe(2000);
        assert!(ns > 0.0 && ns < 1e6, "{ns} ns per bare iteration");
    }

    #[test]
    fn a_healthy_calibration_passes() {
        assert_eq!(checks(&healthy()), vec![]);
    }

    #[test]
    fn throughput_falling_with_depth_is_flagged() {
        let c = CheckInput {
            sat_read_iops: 9_000.0,
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("falls with queue depth") && w[0].contains("qd16"));
        assert!(w[0].contains("rerun on an idle machine"));
        // Level throughput (a device with no parallelism) is not an error.
        let level = CheckInput {
            sat_read_iops: 11_500.0,
            ..healthy()
        };
        assert_eq!(checks(&level), vec![]);
    }

    #[test]
    fn memory_speed_latency_is_flagged() {
        let c = CheckInput {
            qd1_read_p50_ns: 900.0,
            qd1_read_iops: 600_000.0,
            sat_read_iops: 900_000.0,
            repeats: vec![],
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("memory") && w[0].contains("--dir"), "{w:?}");
    }

    #[test]
    fn disturbed_repeats_and_other_load_are_flagged() {
        let mut c = healthy();
        c.repeats[0].1 = vec![6_000.0, 12_000.0, 12_100.0];
        let w = whats(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("differ by 51%") && w[0].contains("disturbed"));
        let c = CheckInput {
            background_load_cpus: 1.1,
            steal_frac: 0.3,
            ..healthy()
        };
        let w = whats(&c);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("1.10 CPUs") && w[1].contains("stole 30%"));
    }

    #[test]
    fn proc_stat_load_by_hand() {
        let a = "cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n";
        let b = "cpu  150 0 70 1500 10 0 0 50 0 0\n";
        // busy 150 -> 220 (+70), steal +10, total 1000 -> 1780 (+780).
        assert_eq!(proc_stat_cpu(a), Some((150, 40, 1000)));
        let (load, steal) = load_between(proc_stat_cpu(a).unwrap(), proc_stat_cpu(b).unwrap(), 2);
        assert!((load - 2.0 * 70.0 / 780.0).abs() < 1e-12);
        assert!((steal - 10.0 / 780.0).abs() < 1e-12);
        assert_eq!(proc_stat_cpu("intr 1 2"), None);
    }

    #[test]
    fn median_costs_are_per_field() {
        let run = |w: f64, k: f64| LoopCosts {
            wakeup_latency_ns: w,
            kick_ns: k,
            wakeup_latency_q: [w, w, w, w],
            ..LoopCosts::default()
        };
        let m = median_costs(&[run(10.0, 3.0), run(30.0, 1.0), run(20.0, 2.0)]);
        assert_eq!((m.wakeup_latency_ns, m.kick_ns), (20.0, 2.0));
        assert_eq!(m.wakeup_latency_q, [20.0; 4]);
    }

    #[test]
    fn the_wakeup_table_is_the_median_cell_by_cell() {
        let run = |a: f64, b: f64| LoopCosts {
            wake_by_idle: vec![
                WakeRow {
                    idle_ns: 10_000,
                    eventfd_q: [a; 4],
                    channel_q: [b; 4],
                },
                WakeRow {
                    idle_ns: 200_000,
                    eventfd_q: [a * 3.0; 4],
                    channel_q: [b * 3.0; 4],
                },
            ],
            ..LoopCosts::default()
        };
        let m = median_costs(&[run(5.0, 1.0), run(9.0, 2.0), run(6.0, 7.0)]);
        assert_eq!(m.wake_by_idle.len(), 2);
        assert_eq!(m.wake_by_idle[0].eventfd_q, [6.0; 4]);
        assert_eq!(m.wake_by_idle[1].channel_q, [6.0; 4]);
        assert_eq!(m.wake_by_idle[1].idle_ns, 200_000);
        // Runs that measured different idle times are not mixed.
        let mut odd = run(1.0, 1.0);
        odd.wake_by_idle[1].idle_ns = 300_000;
        assert!(median_costs(&[run(5.0, 1.0), odd]).wake_by_idle.is_empty());
    }

    #[test]
    fn a_wake_after_idle_comes_after_the_gap() {
        // The sleeper here sleeps on a channel; the gap is long enough
        // that the waker cannot fire early unnoticed: every round takes
        // at least the gap from the arm to the wake.
        let (tx, rx) = channel::<u64>();
        let gap = 300_000;
        let mut waits = Vec::new();
        let lat = wake_after_idle(
            20,
            gap,
            true,
            move || {
                let _ = tx.send(mono_ns());
            },
            || {
                let t0 = mono_ns();
                let sent = rx.recv().unwrap();
                waits.push(sent - t0);
            },
        );
        assert_eq!(lat.len(), 20);
        assert!(waits.iter().all(|&w| w + 50_000 >= gap), "{waits:?}");
    }
}
