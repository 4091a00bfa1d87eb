//! The report's index.md: what each picture shows and the commands that
//! redraw it. Everything in it is derived from the runs, so the same
//! arguments give the same file.

use std::io::{self, Write};

use pollwise_core::Workload;

use super::{bs_text, escaped, shell_line};
use crate::compare::{summarize, ComparedPoint};

/// A workload as `randread 8k numjobs=1 iodepth=8 iothreads=2`.
pub fn workload_text(w: &Workload) -> String {
    format!(
        "{} {} numjobs={} iodepth={} iothreads={}",
        w.rw,
        bs_text(w.bs),
        w.numjobs,
        w.iodepth,
        w.iothreads
    )
}

/// What index.md says.
pub struct ReportIndex<'a> {
    /// The preset as given (a name or a file).
    pub preset_arg: &'a str,
    /// The preset's name.
    pub preset_name: &'a str,
    pub seed: u64,
    /// Seeds per sweep point.
    pub seeds: u32,
    /// Simulated time of each sweep and trace run.
    pub duration_ms: u64,
    pub compare_duration_ms: Option<u64>,
    pub compared: &'a [ComparedPoint],
    /// The row the heatmaps show.
    pub workload: &'a Workload,
    /// The row the window plot shows.
    pub trace_workload: &'a Workload,
    /// The heatmaps' row as `--where` flags.
    pub heat_where: String,
    /// Rows of the compare outside the 5% band.
    pub outside_band: usize,
    /// The baseline's label in the sweep (`qemu PARAMS`).
    pub baseline: &'a str,
    /// The window plot's start and span, in ns.
    pub window: (u64, u64),
}

impl ReportIndex<'_> {
    /// Writes index.md.
    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        if self.compared.is_empty() {
            return Ok(());
        }
        self.compare_section(out)?;
        self.sweep_section(out)?;
        self.window_section(out)?;
        self.redraw_section(out)
    }

    /// The title, the command that wrote it, and the proposal against
    /// QEMU's policy.
    fn compare_section<W: Write>(&self, out: &mut W) -> io::Result<()> {
        let s = summarize(self.compared);
        let first = &self.compared[0];
        let (base, cand) = (first.baseline_mean(), first.candidate_mean());
        writeln!(out, "# pollwise report: {}\n", escaped(self.preset_name))?;
        let numbers = [self.seed, u64::from(self.seeds), self.duration_ms].map(|n| n.to_string());
        let mut words = vec!["pollwise", "report", "--preset", self.preset_arg, "--seed"];
        words.extend([
            &numbers[0],
            "--repeat",
            &numbers[1],
            "--duration-ms",
            &numbers[2],
        ]);
        let compare_ms = self.compare_duration_ms.map(|d| d.to_string());
        if let Some(ms) = &compare_ms {
            words.extend(["--compare-duration-ms", ms]);
        }
        writeln!(
            out,
            "Written by `{}`. Everything here is simulated and deterministic: the same command \
             gives the same files.\n",
            shell_line(words)
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
        )
    }

    /// Every setting of the sweep, and QEMU's two knobs as heatmaps.
    fn sweep_section<W: Write>(&self, out: &mut W) -> io::Result<()> {
        writeln!(out, "## Every policy setting over the matrix\n")?;
        writeln!(
            out,
            "QEMU's `poll-max-ns` x `poll-shrink`, the proposal's `poll-weight` and the \
             priced clairvoyant's price of delay (it knows each event's time and kind; a \
             reference curve, not a bound: see the study's frontier), each on \
             every row of the matrix for {} ms with {} seed(s). Each point is one setting: \
             its IOThread CPU and IOPS as a percentage of `{}` on the same row, averaged \
             over rows and seeds. Lines join each policy's non-dominated settings (less CPU \
             and more IOPS); the ringed cross is the baseline at 100/100. Each spot has a \
             number (`x3` where three settings land on it), and the key beside the plot \
             lists every setting by spot.\n",
            self.duration_ms, self.seeds, self.baseline
        )?;
        writeln!(out, "![IOPS against IOThread CPU](pareto.png)\n")?;
        writeln!(
            out,
            "QEMU's two knobs on the row where the candidate loses most IOPS, {} \
             (mean of the seeds in each cell):\n",
            workload_text(self.workload)
        )?;
        writeln!(
            out,
            "![IOThread CPU over poll-max-ns and poll-shrink](heatmap-cpu.png)\n"
        )?;
        writeln!(
            out,
            "![IOPS over poll-max-ns and poll-shrink](heatmap-iops.png)\n"
        )?;
        writeln!(out, "Data: [sweep.csv](sweep.csv).\n")
    }

    /// The window over time.
    fn window_section<W: Write>(&self, out: &mut W) -> io::Result<()> {
        writeln!(out, "## The window over time\n")?;
        writeln!(
            out,
            "Both policies with their default parameters on {}, the row where QEMU's \
             window was reset to 0 most often in the compare, from {:.1} µs for {:.1} µs: \
             QEMU starts the window at 4 µs, doubles it, and drops it to 0 after one long \
             block; the proposal shrinks gradually.\n",
            workload_text(self.trace_workload),
            self.window.0 as f64 / 1e3,
            self.window.1 as f64 / 1e3
        )?;
        writeln!(out, "![Poll window over time](window.png)\n")?;
        writeln!(out, "Data: [trace.csv](trace.csv).\n")
    }

    /// The commands that redraw each picture.
    fn redraw_section<W: Write>(&self, out: &mut W) -> io::Result<()> {
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
        writeln!(out, "```")
    }
}
