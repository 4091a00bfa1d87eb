//! `pollwise qemu` and `compare --backend qemu` through the binary: argument
//! errors are clear and need no QEMU build; one short real compare runs
//! QEMU's own loop (it builds the variants first, seconds when they are in
//! the cache). The one way to skip the real run is `POLLWISE_SKIP_QEMU=1`;
//! the skipped test says so. The scratch file goes to
//! `POLLWISE_QEMU_SCRATCH` (default /var/tmp; it must support O_DIRECT).

use std::io::Write;
use std::path::PathBuf;

use pollwise_core::COMPARE_COLUMNS;

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stderr, stdout};

/// A cache directory with nothing built in it.
fn empty_cache() -> String {
    scratch_dir("cli-qemu-empty-cache")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_policy_without_a_variant_is_refused_by_name() {
    let cache = empty_cache();
    for args in [
        vec![
            "compare",
            "--backend",
            "qemu",
            "--candidate",
            "kvm-halt-poll",
        ],
        vec!["qemu", "run", "--policy", "guest-haltpoll"],
        vec![
            "validate",
            "--backend",
            "qemu",
            "--preset",
            "optane-p4800x",
            "--policy",
            "fixed",
        ],
    ] {
        let mut a = args.clone();
        a.extend(["--cache", &cache]);
        let o = pollwise(&a);
        assert_clean_error(
            &o,
            &["has no QEMU variant", "qemu, off, weighted, pollwise"],
        );
    }
    // The oracle needs the future, whatever the backend.
    let o = pollwise(&["compare", "--backend", "qemu", "--candidate", "oracle"]);
    assert_clean_error(&o, &["only runs in simulation"]);
}

#[test]
fn qemu_waits_go_to_a_file_not_standard_output() {
    let cache = empty_cache();
    let o = pollwise(&["qemu", "run", "--waits", "-", "--cache", &cache]);
    assert_clean_error(&o, &["--waits -", "give a file name"]);
}

#[test]
fn a_variant_that_is_not_built_names_the_build_command() {
    let cache = empty_cache();
    let o = pollwise(&["compare", "--backend", "qemu", "--cache", &cache]);
    assert_clean_error(
        &o,
        &["variant 'stock'", "is not built", "pollwise qemu build"],
    );
    let o = pollwise(&["qemu", "run", "--policy", "weighted", "--cache", &cache]);
    assert_clean_error(&o, &["variant 'weighted'", "is not built"]);
    // validate's default policies are those QEMU's loop has variants of
    // (no `fixed`), so it gets as far as the build check.
    let o = pollwise(&[
        "validate",
        "--backend",
        "qemu",
        "--preset",
        "optane-p4800x",
        "--cache",
        &cache,
    ]);
    assert_clean_error(&o, &["variant 'stock'", "is not built"]);
    assert!(
        !stderr(&o).contains("has no QEMU variant"),
        "{}",
        stderr(&o)
    );
    // Nothing was left behind in the cache directory.
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

#[test]
fn real_backend_flags_are_refused_by_the_simulator() {
    let o = pollwise(&["compare", "--size-mb", "64"]);
    assert_clean_error(&o, &["--backend device|qemu", "--preset"]);
    let o = pollwise(&["compare", "--repeat", "2", "--seeds", "2"]);
    assert_clean_error(&o, &["--seeds", "--repeat"]);
    let o = pollwise(&["compare", "--backend", "nope"]);
    assert_clean_error(&o, &["sim", "device", "qemu"]);
    // validate measures: it offers only the backends it runs.
    for flag in ["--backend", "--against"] {
        let o = pollwise(&["validate", flag, "sim", "--preset", "optane-p4800x"]);
        assert_clean_error(&o, &["invalid value 'sim'", "device, qemu"]);
    }
    let o = pollwise(&["validate", "--help"]);
    assert!(!stdout(&o).contains("sim:"), "{}", stdout(&o));
}

fn skipped(test: &str) -> bool {
    if pollwise_qemu::skip_requested() {
        let msg = format!(
            "\nSKIPPED {test}: {}=1, QEMU's loop was not run\n",
            pollwise_qemu::SKIP_ENV
        );
        let _ = std::io::stderr().write_all(msg.as_bytes());
        return true;
    }
    false
}

fn qemu_scratch() -> PathBuf {
    std::env::var_os("POLLWISE_QEMU_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

#[test]
fn compare_runs_qemus_own_loop() {
    if skipped("compare_runs_qemus_own_loop") {
        return;
    }
    let o = pollwise(&["qemu", "build"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("build time"),
        "no build times printed: {}",
        stdout(&o)
    );
    // A directory of this test's own, so that it can check nothing is left.
    let dir = qemu_scratch().join(format!("pollwise-cli-qemu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = pollwise(&[
        "compare",
        "--backend",
        "qemu",
        "--dir",
        dir.to_str().unwrap(),
        "--size-mb",
        "64",
        "--iodepth",
        "1,4",
        "--repeat",
        "2",
        "--duration-ms",
        "300",
        "--candidate",
        "weighted:poll-weight=2",
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let text = stdout(&o);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..COMPARE_COLUMNS.len()], COMPARE_COLUMNS, "{text}");
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "one row per iodepth: {text}");
    for (row, qd) in rows.iter().zip(["1", "4"]) {
        assert_eq!(&row[at("iodepth")], qd);
        assert_eq!(&row[at("repeat")], "2");
        assert_eq!(&row[at("baseline")], "qemu");
        assert_eq!(&row[at("candidate")], "weighted");
        assert!(row[at("candidate_params")].contains("poll-weight=2"));
        assert_eq!(&row[at("preset")], "scratch");
        for col in ["baseline_iops", "candidate_iops", "baseline_cpu_pct"] {
            let v: f64 = row[at(col)].parse().unwrap();
            assert!(v > 0.0, "{col} = {v}: {text}");
        }
    }
    // The scratch file is gone.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "files left: {left:?}; {}", stderr(&o));
    std::fs::remove_dir(&dir).unwrap();
}
