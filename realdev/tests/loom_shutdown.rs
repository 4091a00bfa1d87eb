//! Shutdown: the controller stops the run while a producer is submitting
//! and requests are in flight at the device. In every explored interleaving
//! each request ends exactly one way (completed, cancelled by the loop, or
//! refused at submission and handed back to the producer), none is lost, and
//! every thread exits.
//!
//! The loop has two poll handlers, as the real one does: the submission
//! queue and the completion queue. The device is a thread with its own
//! queue and doorbell, so completions arrive while the loop shuts down.
#![cfg(all(loom, not(loom_broken_notify)))]

mod common;

use pollwise_realdev::handoff::{Doorbell, StopSignal, SubmitQueue};
use pollwise_realdev::sync::{thread, Arc, EventCounter};

const REQUESTS: u32 = 2;

struct Shared {
    requests: SubmitQueue<u32>,
    completions: SubmitQueue<u32>,
    loop_bell: EventCounter,
    device_in: SubmitQueue<u32>,
    device_bell: EventCounter,
    stop: StopSignal,
}

/// What the loop did with the requests it accepted.
#[derive(Default)]
struct LoopReport {
    completed: Vec<u32>,
    cancelled: Vec<u32>,
}

fn event_loop(s: &Shared) -> LoopReport {
    let mut report = LoopReport::default();
    let mut batch = Vec::new();
    let mut in_flight = 0usize;
    loop {
        let mut progressed = false;
        if s.stop.is_stopped() && !s.requests.is_closed() {
            // Refuse new submissions, cancel what is queued, and let the
            // device finish what it has.
            s.requests.close();
            s.requests.drain_into(&mut report.cancelled);
            s.device_in.close();
            s.device_bell.ring();
            progressed = true;
        }
        if !s.requests.is_closed() && s.requests.has_work() {
            s.requests.drain_into(&mut batch);
            for r in batch.drain(..) {
                s.device_in
                    .push(r, &s.device_bell)
                    .expect("the device queue closes only after the last submission");
                in_flight += 1;
            }
            progressed = true;
        }
        if s.completions.has_work() {
            in_flight -= s.completions.drain_into(&mut report.completed);
            progressed = true;
        }
        if s.requests.is_closed() && in_flight == 0 {
            return report;
        }
        if progressed {
            continue;
        }
        // Block: arm every handler that can still bring work, re-check.
        let mut safe = s.completions.enable_notify();
        if !s.requests.is_closed() {
            safe &= s.requests.enable_notify();
        }
        // No stop check needed here: the controller rings after stopping,
        // and a ring before the wait is not lost.
        if safe {
            s.loop_bell.wait();
        }
        s.requests.disable_notify();
        s.completions.disable_notify();
    }
}

/// Completes every request it is given, in order, until its queue closes.
fn device(s: &Shared) {
    let mut batch = Vec::new();
    loop {
        let closed = s.device_in.is_closed();
        s.device_in.drain_into(&mut batch);
        let progressed = !batch.is_empty();
        for r in batch.drain(..) {
            s.completions
                .push(r, &s.loop_bell)
                .expect("the completion queue is never closed");
        }
        // Everything pushed before the close was in that drain.
        if closed {
            return;
        }
        if progressed {
            continue;
        }
        if s.device_in.enable_notify() {
            s.device_bell.wait();
        }
        s.device_in.disable_notify();
    }
}

fn stop_while_busy() {
    let s = Arc::new(Shared {
        requests: SubmitQueue::new(),
        completions: SubmitQueue::new(),
        loop_bell: EventCounter::new(),
        device_in: SubmitQueue::new(),
        device_bell: EventCounter::new(),
        stop: StopSignal::new(),
    });
    let lp = {
        let s = Arc::clone(&s);
        thread::spawn(move || event_loop(&s))
    };
    let dev = {
        let s = Arc::clone(&s);
        thread::spawn(move || device(&s))
    };
    let producer = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            let mut refused = Vec::new();
            for r in 0..REQUESTS {
                if let Err(r) = s.requests.push(r, &s.loop_bell) {
                    refused.push(r);
                }
            }
            refused
        })
    };

    // The controller: stop, then wake the loop in case it sleeps.
    s.stop.stop();
    s.loop_bell.ring();

    let refused = producer.join().unwrap();
    let report = lp.join().unwrap();
    dev.join().unwrap();

    let mut all: Vec<u32> = report
        .completed
        .iter()
        .chain(&report.cancelled)
        .chain(&refused)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..REQUESTS).collect::<Vec<_>>(),
        "each request exactly once: completed {:?}, cancelled {:?}, refused {:?}",
        report.completed,
        report.cancelled,
        refused
    );
    assert!(!s.completions.has_work(), "a completion was left unreaped");
}

#[test]
fn shutdown_loses_nothing() {
    let n = common::explore("shutdown_loses_nothing", stop_while_busy);
    assert!(n > 1, "loom explored only {n} execution(s)");
}
