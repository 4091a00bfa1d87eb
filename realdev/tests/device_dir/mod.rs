//! Where device tests put their scratch files, or an explicit skip.
//!
//! A device test needs a directory on a filesystem that supports O_DIRECT.
//! When none of the candidates does, the test fails and lists what it tried:
//! a test that returned early would pass without checking anything. Setting
//! `POLLWISE_SKIP_DEVICE_TESTS=1` skips these tests instead, and each one
//! says so on stderr (written past the test harness's output capture, so the
//! skip shows in a normal `cargo test` run).
//!
//! The candidates are the directories in `POLLWISE_TEST_DIRS` (separated by
//! `:`) when it is set, else the system temp dir and the target directory's
//! tmp (disk-backed where /tmp is a tmpfs).
//!
//! Shared by `realdev/tests/device_runs.rs`, `realdev/tests/reliability.rs`
//! and `tests/cli_realdev.rs`.

use std::io::Write;
use std::path::PathBuf;

use pollwise_realdev::target::{Target, TargetSpec};

/// Set (to anything but empty or `0`) to skip the tests that need a device.
pub const SKIP_VAR: &str = "POLLWISE_SKIP_DEVICE_TESTS";
/// `:`-separated directories to try instead of the default candidates.
pub const DIRS_VAR: &str = "POLLWISE_TEST_DIRS";

/// A directory that supports O_DIRECT. `None` only when the user asked to
/// skip device tests; panics, naming every directory tried and why it was
/// refused, when no candidate works.
pub fn device_dir() -> Option<PathBuf> {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if skip_requested() {
        // Not eprintln!: the harness would capture it and show it only if
        // the test failed. One write, so that parallel tests do not
        // interleave their lines.
        let msg = format!(
            "\nSKIPPED BY REQUEST ({SKIP_VAR} is set): {test} ran no I/O, checked nothing\n"
        );
        let _ = std::io::stderr().write_all(msg.as_bytes());
        return None;
    }
    let mut tried = Vec::new();
    for dir in candidates() {
        let spec = TargetSpec::Scratch {
            dir: Some(dir.clone()),
            size_bytes: 1 << 20,
        };
        match Target::open(&spec, 4096, true) {
            Ok(_) => return Some(dir),
            Err(e) => tried.push(format!("  {}: {e}", dir.display())),
        }
    }
    panic!(
        "{test} needs a directory on a filesystem that supports O_DIRECT, \
         and none of these does:\n{}\n\
         Set {DIRS_VAR}=/a/dir/on/a/disk (ext4 and xfs support O_DIRECT; \
         not every tmpfs does), or set {SKIP_VAR}=1 to skip the device tests.",
        tried.join("\n")
    );
}

pub fn skip_requested() -> bool {
    matches!(std::env::var(SKIP_VAR).as_deref(), Ok(v) if !v.is_empty() && v != "0")
}

fn candidates() -> Vec<PathBuf> {
    match std::env::var(DIRS_VAR) {
        Ok(list) if !list.is_empty() => std::env::split_paths(&list).collect(),
        _ => vec![
            std::env::temp_dir(),
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        ],
    }
}
