//! `validate`'s outputs: the table of predicted against measured changes
//! with the measurement's interval, the baseline's absolute agreement, and
//! the CSV whose first eleven columns are the contract.

use std::io::{self, Write};

use pollwise_core::{Params, Workload};

pub use crate::formats::output::{
    VALIDATION_CSV_COLUMNS, VALIDATION_REPORT_TITLE, VALIDATION_TABLE_START,
};
use crate::stats::{PairedDiff, PAIRED_CI_METHOD};
use crate::validate::{
    Agreement, DiffPoint, DiffSpec, DiffValidation, Prediction, Tally, TrustFailure,
    CPU_DIFF_TOLERANCE_POINTS, CPU_TOLERANCE_POINTS, DIFF_TOLERANCE_POINTS, IOPS_TOLERANCE_PCT,
    PAIRS_AGREE_TARGET_PCT, WAKEUP_DRIFT,
};

use super::validate_notes::{point_text, write_steep, write_two_states};

/// A policy as its name and parameters.
pub fn policy_label(p: &Params) -> String {
    if p.kind().specs().is_empty() {
        p.kind().to_string()
    } else {
        format!("{} ({})", p.kind(), crate::effective::effective_text(p))
    }
}

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

pub fn write_validation_csv<W: Write + ?Sized>(
    out: &mut W,
    v: &DiffValidation,
    spec: &DiffSpec,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(VALIDATION_CSV_COLUMNS)?;
    for d in &v.diffs {
        let (mi, mc) = (d.measured_iops(), d.measured_cpu());
        let cand = d.measured.candidate_mean();
        let base = baseline_of(v, d);
        let wl = &d.workload;
        let record: Vec<String> = VALIDATION_CSV_COLUMNS
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
                "baseline" => policy_label(&spec.baseline),
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

fn prediction_text(p: &Prediction) -> String {
    format!(
        "{:+.1} [{:+.1}, {:+.1}]",
        p.value, p.interval.lo, p.interval.hi
    )
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISS"
    }
}

fn workload_text(w: &Workload) -> String {
    point_text(w.rw.name(), w.bs, w.numjobs, w.iodepth, w.iothreads)
}

pub fn write_validation_table<W: Write + ?Sized>(
    out: &mut W,
    v: &DiffValidation,
    preset: &str,
    spec: &DiffSpec,
    reference: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "{VALIDATION_TABLE_START}{} against {reference}: the baseline's own numbers first, then \
         each policy's change",
        super::escaped(preset)
    )?;
    let t = v.tally();
    write_absolute_table(out, v, spec)?;
    writeln!(
        out,
        "{} of {} point(s) within both targets",
        t.absolute_ok, t.points
    )?;
    write_two_states(out, v)?;
    write_steep(out, v)?;
    writeln!(out)?;
    write_diff_header(out, preset, spec, reference)?;
    for d in &v.diffs {
        write_diff_row(out, d)?;
    }
    write_tally_line(out, &t)?;
    writeln!(out, "{}", trust_line(&t))
}

/// The one line that says whether this host's model can be trusted, and
/// if not, which checks failed (the most basic first).
pub fn trust_line(t: &Tally) -> String {
    let failures = t.failures();
    if failures.is_empty() {
        return format!(
            "verdict: this host's model can be trusted: the baseline within {IOPS_TOLERANCE_PCT}% \
             IOPS and {CPU_TOLERANCE_POINTS} CPU points at all {} points, {} of {} IOPS and {} of \
             {} CPU changes agree, no sign wrong",
            t.points, t.iops_ok, t.pairs, t.cpu_ok, t.pairs
        );
    }
    let why: Vec<String> = failures.iter().map(failure_text).collect();
    format!(
        "verdict: this host's model cannot be trusted: {}",
        why.join("; ")
    )
}

fn failure_text(f: &TrustFailure) -> String {
    match *f {
        TrustFailure::Empty => "nothing was compared".into(),
        TrustFailure::Absolute { off, points } => format!(
            "the baseline misses {IOPS_TOLERANCE_PCT}% IOPS or {CPU_TOLERANCE_POINTS} CPU points \
             at {off} of {points} points"
        ),
        TrustFailure::WrongSign { wrong, resolved } => format!(
            "the predicted change has the wrong sign at {wrong} of {resolved} pairs where both \
             signs are resolved"
        ),
        TrustFailure::IopsChanges { ok, pairs } => format!(
            "IOPS changes agree on {ok} of {pairs} pairs (target {PAIRS_AGREE_TARGET_PCT}%)"
        ),
        TrustFailure::CpuChanges { ok, pairs } => {
            format!("CPU changes agree on {ok} of {pairs} pairs (target {PAIRS_AGREE_TARGET_PCT}%)")
        }
        TrustFailure::Steep { steep, points } => format!(
            "the model is steep at {steep} of {points} points (its baseline moves past a target \
             when the calibrated wake-ups are taken {:.0}% shorter or longer)",
            100.0 * WAKEUP_DRIFT
        ),
    }
}

/// What was predicted and measured, the agreement rules, the policies
/// and the column names of the table of changes.
fn write_diff_header<W: Write + ?Sized>(
    out: &mut W,
    preset: &str,
    spec: &DiffSpec,
    reference: &str,
) -> io::Result<()> {
    let preset = super::escaped(preset);
    writeln!(
        out,
        "predicted (sim, preset {preset}, {} seeds) against measured ({reference}, {} interleaved \
         rounds after a warm-up) change of each policy against {}; policies:",
        spec.repeats,
        spec.repeats,
        policy_label(&spec.baseline)
    )?;
    writeln!(out, "measured: {PAIRED_CI_METHOD}")?;
    writeln!(
        out,
        "predicted: the change of the seeds' means [the seeds' 95% interval, widened by half the \
         calibration's spread of the change]"
    )?;
    writeln!(
        out,
        "IOPS ok: the intervals overlap (or the prediction is within {DIFF_TOLERANCE_POINTS} \
         points of the median) and the sign is not wrong; sign: checked where both intervals \
         exclude zero; CPU ok: overlap or within {CPU_DIFF_TOLERANCE_POINTS} points"
    )?;
    for p in &spec.candidates {
        writeln!(out, "  {}", policy_label(p))?;
    }
    writeln!(
        out,
        "{:<10} {:<26} {:>26} {:>26} {:>5} {:>5}  {:>8} {:>24} {:>5}",
        "policy",
        "point",
        "predicted iops% [interval]",
        "measured iops% [95% CI]",
        "iops",
        "sign",
        "pred cpu",
        "measured cpu pts [95% CI]",
        "cpu"
    )
}

/// One candidate at one point: predicted and measured changes, each
/// check's mark.
fn write_diff_row<W: Write + ?Sized>(out: &mut W, d: &DiffPoint) -> io::Result<()> {
    let sign = match d.sign_ok() {
        Some(true) => "ok",
        Some(false) => "WRONG",
        None => "-",
    };
    writeln!(
        out,
        "{:<10} {:<26} {:>26} {:>26} {:>5} {:>5}  {:>+8.1} {:>24} {:>5}",
        d.measured.candidate_mean().policy,
        workload_text(&d.workload),
        prediction_text(&d.predicted_iops()),
        ci_text(&d.measured_iops(), 1),
        mark(d.iops_ok()),
        sign,
        d.predicted_cpu_pts(),
        ci_text(&d.measured_cpu(), 1),
        mark(d.cpu_ok())
    )
}

/// How many pairs pass each check of the table of changes.
fn write_tally_line<W: Write + ?Sized>(out: &mut W, t: &Tally) -> io::Result<()> {
    let &Tally {
        pairs: n,
        iops_ok,
        resolved,
        sign_ok,
        cpu_ok,
        ..
    } = t;
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
    )
}

/// The baseline's absolute agreement: the reference's and the model's
/// IOPS and CPU at every point.
fn write_absolute_table<W: Write + ?Sized>(
    out: &mut W,
    v: &DiffValidation,
    spec: &DiffSpec,
) -> io::Result<()> {
    writeln!(
        out,
        "absolute agreement of {}: IOPS within {IOPS_TOLERANCE_PCT}%, CPU within \
         {CPU_TOLERANCE_POINTS} points (device mean of {} runs, sim mean of {} seeds)",
        policy_label(&spec.baseline),
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
        writeln!(
            out,
            "{:<26} {:>10.0} {:>10.0} {:>+7.1}% {:>5}  {:>8.1} {:>8.1} {:>+8.1} {:>5}",
            point_text(&d.rw, d.bs, d.numjobs, d.iodepth, d.iothreads),
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
    Ok(())
}

/// What a validation report says it came from.
pub struct ReportSource<'a> {
    /// The command line as given.
    pub command: &'a str,
    /// The preset as named on the command line.
    pub preset: &'a str,
    /// The preset file's text, when it is a file: its leading comments
    /// (a calibration's measurements) are quoted.
    pub preset_text: Option<&'a str>,
    /// The reference measured against (device or qemu).
    pub reference: &'a str,
}

/// A markdown report of a validate run: where it came from, the
/// calibration it used, the table and the CSV, so that one command puts
/// the whole run in the docs.
pub fn write_validation_markdown<W: Write + ?Sized>(
    out: &mut W,
    v: &DiffValidation,
    spec: &DiffSpec,
    src: &ReportSource,
) -> io::Result<()> {
    writeln!(
        out,
        "{VALIDATION_REPORT_TITLE} {} against {}",
        super::escaped(src.preset),
        src.reference
    )?;
    writeln!(out)?;
    writeln!(out, "Written by:")?;
    writeln!(out)?;
    writeln!(out, "```sh\n{}\n```", src.command)?;
    writeln!(out)?;
    writeln!(out, "{}", trust_line(&v.tally()))?;
    writeln!(out)?;
    write_checks_table(out, &v.tally())?;
    writeln!(out)?;
    write_misses(out, v)?;
    writeln!(out)?;
    writeln!(out, "## The table")?;
    writeln!(out)?;
    writeln!(out, "```")?;
    write_validation_table(out, v, src.preset, spec, src.reference)?;
    writeln!(out, "```")?;
    writeln!(out)?;
    if let Some(text) = src.preset_text {
        write_preset_comments(out, text)?;
    }
    writeln!(out, "## The rows")?;
    writeln!(out)?;
    writeln!(out, "```csv")?;
    write_validation_csv(out, v, spec)?;
    writeln!(out, "```")?;
    Ok(())
}

/// The report's summary: each check, its count and its target.
fn write_checks_table<W: Write + ?Sized>(out: &mut W, t: &Tally) -> io::Result<()> {
    let &Tally {
        pairs: n,
        iops_ok,
        resolved,
        sign_ok,
        cpu_ok,
        points,
        absolute_ok,
        steep,
    } = t;
    writeln!(out, "| check | result | target |")?;
    writeln!(out, "|---|---|---|")?;
    writeln!(
        out,
        "| predicted IOPS change agrees | {iops_ok} of {n} | 80% |"
    )?;
    writeln!(
        out,
        "| sign right where both intervals exclude zero | {sign_ok} of {resolved} | all |"
    )?;
    writeln!(
        out,
        "| predicted CPU change agrees | {cpu_ok} of {n} | 80% |"
    )?;
    writeln!(
        out,
        "| baseline within {IOPS_TOLERANCE_PCT}% IOPS and {CPU_TOLERANCE_POINTS} CPU points | \
         {absolute_ok} of {points} | all |"
    )?;
    match steep {
        Some(steep) => writeln!(
            out,
            "| baseline steady with the calibrated wake-ups {:.0}% shorter or longer | {} of \
             {points} | all |",
            100.0 * WAKEUP_DRIFT,
            points - steep
        ),
        None => Ok(()),
    }
}

/// Every (policy, point) pair that misses a check, with what it missed.
fn write_misses<W: Write + ?Sized>(out: &mut W, v: &DiffValidation) -> io::Result<()> {
    let misses: Vec<String> = v.diffs.iter().filter_map(miss_line).collect();
    if misses.is_empty() {
        writeln!(out, "Every (policy, point) pair agrees.")?;
    } else {
        writeln!(out, "Pairs that miss:")?;
        writeln!(out)?;
        for m in &misses {
            writeln!(out, "{m}")?;
        }
    }
    Ok(())
}

/// The list item of a pair that misses a check; `None` if it passes all.
fn miss_line(d: &DiffPoint) -> Option<String> {
    let mut what = Vec::new();
    if !d.iops_ok() {
        what.push(format!(
            "IOPS {:+.1}% predicted, {:+.1}% measured",
            d.predicted_iops_pct(),
            d.measured_iops().median
        ));
    }
    if d.sign_ok() == Some(false) {
        what.push("sign wrong".into());
    }
    if !d.cpu_ok() {
        what.push(format!(
            "CPU {:+.1} points predicted, {:+.1} measured",
            d.predicted_cpu_pts(),
            d.measured_cpu().median
        ));
    }
    (!what.is_empty()).then(|| {
        format!(
            "- {} at {}: {}",
            d.measured.candidate_mean().policy,
            workload_text(&d.workload),
            what.join("; ")
        )
    })
}

/// The preset file's leading comments (a calibration's measurements), if
/// it has any.
fn write_preset_comments<W: Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    let comments: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .filter(|l| l.starts_with('#'))
        .collect();
    if comments.is_empty() {
        return Ok(());
    }
    writeln!(out, "## The preset's measurements")?;
    writeln!(out)?;
    writeln!(out, "```")?;
    for l in comments {
        writeln!(out, "{l}")?;
    }
    writeln!(out, "```")?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_line_says_yes_or_which_checks_failed() {
        let t = Tally {
            pairs: 16,
            iops_ok: 11,
            resolved: 5,
            sign_ok: 3,
            cpu_ok: 14,
            points: 4,
            absolute_ok: 0,
            steep: Some(1),
        };
        assert_eq!(
            trust_line(&t),
            "verdict: this host's model cannot be trusted: the baseline misses 15% IOPS or 10 CPU \
             points at 4 of 4 points; the predicted change has the wrong sign at 2 of 5 pairs \
             where both signs are resolved; IOPS changes agree on 11 of 16 pairs (target 80%); \
             the model is steep at 1 of 4 points (its baseline moves past a target when the \
             calibrated wake-ups are taken 10% shorter or longer)"
        );
        let ok = Tally {
            iops_ok: 13,
            sign_ok: 5,
            absolute_ok: 4,
            steep: Some(0),
            ..t
        };
        assert!(
            trust_line(&ok).starts_with("verdict: this host's model can be trusted: "),
            "{}",
            trust_line(&ok)
        );
    }

    #[test]
    fn a_point_whose_runs_fell_into_two_states_gets_a_note_and_others_none() {
        let agreement = |iops: Vec<f64>| Agreement {
            reference: crate::test_row(),
            model: crate::test_row(),
            reference_iops: iops,
            steepness: None,
        };
        let v = DiffValidation {
            diffs: Vec::new(),
            baseline: vec![
                agreement(vec![
                    9_700.0, 7_490.0, 10_400.0, 7_677.0, 10_778.0, 10_000.0,
                ]),
                agreement(vec![9_700.0, 9_900.0, 10_400.0, 10_100.0]),
            ],
        };
        let mut out = Vec::new();
        write_two_states(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(
                "the 6 runs of the baseline fell into two groups, 7490-7677 and 9700-10778 IOPS"
            ),
            "{text}"
        );
    }
}
