//! A host that serves a disk in passes (`[device.passes]`): one request at
//! a time, and every request of a pass delivered together when its queue
//! runs dry. Checked on the tiny preset by hand-computed cycles.

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate, Preset, Rw, Workload};

mod tiny;
use tiny::TINY;

/// TINY with its device served in passes, delivering `delivery_ns` after a
/// pass ends (service: L + T = 11000 ns per request).
fn passes(delivery_ns: u64) -> Preset {
    let text = TINY.replace("parallelism = 4", "parallelism = 1")
        + &format!("[device.passes]\ndelivery_ns = {delivery_ns}\n");
    // The section must follow [device]: move it before [matrix].
    let (head, matrix) = text.split_once("[matrix]").unwrap();
    let (matrix, passes) = matrix.split_once("[device.passes]").unwrap();
    let text = format!("{head}[device.passes]{passes}[matrix]{matrix}");
    Preset::from_toml(&text, "tiny-passes").unwrap()
}

fn workload(iodepth: u32) -> Workload {
    Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 1,
        iodepth,
        iothreads: 1,
        duration_ms: 100,
    }
}

#[test]
fn a_pass_of_one_adds_its_delivery_to_the_cycle() {
    // The never-polling cycle of sim/tests/model.rs (19100 ns) with the
    // device's L + T followed by the 5000 ns delivery: 24100 ns.
    let p = passes(5000);
    let row = simulate(&p, &workload(1), &Params::defaults(PolicyKind::Off), 1).unwrap();
    let want = 1e9 / 24100.0;
    assert!(
        (row.iops - want).abs() <= 10.0,
        "iops {} but the hand-computed cycle of 24100 ns gives {want}",
        row.iops
    );
}

#[test]
fn requests_submitted_together_come_back_together() {
    // qd8 with a loop that always polls. The host serves the 8 requests
    // one after another (8 x 11000 ns) and delivers them together 5000 ns
    // after the last; only then can the guest reissue them, so a cycle
    // is 93000 ns plus the turnaround of the loop and the guest (a few
    // us): 8e9 / 93000 = 86022 IOPS at most. A host that signalled each
    // request when it finished would keep the server busy: 1e9 / 11000 =
    // 90909.
    let p = passes(5000);
    let fixed = Params::from_pairs(PolicyKind::Fixed, [("poll-max-ns", "1000000")]).unwrap();
    let row = simulate(&p, &workload(8), &fixed, 1).unwrap();
    assert!(
        row.iops < 8e9 / 93000.0 && row.iops > 8e9 / 101_000.0,
        "iops {}: expected 8 per (93000 ns + a turnaround of at most 8000 ns), {:.0}..{:.0}",
        row.iops,
        8e9 / 101_000.0,
        8e9 / 93000.0
    );
}

#[test]
fn a_host_serving_in_passes_has_one_channel() {
    let text = TINY.replace("[matrix]", "[device.passes]\ndelivery_ns = 5000\n[matrix]");
    let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
    assert!(
        err.contains("device.parallelism must be 1 (is 4)"),
        "unexpected error: {err}"
    );
}
