//! The evaluation of every policy, regenerated from the simulator: all
//! policies on both presets, the oracle's frontier and each policy's
//! distance from it, and a robustness sweep over devices. Writes the CSVs
//! and a markdown summary; nothing in the summary is typed by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use pollwise_core::{Params, PolicyKind, RunRow, Rw, Workload};
use pollwise_sim::batch::{check_runs, run_jobs, Job};
use pollwise_sim::{LatencyDist, Preset};

use crate::output::{Kind, OutputDir};
use crate::rows::write_csv_file;
use crate::stats::{mean, pct_diff, sample_sd};
use crate::{LabError, Progress, Ticker};

/// What `study` runs and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyOptions {
    /// Directory for the summary and the CSVs (created if missing).
    pub out: PathBuf,
    /// Seeds per point (the spread is reported over them).
    pub seeds: u32,
    /// Measured virtual time per preset run [default: the preset's].
    pub duration_ms: Option<u64>,
    /// Measured virtual time per robustness run on the fastest devices
    /// (slower devices run longer).
    pub robust_duration_ms: u64,
    /// Run only the preset tables, not the robustness sweep.
    pub skip_robustness: bool,
    /// Replace files in `out` that the study did not write.
    pub force: bool,
}

/// The policies compared on the presets, each at its defaults.
const POLICIES: [PolicyKind; 7] = [
    PolicyKind::Qemu,
    PolicyKind::Weighted,
    PolicyKind::Pollwise,
    PolicyKind::KvmHaltPoll,
    PolicyKind::GuestHaltPoll,
    PolicyKind::Fixed,
    PolicyKind::Off,
];

const ORACLE_THRESHOLDS_NS: [u64; 8] = [0, 1000, 2000, 4000, 8000, 16000, 24000, 32768];

/// Device medians of the robustness sweep: 2 us to 2 ms.
const ROBUST_MEDIANS_NS: [u64; 4] = [2_000, 20_000, 200_000, 2_000_000];

/// One policy's summary over a preset's matrix, against `qemu`.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySummary {
    pub label: String,
    pub worst_iops_diff_pct: f64,
    pub worst_row: String,
    pub worst_row_sd_pct: f64,
    pub mean_iops_diff_pct: f64,
    pub mean_cpu_pct: f64,
    pub mean_cpu_diff_pct: f64,
    /// Mean over rows of IOPS relative to qemu (1.0 = equal).
    pub mean_iops_ratio: f64,
}

/// Rows of one policy grouped per workload, in workload order, each with
/// one row per seed.
type PerWorkload = Vec<Vec<RunRow>>;

fn mean_of(v: impl IntoIterator<Item = f64>) -> f64 {
    mean(&v.into_iter().collect::<Vec<_>>())
}

fn row_label(r: &RunRow) -> String {
    format!(
        "{} {}k nj{} it{}",
        r.rw,
        r.bs / 1024,
        r.numjobs,
        r.iothreads
    )
}

/// Pairs a candidate with the baseline workload by workload and seed.
pub fn summarize(label: &str, base: &PerWorkload, cand: &PerWorkload) -> PolicySummary {
    let mut worst = (f64::INFINITY, String::new(), 0.0);
    let mut diffs = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu = Vec::new();
    let mut cpu_diffs = Vec::new();
    for (b, c) in base.iter().zip(cand) {
        let per_seed: Vec<f64> = b
            .iter()
            .zip(c)
            .map(|(x, y)| pct_diff(x.iops, y.iops))
            .collect();
        let bi = mean_of(b.iter().map(|r| r.iops));
        let ci = mean_of(c.iter().map(|r| r.iops));
        let d = pct_diff(bi, ci);
        if d < worst.0 {
            worst = (d, row_label(&b[0]), sample_sd(&per_seed));
        }
        diffs.push(d);
        ratios.push(ci / bi.max(1e-9));
        let bc = mean_of(b.iter().map(|r| r.iothread_cpu_pct));
        let cc = mean_of(c.iter().map(|r| r.iothread_cpu_pct));
        cpu.push(cc);
        cpu_diffs.push(pct_diff(bc, cc));
    }
    PolicySummary {
        label: label.to_string(),
        worst_iops_diff_pct: worst.0,
        worst_row: worst.1,
        worst_row_sd_pct: worst.2,
        mean_iops_diff_pct: mean(&diffs),
        mean_cpu_pct: mean(&cpu),
        mean_cpu_diff_pct: mean(&cpu_diffs),
        mean_iops_ratio: mean(&ratios),
    }
}

/// The oracle's least CPU at an IOPS ratio at least `iops_ratio`, from its
/// swept points (iops ratio, cpu); None if no point reaches it.
pub fn frontier_cpu_at(points: &[(f64, f64)], iops_ratio: f64) -> Option<f64> {
    points
        .iter()
        .filter(|(r, _)| *r >= iops_ratio)
        .map(|(_, c)| *c)
        .min_by(f64::total_cmp)
}

/// Runs every (params, workload, seed) and groups the rows per params, then
/// per workload.
fn run_grouped(
    preset: &Preset,
    params: &[Params],
    workloads: &[Workload],
    seeds: u32,
    ticker: &Ticker,
) -> Result<Vec<PerWorkload>, LabError> {
    let mut jobs = Vec::new();
    for p in params {
        for w in workloads {
            for s in 0..u64::from(seeds) {
                jobs.push(Job {
                    preset,
                    workload: w.clone(),
                    params: p.clone(),
                    seed: 1 + s,
                });
            }
        }
    }
    let rows = run_jobs(&jobs, &|| ticker.tick())?;
    let per = seeds as usize;
    Ok(rows
        .chunks(per * workloads.len())
        .map(|policy_rows| policy_rows.chunks(per).map(<[RunRow]>::to_vec).collect())
        .collect())
}

fn flatten(groups: &[PerWorkload]) -> Vec<RunRow> {
    groups.iter().flatten().flatten().cloned().collect()
}

struct PresetResult {
    name: String,
    rows: usize,
    summaries: Vec<PolicySummary>,
    oracle: Vec<(u64, f64, f64)>,
}

fn study_preset(
    args: &StudyOptions,
    name: &str,
    ticker: &Ticker,
) -> Result<PresetResult, LabError> {
    let preset = Preset::load(name)?;
    let mut workloads = preset.matrix.workloads();
    if let Some(ms) = args.duration_ms {
        workloads.iter_mut().for_each(|w| w.duration_ms = ms);
    }
    let params: Vec<Params> = POLICIES.iter().map(|&k| Params::defaults(k)).collect();
    let groups = run_grouped(&preset, &params, &workloads, args.seeds, ticker)?;
    write_csv_file(
        &args.out.join(format!("policies-{name}.csv")),
        &flatten(&groups),
    )?;
    let summaries = POLICIES
        .iter()
        .zip(&groups)
        .map(|(k, g)| summarize(k.name(), &groups[0], g))
        .collect();

    let oracle_params: Vec<Params> = ORACLE_THRESHOLDS_NS
        .iter()
        .map(|t| {
            Params::from_pairs(
                PolicyKind::ThresholdOracle,
                [("oracle-threshold-ns", t.to_string().as_str())],
            )
            .expect("thresholds are in range")
        })
        .collect();
    let oracle_groups = run_grouped(&preset, &oracle_params, &workloads, args.seeds, ticker)?;
    write_csv_file(
        &args.out.join(format!("oracle-{name}.csv")),
        &flatten(&oracle_groups),
    )?;
    let oracle = ORACLE_THRESHOLDS_NS
        .iter()
        .zip(&oracle_groups)
        .map(|(t, g)| {
            let s = summarize("oracle", &groups[0], g);
            (*t, s.mean_iops_ratio, s.mean_cpu_pct)
        })
        .collect();
    Ok(PresetResult {
        name: name.to_string(),
        rows: workloads.len(),
        summaries,
        oracle,
    })
}

/// The device shapes of the robustness sweep, each with median `m`.
fn shapes(m: u64) -> [(&'static str, LatencyDist); 3] {
    [
        (
            "lognormal",
            LatencyDist::Lognormal {
                median_ns: m,
                sigma: 0.3,
            },
        ),
        (
            "bimodal",
            LatencyDist::Bimodal {
                low_median_ns: m,
                high_median_ns: 10 * m,
                high_frac: 0.05,
                sigma: 0.2,
            },
        ),
        (
            "pareto",
            LatencyDist::ParetoTail {
                median_ns: m,
                sigma: 0.2,
                tail_frac: 0.05,
                tail_alpha: 1.5,
            },
        ),
    ]
}

/// One robustness point: a device and a workload, each policy's IOPS
/// change against qemu (mean and spread over seeds) and CPU change.
struct RobustPoint {
    median_ns: u64,
    shape: &'static str,
    numjobs: u32,
    iothreads: u32,
    /// Per candidate: (IOPS diff %, its sd over seeds, CPU diff %).
    diffs: Vec<(f64, f64, f64)>,
}

const ROBUST_POLICIES: [PolicyKind; 3] =
    [PolicyKind::Qemu, PolicyKind::Weighted, PolicyKind::Pollwise];

fn robustness(args: &StudyOptions, ticker: &Ticker) -> Result<Vec<RobustPoint>, LabError> {
    let base = Preset::load("optane-p4800x")?;
    let params: Vec<Params> = ROBUST_POLICIES
        .iter()
        .map(|&k| Params::defaults(k))
        .collect();
    let mut workloads = Vec::new();
    for numjobs in [1, 4, 16] {
        for iothreads in [1, 2] {
            workloads.push(Workload {
                rw: Rw::RandRead,
                rwmixread: 50,
                bs: 8192,
                numjobs,
                iodepth: base.matrix.iodepth,
                iothreads,
                duration_ms: args.robust_duration_ms,
            });
        }
    }
    let mut points = Vec::new();
    let mut all_rows = Vec::new();
    for m in ROBUST_MEDIANS_NS {
        // Slow devices complete few I/Os per second: lengthen their runs so
        // every point sees a similar number of I/Os and a usable spread.
        let stretch = (m / 20_000).clamp(1, 20);
        let workloads: Vec<Workload> = workloads
            .iter()
            .map(|w| Workload {
                duration_ms: w.duration_ms * stretch,
                ..w.clone()
            })
            .collect();
        for (shape, dist) in shapes(m) {
            let mut preset = base.clone();
            preset.name = format!("optane-p4800x/{shape}-{}us", m / 1000);
            preset.device.read_latency = dist.clone();
            preset.device.write_latency = dist;
            let groups = run_grouped(&preset, &params, &workloads, args.seeds, ticker)?;
            all_rows.extend(flatten(&groups));
            for (i, w) in workloads.iter().enumerate() {
                let b = &groups[0][i];
                let diffs = groups[1..]
                    .iter()
                    .map(|g| {
                        let c = &g[i];
                        let per_seed: Vec<f64> = b
                            .iter()
                            .zip(c)
                            .map(|(x, y)| pct_diff(x.iops, y.iops))
                            .collect();
                        let bc = mean_of(b.iter().map(|r| r.iothread_cpu_pct));
                        let cc = mean_of(c.iter().map(|r| r.iothread_cpu_pct));
                        (mean(&per_seed), sample_sd(&per_seed), pct_diff(bc, cc))
                    })
                    .collect();
                points.push(RobustPoint {
                    median_ns: m,
                    shape,
                    numjobs: w.numjobs,
                    iothreads: w.iothreads,
                    diffs,
                });
            }
        }
    }
    write_csv_file(&args.out.join("robustness.csv"), &all_rows)?;
    Ok(points)
}

fn markdown(args: &StudyOptions, presets: &[PresetResult], robust: &[RobustPoint]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Policy study\n\nGenerated by `pollwise study --seeds {}{} --robust-duration-ms {}`; every \
         number below comes from that run (it also writes the CSV of every run beside this file). \
         IOPS changes are against `qemu` on the same rows and seeds; CPU is the IOThread's, in % \
         of one core; each preset row runs {}.\n",
        args.seeds,
        args.duration_ms.map(|d| format!(" --duration-ms {d}")).unwrap_or_default(),
        args.robust_duration_ms,
        match args.duration_ms {
            Some(d) => format!("{d} ms"),
            None => "for its preset's duration".to_string(),
        }
    );
    for p in presets {
        let _ = writeln!(
            md,
            "## {} ({} rows x {} seeds)\n\n| policy | worst IOPS change | worst row (sd over seeds) | mean IOPS change | mean CPU % | mean CPU change |\n|---|---|---|---|---|---|",
            p.name, p.rows, args.seeds
        );
        for s in &p.summaries {
            let _ = writeln!(
                md,
                "| {} | {:+.2}% | {} ({:.2}) | {:+.2}% | {:.1} | {:+.1}% |",
                s.label,
                s.worst_iops_diff_pct,
                s.worst_row,
                s.worst_row_sd_pct,
                s.mean_iops_diff_pct,
                s.mean_cpu_pct,
                s.mean_cpu_diff_pct
            );
        }
        let by_name: BTreeMap<&str, &PolicySummary> =
            p.summaries.iter().map(|s| (s.label.as_str(), s)).collect();
        if let (Some(w), Some(o)) = (by_name.get("weighted"), by_name.get("pollwise")) {
            let ratio = o.mean_cpu_diff_pct / w.mean_cpu_diff_pct;
            let _ = writeln!(
                md,
                "\npollwise saves {:.1}% of the IOThread CPU on average, {:.1}x the proposal's {:.1}%.\n",
                -o.mean_cpu_diff_pct, ratio, -w.mean_cpu_diff_pct
            );
        }
        let _ = writeln!(
            md,
            "Oracle frontier (threshold: mean IOPS relative to qemu, mean CPU %): {}\n",
            p.oracle
                .iter()
                .map(|(t, r, c)| format!("{t} ns: {r:.4}, {c:.1}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let points: Vec<(f64, f64)> = p.oracle.iter().map(|(_, r, c)| (*r, *c)).collect();
        let _ = writeln!(
            md,
            "| policy | mean IOPS vs qemu | mean CPU % | oracle CPU % at equal IOPS | CPU above the frontier |\n|---|---|---|---|---|"
        );
        for name in ["qemu", "weighted", "pollwise"] {
            let Some(s) = by_name.get(name) else { continue };
            match frontier_cpu_at(&points, s.mean_iops_ratio) {
                Some(o) => {
                    let _ = writeln!(
                        md,
                        "| {name} | {:.4} | {:.1} | {o:.1} | {:+.1}% ({:+.1} points) |",
                        s.mean_iops_ratio,
                        s.mean_cpu_pct,
                        pct_diff(o, s.mean_cpu_pct),
                        s.mean_cpu_pct - o
                    );
                }
                None => {
                    let _ = writeln!(
                        md,
                        "| {name} | {:.4} | {:.1} | (above every oracle point) | - |",
                        s.mean_iops_ratio, s.mean_cpu_pct
                    );
                }
            }
        }
        md.push('\n');
    }
    if !robust.is_empty() {
        let _ = writeln!(
            md,
            "## Robustness: one set of defaults across devices\n\n\
             The optane preset with its device replaced: median latency 2 us to 2 ms, and lognormal \
             (sigma 0.3), bimodal (5% at 10x the median) or Pareto-tailed (5% tail, alpha 1.5) \
             jitter; randread 8k iodepth {}, numjobs 1/4/16, 1/2 IOThreads; {} seeds per point; runs \
             on slower devices are longer (x median/20 us, at most x20) so each sees a similar \
             number of I/Os. Cells: IOPS change vs qemu, mean +- sd over seeds, then CPU change.\n",
            Preset::load("optane-p4800x").map(|p| p.matrix.iodepth).unwrap_or(0),
            args.seeds
        );
        let names: Vec<&str> = ROBUST_POLICIES[1..].iter().map(|k| k.name()).collect();
        let _ = writeln!(
            md,
            "| median | jitter | numjobs | iothreads | {} |\n|---|---|---|---|{}",
            names.join(" | "),
            "---|".repeat(names.len())
        );
        for p in robust {
            let cells: Vec<String> = p
                .diffs
                .iter()
                .map(|(d, s, c)| format!("{d:+.2}% +- {s:.2}, CPU {c:+.1}%"))
                .collect();
            let _ = writeln!(
                md,
                "| {} us | {} | {} | {} | {} |",
                p.median_ns / 1000,
                p.shape,
                p.numjobs,
                p.iothreads,
                cells.join(" | ")
            );
        }
        for (i, name) in names.iter().enumerate() {
            let worst = robust
                .iter()
                .map(|p| p.diffs[i].0)
                .fold(f64::INFINITY, f64::min);
            let within = robust.iter().filter(|p| p.diffs[i].0 >= -1.0).count();
            let cpu = mean_of(robust.iter().map(|p| p.diffs[i].2));
            let _ = writeln!(
                md,
                "\n{name}: worst IOPS change {worst:+.2}%, {within} of {} points within -1%, mean CPU change {cpu:+.1}%.",
                robust.len()
            );
        }
    }
    md
}

/// Runs the study, writes the CSVs and README.md into `opts.out`, and
/// returns the markdown.
pub fn study(
    opts: &StudyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<String, LabError> {
    if opts.seeds == 0 {
        return Err(LabError::Input(
            "--seeds 0: at least one seed is needed".into(),
        ));
    }
    if opts.duration_ms == Some(0) || opts.robust_duration_ms == 0 {
        return Err(LabError::Input("durations must be at least 1 ms".into()));
    }
    // The longest run is a robustness run on the slowest device, stretched
    // 20 times; every duration must be one the simulator accepts.
    let max_ms = pollwise_sim::LIMITS.duration_ms.1;
    if opts.duration_ms.is_some_and(|d| d > max_ms) {
        return Err(LabError::Input(format!(
            "--duration-ms {} is too long: at most {max_ms} ms",
            opts.duration_ms.unwrap_or(0)
        )));
    }
    if opts.robust_duration_ms > max_ms / 20 {
        return Err(LabError::Input(format!(
            "--robust-duration-ms {} is too long: at most {} ms (slow devices run 20 times \
             as long)",
            opts.robust_duration_ms,
            max_ms / 20
        )));
    }
    let presets = ["optane-p4800x", "fcp-16disk"];
    let mut total = 0;
    for name in presets {
        total += Preset::load(name)?.matrix.workloads().len()
            * (POLICIES.len() + ORACLE_THRESHOLDS_NS.len());
    }
    if !opts.skip_robustness {
        total += ROBUST_MEDIANS_NS.len() * 3 * 6 * ROBUST_POLICIES.len();
    }
    // The size of the whole study, refused before anything is allocated.
    let runs = check_runs(
        (total as u64).checked_mul(u64::from(opts.seeds)),
        &format!("this study ({total} points x {} seeds)", opts.seeds),
    )?;
    // Every file the study writes, checked before the first run.
    let names: Vec<String> = presets
        .iter()
        .flat_map(|p| [format!("policies-{p}.csv"), format!("oracle-{p}.csv")])
        .chain(["robustness.csv".to_string()])
        .collect();
    let mut files: Vec<(&str, Kind)> = names.iter().map(|n| (n.as_str(), Kind::Results)).collect();
    files.push(("README.md", Kind::StudyReadme));
    let dir = OutputDir::prepare("--out", &opts.out, &files, &[], opts.force)?;
    let ticker = Ticker::new(runs as usize, "study", progress);
    let results = presets
        .iter()
        .map(|n| study_preset(opts, n, &ticker))
        .collect::<Result<Vec<_>, _>>()?;
    let robust = if opts.skip_robustness {
        Vec::new()
    } else {
        robustness(opts, &ticker)?
    };
    let md = markdown(opts, &results, &robust);
    let path = opts.out.join("README.md");
    dir.file("README.md")?
        .write_with(|w| w.write_all(md.as_bytes()).map_err(LabError::file(&path)))?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_takes_the_cheapest_point_that_reaches_the_iops() {
        let pts = [(0.98, 10.0), (0.995, 20.0), (1.0, 35.0), (1.001, 30.0)];
        assert_eq!(frontier_cpu_at(&pts, 0.99), Some(20.0));
        assert_eq!(frontier_cpu_at(&pts, 1.0), Some(30.0));
        assert_eq!(frontier_cpu_at(&pts, 0.5), Some(10.0));
        assert_eq!(frontier_cpu_at(&pts, 1.01), None);
    }
}
