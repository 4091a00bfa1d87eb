//! `pollwise bench`: the simulator's speed, measured against the practical
//! limit of any event-queue simulator (a bare binary-heap push/pop loop) in
//! the same run, so the ratio means something on a noisy machine.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate_counted, Preset};

use crate::cmd::compare::{compare_rows, CompareArgs, CompareFormat};
use crate::policy_args::PolicyPairArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Repetitions of each measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Also time the full default compare (32 rows x 2 policies).
    #[arg(long)]
    pub compare: bool,
}

/// The bare loop: pops the earliest event and pushes a successor, with a
/// queue as deep as the simulation's and entries of the same size.
fn heap_loop(events: u64, depth: u64) -> u64 {
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let next = |x: &mut u64| {
        // xorshift: cheap, deterministic delays
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % 20_000
    };
    for i in 0..depth {
        heap.push(Reverse((next(&mut x), i, i)));
    }
    let mut checksum = 0u64;
    for seq in 0..events {
        let Reverse((t, _, v)) = heap.pop().expect("the queue never empties");
        checksum = checksum.wrapping_add(v);
        heap.push(Reverse((t + next(&mut x), depth + seq, v ^ seq)));
    }
    checksum
}

fn best_of<T>(repeat: u32, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one repetition"))
}

pub fn run(args: BenchArgs) -> Result<()> {
    let preset = Preset::load("optane-p4800x")?;
    // The busiest row: many jobs, one IOThread always polling.
    let workload = WorkloadArgs {
        bs: Some("8k".into()),
        numjobs: Some("16".into()),
        duration_ms: Some(1000),
        ..WorkloadArgs::default()
    }
    .workload(&preset)?;
    let params = Params::defaults(PolicyKind::Qemu);
    let (sim_secs, (_, events)) = best_of(args.repeat, || {
        simulate_counted(&preset, &workload, &params, 1).expect("valid benchmark run")
    });
    // Pending events in that run: one per vCPU, slot and IOThread at most.
    let depth = u64::from(workload.numjobs * workload.iodepth + preset.guest.vcpus + 1);
    let (heap_secs, checksum) = best_of(args.repeat, || heap_loop(events, depth));
    black_box(checksum);
    let sim_rate = events as f64 / sim_secs;
    let heap_rate = events as f64 / heap_secs;
    println!("events per run          {events}");
    println!(
        "simulator               {:>12.0} events/s  ({sim_secs:.3} s per simulated second)",
        sim_rate
    );
    println!("bare heap push/pop      {:>12.0} events/s", heap_rate);
    println!("ratio simulator/heap    {:>12.2}", sim_rate / heap_rate);
    if args.compare {
        let compare = CompareArgs {
            preset: "optane-p4800x".into(),
            policies: PolicyPairArgs {
                baseline: "qemu".into(),
                baseline_params: None,
                candidate: "weighted".into(),
                candidate_params: None,
            },
            workload: WorkloadArgs::default(),
            seeds: 1,
            seed: 1,
            latency_scale: None,
            format: CompareFormat::Table,
            backend: crate::cmd::qemu::BackendKind::Sim,
            real: Default::default(),
            accept_iops_loss: pollwise_lab::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT,
        };
        let start = Instant::now();
        let rows = compare_rows(&compare)?;
        println!(
            "default compare         {:>12.2} s wall for {} rows x 2 policies on {} threads",
            start.elapsed().as_secs_f64(),
            rows.len(),
            rayon_threads()
        );
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
