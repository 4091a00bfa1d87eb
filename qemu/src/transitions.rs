//! QEMU's recorded window transitions against pollwise's `qemu` policy.
//!
//! The harness's `--trace FILE` turns on QEMU's `poll_grow`/`poll_shrink`
//! and `run_poll_handlers_*` trace events (log backend); each line reads
//! `poll_grow ctx 0x.. old 4000 new 8000`. In QEMU 10.0 every poll handler
//! has its own window (`AioPolledEvent`), but the trace events name only the
//! context, so a transition is attributed to a handler whose window equals
//! its `old` value (a handler that joins the poll list starts at 0). Which
//! one is taken when several match does not matter: they are in the same
//! state, so the multiset of windows evolves the same way.
//!
//! Each transition is then replayed through pollwise's `qemu` policy, one
//! policy instance per handler, with a `block_ns` that selects the traced
//! branch (QEMU traces no `block_ns`): `old + 1` for a grow (the grow branch
//! needs `old < block_ns < poll-max-ns`) and `poll-max-ns + 1` for a shrink.
//! The check passes when every recorded `new` is the window pollwise
//! computes and no transition starts from a window no handler has. What it
//! proves: QEMU's per-handler state machine and arithmetic (4000 ns start,
//! `poll-grow`, the cap, `poll-shrink` or the reset to 0) are pollwise's; it
//! does not compare the thresholds on `block_ns` themselves.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{fail, Context, ErrorKind, Result};
use pollwise_core::{Outcome, Params, Policy, PolicyKind, Qemu};

/// Which branch of `adjust_polling_time()` a trace line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    Grow,
    Shrink,
}

/// One traced window change of one (unnamed) handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub branch: Branch,
    pub old: u64,
    pub new: u64,
}

/// What a trace log holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceLog {
    pub transitions: Vec<Transition>,
    /// `run_poll_handlers_begin` events: entries into the busy-poll loop.
    pub poll_loops: u64,
    /// `poll_add` events: handlers joining the poll list.
    pub poll_adds: u64,
}

fn field(words: &[&str], name: &str, line_no: usize) -> Result<u64> {
    let i = words
        .iter()
        .position(|w| *w == name)
        .with_context(ErrorKind::Trace, || {
            format!("trace line {line_no}: no '{name}' field")
        })?;
    let v = words.get(i + 1).with_context(ErrorKind::Trace, || {
        format!("trace line {line_no}: '{name}' has no value")
    })?;
    let v: i64 = v.parse().with_context(ErrorKind::Trace, || {
        format!("trace line {line_no}: '{name}' value '{v}' is not an integer")
    })?;
    u64::try_from(v).with_context(ErrorKind::Trace, || {
        format!("trace line {line_no}: '{name}' is negative ({v})")
    })
}

/// Parses QEMU's log-backend trace lines; other lines are ignored.
pub fn parse_log(text: &str) -> Result<TraceLog> {
    let mut log = TraceLog::default();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        // With timestamps on, the event name follows "pid@sec.usec:".
        let event = first.rsplit(':').next().unwrap_or(first);
        let branch = match event {
            "poll_grow" => Branch::Grow,
            "poll_shrink" => Branch::Shrink,
            "run_poll_handlers_begin" => {
                log.poll_loops += 1;
                continue;
            }
            "poll_add" => {
                log.poll_adds += 1;
                continue;
            }
            _ => continue,
        };
        log.transitions.push(Transition {
            branch,
            old: field(&words, "old", i + 1)?,
            new: field(&words, "new", i + 1)?,
        });
    }
    Ok(log)
}

/// The outcome of [`check_qemu`].
#[derive(Clone, Debug, Default)]
pub struct Check {
    pub transitions: usize,
    pub matched: usize,
    /// Handlers the transitions were spread over.
    pub handlers: usize,
    /// The first few disagreements, described.
    pub mismatches: Vec<String>,
    /// Per handler, the replay input (`block_ns`) and the windows QEMU
    /// recorded, for `pollwise policy replay`.
    pub per_handler: Vec<Vec<(u64, u64)>>,
}

impl Check {
    pub fn all_match(&self) -> bool {
        self.matched == self.transitions && self.mismatches.is_empty()
    }
}

/// At most this many handlers may join (ring, linux-aio, the context's own
/// notifier, and spares).
const MAX_HANDLERS: usize = 16;

/// Replays `transitions` through pollwise's `qemu` policy with `params`.
pub fn check_qemu(transitions: &[Transition], params: &Params) -> Result<Check> {
    if params.kind() != PolicyKind::Qemu {
        fail!(
            Trace,
            "the transition check is for policy 'qemu', not '{}'",
            params.kind()
        );
    }
    let max = params.poll_max_ns();
    let mut handlers: Vec<Qemu> = Vec::new();
    let mut check = Check {
        transitions: transitions.len(),
        ..Check::default()
    };
    for (step, t) in transitions.iter().enumerate() {
        let h = match handlers.iter().position(|p| p.window_ns() == t.old) {
            Some(h) => h,
            None if t.old == 0 && handlers.len() < MAX_HANDLERS => {
                handlers.push(Qemu::new(params.clone()));
                check.per_handler.push(Vec::new());
                handlers.len() - 1
            }
            None => {
                if check.mismatches.len() < 10 {
                    check.mismatches.push(format!(
                        "transition {}: {:?} from {} ns, but no handler has that window (windows: {:?})",
                        step + 1,
                        t.branch,
                        t.old,
                        handlers.iter().map(|p| p.window_ns()).collect::<Vec<_>>()
                    ));
                }
                continue;
            }
        };
        let block_ns = match t.branch {
            Branch::Grow => t.old + 1,
            Branch::Shrink => max + 1,
        };
        handlers[h].observe(&Outcome::blocked(block_ns, &[0]));
        let got = handlers[h].window_ns();
        check.per_handler[h].push((block_ns, t.new));
        if got == t.new {
            check.matched += 1;
        } else if check.mismatches.len() < 10 {
            check.mismatches.push(format!(
                "transition {}: {:?} {} -> {} in QEMU, pollwise's qemu gives {}",
                step + 1,
                t.branch,
                t.old,
                t.new,
                got
            ));
        }
    }
    check.handlers = handlers.len();
    Ok(check)
}

/// Writes, per handler `k`, `events-k.csv` (the `block_ns` column
/// `pollwise policy replay` reads) and `expected-k.csv` (what replay must
/// print: `step,block_ns,window_ns` with QEMU's recorded windows).
pub fn write_replay_inputs(check: &Check, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(ErrorKind::Io, || format!("cannot create {}", dir.display()))?;
    for (k, steps) in check.per_handler.iter().enumerate() {
        let mut events = String::from("block_ns\n");
        let mut expected = String::from("step,block_ns,window_ns\n");
        for (i, (block_ns, window)) in steps.iter().enumerate() {
            writeln!(events, "{block_ns}").unwrap();
            writeln!(expected, "{},{block_ns},{window}", i + 1).unwrap();
        }
        let ev = dir.join(format!("events-{k}.csv"));
        let ex = dir.join(format!("expected-{k}.csv"));
        std::fs::write(&ev, events)
            .with_context(ErrorKind::Io, || format!("cannot write {}", ev.display()))?;
        std::fs::write(&ex, expected)
            .with_context(ErrorKind::Io, || format!("cannot write {}", ex.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(PolicyKind::Qemu, pairs.iter().copied()).unwrap()
    }

    #[test]
    fn parses_log_lines_with_and_without_timestamps() {
        let log = parse_log(
            "poll_add ctx 0x1 node 0x2 fd 5 revents 0x1\n\
             run_poll_handlers_begin ctx 0x1 max_ns 4000 timeout -1\n\
             poll_grow ctx 0x1 old 0 new 4000\n\
             123@1700000000.000001:poll_shrink ctx 0x1 old 4000 new 0\n\
             something else\n",
        )
        .unwrap();
        assert_eq!(log.poll_adds, 1);
        assert_eq!(log.poll_loops, 1);
        assert_eq!(
            log.transitions,
            vec![
                Transition {
                    branch: Branch::Grow,
                    old: 0,
                    new: 4000
                },
                Transition {
                    branch: Branch::Shrink,
                    old: 4000,
                    new: 0
                },
            ]
        );
    }

    #[test]
    fn qemu_sequences_match() {
        let p = qemu(&[]);
        let t = |branch, old, new| Transition { branch, old, new };
        // Two handlers interleaved: one grows to the cap, the other resets.
        let seq = [
            t(Branch::Grow, 0, 4000),
            t(Branch::Grow, 0, 4000),
            t(Branch::Grow, 4000, 8000),
            t(Branch::Shrink, 4000, 0),
            t(Branch::Grow, 8000, 16000),
            t(Branch::Grow, 16000, 32000),
            t(Branch::Grow, 32000, 32768),
            t(Branch::Shrink, 0, 0),
            t(Branch::Shrink, 32768, 0),
        ];
        let c = check_qemu(&seq, &p).unwrap();
        assert!(c.all_match(), "{:?}", c.mismatches);
        assert_eq!(c.handlers, 2);
    }

    #[test]
    fn a_wrong_transition_is_found() {
        let p = qemu(&[("poll-shrink", "2")]);
        let seq = [
            Transition {
                branch: Branch::Grow,
                old: 0,
                new: 4000,
            },
            // QEMU's rule with poll-shrink 2 halves; a reset is wrong.
            Transition {
                branch: Branch::Shrink,
                old: 4000,
                new: 0,
            },
            // And nothing has a window of 5000.
            Transition {
                branch: Branch::Grow,
                old: 5000,
                new: 10000,
            },
        ];
        let c = check_qemu(&seq, &p).unwrap();
        assert!(!c.all_match());
        assert_eq!(c.matched, 1);
        assert_eq!(c.mismatches.len(), 2, "{:?}", c.mismatches);
    }
}
