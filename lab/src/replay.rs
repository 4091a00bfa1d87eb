//! `policy replay`: a recorded trace of `block_ns` (and the handlers that
//! had the event) through one online policy, the window after each step.

use std::io::{Read, Write};

use pollwise_core::{AnyPolicy, HandlerId, Outcome, Policy, MAX_HANDLER_ID};

use crate::LabError;

fn bad(msg: String) -> LabError {
    LabError::Input(msg)
}

/// Reads CSV with a header row, a `block_ns` column and optionally a
/// `handler` column (ids separated by ';', empty for none; without the
/// column every event is handler 0), and writes `step,block_ns,window_ns`.
/// `name` names the input in errors.
pub fn replay<R: Read, W: Write>(
    mut policy: AnyPolicy,
    input: R,
    name: &str,
    out: &mut W,
) -> Result<(), LabError> {
    if policy.kind().is_clairvoyant() {
        return Err(bad(format!(
            "policy '{}' is clairvoyant and runs only in the simulator (`pollwise sim`); \
             replay an online policy instead",
            policy.kind()
        )));
    }
    let io = |e: std::io::Error| LabError::File {
        path: "standard output".into(),
        error: e,
    };
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = csv
        .headers()
        .map_err(|e| bad(format!("{name}: cannot read the trace's header row: {e}")))?
        .clone();
    let block_col = headers
        .iter()
        .position(|h| h == "block_ns")
        .ok_or_else(|| {
            bad(format!(
                "{name} has no 'block_ns' column; its columns are: {}",
                headers.iter().collect::<Vec<_>>().join(", ")
            ))
        })?;
    let handler_col = headers.iter().position(|h| h == "handler");
    writeln!(out, "step,block_ns,window_ns").map_err(io)?;
    let mut handlers: Vec<HandlerId> = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let step = i + 1;
        let line = step + 1;
        let record = record.map_err(|e| bad(format!("{name}: line {line}: malformed CSV: {e}")))?;
        let text = record.get(block_col).unwrap_or("");
        let block_ns: u64 = text.parse().map_err(|_| {
            bad(format!(
                "{name}: line {line}: block_ns '{text}' is not a non-negative whole number of ns"
            ))
        })?;
        handlers.clear();
        match handler_col {
            None => handlers.push(0),
            Some(c) => {
                for h in record
                    .get(c)
                    .unwrap_or("")
                    .split(';')
                    .filter(|s| !s.is_empty())
                {
                    let id: HandlerId = h
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&id| id <= MAX_HANDLER_ID)
                        .ok_or_else(|| {
                            bad(format!(
                                "{name}: line {line}: handler '{h}' is not a handler id in \
                                 [0, {MAX_HANDLER_ID}]"
                            ))
                        })?;
                    handlers.push(id);
                }
            }
        }
        let polled = block_ns <= policy.window_ns();
        policy.observe(&Outcome {
            block_ns,
            polled,
            handlers: &handlers,
            slept_ns: 0,
        });
        writeln!(out, "{step},{block_ns},{}", policy.window_ns()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::{Params, PolicyKind};

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
    }
}
