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
    // Defaults: poll-max-ns 32768 (rungs 0, 4096, 8192, 16384 and 32768
    // above the grow start of 4000), cost learned (prior 24000), gain 1/8.
    // A rung's price: smoothed min(wait, T) + smoothed share missed x cost.
    // Handler 0 every time.
    let mut p = pollwise(&[]);
    assert_eq!(learned(&p), (0, 24000));
    // Slept 10000 of a 30000 block: the first sleep is the estimate, wake
    // 10000, cost 4 x 10000 = 40000. No earlier event to attribute the wait
    // to; handler 0 has no sample yet, so the wait before its first event,
    // 30000 - min(10000, 10000) = 20000, stands in: rung 32768 costs
    // 20000, rung 16384 costs 16384 + 40000, rung 0 costs 40000: 32768.
    p.observe(&Outcome::slept(30_000, 10_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_000, 40_000), 32_768));
    // Slept 12000 of 36000: longer than the estimate, which rises by
    // (12000 - 10000) >> 6 = 31 to 10031; cost 40124. The wait polling
    // would have seen is 36000 - min(12000, 10031) = 25969: handler 0's
    // first sample; rung 32768 costs 25969 < 40124: 32768.
    p.observe(&Outcome::slept(36_000, 12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_031, 40_124), 32_768));
    // Polled at 12000: no sleep, nothing learned about the host. Rung
    // 32768: 25969 - ceil(13969 / 8) = 24222, nothing missed; rung 16384:
    // 16384 - ceil(4384 / 8) = 15836 with 7/8 missed (+35108): 32768.
    p.observe(&Outcome::polled(12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_031, 40_124), 32_768));

    // The same blocks with the fixed prior (the host reports no sleeps):
    // 30000 (the stand-in) costs more at rung 32768 than a block (24000);
    // 36000 (the first sample) outlasts every rung.
    let mut fixed = pollwise(&[]);
    let mut windows = Vec::new();
    for b in [30_000, 36_000, 12_000] {
        fixed.observe(&Outcome::blocked(b, &[0]));
        windows.push(fixed.window_ns());
    }
    // 12000 after 36000: rung 16384 costs 15836 + 7/8 x 24000 = 36836,
    // rung 32768 32768 - ceil(20768 / 8) + 21000 = 51172: 0 (24000).
    assert_eq!(windows, [0, 0, 0]);
}

#[test]
fn the_estimate_sits_at_the_short_end_and_an_outlier_moves_it_a_quarter() {
    let mut p = pollwise(&[]);
    // 8000: the first sleep, wake 8000, cost 32000. Handler 0 has no
    // sample: the wait before its event, 20000 - 8000 = 12000, stands in;
    // rungs 16384 and 32768 cost 12000: it asks 16384.
    p.observe(&Outcome::slept(20_000, 8000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((8000, 32_000), 16_384));
    // A 400 ns sleep (the event landed as the loop went to sleep): falls by
    // (8000 - 400) >> 2 = 1900 to 6100, cost 24400. The wait is 3000 -
    // min(400, 6100) = 2600; first sample of handler 0: every rung from
    // 4096 costs 2600, it asks 4096; the window falls by half only, to
    // 8192.
    p.observe(&Outcome::slept(3000, 400, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((6100, 24_400), 8192));
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
    // Slept 9000 of 24000: wake 9000, but the price stays 16000. The wait
    // after handler 0's first event is 24000 - 9000 = 15000.
    p.observe(&Outcome::polled(1000, &[0]));
    p.observe(&Outcome::slept(24_000, 9000, &[0]));
    // Rung 16384 costs 15000 < 16000 (rung 0): asks 16384.
    assert_eq!((learned(&p), p.window_ns()), ((9000, 16_000), 16_384));
    // At 4 x 9000 = 36000, it would have asked the same; at the pinned
    // price, a 17000 wait tips it: rung 32768 costs 17000 > 16000.
    let mut q = pollwise(&[("poll-block-cost-ns", "16000")]);
    q.observe(&Outcome::polled(1000, &[0]));
    q.observe(&Outcome::slept(26_000, 9000, &[0]));
    assert_eq!((learned(&q), q.window_ns()), ((9000, 16_000), 0));
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
    // 100, stands in and every rung from 4096 costs 100 (cost 20800): it
    // asks 4096. The loop polls until 10096, finds nothing, arms, and
    // finds the work on the re-check: no sleep, nothing learned.
    assert_eq!(
        it.begin(6000, false),
        Step::Poll {
            deadline_ns: 10_096
        }
    );
    assert_eq!(it.poll_timeout(10_096), Step::Arm);
    assert_eq!(it.arrival(10_200), Step::Notice);
    let n = it.noticed(10_200, [0]).unwrap();
    assert!(!n.slept);
    assert_eq!(learned(it.policy()), (5200, 20_800));
}
