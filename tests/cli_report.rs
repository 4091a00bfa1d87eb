//! `pollwise report` through the binary, on short runs: every file it
//! promises, pictures of the right size, an index whose links resolve, and
//! the same bytes from the same command.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pollwise_core::{RunRow, COMPARE_COLUMNS};

fn pollwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .output()
        .expect("run pollwise")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("pollwise-cli-report-{}", std::process::id()))
        .join(name);
    let _ = fs::remove_dir_all(&d);
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn report(out: &Path) -> Output {
    pollwise(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--duration-ms",
        "5",
        "--compare-duration-ms",
        "5",
        "--repeat",
        "2",
    ])
}

fn png_dimensions(path: &Path) -> (u32, u32) {
    let b = fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

const PICTURES: [&str; 5] = [
    "compare.png",
    "pareto.png",
    "heatmap-cpu.png",
    "heatmap-iops.png",
    "window.png",
];
const DATA: [&str; 4] = ["compare.csv", "compare-runs.csv", "sweep.csv", "trace.csv"];

#[test]
fn report_writes_every_plot_its_data_and_an_index() {
    let out = dir("a");
    let o = report(&out);
    let err = stderr(&o);
    assert!(o.status.success(), "failed: {err}");
    for step in ["[1/4]", "[2/4]", "[3/4]", "[4/4]"] {
        assert!(err.contains(step), "no progress {step} in: {err}");
    }

    for p in PICTURES {
        assert_eq!(png_dimensions(&out.join(p)), (1200, 800), "{p}");
    }

    let compare = fs::read_to_string(out.join("compare.csv")).unwrap();
    let header: Vec<&str> = compare.lines().next().unwrap().split(',').collect();
    assert_eq!(&header[..COMPARE_COLUMNS.len()], &COMPARE_COLUMNS[..]);
    let matrix_rows = compare.lines().count() - 1;
    assert!(matrix_rows > 0);

    let runs = fs::read_to_string(out.join("compare-runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    assert_eq!(header, RunRow::COLUMNS.to_vec());
    assert_eq!(
        runs.lines().count() - 1,
        2 * matrix_rows,
        "baseline and candidate per row"
    );

    // The sweep: qemu 5 poll-max-ns x 3 poll-shrink, weighted 4 weights,
    // pollwise 4 costs, clairvoyant 3 prices = 26 settings, on every matrix
    // row, 2 seeds each.
    let sweep = fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(sweep.lines().count() - 1, 26 * matrix_rows * 2);

    let trace = fs::read_to_string(out.join("trace.csv")).unwrap();
    assert!(trace.starts_with("policy,params,iothread,time_ns,window_ns,poll_max_ns"));
    assert!(trace.lines().any(|l| l.starts_with("qemu,")));
    assert!(trace.lines().any(|l| l.starts_with("weighted,")));
    assert!(trace.lines().any(|l| l.starts_with("pollwise,")));

    let index = fs::read_to_string(out.join("index.md")).unwrap();
    for f in PICTURES {
        assert!(
            index.contains(&format!("]({f})")),
            "index.md does not show {f}"
        );
    }
    for f in DATA {
        assert!(
            index.contains(&format!("]({f})")),
            "index.md does not link {f}"
        );
    }
    // Every relative link in the index names a file that exists.
    for link in index.split("](").skip(1) {
        let target = &link[..link.find(')').unwrap()];
        assert!(out.join(target).is_file(), "broken link {target}");
    }
}

#[test]
fn the_same_command_writes_the_same_bytes() {
    let (a, b) = (dir("same-1"), dir("same-2"));
    for d in [&a, &b] {
        let o = report(d);
        assert!(o.status.success(), "failed: {}", stderr(&o));
    }
    for f in DATA
        .iter()
        .chain(PICTURES.iter())
        .chain(["index.md"].iter())
    {
        let (x, y) = (fs::read(a.join(f)).unwrap(), fs::read(b.join(f)).unwrap());
        assert!(x == y, "{f} differs between two identical runs");
    }
}

#[test]
fn bad_arguments_are_clean_errors() {
    let o = pollwise(&[
        "report",
        "--out",
        dir("bad").to_str().unwrap(),
        "--repeat",
        "0",
    ]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("--repeat 0: give at least 1"), "{err}");

    let o = pollwise(&[
        "report",
        "--out",
        dir("bad2").to_str().unwrap(),
        "--preset",
        "nope",
    ]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("nope"), "{err}");
}
