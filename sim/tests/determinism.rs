//! A run is a pure function of (preset, workload, parameters, seed).

use pollwise_core::{Params, PolicyKind, RunRow};
use pollwise_sim::{simulate, simulate_traced, Preset, Workload};

fn csv_bytes(rows: &[RunRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).unwrap();
    }
    w.into_inner().unwrap()
}

fn workload(preset: &Preset) -> Workload {
    let mut w = preset.matrix.workloads()[2].clone(); // randread 8k numjobs=4
    w.duration_ms = 20;
    w
}

#[test]
fn same_inputs_give_the_same_bytes_for_every_policy() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let w = workload(&preset);
    for kind in PolicyKind::ALL {
        let p = Params::defaults(kind);
        let a = simulate(&preset, &w, &p, 7).unwrap();
        let b = simulate(&preset, &w, &p, 7).unwrap();
        assert_eq!(csv_bytes(&[a]), csv_bytes(&[b]), "{kind}");
    }
}

#[test]
fn traces_are_deterministic_too() {
    let preset = Preset::load("fcp-16disk").unwrap();
    let w = workload(&preset);
    let p = Params::defaults(PolicyKind::Weighted);
    let (ra, ta) = simulate_traced(&preset, &w, &p, 3).unwrap();
    let (rb, tb) = simulate_traced(&preset, &w, &p, 3).unwrap();
    assert_eq!(ra, rb);
    assert!(!ta.is_empty());
    assert_eq!(ta, tb);
    // Tracing does not change the run.
    assert_eq!(simulate(&preset, &w, &p, 3).unwrap(), ra);
}

#[test]
fn a_different_seed_gives_a_different_run() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let w = workload(&preset);
    let p = Params::defaults(PolicyKind::Qemu);
    let a = simulate(&preset, &w, &p, 1).unwrap();
    let b = simulate(&preset, &w, &p, 2).unwrap();
    assert_ne!(csv_bytes(&[a]), csv_bytes(&[b]));
}
