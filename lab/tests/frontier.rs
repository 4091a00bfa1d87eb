//! No policy lands below the study's best-known frontier by more than the
//! seeds' spread, on the rows where polling matters (8k randread, numjobs 1
//! and 4, one and two IOThreads of the optane preset), with the rollout.
//! Short runs, so the spread is wider than the study's; the check is the
//! study's own (`pollwise_lab::study::violations`).

use pollwise_lab::study::{frontier_points, violations, Family};
use pollwise_sim::rollout::RolloutOptions;
use pollwise_sim::{Preset, Rw, Workload};

#[test]
fn no_policy_lands_below_the_frontier() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let workloads: Vec<Workload> = preset
        .matrix
        .workloads()
        .into_iter()
        .filter(|w| w.rw == Rw::RandRead && w.bs == 8192 && [1, 4].contains(&w.numjobs))
        .map(|w| Workload {
            duration_ms: 20,
            ..w
        })
        .collect();
    assert_eq!(workloads.len(), 4);
    let (points, rows) = frontier_points(
        &preset,
        &workloads,
        3,
        Some(RolloutOptions::default()),
        &|_| {},
    )
    .unwrap();
    assert!(rows.iter().any(|r| r.policy == "rollout"));
    assert!(points.iter().any(|p| p.family == Family::Rollout));
    assert!(points.iter().filter(|p| p.family == Family::Online).count() >= 8);
    let bad = violations(&points);
    assert!(bad.is_empty(), "below the frontier: {bad:#?}");
}
