//! Thin, EINTR-safe wrappers over the Linux primitives the loop uses:
//! eventfd, epoll, the two clocks, and the SIGINT flag.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// A non-blocking eventfd: the loop's doorbell and the AIO completion
/// signal.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
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
        })
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

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Guards alive: a command may hold one around several runs, each of which
/// holds its own; the flag belongs to the outermost.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Whether a Ctrl-C arrived while a [`SigintGuard`] was installed (for long
/// steps such as filling a scratch file, which then stop early).
pub fn sigint_received() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT to a flag while alive, so a Ctrl-C stops the run through
/// its normal exit path (AIO contexts destroyed, scratch file removed)
/// instead of killing the process. The previous handler is restored on drop.
/// Guards nest: a Ctrl-C seen under an inner guard stays visible to the
/// outer one until the outermost is dropped.
pub struct SigintGuard {
    old: libc::sigaction,
}

impl SigintGuard {
    pub fn install() -> io::Result<SigintGuard> {
        if GUARDS.fetch_add(1, Ordering::SeqCst) == 0 {
            INTERRUPTED.store(false, Ordering::SeqCst);
        }
        // SAFETY: sigaction structs are plain data, zero is a valid start;
        // the handler only stores to an atomic (async-signal-safe).
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as *const () as usize;
            libc::sigemptyset(&mut new.sa_mask);
            new.sa_flags = libc::SA_RESTART;
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, &new, &mut old) != 0 {
                GUARDS.fetch_sub(1, Ordering::SeqCst);
                return Err(io::Error::last_os_error());
            }
            Ok(SigintGuard { old })
        }
    }

    pub fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the handler saved at install.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut());
        }
        if GUARDS.fetch_sub(1, Ordering::SeqCst) == 1 {
            INTERRUPTED.store(false, Ordering::SeqCst);
        }
    }
}
