//! The loop-cost probes, each measuring one thing: eventfd and channel
//! wake-ups (also after each idle time of [`WAKE_IDLE_US`]), kicks, and the
//! per-request software paths. The per-iteration path is timed in
//! [`super::iteration`].

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;

use pollwise_stats::{median, quantiles};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::host::{cpu_clock_cost, cpus, ns};
use super::iteration::iteration_probe;
use super::placement::{cross_cpus, Placement};
use super::{io_err, CalibrateError};
use crate::aio::{AioContext, Iocb, Opcode};
use crate::buffer::BufferPool;
use crate::handoff::{Doorbell, SubmitQueue};
use crate::loadgen::{new_histogram, Completion, Request, Status};
use crate::sys::{mono_ns, thread_cpu_ns, Epoll, EventFd};

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
    /// One eventfd write that wakes nobody (the fd in an epoll set nobody
    /// waits in: a job's further kicks while the loop it woke is still on
    /// its way), the median of the writes' mean per batch.
    pub kick_again_ns: f64,
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
    /// of [`WAKE_IDLE_US`], the waker spinning on another CPU (each thread
    /// pinned to its CPU where there are two: a wake-up across CPUs).
    pub wake_by_idle: Vec<WakeRow>,
    /// Wake-ups on the waker's own CPU, and where the kernel puts a woken
    /// thread (see [`super::placement`]).
    pub placement: Placement,
}

/// How long the probe of [`LoopCosts::wake_by_idle`] leaves the sleeper
/// asleep before waking it, in us: from the short gaps of a loop at queue
/// depth 8 to the long ones of a light load. On a VM the latency grows
/// with it: the guest's idle loop halts the vCPU, and the host polls a
/// halted vCPU for a while (KVM's `halt_poll_ns`, 200 us by default)
/// before it deschedules it.
pub const WAKE_IDLE_US: [u64; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 400, 1000, 3000];

/// The wake-ups after one idle time: p10, p50, p90, p99, ns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WakeRow {
    pub idle_ns: u64,
    /// A thread in epoll_wait woken by an eventfd write.
    pub eventfd_q: [f64; 4],
    /// A thread blocked on a channel woken by a send.
    pub channel_q: [f64; 4],
}

/// The quantiles a wake-up's latency is reported by: p10, p50, p90, p99.
const WAKE_QUANTILES: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

/// Runs every loop-cost probe `rounds` times; `device_ns` is the device's
/// latency at queue depth 1 (the placement probe sleeps that long).
pub fn loop_costs(rounds: u32, device_ns: u64) -> Result<LoopCosts, CalibrateError> {
    let mut c = LoopCosts::default();
    eventfd_probe(rounds, &mut c)?;
    channel_probe(rounds, &mut c);
    software_probe(rounds.max(10_000), &mut c);
    c.wake_by_idle = wake_by_idle_probe((rounds / 5).clamp(20, 1_000))?;
    c.placement = super::placement::placement_probe((rounds / 5).clamp(20, 1_000), device_ns)?;
    Ok(c)
}

/// The eventfd and channel wake-ups after each idle time of
/// [`WAKE_IDLE_US`], `rounds` of each.
fn wake_by_idle_probe(rounds: u32) -> Result<Vec<WakeRow>, CalibrateError> {
    let spin = cpus() >= 2;
    let pins = cross_cpus();
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
            pins,
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
            pins,
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
/// calls `wake`. With `pins` (sleeper's CPU, waker's CPU) each thread runs
/// only on its own, so every wake-up crosses CPUs. Returns each latency
/// from the wake call to the sleeper running, ns.
fn wake_after_idle(
    rounds: u32,
    gap_ns: u64,
    spin: bool,
    pins: Option<(usize, usize)>,
    mut wake: impl FnMut() + Send + 'static,
    mut sleep: impl FnMut(),
) -> Vec<u64> {
    // A failed pin leaves the thread free: the probe then measures
    // wherever the kernel puts it, as without pins.
    let _pinned = pins.and_then(|(cpu, _)| crate::sys::Pinned::to(cpu).ok());
    // When the sleeper armed (0: not armed).
    let armed = Arc::new(AtomicU64::new(0));
    let stamp = Arc::new(AtomicU64::new(0));
    let waker = {
        let (armed, stamp) = (armed.clone(), stamp.clone());
        std::thread::spawn(move || {
            let _pinned = pins.and_then(|(_, cpu)| crate::sys::Pinned::to(cpu).ok());
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
    c.kick_again_ns = idle_kick_ns(&efd, rounds);
    Ok(())
}

/// Writes to `efd` while nobody waits on it: the median over batches of
/// 16 writes of the mean per write, ns. Drains it after.
fn idle_kick_ns(efd: &EventFd, rounds: u32) -> f64 {
    const BATCH: u32 = 16;
    let mut per_write = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds.max(1) {
        let t0 = mono_ns();
        for _ in 0..BATCH {
            efd.signal();
        }
        per_write.push((mono_ns() - t0) as f64 / f64::from(BATCH));
        efd.drain();
    }
    median(&per_write)
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
    let job_total = job_path(n, &queue);
    let submit_total = loop_submit_path(rounds, &queue);
    let (complete_total, take_total) = completion_path(n);
    let poll_total = poll_path(n, &queue);
    let iteration_ns = iteration_probe(n);

    c.job_io_ns = job_total as f64 / n as f64;
    c.submit_ns = submit_total as f64 / n as f64;
    c.complete_ns = complete_total as f64 / n as f64;
    c.completion_take_ns = take_total as f64 / n as f64;
    c.poll_check_ns = poll_total as f64 / n as f64 / 2.0;
    c.iteration_ns = iteration_ns;
}

/// A job's own work for `n` requests (notifications off: no kick): offset,
/// push, bookkeeping, latency record. Leaves the requests in `queue`.
/// Returns the total, ns.
fn job_path(n: u64, queue: &SubmitQueue<Request>) -> u64 {
    let mut rng = Pcg64::seed_from_u64(1);
    let mut hist = new_histogram();
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
    mono_ns() - t0
}

/// The loop's per-request work: drain `queue` and build each iocb.
/// Returns the total, ns.
fn loop_submit_path(rounds: u32, queue: &SubmitQueue<Request>) -> u64 {
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
    submit_total
}

/// `n` completions sent to a job that is not blocked, then the job taking
/// them all at once. Returns both totals, ns.
fn completion_path(n: u64) -> (u64, u64) {
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
    (complete_total, take_total)
}

/// `n` poll passes, each a queue check and a ring check. Returns the
/// total, ns.
fn poll_path(n: u64, queue: &SubmitQueue<Request>) -> u64 {
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
    poll_total
}

#[cfg(test)]
mod tests {
    use super::*;

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
            None,
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
