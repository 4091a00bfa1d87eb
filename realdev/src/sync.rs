//! The synchronisation primitives the loop's handoff protocols are built
//! from.
//!
//! Under `--cfg loom` every name here is loom's model of the primitive, so the
//! loom tests explore the very code that runs against a disk, not a copy of
//! it; in a normal build they are std's. Code whose interleavings the loom
//! tests are meant to cover imports from here, never from `std::sync` or
//! `std::thread` directly. (The same shim pattern tokio uses.)
//!
//! [`Doorbell`] is what wakes a blocked loop (an eventfd in production);
//! [`EventCounter`] stands in for an eventfd: loom cannot model a file
//! descriptor, so the tests block on this instead, and a loop that waits on
//! it with nobody left to ring it is reported by loom as a deadlock. In a
//! normal build it doubles as an in-process doorbell for unit tests.

#[cfg(loom)]
pub use loom::{
    hint,
    sync::{
        atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};

#[cfg(not(loom))]
pub use std::{
    hint,
    sync::{
        atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};

use std::sync::PoisonError;

/// Something that wakes the loop when it is blocked (an eventfd in
/// production, [`EventCounter`] in tests). The handoff protocols ring it;
/// `handoff` re-exports it.
pub trait Doorbell: Send + Sync {
    fn ring(&self);
}

/// Locks `mutex`, ignoring poisoning: every critical section in this crate
/// leaves its data consistent at each step, so a panic elsewhere while the
/// lock was held does not make the data unusable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An eventfd model: [`Doorbell::ring`] adds one to a counter, [`wait`]
/// sleeps until the counter is non-zero and then resets it, like a blocking
/// `read()` of an eventfd. A ring that comes before the wait is not lost,
/// exactly as with an eventfd.
///
/// [`wait`]: EventCounter::wait
#[derive(Debug, Default)]
pub struct EventCounter {
    state: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Counts {
    pending: u64,
    rings: u64,
    sleeping: bool,
}

impl EventCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks until at least one ring is pending, consumes all pending rings
    /// and returns how many there were.
    pub fn wait(&self) -> u64 {
        let mut counts = lock(&self.state);
        while counts.pending == 0 {
            counts.sleeping = true;
            counts = self
                .changed
                .wait(counts)
                .unwrap_or_else(PoisonError::into_inner);
            counts.sleeping = false;
        }
        std::mem::take(&mut counts.pending)
    }

    /// Consumes pending rings without blocking (a non-blocking eventfd read).
    pub fn try_take(&self) -> u64 {
        std::mem::take(&mut lock(&self.state).pending)
    }

    /// Every ring since creation, consumed or not.
    pub fn rings(&self) -> u64 {
        lock(&self.state).rings
    }

    /// Whether a waiter is asleep right now (for assertions in tests).
    pub fn is_sleeping(&self) -> bool {
        lock(&self.state).sleeping
    }
}

impl Doorbell for EventCounter {
    fn ring(&self) {
        let mut counts = lock(&self.state);
        counts.pending += 1;
        counts.rings += 1;
        self.changed.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_ring_before_the_wait_is_not_lost() {
        let bell = EventCounter::new();
        bell.ring();
        bell.ring();
        assert_eq!(bell.wait(), 2);
        assert_eq!(bell.try_take(), 0);
        assert_eq!(bell.rings(), 2);
    }

    #[test]
    fn wait_returns_after_a_ring_from_another_thread() {
        let bell = Arc::new(EventCounter::new());
        let ringer = {
            let bell = Arc::clone(&bell);
            thread::spawn(move || {
                // Ring only once the waiter is asleep, so the wake-up path
                // (not the already-pending path) is what is tested.
                while !bell.is_sleeping() {
                    thread::yield_now();
                }
                bell.ring();
            })
        };
        assert_eq!(bell.wait(), 1);
        ringer.join().unwrap();
    }
}
