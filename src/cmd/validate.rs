//! `pollwise validate`: what the simulator (with a calibrated preset)
//! predicts each policy changes against a baseline, against what the
//! device measures, with the measurement's interval; and the baseline's
//! absolute agreement.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use pollwise_core::{Params, Rw};
use pollwise_lab::stats::{PairedDiff, DEFAULT_DEVICE_REPEATS, PAIRED_CI_METHOD};
use pollwise_lab::validate::{
    DiffPoint, CPU_DIFF_TOLERANCE_POINTS, CPU_TOLERANCE_POINTS, DIFF_TOLERANCE_POINTS,
    IOPS_TOLERANCE_PCT,
};
use pollwise_lab::{online, validate_diffs, DiffSpec, DiffValidation, Matrix};
use pollwise_lab::{Agreement, SimBackend};

use crate::cmd::qemu::{BackendKind, CacheArgs};
use crate::device_args::TargetArgs;
use crate::output::bs_text;
use crate::policy_args::named_params;
use crate::progress;
use crate::workload_args::{count, list, parse_size};

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The calibrated preset (`pollwise realdev calibrate --out FILE`), or
    /// any preset name or file.
    #[arg(long, value_name = "FILE")]
    pub preset: String,
    /// The policy every other is compared against.
    #[arg(long, default_value = "qemu")]
    pub baseline: String,
    /// Baseline parameters as NAME=VALUE pairs, comma-separated.
    #[arg(long, value_name = "PAIRS", allow_hyphen_values = true)]
    pub baseline_params: Option<String>,
    /// A policy to compare against the baseline, as NAME or
    /// NAME:PARAM=VALUE,... (repeatable).
    #[arg(
        long = "policy",
        value_name = "NAME[:PAIRS]",
        default_values_t = ["off".to_string(), "weighted:poll-weight=2".into(),
            "pollwise".into(), "fixed".into()]
    )]
    pub policies: Vec<String>,
    /// rw modes of the matrix, comma-separated.
    #[arg(long, default_value = "randread")]
    pub rw: String,
    /// Block sizes, comma-separated (k and m suffixes allowed).
    #[arg(long, default_value = "4k")]
    pub bs: String,
    #[arg(long, default_value = "1,4")]
    pub numjobs: String,
    #[arg(long, default_value = "1,8")]
    pub iodepth: String,
    /// IOThreads (event loops) on both sides; jobs go round-robin to them.
    #[arg(long, default_value = "1")]
    pub iothreads: String,
    #[arg(long, default_value_t = 50)]
    pub rwmixread: u32,
    /// Length of each device run and of each simulated run.
    #[arg(long, default_value_t = 1000)]
    pub duration_ms: u64,
    /// Interleaved device rounds per point (each runs the baseline and
    /// every policy once, after one warm-up run), and simulator seeds.
    #[arg(long, default_value_t = DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
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
    /// One row per (policy, point); see [`CSV_COLUMNS`].
    Csv,
}

/// A policy as its name and parameters.
fn label(p: &Params) -> String {
    let text = p.to_string();
    if text.is_empty() {
        p.kind().to_string()
    } else {
        format!("{} ({text})", p.kind())
    }
}

/// `NAME` or `NAME:PAIRS`.
fn policy(item: &str) -> Result<Params> {
    let (name, pairs) = match item.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (item, None),
    };
    named_params(name.trim(), pairs).with_context(|| format!("--policy {item}"))
}

pub fn run(a: ValidateArgs) -> Result<()> {
    let preset = pollwise_sim::Preset::load(&a.preset)?;
    let baseline = named_params(&a.baseline, a.baseline_params.as_deref())?;
    let candidates: Vec<Params> = a
        .policies
        .iter()
        .map(|p| policy(p))
        .collect::<Result<_>>()?;
    for p in std::iter::once(&baseline).chain(&candidates) {
        online(p)?;
    }
    if a.repeat == 0 {
        anyhow::bail!("--repeat must be at least 1");
    }
    let matrix = Matrix {
        rw: list("rw", &a.rw, Rw::from_name)?,
        bs: list("bs", &a.bs, parse_size)?,
        numjobs: list("numjobs", &a.numjobs, count)?,
        iodepth: list("iodepth", &a.iodepth, count)?,
        iothreads: list("iothreads", &a.iothreads, count)?,
        rwmixread: a.rwmixread,
        duration_ms: a.duration_ms,
    };
    if a.against == BackendKind::Sim {
        anyhow::bail!("--against sim: the simulator is the model; pick device or qemu");
    }
    if a.against == BackendKind::Qemu {
        // Every policy's variant first: a policy without one is the clearer
        // error than a variant not built yet.
        for p in std::iter::once(&baseline).chain(&candidates) {
            pollwise_lab::qemu_backend::variant(p)?;
        }
    }
    for p in std::iter::once(&baseline).chain(&candidates) {
        crate::cmd::qemu::precheck(a.against, &a.cache, p)?;
    }
    let workloads = matrix.workloads(&pollwise_realdev::loadgen::LIMITS)?;
    // Every policy runs each point once per round: checked before anything
    // is created.
    pollwise_lab::validate::run_count(workloads.len() * (1 + candidates.len()), a.repeat)?;
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let device = crate::cmd::qemu::open(a.against, &a.target, &a.cache, largest_bs)?;
    let sim = SimBackend { preset };
    let spec = DiffSpec {
        workloads,
        baseline,
        candidates,
        seed: a.seed,
        repeats: a.repeat,
    };
    let v = crate::stop::guarded(crate::stop::DEVICE_STOPPED, || {
        Ok(validate_diffs(
            device.as_ref(),
            &sim,
            &spec,
            &progress::reporter(),
        )?)
    })?;
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        ValidateFormat::Table => write_table(&mut out, &v, &a.preset, &spec, device.source())?,
        ValidateFormat::Csv => write_csv(&mut out, &v, &spec)?,
    }
    out.flush()?;
    Ok(())
}

/// The CSV's columns: the first eleven are the contract, the rest detail.
pub const CSV_COLUMNS: [&str; 25] = [
    "policy",
    "rw",
    "bs",
    "numjobs",
    "iodepth",
    "predicted_iops_diff_pct",
    "measured_iops_diff_pct",
    "measured_iops_diff_ci_low_pct",
    "measured_iops_diff_ci_high_pct",
    "predicted_cpu_diff_pts",
    "measured_cpu_diff_pts",
    "measured_cpu_diff_ci_low_pts",
    "measured_cpu_diff_ci_high_pts",
    "iops_ok",
    "sign_ok",
    "cpu_ok",
    "params",
    "baseline",
    "iothreads",
    "repeat",
    "baseline_device_iops",
    "baseline_sim_iops",
    "baseline_device_cpu_pct",
    "baseline_sim_cpu_pct",
    "ci_method",
];

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

fn baseline_of<'a>(v: &'a DiffValidation, d: &DiffPoint) -> Option<&'a Agreement> {
    let w = &d.workload;
    v.baseline.iter().find(|a| {
        let r = &a.reference;
        r.rw == w.rw.name()
            && r.bs == w.bs
            && r.numjobs == w.numjobs
            && r.iodepth == w.iodepth
            && r.iothreads == w.iothreads
    })
}

fn write_csv<W: Write>(out: &mut W, v: &DiffValidation, spec: &DiffSpec) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for d in &v.diffs {
        let (mi, mc) = (d.measured_iops(), d.measured_cpu());
        let cand = d.measured.candidate_mean();
        let base = baseline_of(v, d);
        let wl = &d.workload;
        let record: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|c| match *c {
                "policy" => cand.policy.clone(),
                "rw" => wl.rw.name().to_string(),
                "bs" => wl.bs.to_string(),
                "numjobs" => wl.numjobs.to_string(),
                "iodepth" => wl.iodepth.to_string(),
                "predicted_iops_diff_pct" => format!("{:.3}", d.predicted_iops_pct()),
                "measured_iops_diff_pct" => format!("{:.3}", mi.median),
                "measured_iops_diff_ci_low_pct" => opt(mi.ci.map(|c| c.lo), 3),
                "measured_iops_diff_ci_high_pct" => opt(mi.ci.map(|c| c.hi), 3),
                "predicted_cpu_diff_pts" => format!("{:.3}", d.predicted_cpu_pts()),
                "measured_cpu_diff_pts" => format!("{:.3}", mc.median),
                "measured_cpu_diff_ci_low_pts" => opt(mc.ci.map(|c| c.lo), 3),
                "measured_cpu_diff_ci_high_pts" => opt(mc.ci.map(|c| c.hi), 3),
                "iops_ok" => d.iops_ok().to_string(),
                "sign_ok" => d.sign_ok().map(|b| b.to_string()).unwrap_or_default(),
                "cpu_ok" => d.cpu_ok().to_string(),
                "params" => cand.params.clone(),
                "baseline" => label(&spec.baseline),
                "iothreads" => wl.iothreads.to_string(),
                "repeat" => d.measured.baseline.len().to_string(),
                "baseline_device_iops" => opt(base.map(|b| b.reference.iops), 1),
                "baseline_sim_iops" => opt(base.map(|b| b.model.iops), 1),
                "baseline_device_cpu_pct" => opt(base.map(|b| b.reference.iothread_cpu_pct), 2),
                "baseline_sim_cpu_pct" => opt(base.map(|b| b.model.iothread_cpu_pct), 2),
                "ci_method" => PAIRED_CI_METHOD.to_string(),
                _ => String::new(),
            })
            .collect();
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

fn ci_text(d: &PairedDiff, digits: usize) -> String {
    match d.ci {
        Some(ci) => format!(
            "{:+.digits$} [{:+.digits$}, {:+.digits$}]",
            d.median, ci.lo, ci.hi
        ),
        None => format!("{:+.digits$} [one run]", d.median),
    }
}

fn write_table<W: Write>(
    out: &mut W,
    v: &DiffValidation,
    preset: &str,
    spec: &DiffSpec,
    reference: &str,
) -> Result<()> {
    let mark = |ok: bool| if ok { "ok" } else { "MISS" };
    writeln!(
        out,
        "predicted (sim, preset {preset}, {} seeds) against measured ({reference}, {} interleaved \
         rounds after a warm-up) change of each policy against {}; policies:",
        spec.repeats,
        spec.repeats,
        label(&spec.baseline)
    )?;
    writeln!(out, "measured: {PAIRED_CI_METHOD}")?;
    writeln!(
        out,
        "IOPS ok: prediction inside the interval or within {DIFF_TOLERANCE_POINTS} points of the \
         median; CPU ok: within {CPU_DIFF_TOLERANCE_POINTS} points of the median"
    )?;
    for p in &spec.candidates {
        writeln!(out, "  {}", label(p))?;
    }
    writeln!(
        out,
        "{:<10} {:<26} {:>9} {:>26} {:>5} {:>5}  {:>8} {:>24} {:>5}",
        "policy",
        "point",
        "pred iops",
        "measured iops% [95% CI]",
        "iops",
        "sign",
        "pred cpu",
        "measured cpu pts [95% CI]",
        "cpu"
    )?;
    for d in &v.diffs {
        let w = &d.workload;
        let name = d.measured.candidate_mean().policy;
        let point = format!(
            "{} {} j={} qd={} iot={}",
            w.rw.name(),
            bs_text(w.bs),
            w.numjobs,
            w.iodepth,
            w.iothreads
        );
        let sign = match d.sign_ok() {
            Some(true) => "ok",
            Some(false) => "WRONG",
            None => "-",
        };
        writeln!(
            out,
            "{:<10} {:<26} {:>+8.1}% {:>26} {:>5} {:>5}  {:>+8.1} {:>24} {:>5}",
            name,
            point,
            d.predicted_iops_pct(),
            ci_text(&d.measured_iops(), 1),
            mark(d.iops_ok()),
            sign,
            d.predicted_cpu_pts(),
            ci_text(&d.measured_cpu(), 1),
            mark(d.cpu_ok())
        )?;
    }
    let n = v.diffs.len();
    let iops_ok = v.diffs.iter().filter(|d| d.iops_ok()).count();
    let resolved = v.diffs.iter().filter(|d| d.sign_ok().is_some()).count();
    let sign_ok = v.diffs.iter().filter(|d| d.sign_ok() == Some(true)).count();
    let cpu_ok = v.diffs.iter().filter(|d| d.cpu_ok()).count();
    let pct = |k: usize| {
        if n == 0 {
            0.0
        } else {
            100.0 * k as f64 / n as f64
        }
    };
    writeln!(
        out,
        "IOPS change agrees on {iops_ok} of {n} pairs ({:.0}%; target 80%); sign right on \
         {sign_ok} of {resolved} resolved pairs (target all); CPU change agrees on {cpu_ok} of {n} \
         ({:.0}%)",
        pct(iops_ok),
        pct(cpu_ok)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "absolute agreement of {}: IOPS within {IOPS_TOLERANCE_PCT}%, CPU within \
         {CPU_TOLERANCE_POINTS} points (device mean of {} runs, sim mean of {} seeds)",
        label(&spec.baseline),
        spec.repeats,
        spec.repeats
    )?;
    writeln!(
        out,
        "{:<26} {:>10} {:>10} {:>8} {:>5}  {:>8} {:>8} {:>8} {:>5}",
        "point", "dev iops", "sim iops", "error", "", "dev cpu", "sim cpu", "error", ""
    )?;
    for a in &v.baseline {
        let (d, s) = (&a.reference, &a.model);
        let point = format!(
            "{} {} j={} qd={} iot={}",
            d.rw,
            bs_text(d.bs),
            d.numjobs,
            d.iodepth,
            d.iothreads
        );
        writeln!(
            out,
            "{:<26} {:>10.0} {:>10.0} {:>+7.1}% {:>5}  {:>8.1} {:>8.1} {:>+8.1} {:>5}",
            point,
            d.iops,
            s.iops,
            a.iops_err_pct(),
            mark(a.iops_ok()),
            d.iothread_cpu_pct,
            s.iothread_cpu_pct,
            a.cpu_err_points(),
            mark(a.cpu_ok())
        )?;
    }
    let misses = v
        .baseline
        .iter()
        .filter(|r| !(r.iops_ok() && r.cpu_ok()))
        .count();
    writeln!(
        out,
        "{} of {} point(s) within both targets",
        v.baseline.len() - misses,
        v.baseline.len()
    )?;
    Ok(())
}
