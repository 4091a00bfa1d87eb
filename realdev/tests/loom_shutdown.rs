//! Shutdown: the controller stops the run while a producer is submitting
//! and requests are in flight at the device. In every explored interleaving
//! each request ends exactly one way (completed, cancelled by the loop, or
//! refused at submission and handed back to the producer), none is lost, and
//! every thread exits.
//!
//! The loop is the real one ([`drive`] over core's `IoThread`), with its two
//! poll handlers: the submission queue and the completion queue. The device
//! is a thread with its own queue and doorbell, so completions arrive while
//! the loop shuts down.
#![cfg(all(loom, not(loom_broken_notify)))]

mod common;

use pollwise_core::{HandlerId, IoThread, Params, PolicyKind};
use pollwise_realdev::eventloop::{drive, LoopHost, AIO_HANDLER, HANDLERS};
use pollwise_realdev::handoff::{Doorbell, StopSignal, SubmitQueue};
use pollwise_realdev::sync::{thread, Arc, EventCounter};

const REQUESTS: u32 = 2;

struct Shared {
    requests: SubmitQueue<u32>,
    /// The completion ring; its notifications stay on, so every completion
    /// rings the loop's doorbell, as the kernel signals the AIO eventfd.
    completions: SubmitQueue<u32>,
    loop_bell: EventCounter,
    device_in: SubmitQueue<u32>,
    device_bell: EventCounter,
    stop: StopSignal,
}

/// The real loop's host with a device thread in place of Linux AIO.
struct Host {
    s: Arc<Shared>,
    clock: u64,
    in_flight: usize,
    completed: Vec<u32>,
    cancelled: Vec<u32>,
}

impl Host {
    fn reap(&mut self) {
        self.in_flight -= self.s.completions.drain_into(&mut self.completed);
    }
}

impl LoopHost for Host {
    type Request = u32;

    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn completions_ready(&mut self) -> bool {
        self.s.completions.has_work()
    }

    fn spin(&mut self) {
        self.clock += 1_000;
    }

    fn reset_doorbells(&mut self) {
        self.s.loop_bell.try_take();
    }

    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        self.s.loop_bell.wait();
        handlers.push(AIO_HANDLER);
        Ok(())
    }

    fn process(&mut self, requests: &mut Vec<u32>, _lp: &IoThread) -> std::io::Result<()> {
        for r in requests.drain(..) {
            self.s
                .device_in
                .push(r, &self.s.device_bell)
                .expect("the device queue closes only after the last submission");
            self.in_flight += 1;
        }
        self.reap();
        Ok(())
    }

    fn in_flight(&self) -> u32 {
        self.in_flight as u32
    }

    /// Answers what was never submitted, lets the device finish what it has,
    /// and waits for it.
    fn shutdown(&mut self, cancelled: &mut Vec<u32>) -> std::io::Result<()> {
        self.cancelled.append(cancelled);
        self.s.device_in.close();
        self.s.device_bell.ring();
        loop {
            self.reap();
            if self.in_flight == 0 {
                return Ok(());
            }
            self.s.loop_bell.wait();
        }
    }
}

fn event_loop(s: Arc<Shared>) -> Host {
    s.completions.enable_notify();
    let mut host = Host {
        s: Arc::clone(&s),
        clock: 0,
        in_flight: 0,
        completed: Vec::new(),
        cancelled: Vec::new(),
    };
    let mut lp = IoThread::new(Params::defaults(PolicyKind::Qemu), HANDLERS, 0, u64::MAX);
    drive(&mut lp, &mut host, &s.requests, &s.stop, None).unwrap();
    host
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
        thread::spawn(move || event_loop(s))
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
