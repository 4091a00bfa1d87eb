//! Hand-computed sequences for pollwise's learned price of blocking: the
//! loop reports how long each sleep took (`Outcome::slept_ns`, from going to
//! sleep to running again), the policy learns the host's wake-up path `w`
//! from the short end of those sleeps, prices a block at `w + 8 w / max(n,
//! 1)` with `n` requests in flight (`Outcome::in_flight`), and takes the
//! wake-up out of the waits it learns from. Every expected value below was
//! worked out by hand, as the comments show.

use pollwise_core::{AnyPolicy, IoThread, Outcome, Params, Policy, PolicyKind, Step};

fn pollwise(pairs: &[(&str, &str)]) -> AnyPolicy {
    AnyPolicy::new(Params::from_pairs(PolicyKind::Pollwise, pairs.iter().copied()).unwrap())
}

/// The learned wake-up path and the price of a block with nothing in flight.
fn learned(p: &AnyPolicy) -> (u64, u64) {
    match p {
        AnyPolicy::Pollwise(p) => (p.wake_ns(), p.block_cost_ns(0)),
        _ => unreachable!(),
    }
}

#[test]
fn a_slow_waking_host_polls_for_what_the_prior_would_block_through() {
    // Defaults: poll-max-ns 32768 (rungs 0, 4096, 8192, 16384 and 32768
    // above the grow start of 4000), cost learned (prior wake-up 6000).
    // A rung's price: smoothed min(wait, T) + smoothed share missed x cost.
    // Handler 0 every time, nothing in flight: a block costs 9 wake-ups.
    let mut p = pollwise(&[]);
    assert_eq!(learned(&p), (0, 54_000));
    // Slept 10000 of a 30000 block: the first sleep is the estimate, wake
    // 10000, cost 10000 + 8 x 10000 = 90000. Handler 0 has no sample yet,
    // so the wait before its first event, 30000 - min(10000, 10000) =
    // 20000, stands in: rung 32768 costs 20000, rung 16384 costs 16384 +
    // 90000, rung 0 costs 90000: 32768.
    p.observe(&Outcome::slept(30_000, 10_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_000, 90_000), 32_768));
    // Slept 12000 of 36000: longer than the estimate, which rises by
    // (12000 - 10000) >> 10 = 1 to 10001; cost 90009. The wait polling
    // would have seen is 36000 - min(12000, 10001) = 25999: handler 0's
    // first sample; rung 32768 costs 25999 < 90009: 32768.
    p.observe(&Outcome::slept(36_000, 12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_001, 90_009), 32_768));
    // Polled at 12000: no sleep, nothing learned about the host. Rung
    // 32768: 25999 - ceil(13999 / 8) = 24249, nothing missed; rung 16384:
    // 16384 - ceil(4384 / 8) = 15836 with 7/8 missed: 32768.
    p.observe(&Outcome::polled(12_000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((10_001, 90_009), 32_768));

    // The same first sleep with 16 requests in flight: a wake-up delays
    // one of 16, the block costs 10000 + 80000 / 16 = 15000, and the
    // 20000 stand-in is cheaper to sleep through (rung 0: 15000).
    let mut busy = pollwise(&[]);
    busy.observe(&Outcome::slept(30_000, 10_000, &[0]).with_in_flight(16));
    assert_eq!(busy.window_ns(), 0);
    match &busy {
        AnyPolicy::Pollwise(p) => assert_eq!(p.block_cost_ns(16), 15_000),
        _ => unreachable!(),
    }

    // The same blocks with the prior (the host reports no sleeps), one
    // request in flight: 54000. 30000 (the stand-in) costs 30000 at rung
    // 32768: 32768. 36000 (the first sample) outlasts every rung: rung 0
    // costs 54000, rung 32768 32768 + 54000: 0 after the gentle fall, 16384.
    let mut fixed = pollwise(&[]);
    let mut windows = Vec::new();
    for b in [30_000, 36_000] {
        fixed.observe(&Outcome::blocked(b, &[0]).with_in_flight(1));
        windows.push(fixed.window_ns());
    }
    assert_eq!(windows, [32_768, 16_384]);
}

#[test]
fn the_estimate_sits_at_the_short_end_and_an_immediate_return_teaches_nothing() {
    let mut p = pollwise(&[]);
    // 8000: the first sleep, wake 8000, cost 72000. Handler 0 has no
    // sample: the wait before its event, 20000 - 8000 = 12000, stands in;
    // rungs 16384 and 32768 cost 12000: it asks 16384.
    p.observe(&Outcome::slept(20_000, 8000, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((8000, 72_000), 16_384));
    // A 400 ns "sleep" returned at once (under 1000 ns): nothing learned,
    // and the whole 3000 is wait. First sample of handler 0: every rung
    // from 4096 costs 3000, it asks 4096; the window falls by half, 8192.
    p.observe(&Outcome::slept(3000, 400, &[0]));
    assert_eq!((learned(&p), p.window_ns()), ((8000, 72_000), 8192));
    // A real short sleep, 2000: falls by (8000 - 2000) >> 2 = 1500 to 6500.
    p.observe(&Outcome::slept(5000, 2000, &[1]));
    assert_eq!(learned(&p), (6500, 58_500));
    // Long sleeps raise it by 1/1024 of the gap each: 6500 + (60000 -
    // 6500) >> 10 = 6500 + 52 = 6552, then 6552 + 53448 >> 10 = 6604.
    p.observe(&Outcome::slept(70_000, 60_000, &[1]));
    p.observe(&Outcome::slept(70_000, 60_000, &[1]));
    assert_eq!(learned(&p), (6604, 59_436));
    // A sleep beyond the sample limit (2 x max(32768, 24000) = 65536) counts
    // as 65536: 6604 + (65536 - 6604) >> 10 = 6604 + 57 = 6661.
    p.observe(&Outcome::slept(u64::MAX, u64::MAX, &[1]));
    assert_eq!(learned(&p), (6661, 59_949));
}

#[test]
fn a_sleep_is_learned_from_less_the_wait_polling_has_always_seen_remain() {
    // A device busy for 25 us after each submission: the wait after
    // handler 0's events, when polling sees it end, is 25000. Every sleep
    // is then a real wait, and the short end of the sleeps alone would
    // read 25000 as the wake-up.
    let mut p = pollwise(&[]);
    p.observe(&Outcome::polled(1000, &[0]));
    // A wait after handler 0's event that polling saw end: its short end
    // of such waits starts at 25000.
    p.observe(&Outcome::polled(25_000, &[0]));
    assert_eq!(learned(&p), (0, 54_000));
    // Polled 8000, then slept 25000: the wait was sure to last 25000 -
    // 8000 = 17000 more when the loop went to sleep, so the wake-up path
    // is 25000 - 17000 = 8000 (the first sleep is the estimate). A block
    // with 8 in flight costs 8000 + 8 x 8000 / 8 = 16000, not 50000.
    p.observe(&Outcome::slept(33_000, 25_000, &[0]).with_in_flight(8));
    assert_eq!(learned(&p), (8000, 72_000));
    match &p {
        AnyPolicy::Pollwise(q) => assert_eq!(q.block_cost_ns(8), 16_000),
        _ => unreachable!(),
    }
    // Polled 7000, slept 27000: 18000 was sure to remain, 9000 is the
    // sample, above the estimate: 8000 + (1000 >> 10) = 8000.
    p.observe(&Outcome::slept(34_000, 27_000, &[0]));
    assert_eq!(learned(&p), (8000, 72_000));

    // Without a wait polling saw end, nothing is sure to remain: the same
    // sleep is the estimate as it is.
    let mut blind = pollwise(&[]);
    blind.observe(&Outcome::polled(1000, &[0]));
    blind.observe(&Outcome::slept(33_000, 25_000, &[0]));
    assert_eq!(learned(&blind).0, 25_000);
    // And what is sure to remain never takes a sleep under 1000 ns: polled
    // 1000, slept 3000 after a floor of 25000 leaves 1000.
    let mut short = pollwise(&[]);
    short.observe(&Outcome::polled(1000, &[0]));
    short.observe(&Outcome::polled(25_000, &[0]));
    short.observe(&Outcome::slept(4000, 3000, &[0]));
    assert_eq!(learned(&short).0, 1000);
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
    // At the learned price (9 x 9000 = 81000 with nothing in flight) it
    // would have asked the same; at the pinned price, a 17000 wait tips
    // it: rung 32768 costs 17000 > 16000.
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
    assert_eq!(learned(it.policy()), (5200, 46_800));
    it.end(5400);
    // Handler 0 had no sample: the wait before its event, 5300 - 5200 =
    // 100, stands in and every rung from 4096 costs 100 (cost 46800): it
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
    assert_eq!(learned(it.policy()), (5200, 46_800));
}

#[test]
fn the_loop_tells_the_policy_what_was_in_flight_when_the_iteration_began() {
    // Arm at 0, sleep at 20000, the event at 29000, running at 30000:
    // slept 10000 of 30000, wake 10000, and the 20000 before handler 0's
    // first event stands in. With 16 in flight the block costs 15000 and
    // the rule sleeps (window 0); with none, 90000 and it polls (32768).
    // The count that counts is the one at `begin`: the host's later change
    // (its completions processed) does not reach this iteration.
    for (in_flight, window) in [(16, 0), (0, 32_768)] {
        let params = Params::from_pairs(PolicyKind::Pollwise, [("poll-max-ns", "32768")]).unwrap();
        let mut it = IoThread::new(params, 1, 0, u64::MAX);
        it.set_in_flight(in_flight);
        assert_eq!(it.begin(0, false), Step::Arm);
        it.set_in_flight(16 - in_flight);
        it.block(20_000);
        assert_eq!(it.arrival(29_000), Step::Wake);
        it.noticed(30_000, [0]).unwrap();
        assert_eq!(it.policy().window_ns(), window, "in flight {in_flight}");
    }
}

#[test]
fn an_idle_loop_never_polls() {
    // Handlers registered, no I/O: every iteration ends on a timer (no
    // handler had an event), whatever it slept or had in flight. Nothing
    // asks for a window, so the loop costs what `off` costs: it never
    // polls. After one burst of activity it falls back to 0 within a few
    // idle iterations (by halves, then to 0 under the grow start).
    let mut p = pollwise(&[]);
    for i in 0..1000u64 {
        p.observe(&Outcome::slept(1_000_000 + i, 1_000_000, &[]).with_in_flight((i % 3) as u32));
        assert_eq!(p.window_ns(), 0, "idle iteration {i}");
    }
    p.observe(&Outcome::polled(2000, &[0]).with_in_flight(1));
    assert!(p.window_ns() > 0);
    let mut windows = Vec::new();
    for _ in 0..5 {
        p.observe(&Outcome::slept(1_000_000, 1_000_000, &[]));
        windows.push(p.window_ns());
    }
    assert_eq!(windows.last(), Some(&0), "{windows:?}");
}
