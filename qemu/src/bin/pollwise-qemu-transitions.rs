//! Reads a harness trace (`--trace FILE`) of the stock variant, checks every
//! recorded window transition against pollwise's `qemu` policy, and writes
//! per-handler inputs for `pollwise policy replay` with the windows QEMU
//! recorded beside them (see `pollwise_qemu::transitions`).
//!
//! usage: pollwise-qemu-transitions TRACE.log OUT_DIR [NAME=VALUE ...]
//! (the qemu policy's parameters as given to the harness)

use std::path::PathBuf;

use std::error::Error;

use pollwise_core::{Params, PolicyKind};
use pollwise_qemu::transitions::{check_qemu, parse_log, write_replay_inputs};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: pollwise-qemu-transitions TRACE.log OUT_DIR [NAME=VALUE ...]".into());
    }
    let trace = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let pairs: Vec<(&str, &str)> = args[2..]
        .iter()
        .map(|a| {
            a.split_once('=')
                .ok_or_else(|| format!("'{a}' is not NAME=VALUE").into())
        })
        .collect::<Result<_>>()?;
    let params = Params::from_pairs(PolicyKind::Qemu, pairs)?;
    let text = std::fs::read_to_string(&trace)
        .map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
    let log = parse_log(&text)?;
    let check = check_qemu(&log.transitions, &params)?;
    write_replay_inputs(&check, &out)?;
    println!(
        "{} transitions over {} handlers, {} match pollwise's qemu policy ({}); busy-poll loops entered: {}",
        check.transitions,
        check.handlers,
        check.matched,
        params,
        log.poll_loops
    );
    for m in &check.mismatches {
        println!("  {m}");
    }
    if !check.all_match() {
        std::process::exit(1);
    }
    Ok(())
}
