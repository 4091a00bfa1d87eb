//! Where the kernel puts a woken thread, and what the wake-up costs there.
//!
//! A wake-up across CPUs and one on the waker's own CPU are different
//! events on a VM: the first sends an inter-processor interrupt to a vCPU
//! that is usually halted, and the host must run that vCPU again (20-30 us
//! on a shared host); the second is a context switch once the waker blocks
//! (about 3 us). An unpinned probe mixes the two in whatever share the
//! scheduler chose during the probe, so calibration measures them apart
//! (pinned threads) and measures the share separately, in the pattern of
//! an IOThread at queue depth 1: two threads that wake each other in turn
//! and block right after, with a sleep as long as the device's latency in
//! between.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;

use pollwise_stats::{median, quantiles};

use super::host::ns;
use super::{io_err, CalibrateError};
use crate::sys::{allowed_cpus, current_cpu, mono_ns, thread_cpu_ns, Epoll, EventFd, Pinned};

/// The placement probes' results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// An eventfd wake-up with both threads pinned to one CPU, the waker
    /// blocking right after: p10, p50, p90, p99 in ns.
    pub same_cpu_eventfd_q: [f64; 4],
    /// The same for a channel.
    pub same_cpu_channel_q: [f64; 4],
    /// Share of wake-ups that ran on the waker's CPU, neither thread
    /// pinned, against how long the waker ran on after the wake-up before
    /// it blocked: (run-on ns, share) for each of [`RUN_ON_US`] (empty
    /// with one CPU, where there is no choice).
    pub pack_share: Vec<(u64, f64)>,
    /// The same share against how long the woken thread runs each time it
    /// is woken before it blocks, the waker blocking right after the
    /// wake-up: (run ns, share) for each of [`RUN_ON_US`] (empty with one
    /// CPU).
    pub wakee_pack_share: Vec<(u64, f64)>,
    /// The same share with the other CPU busy: the woken thread last ran
    /// on a CPU another thread keeps running on, the waker (pinned) runs
    /// on after the wake-up for each of [`RUN_ON_US`] and then blocks, so
    /// no CPU is idle when the kernel places the woken thread (empty with
    /// one CPU).
    pub busy_pack_share: Vec<(u64, f64)>,
    /// What one wake-up of a thread blocked on another CPU costs the
    /// waker on its thread CPU clock, the median: an eventfd write and a
    /// channel send, the two threads pinned apart and the sleeper's CPU
    /// idle for the device's latency first (empty with one CPU).
    pub across_send_ns: Option<[f64; 2]>,
}

/// How long the waker spins after a wake-up before it blocks, in the
/// share probe, us: from a loop that sleeps at once to one that polls a
/// window as long as a device's latency, and beyond (the simulator takes
/// a waker that keeps running, such as a loop processing, at the last
/// point).
pub const RUN_ON_US: [u64; 7] = [0, 4, 8, 16, 32, 64, 128];

/// Fresh pairs of threads per point of the share probe: the kernel tends
/// to keep a pair in one placement for good, so each point averages
/// several placements.
const SHARE_PAIRS: u32 = 4;

/// The quantiles a wake-up is reported by (as the other probes).
const Q: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

/// Two CPUs the calling thread may use, to pin a sleeper and its waker
/// apart; `None` with fewer.
pub(super) fn cross_cpus() -> Option<(usize, usize)> {
    let cpus = allowed_cpus().ok()?;
    (cpus.len() >= 2).then(|| (cpus[0], cpus[1]))
}

/// Runs the placement probes, `rounds` wake-ups each; the share is
/// measured with a sleep of `gap_ns` (the device's latency at queue depth
/// 1) between a wake-up and the answer.
pub(super) fn placement_probe(rounds: u32, gap_ns: u64) -> Result<Placement, CalibrateError> {
    let one = allowed_cpus().ok().and_then(|c| c.first().copied());
    let (eventfd, _) = eventfd_ping_pong(rounds, one, (0, 0, 0))?;
    let (channel, _) = channel_ping_pong(rounds, one);
    let mut pack_share = Vec::new();
    let cross = cross_cpus();
    let across_send_ns = match cross {
        Some(cpus) => Some([
            across_send_ns(rounds, cpus, gap_ns, true)?,
            across_send_ns(rounds, cpus, gap_ns, false)?,
        ]),
        None => None,
    };
    let mut wakee_pack_share = Vec::new();
    if cross.is_some() {
        // The share by the waker's run-on, then by the woken thread's own
        // run each time it is woken, the waker blocking at once.
        let share = |spins: (u64, u64)| -> Result<f64, CalibrateError> {
            let mut same = 0.0;
            for _ in 0..SHARE_PAIRS {
                let per_pair = (rounds / SHARE_PAIRS).max(25);
                same += eventfd_ping_pong(per_pair, None, (gap_ns, spins.0, spins.1))?.1;
            }
            Ok(same / f64::from(SHARE_PAIRS))
        };
        for us in RUN_ON_US {
            pack_share.push((us * 1_000, share((us * 1_000, 0))?));
            wakee_pack_share.push((us * 1_000, share((0, us * 1_000))?));
        }
    }
    let busy_pack_share = match cross {
        Some(cpus) => RUN_ON_US
            .iter()
            .map(|&us| Ok((us * 1_000, busy_share(rounds, cpus, us * 1_000)?)))
            .collect::<Result<Vec<_>, CalibrateError>>()?,
        None => Vec::new(),
    };
    Ok(Placement {
        same_cpu_eventfd_q: quantiles(&ns(&eventfd), Q),
        same_cpu_channel_q: quantiles(&ns(&channel), Q),
        pack_share,
        wakee_pack_share,
        busy_pack_share,
        across_send_ns,
    })
}

/// The share of `rounds` wake-ups that land on the waker's CPU when no
/// CPU is idle: a spinner holds the other CPU of `cpus` throughout, the
/// woken thread (unpinned) moves itself there before it blocks, as a job
/// that last ran beside the loop's CPU, and the waker (pinned to the
/// first) rings it and spins `run_on_ns` before it blocks for the answer.
fn busy_share(
    rounds: u32,
    (waker_cpu, other_cpu): (usize, usize),
    run_on_ns: u64,
) -> Result<f64, CalibrateError> {
    let (to_waker, waker_poll) = bell()?;
    let (to_wakee, wakee_poll) = bell()?;
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let _pinned = Pinned::to(other_cpu).ok();
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    let (tid_tx, tid_rx) = channel();
    let wakee = {
        let (answer, ring) = (to_waker.clone(), to_wakee.clone());
        std::thread::spawn(move || {
            // SAFETY: gettid takes no arguments.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let mut tokens = Vec::new();
            let mut same = 0u32;
            for _ in 0..rounds {
                // Last ran on the busy CPU, free to run on any.
                drop(Pinned::to(other_cpu));
                answer.signal();
                wait_rung(&ring, &wakee_poll, &mut tokens);
                same += u32::from(current_cpu() == Some(waker_cpu));
            }
            answer.signal();
            same
        })
    };
    let _pinned = Pinned::to(waker_cpu).ok();
    // The thread sends its id before anything else (an id that cannot be
    // read reads as asleep, and the probe goes on).
    let stat = format!("/proc/self/task/{}/stat", tid_rx.recv().unwrap_or(0));
    let mut tokens = Vec::new();
    for _ in 0..rounds {
        wait_rung(&to_waker, &waker_poll, &mut tokens);
        // Ring only a thread asleep: one still on its way to block would
        // take the ring without a wake-up.
        while !asleep(&stat) {
            std::hint::spin_loop();
        }
        to_wakee.signal();
        spin(run_on_ns);
    }
    wait_rung(&to_waker, &waker_poll, &mut tokens);
    let same = wakee.join().unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    let _ = spinner.join();
    Ok(f64::from(same) / f64::from(rounds.max(1)))
}

/// The waker's CPU-clock time for one wake-up of a thread blocked on the
/// other CPU of `cpus` (an eventfd write to a thread in `epoll_wait`, or
/// a channel send to one blocked receiving), the median over `rounds`;
/// the waker sleeps `gap_ns` before each, so that the sleeper's CPU has
/// gone idle as it does at queue depth 1.
fn across_send_ns(
    rounds: u32,
    (waker_cpu, sleeper_cpu): (usize, usize),
    gap_ns: u64,
    eventfd: bool,
) -> Result<f64, CalibrateError> {
    let (efd, epoll) = bell()?;
    let (to_sleeper, from_waker) = channel::<()>();
    let (answer, answered) = channel::<()>();
    let sleeper = {
        let efd = efd.clone();
        std::thread::spawn(move || {
            let _pinned = Pinned::to(sleeper_cpu).ok();
            let mut tokens = Vec::new();
            for _ in 0..rounds {
                if eventfd {
                    wait_rung(&efd, &epoll, &mut tokens);
                } else if from_waker.recv().is_err() {
                    return;
                }
                if answer.send(()).is_err() {
                    return;
                }
            }
        })
    };
    let _pinned = Pinned::to(waker_cpu).ok();
    let _slack = TimerSlack::fine();
    let mut cpu = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        std::thread::sleep(std::time::Duration::from_nanos(gap_ns.max(1_000)));
        let c0 = thread_cpu_ns();
        if eventfd {
            efd.signal();
        } else if to_sleeper.send(()).is_err() {
            break;
        }
        cpu.push(thread_cpu_ns() - c0);
        if answered.recv().is_err() {
            break;
        }
    }
    drop(to_sleeper);
    let _ = sleeper.join();
    Ok(median(&ns(&cpu)))
}

/// Two threads waking each other through eventfds, `rounds` times each
/// way, both pinned to `pin` if given. The answering thread sleeps `gap`
/// (ns) before it answers and spins `run_on` (ns) after. Returns the
/// latencies (from the write to the woken thread running) and the share
/// of the answers' wake-ups that ran on the answering thread's CPU (with
/// `run_on` 0, of all wake-ups).
fn eventfd_ping_pong(
    rounds: u32,
    pin: Option<usize>,
    (gap_ns, run_on_ns, wakee_run_ns): (u64, u64, u64),
) -> Result<(Vec<u64>, f64), CalibrateError> {
    let (a, a_poll) = bell()?;
    let (b, b_poll) = bell()?;
    let (ring_a, wait_b) = (a.clone(), b.clone());
    let mut tokens_b = Vec::new();
    let mut tokens_a = Vec::new();
    Ok(ping_pong(
        rounds,
        pin,
        (gap_ns, run_on_ns, wakee_run_ns),
        move || ring_a.signal(),
        move || wait_rung(&wait_b, &b_poll, &mut tokens_b),
        || wait_rung(&a, &a_poll, &mut tokens_a),
        || b.signal(),
    ))
}

/// [`eventfd_ping_pong`] through channels, without a sleep.
fn channel_ping_pong(rounds: u32, pin: Option<usize>) -> (Vec<u64>, f64) {
    let (to_a, from_b) = channel::<()>();
    let (to_b, from_a) = channel::<()>();
    ping_pong(
        rounds,
        pin,
        (0, 0, 0),
        move || {
            let _ = to_a.send(());
        },
        move || {
            let _ = from_a.recv();
        },
        || {
            let _ = from_b.recv();
        },
        || {
            let _ = to_b.send(());
        },
    )
}

/// Thread B rings A and waits; this thread (A) waits, records, sleeps
/// `gap_ns`, rings B, spins `run_on_ns`; `rounds` times; B spins
/// `wakee_run_ns` each time it is woken before it rings A. Both record the
/// latency of each wake-up they see and whether it ran on the waker's
/// CPU; the share returned is B's (A's waker blocks at once) unless both
/// spins are 0, when it is both threads'.
fn ping_pong(
    rounds: u32,
    pin: Option<usize>,
    (gap_ns, run_on_ns, wakee_run_ns): (u64, u64, u64),
    mut ring_a: impl FnMut() + Send + 'static,
    mut wait_b: impl FnMut() + Send + 'static,
    mut wait_a: impl FnMut(),
    mut ring_b: impl FnMut(),
) -> (Vec<u64>, f64) {
    // When and on which CPU the last ring was made (usize::MAX: unknown).
    let stamp = Arc::new(AtomicU64::new(0));
    let cpu = Arc::new(AtomicUsize::new(usize::MAX));
    let b = {
        let (stamp, cpu) = (stamp.clone(), cpu.clone());
        std::thread::spawn(move || {
            let _pinned = pin.and_then(|c| Pinned::to(c).ok());
            let mut seen = Vec::with_capacity(rounds as usize);
            for _ in 0..rounds {
                cpu.store(current_cpu().unwrap_or(usize::MAX), Ordering::SeqCst);
                stamp.store(mono_ns(), Ordering::SeqCst);
                ring_a();
                wait_b();
                seen.push(woken(&stamp, &cpu));
                spin(wakee_run_ns);
            }
            seen
        })
    };
    let _pinned = pin.and_then(|c| Pinned::to(c).ok());
    let _slack = (gap_ns > 0).then(TimerSlack::fine);
    let mut seen = Vec::with_capacity(2 * rounds as usize);
    for _ in 0..rounds {
        wait_a();
        seen.push(woken(&stamp, &cpu));
        if gap_ns > 0 {
            std::thread::sleep(std::time::Duration::from_nanos(gap_ns));
        }
        cpu.store(current_cpu().unwrap_or(usize::MAX), Ordering::SeqCst);
        stamp.store(mono_ns(), Ordering::SeqCst);
        ring_b();
        spin(run_on_ns);
    }
    let b_seen = b.join().unwrap_or_default();
    let counted = if run_on_ns == 0 && wakee_run_ns == 0 {
        seen.iter().chain(&b_seen).copied().collect::<Vec<_>>()
    } else {
        b_seen.clone()
    };
    let same = counted.iter().filter(|s| s.1).count();
    let share = same as f64 / counted.len().max(1) as f64;
    seen.extend(b_seen);
    (seen.into_iter().map(|s| s.0).collect(), share)
}

/// An eventfd and an epoll set holding it: a doorbell a thread sleeps on.
fn bell() -> Result<(Arc<EventFd>, Epoll), CalibrateError> {
    let efd = Arc::new(EventFd::new().map_err(io_err("eventfd"))?);
    let epoll = Epoll::new().map_err(io_err("epoll_create"))?;
    epoll.add(efd.as_raw_fd(), 0).map_err(io_err("epoll_ctl"))?;
    Ok((efd, epoll))
}

/// Sleeps in `epoll` until `efd` has been rung, and takes the ring.
fn wait_rung(efd: &EventFd, epoll: &Epoll, tokens: &mut Vec<u64>) {
    while efd.drain() == 0 {
        let _ = epoll.wait(-1, tokens);
    }
}

/// Spins `ns` on the monotonic clock.
fn spin(ns: u64) {
    let until = mono_ns() + ns;
    while mono_ns() < until {
        std::hint::spin_loop();
    }
}

/// Whether the thread whose `/proc/.../stat` is at `stat` sleeps (state
/// `S`); true if it cannot be read (the thread has gone).
fn asleep(stat: &str) -> bool {
    std::fs::read_to_string(stat).map_or(true, |s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
    })
}

/// The calling thread's timer slack at 1 ns until this is dropped, so that
/// a sleep of a few us is not stretched by the default 50 us.
pub(super) struct TimerSlack(libc::c_ulong);

impl TimerSlack {
    pub(super) fn fine() -> TimerSlack {
        // SAFETY: PR_GET/SET_TIMERSLACK take no pointers.
        let before = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) };
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        TimerSlack(libc::c_ulong::try_from(before).unwrap_or(50_000))
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, self.0) };
    }
}

/// A wake-up as the woken thread sees it: its latency from the ring
/// stamped, and whether it runs on the ringing thread's CPU.
fn woken(stamp: &AtomicU64, cpu: &AtomicUsize) -> (u64, bool) {
    let at = mono_ns();
    let same = current_cpu().is_some_and(|c| c == cpu.load(Ordering::SeqCst));
    (at.saturating_sub(stamp.load(Ordering::SeqCst)), same)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_pinned_to_one_cpu_always_wake_on_the_wakers_cpu() {
        let Some(cpu) = allowed_cpus().ok().and_then(|c| c.first().copied()) else {
            panic!("the kernel reports no CPU this thread may run on");
        };
        let (lat, share) = channel_ping_pong(200, Some(cpu));
        assert_eq!(lat.len(), 400);
        assert!((share - 1.0).abs() < 1e-9, "share {share}");
        let (lat, share) = eventfd_ping_pong(200, Some(cpu), (0, 0, 0)).unwrap();
        assert_eq!(lat.len(), 400);
        assert!((share - 1.0).abs() < 1e-9, "share {share}");
    }

    #[test]
    fn a_thread_blocked_reads_as_asleep_and_a_running_one_does_not() {
        // SAFETY: gettid takes no arguments.
        let me = unsafe { libc::gettid() };
        assert!(!asleep(&format!("/proc/self/task/{me}/stat")));
        let (tx, rx) = channel::<()>();
        let (tid_tx, tid_rx) = channel();
        let t = std::thread::spawn(move || {
            // SAFETY: as above.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let _ = rx.recv();
        });
        let stat = format!("/proc/self/task/{}/stat", tid_rx.recv().unwrap());
        let until = mono_ns() + 5_000_000_000;
        while !asleep(&stat) {
            assert!(mono_ns() < until, "the blocked thread never read as asleep");
            std::thread::yield_now();
        }
        tx.send(()).unwrap();
        t.join().unwrap();
        // A thread that has gone reads as asleep: the probe stops waiting.
        assert!(asleep("/proc/self/task/0/stat"));
    }

    #[test]
    fn a_pinned_thread_runs_on_its_cpu_and_is_freed_after() {
        let cpus = allowed_cpus().unwrap();
        let last = *cpus.last().unwrap();
        {
            let _p = Pinned::to(last).unwrap();
            assert_eq!(current_cpu(), Some(last));
            assert_eq!(allowed_cpus().unwrap(), vec![last]);
        }
        assert_eq!(allowed_cpus().unwrap(), cpus);
        assert_eq!(cross_cpus().is_some(), cpus.len() >= 2);
    }
}
