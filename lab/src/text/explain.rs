//! `validate --explain`'s table: the point's IOPS and CPU on both sides,
//! then every phase of the loop side by side, the most different first,
//! with the error each contributes.

use std::io::{self, Write};

use pollwise_core::Workload;

use super::report::workload_text;
use crate::validate::explain::{Dist, Explanation, Outside, Phase, PhaseRow};

/// First line of the explanation.
pub const EXPLAIN_START: &str = "where the loops part: ";

/// What was run: the point, the policy, both sides.
pub struct ExplainSource<'a> {
    pub workload: &'a Workload,
    /// The policy as its name and parameters.
    pub policy: &'a str,
    pub preset: &'a str,
    pub reference: &'a str,
    pub seed: u64,
}

pub fn write_explanation<W: Write + ?Sized>(
    out: &mut W,
    e: &Explanation,
    src: &ExplainSource,
) -> io::Result<()> {
    writeln!(
        out,
        "{EXPLAIN_START}{} with {}, {} ms on the {} and on the simulator (preset {}, seed {})",
        workload_text(src.workload),
        src.policy,
        src.workload.duration_ms,
        src.reference,
        super::escaped(src.preset),
        src.seed
    )?;
    writeln!(out, "{:<8} {:>10} {:>8}", "", "IOPS", "CPU %")?;
    for (name, r) in [(src.reference, &e.device), ("sim", &e.model)] {
        writeln!(
            out,
            "{name:<8} {:>10.0} {:>8.1}",
            r.iops, r.iothread_cpu_pct
        )?;
    }
    writeln!(
        out,
        "{:<8} {:>+9.1}% {:>+8.1} pts",
        "error",
        e.iops_err_pct(),
        e.cpu_err_pts()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<17} {:>8} {:>8}  {:>22}  {:>22}  {:>4}  {:>7}  {:>6}",
        "phase",
        "n/s dev",
        "n/s sim",
        "dev p10/p50/p90",
        "sim p10/p50/p90",
        "KS",
        "cpu pts",
        "iops%"
    )?;
    for p in &e.phases {
        write_phase(out, p)?;
    }
    write_outside(out, e)?;
    write_legend(out)
}

/// The CPU outside every phase, per sleep on each side, as one more row.
fn write_outside<W: Write + ?Sized>(out: &mut W, e: &Explanation) -> io::Result<()> {
    let per_sleep = |o: &Outside| match o.per_sleep_ns() {
        v if v.is_nan() => "-".to_string(),
        v => format!("{:.1} us a sleep", v * 1e-3),
    };
    let [dev, sim] = &e.outside;
    writeln!(
        out,
        "{:<17} {:>8.0} {:>8.0}  {:>22}  {:>22}  {:>4}  {:>+7.1}  {:>6}",
        OUTSIDE,
        dev.sleeps_per_s,
        sim.sleeps_per_s,
        per_sleep(dev),
        per_sleep(sim),
        "-",
        e.outside_cpu_pts(),
        "-"
    )
}

/// The name of the row of the CPU outside the phases.
pub const OUTSIDE: &str = "outside the phases";

fn write_phase<W: Write + ?Sized>(out: &mut W, p: &PhaseRow) -> io::Result<()> {
    let opt = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:+.digits$}"),
        None => "-".into(),
    };
    writeln!(
        out,
        "{:<17} {:>8.0} {:>8.0}  {:>22}  {:>22}  {:>4.2}  {:>7}  {:>6}",
        p.phase.name(),
        p.device.per_s,
        p.model.per_s,
        dist_text(&p.device, p.phase),
        dist_text(&p.model, p.phase),
        p.distance,
        opt(p.cpu_pts, 1),
        opt(p.iops_pct, 1)
    )
}

/// p10/p50/p90, in us for a time; for a yes-or-no phase the share of
/// yes; `-` without samples.
fn dist_text(d: &Dist, phase: Phase) -> String {
    if d.median.is_nan() {
        return "-".into();
    }
    if phase.is_share() {
        return format!("{:.0}% yes", 100.0 * d.sum_per_s / d.per_s);
    }
    let (scale, unit) = if phase.is_time() {
        (1e-3, " us")
    } else {
        (1.0, "")
    };
    format!(
        "{:.1}/{:.1}/{:.1}{unit}",
        d.p10 * scale,
        d.median * scale,
        d.p90 * scale
    )
}

fn write_legend<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
    writeln!(
        out,
        "n/s: occurrences per second; KS: the Kolmogorov-Smirnov distance of the two \
         distributions (0 the same, 1 disjoint), the rows sorted by it."
    )?;
    writeln!(
        out,
        "cpu pts: the simulator's CPU minus the device's from this phase (its time per second), \
         points of one core; iops%: the IOPS error the phase explains, -(sim p50 - dev p50) x dev \
         n/s as a share of each second (exact for one request at a time, an upper bound when \
         requests overlap). outside the phases: the loop's CPU less its busy and poll time \
         (entering and leaving its sleeps, the wake-up's own CPU), per sleep on each side; with \
         it the cpu pts add up to the CPU error."
    )?;
    writeln!(
        out,
        "wake-up latency, on both sides: from the submission doorbell's first ring to the loop \
         noticing; a wake-up by a completion alone is not timed, and its sleep holds the wake-up. \
         loop on job's CPU: of those wake-ups, the share that ran the loop on the CPU of the job \
         that rang; joins: of those where the loop had slept on another CPU than the job's, the \
         share that brought it onto the job's; stays: of those where it had slept on the job's \
         CPU, the share that ran it there again (a pair that joins rarely and stays stays \
         together; one that neither stays apart); job on loop's CPU: of the jobs' wake-ups by \
         the loop's completions, the share that ran the job on the CPU the loop sent from (the \
         kernel packed the two; on the simulator, only with a shared host)."
    )
}
