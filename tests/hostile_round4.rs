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

#[test]
fn import_fio_refuses_impossible_cpu_and_a_run_without_runtime() {
    let d = scratch_dir("round4-fio");
    let json = |runtime: u32| {
        let path = d.join(format!("r{runtime}.json"));
        std::fs::write(
            &path,
            format!(
                r#"{{"fio version": "fio-3.33", "jobs": [{{"jobname": "a", "groupid": 0,
                  "error": 0, "job_runtime": {runtime},
                  "job options": {{"rw": "randread", "bs": "4k", "iodepth": "1"}},
                  "read": {{"iops": 990, "bw_bytes": 4096, "lat_ns": {{"mean": 1000}},
                    "clat_ns": {{"bins": {{"1000": 10}}}}}}}}]}}"#
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let ok = json(1000);
    assert_ok(&pollwise(&[
        "import",
        "fio",
        "--json",
        &ok,
        "--iothread-cpu",
        "100",
    ]));
    let o = pollwise(&["import", "fio", "--json", &ok, "--iothread-cpu", "101"]);
    assert_clean_error(&o, &["the IOThread's CPU is 101%", "0 ..= 100"]);
    // sar's busy share is 100 - %idle: a negative %idle is no sar report.
    let sar = d.join("sar.txt");
    std::fs::write(
        &sar,
        "12:00:01 AM     CPU     %user     %nice   %system   %iowait    %steal     %idle\n\
         Average:          3     38.00      0.00     20.00      0.00      0.00    -50.00\n",
    )
    .unwrap();
    let o = pollwise(&[
        "import",
        "fio",
        "--json",
        &ok,
        "--sar",
        sar.to_str().unwrap(),
        "--sar-cpu",
        "3",
    ]);
    assert_clean_error(&o, &["the IOThread's CPU is 150%"]);
    let o = pollwise(&[
        "import",
        "fio",
        "--json",
        &ok,
        "--json",
        &ok,
        "--iothread-cpu",
        "5",
    ]);
    assert_clean_error(&o, &["are the same file", "once"]);
    let none = json(0);
    let o = pollwise(&["import", "fio", "--json", &none, "--iothread-cpu", "50"]);
    assert_clean_error(&o, &["job_runtime is 0 or missing"]);
}

#[test]
fn a_parameter_given_by_the_spec_and_an_old_flag_is_refused() {
    let mut args = vec![
        "sim",
        "--duration-ms",
        "5",
        "--policy",
        "qemu:poll-max-ns=8000",
        "--param",
        "poll-max-ns=16000",
    ];
    args.extend(ONE_ROW);
    let o = pollwise(&args);
    assert_clean_error(&o, &["sets a parameter already given (poll-max-ns=8000)"]);
    // Each given once, the old spelling still works.
    let mut args = vec![
        "sim",
        "--duration-ms",
        "5",
        "--policy",
        "qemu:poll-shrink=2",
        "--param",
        "poll-max-ns=16000",
    ];
    args.extend(ONE_ROW);
    assert_ok(&pollwise(&args));
}

#[test]
fn a_trace_on_standard_output_would_mix_with_the_result_and_is_refused() {
    for flag in ["--trace", "--waits"] {
        let mut args = vec!["sim", "--duration-ms", "5", flag, "-"];
        args.extend(ONE_ROW);
        let o = pollwise(&args);
        assert_clean_error(&o, &[flag, "standard output carries the run's result"]);
    }
}

#[test]
fn prices_and_poll_max_out_of_range_are_refused() {
    let o = pollwise(&[
        "policy",
        "ratio",
        "--input",
        "docs/pollwise-trace.csv",
        "--price-ns",
        "18446744073709551615",
    ]);
    assert_clean_error(&o, &["--price-ns"]);
    let o = pollwise(&[
        "policy",
        "ratio",
        "--input",
        "docs/pollwise-trace.csv",
        "--wake-ns",
        "0",
    ]);
    assert_clean_error(&o, &["--wake-ns"]);
    // QEMU never grows a window past poll-max-ns.
    let d = scratch_dir("round4-qemu-trace");
    let out = d.join("t.csv");
    let o = pollwise(&[
        "import",
        "qemu-trace",
        "--input",
        "examples/qemu/poll-trace.log",
        "--poll-max-ns",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_error(
        &o,
        &[
            "above --poll-max-ns 2",
            "the poll-max-ns the IOThread ran with",
        ],
    );
    assert!(!out.exists());
}

#[test]
fn a_sweep_value_spelled_twice_or_fixed_by_the_policy_is_refused() {
    let d = scratch_dir("round4-sweep-fixed");
    let out = d.join("s.csv");
    let mut args = vec![
        "sweep",
        "--duration-ms",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(ONE_ROW);
    let o = pollwise(
        &[
            args.clone(),
            vec!["--policy", "qemu", "--param", "poll-max-ns=4000,4_000"],
        ]
        .concat(),
    );
    assert_clean_error(&o, &["lists 4000 twice ('4000' and '4_000')"]);
    let o = pollwise(
        &[
            args,
            vec![
                "--policy",
                "qemu:poll-max-ns=8000",
                "--param",
                "poll-max-ns=0,4000",
            ],
        ]
        .concat(),
    );
    assert_clean_error(
        &o,
        &["sweeps a parameter --policy qemu:poll-max-ns=8000 fixes at 8000"],
    );
    assert!(!out.exists());
}

#[test]
fn a_device_run_checks_its_outputs_as_a_simulated_one_does() {
    let d = scratch_dir("round4-realdev");
    let link = d.join("link");
    std::os::unix::fs::symlink(&d, &link).unwrap();
    let dir = d.to_str().unwrap();
    let o = pollwise(&[
        "realdev",
        "run",
        "--dir",
        dir,
        "--duration-ms",
        "5",
        "--trace",
        "-",
    ]);
    assert_clean_error(&o, &["--trace -: standard output carries the run's result"]);
    let (a, b) = (d.join("a.csv"), link.join("a.csv"));
    let o = pollwise(&[
        "realdev",
        "run",
        "--dir",
        dir,
        "--duration-ms",
        "5",
        "--trace",
        a.to_str().unwrap(),
        "--waits",
        b.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["are the same file"]);
    assert!(!a.exists());
}

#[test]
fn numbers_near_the_top_of_f64_are_refused_not_drawn_forever() {
    let d = scratch_dir("round4-plot-huge");
    let input = d.join("r.csv");
    std::fs::write(
        &input,
        "policy,params,rw,bs,numjobs,iothreads,iops,iothread_cpu_pct\n\
         qemu,poll-max-ns=32768,randread,8192,1,1,1.7e308,80\n\
         weighted,poll-weight=2,randread,8192,1,1,1.7e308,60\n",
    )
    .unwrap();
    let png = d.join("p.png");
    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        input.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["column 'iops'", "between -1e18 and 1e18", "1.7e308"]);
    assert!(!png.exists());
}

#[test]
fn a_tune_budget_past_a_week_is_refused() {
    let o = pollwise(&[
        "tune",
        "--qemu-version",
        "10.0",
        "--preset",
        "optane-p4800x",
        "--budget-minutes",
        "1e300",
    ]);
    assert_clean_error(&o, &["is more than a week", "at most 10080"]);
}

#[test]
fn a_report_stopped_while_it_simulates_leaves_the_earlier_report_whole() {
    let d = scratch_dir("round4-report-stop");
    let out = d.join("r");
    let args = |seed: &'static str, ms: &'static str| {
        vec![
            "report",
            "--out",
            out.to_str().unwrap(),
            "--repeat",
            "1",
            "--duration-ms",
            ms,
            "--compare-duration-ms",
            ms,
            "--threads",
            "1",
            "--seed",
            seed,
        ]
    };
    assert_ok(&pollwise(&args("1", "5")));
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    // A seed past the last one fails before any file is written.
    let mut late = args("18446744073709551615", "5");
    late[4] = "2";
    assert_clean_error(&pollwise(&late), &["runs past the largest seed"]);
    // Stopped by SIGTERM a moment in, while it simulates (runs of 500 ms
    // take it seconds). Not SIGINT: a job started in the background, as
    // CI's may be, inherits it ignored.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args("7", "500"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the report finished within 300 ms: {status}"
    );
    for (p, bytes) in &before {
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{p:?} changed");
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        before.len(),
        "a file left behind"
    );
}

#[test]
fn preset_show_reads_a_pipe_once_and_prints_what_it_checked() {
    let text = std::fs::read_to_string("sim/presets/optane-p4800x.toml").unwrap();
    let o = common::with_stdin(&["preset", "show", "/dev/stdin"], &text);
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        text,
        "printed something other than the checked preset"
    );
}

#[test]
fn a_picture_name_without_a_format_is_refused_by_that_name_before_reading() {
    let d = scratch_dir("round4-plot-ext");
    let out = d.join("a.bmp");
    // The input need not even exist: the name is checked first.
    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        d.join("missing.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_error(
        &o,
        &[
            &format!("picture format of {}", out.display()),
            ".png or .svg",
        ],
    );
    assert!(
        !common::stderr(&o).contains(".pollwise-"),
        "names a temporary file"
    );
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
}

#[test]
fn a_csv_with_a_column_named_twice_is_refused() {
    let d = scratch_dir("round4-plot-dup");
    let input = d.join("r.csv");
    std::fs::write(
        &input,
        "policy,params,rw,bs,numjobs,iothreads,iops,iothread_cpu_pct,iops\n\
         qemu,poll-max-ns=32768,randread,8192,1,1,1000,80,5\n",
    )
    .unwrap();
    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        input.to_str().unwrap(),
        "--out",
        d.join("p.png").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["the column 'iops' appears twice"]);
}

#[test]
fn an_error_quoting_a_huge_input_is_cut_to_a_readable_length() {
    let d = scratch_dir("round4-huge-key");
    let preset = d.join("p.toml");
    // A half-megabyte key: TOML's error quotes it.
    std::fs::write(&preset, format!("{} = 1\n", "k".repeat(1 << 19))).unwrap();
    let o = pollwise(&["sim", "--preset", preset.to_str().unwrap()]);
    assert_clean_error(&o, &["p.toml"]);
    let err = common::stderr(&o);
    assert!(err.len() < 8192, "{} bytes of error", err.len());
    assert!(err.contains("bytes]"), "{}", &err[..200.min(err.len())]);
}

#[test]
fn preset_show_and_a_run_agree_on_how_large_a_preset_may_be() {
    let d = scratch_dir("round4-preset-size");
    let preset = d.join("big.toml");
    let mut text = std::fs::read_to_string("sim/presets/optane-p4800x.toml").unwrap();
    text.push_str(&format!("# {}\n", "x".repeat(2 << 20)));
    std::fs::write(&preset, text).unwrap();
    for args in [
        vec!["preset", "show", preset.to_str().unwrap()],
        vec![
            "sim",
            "--preset",
            preset.to_str().unwrap(),
            "--duration-ms",
            "5",
        ],
    ] {
        let o = pollwise(&args);
        assert_clean_error(&o, &["is larger than 1048576 bytes"]);
    }
}
