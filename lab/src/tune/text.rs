//! The answer as `tune` prints it (first the setting and its numbers, then
//! QEMU's, QMP's and libvirt's lines for it), and the report's markdown
//! and CSVs.

use std::io::{self, Write};

use pollwise_core::{Params, Workload};

use super::{Answer, Measured, Outcome, Prediction, QemuLoop, Tuned};
use crate::formats::output::TUNE_SEARCH_CSV_HEADER as SEARCH_CSV_HEADER;
use crate::formats::qemu_syntax::{qemu_setting, QemuSetting};
use crate::text::{bs_text, iops_per_core, per_core_text};
use crate::LabError;

/// The IOThread the emitted lines name: libvirt's first IOThread.
pub const IOTHREAD_ID: &str = "iothread1";

/// An efficiency as the answer prints it: whole IOPS, or `-`.
pub fn whole(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A point as the tables name it: `randread 4k j=1 qd=8 iot=1`.
pub fn point_text(w: &Workload) -> String {
    format!(
        "{} {} j={} qd={} iot={}",
        w.rw.name(),
        bs_text(w.bs),
        w.numjobs,
        w.iodepth,
        w.iothreads
    )
}

/// The setting in QEMU's three syntaxes, with `<iothreads>` before
/// libvirt's `<iothreadids>` (the count the ids belong to).
pub fn setting(p: &Params) -> Result<QemuSetting, LabError> {
    let mut s = qemu_setting(p, IOTHREAD_ID)?;
    s.libvirt = format!("<iothreads>1</iothreads>\n{}", s.libvirt);
    Ok(s)
}

/// The answer, its numbers and the lines to paste.
pub fn write_answer(out: &mut dyn Write, t: &Tuned) -> io::Result<()> {
    let stock = &t.search.stock;
    let (params, measured) = write_answer_line(out, t)?;
    if let Some(line) = t.qemu_loop.skipped_line() {
        writeln!(out, "{line}")?;
    }
    if t.stopped {
        writeln!(out, "(stopped early: this is the best confirmed so far)")?;
    }
    let chosen = t
        .search
        .all
        .iter()
        .find(|p| p.params == params)
        .unwrap_or(stock);
    write_predicted(out, &t.preset, chosen, stock, t.search.bar_pct)?;
    write_cheapest(out, t)?;
    if let Some(m) = measured {
        write_measured(out, m, t.reference.as_deref().unwrap_or("the disk"))?;
        if let (Some(q), QemuLoop::On(label)) = (&m.in_qemu, &t.qemu_loop) {
            write_measured(out, q, &format!("QEMU's loop ({label})"))?;
        }
    }
    for m in t.measured.iter().filter(|m| !m.holds()) {
        write!(
            out,
            "tried {}: {}; {}",
            m.params,
            m.verdicts(),
            m.acceptance.sentence()
        )?;
        match &m.in_qemu {
            Some(q) => writeln!(out, "; in QEMU's loop: {}", q.acceptance.sentence())?,
            None => writeln!(out)?,
        }
    }
    write_lines(out, &params)
}

/// The first line: the setting (or the defaults) and how it was reached;
/// returns the setting and its measurement.
fn write_answer_line<'a>(
    out: &mut dyn Write,
    t: &'a Tuned,
) -> io::Result<(Params, Option<&'a Measured>)> {
    match t.answer() {
        Answer::Set { params, measured } => {
            let m = measured.map(|i| &t.measured[i]);
            let how = match m.map(|m| m.in_qemu.as_ref().map(|q| q.outcome)) {
                None => "predicted only: give --dir or --file to confirm it on the disk".into(),
                Some(None) => "confirmed on the disk".to_string(),
                Some(Some(Outcome::Confirmed)) => {
                    "confirmed on the disk and in QEMU's loop".to_string()
                }
                Some(Some(q)) => format!("confirmed on the disk; {} in QEMU's loop", q.name()),
            };
            writeln!(
                out,
                "answer: set {params} on QEMU {} ({how})",
                t.version.name
            )?;
            Ok((params, m))
        }
        Answer::KeepDefaults(why) => {
            writeln!(
                out,
                "answer: keep the defaults of QEMU {} ({}): {why}",
                t.version.name, t.search.stock.params
            )?;
            Ok((t.search.stock.params.clone(), None))
        }
    }
}

/// QEMU's, QMP's and libvirt's lines for `params`.
fn write_lines(out: &mut dyn Write, params: &Params) -> io::Result<()> {
    let s = setting(params).map_err(io::Error::other)?;
    writeln!(out, "\nQEMU:\n  {}", s.object)?;
    writeln!(out, "QMP (live, on the running IOThread):")?;
    for q in &s.qmp {
        writeln!(out, "  {q}")?;
    }
    writeln!(out, "libvirt (domain XML):")?;
    for l in s.libvirt.lines() {
        writeln!(out, "  {l}")?;
    }
    for n in &s.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

fn write_predicted(
    out: &mut dyn Write,
    preset: &str,
    c: &Prediction,
    stock: &Prediction,
    bar: f64,
) -> io::Result<()> {
    writeln!(
        out,
        "predicted (simulator on preset {}): IOThread CPU {:.1}% -> {:.1}% ({:+.1} points, mean over \
         the points); IOPS at the worst point {:+.2}% (bar -{bar}%); IOPS per IOThread core {} -> {}",
        crate::escape::escaped(preset),
        stock.cpu_mean(),
        c.cpu_mean(),
        c.cpu_mean() - stock.cpu_mean(),
        c.worst_iops_change(stock),
        whole(stock.iops_per_core()),
        whole(c.iops_per_core()),
    )
}

/// The cheapest setting the simulator found at any loss, when the bar
/// kept it out: what the bar costs.
fn write_cheapest(out: &mut dyn Write, t: &Tuned) -> io::Result<()> {
    let stock = &t.search.stock;
    let cheapest = t
        .search
        .all
        .iter()
        .filter(|p| p.settable())
        .min_by(|a, b| a.cpu_sum().total_cmp(&b.cpu_sum()));
    let Some(c) = cheapest.filter(|c| !t.search.all[t.search.kept[0]].params.eq(&c.params)) else {
        return Ok(());
    };
    writeln!(
        out,
        "beyond the bar: the cheapest setting simulated, {}, would change IOThread CPU by {:+.1} \
         points and IOPS at the worst point by {:+.2}%",
        c.params,
        c.cpu_mean() - stock.cpu_mean(),
        c.worst_iops_change(stock)
    )
}

/// One candidate's measurement against stock: a row per point.
pub fn write_measured(out: &mut dyn Write, m: &Measured, reference: &str) -> io::Result<()> {
    let pairs = m.points.first().map_or(0, |p| p.baseline.len());
    writeln!(
        out,
        "measured on {reference}, {pairs} interleaved pairs per point:"
    )?;
    writeln!(
        out,
        "{:<28} {:>10} {:>10} {:>24} {:>7} {:>7} {:>22} {:>10} {:>10}  verdict",
        "point",
        "IOPS stock",
        "IOPS new",
        "IOPS change [95% CI]",
        "CPU stock",
        "CPU new",
        "CPU points [95% CI]",
        "IOPS/core",
        "new/core"
    )?;
    for (p, r) in m.points.iter().zip(&m.acceptance.rows) {
        let (b, c) = (p.baseline_mean(), p.candidate_mean());
        let iops = p.iops_paired();
        let cpu = p.cpu_paired();
        let ci = |ci: Option<crate::stats::Interval>| {
            ci.map_or_else(
                || "[no CI]".into(),
                |i| format!("[{:+.1}, {:+.1}]", i.lo, i.hi),
            )
        };
        writeln!(
            out,
            "{:<28} {:>10.0} {:>10.0} {:>+7.2}% {:>16} {:>7.1} {:>7.1} {:>+6.1} {:>15} {:>10} {:>10}  {}",
            point_text(&p.workload),
            b.iops,
            c.iops,
            iops.median,
            ci(iops.ci),
            b.iothread_cpu_pct,
            c.iothread_cpu_pct,
            cpu.median,
            ci(cpu.ci),
            per_core_text(b.iops, b.iothread_cpu_pct, b.iothreads),
            per_core_text(c.iops, c.iothread_cpu_pct, c.iothreads),
            r.label()
        )?;
    }
    writeln!(out, "{}", m.acceptance.sentence())
}

/// Every simulated setting at every point.
pub fn write_search_csv(out: &mut dyn Write, t: &Tuned) -> io::Result<()> {
    writeln!(out, "{SEARCH_CSV_HEADER}")?;
    let stock = &t.search.stock;
    for (i, s) in t.search.all.iter().enumerate() {
        let kept = t.search.kept.contains(&i);
        for ((w, p), change) in t.workloads.iter().zip(&s.points).zip(s.iops_changes(stock)) {
            writeln!(
                out,
                "{i},{},{},{},{:.1},{:.2},{},{change:.3},{kept}",
                s.params.kind(),
                s.params,
                point_text(w),
                p.iops,
                p.cpu_pct,
                iops_per_core(p.iops, p.cpu_pct, p.iothreads)
                    .map_or(String::new(), |v| format!("{v:.0}")),
            )?;
        }
    }
    Ok(())
}
