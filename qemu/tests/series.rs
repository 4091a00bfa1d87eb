//! The walkthrough of qemu/README.md end to end: a patch series of our own
//! (`tests/series/never-poll`, one patch that changes the constant
//! adjust_polling_time() starts a window at from 4000 ns to 0) built as a
//! variant with `qemu/build.sh --series`, run against stock, and measured
//! to move the way the change says: the variant never polls where stock
//! does. Then a series that does not apply and one that does not build:
//! each is an error naming the patch or the compiler's first error, and
//! every built variant stays as it was.
//!
//! Needs a QEMU build (minutes the first time with a warm ccache) and a
//! filesystem with O_DIRECT (`POLLWISE_QEMU_SCRATCH`, default /var/tmp).
//! The one way to skip it is `POLLWISE_SKIP_QEMU=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use pollwise_core::{Params, PolicyKind, RunRow};
use pollwise_qemu::{
    build, build_script, default_cache_dir, harness_path, run, skip_requested, variant_info,
    BuildOptions, RunSpec, VariantInfo, SKIP_ENV,
};

/// The variant the test series builds (a name no shipped variant has).
const VARIANT: &str = "pw-test-never-poll";

fn series_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("series")
        .join(name)
}

fn scratch_dir() -> PathBuf {
    std::env::var_os("POLLWISE_QEMU_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// 4k randread, one job with 8 in flight, on a 64 MiB scratch file:
/// completions come often enough that stock QEMU polls.
fn measure(cache: &Path, variant: Option<VariantInfo>, iothreads: u32) -> RunRow {
    let mut s = RunSpec::new(Params::defaults(PolicyKind::Qemu), scratch_dir());
    s.target = pollwise_qemu::Target::Scratch {
        dir: scratch_dir(),
        size: 64 << 20,
    };
    s.iodepth = 8;
    s.numjobs = iothreads;
    s.iothreads = iothreads;
    s.duration_ms = 1000;
    s.warmup_ms = 200;
    s.variant = variant;
    run(cache, &s).expect("the harness runs")
}

/// `qemu/build.sh --series VARIANT=DIR` as a user types it: its exit
/// status and what it wrote to stderr.
fn build_series(cache: &Path, dir: &Path) -> (bool, String) {
    let out = Command::new("bash")
        .arg(build_script())
        .arg("--cache")
        .arg(cache)
        .arg("--series")
        .arg(format!("{VARIANT}={}", dir.display()))
        .output()
        .expect("bash runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A built harness's content and modification time.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    let bytes = std::fs::read(path).expect("the harness is built");
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    (bytes, mtime)
}

#[test]
fn a_series_builds_runs_against_stock_and_a_broken_one_is_refused() {
    if skip_requested() {
        eprintln!(
            "SKIPPED a_series_builds_runs_against_stock_and_a_broken_one_is_refused: {SKIP_ENV}=1"
        );
        return;
    }
    let cache = build(&BuildOptions {
        variants: vec!["stock".into()],
        series: vec![(VARIANT.into(), series_dir("never-poll"))],
        ..BuildOptions::default()
    })
    .expect("stock and the test series build");
    assert_eq!(cache, default_cache_dir().unwrap());

    // What the build recorded: the tree's version, the properties its
    // schema has (stock's three, all set by the harness), the subject.
    let info = variant_info(&cache, VARIANT).unwrap();
    let stock = variant_info(&cache, "stock").unwrap();
    assert_eq!(info.qemu_version, stock.qemu_version);
    assert!(info.qemu_version.starts_with("10."), "{info:?}");
    let settable: Vec<&str> = info.settable().collect();
    assert_eq!(settable, ["poll-max-ns", "poll-grow", "poll-shrink"]);
    assert_eq!(info.subjects, ["[PATCH] aio-posix: never start polling"]);

    moves_the_way_the_change_says(&cache, &info);
    broken_series_are_refused(&cache);

    // The series kept is the one that built: rebuilding it by name works.
    let cache2 = build(&BuildOptions {
        variants: vec![VARIANT.into()],
        ..BuildOptions::default()
    })
    .expect("the series built before rebuilds by name");
    let info = variant_info(&cache2, VARIANT).unwrap();
    assert_eq!(info.subjects, ["[PATCH] aio-posix: never start polling"]);
}

/// The change's direction: stock polls, the variant never does, with one
/// IOThread and with two.
fn moves_the_way_the_change_says(cache: &Path, info: &VariantInfo) {
    let base = measure(cache, None, 1);
    let never = measure(cache, Some(info.clone()), 1);
    assert_eq!(never.policy, VARIANT);
    assert!(base.iops > 0.0 && never.iops > 0.0, "{base:?} {never:?}");
    assert!(
        base.window_mean_ns.unwrap() > 0.0,
        "stock never polled: {base:?}"
    );
    assert_eq!(never.window_mean_ns.unwrap(), 0.0, "{never:?}");
    assert_eq!(never.poll_cpu_pct.unwrap(), 0.0, "{never:?}");
    let two = measure(cache, Some(info.clone()), 2);
    assert_eq!(
        (two.iothreads, two.window_mean_ns.unwrap()),
        (2, 0.0),
        "{two:?}"
    );
    assert!(two.iops > 0.0, "{two:?}");
}

/// A series whose second patch does not apply, and one that applies but
/// does not compile: each names the patch or the compiler's first error,
/// and no built harness changes.
fn broken_series_are_refused(cache: &Path) {
    let harness = harness_path(cache, VARIANT);
    let stock_harness = harness_path(cache, "stock");
    let before = (snapshot(&harness), snapshot(&stock_harness));

    let (ok, err) = build_series(cache, &series_dir("does-not-apply"));
    assert!(!ok, "{err}");
    assert!(
        err.contains("patch 2 of 2, 0002-aio-posix-a-hunk-written-against-another-tree.patch"),
        "{err}"
    );
    assert!(
        err.contains("a hunk written against another tree") && err.contains("FAILED"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");

    let (ok, err) = build_series(cache, &series_dir("does-not-build"));
    assert!(!ok, "{err}");
    assert!(err.contains("the compiler's first error"), "{err}");
    assert!(err.contains("no_such_constant"), "{err}");

    assert!(
        before == (snapshot(&harness), snapshot(&stock_harness)),
        "a failed build changed a built harness"
    );
}
