//! No lost wake-up: the submission queue's notify protocol, model-checked.
//!
//! Two producers each push one request while the real loop ([`drive`] over
//! core's `IoThread`, the code that runs against a disk) goes from polling
//! to blocking on an eventfd model. A lost wake-up leaves the loop asleep on
//! the model with nobody left to ring it; loom reports that as a deadlock, so
//! the
//! property "the loop never sleeps while work is queued and unannounced" is
//! checked in every explored interleaving, and the final assertion checks that
//! every request was processed exactly once.
//!
//! Under `--cfg loom_broken_notify` the queue's fences are gone, and the test
//! that runs instead asserts that loom finds the lost wake-up.
#![cfg(loom)]

mod common;

use pollwise_core::{HandlerId, IoThread, Params, PolicyKind, TracePoint};
use pollwise_realdev::eventloop::{drive, LoopHost, HANDLERS, SUBMIT_HANDLER};
use pollwise_realdev::handoff::{Doorbell, StopSignal, SubmitQueue};
use pollwise_realdev::sync::{thread, Arc, EventCounter};

/// A doorbell that does nothing: what a producer passes for every push of a
/// batch but the last, whose check of `notify_me` then covers the whole
/// batch (the load generator's batching, like a virtio driver's one kick per
/// batch).
struct Silent;

impl Doorbell for Silent {
    fn ring(&self) {}
}

/// The real loop's host with no device: a fake clock, the eventfd model as
/// the doorbell, and a busy phase that only collects the requests. The loop
/// stops once it has them all.
struct Host {
    clock: u64,
    bell: Arc<EventCounter>,
    stop: Arc<StopSignal>,
    got: Vec<u32>,
    total: usize,
}

impl LoopHost for Host {
    type Request = u32;

    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn completions_ready(&mut self) -> bool {
        false
    }

    /// Time passes between poll passes, so a poll window ends after a few
    /// passes; no yield, so loom explores no more than the real loop does.
    fn spin(&mut self) {
        self.clock += 1_000;
    }

    fn reset_doorbells(&mut self) {
        self.bell.try_take();
    }

    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        self.bell.wait();
        handlers.push(SUBMIT_HANDLER);
        Ok(())
    }

    fn process(&mut self, requests: &mut Vec<u32>, _lp: &IoThread) -> std::io::Result<()> {
        self.got.append(requests);
        if self.got.len() == self.total {
            self.stop.stop();
        }
        Ok(())
    }

    fn shutdown(&mut self, cancelled: &mut Vec<u32>) -> std::io::Result<()> {
        assert!(cancelled.is_empty(), "requests queued after the last one");
        Ok(())
    }

    fn trace(&mut self, point: TracePoint) {
        assert!(point.window_ns <= point.poll_max_ns);
    }
}

/// One execution: one producer thread per entry of `batches`, pushing that
/// many requests, while the real loop (`drive`) runs QEMU's policy: its
/// window starts at 0 (block at once), grows after the first wake-up, and
/// then polls before it blocks, so both ways into a block are explored.
fn producers_and_a_blocking_loop(batches: &'static [u32]) {
    let q = Arc::new(SubmitQueue::new());
    let bell = Arc::new(EventCounter::new());
    let stop = Arc::new(StopSignal::new());
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
                q.push(id, ring)
                    .expect("the loop closes the queue only after the last request");
            }
        }));
    }

    let mut host = Host {
        clock: 0,
        bell,
        stop: Arc::clone(&stop),
        got: Vec::new(),
        total: total as usize,
    };
    let mut lp = IoThread::new(Params::defaults(PolicyKind::Qemu), HANDLERS, 0, u64::MAX);
    drive(&mut lp, &mut host, &q, &stop, None).unwrap();
    for p in producers {
        p.join().unwrap();
    }
    let mut got = host.got;
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
