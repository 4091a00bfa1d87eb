//! Differential test: the C rule of the QEMU patch against the crate.
//!
//! The rule is taken from `qemu/patches/pollwise/*.patch` as it stands (the
//! added lines of `util/aio-posix.c` between `/* pollwise: begin rule */`
//! and `/* pollwise: end rule */`), compiled with the system's `cc` next to
//! a small driver that supplies the few QEMU types and macros it uses, and
//! run on the same random sequences as the Rust policy: every window after
//! every step must be the same, to the nanosecond.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use proptest::prelude::*;

use pollwise_core::{AnyPolicy, HandlerId, Outcome, Params, Policy, PolicyKind};

const HANDLERS: usize = 4;

const DRIVER: &str = r#"
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
typedef struct AioPolledEvent {
    int64_t ns;
    int64_t polled[8];
    int64_t missed[8];
    int64_t floor_ns;
    bool has_event;
    bool fired_last;
    bool seen;
} AioPolledEvent;
typedef struct AioHandler AioHandler;
struct AioHandler {
    AioPolledEvent poll;
    struct { AioHandler *le_next; } node_poll;
};
typedef struct AioContext {
    int64_t poll_max_ns, poll_grow, poll_shrink, poll_weight;
    int64_t poll_block_cost_ns, poll_grow_start_ns, poll_ns, poll_wake_ns;
    unsigned int poll_in_flight;
    struct { AioHandler *lh_first; } poll_aio_handlers;
} AioContext;
#define QLIST_FOREACH(var, head, field) \
    for ((var) = (head)->lh_first; (var); (var) = (var)->field.le_next)
#include "rule.c"
int main(void)
{
    AioContext ctx = {0};
    AioHandler nodes[8] = {0};
    long long max, cost, w, s, gs, block, slept;
    unsigned mask, in_flight;
    int n, i;
    if (scanf("%lld %lld %lld %lld %lld %d", &max, &cost, &w, &s, &gs, &n) != 6
        || n > 8) {
        return 2;
    }
    ctx.poll_max_ns = max;
    ctx.poll_block_cost_ns = cost;
    ctx.poll_weight = w;
    ctx.poll_shrink = s;
    ctx.poll_grow_start_ns = gs;
    for (i = n - 1; i >= 0; i--) {
        nodes[i].node_poll.le_next = ctx.poll_aio_handlers.lh_first;
        ctx.poll_aio_handlers.lh_first = &nodes[i];
    }
    while (scanf("%lld %lld %u %u", &block, &slept, &in_flight, &mask) == 4) {
        for (i = 0; i < n; i++) {
            if (mask & (1u << i)) {
                nodes[i].poll.has_event = true;
            }
        }
        if (ctx.poll_max_ns) {
            pollwise_adjust(&ctx, block, slept, in_flight);
        }
        printf("%lld\n", (long long)ctx.poll_ns);
    }
    return 0;
}
"#;

/// The rule's C text, from the patch as it stands.
fn rule_from_patch() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../qemu/patches/pollwise");
    let mut patches: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    patches.sort();
    let mut rule = String::new();
    let mut inside = false;
    for p in &patches {
        // The new file's text is the context lines and the added lines; a
        // hunk header inside the rule would mean lines were left out.
        for line in std::fs::read_to_string(p).unwrap().lines() {
            if inside && line.starts_with("@@") {
                panic!("{}: the rule spans two hunks", p.display());
            }
            let Some(text) = line.strip_prefix('+').or_else(|| line.strip_prefix(' ')) else {
                continue;
            };
            if text.contains("/* pollwise: begin rule */") {
                inside = true;
            } else if text.contains("/* pollwise: end rule */") {
                inside = false;
            } else if inside {
                rule.push_str(text);
                rule.push('\n');
            }
        }
    }
    assert!(
        rule.contains("static void pollwise_adjust("),
        "no pollwise rule between the markers in {}",
        dir.display()
    );
    rule
}

fn c_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile(&rule_from_patch(), "rule"))
}

/// Compiles `rule` with the driver into a binary named `name` in this
/// process's scratch directory.
fn compile(rule: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("pollwise-c-rule-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rule.c"), rule).unwrap();
    std::fs::write(dir.join("driver.c"), DRIVER).unwrap();
    let bin = dir.join("rule");
    let out = Command::new("cc")
        .args([
            "-std=gnu11",
            "-O2",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
        ])
        .arg(dir.join("driver.c"))
        .arg("-o")
        .arg(&bin)
        .output()
        .expect("running cc (the C compiler) for the patch's rule");
    assert!(
        out.status.success(),
        "the rule {name} does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Per step: block_ns, slept_ns, requests in flight, the handlers.
type Steps = Vec<(u64, u64, u32, Vec<HandlerId>)>;

fn c_windows(max: u64, cost: u64, w: u64, s: u64, gs: u64, steps: &Steps) -> Vec<u64> {
    run_c(c_binary(), (max, cost, w, s, gs), steps)
}

/// The five parameters in the driver's order: poll-max-ns,
/// poll-block-cost-ns, poll-weight, poll-shrink, poll-grow-start-ns.
type CParams = (u64, u64, u64, u64, u64);

fn run_c(bin: &Path, (max, cost, w, s, gs): CParams, steps: &Steps) -> Vec<u64> {
    let mut input = format!("{max} {cost} {w} {s} {gs} {HANDLERS}\n");
    for (block, slept, in_flight, hs) in steps {
        let mask: u32 = hs.iter().map(|&h| 1u32 << h).fold(0, |a, b| a | b);
        input.push_str(&format!("{block} {slept} {in_flight} {mask}\n"));
    }
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn the_patch_rule_is_compiled_and_moves() {
    // A sanity check on the harness itself, so the comparison below is not
    // of two zeros. Handler 0 has no sample at first, so the wait before
    // its first event (3000) stands in: every window from 4096 up would
    // have polled 3000 and missed nothing, so it asks the shortest, 4096.
    // The 10000 after it is its first sample: 16384 is the shortest window
    // that catches it (8192 would cost 8192 plus the prior price 24000).
    let steps: Steps = vec![
        (3000, 0, 0, vec![0]),
        (10000, 0, 0, vec![0]),
        (10000, 0, 0, vec![0]),
    ];
    assert_eq!(
        c_windows(32768, 0, 0, 0, 4000, &steps),
        [4096, 16384, 16384]
    );
    // With a price of blocking of 2000, neither 3000 nor 10000 is worth
    // polling for.
    assert_eq!(c_windows(32768, 2000, 0, 0, 4000, &steps), [0, 0, 0]);
}

/// The windows of the Rust policy on `steps`.
fn rust_windows((max, cost, w, s, gs): CParams, steps: &Steps) -> Vec<u64> {
    let pairs = [
        ("poll-max-ns", max.to_string()),
        ("poll-block-cost-ns", cost.to_string()),
        ("poll-weight", w.to_string()),
        ("poll-shrink", s.to_string()),
        ("poll-grow-start-ns", gs.to_string()),
    ];
    let params = Params::from_pairs(
        PolicyKind::Pollwise,
        pairs.iter().map(|(k, v)| (*k, v.as_str())),
    )
    .unwrap();
    let mut rust = AnyPolicy::new(params);
    steps
        .iter()
        .map(|(block_ns, slept_ns, in_flight, handlers)| {
            rust.observe(&Outcome {
                block_ns: *block_ns,
                polled: *slept_ns == 0 && *block_ns <= rust.window_ns(),
                handlers,
                slept_ns: *slept_ns,
                in_flight: *in_flight,
            });
            rust.window_ns()
        })
        .collect()
}

/// Fixed pseudo-random cases (a 64-bit LCG, so the set is the same on
/// every run): the defaults and a few fixed parameter sets, each with
/// sequences shaped like the proptest's, a third of them without sleeps.
fn fixed_cases() -> Vec<(CParams, Steps)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % n
    };
    let params: [CParams; 6] = [
        (32768, 0, 0, 0, 4000),
        // No floor: every rung of the ladder can be asked for.
        (32768, 0, 3, 0, 0),
        (16000, 0, 0, 0, 4000),
        (32768, 16000, 2, 3, 4000),
        (100_000, 0, 5, 0, 2000),
        (20_000, 50_000, 1, 4, 8000),
    ];
    let mut cases = Vec::new();
    for p in params {
        for seq in 0..40 {
            // Every third sequence comes from a host that reports no sleeps.
            let sleeps = seq % 3 != 0;
            let steps = (0..150)
                .map(|_| {
                    let block = if next(5) == 0 {
                        next(2_000_000)
                    } else {
                        next(60_000)
                    };
                    let slept = match next(3) {
                        _ if !sleeps => 0,
                        0 => 0,
                        1 => next(60_000),
                        _ => next(2_000_000),
                    }
                    .min(block);
                    let handlers = (0..next(3))
                        .map(|_| next(HANDLERS as u64) as HandlerId)
                        .collect();
                    // Mostly some requests in flight, a quarter none.
                    let in_flight = match next(4) {
                        0 => 0,
                        _ => next(40) as u32,
                    };
                    (block, slept, in_flight, handlers)
                })
                .collect();
            cases.push((p, steps));
        }
    }
    cases
}

#[test]
fn the_comparison_catches_a_changed_constant() {
    // The differential test is only worth something if a rule that differs
    // in one constant fails it. Each mutant below changes one number of the
    // patch's rule; on the fixed cases, the unchanged rule must agree with
    // the crate everywhere and every mutant must disagree somewhere.
    let rule = rule_from_patch();
    let cases = fixed_cases();
    let agrees = |bin: &Path| {
        cases
            .iter()
            .all(|(p, steps)| run_c(bin, *p, steps) == rust_windows(*p, steps))
    };
    assert!(
        agrees(c_binary()),
        "the patch's rule disagrees with the crate"
    );
    let mutants = [
        (
            "#define POLLWISE_PRIOR_BLOCK_COST_NS 24000",
            "#define POLLWISE_PRIOR_BLOCK_COST_NS 20000",
        ),
        (
            "#define POLLWISE_PRIOR_WAKEUPS 4",
            "#define POLLWISE_PRIOR_WAKEUPS 3",
        ),
        (
            "#define POLLWISE_DELAY_WEIGHT 8",
            "#define POLLWISE_DELAY_WEIGHT 7",
        ),
        (
            "#define POLLWISE_MIN_SLEEP_NS 1000",
            "#define POLLWISE_MIN_SLEEP_NS 1",
        ),
        ("MAX(in_flight, 1u)", "MAX(in_flight + 1, 1u)"),
        (
            "#define POLLWISE_WAKE_FALL_SHIFT 2",
            "#define POLLWISE_WAKE_FALL_SHIFT 3",
        ),
        (
            "#define POLLWISE_WAKE_RISE_SHIFT 10",
            "#define POLLWISE_WAKE_RISE_SHIFT 9",
        ),
        ("#define POLLWISE_LADDER 8", "#define POLLWISE_LADDER 7"),
        ("int64_t polled = MIN(sample, t);", "int64_t polled = t;"),
        ("sample > t ? 1", "sample >= t ? 1"),
        (
            "if (best < 0 || price < best)",
            "if (best < 0 || price <= best)",
        ),
        ("if (k && k <", "if (k <"),
        ("ctx->poll_weight : 3", "ctx->poll_weight : 2"),
        ("ctx->poll_shrink : 2", "ctx->poll_shrink : 3"),
        ("limit = 2 * MAX(", "limit = 3 * MAX("),
        ("block_ns -= MIN(", "block_ns -= 0 * MIN("),
    ];
    for (i, (from, to)) in mutants.iter().enumerate() {
        assert_eq!(
            rule.matches(from).count(),
            1,
            "the rule no longer contains `{from}` exactly once"
        );
        let bin = compile(&rule.replace(from, to), &format!("mutant{i}"));
        assert!(!agrees(&bin), "`{from}` -> `{to}` went unnoticed");
    }
}

#[test]
fn huge_properties_are_taken_as_ten_seconds() {
    // QEMU's IOThread accepts poll-max-ns and poll-block-cost-ns up to
    // INT64_MAX. The C rule takes anything above 10 s as 10 s (the crate's
    // bound on every time), so none of its products can overflow: its
    // windows equal those at 10 s, which are the crate's. Without the
    // clamp, `2 * MAX(poll_max_ns, ...)` overflows and the windows differ.
    let ten: u64 = 10_000_000_000;
    let huge = i64::MAX as u64;
    for (p, steps) in fixed_cases().iter().step_by(10) {
        let (_, _, w, s, gs) = *p;
        for cost in [0, huge] {
            let at_ten = (ten, cost.min(ten), w, s, gs);
            let c = run_c(c_binary(), (huge, cost, w, s, gs), steps);
            assert_eq!(c, run_c(c_binary(), at_ten, steps), "cost {cost}");
            assert_eq!(c, rust_windows(at_ten, steps), "cost {cost}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn the_crate_matches_the_patch(
        max in prop_oneof![Just(32768u64), 0..200_000u64],
        cost in prop_oneof![2 => Just(0u64), 1 => Just(16000u64), 1 => 0..200_000u64],
        weight in 0..8u64,
        shrink in 0..5u64,
        grow_start in prop_oneof![Just(4000u64), 0..50_000u64],
        steps in proptest::collection::vec(
            (prop_oneof![4 => 0..60_000u64, 1 => 0..2_000_000u64],
             prop_oneof![1 => Just(0u64), 1 => 0..60_000u64, 1 => 0..2_000_000u64],
             prop_oneof![1 => Just(0u32), 3 => 0..64u32],
             proptest::collection::vec(0..HANDLERS as u32, 0..3)),
            1..200),
    ) {
        // A sleep is never longer than the iteration.
        let steps: Steps = steps.into_iter().map(|(b, s, n, h)| (b, s.min(b), n, h)).collect();
        let p = (max, cost, weight, shrink, grow_start);
        let c = c_windows(max, cost, weight, shrink, grow_start, &steps);
        let rust = rust_windows(p, &steps);
        prop_assert_eq!(c.len(), steps.len());
        for (i, (r, c)) in rust.iter().zip(&c).enumerate() {
            prop_assert_eq!(r, c, "step {}", i);
        }
    }
}
