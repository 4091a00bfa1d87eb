//! `pollwise bench`: the simulator's speed, measured against the practical
//! limit of any event-queue simulator (a bare binary-heap push/pop loop) in
//! the same run, so the ratio means something on a noisy machine.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate_counted, Preset};

use super::compare::{sim_points, CompareCmd};
use super::workload::WorkloadFlags;
use super::{Result, Ui};
use crate::bench::{best_of, heap_loop};

/// Times the busiest row against the heap loop (best of `repeat`) and,
/// with `compare`, the whole default compare on `--threads` threads; each
/// result line goes to `out` as soon as it is measured.
pub fn run(ui: &dyn Ui, repeat: u32, compare: bool, out: &mut dyn Write) -> Result<()> {
    let preset = Preset::load("optane-p4800x")?;
    // The busiest row: many jobs, one IOThread always polling.
    let workload = WorkloadFlags {
        bs: Some("8k".into()),
        numjobs: Some("16".into()),
        duration_ms: Some(1000),
        ..WorkloadFlags::default()
    }
    .workload(ui, &preset)?;
    let params = Params::defaults(PolicyKind::Qemu);
    let (sim_secs, (_, events)) = best_of(repeat, || {
        simulate_counted(&preset, &workload, &params, 1).expect("valid benchmark run")
    });
    // Pending events in that run: one per vCPU, slot and IOThread at most.
    let depth = u64::from(workload.numjobs * workload.iodepth + preset.guest.vcpus + 1);
    let (heap_secs, checksum) = best_of(repeat, || heap_loop(events, depth));
    black_box(checksum);
    let sim_rate = events as f64 / sim_secs;
    let heap_rate = events as f64 / heap_secs;
    writeln!(out, "events per run          {events}")?;
    writeln!(
        out,
        "simulator               {:>12.0} events/s  ({sim_secs:.3} s per simulated second)",
        sim_rate
    )?;
    writeln!(out, "bare heap push/pop      {:>12.0} events/s", heap_rate)?;
    writeln!(
        out,
        "ratio simulator/heap    {:>12.2}",
        sim_rate / heap_rate
    )?;
    if compare {
        let c = CompareCmd::default_sim();
        let start = Instant::now();
        let (rows, _, _) = sim_points(ui, &c, c.policies.params(ui)?, 1)?;
        let threads = pollwise_sim::batch::threads_for(rows.len() * 2);
        writeln!(
            out,
            "default compare         {:>12.2} s wall for {} rows x 2 policies on {threads} threads",
            start.elapsed().as_secs_f64(),
            rows.len(),
        )?;
    }
    Ok(())
}
