//! The compare tables. The simulator's, for people: what was run (simulated or measured, the
//! preset, time per run, iodepth, seeds), each policy's parameters as they
//! act, per-row IOPS, IOThread CPU and latency with changes labelled
//! relative or absolute, the spread over seeds, and a closing verdict
//! against the acceptance bar.

use std::io::{self, Write};

use crate::acceptance::{judge, Acceptance, Overall, RowAcceptance, RowOutcome};
use crate::compare::{summarize, worst, ComparedPoint};
use crate::effective::effective_text;
use crate::stats::{repeats_to_resolve, PairedDiff, PAIRED_CI_METHOD};
use crate::CompareSpec;
use pollwise_core::{Params, RunRow, Rw};

use super::{bs_text, per_core_text};

/// What the rows alone do not say.
pub struct TableContext<'a> {
    pub baseline: &'a Params,
    pub candidate: &'a Params,
    /// The first seed; runs use seed, seed+1, ...
    pub seed: u64,
    /// Warm-up before the measured time, if the backend has one.
    pub warmup_ms: Option<u64>,
    /// The IOPS loss the candidate may have on any row, in percent.
    pub accept_iops_loss_pct: f64,
    /// The kinds of rows the preset was fitted on; rows of other kinds are
    /// marked as predictions. `None`: the preset does not say.
    pub fitted_rw: Option<&'a [Rw]>,
}

impl TableContext<'_> {
    /// The row is of a kind the preset was not fitted on.
    fn predicted(&self, p: &ComparedPoint) -> bool {
        self.fitted_rw.is_some_and(|f| !f.contains(&p.workload.rw))
    }
}

fn distinct<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn list_text<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// The header's first line: simulated or measured, and on what.
fn what_line(rows: &[ComparedPoint], ctx: &TableContext) -> String {
    let first: &RunRow = &rows[0].baseline[0];
    let seeds = rows[0].baseline.len() as u64;
    let durations = distinct(rows.iter().map(|p| p.workload.duration_ms));
    let depths = distinct(rows.iter().map(|p| p.workload.iodepth));
    let clock = if first.source == "sim" {
        " of virtual time"
    } else {
        ""
    };
    let time = match ctx.warmup_ms {
        Some(w) => format!(
            "{} ms{clock} per run after a {w} ms warm-up",
            list_text(&durations)
        ),
        None => format!("{} ms{clock} per run", list_text(&durations)),
    };
    let what = if first.source == "sim" {
        format!(
            "SIMULATED (not measured) on preset {}",
            super::escaped(&first.preset)
        )
    } else {
        format!(
            "MEASURED ({}) on {}",
            first.source,
            super::escaped(&first.preset)
        )
    };
    let seed_text = if seeds == 1 {
        format!("seed {} (one run per policy and row)", ctx.seed)
    } else {
        format!(
            "seeds {}..{} ({seeds} runs per policy and row, the same seeds for both)",
            ctx.seed,
            ctx.seed.saturating_add(seeds - 1)
        )
    };
    format!(
        "{what}: {time}, iodepth {}, {seed_text}",
        list_text(&depths)
    )
}

pub fn write_compare_table<W: Write>(
    mut out: W,
    rows: &[ComparedPoint],
    ctx: &TableContext,
) -> io::Result<()> {
    if rows.is_empty() || rows[0].baseline.is_empty() {
        writeln!(out, "no rows to compare")?;
        return Ok(());
    }
    let verdict: Acceptance = judge(rows, ctx.accept_iops_loss_pct);
    write_header(&mut out, rows, ctx)?;
    write_columns(&mut out)?;
    for (p, v) in rows.iter().zip(&verdict.rows) {
        write_row(&mut out, p, v, ctx.predicted(p))?;
    }
    writeln!(out)?;
    write_legend(&mut out, &verdict)?;
    if let Some(line) = prediction_legend(rows, ctx) {
        writeln!(out, "{line}")?;
    }
    write_summary(&mut out, rows)?;
    let basis = verdict_basis(&verdict, rows, ctx).unwrap_or_default();
    writeln!(out, "{}{basis}", verdict.sentence())?;
    Ok(())
}

/// What "prediction" means, when a row carries it.
fn prediction_legend(rows: &[ComparedPoint], ctx: &TableContext) -> Option<String> {
    let fitted = ctx.fitted_rw?;
    rows.iter().any(|p| ctx.predicted(p)).then(|| {
        let on = if fitted.is_empty() {
            "no rows of this machine".to_string()
        } else {
            list_text(&fitted.iter().map(|r| r.name()).collect::<Vec<_>>())
        };
        format!(
            "prediction: a row of a kind the preset was not fitted on (fitted on: {on}); its \
             numbers are the model's extrapolation, not a reproduction."
        )
    })
}

/// The rows that decide the verdict (those that lose for REJECT, those
/// that may for INCONCLUSIVE, all for ACCEPT), when some are predictions:
/// what the verdict rests on, appended to its sentence.
fn verdict_basis(
    verdict: &Acceptance,
    rows: &[ComparedPoint],
    ctx: &TableContext,
) -> Option<String> {
    let deciding = |o: RowOutcome| match verdict.overall {
        Overall::Reject => o == RowOutcome::Exceeds,
        Overall::Inconclusive => matches!(o, RowOutcome::Unclear | RowOutcome::NoIo),
        Overall::Accept => true,
    };
    let decide: Vec<&ComparedPoint> = rows
        .iter()
        .zip(&verdict.rows)
        .filter(|(_, v)| deciding(v.outcome))
        .map(|(p, _)| p)
        .collect();
    let predicted = decide.iter().filter(|p| ctx.predicted(p)).count();
    match predicted {
        0 => None,
        k if k == decide.len() => Some(format!(
            "; it rests only on predictions: all {k} deciding rows are of kinds the preset was \
             not fitted on"
        )),
        k => Some(format!(
            "; {k} of its {} deciding rows are predictions (kinds the preset was not fitted on)",
            decide.len()
        )),
    }
}

/// What was run, and the two policies' parameters as they act.
fn write_header<W: Write>(
    out: &mut W,
    rows: &[ComparedPoint],
    ctx: &TableContext,
) -> io::Result<()> {
    writeln!(out, "{}", what_line(rows, ctx))?;
    writeln!(
        out,
        "baseline:  {:<10} {}",
        ctx.baseline.kind().name(),
        effective_text(ctx.baseline)
    )?;
    writeln!(
        out,
        "candidate: {:<10} {}",
        ctx.candidate.kind().name(),
        effective_text(ctx.candidate)
    )?;
    writeln!(out)
}

/// The column groups and the column names.
fn write_columns<W: Write>(out: &mut W) -> io::Result<()> {
    let groups = format!(
        "{:<26}  {:<33}  {:<28}  {:<19}  {:<15}  {:<15}",
        "", "IOPS", "IOThread CPU %/IOThread", "IOPS/IOThread core", "p50 lat us", "p99 lat us"
    );
    writeln!(out, "{}", groups.trim_end())?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>5}  {:>9} {:>9} {:>7} {:>5}  {:>6} {:>6} {:>7} {:>7}  {:>9} {:>9}  {:>7} {:>7}  {:>7} {:>7}  verdict",
        "rw", "bs", "jobs", "iothr",
        "baseline", "candidate", "rel%", "±sd",
        "base", "cand", "abs pts", "rel%",
        "base", "cand",
        "base", "cand", "base", "cand"
    )
}

/// One workload: both policies' means, the changes and the row's verdict.
fn write_row<W: Write>(
    out: &mut W,
    p: &ComparedPoint,
    v: &RowAcceptance,
    predicted: bool,
) -> io::Result<()> {
    let w = &p.workload;
    let (b, c) = (p.baseline_mean(), p.candidate_mean());
    let sd = if p.baseline.len() > 1 {
        format!("{:.2}", p.iops_diff_sd_pct())
    } else {
        "-".into()
    };
    let interval =
        v.ci.map(|ci| format!(" [{:+.2}, {:+.2}]", ci.lo, ci.hi))
            .unwrap_or_default();
    let predicted = if predicted { "  prediction" } else { "" };
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>5}  {:>9.0} {:>9.0} {:>+7.2} {:>5}  {:>6.1} {:>6.1} {:>+7.1} {:>+7.1}  {:>9} {:>9}  {:>7} {:>7}  {:>7} {:>7}  {}{}{}",
        w.rw.name(),
        bs_text(w.bs),
        w.numjobs,
        w.iothreads,
        b.iops,
        c.iops,
        p.iops_diff_pct(),
        sd,
        b.iothread_cpu_pct,
        c.iothread_cpu_pct,
        c.iothread_cpu_pct - b.iothread_cpu_pct,
        p.cpu_diff_pct(),
        per_core_text(b.iops, b.iothread_cpu_pct, w.iothreads),
        per_core_text(c.iops, c.iothread_cpu_pct, w.iothreads),
        super::known(b.lat_p50_us, 1),
        super::known(c.lat_p50_us, 1),
        super::known(b.lat_p99_us, 1),
        super::known(c.lat_p99_us, 1),
        v.label(),
        interval,
        predicted
    )
}

/// What the columns and the row verdicts mean.
fn write_legend<W: Write>(out: &mut W, verdict: &Acceptance) -> io::Result<()> {
    writeln!(
        out,
        "rel%: relative change, 100 x (candidate - baseline) / baseline, of the means over seeds; \
         abs pts: absolute change in percentage points of one core."
    )?;
    writeln!(
        out,
        "±sd: sample standard deviation over seeds of the paired per-seed IOPS change, in \
         percentage points (- with one seed)."
    )?;
    writeln!(
        out,
        "IOThread CPU: % of one core, the mean over the row's IOThreads (at iothreads=2, 50 can \
         be one IOThread at 100 and one idle). IOPS/IOThread core: IOPS over the IOThreads' CPU \
         in cores (a policy that buys IOPS with CPU shows as a lower value). Latency: completion \
         latency percentiles, mean over seeds."
    )?;
    writeln!(out, "{}", row_legend(verdict))
}

/// The worst row and the mean changes over all rows.
fn write_summary<W: Write>(out: &mut W, rows: &[ComparedPoint]) -> io::Result<()> {
    let s = summarize(rows);
    let worst = worst(rows)
        .map(|r| {
            let w = &r.workload;
            format!(
                "{} {} numjobs={} iothreads={}",
                w.rw,
                bs_text(w.bs),
                w.numjobs,
                w.iothreads
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "summary: worst IOPS change {:+.2}% ({worst}); mean IOPS change {:+.2}% (relative); \
         mean IOThread CPU change {:+.1}% (relative), {:+.1} points (absolute)",
        s.worst_iops_diff_pct, s.mean_iops_diff_pct, s.mean_cpu_diff_pct, s.mean_cpu_diff_points
    )
}

/// What a row's verdict means: the same words under every compare table.
/// `no I/O` is explained only where a row has it.
fn row_legend(verdict: &Acceptance) -> String {
    let bar = verdict.bar_pct;
    let idle = if verdict.count(RowOutcome::NoIo) > 0 {
        " no I/O = the baseline completed no request in a measured interval, so the change is \
         undefined."
    } else {
        ""
    };
    format!(
        "verdict per row: ok = IOPS loss within {bar}%, LOSS = beyond it, unclear = its 95% \
         bootstrap interval [lo, hi] of the change straddles -{bar}%; +cpu = IOThread CPU rose \
         (its interval wholly above 0 points) without an IOPS gain.{idle}"
    )
}

/// Pairs a point's measured spread needs to resolve a 5% IOPS change.
fn pairs_for_5pct(p: &ComparedPoint) -> String {
    if p.baseline.len() > 1 {
        repeats_to_resolve(p.iops_diff_sd_pct(), 5.0).map_or("-".into(), |n| n.to_string())
    } else {
        "-".to_string()
    }
}

/// The table of a paired compare on a real backend (`source`: device or
/// qemu), for `realdev compare` and `compare --backend device|qemu`.
pub fn paired_compare_table<W: Write>(
    out: &mut W,
    source: &str,
    points: &[ComparedPoint],
    s: &CompareSpec,
    accept_iops_loss_pct: f64,
) -> io::Result<()> {
    let ((b_name, b_text), (c_name, c_text)) = (s.label(false), s.label(true));
    let verdict = judge(points, accept_iops_loss_pct);
    writeln!(
        out,
        "{source}: baseline {b_name} ({b_text}) vs candidate {c_name} ({c_text}); {} interleaved pair(s) per point after a warm-up run",
        s.repeats
    )?;
    writeln!(out, "diff: {PAIRED_CI_METHOD}")?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>3} {:>3} {:>9} {:>9} {:>26} {:>6} {:>6} {:>24} {:>9} {:>9} {:>6}  verdict",
        "rw",
        "bs",
        "jobs",
        "qd",
        "iot",
        "iops",
        "cand_iops",
        "iops diff median [95% CI]",
        "cpu%",
        "cand%",
        "cpu diff pts [95% CI]",
        "iops/core",
        "cand/core",
        "n(5%)"
    )?;
    for (p, v) in points.iter().zip(&verdict.rows) {
        let (b, c) = (p.baseline_mean(), p.candidate_mean());
        let (iops, cpu) = (p.iops_paired(), p.cpu_paired());
        let ci = |d: &PairedDiff, unit: &str| match d.ci {
            Some(ci) => format!("{:+.1}{unit} [{:+.1}, {:+.1}]", d.median, ci.lo, ci.hi),
            None => format!("{:+.1}{unit} [one run]", d.median),
        };
        let needed = pairs_for_5pct(p);
        writeln!(
            out,
            "{:<9} {:>5} {:>4} {:>3} {:>3} {:>9.0} {:>9.0} {:>26} {:>6.1} {:>6.1} {:>24} {:>9} {:>9} {:>6}  {}",
            p.workload.rw.name(),
            p.workload.bs,
            p.workload.numjobs,
            p.workload.iodepth,
            p.workload.iothreads,
            b.iops,
            c.iops,
            ci(&iops, "%"),
            b.iothread_cpu_pct,
            c.iothread_cpu_pct,
            ci(&cpu, ""),
            per_core_text(b.iops, b.iothread_cpu_pct, p.workload.iothreads),
            per_core_text(c.iops, c.iothread_cpu_pct, p.workload.iothreads),
            needed,
            v.label()
        )?;
    }
    writeln!(out, "{}", row_legend(&verdict))?;
    writeln!(
        out,
        "iops/core: IOPS per IOThread core, IOPS over the IOThreads' CPU in cores (baseline, \
         candidate)."
    )?;
    writeln!(
        out,
        "n(5%): pairs the measured spread of the paired differences needs to resolve a 5% IOPS \
         change."
    )?;
    writeln!(out, "{}", verdict.sentence())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_point;
    use crate::test_row;
    use pollwise_core::{PolicyKind, Rw};

    /// One point: IOPS and CPU per repeat for each policy.
    fn point(base: &[(f64, f64)], cand: &[(f64, f64)], source: &str) -> ComparedPoint {
        let rows = |v: &[(f64, f64)]| -> Vec<RunRow> {
            v.iter()
                .map(|&(iops, cpu)| RunRow {
                    iops,
                    iothread_cpu_pct: cpu,
                    source: source.into(),
                    ..test_row()
                })
                .collect()
        };
        test_point(rows(base), rows(cand))
    }

    fn last_line(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }

    /// The simulator's table and a real backend's end with the same
    /// verdict for the same runs: one rule, whatever the backend.
    #[test]
    fn every_backend_gives_the_same_verdict() {
        let (b, c) = (
            Params::defaults(PolicyKind::Qemu),
            Params::defaults(PolicyKind::Weighted),
        );
        // IOPS -1%..-3% (within 5%), CPU +8..+10 points: ACCEPT, +cpu.
        let base = [(100.0, 40.0), (100.0, 41.0), (100.0, 42.0)];
        let cand = [(99.0, 48.0), (98.0, 50.0), (97.0, 52.0)];
        for bar in [5.0, 2.0] {
            let ctx = TableContext {
                baseline: &b,
                candidate: &c,
                seed: 1,
                warmup_ms: None,
                accept_iops_loss_pct: bar,
                fitted_rw: None,
            };
            let mut sim = Vec::new();
            write_compare_table(&mut sim, &[point(&base, &cand, "sim")], &ctx).unwrap();
            let spec = CompareSpec {
                workloads: Vec::new(),
                baseline: b.clone(),
                candidate: c.clone(),
                variants: [None, None],
                seed: 1,
                repeats: 3,
            };
            let mut dev = Vec::new();
            let points = [point(&base, &cand, "device")];
            paired_compare_table(&mut dev, "device", &points, &spec, bar).unwrap();
            let (sim, dev) = (last_line(sim), last_line(dev));
            assert_eq!(sim, dev);
            assert!(sim.contains("1 of 1 rows use more IOThread CPU"), "{sim}");
            let outcome = if bar == 5.0 { "ACCEPT" } else { "INCONCLUSIVE" };
            assert!(
                sim.starts_with(&format!("verdict: {outcome} at --accept-iops-loss {bar}")),
                "{sim}"
            );
        }
    }

    #[test]
    fn a_verdict_resting_only_on_rows_not_fitted_says_so() {
        let (b, c) = (
            Params::defaults(PolicyKind::Qemu),
            Params::defaults(PolicyKind::Weighted),
        );
        let mut write = point(&[(100.0, 40.0)], &[(90.0, 40.0)], "sim");
        write.workload.rw = Rw::RandWrite;
        let read = point(&[(100.0, 40.0)], &[(99.0, 40.0)], "sim");
        let table = |fitted: Option<&[Rw]>, rows: &[ComparedPoint]| {
            let ctx = TableContext {
                baseline: &b,
                candidate: &c,
                seed: 1,
                warmup_ms: None,
                accept_iops_loss_pct: 5.0,
                fitted_rw: fitted,
            };
            let mut out = Vec::new();
            write_compare_table(&mut out, rows, &ctx).unwrap();
            String::from_utf8(out).unwrap()
        };
        let rows = [read.clone(), write.clone()];
        let text = table(Some(&[Rw::RandRead]), &rows);
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("verdict: REJECT"), "{text}");
        assert!(
            last.ends_with(
                "it rests only on predictions: all 1 deciding rows are of kinds the \
                 preset was not fitted on"
            ),
            "{text}"
        );
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| l.ends_with("  prediction"))
            .collect();
        assert_eq!(marked.len(), 1, "{text}");
        assert!(marked[0].starts_with("randwrite"), "{text}");
        assert!(text.contains("(fitted on: randread)"), "{text}");
        // Fitted on both kinds, or a preset that does not say: no mark.
        for fitted in [Some(&[Rw::RandRead, Rw::RandWrite][..]), None] {
            let text = table(fitted, &rows);
            assert!(!text.contains("prediction"), "{text}");
        }
        // A loss on a fitted row as well: only part of the basis.
        let mut read_loss = read;
        read_loss.candidate[0].iops = 80.0;
        let text = table(Some(&[Rw::RandRead]), &[read_loss, write]);
        assert!(
            text.lines().last().unwrap().ends_with(
                "; 1 of its 2 deciding rows are predictions (kinds the preset was not fitted on)"
            ),
            "{text}"
        );
    }
}
