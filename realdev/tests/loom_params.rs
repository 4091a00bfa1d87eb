//! Live parameter change: a control thread publishes new `poll-max-ns`,
//! `poll-grow` and `poll-shrink` while the real loop ([`drive`]) runs its
//! policy, and in every explored interleaving the loop's window stays within
//! the `poll-max-ns` in force and the parameters in force are one whole
//! published set.
#![cfg(all(loom, not(loom_broken_notify)))]

mod common;

use pollwise_core::{
    HandlerId, IoThread, Param, ParamError, Params, Policy, PolicyKind, TracePoint,
};
use pollwise_realdev::eventloop::{drive, LoopHost, HANDLERS, SUBMIT_HANDLER};
use pollwise_realdev::handoff::{ParamCell, StopSignal, SubmitQueue};
use pollwise_realdev::sync::{thread, Arc};

/// The parameter sets by version: (poll-max-ns, poll-grow, poll-shrink).
/// `poll-max-ns` falls with each version, so a window grown under an older
/// bound must be brought down; every field differs between versions, so a
/// torn mix of two sets matches no row.
const SETS: [(u64, u64, u64); 3] = [(80_000, 2, 2), (30_000, 3, 3), (12_000, 4, 4)];

/// Loop iterations per execution: enough for the window to grow past the
/// last set's bound before the control thread's publishes can land.
const STEPS: usize = 4;

fn params(kind: PolicyKind, version: usize) -> Params {
    let (max, grow, shrink) = SETS[version];
    let mut p = Params::defaults(kind);
    p.set(Param::PollMaxNs, max).unwrap();
    p.set(Param::PollGrow, grow).unwrap();
    p.set(Param::PollShrink, shrink).unwrap();
    p
}

/// Which published set `p` is, if it is one whole set.
fn version_of(p: &Params) -> Option<usize> {
    let fields = (
        p.get(Param::PollMaxNs),
        p.get(Param::PollGrow),
        p.get(Param::PollShrink),
    );
    SETS.iter().position(|&set| set == fields)
}

/// A host whose doorbell rings 1 us after the loop blocks, so every
/// iteration ends with an event just after the window: every policy here
/// grows. It checks the loop at every step and stops it after `steps`.
struct Host {
    clock: u64,
    steps: usize,
    stop: Arc<StopSignal>,
    /// The version of the set in force, as the loop applied it.
    version: usize,
}

impl LoopHost for Host {
    type Request = ();

    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn completions_ready(&mut self) -> bool {
        false
    }

    fn spin(&mut self) {
        self.clock += 2_000;
    }

    fn reset_doorbells(&mut self) {}

    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        self.clock += 1_000;
        handlers.push(SUBMIT_HANDLER);
        Ok(())
    }

    fn process(&mut self, _requests: &mut Vec<()>, lp: &IoThread) -> std::io::Result<()> {
        let in_force = lp.policy().params();
        assert_eq!(
            version_of(in_force),
            Some(self.version),
            "torn or stale set"
        );
        let bound = SETS[self.version].0;
        let window = lp.trace_point(0).window_ns;
        assert!(
            window <= bound,
            "window {window} above poll-max-ns {bound} of version {}",
            self.version
        );
        self.steps -= 1;
        if self.steps == 0 {
            self.stop.stop();
        }
        Ok(())
    }

    fn shutdown(&mut self, _cancelled: &mut Vec<()>) -> std::io::Result<()> {
        Ok(())
    }

    fn trace(&mut self, point: TracePoint) {
        assert!(point.window_ns <= point.poll_max_ns);
    }

    fn params_changed(&mut self, result: Result<&Params, ParamError>) {
        let version = version_of(result.expect("every published set is valid"))
            .expect("the loop applied a torn set");
        // A new `drive` starts from the cell's current set again, so the
        // same version may be applied twice, but never an older one.
        assert!(version >= self.version, "versions only move forward");
        self.version = version;
    }
}

/// Runs the real loop for `steps` iterations with `cell` as its live
/// parameters, its clock going on from `clock` (the machine's time only
/// moves forward); returns the version in force and the clock at the end.
fn run_loop(
    lp: &mut IoThread,
    cell: &ParamCell,
    steps: usize,
    (version, clock): (usize, u64),
) -> (usize, u64) {
    let stop = Arc::new(StopSignal::new());
    let mut host = Host {
        clock,
        steps,
        stop: Arc::clone(&stop),
        version,
    };
    drive(lp, &mut host, &SubmitQueue::new(), &stop, Some(cell)).unwrap();
    (host.version, host.clock)
}

fn live_change(kind: PolicyKind) {
    let cell = Arc::new(ParamCell::new(params(kind, 0)));
    let control = {
        let cell = Arc::clone(&cell);
        thread::spawn(move || {
            cell.publish(params(kind, 1));
            cell.publish(params(kind, 2));
        })
    };
    let mut lp = IoThread::new(params(kind, 0), HANDLERS, 0, u64::MAX);
    let (version, clock) = run_loop(&mut lp, &cell, STEPS, (0, 0));
    control.join().unwrap();

    // Once the control thread is done, the newest set is what the loop gets
    // at its next iteration.
    let (version, _) = run_loop(&mut lp, &cell, 1, (version, clock));
    assert_eq!(version, 2);
    assert_eq!(version_of(lp.policy().params()), Some(2));
    assert!(lp.trace_point(0).window_ns <= SETS[2].0);
}

#[test]
fn live_change_qemu() {
    let n = common::explore("live_change_qemu", || live_change(PolicyKind::Qemu));
    assert!(n > 1, "loom explored only {n} execution(s)");
}

#[test]
fn live_change_weighted() {
    let n = common::explore("live_change_weighted", || live_change(PolicyKind::Weighted));
    assert!(n > 1, "loom explored only {n} execution(s)");
}

#[test]
fn live_change_kvm_halt_poll() {
    let n = common::explore("live_change_kvm_halt_poll", || {
        live_change(PolicyKind::KvmHaltPoll)
    });
    assert!(n > 1, "loom explored only {n} execution(s)");
}
