//! Invariants of the source tree that a compiler cannot check, checked by
//! reading it (see ARCHITECTURE.md, "Invariants").

use std::fs;
use std::path::{Path, PathBuf};

/// Directories never scanned: build output, version control, and the one
/// statistics crate itself.
const SKIP_DIRS: [&str; 3] = ["target", ".git", "stats"];

/// Every `.rs` file of the workspace outside [`SKIP_DIRS`], except this
/// file (whose tests spell out the definitions it forbids).
fn rust_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !SKIP_DIRS.contains(&name) && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") && path != root.join(file!()) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Name stems of the statistics that live only in `pollwise-stats`.
const STATS_STEMS: [&str; 8] = [
    "mean",
    "median",
    "quantile",
    "percentile",
    "sample_sd",
    "spread",
    "pct_diff",
    "stddev",
];

/// Whether `name` is a statistic of [`STATS_STEMS`] (the stem, its plural,
/// `_of` or `_ci` forms) or any bootstrap.
fn is_stats_name(name: &str) -> bool {
    name.starts_with("bootstrap")
        || STATS_STEMS.iter().any(|stem| {
            name.strip_prefix(stem)
                .is_some_and(|rest| ["", "s", "_of", "_ci", "_pct"].contains(&rest))
        })
}

/// The free functions (no `self`) with a statistic's name that `line`
/// defines.
fn stats_fns(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("fn ") {
        let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = &rest[at + 3..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let params = after[name.len()..]
            .split_once('(')
            .map_or("", |(_, p)| p.trim_start());
        let method = ["self", "&self", "&mut self", "mut self"]
            .iter()
            .any(|s| params.starts_with(s));
        if before_ok && !method && is_stats_name(&name) {
            found.push(name.clone());
        }
        rest = &after[name.len()..];
    }
    found
}

/// "One statistics crate": no file outside `stats/` defines a mean,
/// median, quantile, percentile, spread, percentage change or bootstrap of
/// its own. Methods of a distribution (`WakeupDist::quantile(&self, u)`)
/// and aggregations over rows that call the crate (`mean_row`,
/// `median_costs`) are not copies and pass.
#[test]
fn statistics_are_defined_only_in_the_stats_crate() {
    let files = rust_files();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The walk reaches every crate; an empty walk would pass vacuously.
    for must in [
        "core/src/row.rs",
        "lab/src/stats.rs",
        "plots/src/pareto.rs",
        "src/main.rs",
    ] {
        assert!(files.contains(&root.join(must)), "the walk missed {must}");
    }
    let mut copies = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            for name in stats_fns(line) {
                let rel = file.strip_prefix(root).unwrap_or(file);
                copies.push(format!("{}:{}: fn {name}", rel.display(), i + 1));
            }
        }
    }
    assert!(
        copies.is_empty(),
        "statistics defined outside the stats crate (use pollwise_stats instead):\n{}",
        copies.join("\n")
    );
}

#[test]
fn the_scanner_tells_copies_from_methods_and_aggregations() {
    assert_eq!(stats_fns("pub fn median(v: &[f64]) -> f64 {"), ["median"]);
    assert_eq!(
        stats_fns("fn mean_of(v: impl Iterator) -> f64"),
        ["mean_of"]
    );
    assert_eq!(
        stats_fns("fn quantiles(v: &[u64]) -> [f64; 4] {"),
        ["quantiles"]
    );
    assert_eq!(
        stats_fns("pub(crate) fn spread_pct(v: &[f64])"),
        ["spread_pct"]
    );
    assert_eq!(
        stats_fns("fn bootstrap_loop<F>(d: &[f64], f: F)"),
        ["bootstrap_loop"]
    );
    assert!(stats_fns("pub fn quantile(&self, u: f64) -> u64 {").is_empty());
    assert!(stats_fns("pub fn mean_row(rows: &[RunRow]) -> Option<RunRow> {").is_empty());
    assert!(stats_fns("pub fn median_costs(runs: &[LoopCosts]) -> LoopCosts {").is_empty());
    assert!(stats_fns("/// fn median(v) in a comment").is_empty());
    assert!(stats_fns("fn zero_means(spec: &ParamSpec)").is_empty());
}

/// The `[dependencies]` of a crate's manifest that name a workspace crate
/// or one of `watch`, in order of appearance.
fn deps_named(manifest: &str, watch: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        fs::read_to_string(root.join(manifest)).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if in_deps && (name.starts_with("pollwise-") || watch.contains(&name)) {
            out.push(name.to_string());
        }
    }
    out
}

/// The crate graph points one way: core and stats at the bottom, the
/// backends (sim, realdev, qemu) and plots above them and blind to each
/// other, lab above all of them, the CLI on top; and only the CLI knows
/// clap and the terminal.
#[test]
fn crates_depend_only_downwards_and_only_the_cli_knows_the_terminal() {
    let terminal = ["clap", "indicatif", "anyhow"];
    let allowed: [(&str, &[&str]); 7] = [
        ("core/Cargo.toml", &[]),
        ("stats/Cargo.toml", &[]),
        ("sim/Cargo.toml", &["pollwise-core"]),
        ("realdev/Cargo.toml", &["pollwise-core", "pollwise-stats"]),
        ("qemu/Cargo.toml", &["pollwise-core"]),
        ("plots/Cargo.toml", &["pollwise-core", "pollwise-stats"]),
        (
            "lab/Cargo.toml",
            &[
                "pollwise-core",
                "pollwise-stats",
                "pollwise-sim",
                "pollwise-realdev",
                "pollwise-plots",
                "pollwise-qemu",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (manifest, ok) in allowed {
        for dep in deps_named(manifest, &terminal) {
            if !ok.contains(&dep.as_str()) {
                wrong.push(format!("{manifest} depends on {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against ARCHITECTURE.md's crate graph (a library returns typed \
         errors and reports progress to a callback; only src/ knows clap and the \
         terminal):\n{}",
        wrong.join("\n")
    );
    // The check reads real manifests: the CLI's has what the libraries may not.
    assert!(deps_named("Cargo.toml", &terminal).contains(&"clap".to_string()));
}

/// Lines of `dir` (relative to the workspace root, recursively) that
/// contain any of `needles` outside comments, as `path:line: text`.
fn code_lines_with(dir: &str, needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = root.join(dir);
    let mut hits = Vec::new();
    for file in rust_files().iter().filter(|f| f.starts_with(&base)) {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|n| code.contains(n)) {
                let rel = file.strip_prefix(root).unwrap_or(file);
                hits.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    hits
}

/// "sim and core are deterministic; core does no I/O and spawns no
/// thread": neither reads a clock or an unseeded RNG, and core opens no
/// file and starts no thread (sim's parallelism is rayon across runs, in
/// `batch.rs`).
#[test]
fn core_and_sim_read_no_clock_and_no_unseeded_rng() {
    let clocks = [
        "Instant::now",
        "SystemTime",
        "thread_rng",
        "from_entropy",
        "from_os_rng",
        "rand::rng()",
        "OsRng",
        "getrandom",
    ];
    let mut hits = code_lines_with("core/src", &clocks);
    hits.extend(code_lines_with("sim/src", &clocks));
    hits.extend(code_lines_with(
        "core/src",
        &[
            "std::fs",
            "File::",
            "thread::spawn",
            "std::net",
            "std::process",
        ],
    ));
    assert!(
        hits.is_empty(),
        "clock, entropy or I/O in the deterministic core:\n{}",
        hits.join("\n")
    );
    // The scan reads real code: realdev, which measures, does read the clock.
    assert!(!code_lines_with("realdev/src", &["Instant::now", "clock_gettime"]).is_empty());
}

/// "No host keeps a copy of a loop rule": whether an iteration polled or
/// slept is decided only by `core::IoThread`, so no file outside core's
/// loop and policies compares a wait with the window.
#[test]
fn no_host_decides_polled_or_slept_itself() {
    let rules = [
        "<= window",
        "<= self.window",
        "< window",
        "polled = block",
        "polled = b",
        "polled: block_ns",
    ];
    let mut hits = Vec::new();
    for dir in [
        "sim/src",
        "realdev/src",
        "lab/src",
        "qemu/src",
        "src",
        "plots/src",
    ] {
        hits.extend(code_lines_with(dir, &rules));
    }
    assert!(
        hits.is_empty(),
        "a loop rule outside core::IoThread (drive the machine instead):\n{}",
        hits.join("\n")
    );
    assert!(!code_lines_with("core/src/policies", &["<= "]).is_empty());
}

/// ARCHITECTURE.md stays true where a program can tell: every path it
/// names in backquotes exists, and every invariant in its table names at
/// least one test file that does.
#[test]
fn the_architecture_document_names_only_what_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for quoted in doc.split('`').skip(1).step_by(2) {
        let path = quoted.split(" (").next().unwrap_or(quoted);
        let top = [
            "core/", "stats/", "sim/", "realdev/", "qemu/", "plots/", "lab/", "src/", "tests/",
            "docs/",
        ];
        let looks_like_path = top.iter().any(|t| path.starts_with(t))
            && !path.contains(' ')
            && !path.contains("::")
            && (path.ends_with(".rs") || path.ends_with(".md") || path.ends_with('/'));
        if looks_like_path && !root.join(path).exists() {
            missing.push(path.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
    let rows: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("## Invariants"))
        .take_while(|l| !l.starts_with("## The one loop"))
        .filter(|l| {
            l.starts_with("| **")
                || l.starts_with("| Crates")
                || l.starts_with("| No ")
                || l.starts_with("| `src/`")
        })
        .collect();
    assert!(
        rows.len() >= 10,
        "the invariants table has {} rows",
        rows.len()
    );
    for row in rows {
        let checked_by = row.trim_end_matches('|').rsplit('|').next().unwrap_or("");
        assert!(
            checked_by.contains(".rs") || checked_by.contains(".ci/run"),
            "an invariant names no test that checks it: {row}"
        );
    }
}

/// "A lab whose folders are its experiments": no file of lab over 600
/// lines (a file that grows past it is two things; split it by meaning),
/// and the binary at most 2,100 lines in all (it maps flags to lab: about 100 lines of
/// flag definitions per command, logic none, which tests/cli_layering.rs checks); its
/// tests (`*_tests.rs`, compiled only under `cfg(test)`) are not the binary.
#[test]
fn lab_files_and_the_binary_stay_small() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lines = |f: &Path| fs::read_to_string(f).map_or(0, |t| t.lines().count());
    let files = rust_files();
    let big: Vec<String> = files
        .iter()
        .filter(|f| f.starts_with(root.join("lab/src")))
        .filter(|f| lines(f) > 600)
        .map(|f| format!("{} ({} lines)", f.display(), lines(f)))
        .collect();
    assert!(big.is_empty(), "lab files over 600 lines: {big:?}");
    let binary: usize = files
        .iter()
        .filter(|f| f.starts_with(root.join("src")))
        .filter(|f| !f.to_string_lossy().ends_with("_tests.rs"))
        .map(|f| lines(f))
        .sum();
    assert!(
        binary > 0 && binary <= 2100,
        "src/ is {binary} lines, more than 2,100"
    );
}
