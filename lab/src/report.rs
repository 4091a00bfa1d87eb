//! The report: the default compare, a small sweep and three traced runs in
//! simulation, every plot, the CSVs behind them and an index.md that shows
//! them.

use std::path::PathBuf;

use pollwise_core::{Params, PolicyKind, RunRow, TraceRow, Workload};
use pollwise_plots::{
    CompareOptions, Filter, HeatmapOptions, ParetoOptions, Size, Table, WindowOptions,
};
use pollwise_sim::batch::{check_events, check_runs, run_events};
use pollwise_sim::sweep::{Shard, SweepSpec};
use pollwise_sim::Preset;

use crate::compare::{compare, worst, CompareSpec, ComparedPoint};
use crate::formats::output::{preset_input, Kind, OutputDir};
use crate::formats::rows::{write_csv_file, write_trace_file};
use crate::text::{workload_text, ReportIndex};
use crate::{LabError, Matrix, Progress, SimBackend, Ticker};

/// What `report` runs and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Embedded preset name or a TOML file.
    pub preset: String,
    /// Directory to write into (created if missing; files in it are replaced).
    pub out: PathBuf,
    /// Seeds per sweep point, averaged in the heatmaps.
    pub seeds: u32,
    pub seed: u64,
    /// Simulated time of each sweep and trace run, in ms.
    pub duration_ms: u64,
    /// Simulated time of each compare run [default: the preset's].
    pub compare_duration_ms: Option<u64>,
    /// Replace files in `out` that the report did not write.
    pub force: bool,
}

/// The sweep: QEMU's two knobs, the proposal's weight, our policy's cost of
/// blocking and the priced clairvoyant's price of delay. (`off` is left out: it sits so far from
/// the others that they would crowd into one corner of the picture.)
fn sweep_specs() -> Vec<(PolicyKind, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            PolicyKind::Qemu,
            vec![
                ("poll-max-ns", "4096,8192,16384,32768,65536"),
                ("poll-shrink", "0,2,4"),
            ],
        ),
        (PolicyKind::Weighted, vec![("poll-weight", "1,2,3,4")]),
        (
            PolicyKind::Pollwise,
            vec![("poll-block-cost-ns", "8000,16000,24000,32768")],
        ),
        (
            PolicyKind::Clairvoyant,
            vec![("delay-price-milli", "250,1000,4000")],
        ),
    ]
}

/// How many window changes of each run the window plot shows: enough for
/// several of QEMU's grow-and-reset cycles, few enough to see each step.
const WINDOW_STEPS: usize = 300;

/// Checks the options and the size of the sweep before the first run;
/// returns the preset.
fn check(args: &ReportOptions) -> Result<Preset, LabError> {
    if args.seeds == 0 {
        return Err(LabError::Input("--repeat must be at least 1".into()));
    }
    // Seeds --seed .. --seed + repeat - 1, checked before the first run.
    if args.seed.checked_add(u64::from(args.seeds) - 1).is_none() {
        return Err(LabError::Input(format!(
            "--seed {} with --repeat {} runs past the largest seed, {}: use a smaller --seed",
            args.seed,
            args.seeds,
            u64::MAX
        )));
    }
    if args.duration_ms == 0 || args.compare_duration_ms == Some(0) {
        let flag = if args.duration_ms == 0 {
            "--duration-ms"
        } else {
            "--compare-duration-ms"
        };
        return Err(LabError::Input(format!("{flag} must be at least 1")));
    }
    let max_ms = pollwise_sim::LIMITS.duration_ms.1;
    for (flag, ms) in [
        ("--duration-ms", Some(args.duration_ms)),
        ("--compare-duration-ms", args.compare_duration_ms),
    ] {
        if let Some(ms) = ms.filter(|&ms| ms > max_ms) {
            return Err(LabError::Input(format!(
                "{flag} {ms} is too long: at most {max_ms} ms"
            )));
        }
    }
    let preset = Preset::load(&args.preset)?;
    let sweep_points: u64 = sweep_specs()
        .iter()
        .map(|(_, axes)| {
            axes.iter()
                .map(|(_, v)| v.split(',').count() as u64)
                .product::<u64>()
        })
        .sum();
    let runs = check_runs(
        sweep_points
            .checked_mul(preset.matrix.workloads().len() as u64)
            .and_then(|n| n.checked_mul(u64::from(args.seeds))),
        &format!(
            "this report's sweep ({sweep_points} settings x the matrix x {} seeds)",
            args.seeds
        ),
    )?;
    check_work(args, &preset, sweep_points, runs)?;
    Ok(preset)
}

/// The report's work (the compare, the sweep and three traces, each at
/// most the sweep's run time on the busiest row), refused before the first
/// run when it is too large.
fn check_work(
    args: &ReportOptions,
    preset: &Preset,
    sweep_points: u64,
    sweep_runs: u64,
) -> Result<(), LabError> {
    let matrix = preset.matrix.workloads();
    let events_at = |ms: u64| -> Vec<f64> {
        let at = |w: &Workload| Workload {
            duration_ms: ms,
            ..w.clone()
        };
        matrix.iter().map(|w| run_events(preset, &at(w))).collect()
    };
    let compare_ms = args
        .compare_duration_ms
        .unwrap_or(preset.matrix.duration_ms);
    let compare: f64 = events_at(compare_ms).iter().sum::<f64>() * 2.0;
    let sweep = events_at(args.duration_ms);
    let busiest = sweep.iter().copied().fold(0.0, f64::max);
    let sweep_events = sweep.iter().sum::<f64>() * (sweep_points * u64::from(args.seeds)) as f64;
    let runs = sweep_runs + 2 * matrix.len() as u64 + 3;
    check_events(
        compare + sweep_events + 3.0 * busiest,
        runs,
        &format!("this report ({runs} runs)"),
        "--repeat, --duration-ms or --compare-duration-ms",
    )?;
    Ok(())
}

/// Every file the report writes, checked before the first run.
fn prepare(args: &ReportOptions) -> Result<OutputDir, LabError> {
    OutputDir::prepare(
        "--out",
        &args.out,
        &[
            ("compare.csv", Kind::Compare),
            ("compare-runs.csv", Kind::Results),
            ("sweep.csv", Kind::Results),
            ("trace.csv", Kind::Trace),
            ("compare.png", Kind::Picture),
            ("pareto.png", Kind::Picture),
            ("heatmap-cpu.png", Kind::Picture),
            ("heatmap-iops.png", Kind::Picture),
            ("window.png", Kind::Picture),
            ("index.md", Kind::ReportIndex),
        ],
        &preset_input(&args.preset),
        args.force,
    )
}

/// `w` with the sweep's and the traces' run time.
fn shortened(args: &ReportOptions, w: &Workload) -> Workload {
    Workload {
        duration_ms: args.duration_ms,
        ..w.clone()
    }
}

/// Runs everything and writes the files into `opts.out`; returns the path
/// of index.md.
pub fn report(
    opts: &ReportOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PathBuf, LabError> {
    let args = opts;
    let preset = check(args)?;
    let dir = prepare(args)?;
    let out = |name: &str| args.out.join(name);

    progress(Progress::Step(&format!(
        "report [1/4]: compare, weighted against qemu over the {} matrix",
        args.preset
    )));
    let compared = run_compare(&preset, args, progress)?;
    // The sweep and the traces look at the row where the candidate loses
    // the most IOPS: that is where a policy choice matters.
    let worst = worst(&compared)
        .ok_or_else(|| LabError::Input("the preset's matrix has no rows".into()))?;
    let matrix: Vec<Workload> = compared
        .iter()
        .map(|r| shortened(args, &r.workload))
        .collect();
    let workload = shortened(args, &worst.workload);
    progress(Progress::Step(&format!(
        "report [2/4]: sweep over the {} rows of the matrix, {} ms per run",
        matrix.len(),
        args.duration_ms
    )));
    let sweep = run_sweep(&preset, &matrix, args, progress)?;

    // The traces show the row where QEMU's window resets most often: the
    // behaviour the proposal changes.
    let resets = |r: &ComparedPoint| r.baseline_mean().abrupt_resets;
    let trace_workload = match compared.iter().max_by_key(|r| resets(r)) {
        Some(r) if resets(r) > Some(0) => shortened(args, &r.workload),
        _ => workload.clone(),
    };
    progress(Progress::Step(&format!(
        "report [3/4]: window traces of qemu, weighted and pollwise on {}",
        workload_text(&trace_workload)
    )));
    let trace = run_traces(&preset, &trace_workload, args.seed)?;

    // Every file is written only now, in a second or so: a run stopped
    // while it simulates leaves an earlier report in the directory whole.
    dir.file("compare.csv")?
        .write_with(|w| crate::compare::write_csv(w, &compared, false))?;
    let runs: Vec<RunRow> = compared
        .iter()
        .flat_map(|r| [r.baseline_mean(), r.candidate_mean()])
        .collect();
    write_csv_file(&out("compare-runs.csv"), &runs)?;
    write_csv_file(&out("sweep.csv"), &sweep)?;
    write_trace_file(&out("trace.csv"), &trace)?;

    progress(Progress::Step("report [4/4]: plots"));
    let drawn = plots(&dir, args, &preset, &workload, &trace)?;
    let index = ReportIndex {
        preset_arg: &args.preset,
        preset_name: &preset.name,
        seed: args.seed,
        seeds: args.seeds,
        duration_ms: args.duration_ms,
        compare_duration_ms: args.compare_duration_ms,
        compared: &compared,
        workload: &workload,
        trace_workload: &trace_workload,
        heat_where: drawn.heat_where,
        outside_band: drawn.outside_band,
        baseline: &drawn.baseline,
        window: drawn.window,
    };
    let path = out("index.md");
    dir.file("index.md")?
        .write_with(|mut w| index.write(&mut w).map_err(LabError::file(&path)))?;
    Ok(path)
}

/// What the plots tell index.md.
struct Drawn {
    outside_band: usize,
    baseline: String,
    /// The heatmaps' row as `--where` flags.
    heat_where: String,
    window: (u64, u64),
}

/// Draws every picture from the CSVs written before.
fn plots(
    dir: &OutputDir,
    args: &ReportOptions,
    preset: &Preset,
    workload: &Workload,
    trace: &[TraceRow],
) -> Result<Drawn, LabError> {
    let out = |name: &str| args.out.join(name);
    let size = Size::default();
    let cmp = dir.file("compare.png")?.write_path(|png| {
        pollwise_plots::plot_compare(
            Table::read(&out("compare.csv"))?,
            png,
            size,
            &CompareOptions::default(),
        )
        .map_err(LabError::from)
    })?;
    let baseline = format!("qemu {}", Params::defaults(PolicyKind::Qemu));
    let pareto = ParetoOptions {
        baseline: baseline.clone(),
        normalize: true,
        title: Some(format!(
            "IOPS against IOThread CPU over the {} matrix, relative to QEMU's defaults",
            preset.name
        )),
        ..ParetoOptions::default()
    };
    dir.file("pareto.png")?.write_path(|png| {
        let table = Table::read(&out("sweep.csv"))?;
        pollwise_plots::plot_pareto(table, png, size, &pareto).map_err(LabError::from)
    })?;
    let heat_filters = heatmaps(dir, args, workload)?;
    let (start_ns, span_ns) = window_span(trace);
    let window = WindowOptions {
        start_ns: Some(start_ns),
        span_ns: Some(span_ns),
        ..WindowOptions::default()
    };
    dir.file("window.png")?.write_path(|png| {
        let table = Table::read(&out("trace.csv"))?;
        pollwise_plots::plot_window(table, png, size, &window).map_err(LabError::from)
    })?;
    Ok(Drawn {
        outside_band: cmp.outside_band,
        baseline,
        heat_where: heat_filters
            .iter()
            .skip(1)
            .map(|f| format!("--where {f}"))
            .collect::<Vec<_>>()
            .join(" "),
        window: (start_ns, span_ns),
    })
}

/// QEMU's two knobs on `workload`, for IOThread CPU and for IOPS; returns
/// the filters that pick the row.
fn heatmaps(
    dir: &OutputDir,
    args: &ReportOptions,
    workload: &Workload,
) -> Result<Vec<Filter>, LabError> {
    let heat_filters: Vec<Filter> = [
        ("policy", "qemu".to_string()),
        ("rw", workload.rw.name().to_string()),
        ("bs", workload.bs.to_string()),
        ("numjobs", workload.numjobs.to_string()),
        ("iothreads", workload.iothreads.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| Filter {
        name: name.to_string(),
        value,
    })
    .collect();
    for (metric, file) in [
        ("iothread_cpu_pct", "heatmap-cpu.png"),
        ("iops", "heatmap-iops.png"),
    ] {
        let heat = HeatmapOptions {
            x: "poll-max-ns".into(),
            y: "poll-shrink".into(),
            metric: metric.into(),
            filters: heat_filters.clone(),
            title: None,
        };
        dir.file(file)?.write_path(|png| {
            let table = Table::read(&args.out.join("sweep.csv"))?;
            pollwise_plots::plot_heatmap(table, png, Size::default(), &heat).map_err(LabError::from)
        })?;
    }
    Ok(heat_filters)
}

/// QEMU's policy against the proposal, both at their defaults, over the
/// preset's whole matrix with one seed.
fn run_compare(
    preset: &Preset,
    args: &ReportOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<ComparedPoint>, LabError> {
    let mut matrix = Matrix::of_preset(&preset.matrix);
    if let Some(ms) = args.compare_duration_ms {
        matrix.duration_ms = ms;
    }
    let spec = CompareSpec {
        workloads: matrix.workloads(&pollwise_sim::LIMITS)?,
        baseline: Params::defaults(PolicyKind::Qemu),
        candidate: Params::defaults(PolicyKind::Weighted),
        variants: [None, None],
        seed: args.seed,
        repeats: 1,
    };
    let backend = SimBackend {
        preset: preset.clone(),
    };
    compare(&backend, &spec, progress)
}

fn run_sweep(
    preset: &Preset,
    matrix: &[Workload],
    args: &ReportOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<RunRow>, LabError> {
    let specs: Vec<SweepSpec> = sweep_specs()
        .into_iter()
        .map(|(kind, axes)| SweepSpec {
            kind,
            fixed: Vec::new(),
            axes: axes
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.split(',').map(str::to_string).collect()))
                .collect(),
            workloads: matrix.to_vec(),
            seed: args.seed,
            seeds: args.seeds,
        })
        .collect();
    let total = specs.iter().map(SweepSpec::len).sum::<Result<usize, _>>()?;
    let mut events = 0.0;
    for spec in &specs {
        events += spec.events(preset, Shard::WHOLE)?;
    }
    let ticker = Ticker::new(total, events, "sweep", progress);
    let mut rows = Vec::with_capacity(total);
    for spec in &specs {
        rows.extend(spec.run(preset, Shard::WHOLE, &|run| ticker.tick(run))?);
    }
    Ok(rows)
}

fn run_traces(preset: &Preset, workload: &Workload, seed: u64) -> Result<Vec<TraceRow>, LabError> {
    let mut all = Vec::new();
    for kind in [PolicyKind::Qemu, PolicyKind::Weighted, PolicyKind::Pollwise] {
        let (_, trace) =
            pollwise_sim::simulate_traced(preset, workload, &Params::defaults(kind), seed)?;
        all.extend(trace);
    }
    Ok(all)
}

/// The time range the window plot shows: from the first traced change, as
/// long as the run with the fewest changes needs for `WINDOW_STEPS` of them.
fn window_span(trace: &[TraceRow]) -> (u64, u64) {
    let start = trace.iter().map(|t| t.time_ns).min().unwrap_or(0);
    let mut runs: Vec<(&str, u32, Vec<u64>)> = Vec::new();
    for t in trace {
        match runs
            .iter_mut()
            .find(|r| r.0 == t.policy && r.1 == t.iothread)
        {
            Some(r) => r.2.push(t.time_ns),
            None => runs.push((&t.policy, t.iothread, vec![t.time_ns])),
        }
    }
    // Runs whose window barely changes would shrink the view to nothing;
    // the busiest runs set it.
    let span = runs
        .iter_mut()
        .filter(|r| r.2.len() >= WINDOW_STEPS)
        .map(|r| {
            r.2.sort_unstable();
            r.2[WINDOW_STEPS - 1].saturating_sub(start)
        })
        .min();
    let whole = trace.iter().map(|t| t.time_ns).max().unwrap_or(0) - start;
    (start, span.unwrap_or(whole).max(1))
}
