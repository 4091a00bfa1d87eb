//! `pollwise bench --against`: this build against another, side by side.

use std::os::unix::fs::PermissionsExt;

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

/// A stand-in for another build: prints a fixed CSV line, whatever it is
/// asked, or fails.
fn fake_build(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("other-pollwise");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn against_another_build_reports_each_command_side_by_side() {
    let d = scratch_dir("bench-against");
    let other = fake_build(&d, "echo rw,bs");
    let o = pollwise(&["bench", "--against", &other, "--repeat", "2"]);
    assert_ok(&o);
    let text = stdout(&o);
    for name in ["default compare", "SimPy's workload"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"));
        // The stand-in prints at once: this build is slower, and its CSV
        // is not the stand-in's line.
        assert!(line.contains("speed-up 0."), "{line}");
        assert!(line.contains(": slower"), "{line}");
        assert!(line.contains("outputs differ"), "{line}");
        assert!(line.contains("median of 2 interleaved rounds"), "{line}");
    }
}

#[test]
fn against_a_missing_or_failing_build_is_a_clean_error() {
    let o = pollwise(&["bench", "--against", "/nonexistent/pollwise"]);
    assert_clean_error(&o, &["--against /nonexistent/pollwise: no such file"]);
    // A bare name is a file here, not a program on PATH.
    let o = pollwise(&["bench", "--against", "sh"]);
    assert_clean_error(&o, &["--against sh: no such file"]);
    let d = scratch_dir("bench-failing");
    // An older build that lacks a flag: clap's error line, then its usage.
    let other = fake_build(
        &d,
        "echo 'error: unexpected argument' >&2; echo 'For more information, try --help.' >&2; \
         exit 2",
    );
    let o = pollwise(&["bench", "--against", &other, "--repeat", "1"]);
    assert_clean_error(
        &o,
        &["default compare", "failed", "error: unexpected argument"],
    );
}
