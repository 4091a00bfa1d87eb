//! The report: the default compare, a small sweep and three traced runs in
//! simulation, every plot, the CSVs behind them and an index.md that shows
//! them.

use std::io::Write;
use std::path::PathBuf;

use pollwise_core::{Params, PolicyKind, RunRow, TraceRow, Workload};
use pollwise_plots::{CompareOptions, Filter, HeatmapOptions, ParetoOptions, Size, WindowOptions};
use pollwise_sim::batch::check_runs;
use pollwise_sim::sweep::{Shard, SweepSpec};
use pollwise_sim::Preset;

use crate::compare::{compare, summarize, worst, CompareSpec, ComparedPoint};
use crate::output::{preset_input, Kind, OutputDir};
use crate::rows::{write_csv_file, write_trace_file};
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

/// Runs everything and writes the files into `opts.out`; returns the path
/// of index.md.
pub fn report(
    opts: &ReportOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PathBuf, LabError> {
    let args = opts;
    if args.seeds == 0 {
        return Err(LabError::Input("--repeat must be at least 1".into()));
    }
    if args.duration_ms == 0 {
        return Err(LabError::Input("--duration-ms must be at least 1".into()));
    }
    // Durations and the size of the sweep, checked before the first run.
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
    check_runs(
        sweep_points
            .checked_mul(preset.matrix.workloads().len() as u64)
            .and_then(|n| n.checked_mul(u64::from(args.seeds))),
        &format!(
            "this report's sweep ({sweep_points} settings x the matrix x {} seeds)",
            args.seeds
        ),
    )?;
    // Every file the report writes, checked before the first run.
    let dir = OutputDir::prepare(
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
    )?;
    let out = |name: &str| args.out.join(name);
    let size = Size::default();

    progress(Progress::Step(&format!(
        "report [1/4]: compare, weighted against qemu over the {} matrix",
        args.preset
    )));
    let compared = run_compare(&preset, args, progress)?;
    dir.file("compare.csv")?
        .write_with(|w| crate::compare::write_csv(w, &compared, false))?;
    let runs: Vec<RunRow> = compared
        .iter()
        .flat_map(|r| [r.baseline_mean(), r.candidate_mean()])
        .collect();
    write_csv_file(&out("compare-runs.csv"), &runs)?;
    // The sweep and the traces look at the row where the candidate loses
    // the most IOPS: that is where a policy choice matters.
    let worst = worst(&compared)
        .ok_or_else(|| LabError::Input("the preset's matrix has no rows".into()))?;

    let matrix: Vec<Workload> = compared
        .iter()
        .map(|r| Workload {
            duration_ms: args.duration_ms,
            ..r.workload.clone()
        })
        .collect();
    let workload = Workload {
        duration_ms: args.duration_ms,
        ..worst.workload.clone()
    };
    progress(Progress::Step(&format!(
        "report [2/4]: sweep over the {} rows of the matrix, {} ms per run",
        matrix.len(),
        args.duration_ms
    )));
    let sweep = run_sweep(&preset, &matrix, args, progress)?;
    write_csv_file(&out("sweep.csv"), &sweep)?;

    // The traces show the row where QEMU's window resets most often: the
    // behaviour the proposal changes.
    let resets = |r: &ComparedPoint| r.baseline_mean().abrupt_resets;
    let trace_workload = match compared.iter().max_by_key(|r| resets(r)) {
        Some(r) if resets(r) > 0 => Workload {
            duration_ms: args.duration_ms,
            ..r.workload.clone()
        },
        _ => workload.clone(),
    };
    progress(Progress::Step(&format!(
        "report [3/4]: window traces of qemu, weighted and pollwise on {}",
        describe(&trace_workload)
    )));
    let trace = run_traces(&preset, &trace_workload, args.seed)?;
    write_trace_file(&out("trace.csv"), &trace)?;

    progress(Progress::Step("report [4/4]: plots"));
    let cmp = dir.file("compare.png")?.write_path(|png| {
        pollwise_plots::plot_compare(&out("compare.csv"), png, size, &CompareOptions::default())
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
        pollwise_plots::plot_pareto(&out("sweep.csv"), png, size, &pareto).map_err(LabError::from)
    })?;
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
            pollwise_plots::plot_heatmap(&out("sweep.csv"), png, size, &heat)
                .map_err(LabError::from)
        })?;
    }
    let (start_ns, span_ns) = window_span(&trace);
    let window = WindowOptions {
        start_ns: Some(start_ns),
        span_ns: Some(span_ns),
        ..WindowOptions::default()
    };
    dir.file("window.png")?.write_path(|png| {
        pollwise_plots::plot_window(&out("trace.csv"), png, size, &window).map_err(LabError::from)
    })?;

    let index = Index {
        args,
        preset: &preset,
        compared: &compared,
        workload: &workload,
        trace_workload: &trace_workload,
        heat_where: heat_filters
            .iter()
            .skip(1)
            .map(|f| format!("--where {f}"))
            .collect::<Vec<_>>()
            .join(" "),
        outside_band: cmp.outside_band,
        baseline: &baseline,
        window: (start_ns, span_ns),
    };
    let path = out("index.md");
    dir.file("index.md")?
        .write_with(|mut w| index.write(&mut w).map_err(LabError::file(&path)))?;
    Ok(path)
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
    let ticker = Ticker::new(total, "sweep", progress);
    let mut rows = Vec::with_capacity(total);
    for spec in &specs {
        rows.extend(spec.run(preset, Shard::WHOLE, &|| ticker.tick())?);
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

fn describe(w: &Workload) -> String {
    let bs = if w.bs.is_multiple_of(1024) {
        format!("{}k", w.bs / 1024)
    } else {
        w.bs.to_string()
    };
    format!(
        "{} {bs} numjobs={} iodepth={} iothreads={}",
        w.rw, w.numjobs, w.iodepth, w.iothreads
    )
}

/// What index.md says; everything in it is derived from the runs, so the
/// same arguments give the same file.
struct Index<'a> {
    args: &'a ReportOptions,
    preset: &'a Preset,
    compared: &'a [ComparedPoint],
    workload: &'a Workload,
    trace_workload: &'a Workload,
    /// The heatmaps' row as `--where` flags.
    heat_where: String,
    outside_band: usize,
    baseline: &'a str,
    window: (u64, u64),
}

impl Index<'_> {
    fn write<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        let a = self.args;
        let s = summarize(self.compared);
        let Some(first) = self.compared.first() else {
            return Ok(());
        };
        let (base, cand) = (first.baseline_mean(), first.candidate_mean());
        let wl = describe(self.workload);
        writeln!(out, "# pollwise report: {}\n", self.preset.name)?;
        writeln!(
            out,
            "Written by `pollwise report --preset {} --seed {} --repeat {} --duration-ms {}{}`. \
             Everything here is simulated and deterministic: the same command gives the \
             same files.\n",
            a.preset,
            a.seed,
            a.seeds,
            a.duration_ms,
            a.compare_duration_ms
                .map_or(String::new(), |d| format!(" --compare-duration-ms {d}"))
        )?;
        writeln!(out, "## The proposal against QEMU's policy\n")?;
        writeln!(
            out,
            "Candidate `{} {}` against baseline `{} {}` over the preset's whole matrix \
             ({} rows, {} ms each). Worst IOPS change {:+.2}%, mean {:+.2}%; mean IOThread \
             CPU change {:+.1}% ({:+.1} points of a core). {} of {} rows lose more than 5% \
             IOPS, the bar for changing QEMU's default.\n",
            cand.policy,
            cand.params,
            base.policy,
            base.params,
            self.compared.len(),
            base.duration_ms,
            s.worst_iops_diff_pct,
            s.mean_iops_diff_pct,
            s.mean_cpu_diff_pct,
            s.mean_cpu_diff_points,
            self.outside_band,
            self.compared.len()
        )?;
        writeln!(out, "![IOPS and CPU difference per row](compare.png)\n")?;
        writeln!(
            out,
            "Data: [compare.csv](compare.csv) (one row per matrix row), \
             [compare-runs.csv](compare-runs.csv) (both policies' runs).\n"
        )?;
        writeln!(out, "## Every policy setting over the matrix\n")?;
        writeln!(
            out,
            "QEMU's `poll-max-ns` x `poll-shrink`, the proposal's `poll-weight` and the \
             priced clairvoyant's price of delay (it knows each event's time and kind; a \
             reference curve, not a bound: see the study's frontier), each on \
             every row of the matrix for {} ms with {} seed(s). Each point is one setting: \
             its IOThread CPU and IOPS as a percentage of `{}` on the same row, averaged \
             over rows and seeds. Lines join each policy's non-dominated settings (less CPU \
             and more IOPS); the ringed cross is the baseline at 100/100.\n",
            a.duration_ms, a.seeds, self.baseline
        )?;
        writeln!(out, "![IOPS against IOThread CPU](pareto.png)\n")?;
        writeln!(
            out,
            "QEMU's two knobs on the row where the candidate loses most IOPS, {wl} \
             (mean of the seeds in each cell):\n"
        )?;
        writeln!(
            out,
            "![IOThread CPU over poll-max-ns and poll-shrink](heatmap-cpu.png)\n"
        )?;
        writeln!(
            out,
            "![IOPS over poll-max-ns and poll-shrink](heatmap-iops.png)\n"
        )?;
        writeln!(out, "Data: [sweep.csv](sweep.csv).\n")?;
        writeln!(out, "## The window over time\n")?;
        writeln!(
            out,
            "Both policies with their default parameters on {}, the row where QEMU's \
             window was reset to 0 most often in the compare, from {:.1} µs for {:.1} µs: \
             QEMU starts the window at 4 µs, doubles it, and drops it to 0 after one long \
             block; the proposal shrinks gradually.\n",
            describe(self.trace_workload),
            self.window.0 as f64 / 1e3,
            self.window.1 as f64 / 1e3
        )?;
        writeln!(out, "![Poll window over time](window.png)\n")?;
        writeln!(out, "Data: [trace.csv](trace.csv).\n")?;
        writeln!(out, "## Redraw or zoom\n")?;
        writeln!(out, "```sh")?;
        writeln!(
            out,
            "pollwise plot compare --input compare.csv --out compare.png"
        )?;
        writeln!(
            out,
            "pollwise plot pareto --input sweep.csv --out pareto.png --normalize baseline \
             --baseline '{}'",
            self.baseline
        )?;
        writeln!(
            out,
            "pollwise plot heatmap --input sweep.csv --where policy=qemu {} --x poll-max-ns \
             --y poll-shrink --metric iothread_cpu_pct --out heatmap-cpu.png",
            self.heat_where
        )?;
        writeln!(
            out,
            "pollwise plot window --trace trace.csv --out window.png --start-us {} --span-us {}",
            self.window.0 as f64 / 1e3,
            self.window.1 as f64 / 1e3
        )?;
        writeln!(out, "```")?;
        Ok(())
    }
}
