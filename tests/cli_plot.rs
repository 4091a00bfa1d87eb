//! `pollwise plot` through the binary: each subcommand writes its picture,
//! and bad input fails with a message instead of a panic.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn pollwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .output()
        .expect("run pollwise")
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("pollwise-cli-plot-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

fn file(name: &str, text: &str) -> String {
    let p = dir().join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn out(name: &str) -> String {
    dir().join(name).to_str().unwrap().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "failed: {}", stderr(o));
}

fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "missing '{n}' in: {err}");
    }
}

/// A PNG signature and the IHDR width and height (big-endian at 16..24).
fn png_dimensions(path: &str) -> (u32, u32) {
    let b = fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{path} is not a PNG");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

const RESULTS: &str = "\
policy,params,rw,bs,numjobs,iothreads,iops,iothread_cpu_pct
qemu,poll-max-ns=32768 poll-shrink=0,randread,8192,1,1,1000,80
qemu,poll-max-ns=32768 poll-shrink=2,randread,8192,1,1,990,70
weighted,poll-weight=2,randread,8192,1,1,950,60
qemu,poll-max-ns=32768 poll-shrink=0,randwrite,8192,1,1,800,90
weighted,poll-weight=2,randwrite,8192,1,1,700,60
";

#[test]
fn pareto_writes_png_and_svg() {
    let input = file("results.csv", RESULTS);
    let png = out("pareto.png");
    let o = pollwise(&["plot", "pareto", "--input", &input, "--out", &png]);
    assert_ok(&o);
    assert!(stderr(&o).contains("5 rows, 2 policies"), "{}", stderr(&o));
    assert_eq!(png_dimensions(&png), (1200, 800));

    let svg = out("pareto.svg");
    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        &input,
        "--out",
        &svg,
        "--normalize",
        "baseline",
        "--baseline",
        "qemu poll-shrink=0",
        "--where",
        "rw=randread",
    ]);
    assert_ok(&o);
    assert!(stderr(&o).contains("3 rows"), "{}", stderr(&o));
    let text = fs::read_to_string(&svg).unwrap();
    // The baseline is the one setting's own rows, named in full.
    assert!(text.contains("baseline (qemu poll-max-ns=32768 poll-shrink=0)"));

    // Two qemu settings, neither at QEMU's defaults: no baseline is
    // invented, and the command says why and what to write.
    let two = file(
        "two.csv",
        "policy,params,iops,iothread_cpu_pct\nqemu,poll-max-ns=1000,10,1\nqemu,poll-max-ns=2000,20,2\n",
    );
    let o = pollwise(&["plot", "pareto", "--input", &two, "--out", &out("two.svg")]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("no baseline marked: the baseline 'qemu' matches 2 settings"),
        "{}",
        stderr(&o)
    );
    let text = fs::read_to_string(out("two.svg")).unwrap();
    assert!(
        text.contains("no baseline: &apos;qemu&apos; is 2 settings")
            || text.contains("no baseline: 'qemu' is 2 settings"),
        "{text}"
    );
}

#[test]
fn window_heatmap_and_compare_write_pictures() {
    let trace = file(
        "trace.csv",
        "policy,params,iothread,time_ns,window_ns,poll_max_ns\n\
         qemu,,0,0,0,32768\nqemu,,0,1000,4000,32768\nqemu,,0,2000,8000,32768\nqemu,,0,3000,0,32768\n",
    );
    let png = out("window.png");
    let o = pollwise(&[
        "plot", "window", "--trace", &trace, "--out", &png, "--width", "900", "--height", "500",
    ]);
    assert_ok(&o);
    assert_eq!(png_dimensions(&png), (900, 500));

    let input = file("sweep.csv", RESULTS);
    let png = out("heat.png");
    let o = pollwise(&[
        "plot",
        "heatmap",
        "--input",
        &input,
        "--x",
        "poll-shrink",
        "--y",
        "rw",
        "--metric",
        "iops",
        "--out",
        &png,
    ]);
    assert_ok(&o);
    assert_eq!(png_dimensions(&png), (1200, 800));

    let cmp = file(
        "compare.csv",
        "rw,bs,numjobs,iothreads,iops_diff_pct,cpu_diff_pct\nrandread,8192,1,1,-7.8,-3\n",
    );
    let png = out("compare.png");
    let o = pollwise(&["plot", "compare", "--input", &cmp, "--out", &png]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("1 of 1 rows lose more than 5% IOPS"),
        "{}",
        stderr(&o)
    );
    assert_eq!(png_dimensions(&png), (1200, 800));
}

#[test]
fn bad_input_is_a_clean_error() {
    let input = file("results-bad.csv", RESULTS);
    let o = pollwise(&["plot", "pareto", "--input", &input, "--out", &out("p.gif")]);
    assert_clean_error(&o, &["must end in .png or .svg"]);

    let o = pollwise(&["plot", "compare", "--input", &input, "--out", &out("c.png")]);
    assert_clean_error(
        &o,
        &[
            "no column 'iops_diff_pct'",
            "columns present: policy, params",
        ],
    );

    let empty = file("empty.csv", "");
    let o = pollwise(&["plot", "pareto", "--input", &empty, "--out", &out("e.png")]);
    assert_clean_error(&o, &["is empty"]);

    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        &input,
        "--out",
        &out("w.png"),
        "--where",
        "rw",
    ]);
    assert_clean_error(&o, &["must be NAME=VALUE"]);

    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        &input,
        "--out",
        &out("w.png"),
        "--where",
        "rw=read",
    ]);
    assert_clean_error(&o, &["no row", "matches rw=read"]);

    let o = pollwise(&[
        "plot",
        "heatmap",
        "--input",
        &input,
        "--x",
        "poll-max-ns",
        "--y",
        "poll-bogus",
        "--out",
        &out("h.png"),
    ]);
    assert_clean_error(
        &o,
        &["'poll-bogus' found neither as a column nor in params"],
    );

    let o = pollwise(&[
        "plot",
        "pareto",
        "--input",
        &input,
        "--out",
        &out("n.png"),
        "--normalize",
        "baseline",
        "--baseline",
        "kvm-halt-poll",
    ]);
    assert_clean_error(&o, &["no row", "is the baseline 'kvm-halt-poll'"]);
}
