//! `policy replay`: a recorded trace of `block_ns` (and the handlers that
//! had the event) through one online policy, the window after each step.
//!
//! The trace drives core's loop ([`IoThread`]) as any host does: each row
//! is an iteration that begins when the last one ended, and its event comes
//! `block_ns` later. The replay only orders its own events in time (the
//! event, or the window's deadline first; at a tie the last poll pass sees
//! the event); the machine decides whether the iteration polled. A
//! recording says nothing about sleeping, so a loop that arms finds the
//! event on its re-check rather than after a wake-up: the policy is told a
//! block without a measured sleep, as before the loop existed.

use std::io::{Read, Write};

use pollwise_core::{AnyPolicy, HandlerId, IoThread, IterRecord, Policy, Step, MAX_HANDLER_ID};

use crate::formats::waits::{handler_ids, wait_of, WaitEnd};
use crate::LabError;

fn bad(msg: String) -> LabError {
    LabError::Input(msg)
}

/// One recorded iteration: the wait until its event (QEMU's `block_ns`),
/// the handlers that had it, and the requests in flight when it began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub block_ns: u64,
    pub handlers: Vec<HandlerId>,
    pub in_flight: u32,
    /// Where the wait ended (the `how` column), when the trace says.
    pub end: Option<WaitEnd>,
}

/// Record `r` as the wait `policy replay` and `policy ratio` read back
/// from its row (the same numbers as [`write_waits`] writes).
pub fn replay_wait(r: &IterRecord) -> Wait {
    let (block_ns, end) = wait_of(r);
    Wait {
        block_ns,
        handlers: handler_ids(r).collect(),
        in_flight: r.in_flight,
        end: Some(end),
    }
}

/// Reads CSV with a header row, a `block_ns` column and optionally a
/// `handler` column (ids separated by ';', empty for none; without the
/// column every event is handler 0) and an `in_flight` column (requests at
/// the device when the iteration began; without it 0) and a `how` column
/// (where the wait ended, `formats::waits::WaitEnd`'s names; empty or
/// without it, not known). `name` names the input in errors. Calls `each`
/// with every row in order.
pub fn read_waits<R: Read>(
    input: R,
    name: &str,
    mut each: impl FnMut(usize, Wait) -> Result<(), LabError>,
) -> Result<(), LabError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = csv
        .headers()
        .map_err(|e| bad(format!("{name}: cannot read the trace's header row: {e}")))?;
    let (block_col, handler_col) = columns(headers, name)?;
    let in_flight_col = headers.iter().position(|h| h == "in_flight");
    let how_col = headers.iter().position(|h| h == "how");
    for (i, record) in csv.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| record_error(&e, name, line))?;
        let text = record.get(block_col).unwrap_or("");
        let block_ns: u64 = text.parse().map_err(|_| {
            bad(format!(
                "{name}: line {line}: block_ns '{text}' is not a whole number of ns in [0, {}]",
                u64::MAX
            ))
        })?;
        let mut handlers = Vec::new();
        match handler_col {
            None => handlers.push(0),
            Some(c) => {
                let field = record.get(c).unwrap_or("");
                read_handlers(field, &mut handlers)
                    .map_err(|e| bad(format!("{name}: line {line}: {e}")))?;
            }
        }
        let in_flight = match in_flight_col {
            None => 0,
            Some(c) => {
                let text = record.get(c).unwrap_or("");
                text.parse().map_err(|_| {
                    bad(format!(
                        "{name}: line {line}: in_flight '{text}' is not a whole number of \
                         requests in [0, {}]",
                        u32::MAX
                    ))
                })?
            }
        };
        let end = match how_col.map(|c| record.get(c).unwrap_or("")) {
            None | Some("") => None,
            Some(text) => Some(WaitEnd::parse(text).ok_or_else(|| {
                let names: Vec<&str> = WaitEnd::ALL.iter().map(|e| e.name()).collect();
                bad(format!(
                    "{name}: line {line}: how '{text}' is not where a wait ends: expected one \
                     of {}",
                    names.join(", ")
                ))
            })?),
        };
        each(
            line,
            Wait {
                block_ns,
                handlers,
                in_flight,
                end,
            },
        )?;
    }
    Ok(())
}

/// An online policy's loop replaying recorded waits, one iteration each.
pub struct Replayer {
    lp: IoThread,
    now: u64,
}

impl Replayer {
    /// A fresh loop around `policy`; a clairvoyant policy is refused.
    pub fn new(policy: &AnyPolicy) -> Result<Replayer, LabError> {
        if policy.kind().is_clairvoyant() {
            return Err(bad(format!(
                "policy '{}' is clairvoyant and runs only in the simulator (`pollwise sim`); \
                 replay an online policy instead",
                policy.kind()
            )));
        }
        Ok(Replayer {
            lp: IoThread::new(policy.params().clone(), MAX_HANDLER_ID + 1, 0, u64::MAX),
            now: 0,
        })
    }

    /// The window the next iteration polls for.
    pub fn window_ns(&self) -> u64 {
        self.lp.policy().window_ns()
    }

    /// One iteration with `wait`, read at `line` of `name`.
    pub fn step(&mut self, wait: &Wait, name: &str, line: usize) -> Result<(), LabError> {
        self.lp.set_in_flight(wait.in_flight);
        self.now =
            iteration(&mut self.lp, self.now, wait.block_ns, &wait.handlers).ok_or_else(|| {
                bad(format!(
                    "{name}: line {line}: the block_ns values so far add up past 2^64 ns"
                ))
            })?;
        Ok(())
    }
}

/// Replays the waits of `input` (see [`read_waits`]) through `policy` (its
/// loop starts afresh) and writes `step,block_ns,window_ns`, the window
/// after each step. `name` names the input in errors.
pub fn replay<R: Read, W: Write>(
    policy: AnyPolicy,
    input: R,
    name: &str,
    out: &mut W,
) -> Result<(), LabError> {
    let mut r = Replayer::new(&policy)?;
    let io = |e: std::io::Error| LabError::File {
        path: "standard output".into(),
        error: e,
    };
    writeln!(out, "step,block_ns,window_ns").map_err(io)?;
    read_waits(input, name, |line, wait| {
        r.step(&wait, name, line)?;
        writeln!(out, "{},{},{}", line - 1, wait.block_ns, r.window_ns()).map_err(io)
    })
}

/// What a row that the CSV reader refused says: the input's own failure
/// (the size limit, a read error) as it is; a row of the wrong width with
/// both widths.
fn record_error(e: &csv::Error, name: &str, line: usize) -> LabError {
    match e.kind() {
        csv::ErrorKind::Io(io) => bad(format!("{name}: line {line}: {io}")),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => bad(format!(
            "{name}: line {line}: malformed CSV: {len} fields where the header has \
             {expected_len} (a '\"' that is never closed runs on to the end of the file as \
             one field)"
        )),
        _ => bad(format!("{name}: line {line}: malformed CSV: {e}")),
    }
}

/// The trace's `block_ns` column and its `handler` column, if it has one.
fn columns(headers: &csv::StringRecord, name: &str) -> Result<(usize, Option<usize>), LabError> {
    let block_col = headers
        .iter()
        .position(|h| h == "block_ns")
        .ok_or_else(|| {
            if headers.iter().all(str::is_empty) {
                return bad(format!(
                    "{name} is empty: a trace has a header with a 'block_ns' column, then one \
                     row per wait"
                ));
            }
            bad(format!(
                "{name} has no 'block_ns' column; its columns are: {}",
                headers.iter().collect::<Vec<_>>().join(", ")
            ))
        })?;
    for col in ["block_ns", "handler", "in_flight", "how"] {
        if headers.iter().filter(|&h| h == col).count() > 1 {
            return Err(bad(format!(
                "{name}: the header names column '{col}' more than once; a trace names each \
                 column once"
            )));
        }
    }
    Ok((block_col, headers.iter().position(|h| h == "handler")))
}

/// Appends the handler ids of a `handler` field (ids separated by ';',
/// empty for none) to `handlers`; the error names the bad id.
fn read_handlers(field: &str, handlers: &mut Vec<HandlerId>) -> Result<(), String> {
    if field.trim().is_empty() {
        return Ok(());
    }
    for h in field.split(';') {
        if h.trim().is_empty() {
            return Err(format!(
                "handler list '{field}' has an empty id: give ids separated by single ';' \
                 (e.g. '0;1'), or an empty field for none"
            ));
        }
        let id: HandlerId = h
            .trim()
            .parse()
            .ok()
            .filter(|&id| id <= MAX_HANDLER_ID)
            .ok_or_else(|| format!("handler '{h}' is not a handler id in [0, {MAX_HANDLER_ID}]"))?;
        handlers.push(id);
    }
    Ok(())
}

/// One recorded iteration: it begins at `t` and its event comes `block_ns`
/// later on `handlers`. Returns when it ended (`None` past `u64::MAX`).
fn iteration(lp: &mut IoThread, t: u64, block_ns: u64, handlers: &[HandlerId]) -> Option<u64> {
    let at = t.checked_add(block_ns)?;
    let step = match lp.begin(t, false) {
        Step::Poll { deadline_ns } if at <= deadline_ns => lp.arrival(at),
        Step::Poll { deadline_ns } => lp.poll_timeout(deadline_ns),
        step => step,
    };
    if step == Step::Arm {
        lp.arrival(at);
    }
    lp.noticed(at, handlers.iter().copied())
        .expect("a replayed iteration notices its event");
    lp.end(at);
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::waits::tests::rec;
    use crate::formats::waits::write_waits;
    use pollwise_core::{Params, PolicyKind};
    use std::path::Path;

    #[test]
    fn the_file_reads_back_as_the_replay_reads_waits() {
        let mut r = rec(9000, false, 5000, Some(1200));
        r.handlers = 0b101;
        let records = [rec(2500, true, 0, None), r];
        let mut out = Vec::new();
        write_waits(&mut out, &records, Path::new("w.csv")).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "block_ns,handler,in_flight,how\n2500,1,4,polled\n7800,0;2,4,doorbell\n"
        );
        let mut got = Vec::new();
        read_waits(text.as_bytes(), "w.csv", |_, w| {
            got.push((w.block_ns, w.handlers, w.in_flight, w.end));
            Ok(())
        })
        .unwrap();
        // The `how` column reads back as where each wait ended.
        assert_eq!(
            got,
            [
                (2500, vec![1], 4, Some(WaitEnd::Polled)),
                (7800, vec![0, 2], 4, Some(WaitEnd::Doorbell))
            ]
        );
        // Converted in memory, a record is the wait its row reads back as.
        let direct: Vec<_> = records
            .iter()
            .map(replay_wait)
            .map(|w| (w.block_ns, w.handlers, w.in_flight, w.end))
            .collect();
        assert_eq!(direct, got);
    }

    /// A trace that names a column twice, lists an empty handler id or
    /// gives a wait past u64 is refused with what would be right.
    #[test]
    fn ambiguous_or_out_of_range_rows_are_refused() {
        let read = |text: &str| {
            read_waits(text.as_bytes(), "w.csv", |_, _| Ok(()))
                .unwrap_err()
                .to_string()
        };
        let err = read("block_ns,block_ns,handler\n1,2,0\n");
        assert!(
            err.contains("names column 'block_ns' more than once"),
            "{err}"
        );
        let err = read("block_ns,handler\n1,0;;1\n");
        assert!(err.contains("handler list '0;;1' has an empty id"), "{err}");
        let err = read("block_ns,handler\n18446744073709551616,0\n");
        assert!(err.contains("in [0, 18446744073709551615]"), "{err}");
        let err = read("block_ns,handler\n1,0\n\"2,0\n3,0\n");
        assert!(err.contains("1 fields where the header has 2"), "{err}");
        assert!(err.contains("never closed"), "{err}");
        // An empty field is still no handler at all.
        let mut got = Vec::new();
        read_waits("block_ns,handler\n5,\n".as_bytes(), "w.csv", |_, w| {
            got.push(w.handlers);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [Vec::<HandlerId>::new()]);
    }

    fn run(kind: PolicyKind, text: &str) -> Result<String, LabError> {
        let mut out = Vec::new();
        replay(
            AnyPolicy::new(Params::defaults(kind)),
            text.as_bytes(),
            "t.csv",
            &mut out,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn qemu_grows_from_zero_on_short_blocks() {
        // QEMU's rule: an event within poll-max-ns with a window of 0 grows
        // it to 4000 ns; one within the window keeps it; one beyond the
        // window but within poll-max-ns doubles it.
        let out = run(PolicyKind::Qemu, "block_ns\n1000\n1000\n6000\n").unwrap();
        assert_eq!(
            out,
            "step,block_ns,window_ns\n1,1000,4000\n2,1000,4000\n3,6000,8000\n"
        );
    }

    #[test]
    fn a_trace_longer_than_the_clock_is_an_error() {
        let e = run(PolicyKind::Qemu, "block_ns\n18446744073709551615\n1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("2^64"), "{e}");
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let e = run(PolicyKind::Qemu, "x\n1\n").unwrap_err().to_string();
        assert!(e.contains("no 'block_ns' column") && e.contains("x"), "{e}");
        let e = run(PolicyKind::Qemu, "block_ns\n-5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("'-5'"), "{e}");
        let e = run(PolicyKind::Qemu, "block_ns,handler\n5,99999\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("handler '99999'"), "{e}");
        let e = run(PolicyKind::Qemu, "block_ns,in_flight\n5,x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("in_flight 'x'"), "{e}");
    }

    #[test]
    fn pollwise_reads_what_was_in_flight() {
        // Waits of 10 us after handler 0's events: with one request in
        // flight a block costs 9 prior wake-ups (54 us) and the rule polls
        // for the 16384 rung; with 32 in flight it costs 6000 + 48000 / 32
        // = 7500, less than polling 10 us, and it asks for nothing.
        let text = |n: u32| format!("block_ns,in_flight\n10000,{n}\n10000,{n}\n");
        let one = run(PolicyKind::Pollwise, &text(1)).unwrap();
        assert_eq!(
            one,
            "step,block_ns,window_ns\n1,10000,16384\n2,10000,16384\n"
        );
        let many = run(PolicyKind::Pollwise, &text(32)).unwrap();
        assert_eq!(many, "step,block_ns,window_ns\n1,10000,0\n2,10000,0\n");
    }
}
