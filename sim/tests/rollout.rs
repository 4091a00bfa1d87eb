//! The rollout over the priced clairvoyant: it never does worse than its
//! base policy under the same price, and it refuses what it cannot improve.

use pollwise_core::{Params, PolicyKind, RunRow};
use pollwise_sim::rollout::{simulate_rollout, RolloutOptions};
use pollwise_sim::{simulate, Preset, Rw, Workload};

fn clairvoyant(price_milli: u64) -> Params {
    Params::from_pairs(
        PolicyKind::Clairvoyant,
        [("delay-price-milli", price_milli.to_string().as_str())],
    )
    .unwrap()
}

/// The priced cost of one I/O: IOThread CPU ns plus price x guest ns, per
/// completed request (the guest's ns per request is 1e9 / IOPS for each of
/// the numjobs x iodepth requests in flight).
fn cost_per_io(r: &RunRow, price: f64) -> f64 {
    let cpu_ns_per_s = r.iothread_cpu_pct / 100.0 * 1e9 * f64::from(r.iothreads);
    (cpu_ns_per_s + price * 1e9) / r.iops
}

#[test]
fn rollout_is_no_worse_than_its_base_under_the_price() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let w = Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 8192,
        numjobs: 1,
        iodepth: 8,
        iothreads: 1,
        duration_ms: 10,
    };
    for price in [250, 2000] {
        let p = clairvoyant(price);
        let base = simulate(&preset, &w, &p, 1).unwrap();
        let roll = simulate_rollout(&preset, &w, &p, 1, RolloutOptions::default()).unwrap();
        assert_eq!(roll.policy, "rollout");
        // It did decide something differently from its base.
        assert_ne!(
            (roll.iops, roll.iothread_cpu_pct),
            (base.iops, base.iothread_cpu_pct),
            "price {price}"
        );
        let (b, r) = (
            cost_per_io(&base, price as f64 / 1000.0),
            cost_per_io(&roll, price as f64 / 1000.0),
        );
        // 1% for the truncated horizon and the few decisions left to the
        // base policy at the ends of the run.
        assert!(
            r <= b * 1.01,
            "price {price}: rollout costs {r:.1} ns per I/O, its base {b:.1} \
             (rollout {} IOPS {:.1}% CPU; base {} IOPS {:.1}% CPU)",
            roll.iops,
            roll.iothread_cpu_pct,
            base.iops,
            base.iothread_cpu_pct
        );
    }
}

#[test]
fn rollout_refuses_other_policies_and_an_empty_horizon() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let w = preset.matrix.workloads()[0].clone();
    let err = simulate_rollout(
        &preset,
        &w,
        &Params::defaults(PolicyKind::Qemu),
        1,
        RolloutOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("clairvoyant"), "{err}");
    let opts = RolloutOptions {
        horizon_completions: 0,
        ..RolloutOptions::default()
    };
    let err = simulate_rollout(&preset, &w, &clairvoyant(1000), 1, opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("horizon"), "{err}");
}
