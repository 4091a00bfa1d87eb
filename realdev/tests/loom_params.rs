//! Live parameter change: a control thread publishes new `poll-max-ns`,
//! `poll-grow` and `poll-shrink` while the loop runs its policy, and in every
//! explored interleaving the loop's window stays within the `poll-max-ns` in
//! force and the parameters in force are one whole published set.
#![cfg(all(loom, not(loom_broken_notify)))]

mod common;

use pollwise_core::{AnyPolicy, Outcome, Param, Params, Policy, PolicyKind};
use pollwise_realdev::handoff::ParamCell;
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

fn live_change(kind: PolicyKind) {
    let cell = Arc::new(ParamCell::new(params(kind, 0)));
    let control = {
        let cell = Arc::clone(&cell);
        thread::spawn(move || {
            cell.publish(params(kind, 1));
            cell.publish(params(kind, 2));
        })
    };

    let mut policy = AnyPolicy::new(params(kind, 0));
    let mut seen = 0u64;
    for _ in 0..STEPS {
        let before = seen;
        if let Some(p) = cell.take_newer(&mut seen) {
            assert!(seen > before, "versions only move forward");
            assert_eq!(version_of(&p), Some(seen as usize), "torn or stale set");
            policy.set_params(p).unwrap();
        }
        let in_force = policy.params();
        assert_eq!(version_of(in_force), Some(seen as usize));
        let bound = SETS[seen as usize].0;
        let window = policy.window_ns();
        assert!(
            window <= bound,
            "{kind}: window {window} above poll-max-ns {bound} of version {seen}"
        );
        // An event just after the window ended: every policy here grows.
        policy.observe(&Outcome::blocked(window + 1_000, &[0]));
    }
    control.join().unwrap();

    // Once the control thread is done, the newest set is what the loop gets.
    if let Some(p) = cell.take_newer(&mut seen) {
        policy.set_params(p).unwrap();
    }
    assert_eq!(seen, 2);
    assert_eq!(version_of(policy.params()), Some(2));
    assert!(policy.window_ns() <= SETS[2].0);
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
