//! The binary against hostile or careless inputs, round four: values given
//! twice, runs that complete nothing, outputs named two ways, limits at the
//! top of their range. None of these needs a device.

mod common;

use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

/// A small run: one row, a few milliseconds.
const ONE_ROW: [&str; 8] = [
    "--rw",
    "randread",
    "--bs",
    "8k",
    "--numjobs",
    "1",
    "--iothreads",
    "1",
];

#[test]
fn a_sweep_axis_or_value_given_twice_is_refused() {
    let d = scratch_dir("round4-sweep");
    let out = d.join("s.csv");
    let mut args = vec!["sweep", "--policy", "qemu", "--duration-ms", "5"];
    args.extend(ONE_ROW);
    args.extend(["--out", out.to_str().unwrap()]);
    let twice = [
        args.clone(),
        vec!["--param", "poll-max-ns=0,4000", "--param", "poll-max-ns=5"],
    ]
    .concat();
    let o = pollwise(&twice);
    assert_clean_error(&o, &["--param poll-max-ns is given twice", "axes 1 and 2"]);
    let o = pollwise(&[args.clone(), vec!["--param", "poll-max-ns=1,2,1"]].concat());
    assert_clean_error(&o, &["lists 1 twice"]);
    let mut numjobs_twice = args.clone();
    let at = numjobs_twice
        .iter()
        .position(|&a| a == "--numjobs")
        .unwrap();
    numjobs_twice[at + 1] = "1,1";
    assert!(numjobs_twice.contains(&"1,1"));
    let o = pollwise(&numjobs_twice);
    assert_clean_error(&o, &["--numjobs lists the same value twice"]);
    assert!(!out.exists());
    // Distinct values still sweep.
    let o = pollwise(&[args, vec!["--param", "poll-max-ns=0,4000"]].concat());
    assert_ok(&o);
    let rows = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(rows, 3, "header and two rows");
}

#[test]
fn a_compare_whose_rows_complete_nothing_has_no_verdict() {
    // A thousandfold slower disk: no request completes in 1 ms.
    let mut args = vec!["compare", "--duration-ms", "1", "--latency-scale", "10000"];
    args.extend(ONE_ROW);
    let o = pollwise(&args);
    assert_ok(&o);
    let text = stdout(&o);
    assert!(text.contains("no I/O"), "{text}");
    assert!(text.contains("verdict: INCONCLUSIVE"), "{text}");
    assert!(text.contains("completed no request"), "{text}");
    assert!(
        text.contains("no I/O = the baseline completed no request"),
        "{text}"
    );
    assert!(!text.contains("ACCEPT"), "{text}");
}

#[test]
fn the_largest_input_cap_still_reads_the_input() {
    let d = scratch_dir("round4-cap");
    let waits = d.join("waits.csv");
    let mut args = vec![
        "sim",
        "--duration-ms",
        "5",
        "--waits",
        waits.to_str().unwrap(),
    ];
    args.extend(ONE_ROW);
    assert_ok(&pollwise(&args));
    for cap in ["64", "17592186044416", "18446744073709551615"] {
        let o = pollwise(&[
            "--max-input-mb",
            cap,
            "policy",
            "ratio",
            "--input",
            waits.to_str().unwrap(),
        ]);
        assert_ok(&o);
        assert!(stdout(&o).contains("qemu"), "cap {cap}: {}", stdout(&o));
    }
}

#[test]
fn a_report_refuses_a_zero_compare_duration_before_making_its_directory() {
    let d = scratch_dir("round4-report");
    let out = d.join("r");
    let o = pollwise(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--duration-ms",
        "5",
        "--compare-duration-ms",
        "0",
    ]);
    assert_clean_error(&o, &["--compare-duration-ms must be at least 1"]);
    assert!(!out.exists());
}
