//! The device probes: latency and throughput from one thread spinning on
//! the completion ring (no wake-ups in the way), the same asleep on the
//! completion eventfd (the interrupt's wake-up added), and `io_submit`
//! against batch size.

use std::os::fd::AsRawFd;

use hdrhistogram::Histogram;
use pollwise_core::Rw;
use rand::Rng;
use rand_pcg::Pcg64;

use pollwise_stats::median;

use super::host::{cpu_clock_cost, ns};
use super::{io_err, CalibrateError, SubmitBatch};
use crate::aio::{AioContext, IoEvent, Iocb, Opcode};
use crate::buffer::BufferPool;
use crate::loadgen::new_histogram;
use crate::sys::{mono_ns, thread_cpu_ns, Epoll, EventFd};
use crate::target::Target;

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
    /// IOPS of every repeat of this point, in the order run (this one is
    /// the median's); more than `--repeat` where they spread wide.
    pub repeat_iops: Vec<f64>,
    /// Median latency of every repeat, ns.
    pub repeat_p50_ns: Vec<f64>,
    /// With a sleeping reaper: the mean CPU, on its own clock, of a sleep
    /// in `epoll_wait` that a completion's interrupt ended, ns (0 when it
    /// never slept).
    pub sleep_cpu_ns: f64,
}

impl DevicePoint {
    /// Small reads at `depth`: `ios` requests in `elapsed_ns` found in
    /// `reaps` reaps, with these latencies; no `io_submit` timing and no
    /// repeats (a point as a mapping or a test describes it).
    pub fn reads(
        depth: u32,
        latency: Histogram<u64>,
        ios: u64,
        elapsed_ns: u64,
        reaps: u64,
    ) -> DevicePoint {
        DevicePoint {
            rw: Rw::RandRead,
            bs: 4096,
            depth,
            latency,
            ios,
            elapsed_ns,
            submit_call_ns: 0.0,
            submit_call_cpu_ns: 0.0,
            reaps,
            repeat_iops: vec![],
            repeat_p50_ns: vec![],
            sleep_cpu_ns: 0.0,
        }
    }

    /// The random reads of the smallest block size among `points` (the
    /// IOPS-bound ones).
    pub fn smallest_reads(points: &[DevicePoint]) -> Option<&DevicePoint> {
        points
            .iter()
            .filter(|p| p.rw == Rw::RandRead)
            .min_by_key(|p| p.bs)
    }

    pub fn iops(&self) -> f64 {
        self.ios as f64 * 1e9 / self.elapsed_ns.max(1) as f64
    }
    pub fn bytes_per_s(&self) -> f64 {
        self.iops() * self.bs as f64
    }
    /// How far the repeats' IOPS differ: (max - min) / median, %; 0 for
    /// a single run.
    pub fn spread_pct(&self) -> f64 {
        pollwise_stats::spread_pct(&self.repeat_iops)
    }
}

/// What a probe's requests share: an AIO context for `depth` of them, one
/// buffer per slot, and the eventfd the kernel signals. The pool must
/// outlive the context (the kernel may still write into it), so a probe
/// drops the context first.
fn resources(depth: u32, bs: u64) -> Result<(AioContext, BufferPool, EventFd), CalibrateError> {
    let ctx = AioContext::new(depth).map_err(io_err("io_setup"))?;
    let pool = BufferPool::new(depth as usize, bs as usize)
        .map_err(|e| CalibrateError::Io("allocating buffers".into(), std::io::Error::other(e)))?;
    let efd = EventFd::new().map_err(io_err("eventfd"))?;
    Ok((ctx, pool, efd))
}

/// Requests of `bs` at random aligned offsets of the target.
struct Requests<'a> {
    target: &'a Target,
    pool: &'a BufferPool,
    efd: &'a EventFd,
    op: Opcode,
    bs: u64,
    blocks: u64,
}

impl<'a> Requests<'a> {
    fn new(
        target: &'a Target,
        pool: &'a BufferPool,
        efd: &'a EventFd,
        op: Opcode,
        bs: u64,
    ) -> Self {
        Requests {
            target,
            pool,
            efd,
            op,
            bs,
            blocks: target.size() / bs,
        }
    }

    /// The request of `slot`, at a fresh random offset.
    fn iocb(&self, slot: u32, rng: &mut Pcg64) -> Iocb {
        let offset = rng.random_range(0..self.blocks) * self.bs;
        Iocb::new(
            self.op,
            self.target.fd(),
            self.pool.slot_ptr(slot as usize),
            self.bs,
            offset,
            u64::from(slot),
            self.efd.as_raw_fd(),
        )
    }
}

/// How a device point waits for its completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reaper {
    /// Spinning on the ring: the latency is the device's and the kernel's.
    Spin,
    /// Asleep in epoll_wait on the completion eventfd, as a loop that
    /// does not poll: the latency adds the wake-up by the interrupt.
    Sleep,
}

/// Keeps `depth` requests of `bs` in flight for `ms`, reaping as `reaper`
/// says.
pub(super) fn device_point(
    target: &Target,
    (rw, bs, depth): (Rw, u64, u32),
    ms: u64,
    reaper: Reaper,
    rng: &mut Pcg64,
) -> Result<DevicePoint, CalibrateError> {
    let (mut ctx, pool, efd) = resources(depth, bs)?;
    let epoll = match reaper {
        Reaper::Spin => None,
        Reaper::Sleep => {
            let e = Epoll::new().map_err(io_err("epoll_create"))?;
            e.add(efd.as_raw_fd(), 0).map_err(io_err("epoll_ctl"))?;
            Some(e)
        }
    };
    let op = if rw.writes() {
        Opcode::Write
    } else {
        Opcode::Read
    };
    let requests = Requests::new(target, &pool, &efd, op, bs);
    let mut spin = Spin::new(depth, cpu_clock_cost());
    let start = mono_ns();
    let end = start + ms * 1_000_000;
    while mono_ns() < end {
        spin.fill(&mut ctx, &requests, rng)?;
        spin.reap(&mut ctx, &efd, epoll.as_ref(), rw, bs)?;
    }
    let elapsed_ns = mono_ns() - start;
    let mut rest = Vec::new();
    ctx.wait_for(spin.in_flight, &mut rest)
        .map_err(io_err("io_getevents"))?;
    drop(ctx);
    drop(pool);
    Ok(spin.into_point(rw, bs, depth, elapsed_ns))
}

/// The bookkeeping of a running device point.
struct Spin {
    /// When each slot's request was submitted (`io_submit` returned).
    issued_at: Vec<u64>,
    free: Vec<u32>,
    in_flight: usize,
    latency: Histogram<u64>,
    ios: u64,
    reaps: u64,
    /// `io_submit` calls: their number and total wall and CPU time, ns.
    submit_calls: u64,
    submit_ns: u64,
    submit_cpu_ns: u64,
    /// Sleeps in `epoll_wait` a completion ended, and their CPU, ns.
    sleeps: u64,
    sleep_cpu_ns: u64,
    clock_cost: u64,
    events: Vec<IoEvent>,
    tokens: Vec<u64>,
}

impl Spin {
    fn new(depth: u32, clock_cost: u64) -> Spin {
        Spin {
            issued_at: vec![0; depth as usize],
            free: (0..depth).collect(),
            in_flight: 0,
            latency: new_histogram(),
            ios: 0,
            reaps: 0,
            submit_calls: 0,
            submit_ns: 0,
            submit_cpu_ns: 0,
            sleeps: 0,
            sleep_cpu_ns: 0,
            clock_cost,
            events: Vec::with_capacity(depth as usize),
            tokens: Vec::new(),
        }
    }

    /// Submits a request on every free slot, one `io_submit` each, timed
    /// on both clocks; stops early if the kernel takes none.
    fn fill(
        &mut self,
        ctx: &mut AioContext,
        requests: &Requests<'_>,
        rng: &mut Pcg64,
    ) -> Result<(), CalibrateError> {
        while let Some(slot) = self.free.pop() {
            let mut iocb = requests.iocb(slot, rng);
            let mut ptrs = [&mut iocb as *mut Iocb];
            let c0 = thread_cpu_ns();
            let t0 = mono_ns();
            // SAFETY: the pool outlives the context (`device_point` drops
            // the context first).
            let n = unsafe { ctx.submit(&mut ptrs) }.map_err(io_err("io_submit"))?;
            let t1 = mono_ns();
            let c1 = thread_cpu_ns();
            if n == 0 {
                self.free.push(slot);
                break;
            }
            self.submit_ns += t1 - t0;
            self.submit_cpu_ns += (c1 - c0).saturating_sub(self.clock_cost);
            self.submit_calls += 1;
            self.issued_at[slot as usize] = t1;
            self.in_flight += 1;
        }
        Ok(())
    }

    /// Spins (or, with `epoll`, sleeps) until completions are visible,
    /// then takes them all, recording each one's latency and freeing its
    /// slot.
    fn reap(
        &mut self,
        ctx: &mut AioContext,
        efd: &EventFd,
        epoll: Option<&Epoll>,
        rw: Rw,
        bs: u64,
    ) -> Result<(), CalibrateError> {
        let (c0, mut slept) = (epoll.map(|_| thread_cpu_ns()), false);
        while ctx.ready() == 0 {
            match epoll {
                Some(e) => {
                    e.wait(-1, &mut self.tokens).map_err(io_err("epoll_wait"))?;
                    slept = true;
                    if ctx.ready() == 0 {
                        // A count left from a completion reaped before its
                        // signal landed: read it, or the next wait would
                        // return at once and this would spin, not sleep.
                        efd.drain();
                    }
                }
                None => std::hint::spin_loop(),
            }
        }
        let seen = mono_ns();
        self.events.clear();
        ctx.reap(&mut self.events);
        efd.drain();
        if let (Some(c0), true) = (c0, slept) {
            // The sleep, the wake-up and the eventfd's read on the
            // sleeper's own clock, with the clock reads around them, as
            // the thread-woken probe times its cycle (`wakeup_cpu_ns`).
            self.sleep_cpu_ns += thread_cpu_ns() - c0;
            self.sleeps += 1;
        }
        self.reaps += 1;
        for ev in &self.events {
            self.in_flight -= 1;
            if ev.res != bs as i64 {
                return Err(failed(rw, bs, ev.res));
            }
            let slot = ev.data as u32;
            self.latency
                .saturating_record(seen - self.issued_at[slot as usize]);
            self.ios += 1;
            self.free.push(slot);
        }
        Ok(())
    }

    fn into_point(self, rw: Rw, bs: u64, depth: u32, elapsed_ns: u64) -> DevicePoint {
        let calls = self.submit_calls.max(1) as f64;
        DevicePoint {
            rw,
            bs,
            depth,
            latency: self.latency,
            ios: self.ios,
            elapsed_ns,
            submit_call_ns: self.submit_ns as f64 / calls,
            submit_call_cpu_ns: self.submit_cpu_ns as f64 / calls,
            reaps: self.reaps,
            repeat_iops: Vec::new(),
            repeat_p50_ns: Vec::new(),
            sleep_cpu_ns: self.sleep_cpu_ns as f64 / self.sleeps.max(1) as f64,
        }
    }
}

/// A request that completed with `res` instead of `bs` bytes.
fn failed(rw: Rw, bs: u64, res: i64) -> CalibrateError {
    CalibrateError::Io(
        format!("{rw} bs={bs}: request completed with {res}"),
        std::io::Error::from_raw_os_error(if res < 0 { -res as i32 } else { libc::EIO }),
    )
}

/// `io_submit` calls of one batch size, each batch waited for before the
/// next.
const SUBMIT_ROUNDS: u64 = 50;

/// `io_submit` of 1, 2, 4, ... up to `max` requests of `bs` in one call,
/// each size [`SUBMIT_ROUNDS`] times; waits for each batch before the next.
pub(super) fn submit_batch_probe(
    target: &Target,
    bs: u64,
    max: u32,
    rng: &mut Pcg64,
) -> Result<Vec<SubmitBatch>, CalibrateError> {
    let max = max.max(1);
    let (mut ctx, pool, efd) = resources(max, bs)?;
    let requests = Requests::new(target, &pool, &efd, Opcode::Read, bs);
    let clock_cost = cpu_clock_cost();
    let mut out = Vec::new();
    let mut events = Vec::with_capacity(max as usize);
    let mut batch = 1u32;
    while batch <= max {
        let (mut wall, mut cpu) = (0u64, 0u64);
        for _ in 0..SUBMIT_ROUNDS {
            let (w, c) = submit_batch(&mut ctx, &requests, batch, rng, &mut events)?;
            wall += w;
            cpu += c.saturating_sub(clock_cost);
        }
        out.push(SubmitBatch {
            batch,
            wall_ns: wall as f64 / SUBMIT_ROUNDS as f64,
            cpu_ns: cpu as f64 / SUBMIT_ROUNDS as f64,
        });
        batch *= 2;
    }
    drop(ctx);
    drop(pool);
    Ok(out)
}

/// Submits `batch` requests in as few `io_submit` calls as the kernel
/// allows and waits for them. Returns the submission's wall and CPU time
/// (with one CPU-clock read in it), ns.
fn submit_batch(
    ctx: &mut AioContext,
    requests: &Requests<'_>,
    batch: u32,
    rng: &mut Pcg64,
    events: &mut Vec<IoEvent>,
) -> Result<(u64, u64), CalibrateError> {
    let mut iocbs: Vec<Iocb> = (0..batch).map(|slot| requests.iocb(slot, rng)).collect();
    let mut ptrs: Vec<*mut Iocb> = iocbs.iter_mut().map(|c| c as *mut Iocb).collect();
    let mut done = 0;
    let c0 = thread_cpu_ns();
    let t0 = mono_ns();
    while done < ptrs.len() {
        // SAFETY: the pool outlives the context (`submit_batch_probe`
        // drops the context first).
        match unsafe { ctx.submit(&mut ptrs[done..]) }.map_err(io_err("io_submit"))? {
            0 => break,
            n => done += n,
        }
    }
    let wall = mono_ns() - t0;
    let cpu = thread_cpu_ns() - c0;
    events.clear();
    ctx.wait_for(done, events).map_err(io_err("io_getevents"))?;
    requests.efd.drain();
    Ok((wall, cpu))
}

/// What an `io_submit` costs its thread's CPU clock after the thread slept
/// each of `idle_us` (its CPU idle that long) beyond one made right after
/// a spin: one request of `bs` at a time, the completion spun for (so no
/// interrupt wakes it), then a timer sleep of a length drawn in a seeded
/// shuffle (`rounds` of each, and as many with no sleep), then the
/// submission, timed on the CPU clock. Per length, the median less the
/// median without a sleep, at least 0, ns.
pub(super) fn submit_after_idle(
    target: &Target,
    bs: u64,
    idle_us: &[u64],
    rounds: u32,
    rng: &mut Pcg64,
) -> Result<Vec<f64>, CalibrateError> {
    let (mut ctx, pool, efd) = resources(1, bs)?;
    let requests = Requests::new(target, &pool, &efd, Opcode::Read, bs);
    let clock_cost = cpu_clock_cost();
    // Index 0: no sleep; i + 1: idle_us[i].
    let mut order: Vec<usize> = (0..=idle_us.len())
        .flat_map(|i| std::iter::repeat_n(i, rounds as usize))
        .collect();
    rand::seq::SliceRandom::shuffle(order.as_mut_slice(), rng);
    let mut cpu: Vec<Vec<u64>> = vec![Vec::with_capacity(rounds as usize); idle_us.len() + 1];
    let mut events = Vec::with_capacity(1);
    let _slack = super::placement::TimerSlack::fine();
    for i in order {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_micros(idle_us[i - 1]));
        }
        let mut iocb = requests.iocb(0, rng);
        let mut ptrs = [&mut iocb as *mut Iocb];
        let c0 = thread_cpu_ns();
        // SAFETY: the pool outlives the context (dropped below, after it).
        let n = unsafe { ctx.submit(&mut ptrs) }.map_err(io_err("io_submit"))?;
        let c1 = thread_cpu_ns();
        if n == 0 {
            continue;
        }
        cpu[i].push((c1 - c0).saturating_sub(clock_cost));
        while ctx.ready() == 0 {
            std::hint::spin_loop();
        }
        events.clear();
        ctx.reap(&mut events);
        efd.drain();
        if let Some(ev) = events.iter().find(|ev| ev.res != bs as i64) {
            return Err(failed(Rw::RandRead, bs, ev.res));
        }
    }
    drop(ctx);
    drop(pool);
    // A length with no submission taken (or none after a spin) reads 0.
    let med = |v: &[u64]| (!v.is_empty()).then(|| median(&ns(v)));
    let spun = med(&cpu[0]);
    Ok(cpu[1..]
        .iter()
        .map(|v| match (med(v), spun) {
            (Some(after), Some(spun)) => (after - spun).max(0.0),
            _ => 0.0,
        })
        .collect())
}

/// What the device's interrupts take from each CPU of `cpus`, per
/// completion, ns: a thread pinned to that CPU spins on the clock and adds
/// up every gap longer than 0.5 us while a sleeping reaper pinned to
/// another CPU reads at queue depth 1 for `ms`, less the gaps of as long a
/// spin with no I/O (timer ticks and other load), over the reaper's
/// completions; at least 0. A CPU the interrupt is delivered to loses its
/// handling there (in a VM, the exits to inject and end it), the others
/// next to nothing. Empty with fewer than two CPUs.
pub(super) fn irq_cpu_steal(
    target: &Target,
    bs: u64,
    cpus: &[usize],
    ms: u64,
    rng: &mut Pcg64,
) -> Result<Vec<f64>, CalibrateError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if cpus.len() < 2 {
        return Ok(Vec::new());
    }
    // The spinner's gaps over one stretch of `work`, ns.
    let gaps = |cpu: usize,
                work: &mut dyn FnMut() -> Result<u64, CalibrateError>|
     -> Result<(u64, u64), CalibrateError> {
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let _pinned = crate::sys::Pinned::to(cpu).ok();
                let (mut total, mut last) = (0u64, mono_ns());
                while !stop.load(Ordering::Relaxed) {
                    let now = mono_ns();
                    if now - last > 500 {
                        total += now - last;
                    }
                    last = now;
                }
                total
            })
        };
        let done = work();
        stop.store(true, Ordering::Relaxed);
        let total = spinner.join().unwrap_or(0);
        Ok((total, done?))
    };
    let mut out = Vec::with_capacity(cpus.len());
    for (i, &cpu) in cpus.iter().enumerate() {
        let reaper_cpu = cpus[(i + 1) % cpus.len()];
        let _pinned = crate::sys::Pinned::to(reaper_cpu).map_err(io_err("sched_setaffinity"))?;
        let (idle, _) = gaps(cpu, &mut || {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(0)
        })?;
        let (busy, ios) = gaps(cpu, &mut || {
            device_point(target, (Rw::RandRead, bs, 1), ms, Reaper::Sleep, rng).map(|p| p.ios)
        })?;
        out.push(busy.saturating_sub(idle) as f64 / ios.max(1) as f64);
    }
    Ok(out)
}
