//! Results as qemu-devel reads them (`--format mail`): a plain-text table
//! no wider than [`WIDTH`] columns in the shape of a benchmark table posted
//! to the list (rw, bs, numjobs, iothreads, IOPS and IOThread CPU before
//! and after, the change with its interval), then the setup and the
//! verdict, ready to paste into a reply. One module for every command that
//! prints it (compare on every backend, validate).

use std::io::{self, Write};

use pollwise_core::Params;

use crate::acceptance::judge;
use crate::compare::ComparedPoint;
use crate::effective::effective_text;
use crate::stats::{PairedDiff, PAIRED_CI_METHOD};
use crate::validate::{
    DiffPoint, DiffSpec, DiffValidation, CPU_DIFF_TOLERANCE_POINTS, DIFF_TOLERANCE_POINTS,
};

use super::bs_text;

/// The widest line a mail reader sees unwrapped.
pub const WIDTH: usize = 72;
/// The change column's width: `-2.9 [-25,+19]`, `-100 [-100,+250]`.
const CHANGE_WIDTH: usize = 16;
/// Where a setup item's text starts.
const SETUP_INDENT: usize = 15;

/// One side of the comparison: what ran and, for a QEMU variant, from
/// which tree and patches.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// The policy or the QEMU variant.
    pub name: String,
    /// Its parameters (IOThread properties).
    pub params: String,
    /// The QEMU version of a QEMU variant.
    pub qemu_version: Option<String>,
    /// The Subject: lines of a QEMU variant's patches.
    pub subjects: Vec<String>,
}

/// What the table alone does not say.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Where the runs happened (measured or simulated, and how).
    pub backend: String,
    pub before: Side,
    pub after: Side,
    pub disk: String,
    pub calibration: String,
    /// Runs per row and side, their order and length.
    pub repeats: String,
}

/// The table, the setup and the verdict against `bar` (the IOPS loss in
/// percent a candidate may have on any row).
pub fn write_compare_mail(
    out: &mut dyn Write,
    points: &[ComparedPoint],
    setup: &Setup,
    bar: f64,
) -> io::Result<()> {
    write_table(out, points)?;
    writeln!(out)?;
    write_setup(out, setup)?;
    writeln!(out)?;
    let verdict = if points.is_empty() {
        "no rows to compare".to_string()
    } else {
        judge(points, bar).sentence()
    };
    wrapped(out, "", &verdict)
}

/// The table: one row per point, IOPS and IOThread CPU (% of one core per
/// IOThread) as means over the runs, the IOPS change as the median of the
/// paired per-run changes with its interval.
pub fn write_table(out: &mut dyn Write, points: &[ComparedPoint]) -> io::Result<()> {
    let groups = format!(
        "{:<27} {:^13} {:^13} {:^16}",
        "", "IOPS", "IOThread CPU%", "IOPS change %"
    );
    writeln!(out, "{}", groups.trim_end())?;
    writeln!(
        out,
        "{:<9} {:>4} {:>4} {:>3} {:>3} {:>6} {:>6} {:>6} {:>6} {:>16}",
        "rw", "bs", "qd", "nj", "iot", "before", "after", "before", "after", "median [95% CI]"
    )?;
    writeln!(out, "{}", "-".repeat(WIDTH))?;
    for p in points {
        let (b, c) = (p.baseline_mean(), p.candidate_mean());
        let w = &p.workload;
        writeln!(
            out,
            "{:<9} {:>4} {:>4} {:>3} {:>3} {:>6} {:>6} {:>6.1} {:>6.1} {:>16}",
            w.rw.name(),
            bs_short(w.bs),
            w.iodepth,
            w.numjobs,
            w.iothreads,
            iops_text(b.iops),
            iops_text(c.iops),
            b.iothread_cpu_pct.min(999.9),
            c.iothread_cpu_pct.min(999.9),
            change_text(&p.iops_paired())
        )?;
    }
    Ok(())
}

/// `validate --format mail`: per candidate, the measured table and the
/// simulator's predicted change beside the measured one, then the setup
/// (`setup.before`/`after` are filled per candidate from `spec`) and the
/// verdict: the measured changes against `bar`, and how many predictions
/// agree.
pub fn write_validation_mail(
    out: &mut dyn Write,
    v: &DiffValidation,
    spec: &DiffSpec,
    setup: &Setup,
    bar: f64,
) -> io::Result<()> {
    let per = spec.workloads.len().max(1);
    let side = |p: &Params| Side {
        name: p.kind().to_string(),
        params: effective_text(p),
        ..Side::default()
    };
    for (candidate, diffs) in spec.candidates.iter().zip(v.diffs.chunks(per)) {
        let measured: Vec<ComparedPoint> = diffs.iter().map(|d| d.measured.clone()).collect();
        let setup = Setup {
            before: side(&spec.baseline),
            after: side(candidate),
            ..setup.clone()
        };
        wrapped(
            out,
            "",
            &format!(
                "{} against {}, measured:",
                setup.after.name, setup.before.name
            ),
        )?;
        write_table(out, &measured)?;
        writeln!(out)?;
        write_predictions(out, diffs)?;
        writeln!(out)?;
        write_setup(out, &setup)?;
        writeln!(out)?;
        wrapped(out, "", &judge(&measured, bar).sentence())?;
        writeln!(out)?;
    }
    let t = v.tally();
    wrapped(
        out,
        "",
        &format!(
            "Simulator against measurement: {} of {} predicted IOPS changes agree (inside the \
             measured interval or within {DIFF_TOLERANCE_POINTS} points of its median); {} of {} \
             resolved signs right; {} of {} CPU changes within \
             {CPU_DIFF_TOLERANCE_POINTS} points.",
            t.iops_ok, t.pairs, t.sign_ok, t.resolved, t.cpu_ok, t.pairs
        ),
    )
}

/// The simulator's IOPS change beside the measured one, per point.
fn write_predictions(out: &mut dyn Write, diffs: &[DiffPoint]) -> io::Result<()> {
    writeln!(
        out,
        "{:<9} {:>4} {:>4} {:>3} {:>3} {:>11} {:>22} {:>6}",
        "rw", "bs", "qd", "nj", "iot", "simulated %", "measured % [95% CI]", "agrees"
    )?;
    for d in diffs {
        let w = &d.workload;
        writeln!(
            out,
            "{:<9} {:>4} {:>4} {:>3} {:>3} {:>+11.1} {:>22} {:>6}",
            w.rw.name(),
            bs_short(w.bs),
            w.iodepth,
            w.numjobs,
            w.iothreads,
            d.predicted_iops_pct(),
            change_text(&d.measured_iops()),
            if d.iops_ok() { "yes" } else { "no" }
        )?;
    }
    Ok(())
}

/// IOPS in at most 6 characters.
fn iops_text(iops: f64) -> String {
    if iops < 999_999.5 {
        format!("{iops:.0}")
    } else if iops < 99_999_500.0 {
        format!("{:.0}k", iops / 1e3)
    } else {
        format!("{:.0}M", iops / 1e6)
    }
}

/// A block size in at most 4 characters where it can be: 512, 4k, 1M.
fn bs_short(bs: u64) -> String {
    if bs >= 1 << 20 && bs.is_multiple_of(1 << 20) {
        format!("{}M", bs >> 20)
    } else {
        bs_text(bs)
    }
}

/// A change in percent: one decimal below 10, none from 10 on.
fn pct(v: f64) -> String {
    if v.abs() < 9.95 {
        format!("{v:+.1}")
    } else {
        format!("{v:+.0}")
    }
}

/// `median [lo,hi]` in at most [`CHANGE_WIDTH`] characters (any change
/// under 1000%), else the median and `[wide]`.
pub fn change_text(d: &PairedDiff) -> String {
    let Some(ci) = d.ci else {
        return format!("{} (1 run)", pct(d.median));
    };
    let t = format!("{} [{},{}]", pct(d.median), pct(ci.lo), pct(ci.hi));
    if t.len() <= CHANGE_WIDTH {
        t
    } else {
        format!("{} [wide]", pct(d.median))
    }
}

/// The setup, one item a line, each wrapped at [`WIDTH`].
fn write_setup(out: &mut dyn Write, s: &Setup) -> io::Result<()> {
    writeln!(out, "Setup:")?;
    item(out, "backend", &s.backend)?;
    for (label, side) in [("before", &s.before), ("after", &s.after)] {
        let version = side
            .qemu_version
            .as_ref()
            .map(|v| format!(", QEMU {v}"))
            .unwrap_or_default();
        item(
            out,
            label,
            &format!("{}{version} ({})", side.name, side.params),
        )?;
        for subject in &side.subjects {
            item(out, "", &format!("  {subject}"))?;
        }
    }
    item(out, "disk", &s.disk)?;
    item(out, "calibration", &s.calibration)?;
    item(out, "repeats", &s.repeats)?;
    item(
        out,
        "interval",
        &format!(
            "IOPS change: {PAIRED_CI_METHOD}; IOPS and CPU (% of one core per IOThread) \
             are means over the runs"
        ),
    )
}

fn item(out: &mut dyn Write, label: &str, text: &str) -> io::Result<()> {
    let head = format!("  {label:<width$}", width = SETUP_INDENT - 2);
    wrapped(out, &head, text)
}

/// `text` after `head`, wrapped at [`WIDTH`] with continuation lines
/// indented as far as `head` is long; a word longer than a line stands
/// alone on its line.
pub fn wrapped(out: &mut dyn Write, head: &str, text: &str) -> io::Result<()> {
    let indent = " ".repeat(head.chars().count());
    let mut line = head.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count() + usize::from(!empty) + word.chars().count();
        if !empty && len > WIDTH {
            writeln!(out, "{}", line.trim_end())?;
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(out, "{}", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Interval;
    use crate::test_row;
    use pollwise_core::{RunRow, Rw, Workload};

    fn diff(median: f64, lo: f64, hi: f64) -> PairedDiff {
        PairedDiff {
            n: 6,
            median,
            ci: Some(Interval { lo, hi }),
        }
    }

    #[test]
    fn the_change_fits_its_column_however_wide_the_interval() {
        assert_eq!(change_text(&diff(-2.9, -25.1, 19.4)), "-2.9 [-25,+19]");
        assert_eq!(change_text(&diff(-2.9, -3.04, -2.8)), "-2.9 [-3.0,-2.8]");
        assert_eq!(change_text(&diff(999.0, -999.0, 999.4)), "+999 [-999,+999]");
        assert_eq!(
            change_text(&diff(-100.0, -100.0, 250.0)),
            "-100 [-100,+250]"
        );
        assert_eq!(
            change_text(&diff(1234.0, -99999.0, 99999.0)),
            "+1234 [wide]"
        );
        let one = PairedDiff {
            n: 1,
            median: 3.0,
            ci: None,
        };
        assert_eq!(change_text(&one), "+3.0 (1 run)");
        for d in [diff(-99.9, -99.9, 999.9), diff(5.0, 0.0, 10.0)] {
            assert!(change_text(&d).len() <= CHANGE_WIDTH, "{}", change_text(&d));
        }
    }

    /// A point of `repeats` paired runs: the candidate's IOPS `change`
    /// times the baseline's, plus a little noise.
    fn point(
        rw: Rw,
        bs: u64,
        numjobs: u32,
        iothreads: u32,
        iops: f64,
        change: f64,
    ) -> ComparedPoint {
        let rows = |scale: f64| -> Vec<RunRow> {
            (0..6)
                .map(|i| RunRow {
                    iops: iops * scale * (1.0 + 0.001 * f64::from(i)),
                    iothread_cpu_pct: 45.0 * scale,
                    source: "qemu".into(),
                    ..test_row()
                })
                .collect()
        };
        ComparedPoint {
            workload: Workload {
                rw,
                rwmixread: 50,
                bs,
                numjobs,
                iodepth: 8,
                iothreads,
                duration_ms: 3000,
            },
            baseline: rows(1.0),
            candidate: rows(change),
        }
    }

    #[test]
    fn the_whole_mail_fits_72_columns_and_says_what_ran() {
        let points = [
            point(Rw::RandRead, 4096, 1, 1, 11552.0, 0.97),
            point(Rw::RandWrite, 1 << 20, 256, 64, 12_345_678.0, 2.5),
        ];
        let long = "[PATCH RFC v1 2/3] aio-poll: refine iothread polling using weighted \
                    handler intervals"
            .to_string();
        let setup = Setup {
            backend: "qemu: measured".into(),
            before: Side {
                name: "stock".into(),
                params: "poll-max-ns=32768".into(),
                qemu_version: Some("10.2.2".into()),
                subjects: Vec::new(),
            },
            after: Side {
                name: "myseries".into(),
                params: "poll-max-ns=32768 poll-weight=3".into(),
                qemu_version: Some("10.2.2".into()),
                subjects: vec![long.clone()],
            },
            disk: "a 256 MiB scratch file in /var/tmp".into(),
            calibration: "none".into(),
            repeats: "6 interleaved pairs".into(),
        };
        let mut out = Vec::new();
        write_compare_mail(&mut out, &points, &setup, 5.0).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} > {WIDTH}: {line}",
                line.len()
            );
        }
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("rand")).collect();
        assert_eq!(rows.len(), 2, "{text}");
        let cols: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(
            &cols[..7],
            ["randread", "4k", "8", "1", "1", "11581", "11233"],
            "{text}"
        );
        assert!(rows[0].contains("-3.0 [-3.0,-3.0]"), "{text}");
        let cols: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(
            &cols[..7],
            ["randwrite", "1M", "8", "256", "64", "12377k", "30941k"]
        );
        for needle in [
            "stock, QEMU 10.2.2 (poll-max-ns=32768)",
            "myseries, QEMU 10.2.2",
            "aio-poll: refine iothread polling",
            "handler intervals",
            "/var/tmp",
            PAIRED_CI_METHOD.split(' ').next().unwrap(),
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        // The verdict against the bar comes last: -3% is within 5%.
        assert!(text.trim_end().lines().last().unwrap().len() <= WIDTH);
        assert!(text.contains("ACCEPT"), "{text}");
    }

    #[test]
    fn the_validation_mail_fits_72_columns_per_candidate() {
        use crate::validate::{Agreement, DiffPoint, DiffSpec, DiffValidation};
        use pollwise_core::PolicyKind;
        let measured = [
            point(Rw::RandRead, 4096, 1, 1, 11552.0, 0.97),
            point(Rw::RandWrite, 1 << 20, 256, 64, 12_345_678.0, 9.0),
        ];
        // The simulator's side: the same points, predicting no change.
        let diffs: Vec<DiffPoint> = measured
            .iter()
            .map(|m| DiffPoint {
                workload: m.workload.clone(),
                measured: m.clone(),
                predicted: point(m.workload.rw, m.workload.bs, 1, 1, 1000.0, 1.0),
                spread_pct: 0.0,
            })
            .collect();
        let spec = DiffSpec {
            workloads: measured.iter().map(|m| m.workload.clone()).collect(),
            baseline: Params::defaults(PolicyKind::Qemu),
            candidates: vec![Params::defaults(PolicyKind::Weighted)],
            seed: 1,
            repeats: 6,
            spread_pct: None,
        };
        let v = DiffValidation {
            diffs,
            baseline: vec![Agreement {
                reference: test_row(),
                model: test_row(),
                reference_iops: Vec::new(),
                steepness: None,
            }],
        };
        let mut out = Vec::new();
        write_validation_mail(&mut out, &v, &spec, &Setup::default(), 5.0).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} > {WIDTH}: {line}",
                line.len()
            );
        }
        assert!(
            text.starts_with("weighted against qemu, measured:"),
            "{text}"
        );
        // -3% measured, 0 predicted: agrees; +800% measured: does not.
        assert!(
            text.contains("1 of 2 predicted IOPS changes agree"),
            "{text}"
        );
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width() {
        let mut out = Vec::new();
        let long = "word ".repeat(60) + &"x".repeat(90);
        wrapped(&mut out, "  subjects     ", &long).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 3, "{text}");
        for l in &lines[..lines.len() - 1] {
            assert!(l.len() <= WIDTH, "{l}");
            assert!(l.starts_with("  "), "{l}");
        }
        // Only an unbreakable word may exceed the width, alone on its line.
        assert_eq!(lines.last().unwrap().trim(), "x".repeat(90));
    }
}
