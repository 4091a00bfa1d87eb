//! `pollwise bench`: the simulator's speed, measured against the practical
//! limit of any event-queue simulator (a bare binary-heap push/pop loop) in
//! the same run, so the ratio means something on a noisy machine.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use pollwise_core::{Params, PolicyKind};
use pollwise_lab::bench::{best_of, heap_loop};
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
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
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
            repeat: None,
            seeds: None,
            seed: 1,
            latency_scale: None,
            format: CompareFormat::Table,
            backend: crate::cmd::real::BackendKind::Sim,
            real: Default::default(),
            accept_iops_loss: pollwise_lab::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT,
            threads: Default::default(),
        };
        let start = Instant::now();
        let rows = compare_rows(&compare, compare.policies.params()?, 1)?;
        println!(
            "default compare         {:>12.2} s wall for {} rows x 2 policies on {} threads",
            start.elapsed().as_secs_f64(),
            rows.len(),
            rayon::current_num_threads()
        );
    }
    Ok(())
}
