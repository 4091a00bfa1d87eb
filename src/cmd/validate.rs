//! `pollwise validate`: the same workloads on the device and in the
//! simulator (with a calibrated preset), side by side with the relative
//! errors.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_core::RunRow;
use pollwise_lab::stats::pct_diff;
use pollwise_lab::validate::{CPU_TOLERANCE_POINTS, IOPS_TOLERANCE_PCT};
use pollwise_lab::{validate, Agreement, SimBackend};

use crate::cmd::qemu::{BackendKind, CacheArgs};
use crate::device_args::{DeviceMatrixArgs, TargetArgs};
use crate::output::bs_text;
use crate::policy_args::PolicyArgs;
use crate::progress;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The calibrated preset (`pollwise realdev calibrate --out FILE`), or
    /// any preset name or file.
    #[arg(long, value_name = "FILE")]
    pub preset: String,
    #[command(flatten)]
    pub matrix: DeviceMatrixArgs,
    /// Length of each device run and of each simulated run.
    #[arg(long, default_value_t = 3000)]
    pub duration_ms: u64,
    /// Device runs (and simulator seeds) per point, averaged.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = ValidateFormat::Table)]
    pub format: ValidateFormat,
    /// The reference the simulator is checked against: device (pollwise's
    /// loop) or qemu (QEMU's own loop, `pollwise qemu build` first).
    #[arg(long, value_enum, default_value_t = BackendKind::Device)]
    pub against: BackendKind,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Table,
    /// Both rows of every point in the common schema (source sim/realdev).
    Csv,
}

pub fn run(a: ValidateArgs) -> Result<()> {
    let preset = pollwise_sim::Preset::load(&a.preset)?;
    let params = a.policy.params()?;
    if a.against == BackendKind::Sim {
        anyhow::bail!("--against sim: the simulator is the model; pick device or qemu");
    }
    crate::cmd::qemu::precheck(a.against, &a.cache, &params)?;
    if a.repeat == 0 {
        anyhow::bail!("--repeat must be at least 1");
    }
    let workloads = a
        .matrix
        .matrix(a.duration_ms)?
        .workloads(&pollwise_realdev::loadgen::LIMITS)?;
    pollwise_lab::validate::run_count(workloads.len(), a.repeat)?;
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let device = crate::cmd::qemu::open(a.against, &a.target, &a.cache, largest_bs)?;
    let sim = SimBackend { preset };
    let results = crate::stop::guarded(crate::stop::DEVICE_STOPPED, || {
        Ok(validate(
            device.as_ref(),
            &sim,
            &workloads,
            &params,
            a.seed,
            a.repeat,
            &progress::reporter(),
        )?)
    })?;
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        ValidateFormat::Table => {
            write_table(&mut out, &results, &a.preset, a.repeat, device.source())?
        }
        ValidateFormat::Csv => {
            let rows: Vec<RunRow> = results
                .iter()
                .flat_map(|r| [r.reference.clone(), r.model.clone()])
                .collect();
            pollwise_lab::rows::write_csv(&mut out, &rows)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_table<W: Write>(
    out: &mut W,
    results: &[Agreement],
    preset: &str,
    repeat: u32,
    reference: &str,
) -> Result<()> {
    let Some(first) = results.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "{reference} vs sim (preset {preset}), policy {} {}, mean of {repeat} run(s) each",
        first.reference.policy, first.reference.params
    )?;
    writeln!(
        out,
        "targets: IOPS within {IOPS_TOLERANCE_PCT}%, IOThread CPU within {CPU_TOLERANCE_POINTS} points"
    )?;
    writeln!(
        out,
        "{:<26} {:<14} {:>10} {:>10} {:>10}",
        "point", "metric", reference, "sim", "error"
    )?;
    let verdict = |ok: bool| if ok { " ok" } else { " MISS" };
    for r in results {
        let (d, s) = (&r.reference, &r.model);
        let point = format!(
            "{} {} jobs={} qd={}",
            d.rw,
            bs_text(d.bs),
            d.numjobs,
            d.iodepth
        );
        let lines = [
            ("IOPS", d.iops, s.iops, 0, Some(r.iops_ok())),
            ("lat mean us", d.lat_mean_us, s.lat_mean_us, 1, None),
            ("lat p99 us", d.lat_p99_us, s.lat_p99_us, 1, None),
        ];
        for (i, (name, dv, sv, digits, ok)) in lines.into_iter().enumerate() {
            writeln!(
                out,
                "{:<26} {:<14} {:>10.d$} {:>10.d$} {:>10}{}",
                if i == 0 { point.as_str() } else { "" },
                name,
                dv,
                sv,
                format!("{:+.1}%", pct_diff(dv, sv)),
                ok.map_or("", verdict),
                d = digits
            )?;
        }
        for (name, dv, sv, ok) in [
            (
                "CPU %",
                d.iothread_cpu_pct,
                s.iothread_cpu_pct,
                Some(r.cpu_ok()),
            ),
            ("poll CPU %", d.poll_cpu_pct, s.poll_cpu_pct, None),
        ] {
            writeln!(
                out,
                "{:<26} {:<14} {:>10.1} {:>10.1} {:>+7.1} pt{}",
                "",
                name,
                dv,
                sv,
                sv - dv,
                ok.map_or("", verdict)
            )?;
        }
        for (name, dv, sv) in [
            ("kicks/s", d.kicks_per_s, s.kicks_per_s),
            ("wake-ups/s", d.wakeups_per_s, s.wakeups_per_s),
        ] {
            let err = format!("{:+.1}%", pct_diff(dv, sv));
            writeln!(
                out,
                "{:<26} {:<14} {dv:>10.0} {sv:>10.0} {err:>10}",
                "", name
            )?;
        }
    }
    let misses = results
        .iter()
        .filter(|r| !(r.iops_ok() && r.cpu_ok()))
        .count();
    writeln!(
        out,
        "{} of {} point(s) within both targets",
        results.len() - misses,
        results.len()
    )?;
    Ok(())
}
