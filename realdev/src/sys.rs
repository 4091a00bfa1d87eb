//! Thin, EINTR-safe wrappers over the Linux primitives the loop uses:
//! eventfd, epoll, the two clocks, and the stop-signal flag (SIGINT,
//! SIGTERM, SIGHUP, SIGQUIT).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// Nanoseconds of CLOCK_MONOTONIC (served by the vDSO: no system call).
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time consumed by the calling thread, in ns (CLOCK_THREAD_CPUTIME_ID).
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The CPU the calling thread runs on (`None` where the kernel cannot
/// say).
pub fn current_cpu() -> Option<usize> {
    // SAFETY: no arguments; returns -1 on failure.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

/// The CPUs the calling thread may run on, in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid out-pointer of the size given.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let n = libc::CPU_SETSIZE as usize;
    // SAFETY: i < CPU_SETSIZE, the set's capacity.
    Ok((0..n)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect())
}

/// The calling thread pinned to one CPU until this is dropped, when it
/// may run on the CPUs it could before again.
pub struct Pinned {
    before: libc::cpu_set_t,
}

impl Pinned {
    /// Pins the calling thread to `cpu`.
    pub fn to(cpu: usize) -> io::Result<Pinned> {
        // SAFETY: zeroed sets are valid; the calls read and fill them
        // within the size given.
        unsafe {
            let mut before: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of_val(&before), &mut before) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            if libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Pinned { before })
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: `before` is the set read when pinning. A failure leaves
        // the thread pinned, which only the probe's own thread sees.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&self.before), &self.before) };
    }
}

/// A CPU cell's value (`EventLoop::record_send_cpu`) before any send, or
/// when the CPU is unknown.
pub const NO_CPU: u64 = u64::MAX;

/// The low bits of CLOCK_MONOTONIC a ring stamp keeps (the CPU takes the
/// other 8): 2^56 ns, about 2.3 years.
const STAMP_TIME_MASK: u64 = (1 << 56) - 1;

/// The full time of a ring stamp's low bits `low`, taken at `now` (no more
/// than 2^56 ns after the ring).
fn stamp_time(low: u64, now: u64) -> u64 {
    let at = (now & !STAMP_TIME_MASK) | low;
    if at > now && at > STAMP_TIME_MASK {
        at - (STAMP_TIME_MASK + 1)
    } else {
        at
    }
}

/// [`EventFd::ring_stamped`]'s CPU when it is unknown (or past 254).
const RING_CPU_UNKNOWN: u64 = 0xff;

/// A non-blocking eventfd: the loop's doorbell and the AIO completion
/// signal.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
    /// Whether [`EventFd::ring_stamped`] records when it rang.
    stamps: AtomicBool,
    /// The first stamped ring since the last [`EventFd::take_rung`]: its
    /// CLOCK_MONOTONIC time shifted left by 8, the ringing thread's CPU
    /// (255: unknown or beyond) in the low 8 bits; 0: none.
    rung_at: AtomicU64,
}

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            stamps: AtomicBool::new(false),
            rung_at: AtomicU64::new(0),
        })
    }

    /// From now on [`EventFd::ring_stamped`] records when it first rang
    /// (one clock read per ring), for a loop that measures its wake-ups.
    pub fn record_rings(&self) {
        self.stamps.store(true, Ordering::Relaxed);
    }

    /// [`EventFd::signal`], first recording the time and the calling
    /// thread's CPU if asked to and if no ring since the last
    /// [`EventFd::take_rung`] has.
    pub fn ring_stamped(&self) {
        if self.stamps.load(Ordering::Relaxed) {
            let cpu = current_cpu().map_or(RING_CPU_UNKNOWN, |c| c.min(254) as u64);
            let stamp = ((mono_ns() & STAMP_TIME_MASK).max(1) << 8) | cpu;
            let _ = self
                .rung_at
                .compare_exchange(0, stamp, Ordering::Release, Ordering::Relaxed);
        }
        self.signal();
    }

    /// When it first rang since the last call, and on which CPU (`None`:
    /// unknown); `None` if it did not ring, or rings are not recorded.
    pub fn take_rung(&self) -> Option<(u64, Option<usize>)> {
        match self.rung_at.swap(0, Ordering::AcqRel) {
            0 => None,
            stamp => {
                let cpu = stamp & 0xff;
                Some((
                    stamp_time(stamp >> 8, mono_ns()),
                    (cpu != RING_CPU_UNKNOWN).then_some(cpu as usize),
                ))
            }
        }
    }

    /// Adds 1 to the counter, waking a waiter. EAGAIN (counter saturated)
    /// means it is already readable, which is all a wake-up needs.
    pub fn signal(&self) {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live u64.
            let rc = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
            if rc == 8 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }

    /// Resets the counter; returns its value (0 if it was not signalled).
    pub fn drain(&self) -> u64 {
        let mut value: u64 = 0;
        loop {
            // SAFETY: reads 8 bytes into a live u64.
            let rc = unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
            if rc == 8 {
                return value;
            }
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return 0;
            }
        }
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An epoll instance whose registrations carry a small token.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `fd` for readability, reporting `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: ev is a valid epoll_event.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: forever) and returns the ready tokens.
    /// An EINTR (Ctrl-C) returns no tokens so the caller re-checks its stop
    /// flag.
    pub fn wait(&self, timeout_ms: i32, tokens: &mut Vec<u64>) -> io::Result<()> {
        tokens.clear();
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: evs has room for 8 events.
        let rc = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                evs.as_mut_ptr(),
                evs.len() as i32,
                timeout_ms,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                return Ok(());
            }
            return Err(err);
        }
        tokens.extend(evs[..rc as usize].iter().map(|e| e.u64));
        Ok(())
    }
}

/// The signals that stop a run through its clean exit path.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The first stop signal that arrived while a guard was installed, 0 for
/// none. Written only by the handler (an atomic store: async-signal-safe).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Guards alive: a command may hold one around several runs, each of which
/// holds its own; the flag belongs to the outermost.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Whether a stop signal (SIGINT, SIGTERM, SIGHUP or SIGQUIT) arrived while
/// a [`SigintGuard`] was installed (for long steps such as filling a scratch
/// file, which then stop early).
pub fn sigint_received() -> bool {
    STOP_SIGNAL.load(Ordering::SeqCst) != 0
}

/// The stop signal that arrived while a guard was installed, if any.
pub fn stop_signal() -> Option<libc::c_int> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// How a stop signal is named to the user: "Ctrl-C (SIGINT)", "SIGTERM", ...
pub fn signal_name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGINT => "Ctrl-C (SIGINT)".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        libc::SIGHUP => "SIGHUP".to_string(),
        libc::SIGQUIT => "SIGQUIT".to_string(),
        s => format!("signal {s}"),
    }
}

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only atomics here: nothing else is async-signal-safe. The first
    // signal is the one reported.
    let _ = STOP_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Routes SIGINT, SIGTERM, SIGHUP and SIGQUIT to a flag while alive, so any
/// of them stops the run through its normal exit path (AIO contexts
/// destroyed, scratch file removed) instead of killing the process. The
/// previous handlers are restored on drop. Guards nest: a signal seen under
/// an inner guard stays visible to the outer one until the outermost is
/// dropped. (SIGKILL cannot be caught; `crate::scratch` cleans up after it.)
pub struct SigintGuard {
    old: [(libc::c_int, libc::sigaction); 4],
}

impl SigintGuard {
    pub fn install() -> io::Result<SigintGuard> {
        if GUARDS.fetch_add(1, Ordering::SeqCst) == 0 {
            STOP_SIGNAL.store(0, Ordering::SeqCst);
        }
        // SAFETY: sigaction structs are plain data, zero is a valid start;
        // the handler only touches an atomic (async-signal-safe).
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_stop_signal as *const () as usize;
            libc::sigemptyset(&mut new.sa_mask);
            new.sa_flags = libc::SA_RESTART;
            let mut old = [(0, std::mem::zeroed::<libc::sigaction>()); 4];
            for (i, &sig) in STOP_SIGNALS.iter().enumerate() {
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut prev) != 0 {
                    let err = io::Error::last_os_error();
                    for &(s, ref o) in &old[..i] {
                        libc::sigaction(s, o, std::ptr::null_mut());
                    }
                    GUARDS.fetch_sub(1, Ordering::SeqCst);
                    return Err(err);
                }
                old[i] = (sig, prev);
            }
            Ok(SigintGuard { old })
        }
    }

    /// Whether a stop signal arrived (see [`stop_signal`] for which).
    pub fn interrupted(&self) -> bool {
        sigint_received()
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the handlers saved at install.
        unsafe {
            for (sig, old) in &self.old {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
        if GUARDS.fetch_sub(1, Ordering::SeqCst) == 1 {
            STOP_SIGNAL.store(0, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_stamp_keeps_its_time_across_the_wrap_of_its_low_bits() {
        let span = STAMP_TIME_MASK + 1;
        // Before any wrap the low bits are the time.
        assert_eq!(stamp_time(1234, 5000), 1234);
        // The clock past a wrap: a ring just before it, read just after.
        let now = 3 * span + 10;
        assert_eq!(stamp_time(span - 5, now), 3 * span - 5);
        // A ring after the wrap, read later.
        assert_eq!(stamp_time(7, now), 3 * span + 7);
    }

    #[test]
    fn a_stamped_ring_is_taken_once_with_its_time_and_cpu() {
        let efd = EventFd::new().unwrap();
        // Not recording: a ring leaves no stamp.
        efd.ring_stamped();
        assert_eq!(efd.take_rung(), None);
        efd.drain();
        efd.record_rings();
        let before = mono_ns();
        efd.ring_stamped();
        let after = mono_ns();
        // A second ring keeps the first one's stamp.
        efd.ring_stamped();
        let (at, cpu) = efd.take_rung().expect("a recorded ring");
        assert!(
            (before..=after).contains(&at),
            "{before} <= {at} <= {after}"
        );
        assert!(cpu.is_some(), "sched_getcpu() answers on Linux");
        assert_eq!(efd.take_rung(), None, "taken once");
    }
}
