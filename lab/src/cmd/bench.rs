//! `pollwise bench`: the simulator's speed, measured against the practical
//! limit of any event-queue simulator (a bare binary-heap push/pop loop) in
//! the same run, so the ratio means something on a noisy machine.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate_counted, Preset};
use pollwise_stats::{Interval, Verdict};

use super::compare::{sim_points, CompareCmd};
use super::workload::WorkloadFlags;
use super::{CmdError, Result, Ui};
use crate::bench::{
    allocations, heap_loop, interleaved, median_speeds, ratios, simpy_ios_per_s, timed,
    RatioEstimate,
};

/// Times the busiest row against the heap loop, in `repeat` interleaved
/// rounds, and, with `compare`, the whole default compare on `--threads`
/// threads; each result line goes to `out` as soon as it is measured.
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
    let sim = || simulate_counted(&preset, &workload, &params, 1).expect("valid benchmark run");
    let allocs_before = allocations();
    let (_, events) = sim();
    let allocs = allocations().zip(allocs_before).map(|(a, b)| a - b);
    // Pending events in that run: one per vCPU, slot and IOThread at most.
    let depth = u64::from(workload.numjobs * workload.iodepth + preset.guest.vcpus + 1);
    let speeds = interleaved(
        repeat,
        || {
            let (secs, (_, n)) = timed(sim);
            n as f64 / secs
        },
        || {
            let (secs, checksum) = timed(|| heap_loop(events, depth));
            black_box(checksum);
            events as f64 / secs
        },
    );
    let (sim_rate, heap_rate) = median_speeds(&speeds);
    writeln!(out, "events per run          {events}")?;
    writeln!(
        out,
        "simulator               {sim_rate:>12.0} events/s  ({:.3} s per simulated second, median)",
        events as f64 / sim_rate
    )?;
    writeln!(
        out,
        "bare heap push/pop      {heap_rate:>12.0} events/s  (median)"
    )?;
    writeln!(
        out,
        "ratio simulator/heap    {:>12}",
        RatioEstimate::of(&ratios(&speeds)).to_string()
    )?;
    match allocs {
        Some(a) => writeln!(
            out,
            "allocations per event   {:>12.4}",
            a as f64 / events as f64
        )?,
        None => writeln!(
            out,
            "allocations per event   not counted (build with --features pollwise-lab/count-allocs)"
        )?,
    }
    simpy_ratio(ui, repeat, out)?;
    if compare {
        let c = CompareCmd::default_sim();
        let params = c.policies.params(ui)?;
        let (secs, points) = timed(|| sim_points(ui, &c, params, 1));
        let (rows, _, _) = points?;
        let threads = pollwise_sim::batch::threads_for(rows.len() * 2);
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
    let ios_per_s = || {
        let (secs, row) = timed(|| {
            pollwise_sim::simulate(&preset, &workload, &params, 1).expect("valid benchmark run")
        });
        row.iops * workload.duration_ms as f64 / 1000.0 / secs
    };
    // The SimPy model reports its own rate (python3's start-up is not in
    // it); a run that fails after the first gives NaN and the line says so.
    let mut failed = None;
    let speeds = interleaved(repeat, ios_per_s, || {
        simpy_ios_per_s(script.as_deref()).unwrap_or_else(|why| {
            failed = Some(why);
            f64::NAN
        })
    });
    if let Some(why) = failed {
        writeln!(
            out,
            "ratio simulator/SimPy   skipped: a later run failed: {why}"
        )?;
        return Ok(());
    }
    let (ours, theirs) = median_speeds(&speeds);
    writeln!(out, "simulator I/Os per s    {ours:>12.0}  (median)")?;
    writeln!(
        out,
        "SimPy I/Os per s        {theirs:>12.0}  (median; first run {simpy:.0})"
    )?;
    writeln!(
        out,
        "ratio simulator/SimPy   {:>12}",
        RatioEstimate::of(&ratios(&speeds)).to_string()
    )?;
    Ok(())
}

/// What `bench --against` times on both builds: the default compare, and
/// the run the SimPy ratio uses, both printing CSV (the numbers, whose
/// bytes should not change, without the tables' layout, which may).
const AGAINST: [(&str, &[&str]); 2] = [
    ("default compare", &["compare", "--format", "csv"]),
    (
        "SimPy's workload",
        &[
            "sim",
            "--preset",
            "optane-p4800x",
            "--policy",
            "qemu",
            "--rw",
            "randread",
            "--bs",
            "8k",
            "--numjobs",
            "4",
            "--iodepth",
            "8",
            "--iothreads",
            "1",
            "--duration-ms",
            "2000",
            "--format",
            "csv",
        ],
    ),
];

/// The smallest speed-up in percent a verdict counts (criterion's noise
/// threshold): smaller changes are "no resolvable difference".
const NOISE_PCT: f64 = 2.0;

/// Times this build against `other` (another build of pollwise, an earlier
/// revision's for a before/after): each of [`AGAINST`]'s commands run by
/// both as child processes without the run cache, in `repeat` interleaved
/// rounds after one warm-up each; per command the medians, this build's
/// speed-up (other's time / this one's) with its interval and a verdict,
/// and whether the two printed the same bytes.
pub fn against(repeat: u32, other: &Path, out: &mut dyn Write) -> Result<()> {
    // Made absolute: a bare name would be looked up on PATH when run.
    let other = match std::fs::canonicalize(other) {
        Ok(p) if p.is_file() => p,
        _ => {
            return Err(CmdError::Msg(format!(
                "--against {}: no such file; give the path of another build of pollwise \
                 (for example an earlier revision's target/release/pollwise)",
                other.display()
            )))
        }
    };
    let other = other.as_path();
    let this = std::env::current_exe()
        .map_err(|e| CmdError::Msg(format!("cannot find this binary to run it: {e}")))?;
    writeln!(
        out,
        "this build {} against {}: each command run by both as a child process with \
         POLLWISE_NO_CACHE=1, {repeat} interleaved rounds after one warm-up each",
        this.display(),
        other.display()
    )?;
    for (name, args) in AGAINST {
        let (mut a, mut b) = (Side::new(&this), Side::new(other));
        // After a failure each side's remaining runs return at once.
        let rounds = interleaved(repeat, || a.speed(args), || b.speed(args));
        if let Some(e) = a.error.or(b.error) {
            return Err(CmdError::Msg(format!("{name}: {e}")));
        }
        let (ours, theirs) = median_speeds(&rounds);
        let speedup = RatioEstimate::of(&ratios(&rounds));
        let verdict = speedup.ci.map_or("one round: no verdict", |ci| {
            let pct = Interval {
                lo: (ci.lo - 1.0) * 100.0,
                hi: (ci.hi - 1.0) * 100.0,
            };
            match Verdict::of(pct, NOISE_PCT, true) {
                Verdict::Improvement => "faster",
                Verdict::Regression => "slower",
                Verdict::NoResolvableDifference => "no resolvable difference",
            }
        });
        let same = match (&a.output, &b.output) {
            (Some(a), Some(b)) if a == b => "the same output".to_string(),
            (Some(a), Some(b)) => format!("outputs differ ({} and {} bytes)", a.len(), b.len()),
            _ => "no output".to_string(),
        };
        writeln!(
            out,
            "{name:<18} this {:.3} s, other {:.3} s (medians); speed-up {speedup}: {verdict} \
             (bar {NOISE_PCT}%); {same}",
            1.0 / ours,
            1.0 / theirs
        )?;
    }
    Ok(())
}

/// One build's side of [`against`]: its first output and its first error.
struct Side<'a> {
    bin: &'a Path,
    output: Option<Vec<u8>>,
    error: Option<String>,
}

impl<'a> Side<'a> {
    fn new(bin: &'a Path) -> Side<'a> {
        Side {
            bin,
            output: None,
            error: None,
        }
    }

    /// Runs `args` once: 1 / its wall time, NaN if it failed (now or in
    /// an earlier round, which it does not repeat).
    fn speed(&mut self, args: &[&str]) -> f64 {
        if self.error.is_some() {
            return f64::NAN;
        }
        match run_child(self.bin, args) {
            Ok((secs, stdout)) => {
                self.output.get_or_insert(stdout);
                1.0 / secs
            }
            Err(e) => {
                self.error.get_or_insert(e);
                f64::NAN
            }
        }
    }
}

/// What a failed child said: its `error:` line (clap's usage lines follow
/// one), else its last line.
fn error_line(stderr: &str) -> &str {
    let mut lines = stderr.lines();
    lines
        .clone()
        .find(|l| l.starts_with("error:"))
        .or_else(|| lines.next_back())
        .unwrap_or("")
}

/// Runs `bin args` without the run cache; its wall time in seconds and its
/// standard output, or what went wrong.
fn run_child(bin: &Path, args: &[&str]) -> std::result::Result<(f64, Vec<u8>), String> {
    let (secs, output) = timed(|| {
        std::process::Command::new(bin)
            .args(args)
            .env("POLLWISE_NO_CACHE", "1")
            .stdin(std::process::Stdio::null())
            .output()
    });
    let output = output.map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} {}` failed ({}): {}",
            bin.display(),
            args.join(" "),
            output.status,
            error_line(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    Ok((secs, output.stdout))
}
