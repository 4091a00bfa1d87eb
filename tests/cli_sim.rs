//! `pollwise sim`, `compare` and `sweep` through the binary.

use std::fs;

use pollwise_core::{RunRow, TraceRow, COMPARE_COLUMNS};

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

fn rows(csv_text: &str) -> Vec<RunRow> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn sim_csv_is_one_row_of_the_common_schema() {
    let o = pollwise(&[
        "sim",
        "--policy",
        "weighted:poll-weight=3",
        "--bs",
        "8k",
        "--numjobs",
        "4",
        "--duration-ms",
        "10",
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let text = stdout(&o);
    assert_eq!(text.lines().next().unwrap(), RunRow::COLUMNS.join(","));
    let r = rows(&text);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].policy, "weighted");
    assert!(r[0].params.contains("poll-weight=3"), "{}", r[0].params);
    assert_eq!((r[0].bs, r[0].numjobs, r[0].duration_ms), (8192, 4, 10));
    assert!(r[0].iops > 0.0);
}

#[test]
fn sim_json_and_table_carry_the_same_run() {
    let args = ["sim", "--duration-ms", "5", "--seed", "4"];
    let json = pollwise(&[&args[..], &["--format", "json"]].concat());
    assert_ok(&json);
    let row: RunRow = serde_json::from_str(stdout(&json).trim()).unwrap();
    let table = pollwise(&args);
    assert_ok(&table);
    let iops_line = stdout(&table)
        .lines()
        .find(|l| l.starts_with("iops "))
        .unwrap()
        .to_string();
    assert_eq!(
        iops_line.split_whitespace().nth(1).unwrap(),
        format!("{:.0}", row.iops)
    );
}

#[test]
fn sim_writes_the_window_trace() {
    let path = scratch_dir("cli-sim").join("trace.csv");
    let o = pollwise(&[
        "sim",
        "--duration-ms",
        "5",
        "--bs",
        "128k",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let trace: Vec<TraceRow> = csv::Reader::from_path(&path)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!trace.is_empty());
    assert!(trace
        .iter()
        .all(|t| t.policy == "qemu" && t.window_ns <= t.poll_max_ns));
    assert!(trace.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
}

/// `sim --waits`: one row per iteration, as `policy ratio` reads them.
fn sim_waits(policy: &str, extra: &[&str]) -> (Vec<(u64, String)>, std::path::PathBuf) {
    let dir = scratch_dir(&format!("cli-sim-waits-{policy}"));
    let waits = dir.join("waits.csv");
    let args = [
        &[
            "sim",
            "--duration-ms",
            "20",
            "--numjobs",
            "1",
            "--iothreads",
            "1",
        ][..],
        &["--policy", policy, "--waits", waits.to_str().unwrap()],
        extra,
    ]
    .concat();
    assert_ok(&pollwise(&args));
    let text = fs::read_to_string(&waits).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["block_ns", "handler", "in_flight", "how"]);
    let rows = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[3].to_string())
        })
        .collect();
    (rows, waits)
}

#[test]
fn sim_writes_every_iterations_wait_for_policy_ratio() {
    // Always polling at 8k numjobs=1 on the optane preset: most waits end
    // in a poll; never polling: none does.
    let (fixed, _) = sim_waits("fixed", &[]);
    let polled = fixed.iter().filter(|(_, how)| how == "polled").count();
    assert!(polled * 2 > fixed.len(), "{polled} of {}", fixed.len());
    let (off, waits) = sim_waits("off", &["--trace", "/dev/null"]);
    assert!(off.len() > 100, "{} iterations", off.len());
    assert!(off.iter().all(|(_, how)| how != "polled"), "off polled");
    assert!(off.iter().any(|(_, how)| how == "doorbell"));
    // `policy ratio` reads it: one wait per row, the optimum their sum
    // capped by the price.
    let o = pollwise(&[
        "policy",
        "ratio",
        "--input",
        waits.to_str().unwrap(),
        "--price-ns",
        "1000000000",
    ]);
    assert_ok(&o);
    let total: u64 = off.iter().map(|(w, _)| w).sum();
    let want = format!(
        "{} waits, {:.3} ms of waiting; optimum {:.3} ms",
        off.len(),
        total as f64 / 1e6,
        total as f64 / 1e6
    );
    assert!(stdout(&o).contains(&want), "{want} not in\n{}", stdout(&o));
    // One IOThread only, and never onto the trace.
    let two = pollwise(&[
        "sim",
        "--iothreads",
        "2",
        "--waits",
        waits.to_str().unwrap(),
    ]);
    assert_clean_error(&two, &["--waits", "--iothreads 1"]);
    let new = waits.with_file_name("new.csv");
    let same = pollwise(&[
        "sim",
        "--iothreads",
        "1",
        "--waits",
        new.to_str().unwrap(),
        "--trace",
        new.to_str().unwrap(),
    ]);
    assert_clean_error(&same, &["are the same file"]);
    assert!(!new.exists());
    // The same file under two spellings: through a link to its directory.
    let link = new.parent().unwrap().join("link");
    std::os::unix::fs::symlink(new.parent().unwrap(), &link).unwrap();
    let dotted = link.join("new.csv");
    let same = pollwise(&[
        "sim",
        "--iothreads",
        "1",
        "--waits",
        new.to_str().unwrap(),
        "--trace",
        dotted.to_str().unwrap(),
    ]);
    assert_clean_error(&same, &["are the same file"]);
    assert!(!new.exists());
}

#[test]
fn bad_sim_input_is_a_clean_error() {
    assert_clean_error(
        &pollwise(&["sim", "--preset", "nvme-x"]),
        &["unknown preset 'nvme-x'", "optane-p4800x"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--numjobs", "0"]),
        &["numjobs 0", "1 ..= 1024"],
    );
    assert_clean_error(&pollwise(&["sim", "--numjobs", "-3"]), &["--numjobs", "-3"]);
    assert_clean_error(&pollwise(&["sim", "--bs", "1000"]), &["bs 1000", "512"]);
    assert_clean_error(
        &pollwise(&["sim", "--rw", "randomread"]),
        &["unknown rw", "randread"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--policy", "qemu:poll-max-ns=-1"]),
        &["poll-max-ns", "-1"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--latency-scale", "0"]),
        &["--latency-scale"],
    );
    assert_clean_error(&pollwise(&["sim", "--numjobs", "1,4"]), &["one workload"]);
}

#[test]
fn compare_csv_has_the_compare_columns_and_a_row_per_matrix_row() {
    let o = pollwise(&[
        "compare",
        "--rw",
        "randread",
        "--bs",
        "8k",
        "--duration-ms",
        "5",
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let text = stdout(&o);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, COMPARE_COLUMNS);
    let records: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().unwrap();
    // numjobs 1/4/8/16 x iothreads 1/2 of the preset's matrix.
    assert_eq!(records.len(), 8);
    for rec in &records {
        let base: f64 = rec[4].parse().unwrap();
        let cand: f64 = rec[5].parse().unwrap();
        let diff: f64 = rec[6].parse().unwrap();
        assert!((diff - 100.0 * (cand - base) / base).abs() < 1e-3);
        assert_eq!(
            (&rec[10], &rec[11], &rec[12]),
            ("qemu", "weighted", "optane-p4800x")
        );
    }
}

#[test]
fn compare_table_has_the_design_layout_and_a_summary() {
    let o = pollwise(&[
        "compare",
        "--rw",
        "randread",
        "--bs",
        "8k",
        "--numjobs",
        "1",
        "--iothreads",
        "1",
        "--duration-ms",
        "5",
        "--candidate",
        "fixed:poll-max-ns=1000",
    ]);
    assert_ok(&o);
    let text = stdout(&o);
    assert!(text.contains("rw ") && text.contains("jobs") && text.contains("rel%"));
    assert!(text.contains("randread"));
    assert!(text
        .lines()
        .any(|l| l.starts_with("summary: worst IOPS change")));
    assert!(text.lines().last().unwrap().starts_with("verdict: "));
}

#[test]
fn sweep_shards_through_the_cli_concatenate_to_the_whole() {
    let dir = scratch_dir("cli-sweep");
    let common = [
        "sweep",
        "--policy",
        "qemu",
        "--param",
        "poll-max-ns=0,16000,32768",
        "--param",
        "poll-shrink=0,2",
        "--numjobs",
        "1,4",
        "--duration-ms",
        "3",
        "--repeat",
        "2",
    ];
    let whole = dir.join("whole.csv");
    assert_ok(&pollwise(
        &[&common[..], &["--out", whole.to_str().unwrap()]].concat(),
    ));
    let whole_rows = rows(&fs::read_to_string(&whole).unwrap());
    assert_eq!(whole_rows.len(), 2 * 3 * 2 * 2);
    let mut joined = Vec::new();
    for i in 1..=3 {
        let part = dir.join(format!("part{i}.csv"));
        let shard = format!("{i}/3");
        assert_ok(&pollwise(
            &[
                &common[..],
                &["--shard", &shard, "--out", part.to_str().unwrap()],
            ]
            .concat(),
        ));
        joined.extend(rows(&fs::read_to_string(&part).unwrap()));
    }
    assert_eq!(joined, whole_rows);
}

#[test]
fn bad_sweep_input_is_a_clean_error() {
    assert_clean_error(
        &pollwise(&["sweep", "--param", "poll-max-ns=0,-5"]),
        &["poll-max-ns", "-5"],
    );
    assert_clean_error(
        &pollwise(&["sweep", "--param", "poll-max"]),
        &["NAME=V1,V2"],
    );
    assert_clean_error(&pollwise(&["sweep", "--shard", "4/3"]), &["shard '4/3'"]);
    assert_clean_error(
        &pollwise(&["sweep", "--param", "poll-weight=2"]),
        &["poll-weight"],
    );
    assert_clean_error(
        &pollwise(&["compare", "--repeat", "4000000000"]),
        &["at most 10000000 are allowed"],
    );
    let many: String = (0..5000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let axis = format!("poll-max-ns={many}");
    assert_clean_error(
        &pollwise(&[
            "sweep",
            "--param",
            &axis,
            "--param",
            &axis.replace("max-ns", "grow"),
        ]),
        &["at most 10000000 are allowed"],
    );
    assert_clean_error(
        &pollwise(&[
            "sweep",
            "--seed",
            "18446744073709551615",
            "--repeat",
            "2",
            "--duration-ms",
            "1",
        ]),
        &["overflows"],
    );
}

/// `study` spells repeats as every command does: `--repeat` for the
/// simulated runs (the old `--seeds` with a note), `--measure-repeat` for
/// the device's pairs (which `--repeat` used to count here).
#[test]
fn study_spells_repeats_as_every_command_does() {
    let never = scratch_dir("cli-study-spelling").join("never");
    let out = never.to_str().unwrap();
    // --seeds is --repeat: its value reaches --repeat's check.
    assert_clean_error(
        &pollwise(&["study", "--out", out, "--seeds", "0"]),
        &[
            "--seeds 0 is deprecated",
            "write --repeat 0",
            "error: --repeat 0",
        ],
    );
    assert_clean_error(
        &pollwise(&["study", "--out", out, "--seeds", "1", "--repeat", "1"]),
        &["--seeds", "cannot be used with", "--repeat"],
    );
    // With a disk, --repeat alone says what it counts now.
    assert_clean_error(
        &pollwise(&["study", "--out", out, "--dir", out, "--repeat", "0"]),
        &["--repeat 0 sets the simulated runs", "--measure-repeat"],
    );
    assert_clean_error(
        &pollwise(&["study", "--out", out, "--dir", out, "--measure-repeat", "1"]),
        &["--measure-repeat 1: at least 2 pairs"],
    );
    assert_clean_error(
        &pollwise(&[
            "study",
            "--out",
            out,
            "--dir",
            out,
            "--accept-iops-loss",
            "-1",
        ]),
        &["--accept-iops-loss -1 is out of range"],
    );
    assert!(!never.exists(), "created its output before refusing");
}

#[test]
fn study_writes_a_summary_from_its_runs() {
    let dir = scratch_dir("cli-study");
    let o = pollwise(&[
        "study",
        "--out",
        dir.to_str().unwrap(),
        "--repeat",
        "1",
        "--duration-ms",
        "2",
        "--rollout-duration-ms",
        "2",
        "--skip-robustness",
    ]);
    assert_ok(&o);
    let md = fs::read_to_string(dir.join("README.md")).unwrap();
    for needle in [
        "## optane-p4800x",
        "## fcp-16disk",
        "| pollwise |",
        "| weighted |",
        "### optane-p4800x: frontier over the whole matrix",
        "| clairvoyant 1000 |",
        "| rollout 1000 |",
        "## Ablation",
        "## fcp-16disk against IBM's summary",
        "### fcp-16disk against the later revisions' figures",
        "| weighted (weight 2) | ",
        "| weighted-merged (weight 3) | ",
        // Every policy's competitive ratio on each preset's simulated
        // traces, at both prices.
        "## Competitive ratio on recorded waits",
        "| optane-p4800x randread 8k nj1 | ",
        "| fcp-16disk randread 128k nj16 | ",
        "At 24000 ns per block:",
        "At 6000 + 8 x 6000 / max(in_flight, 1) ns per block:",
        // What each rule polls once the I/O stops: pollwise nothing,
        // QEMU's rule its 4 us start at every timer.
        "## An idle IOThread",
        "| pollwise | 0.000 |",
        "| qemu | 0.400 |",
        "| an idle IOThread polls within 0.1 point of off | 0.000 points (off: 0.000) | yes |",
        // The targets, from the tables above: the simulated ones only.
        "## pollwise against its targets",
        "| optane-p4800x: every row within -1% IOPS of qemu | worst ",
        "| fcp-16disk: IOPS at least weighted-merged's, CPU at most its | IOPS ",
        // Without --dir nothing is measured, and the summary says how to.
        "## Measured on a disk\n\nNot run this time. `pollwise study --dir DIR`",
        // The line that reruns it spells the seeds as every command does.
        "Generated by `pollwise study --repeat 1 --duration-ms 2 --rollout-duration-ms 2 ",
    ] {
        assert!(md.contains(needle), "missing {needle} in:\n{md}");
    }
    assert!(!dir.join("measured.csv").exists());
    // Every run is in the CSVs: 9 online settings x 32 optane rows; 7
    // thresholds and 8 prices on the frontier; fcp's 64 rows run once per
    // random/sequential pair.
    let runs = rows(&fs::read_to_string(dir.join("policies-optane-p4800x.csv")).unwrap());
    assert_eq!(runs.len(), 9 * 32);
    let runs = rows(&fs::read_to_string(dir.join("frontier-optane-p4800x.csv")).unwrap());
    assert_eq!(runs.len(), 15 * 32);
    let runs = rows(&fs::read_to_string(dir.join("policies-fcp-16disk.csv")).unwrap());
    assert_eq!(runs.len(), 9 * 32);
    // IBM's later figures: qemu and the two proposals on the 12 rows of
    // numjobs 1, 4 and 8 (2 patterns x 2 block sizes), with 1 and 8
    // IOThreads.
    let runs = rows(&fs::read_to_string(dir.join("ibm-later-fcp-16disk.csv")).unwrap());
    assert_eq!(runs.len(), 3 * 24);
    let its: Vec<u32> = runs.iter().map(|r| r.iothreads).collect();
    assert_eq!(its.iter().filter(|&&it| it == 8).count(), 3 * 12, "{its:?}");
    assert!(runs.iter().all(|r| [1, 4, 8].contains(&r.numjobs)));
    // The qemu line compares qemu with itself.
    let qemu = md
        .lines()
        .find(|l| l.starts_with("| qemu | +0.00% |"))
        .unwrap();
    assert!(qemu.contains("+0.0%"), "{qemu}");
}

#[test]
fn threads_sizes_the_pool_and_does_not_change_the_bytes() {
    let args = [
        "sweep",
        "--policy",
        "qemu",
        "--param",
        "poll-max-ns=0,8000,32768",
        "--duration-ms",
        "20",
    ];
    let one = pollwise(&[&["--threads", "1"], &args[..]].concat());
    assert_ok(&one);
    let two = pollwise(&[&args[..], &["--threads", "2"]].concat());
    assert_ok(&two);
    assert_eq!(stdout(&one), stdout(&two));
    assert_eq!(stdout(&one).lines().count(), 4, "{}", stdout(&one));
    let zero = pollwise(&[&args[..], &["--threads", "0"]].concat());
    assert_clean_error(&zero, &["--threads 0", "at least 1"]);
}
