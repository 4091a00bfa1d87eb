//! How work, parameters and shutdown cross between the loop thread and the
//! threads around it.
//!
//! Three protocols, each checked by the loom tests in `tests/loom_*.rs`:
//!
//! - [`SubmitQueue`]: producers hand requests to the loop and ring its
//!   doorbell only when it may be asleep; the loop, when it decides to block,
//!   first enables notifications and then re-checks the queue. This is QEMU's
//!   `notify_me` / `aio_notify()` pair (`util/async.c`, `util/aio-posix.c`).
//! - [`ParamCell`]: a control thread publishes new policy parameters; the
//!   loop picks up a whole, consistent parameter set between iterations.
//! - [`StopSignal`]: one flag every thread reads to learn that the run is
//!   over.

use std::collections::VecDeque;

use pollwise_core::Params;

pub use crate::sync::Doorbell;
use crate::sync::{lock, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};

/// Multi-producer submission queue with QEMU-style notification suppression.
///
/// While the loop polls, producers only enqueue: the loop's poll handler
/// sees the work through [`SubmitQueue::has_work`] without a syscall, and the
/// doorbell write (a "kick", as costly as a guest's VM exit is in QEMU) is
/// skipped. Before it blocks, the loop calls [`SubmitQueue::enable_notify`];
/// from then on every push rings.
///
/// The items sit in a mutex-protected deque; an atomic count mirrors its
/// length so the poll handler and the pre-block re-check read it without the
/// lock. A new queue starts in polling mode (notifications disabled).
///
/// # Why the fences
///
/// Lost wake-ups are the failure to rule out: a producer enqueues, reads
/// "notifications off" and skips the ring, while the loop turns
/// notifications on, reads "queue empty" and sleeps. Each side does a store
/// then a load of the *other* variable (producer: store count, load
/// `notify_me`; loop: store `notify_me`, load count), Dekker's pattern. Under
/// acquire/release, and on real CPUs with store buffers, both loads may read
/// the old values. A `SeqCst` fence between the store and the load on both
/// sides forbids that: the two fences are totally ordered, and whichever runs
/// second is guaranteed to see the other side's store. So either the loop
/// sees the item and does not block, or the producer sees `notify_me` and
/// rings (QEMU's `smp_mb()` in `aio_notify()` and after `notify_me` is raised
/// in `aio_poll()`).
///
/// The fences are explicit rather than `SeqCst` on the accesses themselves
/// because the two are equally correct on hardware, but loom models `SeqCst`
/// accesses only as acquire/release (and would report this exact pattern as a
/// lost wake-up), while it models `SeqCst` fences fully.
///
/// Building with `--cfg loom_broken_notify` drops both fences. That variant is
/// wrong on purpose; the loom tests assert that loom finds its lost wake-up.
#[derive(Debug)]
pub struct SubmitQueue<T> {
    items: Mutex<VecDeque<T>>,
    /// The deque's length; written only while `items` is locked.
    len: AtomicUsize,
    /// Set only while `items` is locked, so a push either sees it or
    /// completes before the close.
    closed: AtomicBool,
    /// QEMU's `notify_me`: the loop may block, producers must ring.
    notify_me: AtomicBool,
}

impl<T: Send> Default for SubmitQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send> SubmitQueue<T> {
    pub fn new() -> Self {
        SubmitQueue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            notify_me: AtomicBool::new(false),
        }
    }

    /// Producer side: enqueues `item`, then rings `bell` only if the loop has
    /// notifications enabled (it may be blocked).
    ///
    /// Returns `Ok(true)` if it rang (a "kick": the caller counts them),
    /// `Ok(false)` if the loop was polling, and `Err(item)`, handing the item
    /// back untouched, if the queue was closed: the caller then reports that
    /// request as cancelled. An item that was accepted is in the queue until
    /// the loop drains it, even if the queue is closed afterwards.
    pub fn push(&self, item: T, bell: &dyn Doorbell) -> Result<bool, T> {
        {
            let mut items = lock(&self.items);
            if self.closed.load(Ordering::Relaxed) {
                return Err(item);
            }
            items.push_back(item);
            self.len.store(items.len(), Ordering::Release);
        }
        // Store of `len` above, load of `notify_me` below: see the type's doc.
        #[cfg(not(loom_broken_notify))]
        crate::sync::fence(Ordering::SeqCst);
        if self.notify_me.load(Ordering::Relaxed) {
            bell.ring();
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Loop side, poll handler: is there work? No lock, no syscall.
    pub fn has_work(&self) -> bool {
        self.len.load(Ordering::Acquire) > 0
    }

    /// Loop side: takes everything queued, appending it to `out` in the order
    /// it was pushed; returns how many items it took.
    pub fn drain_into(&self, out: &mut Vec<T>) -> usize {
        let mut items = lock(&self.items);
        let n = items.len();
        out.extend(items.drain(..));
        self.len.store(0, Ordering::Release);
        n
    }

    /// Loop side, before blocking: enables notifications, then re-checks.
    ///
    /// Returns true if it is safe to block: the queue was empty and open
    /// after `notify_me` became visible, so any later push rings the
    /// doorbell. False means work arrived (or the queue is closed): do not
    /// block. Notifications stay enabled either way until
    /// [`SubmitQueue::disable_notify`].
    pub fn enable_notify(&self) -> bool {
        self.notify_me.store(true, Ordering::Relaxed);
        // Store of `notify_me` above, load of `len` below: see the type's doc.
        #[cfg(not(loom_broken_notify))]
        crate::sync::fence(Ordering::SeqCst);
        !self.has_work() && !self.is_closed()
    }

    /// Loop side: back to polling mode, in which producers skip the doorbell.
    ///
    /// Needs no ordering: a producer that still sees the old `true` only
    /// rings once too often.
    pub fn disable_notify(&self) {
        self.notify_me.store(false, Ordering::Relaxed);
    }

    /// Refuses every later push (it returns the item as `Err`). Items already
    /// queued stay for the loop to drain. Does not ring: if the loop may be
    /// blocked, whoever closes rings its doorbell afterwards.
    pub fn close(&self) {
        let _items = lock(&self.items);
        self.closed.store(true, Ordering::Release);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether notifications are enabled (for the loop's statistics and for
    /// tests).
    pub fn notify_enabled(&self) -> bool {
        self.notify_me.load(Ordering::Relaxed)
    }
}

/// Live policy parameters: a control thread publishes, the loop picks up a
/// consistent snapshot between iterations (QEMU's `qom-set` on a running
/// IOThread).
///
/// The parameter set lives under a mutex, so a reader always gets one whole
/// published set, never a mix of two. A version counter beside it lets the
/// loop ask "anything new?" with one atomic load per iteration and take the
/// lock only when something was published.
#[derive(Debug)]
pub struct ParamCell {
    current: Mutex<(u64, Params)>,
    /// The version in `current`; written only while `current` is locked.
    version: AtomicU64,
}

impl ParamCell {
    /// A cell holding `initial` as version 0.
    pub fn new(initial: Params) -> Self {
        ParamCell {
            current: Mutex::new((0, initial)),
            version: AtomicU64::new(0),
        }
    }

    /// Publishes `params` (already validated by the caller) as the next
    /// version.
    pub fn publish(&self, params: Params) {
        let mut current = lock(&self.current);
        let version = current.0 + 1;
        *current = (version, params);
        self.version.store(version, Ordering::Release);
    }

    /// Loop side: `Some(params)` if a version newer than `*seen` was
    /// published since, in which case `*seen` becomes that version; `None`
    /// otherwise. Versions the loop did not look at in time are skipped: it
    /// always gets the newest.
    pub fn take_newer(&self, seen: &mut u64) -> Option<Params> {
        if self.version.load(Ordering::Acquire) == *seen {
            return None;
        }
        let current = lock(&self.current);
        if current.0 == *seen {
            return None;
        }
        *seen = current.0;
        Some(current.1.clone())
    }

    /// The newest version published (0 before any publish).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// Stop flag shared by the loop, the producers and the controller.
///
/// Setting it does not wake a blocked loop: whoever stops rings the loop's
/// doorbell afterwards, and the loop checks the flag after every wake-up.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: AtomicBool,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::{thread, Arc, EventCounter};
    use pollwise_core::{Param, PolicyKind};

    #[test]
    fn push_rings_only_when_notifications_are_enabled() {
        let q = SubmitQueue::new();
        let bell = EventCounter::new();
        assert_eq!(q.push(1, &bell), Ok(false), "new queue is in polling mode");
        assert_eq!(bell.rings(), 0);

        q.drain_into(&mut Vec::new());
        assert!(q.enable_notify(), "empty open queue: safe to block");
        assert_eq!(q.push(2, &bell), Ok(true));
        assert_eq!(q.push(3, &bell), Ok(true));
        assert_eq!(bell.rings(), 2);

        q.disable_notify();
        assert_eq!(q.push(4, &bell), Ok(false));
        assert_eq!(bell.rings(), 2);
    }

    #[test]
    fn drain_takes_everything_in_push_order() {
        let q = SubmitQueue::new();
        let bell = EventCounter::new();
        assert!(!q.has_work());
        for i in 0..5 {
            q.push(i, &bell).unwrap();
        }
        assert!(q.has_work());
        let mut out = vec![99];
        assert_eq!(q.drain_into(&mut out), 5);
        assert_eq!(out, [99, 0, 1, 2, 3, 4]);
        assert!(!q.has_work());
        assert_eq!(q.drain_into(&mut out), 0);
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn enable_notify_refuses_to_block_with_work_queued() {
        let q = SubmitQueue::new();
        let bell = EventCounter::new();
        q.push("a", &bell).unwrap();
        assert!(!q.enable_notify());
        assert!(q.notify_enabled(), "stays enabled until disable_notify");
        q.drain_into(&mut Vec::new());
        assert!(q.enable_notify());
    }

    #[test]
    fn a_closed_queue_returns_the_item_and_keeps_what_it_had() {
        let q = SubmitQueue::new();
        let bell = EventCounter::new();
        q.push(String::from("kept"), &bell).unwrap();
        q.close();
        assert!(q.is_closed());
        assert_eq!(
            q.push(String::from("refused"), &bell),
            Err("refused".into())
        );
        assert!(!q.enable_notify(), "never block on a closed queue");
        let mut out = Vec::new();
        q.drain_into(&mut out);
        assert_eq!(out, ["kept"]);
        assert_eq!(bell.rings(), 0);
    }

    /// The whole handshake with real threads: every item arrives although the
    /// loop blocks whenever it sees nothing to do.
    #[test]
    fn loop_that_blocks_receives_every_item() {
        const PRODUCERS: u32 = 3;
        const EACH: u32 = 200;
        let q = Arc::new(SubmitQueue::new());
        let bell = Arc::new(EventCounter::new());
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (q, bell) = (Arc::clone(&q), Arc::clone(&bell));
                thread::spawn(move || {
                    for i in 0..EACH {
                        q.push(p * EACH + i, &*bell).unwrap();
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < (PRODUCERS * EACH) as usize {
            if q.has_work() {
                q.drain_into(&mut got);
                continue;
            }
            if q.enable_notify() {
                bell.wait();
            }
            q.disable_notify();
            q.drain_into(&mut got);
        }
        for p in producers {
            p.join().unwrap();
        }
        got.sort_unstable();
        let expected: Vec<u32> = (0..PRODUCERS * EACH).collect();
        assert_eq!(got, expected);
    }

    fn qemu_params(max: u64) -> Params {
        let mut p = Params::defaults(PolicyKind::Qemu);
        p.set(Param::PollMaxNs, max).unwrap();
        p
    }

    #[test]
    fn take_newer_reports_each_new_version_once() {
        let cell = ParamCell::new(qemu_params(1000));
        let mut seen = 0;
        assert_eq!(cell.take_newer(&mut seen), None);

        cell.publish(qemu_params(2000));
        let got = cell.take_newer(&mut seen).unwrap();
        assert_eq!(got.poll_max_ns(), 2000);
        assert_eq!(seen, 1);
        assert_eq!(cell.take_newer(&mut seen), None);

        cell.publish(qemu_params(3000));
        cell.publish(qemu_params(4000));
        assert_eq!(cell.version(), 3);
        let got = cell.take_newer(&mut seen).unwrap();
        assert_eq!(got.poll_max_ns(), 4000, "skips to the newest");
        assert_eq!(seen, 3);
    }

    #[test]
    fn stop_signal_is_sticky() {
        let s = StopSignal::new();
        assert!(!s.is_stopped());
        s.stop();
        s.stop();
        assert!(s.is_stopped());
    }
}
