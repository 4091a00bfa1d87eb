//! A streamed trace is the trace: the same rows in the same order, and the
//! same result row, as the run that keeps them.

use pollwise_core::{Params, PolicyKind, Rw, Workload};
use pollwise_sim::Preset;

#[test]
fn streamed_rows_are_the_kept_rows() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let w = Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 4,
        iodepth: 1,
        iothreads: 2,
        duration_ms: 20,
    };
    let params = Params::defaults(PolicyKind::Pollwise);
    let (row, kept) = pollwise_sim::simulate_traced(&preset, &w, &params, 7).unwrap();
    let mut streamed = Vec::new();
    let row2 =
        pollwise_sim::simulate_streamed(&preset, &w, &params, 7, |r| streamed.push(r)).unwrap();
    assert!(
        kept.len() > 100,
        "too short a trace to compare: {}",
        kept.len()
    );
    assert_eq!(streamed, kept);
    assert_eq!(row2, row);
}
