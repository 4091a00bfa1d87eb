//! `pollwise bench`: the simulator's speed, measured against the practical
//! limit of any event-queue simulator (a bare binary-heap push/pop loop) in
//! the same run, so the ratio means something on a noisy machine.

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate_counted, Preset};

use super::compare::{sim_points, CompareCmd};
use super::workload::WorkloadFlags;
use super::{Result, Ui};
use crate::bench::{allocations, best_of, heap_loop, simpy_ios_per_s};

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
    let allocs_before = allocations();
    let (sim_secs, (_, events)) = best_of(repeat, || {
        simulate_counted(&preset, &workload, &params, 1).expect("valid benchmark run")
    });
    let allocs = allocations().zip(allocs_before).map(|(a, b)| a - b);
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
    match allocs {
        Some(a) => writeln!(
            out,
            "allocations per event   {:>12.4}",
            a as f64 / (events as f64 * f64::from(repeat.max(1)))
        )?,
        None => writeln!(
            out,
            "allocations per event   not counted (build with --features pollwise-lab/count-allocs)"
        )?,
    }
    simpy_ratio(ui, repeat, out)?;
    if compare {
        let c = CompareCmd::default_sim();
        let start = Instant::now();
        let (rows, _, _) = sim_points(ui, &c, c.policies.params(ui)?, 1)?;
        let threads = pollwise_sim::batch::threads_for(rows.len() * 2);
        let secs = start.elapsed().as_secs_f64();
        writeln!(
            out,
            "default compare         {secs:>12.2} s wall for {} rows x 2 policies on {threads} \
             threads ({:.1} runs/s)",
            rows.len(),
            (rows.len() * 2) as f64 / secs,
        )?;
    }
    Ok(())
}

/// The SimPy model of the closed loop (the compiled-in
/// lab/bench/simpy_closed_loop.py, or the script `POLLWISE_SIMPY` names)
/// against the same workload here, in simulated I/Os per wall second;
/// skipped with a line saying why when python3 or simpy is missing.
fn simpy_ratio(ui: &dyn Ui, repeat: u32, out: &mut dyn Write) -> Result<()> {
    let script = std::env::var_os("POLLWISE_SIMPY").map(PathBuf::from);
    let simpy = match simpy_ios_per_s(script.as_deref()) {
        Ok(r) => r,
        Err(why) => {
            writeln!(out, "ratio simulator/SimPy   skipped: {why}")?;
            return Ok(());
        }
    };
    let preset = Preset::load("optane-p4800x")?;
    let workload = WorkloadFlags {
        rw: Some("randread".into()),
        bs: Some("8k".into()),
        numjobs: Some("4".into()),
        iodepth: Some("8".into()),
        iothreads: Some("1".into()),
        duration_ms: Some(2000),
        ..WorkloadFlags::default()
    }
    .workload(ui, &preset)?;
    let params = Params::defaults(PolicyKind::Qemu);
    let (secs, row) = best_of(repeat, || {
        pollwise_sim::simulate(&preset, &workload, &params, 1).expect("valid benchmark run")
    });
    let ios = row.iops * workload.duration_ms as f64 / 1000.0;
    writeln!(out, "simulator I/Os per s    {:>12.0}", ios / secs)?;
    writeln!(out, "SimPy I/Os per s        {simpy:>12.0}")?;
    writeln!(out, "ratio simulator/SimPy   {:>12.1}", ios / secs / simpy)?;
    Ok(())
}
