//! The study's last section: pollwise against the targets it is held to,
//! each with the number behind it and whether it is met, from the
//! experiments above (nothing here runs anything).
//!
//! In the simulator: every row and every robustness point within -1% IOPS
//! of `qemu`; mean CPU above the frontier at most a third of `qemu`'s
//! distance; at least the merged proposal's IOPS at no more of its CPU;
//! nowhere more CPU than `qemu` on every seed; an idle IOThread within 0.1
//! point of `off`. On a disk, per loop: no
//! resolved IOPS loss worse than -2%; at queue depth 8 CPU resolved at
//! least 15% below `qemu`'s; wherever CPU rises (resolved), a resolved
//! IOPS gain of at least half its relative size. On recorded waits: a
//! competitive ratio of at most 1.3, below `qemu`'s and the merged
//! proposal's on each trace.

use std::fmt::Write as _;

use pollwise_core::PolicyKind;

use crate::compare::ComparedPoint;
use crate::stats::pct_diff;
use crate::study::frontier::{frontier_of, standing, FrontPoint, Standing};
use crate::study::idle::IdleRow;
use crate::study::measured::{point_label, MeasuredPart};
use crate::study::presets::PresetResult;
use crate::study::ratio::TraceRatios;
use crate::study::robustness::{summaries, RobustPoint};

/// One target: what, the measured number, met.
struct Row {
    target: String,
    measured: String,
    met: bool,
}

/// The section.
pub(crate) fn targets_md(
    md: &mut String,
    presets: &[PresetResult],
    robustness: &[RobustPoint],
    idle: &[IdleRow],
    measured: Option<&MeasuredPart>,
) {
    let mut rows = Vec::new();
    for p in presets {
        preset_rows(&mut rows, p);
    }
    robust_rows(&mut rows, robustness);
    let idle_of = |name: &str| idle.iter().find(|r| r.label == name).map(|r| r.poll_pct);
    if let (Some(pw), Some(off)) = (idle_of("pollwise"), idle_of("off")) {
        rows.push(Row {
            target: "an idle IOThread polls within 0.1 point of off".into(),
            measured: format!("{pw:.3} points (off: {off:.3})"),
            met: pw - off <= 0.1,
        });
    }
    if let Some(part) = measured {
        device_rows(&mut rows, part);
        ratio_row(&mut rows, &part.ratios);
    }
    let _ = writeln!(
        md,
        "## pollwise against its targets\n\n\
         From the tables above; \"resolved\" means the 95% interval excludes the bar.\n\n\
         | target | measured | met |\n|---|---|---|"
    );
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            r.target,
            r.measured,
            if r.met { "yes" } else { "**no**" }
        );
    }
    let met = rows.iter().filter(|r| r.met).count();
    let _ = writeln!(md, "\n{met} of {} targets met.\n", rows.len());
}

/// The point labelled `label` among a preset's.
fn point<'a>(p: &'a PresetResult, label: &str) -> Option<&'a FrontPoint> {
    p.points.iter().find(|f| f.label == label)
}

fn preset_rows(rows: &mut Vec<Row>, p: &PresetResult) {
    let name = &p.name;
    if let Some(s) = p.summaries.iter().find(|s| s.label == "pollwise") {
        rows.push(Row {
            target: format!("{name}: every row within -1% IOPS of qemu"),
            measured: format!("worst {:+.2}% ({})", s.worst_iops_diff_pct, s.worst_row),
            met: s.worst_iops_diff_pct >= -1.0,
        });
    }
    let frontier = frontier_of(&p.points);
    let above = |label: &str| match point(p, label).map(|f| standing(f, &frontier)) {
        Some(Standing::Compared { cpu_above, .. }) => Some(cpu_above),
        _ => None,
    };
    if let (Some(pw), Some(q)) = (above("pollwise"), above("qemu")) {
        rows.push(Row {
            target: format!(
                "{name}: mean CPU above the frontier at equal IOPS at most a third of qemu's \
                 (+{q:.1} points)"
            ),
            measured: format!("{pw:+.2} points, at most {:+.2}", q / 3.0),
            met: pw <= q / 3.0,
        });
    }
    if let (Some(pw), Some(wm)) = (point(p, "pollwise"), point(p, "weighted-merged")) {
        rows.push(Row {
            target: format!("{name}: IOPS at least weighted-merged's, CPU at most its"),
            measured: format!(
                "IOPS {:.4} against {:.4} of qemu's, CPU {:.1}% against {:.1}%",
                pw.iops_ratio, wm.iops_ratio, pw.cpu_pct, wm.cpu_pct
            ),
            met: pw.iops_ratio >= wm.iops_ratio && pw.cpu_pct <= wm.cpu_pct,
        });
    }
}

fn robust_rows(rows: &mut Vec<Row>, robustness: &[RobustPoint]) {
    if robustness.is_empty() {
        // Not run (--skip-robustness): nothing to hold it to.
        return;
    }
    let Some(s) = summaries(robustness)
        .into_iter()
        .find(|s| s.name == PolicyKind::Pollwise.name())
    else {
        return;
    };
    let n = robustness.len();
    rows.push(Row {
        target: "robustness: every point within -1% IOPS of qemu".into(),
        measured: format!(
            "{} of {n}, worst {:+.2}%",
            s.within_1pct, s.worst_iops_diff_pct
        ),
        met: s.within_1pct == n,
    });
    rows.push(Row {
        target: "robustness: nowhere more CPU than qemu on every seed".into(),
        measured: format!("more on every seed at {} of {n}", s.more_cpu_every_seed),
        met: s.more_cpu_every_seed == 0,
    });
}

fn device_rows(rows: &mut Vec<Row>, part: &MeasuredPart) {
    for r in part
        .runs
        .iter()
        .filter(|r| r.candidate.kind() == PolicyKind::Pollwise)
    {
        let lp = r.lp;
        let lost: Vec<String> = r
            .points
            .iter()
            .filter(|p| p.iops_paired().ci.is_some_and(|ci| ci.hi < -2.0))
            .map(|p| point_label(&p.workload))
            .collect();
        rows.push(Row {
            target: format!("{lp}: no resolved IOPS loss worse than -2%"),
            measured: listed(&lost, "resolved losses"),
            met: lost.is_empty(),
        });
        for p in r.points.iter().filter(|p| p.workload.iodepth == 8) {
            let (cut, hi) = cpu_change_pct(p);
            let hi_text = hi.map_or_else(|| "no interval".to_string(), |h| format!("{h:+.1}%"));
            rows.push(Row {
                target: format!(
                    "{lp}, {}: CPU resolved at least 15% below qemu's",
                    point_label(&p.workload)
                ),
                measured: format!(
                    "{cut:+.1}%, its interval up to {hi_text}{}",
                    polling_bound(p)
                ),
                met: hi.is_some_and(|h| h <= -15.0),
            });
        }
        let costly: Vec<String> = r
            .points
            .iter()
            .filter(|p| !pays_for_its_cpu(p))
            .map(|p| point_label(&p.workload))
            .collect();
        rows.push(Row {
            target: format!(
                "{lp}: wherever CPU rises (resolved), a resolved IOPS gain of at least half its \
                 relative size"
            ),
            measured: listed(&costly, "points that do not"),
            met: costly.is_empty(),
        });
    }
}

/// The paired CPU change relative to `qemu`'s mean CPU at the point, in
/// % (the one zero-baseline rule, `stats::pct_diff`): the median's, and
/// its interval's upper end (none with one pair).
fn cpu_change_pct(p: &ComparedPoint) -> (f64, Option<f64>) {
    let base = p.baseline_mean().iothread_cpu_pct;
    let d = p.cpu_paired();
    let rel = |x: f64| pct_diff(base, base + x);
    (rel(d.median), d.ci.map(|ci| rel(ci.hi)))
}

/// How much of `qemu`'s CPU at a point is polling, which bounds what any
/// rule can cut by polling less: "" when the loop does not say.
fn polling_bound(p: &ComparedPoint) -> String {
    let b = p.baseline_mean();
    match b.poll_cpu_pct {
        Some(poll) if b.iothread_cpu_pct > 0.0 => format!(
            " (qemu polls {poll:.1} of its {:.1} points: no rule cuts more than {:.0}%)",
            b.iothread_cpu_pct,
            100.0 * poll / b.iothread_cpu_pct
        ),
        _ => String::new(),
    }
}

/// Whether a point's CPU rise, if resolved, is paid for by an IOPS gain
/// whose interval lies at or above half the rise's relative size.
fn pays_for_its_cpu(p: &ComparedPoint) -> bool {
    let cpu = p.cpu_paired();
    if !cpu.ci.is_some_and(|ci| ci.lo > 0.0) {
        return true;
    }
    let iops = p.iops_paired();
    let (rise, _) = cpu_change_pct(p);
    iops.ci.is_some_and(|ci| ci.lo > 0.0 && ci.lo >= rise / 2.0)
}

fn listed(points: &[String], what: &str) -> String {
    if points.is_empty() {
        "none".into()
    } else {
        format!("{what}: {}", points.join(", "))
    }
}

/// pollwise's ratio at the fixed price on the real loops' traces.
fn ratio_row(rows: &mut Vec<Row>, traces: &[TraceRatios]) {
    let of = |t: &TraceRatios, label: &str| t.ratio_of(0, label);
    let ok = |t: &&TraceRatios| {
        of(t, "pollwise").is_some_and(|r| {
            r <= 1.3
                && of(t, "qemu").is_some_and(|x| r < x)
                && of(t, "weighted-merged").is_some_and(|x| r < x)
        })
    };
    let good = traces.iter().filter(ok).count();
    let worst = traces
        .iter()
        .filter_map(|t| of(t, "pollwise"))
        .max_by(f64::total_cmp)
        .map_or_else(|| "-".to_string(), |w| format!("{w:.3}"));
    rows.push(Row {
        target: "recorded waits (device and QEMU's loop, fixed price): competitive ratio at most \
                 1.3 and below qemu's and weighted-merged's on each"
            .into(),
        measured: format!("{good} of {} traces; highest {worst}", traces.len()),
        met: !traces.is_empty() && good == traces.len(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_point;
    use crate::test_row;
    use pollwise_core::RunRow;

    /// Eight pairs: the baseline at 100 IOPS and 40% CPU, the candidate
    /// at `iops` and `cpu` (each repeat a little apart, so the intervals
    /// are narrow but not empty).
    fn point(iops: f64, cpu: f64) -> ComparedPoint {
        let rows = |iops: f64, cpu: f64| -> Vec<RunRow> {
            (0..8)
                .map(|i| RunRow {
                    iops: iops + f64::from(i) * 0.01,
                    iothread_cpu_pct: cpu + f64::from(i) * 0.01,
                    ..test_row()
                })
                .collect()
        };
        test_point(rows(100.0, 40.0), rows(iops, cpu))
    }

    #[test]
    fn a_cpu_rise_needs_a_resolved_iops_gain_of_half_its_relative_size() {
        // +10 points on 40 is +25%: a +12.5% IOPS gain pays for it, +5%
        // does not; no rise needs nothing.
        assert!(pays_for_its_cpu(&point(113.0, 50.0)));
        assert!(!pays_for_its_cpu(&point(105.0, 50.0)));
        assert!(pays_for_its_cpu(&point(95.0, 40.0)));
        assert!(pays_for_its_cpu(&point(95.0, 30.0)));
    }

    #[test]
    fn a_part_not_run_is_not_a_target_met() {
        // No presets, no robustness sweep, no disk: only the idle target.
        let idle = [
            IdleRow {
                label: "pollwise".into(),
                poll_pct: 0.25,
            },
            IdleRow {
                label: "off".into(),
                poll_pct: 0.0,
            },
        ];
        let mut md = String::new();
        targets_md(&mut md, &[], &[], &idle, None);
        assert!(!md.contains("robustness"), "{md}");
        assert!(
            md.contains("| 0.250 points (off: 0.000) | **no** |"),
            "{md}"
        );
        assert!(md.contains("0 of 1 targets met."), "{md}");
    }

    #[test]
    fn the_cut_is_bounded_by_what_qemu_polls() {
        let mut p = point(100.0, 30.0);
        for r in &mut p.baseline {
            r.poll_cpu_pct = None;
        }
        assert_eq!(polling_bound(&p), "");
        for r in &mut p.baseline {
            r.poll_cpu_pct = Some(4.0);
        }
        assert!(
            polling_bound(&p).contains("no rule cuts more than 10%"),
            "{}",
            polling_bound(&p)
        );
    }

    #[test]
    fn the_cpu_cut_is_relative_to_qemus_cpu() {
        let (median, hi) = cpu_change_pct(&point(100.0, 30.0));
        assert!((median + 25.0).abs() < 0.1, "{median}");
        let hi = hi.unwrap();
        assert!(hi >= median && hi < -24.0, "{hi}");
    }
}
