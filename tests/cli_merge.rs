//! Sweeps on a batch engine, through the binary: shards carry the sweep's
//! identity, and `merge` joins them into the unsharded sweep's bytes or
//! says which shard is missing, repeated or of another sweep.

use std::fs;

mod common;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir};

const SWEEP: [&str; 13] = [
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

#[test]
fn merged_shards_equal_the_unsharded_sweep_byte_for_byte() {
    let dir = scratch_dir("cli-merge");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    assert_ok(&pollwise(
        &[&SWEEP[..], &["--out", &p("whole.csv")]].concat(),
    ));
    let whole = fs::read_to_string(p("whole.csv")).unwrap();
    let header = whole.lines().next().unwrap();
    assert!(
        header.ends_with(",sweep_id,shard,sweep_row,sweep_rows"),
        "{header}"
    );
    for i in 1..=3 {
        let shard = format!("{i}/3");
        assert_ok(&pollwise(
            &[
                &SWEEP[..],
                &["--shard", &shard, "--out", &p(&format!("s{i}.csv"))],
            ]
            .concat(),
        ));
    }
    let ids: Vec<String> = (1..=3)
        .map(|i| {
            let t = fs::read_to_string(p(&format!("s{i}.csv"))).unwrap();
            let line = t.lines().nth(1).unwrap().to_string();
            line.split(',').rev().nth(3).unwrap().to_string()
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.len() == 16),
        "{ids:?}"
    );
    // Any order of the shard files.
    let o = pollwise(&[
        "merge",
        &p("s3.csv"),
        &p("s1.csv"),
        &p("s2.csv"),
        "--out",
        &p("m.csv"),
    ]);
    assert_ok(&o);
    assert_eq!(fs::read_to_string(p("m.csv")).unwrap(), whole);

    assert_clean_error(
        &pollwise(&["merge", &p("s1.csv"), &p("s3.csv"), "--out", &p("bad.csv")]),
        &["shard(s) 2 of 3 missing"],
    );
    assert_clean_error(
        &pollwise(&[
            "merge",
            &p("s1.csv"),
            &p("s1.csv"),
            &p("s2.csv"),
            &p("s3.csv"),
        ]),
        &["given twice"],
    );
    // A shard of another sweep (another seed) is refused.
    assert_ok(&pollwise(
        &[
            &SWEEP[..],
            &["--seed", "7", "--shard", "2/3", "--out", &p("x2.csv")],
        ]
        .concat(),
    ));
    assert_clean_error(
        &pollwise(&["merge", &p("s1.csv"), &p("x2.csv"), &p("s3.csv")]),
        &["different sweeps"],
    );
    // Nothing is written when a check fails.
    assert!(!dir.join("bad.csv").exists());
    fs::remove_dir_all(&dir).unwrap();
}
