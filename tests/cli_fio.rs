//! fio job files in, through the binary: the seed thread's two runs as job
//! files, and options pollwise cannot model named.

use std::fs;

use pollwise_core::RunRow;

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stderr, stdout};

const SEED_JOBS: [(&str, u32, u32); 2] = [
    ("examples/fio/seed-16files-numjobs16.fio", 16, 16),
    ("examples/fio/seed-5files-numjobs4.fio", 4, 5),
];

fn job(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn one_row(text: &str) -> RunRow {
    let rows: Vec<RunRow> = csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().unwrap()
}

/// `pollwise sim` of a job file on the 16-disk preset, 10 ms, as CSV.
fn sim_job(file: &str) -> std::process::Output {
    pollwise(&[
        "sim",
        "--preset",
        "fcp-16disk",
        "--fio-job",
        file,
        "--duration-ms",
        "10",
        "--format",
        "csv",
    ])
}

#[test]
fn the_seed_threads_job_files_run_in_sim() {
    for (path, numjobs, _) in SEED_JOBS {
        let o = sim_job(&job(path));
        assert_ok(&o);
        let r = one_row(&stdout(&o));
        assert_eq!(
            (r.rw.as_str(), r.bs, r.numjobs, r.iodepth),
            ("randread", 8192, numjobs, 8)
        );
        assert!(r.iops > 0.0);
        // The notes name what has no effect and the unused ramp_time.
        let err = stderr(&o);
        assert!(
            err.contains("ramp_time") && err.contains("time_based"),
            "{err}"
        );
    }
}

#[test]
fn a_job_files_disks_come_from_its_filename_list() {
    for (path, _, disks) in SEED_JOBS {
        let file = job(path);
        let o = sim_job(&file);
        assert_ok(&o);
        let iops = one_row(&stdout(&o)).iops;
        // The same job on one disk differs (the 16-disk preset at 1 disk
        // is bound by it).
        let one_disk = fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("filename=") {
                    "filename=/dev/vdb".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = scratch_dir(&format!("fio-disks-{disks}"));
        let f1 = dir.join("one.fio");
        fs::write(&f1, one_disk).unwrap();
        let o1 = sim_job(f1.to_str().unwrap());
        assert_ok(&o1);
        assert_ne!(
            one_row(&stdout(&o1)).iops,
            iops,
            "{path}: disks had no effect"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_seed_threads_job_files_run_in_compare() {
    for (path, _, _) in SEED_JOBS {
        let o = pollwise(&[
            "compare",
            "--preset",
            "fcp-16disk",
            "--fio-job",
            &job(path),
            "--duration-ms",
            "5",
            "--iothreads",
            "1",
            "--format",
            "csv",
        ]);
        assert_ok(&o);
        assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    }
}

#[test]
fn fio_options_pollwise_cannot_model_are_named() {
    let dir = scratch_dir("fio-bad");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let warn = write(
        "warn.fio",
        "[j]\nrw=randread\nbs=4k\nverify=md5\nrate_iops=100\n",
    );
    let o = pollwise(&[
        "sim",
        "--fio-job",
        &warn,
        "--duration-ms",
        "5",
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let err = stderr(&o);
    assert!(err.contains("verify") && err.contains("rate_iops"), "{err}");
    assert!(err.contains("direct=0"), "{err}");
    let sync = write("sync.fio", "[j]\nioengine=psync\n");
    assert_clean_error(
        &pollwise(&["sim", "--fio-job", &sync]),
        &["ioengine=psync", "sync.fio"],
    );
    let mixed = write("mixed.fio", "[a]\nrw=read\n[b]\nrw=write\n");
    assert_clean_error(
        &pollwise(&["compare", "--fio-job", &mixed]),
        &["differ in rw"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--fio-job", &warn, "--rw", "read"]),
        &["--rw"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--fio-job", "/nonexistent/x.fio"]),
        &["cannot read --fio-job /nonexistent/x.fio", "No such file"],
    );
    fs::remove_dir_all(&dir).unwrap();
}

// The device-directory helper is shared with realdev's device tests.
#[path = "../realdev/tests/device_dir/mod.rs"]
mod device_dir;

#[test]
fn realdev_run_takes_a_job_file() {
    let Some(dir) = device_dir::device_dir() else {
        return;
    };
    let d = dir.join(format!("pollwise-cli-fio-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    let file = job(SEED_JOBS[1].0);
    let o = pollwise(&[
        "realdev",
        "run",
        "--fio-job",
        &file,
        "--duration-ms",
        "200",
        "--size-mb",
        "16",
        "--dir",
        d.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let r = one_row(&stdout(&o));
    assert_eq!(
        (r.source.as_str(), r.bs, r.numjobs, r.iodepth),
        ("realdev", 8192, 4, 8)
    );
    assert_eq!(
        r.duration_ms, 200,
        "--duration-ms wins over the job's runtime"
    );
    assert!(stderr(&o).contains("5 files"), "{}", stderr(&o));
    assert_eq!(
        fs::read_dir(&d).unwrap().count(),
        0,
        "scratch file left behind"
    );
    fs::remove_dir(&d).unwrap();
}

const TESTBED_JSON: &str = "examples/fio/testbed-run.json";

/// A pidstat report with one IOThread, TID 4250, at 57% CPU.
fn pidstat_file(dir: &std::path::Path) -> String {
    let pid = dir.join("pidstat.txt");
    fs::write(
        &pid,
        "12:00:01      UID      TGID       TID    %usr %system  %guest   %wait    %CPU   CPU  Command\n\
         Average:        0         -      4250   35.00   20.00    0.00    0.00   57.00     -  |__IO iothread0\n",
    )
    .unwrap();
    pid.to_str().unwrap().to_string()
}

#[test]
fn import_fio_json_gives_rows_with_source_fio() {
    let json = job(TESTBED_JSON);
    let o = pollwise(&[
        "import",
        "fio",
        "--json",
        &json,
        "--iothread-cpu",
        "42.5",
        "--testbed",
        "lab",
        "--policy",
        "weighted:poll-weight=3",
    ]);
    assert_ok(&o);
    let r = one_row(&stdout(&o));
    assert_eq!(
        (r.source.as_str(), r.preset.as_str(), r.policy.as_str()),
        ("fio", "lab", "weighted")
    );
    assert!(r.params.contains("poll-weight=3"), "{}", r.params);
    assert_eq!(
        (r.rw.as_str(), r.bs, r.numjobs, r.iodepth),
        ("randread", 8192, 4, 8)
    );
    assert_eq!(
        (r.iops, r.iothread_cpu_pct, r.lat_p99_us.unwrap()),
        (25600.0, 42.5, 420.0)
    );
}

#[test]
fn what_fio_cannot_know_is_empty_and_no_plot_makes_it_a_zero() {
    let dir = scratch_dir("import-fio-empty");
    let o = pollwise(&[
        "import",
        "fio",
        "--json",
        &job(TESTBED_JSON),
        "--iothread-cpu",
        "42.5",
        "--policy",
        "weighted:poll-weight=3",
    ]);
    assert_ok(&o);
    let text = stdout(&o);
    let r = one_row(&text);
    assert_eq!(
        (r.poll_cpu_pct, r.kicks_per_s, r.wakeups_per_s),
        (None, None, None)
    );
    assert_eq!((r.window_mean_ns, r.window_zero_frac), (None, None));
    assert_eq!(r.abrupt_resets, None);
    // The loop's six columns are empty fields, not 0.
    let line = text.lines().nth(1).unwrap();
    assert!(line.ends_with(",42.5,,,,,,"), "{line}");
    let csv = dir.join("testbed.csv");
    fs::write(&csv, &text).unwrap();
    let csv = csv.to_str().unwrap();
    // The trade-off plot needs only what fio and the CPU source know.
    let png = dir.join("p.png");
    assert_ok(&pollwise(&[
        "plot",
        "pareto",
        "--input",
        csv,
        "--out",
        png.to_str().unwrap(),
    ]));
    // A heatmap of a counter fio cannot know says so instead of drawing 0.
    let o = pollwise(&[
        "plot",
        "heatmap",
        "--input",
        csv,
        "--x",
        "poll-weight",
        "--y",
        "policy",
        "--metric",
        "kicks_per_s",
        "--out",
        dir.join("h.png").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["'kicks_per_s' is empty in every row"]);
}

#[test]
fn import_fio_takes_the_iothread_cpu_from_pidstat() {
    let dir = scratch_dir("import-fio");
    let pid = pidstat_file(&dir);
    let o = pollwise(&[
        "import",
        "fio",
        "--json",
        &job(TESTBED_JSON),
        "--pidstat",
        &pid,
        "--tid",
        "4250",
    ]);
    assert_ok(&o);
    assert_eq!(one_row(&stdout(&o)).iothread_cpu_pct, 57.0);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_fio_errors_are_clear() {
    let json = job(TESTBED_JSON);
    let dir = scratch_dir("import-fio-errors");
    let pid = pidstat_file(&dir);
    assert_clean_error(
        &pollwise(&["import", "fio", "--json", &json]),
        &["--iothread-cpu"],
    );
    assert_clean_error(
        &pollwise(&["import", "fio", "--json", &pid, "--iothread-cpu", "1"]),
        &["no JSON object"],
    );
    assert_clean_error(
        &pollwise(&[
            "import",
            "fio",
            "--json",
            &json,
            "--pidstat",
            &pid,
            "--tid",
            "1",
        ]),
        &["no line for TID 1"],
    );
    fs::remove_dir_all(&dir).unwrap();
}
