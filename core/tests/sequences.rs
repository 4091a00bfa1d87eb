//! Hand-computed window sequences, one per policy rule. Every expected
//! value below was worked out on paper from the upstream source (QEMU
//! util/aio-posix.c, the 2026 RFC, Linux kvm_main.c and haltpoll.c), step by
//! step, as the comments show; none was printed by the code under test.

use pollwise_core::{AnyPolicy, Foresight, HandlerId, Outcome, Params, Policy, PolicyKind};

fn policy(kind: PolicyKind, pairs: &[(&str, &str)]) -> AnyPolicy {
    AnyPolicy::new(Params::from_pairs(kind, pairs.iter().copied()).unwrap())
}

/// Feeds `(block_ns, handlers)` steps and returns the window after each.
fn run(p: &mut AnyPolicy, steps: &[(u64, &[HandlerId])]) -> Vec<u64> {
    steps
        .iter()
        .map(|&(block_ns, handlers)| {
            let polled = block_ns <= p.window_ns();
            p.observe(&Outcome {
                block_ns,
                polled,
                handlers,
                slept_ns: 0,
                in_flight: 0,
            });
            p.window_ns()
        })
        .collect()
}

fn single(blocks: &[u64]) -> Vec<(u64, &'static [HandlerId])> {
    blocks.iter().map(|&b| (b, &[0][..])).collect()
}

#[test]
fn qemu_defaults() {
    let mut p = policy(PolicyKind::Qemu, &[]);
    assert_eq!(p.window_ns(), 0);
    // 1000: 0 -> 4000 (start). 1000 <= 4000: keep. 5000: x2 = 8000.
    // 20000: 16000, then 32000. 20000 <= 32000: keep. 32768 is not above
    // poll-max-ns, yet not below it either, so neither branch: keep.
    // 32769 > poll-max-ns with poll-shrink 0: reset to 0.
    let w = run(
        &mut p,
        &single(&[1000, 1000, 5000, 20000, 20000, 20000, 32768, 32769]),
    );
    assert_eq!(w, [4000, 4000, 8000, 16000, 32000, 32000, 32000, 0]);
    // From 32000, a block of 32767 grows to 64000, capped at 32768.
    let mut p = policy(PolicyKind::Qemu, &[]);
    let w = run(&mut p, &single(&[20000, 20000, 20000, 20000, 32767]));
    assert_eq!(w, [4000, 8000, 16000, 32000, 32768]);
}

#[test]
fn qemu_grow_and_shrink_factors() {
    let mut p = policy(
        PolicyKind::Qemu,
        &[
            ("poll-max-ns", "10000"),
            ("poll-grow", "3"),
            ("poll-shrink", "2"),
        ],
    );
    // 100: 4000. 4001: 12000 -> cap 10000. 10001 > max: /2 = 5000, 2500.
    // 3000 > 2500, below max: x3 = 7500.
    let w = run(&mut p, &single(&[100, 4001, 10001, 10001, 3000]));
    assert_eq!(w, [4000, 10000, 5000, 2500, 7500]);
}

#[test]
fn qemu_tracks_each_handler() {
    let mut p = policy(PolicyKind::Qemu, &[]);
    let steps: [(u64, &[HandlerId]); 6] = [
        (100, &[0]),      // h0: 4000
        (100, &[1]),      // h1: 4000
        (5000, &[0]),     // h0: 8000; window = max = 8000
        (40000, &[1]),    // h1 reset to 0; h0 still 8000
        (40000, &[0, 1]), // both reset
        (100, &[]),       // no handler event: nothing adjusts
    ];
    assert_eq!(run(&mut p, &steps), [4000, 4000, 8000, 8000, 0, 0]);
}

#[test]
fn qemu_with_polling_disabled_never_adjusts() {
    let mut p = policy(PolicyKind::Qemu, &[("poll-max-ns", "0")]);
    assert_eq!(run(&mut p, &single(&[0, 100, 1_000_000])), [0, 0, 0]);
}

#[test]
fn weighted_defaults() {
    let mut p = policy(PolicyKind::Weighted, &[]);
    // weight 2: ns' = ns - ns/4 + b/4 (shifts, rounding down).
    // 1000: estimate 0 -> 1000; window grows to max(1000, 0*2) = 1000.
    // 2000: 1000-250+500 = 1250 > 1000: grow to max(1250, 2000) = 2000.
    // 2000: 1250-312+500 = 1438 <= 2000; 1438 < 2000/2? no: keep 2000.
    // 100: 1438-359+25 = 1104; not < 1000: keep.
    // 0: 1104-276 = 828 < 1000: halve to 1000.
    // 40000: 828-207+10000 = 10621 > 1000: grow to 10621 (> 2000).
    // 200000: 10621-2655+50000 = 57966 >= max: estimate 0; 0 < 5310:
    // halve to 5310. 200000 again: estimate 200000 >= max -> 0: 2655.
    let w = run(
        &mut p,
        &single(&[1000, 2000, 2000, 100, 0, 40000, 200_000, 200_000]),
    );
    assert_eq!(w, [1000, 2000, 2000, 2000, 1000, 10621, 5310, 2655]);
}

#[test]
fn weighted_ages_idle_handlers() {
    let mut p = policy(PolicyKind::Weighted, &[]);
    let steps: [(u64, &[HandlerId]); 4] = [
        // h0: 1000; window 1000.
        (1000, &[0]),
        // h1: 3000; idle h0: 1000+3000 = 4000. Grow to max(3000, 2000).
        (3000, &[1]),
        // h1: 3000-750+7500 = 9750; idle h0: 34000 >= max -> 0.
        // Grow to max(9750, 6000) = 9750.
        (30000, &[1]),
        // h0: 0 -> 1000; idle h1: 10750. 1000 < 9750/2: halve to 4875.
        (1000, &[0]),
    ];
    assert_eq!(run(&mut p, &steps), [1000, 3000, 9750, 4875]);
}

#[test]
fn weighted_weight_is_a_shift() {
    let mut p = policy(PolicyKind::Weighted, &[("poll-weight", "1")]);
    // weight 1: ns' = ns - ns/2 + b/2. 1000 -> 1000; 3000 -> 500+1500 = 2000,
    // grow to max(2000, 2000) = 2000; 3000 -> 1000+1500 = 2500, grow to
    // max(2500, 4000) = 4000.
    assert_eq!(
        run(&mut p, &single(&[1000, 3000, 3000])),
        [1000, 2000, 4000]
    );
}

#[test]
fn kvm_halt_poll_defaults() {
    let mut p = policy(PolicyKind::KvmHaltPoll, &[]);
    // 5000: window 0 and halt below max: grow 0*2 -> grow start 10000.
    // 5000 <= 10000: keep. 15000: 20000. 250000 > max: /2 = 10000 (not
    // below grow start). Again: 5000 < grow start -> 0. With window 0 a
    // long halt neither shrinks nor grows. 150000: grow to 10000, 20000.
    let w = run(
        &mut p,
        &single(&[
            5000, 5000, 15000, 250_000, 250_000, 250_000, 150_000, 150_000,
        ]),
    );
    assert_eq!(w, [10000, 10000, 20000, 10000, 0, 0, 10000, 20000]);
    // Growth past the max is clamped before use: 160000 x2 -> 200000.
    let mut p = policy(PolicyKind::KvmHaltPoll, &[]);
    let w = run(&mut p, &single(&[190_000; 7]));
    assert_eq!(w, [10000, 20000, 40000, 80000, 160000, 200000, 200000]);
    // A halt equal to the max does not grow in KVM (needs halt < max).
    let mut p = policy(PolicyKind::KvmHaltPoll, &[]);
    assert_eq!(run(&mut p, &single(&[200_000])), [0]);
}

#[test]
fn kvm_grow_zero_never_grows() {
    let mut p = policy(PolicyKind::KvmHaltPoll, &[("poll-grow", "0")]);
    assert_eq!(run(&mut p, &single(&[5000, 5000])), [0, 0]);
}

#[test]
fn guest_haltpoll_defaults() {
    let mut p = policy(PolicyKind::GuestHaltPoll, &[]);
    // 5000: 0 < 5000 <= max: 0*2 -> grow start 50000. 60000: 100000.
    // 150000: 200000. 200000 = max: neither grow (not > window) nor shrink.
    // 200001: /2 = 100000. 300000: 50000. 300000: 25000 < 50000 -> 0.
    let w = run(
        &mut p,
        &single(&[5000, 60000, 150_000, 200_000, 200_001, 300_000, 300_000]),
    );
    assert_eq!(w, [50000, 100000, 200000, 200000, 100000, 50000, 0]);
    // Unlike KVM, a block equal to the max grows.
    let mut p = policy(PolicyKind::GuestHaltPoll, &[]);
    assert_eq!(run(&mut p, &single(&[200_000])), [50000]);
}

#[test]
fn fixed_off_and_oracle() {
    let mut p = policy(PolicyKind::Fixed, &[("poll-max-ns", "7000")]);
    assert_eq!(p.window_ns(), 7000);
    assert_eq!(run(&mut p, &single(&[1, 1_000_000])), [7000, 7000]);
    let mut p = policy(PolicyKind::Off, &[]);
    assert_eq!(run(&mut p, &single(&[1, 1_000_000])), [0, 0]);

    let mut p = policy(
        PolicyKind::ThresholdOracle,
        &[("oracle-threshold-ns", "5000")],
    );
    p.foresee(&Foresight::gap(4999));
    assert_eq!(p.window_ns(), 4999);
    p.foresee(&Foresight::gap(5001));
    assert_eq!(p.window_ns(), 0);
    // The threshold never lets it poll past poll-max-ns.
    let mut p = policy(
        PolicyKind::ThresholdOracle,
        &[("oracle-threshold-ns", "50000"), ("poll-max-ns", "3000")],
    );
    p.foresee(&Foresight::gap(4000));
    assert_eq!(p.window_ns(), 0);
}

#[test]
fn live_change_clamps_or_resets() {
    // QEMU's aio_context_set_poll_params() zeroes every handler's window.
    let mut p = policy(PolicyKind::Qemu, &[]);
    run(&mut p, &single(&[100, 5000]));
    assert_eq!(p.window_ns(), 8000);
    let mut q = p.params().clone();
    q.set_str("poll-max-ns", "16000").unwrap();
    p.set_params(q).unwrap();
    assert_eq!(p.window_ns(), 0);
    // KVM re-reads the max at the next halt and clamps to it.
    let mut p = policy(PolicyKind::KvmHaltPoll, &[]);
    // 15000: 0 -> 10000 (grow start); 30000: 20000; 30000: 40000.
    run(&mut p, &single(&[15000, 30000, 30000]));
    assert_eq!(p.window_ns(), 40000);
    let mut q = p.params().clone();
    q.set_str("poll-max-ns", "25000").unwrap();
    p.set_params(q).unwrap();
    assert_eq!(p.window_ns(), 25000);
    // Parameters of another policy are refused and change nothing.
    let err = p
        .set_params(Params::defaults(PolicyKind::Qemu))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("qemu") && err.contains("kvm-halt-poll"),
        "{err}"
    );
    assert_eq!(p.window_ns(), 25000);
}

#[test]
fn pollwise_polls_for_the_cheapest_window_not_for_the_mean() {
    // poll-max-ns 32768: the rungs are 0, 512, 1024, 2048, 4096, 8192,
    // 16384 and 32768; with grow start 4000 it asks for 0, 4096, 8192,
    // 16384 or 32768. Price 20000 (pinned), gain 1/2. A rung's price is
    // its smoothed min(wait, T) plus its smoothed share of missed waits
    // times 20000. Handler 0 every time.
    let pairs = [("poll-block-cost-ns", "20000"), ("poll-weight", "1")];
    let mut p = policy(PolicyKind::Pollwise, &pairs);
    // A bursty wait: 200 ns or 60 us, in turn.
    // 200: no sample yet, it stands in: every rung from 512 up costs 200,
    //   rung 0 costs 20000: asks 4096 (the cheapest, shortest).
    // 60000 (longer than the cap): first sample, every rung misses it:
    //   rung 0 costs 20000, rung 4096 costs 4096 + 20000: asks 0, and
    //   4096 / 2 = 2048 is below the grow start: 0.
    // 200: rung 4096: min 4096 - ceil(3896 / 2) = 2148, missed 1/2:
    //   2148 + 10000 = 12148; rung 8192: 4196 + 10000; rung 0: 20000.
    //   Asks 4096.
    // 60000: rung 4096: 2148 + (4096 - 2148) / 2 = 3122, missed 3/4:
    //   3122 + 15000 = 18122 < 20000: asks 4096.
    // 200: 3122 - ceil(2922 / 2) = 1661, missed 3/8: 1661 + 7500: 4096.
    // The mean wait (about 30 us) is above the price, and its jitter is
    // wide: a mean-and-jitter rule polls the cap or nothing, this one polls
    // the 4 us that catch the fast half.
    let w = run(&mut p, &single(&[200, 60_000, 200, 60_000, 200]));
    assert_eq!(w, [4096, 0, 4096, 4096, 4096]);
    // A steady 12 us: rungs 16384 and 32768 both cost 12000, the shorter
    // wins: 16384.
    let mut p = policy(PolicyKind::Pollwise, &pairs);
    assert_eq!(run(&mut p, &single(&[12_000, 12_000])), [16384, 16384]);
    // A steady 30 us: the only rung that catches it (32768) costs 30000,
    // above the price of blocking: 0.
    let mut p = policy(PolicyKind::Pollwise, &pairs);
    assert_eq!(run(&mut p, &single(&[30_000, 30_000])), [0, 0]);
}

#[test]
fn pollwise_predicts_the_wait_after_each_kind_of_event() {
    let mut p = policy(PolicyKind::Pollwise, &[]);
    // Defaults: price 24000 (the prior: no sleep is reported), gain 1/8.
    // Handler 0 plays the completion (the guest resubmits 9 us later),
    // handler 1 the submission (the device takes 50 us).
    // (50000, [0]): nothing to attribute; 0 has no sample, and the wait
    //   before its event (50000, longer than poll-max-ns) stands in: every
    //   rung misses it, so rung 0 (24000) is the cheapest: 0.
    // (9000, [1]): the wait after 0 was 9000 (its first sample); 1 has no
    //   sample and 9000 stands in: rungs 16384 and 32768 cost 9000, rung
    //   8192 costs 8192 + 24000: it asks 16384.
    // (50000, [0]): the wait after 1 was 50000 (every rung missed); 0 asks
    //   16384 again.
    // (9000, [1]): 0's estimate is unchanged; 1 asks 0, so the window
    //   halves to 8192.
    // (50000, [0]): 0 asks 16384 again.
    let steps: [(u64, &[HandlerId]); 5] = [
        (50_000, &[0]),
        (9000, &[1]),
        (50_000, &[0]),
        (9000, &[1]),
        (50_000, &[0]),
    ];
    assert_eq!(run(&mut p, &steps), [0, 16384, 16384, 8192, 16384]);
    // A live poll-max-ns of 5000 clamps the window at once.
    p.set_params(Params::from_pairs(PolicyKind::Pollwise, [("poll-max-ns", "5000")]).unwrap())
        .unwrap();
    assert_eq!(p.window_ns(), 5000);
    // Handler 1 asks 0; 5000 / 2 = 2500 is below the grow start: 0.
    assert_eq!(run(&mut p, &[(9000, &[1])]), [0]);
}

#[test]
fn pollwise_never_polls_when_blocking_costs_next_to_nothing() {
    // (0 would mean "learn the cost from the loop's sleeps".)
    let mut p = policy(PolicyKind::Pollwise, &[("poll-block-cost-ns", "1")]);
    // Every block time is above a cost of 1 ns (the first stands in for
    // the wait after handler 0's first event): nothing is asked.
    let w = run(&mut p, &single(&[2, 500, 1000]));
    assert_eq!(w, [0, 0, 0]);
}

/// The proposal as merged: poll-weight defaults to 3 (and 0 means 3), so a
/// new sample counts 1/8 instead of v1's 1/4.
///   step 1: estimate 0 takes the sample: 1000; window 0 -> grow to
///           max(1000, 0 * 2) = 1000.
///   step 2: merged: 1000 - 1000/8 + 9000/8 = 1000 - 125 + 1125 = 2000,
///           above the window: grow to max(2000, 1000 * 2) = 2000.
///           v1 (weight 2): 1000 - 250 + 2250 = 3000 -> max(3000, 2000).
#[test]
fn weighted_merged_defaults_to_weight_3() {
    let steps = single(&[1000, 9000]);
    let mut merged = policy(PolicyKind::WeightedMerged, &[]);
    assert_eq!(run(&mut merged, &steps), vec![1000, 2000]);
    let mut zero = policy(PolicyKind::WeightedMerged, &[("poll-weight", "0")]);
    assert_eq!(run(&mut zero, &steps), vec![1000, 2000]);
    let mut v1 = policy(PolicyKind::Weighted, &[]);
    assert_eq!(run(&mut v1, &steps), vec![1000, 3000]);
    assert_eq!(merged.params().get(pollwise_core::Param::PollShrink), 2);
}
