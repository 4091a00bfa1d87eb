//! The compare table for people: what was run (simulated or measured, the
//! preset, time per run, iodepth, seeds), each policy's parameters as they
//! act, per-row IOPS, IOThread CPU and latency with changes labelled
//! relative or absolute, the spread over seeds, and a closing verdict
//! against the acceptance bar.

use std::io::Write;

use anyhow::Result;
use pollwise_core::{Params, RunRow};
use pollwise_lab::acceptance::{judge, Acceptance};
use pollwise_lab::compare::{summarize, worst};
use pollwise_lab::effective::effective_text;
use pollwise_lab::ComparedPoint;

use crate::output::bs_text;

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
        format!("SIMULATED (not measured) on preset {}", first.preset)
    } else {
        format!("MEASURED ({}) on {}", first.source, first.preset)
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
) -> Result<()> {
    if rows.is_empty() || rows[0].baseline.is_empty() {
        writeln!(out, "no rows to compare")?;
        return Ok(());
    }
    let verdict: Acceptance = judge(rows, ctx.accept_iops_loss_pct);
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
    writeln!(out)?;
    let groups = format!(
        "{:<26}  {:<33}  {:<28}  {:<15}  {:<15}",
        "", "IOPS", "IOThread CPU %/IOThread", "p50 lat us", "p99 lat us"
    );
    writeln!(out, "{}", groups.trim_end())?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>5}  {:>9} {:>9} {:>7} {:>5}  {:>6} {:>6} {:>7} {:>7}  {:>7} {:>7}  {:>7} {:>7}  verdict",
        "rw", "bs", "jobs", "iothr",
        "baseline", "candidate", "rel%", "±sd",
        "base", "cand", "abs pts", "rel%",
        "base", "cand", "base", "cand"
    )?;
    for (p, v) in rows.iter().zip(&verdict.rows) {
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
        writeln!(
            out,
            "{:<9} {:>5} {:>4} {:>5}  {:>9.0} {:>9.0} {:>+7.2} {:>5}  {:>6.1} {:>6.1} {:>+7.1} {:>+7.1}  {:>7.1} {:>7.1}  {:>7.1} {:>7.1}  {}{}",
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
            b.lat_p50_us,
            c.lat_p50_us,
            b.lat_p99_us,
            c.lat_p99_us,
            v.outcome.label(),
            interval
        )?;
    }
    writeln!(out)?;
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
         be one IOThread at 100 and one idle). Latency: completion latency percentiles, mean over seeds."
    )?;
    writeln!(
        out,
        "verdict per row: ok = IOPS loss within {bar}%, LOSS = beyond it, unclear = its 95% \
         bootstrap interval [lo, hi] of the change straddles -{bar}%.",
        bar = ctx.accept_iops_loss_pct
    )?;
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
    )?;
    writeln!(out, "{}", verdict.sentence())?;
    Ok(())
}
