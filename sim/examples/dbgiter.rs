use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{Preset, Rw, Workload};
fn main() {
    let text = std::fs::read_to_string("docs/validation-local.toml").unwrap();
    let p = Preset::from_toml(&text, "local").unwrap();
    let w = Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 1,
        iodepth: 8,
        iothreads: 1,
        duration_ms: 50,
    };
    let params = Params::defaults(PolicyKind::Qemu);
    let (_, log, wakes) = pollwise_sim::simulate_explained(&p, &w, &params, 1).unwrap();
    println!("{wakes:?}");
    for r in log.iter().skip(200).take(40) {
        println!("t {:>9} wait {:>6} poll {:>6} polled {} slept {:>6} wake {:>6?} busy {:>6} sub {} reap {} ring {:?} h {:b}", r.start_ns, r.wait_ns, r.poll_ns, r.polled as u8, r.slept_ns, r.wake_ns, r.busy_ns, r.submitted, r.reaped, r.on_ringer_cpu, r.handlers);
    }
}
