//! The commands of the `pollwise` binary as plain specs and functions: the
//! binary maps its flags onto these specs, calls one function, and prints
//! what it returns. Checks of flag combinations, files and the order of
//! the work live here; the terminal (notes, progress, stop signals' exit
//! codes) stays with the caller through [`Ui`].

pub mod bench;
pub mod compare;
mod compared;
mod error;
pub mod import;
pub mod merge;
pub mod plot;
pub mod policy;
pub mod preset;
pub mod qemu;
pub mod real;
pub mod realdev;
pub mod sim;
pub mod study;
pub mod sweep;
pub mod target;
pub mod tune;
pub mod validate;
pub mod workload;

pub use error::{fail, guarded, CmdError, Context, DEVICE_STOPPED};

use crate::{Output, Progress};

/// A command's result.
pub type Result<T> = std::result::Result<T, CmdError>;

/// What a command tells the user besides its result: one-line notes
/// (deprecations, warnings) and the progress of long work.
pub trait Ui: Sync {
    /// A line for the user (the terminal prints it on stderr).
    fn note(&self, line: &str);
    /// Long work's progress.
    fn progress(&self, p: Progress);
}

/// A [`Ui`] that drops everything (for tests and embedding).
pub struct Quiet;

impl Ui for Quiet {
    fn note(&self, _: &str) {}
    fn progress(&self, _: Progress) {}
}

/// How often [`Pace`] prints a line.
pub const PACE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Long work's progress as plain lines, for a log or a pipe (where a bar
/// would be noise): one every [`PACE_EVERY`], and one at the end.
pub struct Pace {
    start: std::time::Instant,
    last: std::time::Instant,
}

impl Pace {
    pub fn new(now: std::time::Instant) -> Pace {
        Pace {
            start: now,
            last: now,
        }
    }

    /// The line to print at `now` for `p`, if one is due.
    pub fn line(&mut self, now: std::time::Instant, p: Progress) -> Option<String> {
        let (done, total, _) = runs_of(p)?;
        if done < total && now.duration_since(self.last) < PACE_EVERY {
            return None;
        }
        self.last = now;
        runs_line(p, now.duration_since(self.start))
    }
}

/// `p`'s runs: done, total and what they are (None for a step).
pub fn runs_of<'a>(p: Progress<'a>) -> Option<(usize, usize, &'a str)> {
    match p {
        Progress::Step(_) => None,
        Progress::Run { done, total, what }
        | Progress::Timed {
            done, total, what, ..
        } => Some((done, total, what)),
    }
}

/// "what: n/N runs, t s, ETA e s" for `p`, `elapsed` after the stage's
/// first report (for [`Progress::Run`], whose runs cost about the same:
/// its ETA comes from the run counts).
pub fn runs_line(p: Progress, elapsed: std::time::Duration) -> Option<String> {
    let (done, total, what, secs, eta) = match p {
        Progress::Step(_) => return None,
        Progress::Run { done, total, what } => {
            let t = elapsed.as_secs_f64();
            let eta = crate::eta_secs(t, done as f64, total.saturating_sub(done) as f64);
            (done, total, what, t as u64, eta)
        }
        Progress::Timed {
            done,
            total,
            what,
            secs,
            eta,
        } => (done, total, what, secs, eta),
    };
    let eta = eta.map_or("?".to_string(), |e| e.to_string());
    Some(format!(
        "{what}: {done}/{total} runs, {secs} s, ETA {eta} s"
    ))
}

/// A note in the one form every command uses for a deprecated spelling.
pub fn deprecated(ui: &dyn Ui, old: &str, new: &str) {
    ui.note(&format!(
        "note: {old} is deprecated and will be removed in the next release; write {new}"
    ));
}

/// The `--repeat` count, or the deprecated `--seeds` (with its note), or
/// `default`; at least 1.
pub fn repeat_of(
    ui: &dyn Ui,
    repeat: Option<u32>,
    seeds: Option<u32>,
    default: u32,
) -> Result<u32> {
    if let Some(n) = seeds {
        deprecated(ui, &format!("--seeds {n}"), &format!("--repeat {n}"));
    }
    let n = repeat.or(seeds).unwrap_or(default);
    if n == 0 {
        return fail("--repeat 0: give at least 1 (runs per point and policy)");
    }
    Ok(n)
}

/// Threads per CPU `--threads` may ask for: runs are CPU-bound, so more
/// only adds switching (and thousands of threads load the machine).
pub const THREADS_PER_CPU: usize = 4;

/// `n` threads capped at [`THREADS_PER_CPU`] per CPU, with a note saying
/// so when capped.
pub fn cap_threads(n: usize, cpus: usize) -> (usize, Option<String>) {
    let most = cpus.max(1).saturating_mul(THREADS_PER_CPU);
    if n <= most {
        return (n, None);
    }
    let note = format!(
        "note: --threads {n} capped at {most} ({THREADS_PER_CPU} per CPU, {cpus} CPUs): the runs \
         are CPU-bound and more threads only add switching"
    );
    (most, Some(note))
}

/// A single run's `--trace` and `--waits`: each a file of its own, and
/// neither standard output, which carries the run's result (the CSVs
/// would be mixed into it and into each other).
pub fn run_outputs_apart(trace: &Option<Output>, waits: &Option<Output>) -> Result<()> {
    for (flag, out) in [("--trace", trace), ("--waits", waits)] {
        if out.as_ref().is_some_and(Output::is_stdout) {
            return fail(format!(
                "{flag} -: standard output carries the run's result; give {flag} a file name"
            ));
        }
    }
    if let (Some(t), Some(w)) = (trace, waits) {
        if t.same_destination(w) {
            return fail(format!(
                "--trace {} and --waits {} are the same file: give each its own file",
                t.path().display(),
                w.path().display()
            ));
        }
    }
    Ok(())
}

/// A run set's work, refused past [`pollwise_sim::batch::MAX_EVENTS`]
/// before anything runs (`events`: the sum of `run_events` over the runs;
/// `lower`: the flags that would make it smaller), and a note when
/// `--threads` asks for more threads than there are runs: the pool is
/// sized to the run set.
pub fn bound_work(
    note: &dyn Fn(&str),
    runs: u64,
    events: f64,
    what: &str,
    lower: &str,
) -> Result<()> {
    use pollwise_sim::batch::{check_events, threads_asked};
    check_events(events, runs, what, lower)?;
    let asked = threads_asked();
    if asked > 0 && (asked as u64) > runs {
        note(&format!(
            "note: --threads {asked} capped at {runs}, one per run of {what}"
        ));
    }
    Ok(())
}

/// The thread count of a command that simulates: its `--threads`, or the
/// deprecated one given before the command (with its note); not both; at
/// least 1; capped by [`cap_threads`]; what every run set's pool is sized
/// from ([`bound_work`] notes when a run set is smaller).
pub fn threads(ui: &dyn Ui, before: Option<usize>, after: Option<usize>) -> Result<Option<usize>> {
    let given = given_threads(ui, before, after)?;
    if given == Some(0) {
        return fail("--threads 0: give at least 1 (or leave it out for one per CPU)");
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let capped = given.map(|n| {
        let (n, note) = cap_threads(n, cpus);
        if let Some(note) = note {
            ui.note(&note);
        }
        n
    });
    // Each run set sizes its own pool, never above its runs.
    pollwise_sim::batch::set_threads(capped.unwrap_or(0));
    Ok(capped)
}

fn given_threads(
    ui: &dyn Ui,
    before: Option<usize>,
    after: Option<usize>,
) -> Result<Option<usize>> {
    let Some(n) = before else {
        return Ok(after);
    };
    if after.is_some() {
        return fail("--threads is given twice: keep the one after the command");
    }
    deprecated(
        ui,
        &format!("`pollwise --threads {n} COMMAND`"),
        &format!("`pollwise COMMAND --threads {n}`"),
    );
    Ok(Some(n))
}

/// Whether an error in a chain is a closed pipe (a reader such as `head`
/// stopped reading): not a failure.
pub fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    let io = cause.downcast_ref::<std::io::Error>();
    io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        || cause
            .downcast_ref::<CmdError>()
            .is_some_and(CmdError::is_broken_pipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_prints_every_few_seconds_and_at_the_end() {
        let t0 = std::time::Instant::now();
        let mut pace = Pace::new(t0);
        let at = |s: u64| t0 + std::time::Duration::from_secs(s);
        let run = |done| Progress::Run {
            done,
            total: 9,
            what: "sweep",
        };
        assert_eq!(pace.line(at(1), run(1)), None);
        assert_eq!(
            pace.line(at(6), run(2)).as_deref(),
            Some("sweep: 2/9 runs, 6 s, ETA 21 s")
        );
        assert_eq!(pace.line(at(8), run(3)), None);
        assert!(pace.line(at(11), run(4)).is_some());
        let timed = Progress::Timed {
            done: 5,
            total: 9,
            what: "sweep",
            secs: 11,
            eta: Some(3),
        };
        assert_eq!(
            pace.line(at(17), timed).as_deref(),
            Some("sweep: 5/9 runs, 11 s, ETA 3 s")
        );
        assert_eq!(
            pace.line(at(18), run(9)).as_deref(),
            Some("sweep: 9/9 runs, 18 s, ETA 0 s")
        );
    }

    #[test]
    fn threads_are_capped_at_a_few_per_cpu_with_a_note() {
        assert_eq!(cap_threads(8, 2), (8, None));
        let (n, note) = cap_threads(100_000, 2);
        assert_eq!(n, 8);
        assert!(note.unwrap().contains("--threads 100000 capped at 8"));
        assert_eq!(cap_threads(0, 2), (0, None));
    }
}
