//! Text for people: the tables and summaries the commands print, written
//! to any `Write` (the CLI passes stdout; tests pass a buffer). No terminal
//! here: colour, progress bars and flags are the CLI's.

mod compare;
mod explain;
pub mod mail;
mod ratio;
mod report;
mod study;
mod targets;
mod validate;
mod validate_notes;

pub use crate::escape::{escaped, shell_line, shell_word};
pub use compare::{paired_compare_table, write_compare_table, TableContext};
pub use explain::{write_explanation, ExplainSource, EXPLAIN_START};
pub use report::{workload_text, ReportIndex};
pub(crate) use study::{study_markdown, StudyText};
pub use validate::{
    policy_label, write_validation_csv, write_validation_markdown, write_validation_table,
    ReportSource, VALIDATION_CSV_COLUMNS, VALIDATION_REPORT_TITLE, VALIDATION_TABLE_START,
};

use std::io::{self, Write};

use pollwise_core::RunRow;
use pollwise_realdev::run::RunOutput;

/// IOPS per IOThread core: IOPS over the IOThreads' CPU in cores (`cpu_pct`
/// is the mean over `iothreads` IOThreads, in % of one core), as blk-mq's
/// hybrid-polling work reported efficiency; none without CPU.
pub fn iops_per_core(iops: f64, cpu_pct: f64, iothreads: u32) -> Option<f64> {
    let cores = cpu_pct / 100.0 * f64::from(iothreads.max(1));
    (cores > 0.0).then(|| iops / cores)
}

/// [`iops_per_core`] as the tables print it: whole IOPS, or `-`.
pub fn per_core_text(iops: f64, cpu_pct: f64, iothreads: u32) -> String {
    iops_per_core(iops, cpu_pct, iothreads).map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A value the source may not know, with `digits` decimals, or `-` when
/// it does not (never a 0).
pub fn known(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// How result rows are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowFormat {
    /// Aligned `name  value` lines for people, one block per row.
    #[default]
    Table,
    /// CSV with a header row (the common result schema).
    Csv,
    /// One JSON object per row, one per line.
    Json,
}

/// One run as `name  value` lines, units in the names.
pub fn write_table<W: Write>(mut out: W, row: &RunRow) -> io::Result<()> {
    let text: Vec<(&str, String)> = vec![
        ("source", row.source.clone()),
        ("preset", row.preset.clone()),
        ("policy", row.policy.clone()),
        ("params", row.params.clone()),
        (
            "workload",
            format!(
                "rw={} bs={} numjobs={} iodepth={} iothreads={}",
                row.rw, row.bs, row.numjobs, row.iodepth, row.iothreads
            ),
        ),
        ("duration_ms", row.duration_ms.to_string()),
        ("seed", row.seed.to_string()),
        ("iops", format!("{:.0}", row.iops)),
        ("mb_per_s", format!("{:.1}", row.mb_per_s)),
        ("lat_mean_us", format!("{:.2}", row.lat_mean_us)),
        ("lat_p50_us", known(row.lat_p50_us, 2)),
        ("lat_p99_us", known(row.lat_p99_us, 2)),
        ("lat_p999_us", known(row.lat_p999_us, 2)),
        ("iothread_cpu_pct", format!("{:.1}", row.iothread_cpu_pct)),
        ("poll_cpu_pct", known(row.poll_cpu_pct, 1)),
        ("kicks_per_s", known(row.kicks_per_s, 0)),
        ("wakeups_per_s", known(row.wakeups_per_s, 0)),
        ("window_mean_ns", known(row.window_mean_ns, 0)),
        ("window_zero_frac", known(row.window_zero_frac, 3)),
        (
            "abrupt_resets",
            row.abrupt_resets
                .map_or_else(|| "-".into(), |n| n.to_string()),
        ),
    ];
    for (k, v) in text {
        writeln!(out, "{k:<18} {v}")?;
    }
    Ok(())
}

/// Writes rows in `format`; a table shows one block per row.
pub fn write_rows<W: Write>(mut out: W, format: RowFormat, rows: &[RunRow]) -> io::Result<()> {
    match format {
        RowFormat::Csv => crate::formats::rows::write_csv(out, rows).map_err(io::Error::other),
        RowFormat::Json => {
            for r in rows {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
            Ok(())
        }
        RowFormat::Table => {
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write_table(&mut out, r)?;
            }
            Ok(())
        }
    }
}

/// A block size as `8k` when it is whole KiB.
pub fn bs_text(bs: u64) -> String {
    if bs.is_multiple_of(1024) {
        format!("{}k", bs / 1024)
    } else {
        bs.to_string()
    }
}

/// The lines every one-run table shares: policy, workload, IOPS, bandwidth
/// and latency.
pub fn write_run_summary<W: Write>(out: &mut W, r: &RunRow) -> std::io::Result<()> {
    writeln!(
        out,
        "policy            {} {}",
        r.policy,
        crate::effective::effective_row_text(&r.policy, &r.params)
    )?;
    writeln!(
        out,
        "workload          rw={} bs={} numjobs={} iodepth={} duration={} ms seed={}",
        r.rw, r.bs, r.numjobs, r.iodepth, r.duration_ms, r.seed
    )?;
    writeln!(out, "iops              {:.0}", r.iops)?;
    writeln!(out, "bandwidth         {:.1} MB/s", r.mb_per_s)?;
    writeln!(
        out,
        "latency (us)      mean {:.1}  p50 {}  p99 {}  p99.9 {}",
        r.lat_mean_us,
        known(r.lat_p50_us, 1),
        known(r.lat_p99_us, 1),
        known(r.lat_p999_us, 1)
    )
}

/// One device run (`realdev run`): the common lines, then where the
/// loop's CPU went and what it did.
pub fn write_device_run<W: Write>(out: &mut W, o: &RunOutput) -> io::Result<()> {
    let r = &o.row;
    let lp = &o.loop_report;
    let s = &o.split;
    writeln!(
        out,
        "target            {} (logical block {} B)",
        o.target_path, o.target_block_size
    )?;
    write_run_summary(out, r)?;
    if lp.device_reaped > 0 {
        writeln!(
            out,
            "in the device     mean {:.1} us (io_submit return to reaped; the rest is hand-off)",
            lp.device_ns_total as f64 / lp.device_reaped as f64 / 1000.0
        )?;
    }
    write!(
        out,
        "iothread cpu      {:.1}% = poll {:.1}% + busy {:.1}% + blocking overhead {:.1}%",
        s.total_pct, s.poll_pct, s.busy_pct, s.block_overhead_pct
    )?;
    if lp.wakeups > 0 {
        // What each sleep cost the loop's CPU: compare calibrate's
        // block-and-wake CPU and the interrupt's sleep. The percentage is
        // the mean per loop and the wake-ups the sum over loops.
        let loops = f64::from(lp.loops.max(1));
        let per_wake_ns =
            s.block_overhead_pct / 100.0 * loops * lp.elapsed_ns as f64 / lp.wakeups as f64;
        write!(out, " ({:.1} us a wake-up)", per_wake_ns / 1000.0)?;
    }
    writeln!(out)?;
    writeln!(out, "asleep            {:.1}% of the time", s.blocked_pct)?;
    write_loop_lines(out, r)?;
    writeln!(
        out,
        "iterations        {} ({} ended by polling)",
        lp.iterations, lp.polled_hits
    )?;
    if lp.params_history.len() > 1 {
        writeln!(
            out,
            "live changes      {}",
            lp.params_history[1..].join(" | ")
        )?;
    }
    if lp.param_rejections > 0 {
        writeln!(out, "rejected changes  {}", lp.param_rejections)?;
    }
    if !lp.user_space_ring {
        writeln!(
            out,
            "note              AIO ring layout unknown: completions read with io_getevents"
        )?;
    }
    Ok(())
}

/// One run in QEMU's own loop (`qemu run`), in the QEMU `version` the
/// variant was built from.
pub fn write_qemu_run<W: Write>(out: &mut W, r: &RunRow, version: &str) -> io::Result<()> {
    writeln!(
        out,
        "loop              QEMU {version} aio_poll() ({})",
        r.preset
    )?;
    write_run_summary(out, r)?;
    writeln!(
        out,
        "iothread cpu      {:.1}% (busy-polling {}%)",
        r.iothread_cpu_pct,
        known(r.poll_cpu_pct, 1)
    )?;
    write_loop_lines(out, r)
}

/// What the loop did, for every real run: kicks, wake-ups and the window.
fn write_loop_lines<W: Write>(out: &mut W, r: &RunRow) -> io::Result<()> {
    writeln!(out, "kicks             {}/s", known(r.kicks_per_s, 0))?;
    writeln!(out, "wake-ups          {}/s", known(r.wakeups_per_s, 0))?;
    writeln!(
        out,
        "window            mean {} ns, zero {}% of the time, {} abrupt resets",
        known(r.window_mean_ns, 0),
        known(r.window_zero_frac.map(|f| f * 100.0), 1),
        r.abrupt_resets
            .map_or_else(|| "-".into(), |n| n.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::{iops_per_core, per_core_text, write_qemu_run, write_table};

    #[test]
    fn a_value_the_source_does_not_know_prints_as_a_dash_never_a_zero() {
        let row = pollwise_core::RunRow {
            source: "fio".into(),
            iops: 1000.0,
            lat_p99_us: None,
            poll_cpu_pct: None,
            kicks_per_s: None,
            wakeups_per_s: None,
            window_mean_ns: None,
            window_zero_frac: None,
            abrupt_resets: None,
            ..crate::test_row()
        };
        let mut table = Vec::new();
        write_table(&mut table, &row).unwrap();
        let table = String::from_utf8(table).unwrap();
        for name in ["lat_p99_us", "poll_cpu_pct", "kicks_per_s", "abrupt_resets"] {
            let line = table.lines().find(|l| l.starts_with(name)).unwrap();
            assert!(line.ends_with(" -"), "{line}");
        }
        let mut run = Vec::new();
        write_qemu_run(&mut run, &row, "10.0").unwrap();
        let run = String::from_utf8(run).unwrap();
        assert!(
            run.contains("p99 -") && run.contains("busy-polling -%"),
            "{run}"
        );
        assert!(run.contains("kicks             -/s"), "{run}");
        assert!(
            run.contains("window            mean - ns, zero -% of the time, - abrupt"),
            "{run}"
        );
    }

    #[test]
    fn iops_per_core_divides_by_the_cores_all_iothreads_use() {
        // 100k IOPS at 50% of one core: 200k per core.
        assert_eq!(iops_per_core(100_000.0, 50.0, 1), Some(200_000.0));
        // Two IOThreads at 50% each use one core between them.
        assert_eq!(iops_per_core(100_000.0, 50.0, 2), Some(100_000.0));
        assert_eq!(iops_per_core(100_000.0, 0.0, 1), None);
        assert_eq!(per_core_text(1000.0, 0.0, 1), "-");
        assert_eq!(per_core_text(1000.0, 25.0, 1), "4000");
    }
}
