//! The pollwise rule as written for QEMU in docs/pollwise-policy.md,
//! transcribed here with signed 64-bit arithmetic (Rust's `>>` on i64 is
//! the arithmetic shift C compilers use), against the crate's unsigned
//! implementation: the same window after every step, to the nanosecond.

use proptest::prelude::*;

use pollwise_core::{AnyPolicy, HandlerId, Outcome, Params, Policy, PolicyKind};

#[derive(Clone, Copy, Default)]
struct Node {
    srtt: i64,
    rttvar: i64,
    fired_last: bool,
    last_long: bool,
    seen: bool,
}

/// The C pseudocode's state: the handler list and `ctx->poll_ns`.
struct CRule {
    max: i64,
    cost: i64,
    w: u32,
    s: i64,
    grow_start: i64,
    nodes: Vec<Node>,
    poll_ns: i64,
}

impl CRule {
    fn adjust(&mut self, block_ns: i64, has_event: &[bool]) {
        let sample = block_ns.min(2 * self.max.max(self.cost));
        let mut target = 0;
        if self.max == 0 {
            return;
        }
        for n in self.nodes.iter_mut() {
            if n.fired_last {
                n.last_long = sample > self.max;
                if !n.seen {
                    n.srtt = sample;
                    n.rttvar = 0;
                    n.seen = true;
                } else {
                    let err = sample - n.srtt;
                    n.srtt += err >> self.w;
                    n.rttvar += (err.abs() - n.rttvar) >> 2;
                }
                n.fired_last = false;
            }
        }
        for (n, &ev) in self.nodes.iter_mut().zip(has_event) {
            if !ev {
                continue;
            }
            n.fired_last = true;
            if n.seen && !n.last_long && n.srtt <= self.cost {
                let want = (n.srtt + 4 * n.rttvar).max(self.grow_start);
                target = target.max(want.min(self.max));
            }
        }
        if target >= self.poll_ns / self.s {
            self.poll_ns = target;
        } else if self.poll_ns / self.s < self.grow_start && target == 0 {
            self.poll_ns = 0;
        } else {
            self.poll_ns /= self.s;
        }
    }
}

const HANDLERS: usize = 4;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_crate_matches_the_c_rule(
        max in prop_oneof![Just(32768u64), 0..200_000u64],
        cost in prop_oneof![Just(16000u64), 0..200_000u64],
        weight in 0..8u64,
        shrink in 0..5u64,
        grow_start in prop_oneof![Just(4000u64), 0..50_000u64],
        steps in proptest::collection::vec(
            (prop_oneof![4 => 0..40_000u64, 1 => 0..1_000_000u64],
             proptest::collection::vec(0..HANDLERS as u32, 0..3)),
            1..200),
    ) {
        let pairs = [
            ("poll-max-ns", max.to_string()),
            ("poll-block-cost-ns", cost.to_string()),
            ("poll-weight", weight.to_string()),
            ("poll-shrink", shrink.to_string()),
            ("poll-grow-start-ns", grow_start.to_string()),
        ];
        let params = Params::from_pairs(
            PolicyKind::Pollwise,
            pairs.iter().map(|(k, v)| (*k, v.as_str())),
        ).unwrap();
        let mut rust = AnyPolicy::new(params);
        let mut c = CRule {
            max: max as i64,
            // No sleep is reported here, so 0 ("learn it") is the prior.
            cost: if cost == 0 { 24000 } else { cost as i64 },
            w: if weight == 0 { 3 } else { weight as u32 },
            s: if shrink == 0 { 2 } else { shrink as i64 },
            grow_start: grow_start as i64,
            nodes: vec![Node::default(); HANDLERS],
            poll_ns: 0,
        };
        for (i, (block_ns, handlers)) in steps.iter().enumerate() {
            let ids: Vec<HandlerId> = handlers.clone();
            rust.observe(&Outcome::polled(*block_ns, &ids));
            let mut has_event = [false; HANDLERS];
            for &h in handlers {
                has_event[h as usize] = true;
            }
            c.adjust(*block_ns as i64, &has_event);
            prop_assert_eq!(rust.window_ns() as i64, c.poll_ns, "step {}", i);
        }
    }
}
