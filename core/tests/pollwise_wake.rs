//! Hand-computed sequences for pollwise's learned price of blocking: the
//! loop reports how long each sleep took (`Outcome::slept_ns`, from going to
//! sleep to running again), the policy learns the host's wake-up path from
//! the short end of those sleeps, prices a block at four wake-up paths, and
//! takes the wake-up out of the waits it learns from. Every expected value
//! below was worked out by hand, as the comments show.

use pollwise_core::{AnyPolicy, IoThread, Outcome, Params, Policy, PolicyKind, Step};

fn pollwise(pairs: &[(&str, &str)]) -> AnyPolicy {
    AnyPolicy::new(Params::from_pairs(PolicyKind::Pollwise, pairs.iter().copied()).unwrap())
}

fn learned(p: &AnyPolicy) -> (u64, u64) {
    match p {
        AnyPolicy::Pollwise(p) => (p.wake_ns(), p.block_cost_ns()),
        _ => unreachable!(),
    }
}

#[test]
fn a_slow_waking_host_polls_for_what_the_prior_would_block_through() {
    // Defaults: poll-max-ns 32768, cost learned (prior 24000), gain 1/8,
    // deviation gain 1/4, shrink 2, grow start 4000. Handler 0 every time.
    let mut p = pollwise(&[]);
    assert_eq!(learned(&p), (0, 24000));
    // Slept 10000 of a 30000 block: the first sleep is the estimate, wake
    // 10000, cost 4 x 10000 = 40000. No earlier event to attribute the wait
    // to; handler 0 has no sample yet, so the wait before its first event,
    // 30000 - min(10000, 10000) = 20000, stands in: 20000 <= 40000, it
    // asks 20000.
    p.observe(&Outcome::slept(30_000, 10_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_000, 40_000), 20_000));
    // Slept 12000 of 36000: longer than the estimate, which rises by
    // (12000 - 10000) >> 6 = 31 to 10031; cost 40124. The wait polling
    // would have seen is 36000 - min(12000, 10031) = 25969: first sample,
    // srtt 25969 <= 40124, so handler 0 asks 25969, above the window.
    p.observe(&Outcome::slept(36_000, 12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_031, 40_124), 25_969));
    // Polled at 12000: no sleep, nothing learned about the host. err
    // -13969: srtt 25969 - ceil(13969 / 8) = 25969 - 1747 = 24222; rttvar
    // 0 + 13969 >> 2 = 3492; asks 24222 + 4 x 3492 = 38190, capped at
    // 32768.
    p.observe(&Outcome::polled(12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_031, 40_124), 32_768));

    // The same blocks with the fixed prior (the host reports no sleeps):
    // 30000 (the stand-in) and 36000 (the first sample) are both above
    // 24000, so handler 0 never asks and the loop keeps blocking.
    let mut fixed = pollwise(&[]);
    let mut windows = Vec::new();
    for b in [30_000, 36_000, 12_000] {
        fixed.observe(&Outcome::blocked(b, &[0]));
        windows.push(fixed.window_ns());
    }
    // 12000 after srtt 36000: srtt 36000 - ceil(24000 / 8) = 33000 > 24000.
    assert_eq!(windows, [0, 0, 0]);
}

#[test]
fn the_estimate_sits_at_the_short_end_and_an_outlier_moves_it_a_quarter() {
    let mut p = pollwise(&[]);
    // 8000: the first sleep, wake 8000, cost 32000. Handler 0 has no
    // sample: the wait before its event, 20000 - 8000 = 12000, stands in
    // and it asks 12000.
    p.observe(&Outcome::slept(20_000, 8000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((8000, 32_000), 12_000));
    // A 400 ns sleep (the event landed as the loop went to sleep): falls by
    // (8000 - 400) >> 2 = 1900 to 6100, cost 24400. The wait is 3000 -
    // min(400, 6100) = 2600; first sample of handler 0: srtt 2600, asks
    // the grow start, 4000; the window falls by half only, to 6000.
    p.observe(&Outcome::slept(3000, 400, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((6100, 24_400), 6000));
    // Long sleeps raise it by 1/64 of the gap each: 6100 + (60000 - 6100)
    // >> 6 = 6100 + 842 = 6942, then 6942 + (60000 - 6942) >> 6 = 6942 +
    // 829 = 7771.
    p.observe(&Outcome::slept(70_000, 60_000, &[1]));
    p.observe(&Outcome::slept(70_000, 60_000, &[1]));
    assert_eq!(learned(&p), (7771, 31_084));
    // A sleep beyond the sample limit (2 x max(32768, 24000) = 65536) counts
    // as 65536: 7771 + (65536 - 7771) >> 6 = 7771 + 902 = 8673.
    p.observe(&Outcome::slept(u64::MAX, u64::MAX, &[1]));
    assert_eq!(learned(&p), (8673, 34_692));
}

#[test]
fn a_fixed_cost_still_learns_the_wake_up_but_keeps_its_price() {
    let mut p = pollwise(&[("poll-block-cost-ns", "16000")]);
    // Slept 9000 of 25000: wake 9000, but the price stays 16000. The wait
    // after handler 0's first event is 25000 - 9000 = 16000.
    p.observe(&Outcome::polled(1000, &[0]));
    p.observe(&Outcome::slept(25_000, 9000, &[0]));
    // srtt 16000 <= 16000: asks 16000.
    assert_eq!((learned(&p), p.window_ns()), ((9000, 16_000), 16_000));
}

#[test]
fn the_loop_reports_the_time_from_going_to_sleep_to_running_again() {
    let params = Params::from_pairs(PolicyKind::Pollwise, [("poll-max-ns", "32768")]).unwrap();
    let mut it = IoThread::new(params, 1, 0, u64::MAX);
    // Window 0: arm at 0, sleep at 100, the doorbell rings at 5000, the loop
    // runs again at 5300: slept 5200 of a 5300 block.
    assert_eq!(it.begin(0, false), Step::Arm);
    it.block(100);
    assert_eq!(it.arrival(5000), Step::Wake);
    let n = it.noticed(5300, [0]).unwrap();
    assert!(n.slept && n.block_ns == 5300);
    assert_eq!(learned(it.policy()), (5200, 20_800));
    it.end(5400);
    // Handler 0 had no sample: the wait before its event, 5300 - 5200 =
    // 100, stands in and it asks the grow start, 4000 (cost 20800). The
    // loop polls until 10000, finds nothing, arms, and finds the work on
    // the re-check: no sleep, nothing learned.
    assert_eq!(
        it.begin(6000, false),
        Step::Poll {
            deadline_ns: 10_000
        }
    );
    assert_eq!(it.poll_timeout(10_000), Step::Arm);
    assert_eq!(it.arrival(10_100), Step::Notice);
    let n = it.noticed(10_100, [0]).unwrap();
    assert!(!n.slept);
    assert_eq!(learned(it.policy()), (5200, 20_800));
}
