//! No lost wake-up: the submission queue's notify protocol, model-checked.
//!
//! Two producers each push one request while the loop goes from polling to
//! blocking on an eventfd model. A lost wake-up leaves the loop asleep on the
//! model with nobody left to ring it; loom reports that as a deadlock, so the
//! property "the loop never sleeps while work is queued and unannounced" is
//! checked in every explored interleaving, and the final assertion checks that
//! every request was processed exactly once.
//!
//! Under `--cfg loom_broken_notify` the queue's fences are gone, and the test
//! that runs instead asserts that loom finds the lost wake-up.
#![cfg(loom)]

mod common;

use pollwise_realdev::handoff::{Doorbell, SubmitQueue};
use pollwise_realdev::sync::{thread, Arc, EventCounter};

/// A doorbell that does nothing: what a producer passes for every push of a
/// batch but the last, whose check of `notify_me` then covers the whole
/// batch (the load generator's batching, like a virtio driver's one kick per
/// batch).
struct Silent;

impl Doorbell for Silent {
    fn ring(&self) {}
}

/// One execution: one producer thread per entry of `batches`, pushing that
/// many requests; the loop polls, blocks when it sees nothing, and drains
/// after every wake-up.
fn producers_and_a_blocking_loop(batches: &'static [u32]) {
    let q = Arc::new(SubmitQueue::new());
    let bell = Arc::new(EventCounter::new());
    let mut total = 0;
    let mut producers = Vec::new();
    for &size in batches {
        let first = total;
        total += size;
        let (q, bell) = (Arc::clone(&q), Arc::clone(&bell));
        producers.push(thread::spawn(move || {
            for id in first..first + size {
                let last = id + 1 == first + size;
                let ring: &dyn Doorbell = if last { &*bell } else { &Silent };
                q.push(id, ring).expect("queue is never closed here");
            }
        }));
    }

    let mut got = Vec::new();
    while got.len() < total as usize {
        // Poll handler.
        if q.has_work() {
            q.drain_into(&mut got);
            continue;
        }
        // Nothing seen while polling: block, unless work arrived meanwhile.
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
    assert_eq!(
        got,
        (0..total).collect::<Vec<_>>(),
        "every request processed exactly once"
    );
}

#[cfg(not(loom_broken_notify))]
#[test]
fn no_lost_wakeup() {
    let n = common::explore("no_lost_wakeup", || producers_and_a_blocking_loop(&[1, 1]));
    assert!(n > 1, "loom explored only {n} execution(s)");
}

/// Only the last push of a batch may ring; the items before it must not be
/// stranded.
#[cfg(not(loom_broken_notify))]
#[test]
fn no_lost_wakeup_batched() {
    let n = common::explore("no_lost_wakeup_batched", || {
        producers_and_a_blocking_loop(&[2, 1])
    });
    assert!(n > 1, "loom explored only {n} execution(s)");
}

/// The check can fail: without the fences, some interleaving has the
/// producer skip the ring while the loop goes to sleep on an empty-looking
/// queue, and loom must find it.
#[cfg(loom_broken_notify)]
#[test]
fn broken_notify_loses_a_wakeup() {
    // The panic is the expected result: keep its backtrace out of the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let executions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let found = std::panic::catch_unwind(|| {
        common::explore_counting(counter, || producers_and_a_blocking_loop(&[1, 1]))
    });
    std::panic::set_hook(default_hook);
    let payload = found.expect_err("loom found no lost wake-up in the broken variant");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    let n = executions.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("loom found the lost wake-up in execution {n}: {message}");
    assert!(
        message.contains("deadlock"),
        "expected loom to report the loop asleep forever (a deadlock), got: {message:?}"
    );
}
