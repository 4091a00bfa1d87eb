//! Whatever bytes a plot is given, the CSV reader and every plot's data step
//! return a result or an error, never a panic: arbitrary bytes, and random
//! mutations (bytes inserted, removed, replaced; lines duplicated, swapped,
//! cut) of a valid file of each kind the plots read.

use std::path::Path;

use pollwise_plots::{
    compare_rows, heatmap_grid, pareto_data, window_runs, Filter, HeatmapOptions, ParetoOptions,
    Table, WindowOptions,
};
use proptest::prelude::*;

const RESULTS: &str = "\
source,preset,policy,params,rw,bs,numjobs,iodepth,iothreads,duration_ms,seed,iops,mb_per_s,lat_mean_us,lat_p50_us,lat_p99_us,lat_p999_us,iothread_cpu_pct,poll_cpu_pct,kicks_per_s,wakeups_per_s,window_mean_ns,window_zero_frac,abrupt_resets
sim,optane-p4800x,qemu,poll-max-ns=32768 poll-shrink=0,randread,8192,1,1,1,1000,1,163417.4,1276.7,5.9,5.6,9.8,14.1,98.7,90.1,0.0,12.0,16384.0,0.01,0
sim,optane-p4800x,qemu,poll-max-ns=4096 poll-shrink=2,randread,8192,4,1,1,1000,1,120000.0,937.5,8.1,7.9,12.0,20.0,60.0,40.0,100.0,900.0,2048.0,0.2,3
sim,optane-p4800x,weighted,poll-weight=3,randwrite,8192,1,1,1,1000,2,150000.0,1171.9,6.4,6.0,10.5,15.0,70.2,55.5,10.0,300.0,8192.0,0.05,1
";

const COMPARE: &str = "\
rw,bs,numjobs,iothreads,baseline_iops,candidate_iops,iops_diff_pct,baseline_cpu_pct,candidate_cpu_pct,cpu_diff_pct,baseline,candidate,preset,baseline_params,candidate_params,iops_diff_sd_pct
randread,8192,1,1,163417,160000,-2.1,98.7,60.0,-39.2,qemu,pollwise,optane-p4800x,poll-max-ns=32768,,0.5
randwrite,8192,4,1,120000,125000,4.2,60.0,50.0,-16.7,qemu,pollwise,optane-p4800x,poll-max-ns=32768,,0.3
";

const TRACE: &str = "\
policy,params,iothread,time_ns,window_ns,poll_max_ns
qemu,poll-max-ns=32768,0,0,0,32768
qemu,poll-max-ns=32768,0,1000,4096,32768
qemu,poll-max-ns=32768,0,2500,8192,32768
qemu,poll-max-ns=32768,1,0,0,32768
pollwise,,0,100,2048,32768
";

/// Reads `bytes` and runs every plot's data step on what it read. Errors
/// are fine; a panic fails the test.
fn exercise(bytes: &[u8]) {
    let Ok(mut table) = Table::from_reader(Path::new("fuzz.csv"), bytes) else {
        return;
    };
    let _ = pareto_data(&table, &ParetoOptions::default());
    let _ = pareto_data(
        &table,
        &ParetoOptions {
            baseline: "qemu poll-max-ns=32768".into(),
            normalize: true,
            ..ParetoOptions::default()
        },
    );
    for (x, y) in [("poll-max-ns", "poll-shrink"), ("rw", "numjobs")] {
        let _ = heatmap_grid(
            &table,
            &HeatmapOptions {
                x: x.into(),
                y: y.into(),
                metric: "iothread_cpu_pct".into(),
                filters: Vec::new(),
                title: None,
            },
        );
    }
    for (start_ns, span_ns) in [
        (None, None),
        (Some(500), Some(1000)),
        (Some(u64::MAX), Some(u64::MAX)),
    ] {
        let _ = window_runs(
            &table,
            &WindowOptions {
                filters: Vec::new(),
                start_ns,
                span_ns,
                title: None,
            },
        );
    }
    let _ = compare_rows(&table);
    let _ = table.retain(&["rw=randread".parse::<Filter>().unwrap()]);
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Replace(usize, u8),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
    /// Replaces one cell (line, cell) and keeps the file's shape, so the
    /// value reaches the plots rather than the CSV reader's checks.
    Cell(usize, usize, &'static str),
}

/// Cell values that are numbers to some readers and not to others, huge,
/// empty, negative, or not numbers at all.
const CELLS: [&str; 16] = [
    "",
    "NaN",
    "inf",
    "-inf",
    "-0",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-320",
    "18446744073709551616",
    "0x10",
    "poll-max-ns=",
    "=1 =2 a=b=c",
    "\u{e9}",
    "qemu",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"=".to_vec()),
        Just(b" ".to_vec()),
        Just(b"NaN".to_vec()),
        Just(b"inf".to_vec()),
        Just(b"-0".to_vec()),
        Just(b"1e308".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("\u{e9}".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        3 => (any::<usize>(), any::<usize>(), proptest::sample::select(&CELLS[..]))
            .prop_map(|(l, c, v)| Mutation::Cell(l, c, v)),
        1 => (any::<usize>(), special).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Insert(i, b) => {
            let i = at(*i, bytes.len());
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Replace(i, b) => {
            if !bytes.is_empty() {
                let i = i % bytes.len();
                bytes[i] = *b;
            }
        }
        Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) => {
            let mut lines: Vec<Vec<u8>> =
                bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let a = i % lines.len();
            match m {
                Mutation::SwapLines(_, j) => {
                    let j = j % lines.len();
                    lines.swap(a, j);
                }
                _ => {
                    let line = lines[a].clone();
                    lines.insert(a, line);
                }
            }
            *bytes = lines.join(&b'\n');
        }
        Mutation::Cell(l, c, v) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
            let l = l % lines.len();
            let mut cells: Vec<&str> = lines[l].split(',').collect();
            let c = c % cells.len();
            cells[c] = v;
            lines[l] = cells.join(",");
            *bytes = lines.join("\n").into_bytes();
        }
        Mutation::Truncate(i) => {
            let i = at(*i, bytes.len());
            bytes.truncate(i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        seed in 0..3usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = [RESULTS, COMPARE, TRACE][seed].as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        exercise(&bytes);
    }

    #[test]
    fn mixed_kinds_and_stray_values_never_panic(
        head in 0..3usize,
        body in 0..3usize,
        mutations in proptest::collection::vec(mutation(), 0..4),
    ) {
        // The header of one kind over the rows of another.
        let kinds = [RESULTS, COMPARE, TRACE];
        let header = kinds[head].lines().next().unwrap();
        let rows: Vec<&str> = kinds[body].lines().skip(1).collect();
        let mut bytes = format!("{header}\n{}\n", rows.join("\n")).into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        exercise(&bytes);
    }
}

#[test]
fn the_unmutated_files_are_read() {
    for text in [RESULTS, COMPARE, TRACE] {
        Table::from_reader(Path::new("ok.csv"), text.as_bytes()).unwrap();
    }
    let t = Table::from_reader(Path::new("ok.csv"), TRACE.as_bytes()).unwrap();
    assert!(!window_runs(
        &t,
        &WindowOptions {
            filters: Vec::new(),
            start_ns: None,
            span_ns: None,
            title: None,
        }
    )
    .unwrap()
    .is_empty());
    let t = Table::from_reader(Path::new("ok.csv"), COMPARE.as_bytes()).unwrap();
    assert_eq!(compare_rows(&t).unwrap().len(), 2);
}
