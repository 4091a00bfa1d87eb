//! The report directory `tune --out DIR` writes, every file through
//! [`crate::formats::output`]: `tune.md` (the answer, the command, the
//! search's kept settings, prediction against measurement), `search.csv`
//! (every simulated setting at every point), `confirm.csv` (prediction
//! against measurement per candidate, point and loop: the disk's, QEMU's),
//! `runs.csv` (every run, on the disk and in QEMU's loop), `tradeoff.png`
//! and, after a calibration, `preset.toml`.

use std::io::{self, Write};
use std::path::Path;

use pollwise_plots::{plot_tradeoff, Role, Size, TradeoffPoint};

use super::text::{point_text, whole, write_answer, write_search_csv};
use super::{Answer, Measured, Tuned};
use crate::formats::output::{Input, Kind, OutputDir};
use crate::formats::output::{
    TUNE_CONFIRM_CSV_HEADER as CONFIRM_CSV_HEADER, TUNE_REPORT_TITLE as REPORT_TITLE,
};
use crate::LabError;

/// Every file the report holds, checked before any work.
pub fn prepare(
    dir: &Path,
    calibrated: bool,
    inputs: &[Input],
    force: bool,
) -> Result<OutputDir, LabError> {
    let mut files = vec![
        ("tune.md", Kind::TuneReport),
        ("search.csv", Kind::TuneCsv),
        ("confirm.csv", Kind::TuneCsv),
        ("runs.csv", Kind::Results),
        ("tradeoff.png", Kind::Picture),
    ];
    if calibrated {
        files.push(("preset.toml", Kind::Preset));
    }
    OutputDir::prepare("--out", dir, &files, inputs, force)
}

/// Writes every file; `preset` is the calibration's TOML, if one ran.
pub fn write(
    dir: &OutputDir,
    t: &Tuned,
    command: &str,
    preset: Option<&str>,
) -> Result<(), LabError> {
    let file = |name: &str, f: &dyn Fn(&mut dyn Write) -> io::Result<()>| {
        dir.file(name)?
            .write_with(|w| f(w).map_err(|e| LabError::file(dir.join(name))(e)))
    };
    file("tune.md", &|w| write_markdown(w, t, command))?;
    file("search.csv", &|w| write_search_csv(w, t))?;
    file("confirm.csv", &|w| write_confirm_csv(w, t))?;
    file("runs.csv", &|w| {
        let runs: Vec<_> = every_measurement(t)
            .flat_map(|(_, _, m)| crate::compare::all_runs(&m.points))
            .collect();
        crate::formats::rows::write_csv(w, &runs).map_err(io::Error::other)
    })?;
    if let Some(text) = preset {
        file("preset.toml", &|w| w.write_all(text.as_bytes()))?;
    }
    let title = format!("tune: QEMU {}, settings by predicted cost", t.version.name);
    dir.file("tradeoff.png")?.write_path(|png| {
        plot_tradeoff(
            &tradeoff_points(t),
            t.search.bar_pct,
            &title,
            png,
            Size::default(),
        )
        .map_err(LabError::from)
    })
}

/// The picture's points: every simulated setting, stock, the chosen one,
/// and each measured candidate at its measured worst change and CPU.
pub fn tradeoff_points(t: &Tuned) -> Vec<TradeoffPoint> {
    let stock = &t.search.stock;
    let chosen = match t.answer() {
        Answer::Set { params, .. } => params,
        Answer::KeepDefaults(_) => stock.params.clone(),
    };
    let mut out: Vec<TradeoffPoint> = t
        .search
        .all
        .iter()
        .map(|p| TradeoffPoint {
            label: p.params.to_string(),
            cpu_pct: p.cpu_mean(),
            iops_change_pct: p.worst_iops_change(stock),
            role: if p.params == chosen {
                Role::Chosen
            } else if p.params == stock.params {
                Role::Stock
            } else {
                Role::Candidate
            },
        })
        .collect();
    for (i, loop_, m) in every_measurement(t).filter(|(_, _, m)| !m.points.is_empty()) {
        let worst = m
            .points
            .iter()
            .map(|p| p.iops_paired().median)
            .fold(f64::INFINITY, f64::min);
        let cpu =
            crate::stats::mean_of(m.points.iter().map(|p| p.candidate_mean().iothread_cpu_pct));
        let stock_cpu =
            crate::stats::mean_of(m.points.iter().map(|p| p.baseline_mean().iothread_cpu_pct));
        out.push(TradeoffPoint {
            label: format!("stock, measured against candidate {}{loop_}", i + 1),
            cpu_pct: stock_cpu,
            iops_change_pct: 0.0,
            role: Role::Measured,
        });
        out.push(TradeoffPoint {
            label: format!("candidate {}{loop_} measured: {}", i + 1, m.outcome.name()),
            cpu_pct: cpu,
            iops_change_pct: worst,
            role: Role::Measured,
        });
    }
    out
}

/// Every measurement with its candidate's index and where it ran (`""`
/// on the disk, `" in QEMU's loop"`): each candidate's disk one, then its
/// QEMU one.
fn every_measurement(t: &Tuned) -> impl Iterator<Item = (usize, &'static str, &Measured)> {
    t.measured.iter().enumerate().flat_map(|(i, m)| {
        let q = m.in_qemu.as_deref().map(|q| (i, " in QEMU's loop", q));
        std::iter::once((i, "", m)).chain(q)
    })
}

/// `disk` or `qemu`, as confirm.csv's `measured_in` names the loop.
fn loop_name(loop_: &str) -> &'static str {
    if loop_.is_empty() {
        "disk"
    } else {
        "qemu"
    }
}

fn write_confirm_csv(out: &mut dyn Write, t: &Tuned) -> io::Result<()> {
    writeln!(out, "{CONFIRM_CSV_HEADER}")?;
    let stock = &t.search.stock;
    for (i, loop_, m) in every_measurement(t) {
        let candidate = &t.measured[i].params;
        let predicted = t.search.all.iter().find(|p| &p.params == candidate);
        for (k, p) in m.points.iter().enumerate() {
            let (iops, cpu) = (p.iops_paired(), p.cpu_paired());
            let pred_iops = predicted.map(|c| c.iops_changes(stock)[k]);
            let pred_cpu = predicted.map(|c| c.points[k].cpu_pct - stock.points[k].cpu_pct);
            let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
            writeln!(
                out,
                "{},{},{},{},{:.3},{},{},{},{:.3},{},{},{},{},{}",
                i + 1,
                candidate,
                point_text(&p.workload),
                opt(pred_iops),
                iops.median,
                opt(iops.ci.map(|c| c.lo)),
                opt(iops.ci.map(|c| c.hi)),
                opt(pred_cpu),
                cpu.median,
                opt(cpu.ci.map(|c| c.lo)),
                opt(cpu.ci.map(|c| c.hi)),
                iops.n,
                m.outcome.name(),
                loop_name(loop_),
            )?;
        }
    }
    Ok(())
}

fn write_markdown(out: &mut dyn Write, t: &Tuned, command: &str) -> io::Result<()> {
    writeln!(out, "{REPORT_TITLE}QEMU {}\n", t.version.name)?;
    writeln!(out, "Generated by `{command}`.\n")?;
    writeln!(out, "## The answer\n\n```")?;
    write_answer(out, t)?;
    writeln!(out, "```\n\n## The search (calibrated simulator)\n")?;
    writeln!(
        out,
        "Knobs of QEMU {}: {}. Kept: settings whose predicted IOPS at every point stay within \
         {}% of stock's, cheapest first (the first ten; all in `search.csv`).\n",
        t.version.name,
        t.version.knobs().join(", "),
        t.search.bar_pct
    )?;
    writeln!(
        out,
        "| setting | mean CPU % | worst IOPS change % | IOPS per IOThread core |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    for &i in t.search.kept.iter().take(10) {
        let p = &t.search.all[i];
        writeln!(
            out,
            "| {} | {:.1} | {:+.2} | {} |",
            p.params,
            p.cpu_mean(),
            p.worst_iops_change(&t.search.stock),
            whole(p.iops_per_core())
        )?;
    }
    writeln!(out, "\n## Prediction against measurement\n")?;
    if t.measured.is_empty() {
        writeln!(out, "Nothing was measured.\n")?;
    } else {
        write_prediction_table(out, t)?;
    }
    writeln!(
        out,
        "The same in `confirm.csv`; every run in `runs.csv`; the picture is `tradeoff.png`."
    )
}

/// Per measured candidate and point: the predicted change beside the
/// measured median and interval, IOPS in %, CPU in points.
fn write_prediction_table(out: &mut dyn Write, t: &Tuned) -> io::Result<()> {
    writeln!(
        out,
        "| candidate | measured in | point | IOPS predicted | IOPS measured [95% CI] | CPU \
         predicted | CPU measured [95% CI] | pairs | outcome |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    let stock = &t.search.stock;
    for (i, loop_, m) in every_measurement(t) {
        let candidate = &t.measured[i].params;
        let predicted = t.search.all.iter().find(|p| &p.params == candidate);
        for (k, p) in m.points.iter().enumerate() {
            let (iops, cpu) = (p.iops_paired(), p.cpu_paired());
            let ci = |d: &crate::stats::PairedDiff| {
                d.ci.map_or_else(
                    || format!("{:+.2}", d.median),
                    |c| format!("{:+.2} [{:+.2}, {:+.2}]", d.median, c.lo, c.hi),
                )
            };
            let pred = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:+.2}"));
            writeln!(
                out,
                "| {} | {} | {} | {}% | {}% | {} | {} | {} | {} |",
                candidate,
                if loop_.is_empty() {
                    "the disk"
                } else {
                    "QEMU's loop"
                },
                point_text(&p.workload),
                pred(predicted.map(|c| c.iops_changes(stock)[k])),
                ci(&iops),
                pred(predicted.map(|c| c.points[k].cpu_pct - stock.points[k].cpu_pct)),
                ci(&cpu),
                iops.n,
                m.outcome.name()
            )?;
        }
    }
    writeln!(out)
}
