//! Writing result rows in the three formats every command offers.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use pollwise_core::RunRow;
pub use pollwise_lab::rows::write_csv;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// CSV with a header row (the common result schema).
    Csv,
    /// One JSON object per row, one per line.
    Json,
}

/// One run as `name  value` lines, units in the names.
pub fn write_table<W: Write>(mut out: W, row: &RunRow) -> Result<()> {
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
        ("lat_p50_us", format!("{:.2}", row.lat_p50_us)),
        ("lat_p99_us", format!("{:.2}", row.lat_p99_us)),
        ("lat_p999_us", format!("{:.2}", row.lat_p999_us)),
        ("iothread_cpu_pct", format!("{:.1}", row.iothread_cpu_pct)),
        ("poll_cpu_pct", format!("{:.1}", row.poll_cpu_pct)),
        ("kicks_per_s", format!("{:.0}", row.kicks_per_s)),
        ("wakeups_per_s", format!("{:.0}", row.wakeups_per_s)),
        ("window_mean_ns", format!("{:.0}", row.window_mean_ns)),
        ("window_zero_frac", format!("{:.3}", row.window_zero_frac)),
        ("abrupt_resets", row.abrupt_resets.to_string()),
    ];
    for (k, v) in text {
        writeln!(out, "{k:<18} {v}")?;
    }
    Ok(())
}

/// Writes rows in `format`; a table shows one block per row.
pub fn write_rows<W: Write>(mut out: W, format: Format, rows: &[RunRow]) -> Result<()> {
    match format {
        Format::Csv => Ok(write_csv(out, rows)?),
        Format::Json => {
            for r in rows {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Table => {
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
    writeln!(out, "policy            {} {}", r.policy, r.params)?;
    writeln!(
        out,
        "workload          rw={} bs={} numjobs={} iodepth={} duration={} ms seed={}",
        r.rw, r.bs, r.numjobs, r.iodepth, r.duration_ms, r.seed
    )?;
    writeln!(out, "iops              {:.0}", r.iops)?;
    writeln!(out, "bandwidth         {:.1} MB/s", r.mb_per_s)?;
    writeln!(
        out,
        "latency (us)      mean {:.1}  p50 {:.1}  p99 {:.1}  p99.9 {:.1}",
        r.lat_mean_us, r.lat_p50_us, r.lat_p99_us, r.lat_p999_us
    )
}
