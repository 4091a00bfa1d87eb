//! `pollwise import`: results from outside pollwise in its schemas.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::policy::PolicyFlags;
use super::{fail, Context, Result, Ui};
use crate::formats::fio::{fio_json_rows, Labels};
use crate::formats::import::{parse_qemu_trace, pidstat_cpu_pct, sar_busy_pct};
use crate::formats::input::{read_text, InputKind};
use crate::formats::output::same_file;
use crate::formats::rows::{write_csv, write_trace};
use crate::{Input, Kind, Output};

/// Where the IOThread's CPU of imported fio runs comes from.
#[derive(Clone, Debug)]
pub enum CpuSource {
    /// `--iothread-cpu PCT`.
    Pct(f64),
    /// `--sar FILE --sar-cpu N` (the CPU is required with the file).
    Sar(PathBuf, Option<u32>),
    /// `--pidstat FILE --tid TID`.
    Pidstat(PathBuf, Option<u32>),
    /// None given.
    Missing,
}

impl CpuSource {
    /// The source of `--iothread-cpu`, `--sar` (with `--sar-cpu`) or
    /// `--pidstat` (with `--tid`), in that order of preference.
    pub fn of(
        pct: Option<f64>,
        (sar, sar_cpu): (Option<PathBuf>, Option<u32>),
        (pidstat, tid): (Option<PathBuf>, Option<u32>),
    ) -> CpuSource {
        match (pct, sar, pidstat) {
            (Some(v), ..) => CpuSource::Pct(v),
            (_, Some(f), _) => CpuSource::Sar(f, sar_cpu),
            (_, _, Some(f)) => CpuSource::Pidstat(f, tid),
            _ => CpuSource::Missing,
        }
    }
}

/// `pollwise import fio`, as typed.
#[derive(Clone, Debug)]
pub struct FioImport {
    pub json: Vec<PathBuf>,
    pub cpu: CpuSource,
    pub testbed: String,
    pub iothreads: u32,
    pub policy: PolicyFlags,
    /// `--out FILE` [default: `stdout`].
    pub out: Option<PathBuf>,
    pub force: bool,
}

fn read(flag: &str, p: &Path) -> Result<String> {
    Ok(read_text(flag, p, InputKind::Small)?)
}

/// Where a CPU figure came from, for its error: the flag, and for sar how
/// the figure was made.
fn cpu_source(cpu: &CpuSource) -> Option<String> {
    match cpu {
        CpuSource::Pct(_) => Some("--iothread-cpu".into()),
        CpuSource::Sar(f, _) => Some(format!(
            "from --sar {}, 100 - %idle of the Average line",
            f.display()
        )),
        CpuSource::Pidstat(f, _) => Some(format!("from --pidstat {}", f.display())),
        CpuSource::Missing => None,
    }
}

/// The IOThread's CPU in % of one core.
fn cpu_pct(cpu_src: &CpuSource) -> Result<f64> {
    let origin = |f: &Path| f.display().to_string();
    let cpu = match cpu_src {
        CpuSource::Pct(v) => *v,
        CpuSource::Sar(f, n) => sar_busy_pct(
            &read("--sar", f)?,
            &origin(f),
            n.context("--sar needs --sar-cpu")?,
        )?,
        CpuSource::Pidstat(f, tid) => pidstat_cpu_pct(
            &read("--pidstat", f)?,
            &origin(f),
            tid.context("--pidstat needs --tid")?,
        )?,
        CpuSource::Missing => return fail("give --iothread-cpu, --sar or --pidstat"),
    };
    // One IOThread's share of one core; sar's is 100 - %idle, so a
    // negative %idle shows here as more than 100.
    if !cpu.is_finite() || !(0.0..=100.0).contains(&cpu) {
        let from = match cpu_source(cpu_src) {
            Some(s) => format!(" ({s})"),
            None => String::new(),
        };
        return fail(format!(
            "the IOThread's CPU is {cpu}%{from}: expected a percentage of one core, 0 ..= 100"
        ));
    }
    Ok(cpu)
}

/// One row per fio JSON file (`source=fio`), written to `--out` or to
/// `stdout`; each file's warnings are noted.
pub fn fio(ui: &dyn Ui, c: &FioImport, stdout: &mut dyn Write) -> Result<()> {
    let cpu = cpu_pct(&c.cpu)?;
    if c.iothreads == 0 {
        return fail("--iothreads must be at least 1");
    }
    let params = c.policy.params(ui)?;
    let labels = Labels {
        testbed: c.testbed.clone(),
        policy: params.kind().name().to_string(),
        params: params.to_string(),
        iothreads: c.iothreads,
    };
    // One run given twice would be two rows of the same run.
    for (i, a) in c.json.iter().enumerate() {
        if let Some(b) = c.json[..i].iter().find(|b| same_file(b, a)) {
            return fail(format!(
                "--json {} and --json {} are the same file: give each run's JSON once",
                b.display(),
                a.display()
            ));
        }
    }
    let mut inputs: Vec<Input> = c.json.iter().map(|p| Input::new("--json", p)).collect();
    match &c.cpu {
        CpuSource::Sar(f, _) => inputs.push(Input::new("--sar", f)),
        CpuSource::Pidstat(f, _) => inputs.push(Input::new("--pidstat", f)),
        _ => {}
    }
    let out = c
        .out
        .as_ref()
        .map(|p| Output::prepare("--out", p, Kind::Results, &inputs, c.force))
        .transpose()?;
    let mut rows = Vec::new();
    for path in &c.json {
        let origin = path.display().to_string();
        let (file_rows, warnings) = fio_json_rows(&read("--json", path)?, &origin, &labels, cpu)?;
        for w in warnings {
            ui.note(&format!("warning: {w}"));
        }
        rows.extend(file_rows);
    }
    match out {
        Some(out) => {
            out.stale_notes().iter().for_each(|n| ui.note(n));
            out.write_with(|w| write_csv(w, &rows))?
        }
        None => write_csv(stdout, &rows)?,
    }
    Ok(())
}

/// `pollwise import qemu-trace`: QEMU's `log` trace output as a window
/// trace at `out`; notes what it found.
pub fn qemu_trace(
    ui: &dyn Ui,
    (input, out): (&Path, &Path),
    poll_max_ns: u64,
    force: bool,
) -> Result<()> {
    let inputs = [Input::new("--input", input)];
    let checked = Output::prepare("--out", out, Kind::Trace, &inputs, force)?;
    let text = read_text("--input", input, InputKind::Log)?;
    let t = parse_qemu_trace(&text, poll_max_ns).context(input.display().to_string())?;
    checked.stale_notes().iter().for_each(|n| ui.note(n));
    checked.write_with(|w| write_trace(w, &t.rows))?;
    let iothreads = t.rows.iter().map(|r| r.iothread).max().unwrap_or(0) + 1;
    ui.note(&format!(
        "wrote {} ({} window points over {iothreads} IOThread(s); {} poll_add/end \
         events without a window, {} other lines skipped)",
        out.display(),
        t.rows.len(),
        t.events,
        t.skipped
    ));
    Ok(())
}
