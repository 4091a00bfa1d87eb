//! QEMU in and out, through the binary: a policy setting in QEMU's and
//! libvirt's syntax, and a QEMU log-backend trace drawn by `plot window`.

use std::fs;

use pollwise_core::TraceRow;

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stderr, stdout};

#[test]
fn policy_show_prints_the_setting_for_qemu_qmp_and_libvirt() {
    let o = pollwise(&[
        "policy",
        "show",
        "--policy",
        "qemu:poll-max-ns=16000,poll-shrink=2",
        "--qemu",
    ]);
    assert_ok(&o);
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("-object iothread,id=iothread1,poll-max-ns=16000,poll-grow=0,poll-shrink=2"),
        "{text}"
    );
    assert!(
        text.contains(r#""property": "poll-shrink", "value": 2"#),
        "{text}"
    );
    assert!(
        text.contains("<poll max='16000' grow='0' shrink='2'/>"),
        "{text}"
    );
    // As it acts (QEMU's stored poll-grow=0 means 2), the way compare's
    // table prints it.
    assert!(
        text.starts_with("policy qemu: poll-max-ns=16000 poll-grow=2 poll-shrink=2\n"),
        "{text}"
    );
    let o = pollwise(&[
        "policy",
        "show",
        "--policy",
        "weighted",
        "--poll-weight",
        "3",
        "--qemu",
    ]);
    assert_ok(&o);
    assert!(stdout(&o).contains(",poll-weight=3"));
    // The deprecated flag still works and names the spec to write.
    assert!(
        stderr(&o).contains(
            "note: --poll-weight is deprecated and will be removed in the next release; \
             write --policy weighted:poll-weight=3"
        ),
        "{}",
        stderr(&o)
    );
    assert_clean_error(
        &pollwise(&["policy", "show", "--policy", "pollwise", "--qemu"]),
        &["no QEMU IOThread equivalent"],
    );
}

#[test]
fn a_qemu_trace_imports_and_plots() {
    let dir = scratch_dir("qemu-trace");
    let trace = dir.join("trace.csv");
    let log = format!(
        "{}/examples/qemu/poll-trace.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = pollwise(&[
        "import",
        "qemu-trace",
        "--input",
        &log,
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let rows: Vec<TraceRow> = csv::Reader::from_path(&trace)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let windows: Vec<u64> = rows.iter().map(|r| r.window_ns).collect();
    assert_eq!(windows, [0, 4000, 8000, 16000, 32000, 0, 4000, 8000]);
    assert_eq!(rows[1].time_ns, 10_000);
    let png = dir.join("w.png");
    let o = pollwise(&[
        "plot",
        "window",
        "--trace",
        trace.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(fs::metadata(&png).unwrap().len() > 0);
    let bad = dir.join("bad.log");
    fs::write(&bad, "1@2.000003:poll_grow ctx 0xa old 0 new x\n").unwrap();
    assert_clean_error(
        &pollwise(&[
            "import",
            "qemu-trace",
            "--input",
            bad.to_str().unwrap(),
            "--out",
            dir.join("t2.csv").to_str().unwrap(),
        ]),
        &["line 1", "'x'"],
    );
    fs::remove_dir_all(&dir).unwrap();
}
