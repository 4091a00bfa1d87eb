//! Golden output: the SHA-256 of `pollwise compare`'s stdout on both
//! embedded presets, run through the binary. The simulator promises the
//! same bytes for the same preset, workload, parameters and seed; these
//! hashes hold it to that promise across changes, and catch any change to
//! a printed number that was not meant.
//!
//! When a change of the model's semantics is intended, rerun the command
//! named in the failure, check the new output is right (and say in the
//! commit which numbers moved and why), and put the new hash here.

use sha2::{Digest, Sha256};

mod common;
use common::{assert_ok, pollwise, stdout};

/// `pollwise compare` (preset optane-p4800x, qemu against weighted).
const DEFAULT_COMPARE: &str = "476db10072403c5ffd8faba379247fa1cfd20022d5364002813be77e8a5ef844";
/// `pollwise compare --preset fcp-16disk`.
const FCP_16DISK_COMPARE: &str = "cdf94bb829959189a231e73aca486cae48997fbf6a072935456978525e077958";

fn assert_golden(args: &[&str], expected: &str) {
    let o = pollwise(args);
    assert_ok(&o);
    let text = stdout(&o);
    assert!(
        text.lines().count() > 10,
        "too little output to pin: {text}"
    );
    let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
    assert_eq!(
        hash,
        expected,
        "`pollwise {}` printed different bytes.\n\
         If the change of output is intended (a change of the model's semantics), check the \
         new output, say in the commit which numbers changed and why, and set the constant in \
         tests/golden.rs to the new hash:\n    {hash}\n\
         Otherwise the simulation is no longer deterministic or a number changed by accident.\n\
         The output now:\n{text}",
        args.join(" ")
    );
}

#[test]
fn default_compare_is_byte_for_byte_the_same() {
    assert_golden(&["compare"], DEFAULT_COMPARE);
}

#[test]
fn fcp_16disk_compare_is_byte_for_byte_the_same() {
    assert_golden(&["compare", "--preset", "fcp-16disk"], FCP_16DISK_COMPARE);
}
