//! The binary against hostile or careless inputs, round five: a fio job
//! file named as an output, and a QEMU backend's parameter refused for what
//! it is. None of these needs a device.

mod common;

use common::{assert_clean_error, pollwise, scratch_dir};

/// `o` is a clean error saying each of `says`, and not `not`.
fn refused_saying(o: &std::process::Output, says: &[&str], not: &str) {
    assert_clean_error(o, says);
    let err = common::stderr(o);
    assert!(!err.contains(not), "says '{not}': {err}");
}

const JOB: &str = "[global]\nrw=randread\nbs=4k\niodepth=1\nnumjobs=1\n\
                   ioengine=libaio\ndirect=1\n[j]\n";

/// Every output of a command that reads `--fio-job` refuses the job file,
/// even with `--force`, and leaves it as it was.
#[test]
fn no_output_may_be_the_fio_job_it_reads() {
    let d = scratch_dir("round5-fio-job");
    let job = d.join("job.fio");
    std::fs::write(&job, JOB).unwrap();
    // JOB is the job file, DIR the scratch directory.
    let runs = [
        "sim --fio-job JOB --iothreads 1 --duration-ms 5 --waits JOB",
        "sim --fio-job JOB --iothreads 1 --duration-ms 5 --trace JOB",
        "sweep --fio-job JOB --duration-ms 5 --policy weighted --param poll-weight=1,2 --out JOB",
        "compare --backend device --fio-job JOB --dir DIR --repeat 2 --duration-ms 100 --rows JOB",
        "validate --preset optane-p4800x --fio-job JOB --dir DIR --repeat 2 --duration-ms 100 \
         --out JOB",
        "realdev run --fio-job JOB --dir DIR --duration-ms 100 --waits JOB",
    ];
    for run in runs {
        let args: Vec<String> = run
            .split_whitespace()
            .map(|a| match a {
                "JOB" => job.to_str().unwrap().to_string(),
                "DIR" => d.to_str().unwrap().to_string(),
                a => a.to_string(),
            })
            .chain(["--force".to_string()])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = pollwise(&args);
        assert_clean_error(
            &o,
            &["is the same file as --fio-job", "pick another output path"],
        );
        assert_eq!(std::fs::read_to_string(&job).unwrap(), JOB, "{run}");
    }
}

/// A policy QEMU has a variant for, with a parameter its variant does not
/// take, is told so, not that it has no variant.
#[test]
fn a_qemu_variant_refuses_a_parameter_by_name() {
    let d = scratch_dir("round5-qemu-param");
    let o = pollwise(&[
        "compare",
        "--backend",
        "qemu",
        "--dir",
        d.to_str().unwrap(),
        "--cache",
        d.to_str().unwrap(),
        "--baseline",
        "pollwise",
        "--candidate",
        "pollwise:poll-block-cost-ns=20000",
    ]);
    refused_saying(
        &o,
        &["poll-block-cost-ns at its default"],
        "has no QEMU variant",
    );
}

/// A study replaces an earlier study's files as a set: what this run does
/// not write (robustness, rollout) does not stay beside its README, and a
/// user's own file in the directory does.
#[test]
fn a_study_leaves_no_file_of_an_earlier_one() {
    let d = scratch_dir("round5-study");
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let first = [
        "--no-cache",
        "study",
        "--out",
        o,
        "--repeat",
        "1",
        "--duration-ms",
        "1",
        "--robust-duration-ms",
        "1",
        "--rollout-duration-ms",
        "1",
    ];
    common::assert_ok(&pollwise(&first));
    for name in ["robustness.csv", "rollout-optane-p4800x.csv", "README.md"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let second = [
        "--no-cache",
        "study",
        "--out",
        o,
        "--repeat",
        "1",
        "--duration-ms",
        "2",
        "--skip-robustness",
        "--rollout-duration-ms",
        "0",
    ];
    common::assert_ok(&pollwise(&second));
    for name in [
        "robustness.csv",
        "rollout-optane-p4800x.csv",
        "rollout-fcp-16disk.csv",
    ] {
        assert!(
            !out.join(name).exists(),
            "{name} of the first study is still there"
        );
    }
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("--skip-robustness"), "{readme}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A real backend refuses the simulator's flags by name, in the backend's
/// name as typed: a preset (which it would have ignored) and a latency
/// scale.
#[test]
fn a_real_backend_refuses_the_simulators_preset() {
    let d = scratch_dir("round5-preset");
    let dir = d.to_str().unwrap();
    let o = pollwise(&[
        "compare",
        "--backend",
        "device",
        "--dir",
        dir,
        "--preset",
        "/nonexistent/x.toml",
    ]);
    assert_clean_error(&o, &["--preset /nonexistent/x.toml", "leave --preset out"]);
    let o = pollwise(&[
        "compare",
        "--backend",
        "qemu",
        "--dir",
        dir,
        "--latency-scale",
        "2",
    ]);
    assert_clean_error(&o, &["no effect with --backend qemu"]);
}

/// The measured part's settings are checked without a disk too: a bad
/// value is refused, not silently ignored; a zero duration names its flag.
#[test]
fn a_studys_measured_settings_are_checked_without_a_disk() {
    let d = scratch_dir("round5-study-flags");
    let out = d.join("out");
    let o = out.to_str().unwrap();
    for (flag, value, says) in [
        (
            "--accept-iops-loss",
            "NaN",
            "--accept-iops-loss NaN is out of range",
        ),
        (
            "--measure-repeat",
            "0",
            "--measure-repeat 0: at least 2 pairs",
        ),
        (
            "--measure-duration-ms",
            "0",
            "--measure-duration-ms 0: expected 1 ..= 60000",
        ),
        (
            "--robust-duration-ms",
            "0",
            "--robust-duration-ms 0: at least 1 ms",
        ),
    ] {
        let r = pollwise(&["study", "--out", o, flag, value]);
        assert_clean_error(&r, &[says]);
        assert!(!out.exists(), "{flag}: nothing is written");
    }
}

/// A trace on stdin past --max-input-mb is refused for its size, not
/// called malformed.
#[test]
fn a_trace_past_the_input_limit_is_not_called_malformed() {
    let text = format!(
        "block_ns,handler,in_flight,how\n{}",
        "1000,0,1,polled\n".repeat(100_000)
    );
    let o = common::with_stdin(
        &["--max-input-mb", "1", "policy", "waits", "--input", "-"],
        &text,
    );
    refused_saying(&o, &["goes on past the 1 MiB limit"], "malformed");
}

/// A CPU figure out of range is named by where it came from: the flag
/// given, not a sar file that was not.
#[test]
fn an_iothread_cpu_out_of_range_names_its_source() {
    let d = scratch_dir("round5-import-cpu");
    let json = d.join("run.json");
    std::fs::write(
        &json,
        r#"{"fio version": "fio-3.33", "jobs": [{"job_runtime": 500,
          "job options": {"rw": "randread", "bs": "4096", "iodepth": "1"},
          "read": {"iops": 10.0, "bw_bytes": 40960, "lat_ns": {"mean": 1000.0}}}]}"#,
    )
    .unwrap();
    let j = json.to_str().unwrap();
    for v in ["NaN", "120"] {
        let o = pollwise(&["import", "fio", "--json", j, "--iothread-cpu", v]);
        refused_saying(
            &o,
            &["(--iothread-cpu)", "expected a percentage of one core"],
            "sar",
        );
    }
}

/// A --cache that is a file is refused as such, not answered with a build
/// command that names the file as its cache.
#[test]
fn a_qemu_cache_that_is_a_file_is_refused() {
    let d = scratch_dir("round5-cache-file");
    let file = d.join("afile");
    std::fs::write(&file, "not a cache").unwrap();
    let o = pollwise(&[
        "compare",
        "--backend",
        "qemu",
        "--dir",
        d.to_str().unwrap(),
        "--cache",
        file.to_str().unwrap(),
    ]);
    refused_saying(&o, &["is not a directory"], "run `pollwise qemu build");
}

/// A study too large says which flag makes it so, and does not suggest a
/// flag already given.
#[test]
fn a_study_too_large_names_its_flags() {
    let d = scratch_dir("round5-study-size");
    let o = d.join("out");
    let o = o.to_str().unwrap();
    let r = pollwise(&["study", "--out", o, "--repeat", "4294967295"]);
    refused_saying(
        &r,
        &["4294967295 seeds", "the seeds are --repeat"],
        "workload:",
    );
    let r = pollwise(&[
        "study",
        "--out",
        o,
        "--duration-ms",
        "180001",
        "--skip-robustness",
    ]);
    refused_saying(
        &r,
        &["lower --repeat, --duration-ms or --rollout-duration-ms"],
        "add --skip-robustness",
    );
}

/// One wait is "1 wait" in both summaries.
#[test]
fn one_wait_is_counted_in_the_singular() {
    let d = scratch_dir("round5-one-wait");
    let f = d.join("one.csv");
    std::fs::write(&f, "block_ns,handler\n5,0\n").unwrap();
    let f = f.to_str().unwrap();
    let o = pollwise(&["policy", "waits", "--input", f]);
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).starts_with("1 wait, "),
        "{}",
        common::stdout(&o)
    );
    let o = pollwise(&["policy", "ratio", "--input", f]);
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("\n1 wait, "),
        "{}",
        common::stdout(&o)
    );
}

/// An output directory that is a dangling link, or that cannot be made,
/// is named with its flag and what to do.
#[test]
fn an_output_directory_that_cannot_be_made_names_its_flag() {
    let d = scratch_dir("round5-out-dir");
    let link = d.join("dangling");
    std::os::unix::fs::symlink(d.join("nowhere"), &link).unwrap();
    let o = pollwise(&["study", "--out", link.to_str().unwrap()]);
    assert_clean_error(&o, &["is a symbolic link to", "which does not exist"]);
    let file = d.join("file");
    std::fs::write(&file, "x").unwrap();
    let under = file.join("sub");
    let o = pollwise(&["study", "--out", under.to_str().unwrap()]);
    assert_clean_error(&o, &["--out", "cannot create the directory"]);
}
