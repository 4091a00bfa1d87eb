//! Sweeps: every combination, and shards that add up to the whole.

use pollwise_core::PolicyKind;
use pollwise_sim::sweep::{Shard, SweepSpec};
use pollwise_sim::Preset;

fn spec(preset: &Preset) -> SweepSpec {
    let mut w = preset.matrix.workloads()[0].clone();
    w.duration_ms = 5;
    SweepSpec {
        kind: PolicyKind::Qemu,
        fixed: vec![],
        axes: vec![
            (
                "poll-max-ns".into(),
                vec!["0".into(), "4000".into(), "32768".into()],
            ),
            ("poll-shrink".into(), vec!["0".into(), "2".into()]),
        ],
        workloads: vec![w],
        seed: 10,
        seeds: 2,
    }
}

#[test]
fn cartesian_product_in_axis_order() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let s = spec(&preset);
    let points = s.param_points().unwrap();
    let text: Vec<String> = points.iter().map(|p| p.to_string()).collect();
    assert_eq!(text.len(), 6);
    assert_eq!(text[0], "poll-max-ns=0 poll-grow=0 poll-shrink=0");
    assert_eq!(text[1], "poll-max-ns=0 poll-grow=0 poll-shrink=2");
    assert_eq!(text[5], "poll-max-ns=32768 poll-grow=0 poll-shrink=2");
    assert_eq!(s.len().unwrap(), 12);
}

#[test]
fn shards_concatenate_to_the_whole_sweep() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let s = spec(&preset);
    let whole = s.run(&preset, Shard::WHOLE, &|_| {}).unwrap();
    assert_eq!(whole.len(), 12);
    for n in [2, 5, 12, 13] {
        let mut joined = Vec::new();
        for i in 1..=n {
            joined.extend(
                s.run(&preset, Shard { index: i, count: n }, &|_| {})
                    .unwrap(),
            );
        }
        assert_eq!(joined, whole, "{n} shards");
    }
    // Seeds go 10, 11 at every point.
    assert_eq!(whole[0].seed, 10);
    assert_eq!(whole[1].seed, 11);
    assert_eq!(whole[2].seed, 10);
}

#[test]
fn bad_shards_and_values_are_refused() {
    for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
    let preset = Preset::load("optane-p4800x").unwrap();
    let mut s = spec(&preset);
    s.axes[0].1.push("-5".into());
    let e = s.param_points().unwrap_err().to_string();
    assert!(e.contains("poll-max-ns") && e.contains("-5"), "{e}");
}

/// The ETA counts down the expected cost `events` announces: the runs'
/// reported costs must add up to it, shard by shard.
#[test]
fn a_shards_expected_cost_is_what_its_runs_report() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let s = spec(&preset);
    for (index, count) in [(1, 1), (1, 5), (3, 5), (5, 5)] {
        let shard = Shard { index, count };
        let told = std::sync::Mutex::new(0.0);
        s.run(&preset, shard, &|f| *told.lock().unwrap() += f.events)
            .unwrap();
        let told = told.into_inner().unwrap();
        let want = s.events(&preset, shard).unwrap();
        assert!(want > 0.0);
        assert!(
            (told - want).abs() <= 1e-9 * want,
            "{index}/{count}: {told} vs {want}"
        );
    }
}
