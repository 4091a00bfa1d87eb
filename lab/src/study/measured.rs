//! The measured part: the online policies against QEMU's rule on a real
//! disk, in pollwise's own loop and, for each variant that is built, in
//! QEMU's. Its runs are compares on a device backend (not simulated: they
//! report their own progress).

use pollwise_core::{Params, PolicyKind, Rw, Workload};

use super::options::MeasureOptions;
use super::ratio::{at_both_prices, of_records, TraceRatios};
use crate::acceptance::{judge, Acceptance};
use crate::backend::{Backend, DeviceBackend, Point};
use crate::compare::{compare, CompareSpec, ComparedPoint};
use crate::formats::input::{open, InputKind};
use crate::formats::output::OutputDir;
use crate::formats::waits::write_waits;
use crate::qemu_backend::QemuBackend;
use crate::replay::read_waits;
use crate::{LabError, Progress};

/// The points measured on a disk: 4k randread, one and four jobs at queue
/// depth 1 and 8 (issue 26's four), one IOThread.
fn measured_points(duration_ms: u64) -> Vec<Workload> {
    [(1, 1), (1, 8), (4, 1), (4, 8)]
        .into_iter()
        .map(|(numjobs, iodepth)| Workload {
            rw: Rw::RandRead,
            rwmixread: 50,
            bs: 4096,
            numjobs,
            iodepth,
            iothreads: 1,
            duration_ms,
        })
        .collect()
}

/// The loops whose waits the measured part records, as named in the
/// waits files: pollwise's own (`device`) and QEMU's (`qemu`).
pub(crate) const LOOPS: [&str; 2] = ["device", "qemu"];

/// The file of the waits `lp` recorded at point `w`.
pub(crate) fn waits_file(lp: &str, w: &Workload) -> String {
    format!("waits-{lp}-j{}-qd{}.csv", w.numjobs, w.iodepth)
}

/// Every waits file the measured part may write.
pub(crate) fn waits_files() -> Vec<String> {
    LOOPS
        .iter()
        .flat_map(|lp| {
            measured_points(1)
                .into_iter()
                .map(move |w| waits_file(lp, &w))
        })
        .collect()
}

/// A point's label in the tables: "4k j=1 qd=8".
pub(crate) fn point_label(w: &Workload) -> String {
    format!("{}k j={} qd={}", w.bs / 1024, w.numjobs, w.iodepth)
}

/// `qemu`'s run at each measured point, the points and their waits files.
fn trace_points(lp: &str, m: &MeasureOptions) -> Vec<(String, Point)> {
    measured_points(m.duration_ms)
        .into_iter()
        .map(|workload| {
            let name = waits_file(lp, &workload);
            let point = Point {
                workload,
                params: Params::defaults(PolicyKind::Qemu),
                seed: 1,
                qemu_variant: None,
            };
            (name, point)
        })
        .collect()
}

/// Every online policy replayed over the waits of pollwise's loop under
/// `qemu` at each measured point; each trace written to its file in `dir`.
fn device_ratios(
    dev: &DeviceBackend,
    m: &MeasureOptions,
    dir: &OutputDir,
) -> Result<Vec<TraceRatios>, LabError> {
    trace_points(LOOPS[0], m)
        .into_iter()
        .map(|(name, point)| {
            let (_, log, _) = dev.run_logged(&point)?;
            let path = dir.join(&name);
            dir.file(&name)?
                .write_with(|w| write_waits(w, &log, &path))?;
            let trace = format!("pollwise's loop {}", point_label(&point.workload));
            of_records(trace, Some(name), &log)
        })
        .collect()
}

/// The same in QEMU's loop (stock QEMU's harness writes the waits file).
fn qemu_ratios(
    backend: &QemuBackend,
    m: &MeasureOptions,
    dir: &OutputDir,
) -> Result<Vec<TraceRatios>, LabError> {
    trace_points(LOOPS[1], m)
        .into_iter()
        .map(|(name, point)| {
            dir.file(&name)?
                .write_path(|path| backend.run_waits(&point, Some(path)))?;
            // Read back through the one bounded reader of every input.
            let file = open("--waits", &dir.join(&name), InputKind::Log)?;
            let mut waits = Vec::new();
            read_waits(file, &name, |line, w| {
                waits.push((line, w));
                Ok(())
            })?;
            let trace = format!("QEMU's loop {}", point_label(&point.workload));
            at_both_prices(trace, Some(name), &waits)
        })
        .collect()
}

/// The candidates in pollwise's loop and in QEMU's.
const DEVICE_CANDIDATES: [PolicyKind; 3] = [
    PolicyKind::Pollwise,
    PolicyKind::Weighted,
    PolicyKind::WeightedMerged,
];
const QEMU_CANDIDATES: [PolicyKind; 2] = [PolicyKind::Pollwise, PolicyKind::Weighted];

/// One candidate against `qemu` in one loop.
pub(crate) struct Measured {
    /// "pollwise's loop" or "QEMU's loop".
    pub lp: &'static str,
    pub candidate: Params,
    pub points: Vec<ComparedPoint>,
    /// The points judged by the one verdict rule of every compare.
    pub acceptance: Acceptance,
}

/// What the measured part found, with what it could not run.
pub(crate) struct MeasuredPart {
    pub label: String,
    /// The load average at the start and at the end.
    pub load: (String, String),
    /// When it started, UTC (RFC 3339, to the second).
    pub started: String,
    pub runs: Vec<Measured>,
    /// Every online policy's competitive ratio on the waits each loop
    /// recorded under `qemu` at each point.
    pub ratios: Vec<TraceRatios>,
    pub skipped: Vec<String>,
}

/// The 1-, 5- and 15-minute load averages, for the report.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Each candidate against `qemu` on `backend`, in `lp`.
fn compare_all(
    backend: &dyn Backend,
    lp: &'static str,
    candidates: &[Params],
    m: &MeasureOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Measured>, LabError> {
    candidates
        .iter()
        .map(|candidate| {
            let spec = CompareSpec {
                workloads: measured_points(m.duration_ms),
                baseline: Params::defaults(PolicyKind::Qemu),
                candidate: candidate.clone(),
                variants: [None, None],
                seed: 1,
                repeats: m.repeats,
            };
            let points = compare(backend, &spec, progress)?;
            Ok(Measured {
                lp,
                acceptance: judge(&points, m.accept_iops_loss_pct),
                points,
                candidate: candidate.clone(),
            })
        })
        .collect()
}

/// Measures the online policies against QEMU's rule on `m.target`.
pub(crate) fn measure(
    m: &MeasureOptions,
    dir: &OutputDir,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<MeasuredPart, LabError> {
    let max_bs = measured_points(m.duration_ms)
        .iter()
        .map(|w| w.bs)
        .max()
        .unwrap_or(4096);
    let start = load_average();
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let device: Vec<Params> = DEVICE_CANDIDATES.map(Params::defaults).to_vec();
    let (label, mut runs, mut ratios) = {
        let dev = DeviceBackend::open(&m.target, max_bs)?;
        let runs = compare_all(&dev, "pollwise's loop", &device, m, progress)?;
        let ratios = device_ratios(&dev, m, dir)?;
        (dev.label(), runs, ratios)
    };
    // QEMU's loop, for each policy whose variant is built.
    let built = |p: &Params| {
        pollwise_qemu::variant_for(p)
            .is_ok_and(|v| pollwise_qemu::harness_path(&m.qemu_cache, &v.variant).is_file())
    };
    let cache = m.qemu_cache.display();
    let mut skipped = Vec::new();
    if built(&Params::defaults(PolicyKind::Qemu)) {
        let (qemu, missing): (Vec<Params>, Vec<Params>) = QEMU_CANDIDATES
            .map(Params::defaults)
            .into_iter()
            .partition(built);
        skipped.extend(missing.iter().map(|p| {
            format!(
                "QEMU's loop, {}: its variant is not built in {cache} (`pollwise qemu build`)",
                p.kind()
            )
        }));
        let backend = QemuBackend::open(&m.qemu_cache, &m.target, max_bs)?;
        runs.extend(compare_all(&backend, "QEMU's loop", &qemu, m, progress)?);
        ratios.extend(qemu_ratios(&backend, m, dir)?);
    } else {
        skipped.push(format!(
            "QEMU's loop: stock QEMU's harness is not built in {cache} (`pollwise qemu build`)"
        ));
    }
    Ok(MeasuredPart {
        label,
        load: (start, load_average()),
        started,
        runs,
        ratios,
        skipped,
    })
}
