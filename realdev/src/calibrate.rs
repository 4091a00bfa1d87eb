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
use pollwise_core::{AnyPolicy, Outcome, Params, Policy, PolicyKind};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::aio::{AioContext, IoEvent, Iocb, Opcode};
use crate::buffer::BufferPool;
use crate::handoff::{Doorbell, ParamCell, SubmitQueue};
use crate::loadgen::{new_histogram, Completion, Request, Status};
use crate::sys::{mono_ns, thread_cpu_ns, Epoll, EventFd};
use crate::target::{Target, TargetError, TargetSpec};
use pollwise_core::Rw;

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
    /// CPU of one block-and-wake cycle of that thread (epoll_wait, eventfd
    /// read, scheduler).
    pub wakeup_cpu_ns: f64,
    /// The writer's side: one eventfd write that wakes a sleeper (a kick).
    pub kick_ns: f64,
    /// A job blocked on its completion channel: from the send until it runs
    /// (median).
    pub completion_wake_latency_ns: f64,
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
    pub costs: LoopCosts,
    pub cpus: usize,
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
    let mut rng = Pcg64::seed_from_u64(cfg.seed);
    let mut latency_points = Vec::new();
    for &rw in rws {
        for &bs in &sizes {
            latency_points.push(device_point(&target, rw, bs, 1, cfg.point_ms, &mut rng)?);
            check()?;
        }
    }
    let mut saturation_points = vec![device_point(
        &target,
        Rw::RandRead,
        small,
        cfg.saturation_depth,
        cfg.point_ms,
        &mut rng,
    )?];
    for &rw in rws {
        saturation_points.push(device_point(
            &target,
            rw,
            large,
            cfg.saturation_depth,
            cfg.point_ms,
            &mut rng,
        )?);
    }
    check()?;
    let costs = loop_costs(cfg.probe_rounds)?;
    check()?;
    Ok(Calibration {
        target_path: target.path().display().to_string(),
        block_size: target.block_size(),
        latency_points,
        saturation_points,
        costs,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        measured_writes: writable,
    })
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
    })
}

/// What one read of the thread CPU clock adds to a CPU-clock interval (it
/// is a system call), the median of back-to-back reads.
pub fn cpu_clock_cost() -> u64 {
    let mut d: Vec<u64> = (0..200)
        .map(|_| {
            let a = thread_cpu_ns();
            thread_cpu_ns() - a
        })
        .collect();
    d.sort_unstable();
    d[d.len() / 2]
}

fn median(mut v: Vec<u64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[v.len() / 2] as f64
}

/// Runs every loop-cost probe `rounds` times.
pub fn loop_costs(rounds: u32) -> Result<LoopCosts, CalibrateError> {
    let mut c = LoopCosts::default();
    eventfd_probe(rounds, &mut c)?;
    channel_probe(rounds, &mut c);
    software_probe(rounds.max(10_000), &mut c);
    Ok(c)
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
        loop {
            epoll.wait(-1, &mut tokens).map_err(io_err("epoll_wait"))?;
            if !tokens.is_empty() {
                break;
            }
        }
        let woke = mono_ns();
        efd.drain();
        cpu += thread_cpu_ns() - cpu0;
        latencies.push(woke.saturating_sub(stamp.load(Ordering::SeqCst)));
    }
    drop(ready_tx);
    let kicks = writer.join().unwrap_or_default();
    c.wakeup_latency_ns = median(latencies);
    // Each round's CPU also covers the two clock reads around it (about one
    // CPU-clock syscall); the probe reports the cycle as a whole.
    c.wakeup_cpu_ns = cpu as f64 / f64::from(rounds);
    c.kick_ns = median(kicks);
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
    c.completion_wake_latency_ns = median(latencies);
    c.completion_wake_cpu_ns = cpu as f64 / f64::from(rounds);
    c.completion_notify_ns = median(sends);
    c.completion_notify_cpu_ns = median(send_cpus);
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

    // The loop's fixed work per iteration.
    let cell = ParamCell::new(Params::defaults(PolicyKind::Qemu));
    let mut policy = AnyPolicy::new(Params::defaults(PolicyKind::Qemu));
    let mut version = 0;
    let t4 = mono_ns();
    for i in 0..n {
        let a = mono_ns();
        if let Some(p) = cell.take_newer(&mut version) {
            let _ = policy.set_params(p);
        }
        let w = policy.window_ns();
        let b = mono_ns();
        let handlers = [0u32];
        policy.observe(&Outcome::polled((b - a + w + i) % 50_000, &handlers));
        std::hint::black_box(mono_ns());
    }
    let iteration_total = mono_ns() - t4;

    c.job_io_ns = job_total as f64 / n as f64;
    c.submit_ns = submit_total as f64 / n as f64;
    c.complete_ns = complete_total as f64 / n as f64;
    c.completion_take_ns = take_total as f64 / n as f64;
    c.poll_check_ns = poll_total as f64 / n as f64 / 2.0;
    c.iteration_ns = iteration_total as f64 / n as f64;
}
