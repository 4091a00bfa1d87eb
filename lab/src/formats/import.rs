//! What other tools measured, read back: the IOThread's CPU from `sar -P
//! CPU` output (the CPU the IOThread is pinned to) or `pidstat -t` output
//! (its TID), and QEMU's `log` trace backend output as window-trace rows
//! ([`TraceRow`]). fio's own JSON is read by [`crate::formats::fio`].
//!
//! ```text
//! pub fn sar_busy_pct(text: &str, origin: &str, cpu: u32) -> Result<f64, LabError>
//! pub fn pidstat_cpu_pct(text: &str, origin: &str, tid: u32) -> Result<f64, LabError>
//! pub fn parse_qemu_trace(text: &str, poll_max_ns: u64) -> Result<QemuTrace, LabError>
//! pub struct QemuTrace { pub rows: Vec<TraceRow>, pub skipped: usize, pub events: usize }
//! pub const REORDER_WINDOW_NS: u64
//! ```

use std::collections::HashMap;

use pollwise_core::TraceRow;

use crate::LabError;

fn bad(origin: &str, msg: impl std::fmt::Display) -> LabError {
    LabError::Input(format!("{origin}: {msg}"))
}

/// Columns of sar and pidstat reports by header name. A line starts with
/// its time (one token, or two with AM/PM, as many as the header has
/// before `first`) or with `Average:` (one token); fields after that align
/// with the header from the left, so a last column with spaces (pidstat's
/// Command) does not matter.
struct Report<'a> {
    cols: Vec<&'a str>,
    /// Tokens before the first data column in the header.
    prefix: usize,
}

impl<'a> Report<'a> {
    fn new(header: &'a str, first: &str) -> Option<Report<'a>> {
        let cols: Vec<&str> = header.split_whitespace().collect();
        let prefix = cols.iter().position(|c| *c == first)?;
        Some(Report { cols, prefix })
    }

    fn get<'l>(&self, line: &'l str, name: &str) -> Option<&'l str> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let prefix = if line.starts_with("Average:") {
            1
        } else {
            self.prefix
        };
        let i = self.cols.iter().position(|c| *c == name)?;
        f.get(i - self.prefix + prefix).copied()
    }
}

fn number(v: Option<&str>) -> Option<f64> {
    v.and_then(|v| v.replace(',', ".").parse().ok())
}

/// The busy share of the CPU in `sar -u -P CPU` output: 100 - %idle of its
/// `Average:` line for that CPU (the IOThread pinned alone to it).
pub fn sar_busy_pct(text: &str, origin: &str, cpu: u32) -> Result<f64, LabError> {
    let report = text
        .lines()
        .find(|l| l.contains("%idle"))
        .and_then(|h| Report::new(h, "CPU"))
        .ok_or_else(|| {
            bad(
                origin,
                "no sar header with CPU and %idle (use sar -u -P CPU)",
            )
        })?;
    let want = cpu.to_string();
    for line in text.lines().filter(|l| l.starts_with("Average:")) {
        if report.get(line, "CPU") != Some(want.as_str()) {
            continue;
        }
        let idle = number(report.get(line, "%idle"))
            .ok_or_else(|| bad(origin, format!("malformed Average line: '{line}'")))?;
        return Ok(100.0 - idle);
    }
    Err(bad(origin, format!("no 'Average:' line for CPU {cpu}")))
}

/// The IOThread's %CPU in `pidstat -t` output: its `Average:` line for
/// TID `tid` if there is one, else the mean of its lines.
pub fn pidstat_cpu_pct(text: &str, origin: &str, tid: u32) -> Result<f64, LabError> {
    let report = text
        .lines()
        .find(|l| l.contains("%CPU") && l.contains("TID"))
        .and_then(|h| Report::new(h, "UID"))
        .ok_or_else(|| {
            bad(
                origin,
                "no pidstat header with UID, TID and %CPU (use pidstat -t)",
            )
        })?;
    let want = tid.to_string();
    let (mut avg, mut samples) = (None, Vec::new());
    for line in text.lines().filter(|l| !l.contains("%CPU")) {
        if report.get(line, "TID") != Some(want.as_str()) {
            continue;
        }
        let v = number(report.get(line, "%CPU"))
            .ok_or_else(|| bad(origin, format!("malformed line: '{line}'")))?;
        if line.starts_with("Average:") {
            avg = Some(v);
        } else {
            samples.push(v);
        }
    }
    match avg {
        Some(v) => Ok(v),
        None if !samples.is_empty() => Ok(crate::stats::mean(&samples)),
        None => Err(bad(origin, format!("no line for TID {tid}"))),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QemuTrace {
    pub rows: Vec<TraceRow>,
    /// Lines of other events or other output, skipped.
    pub skipped: usize,
    /// `poll_add` and `run_poll_handlers_end` lines: events without a
    /// window, counted.
    pub events: usize,
}

/// How far a line's time may lie before an earlier line's: QEMU's threads
/// take their timestamp before they write the line, so lines of different
/// threads can reach the log slightly out of order. A larger step back is
/// not interleaving (two logs run together, a clock set back) and is an
/// error.
pub const REORDER_WINDOW_NS: u64 = 10_000_000;

/// One trace line of the events read: where it was, when, which AioContext
/// and the window it carries (`new` of poll_grow/poll_shrink, `max_ns` of
/// run_poll_handlers_begin; `None` for events without one).
struct TraceLine {
    n: usize,
    time_ns: u64,
    ctx: String,
    begin: bool,
    window: Option<u64>,
}

/// The `<tid>@<seconds>.<micros>` before the ':' in ns, or what is wrong.
fn trace_time(prefix: &str) -> Result<u64, &'static str> {
    let stamp = prefix
        .split_once('@')
        .map(|(_, s)| s)
        .ok_or("no <tid>@<seconds>.<micros> timestamp (run QEMU with -msg timestamp=on)")?;
    let (s, us) = stamp.split_once('.').ok_or("malformed timestamp")?;
    let s: u64 = s.parse().map_err(|_| "malformed timestamp")?;
    let us: u64 = us.parse().map_err(|_| "malformed timestamp")?;
    s.checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(us.checked_mul(1000)?))
        .ok_or("timestamp out of range")
}

/// Line `n` if it is one of the poll events, `None` for any other line.
fn trace_line(n: usize, line: &str) -> Result<Option<TraceLine>, LabError> {
    let Some((prefix, rest)) = line.split_once(':') else {
        return Ok(None);
    };
    let (event, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let key = match event {
        "poll_grow" | "poll_shrink" => Some("new"),
        "run_poll_handlers_begin" => Some("max_ns"),
        "poll_add" | "run_poll_handlers_end" => None,
        _ => return Ok(None),
    };
    let bad = |what: &str| LabError::Input(format!("line {n}: {what}: '{line}'"));
    let time_ns = trace_time(prefix).map_err(bad)?;
    let fields: Vec<&str> = args.split_whitespace().collect();
    let field = |name: &str| -> Result<&str, LabError> {
        fields
            .iter()
            .position(|f| *f == name)
            .and_then(|k| fields.get(k + 1).copied())
            .ok_or_else(|| bad(&format!("{event} without '{name}'")))
    };
    let ctx = field("ctx")?.to_string();
    let window = match key {
        Some(name) => {
            let v = field(name)?;
            let number = v.parse::<i64>().ok().and_then(|v| u64::try_from(v).ok());
            Some(number.ok_or_else(|| bad(&format!("{name} '{v}' is not a non-negative number")))?)
        }
        None => None,
    };
    Ok(Some(TraceLine {
        n,
        time_ns,
        ctx,
        begin: event == "run_poll_handlers_begin",
        window,
    }))
}

/// The poll event lines of `text` in time order, or an error at the first
/// line that lies more than [`REORDER_WINDOW_NS`] before a line above it.
/// Lines with the same time keep their order. Also the count of other
/// lines.
fn trace_lines(text: &str) -> Result<(Vec<TraceLine>, usize), LabError> {
    let (mut lines, mut skipped, mut latest) = (Vec::new(), 0, 0u64);
    for (i, raw) in text.lines().enumerate() {
        let Some(l) = trace_line(i + 1, raw.trim())? else {
            skipped += 1;
            continue;
        };
        if l.time_ns.saturating_add(REORDER_WINDOW_NS) < latest {
            let back = latest - l.time_ns;
            return Err(LabError::Input(format!(
                "line {}: time goes backwards by {}.{:06} s, more than the {} ms that lines of \
                 QEMU's threads can be out of order (two logs run together?): '{}'",
                l.n,
                back / 1_000_000_000,
                back % 1_000_000_000 / 1000,
                REORDER_WINDOW_NS / 1_000_000,
                raw.trim()
            )));
        }
        latest = latest.max(l.time_ns);
        lines.push(l);
    }
    lines.sort_by_key(|l| l.time_ns);
    Ok((lines, skipped))
}

/// Reads QEMU's `log` trace backend output (`-trace 'poll_*' -trace
/// 'run_poll_handlers_*' -msg timestamp=on`): lines such as
///
/// ```text
/// 4242@1700000000.000123:poll_grow ctx 0x55d0c0a1b2c0 old 0 new 4000
/// 4242@1700000000.000125:run_poll_handlers_begin ctx 0x55d0c0a1b2c0 max_ns 4000 timeout 0
/// ```
///
/// `poll_grow` and `poll_shrink` give the new window; the first
/// `run_poll_handlers_begin` of an AioContext gives its window before any
/// change. Lines are taken in time order (threads' lines may reach the log
/// up to [`REORDER_WINDOW_NS`] out of order); each AioContext (`ctx`) is
/// one IOThread, numbered in order of its first event; time is from the
/// earliest event. `poll_max_ns` is the bound the user says was in force
/// (a trace does not carry it).
pub fn parse_qemu_trace(text: &str, poll_max_ns: u64) -> Result<QemuTrace, LabError> {
    let (lines, skipped) = trace_lines(text)?;
    let t0 = lines.first().map_or(0, |l| l.time_ns);
    let params = format!("poll-max-ns={poll_max_ns}");
    let mut ctxs: HashMap<String, (u32, bool)> = HashMap::new();
    let (mut rows, mut events) = (Vec::new(), 0);
    for l in lines {
        let next = ctxs.len() as u32;
        let entry = ctxs.entry(l.ctx).or_insert((next, false));
        let window = match l.window {
            // The first begin of a context: its window before any change.
            Some(w) if !l.begin || !entry.1 => {
                entry.1 = true;
                Some(w)
            }
            Some(_) => None,
            None => {
                events += 1;
                None
            }
        };
        if let Some(window_ns) = window {
            rows.push(TraceRow {
                policy: "qemu-trace".into(),
                params: params.clone(),
                iothread: entry.0,
                time_ns: l.time_ns - t0,
                window_ns,
                poll_max_ns,
            });
        }
    }
    if rows.is_empty() {
        return Err(LabError::Input(format!(
            "no poll_grow, poll_shrink or run_poll_handlers_begin line with a window in {} \
             lines: enable them with -trace 'poll_*' -trace 'run_poll_handlers_*' and the log \
             backend",
            text.lines().count()
        )));
    }
    // QEMU caps a growing window at poll-max-ns: a window above it means
    // the IOThread ran with another value.
    if let Some(r) = rows.iter().find(|r| r.window_ns > poll_max_ns) {
        return Err(LabError::Input(format!(
            "a window of {} ns at {} ns is above --poll-max-ns {poll_max_ns}, which QEMU never \
             grows past: give the poll-max-ns the IOThread ran with",
            r.window_ns, r.time_ns
        )));
    }
    Ok(QemuTrace {
        rows,
        skipped,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sar_and_pidstat() {
        let sar = "Linux 6.1 (host) \t11/30/26 \t_x86_64_\t(8 CPU)\n\n\
12:00:01 AM     CPU     %user     %nice   %system   %iowait    %steal     %idle\n\
12:00:02 AM       3     40.00      0.00     20.00      0.00      0.00     40.00\n\
Average:          3     38.00      0.00     20.00      0.00      0.00     42.00\n";
        assert_eq!(sar_busy_pct(sar, "s", 3).unwrap(), 58.0);
        assert!(sar_busy_pct(sar, "s", 2)
            .unwrap_err()
            .to_string()
            .contains("CPU 2"));
        let pid = "Linux 6.1 (host)\n\n\
12:00:01      UID      TGID       TID    %usr %system  %guest   %wait    %CPU   CPU  Command\n\
12:00:02        0      4242         -   90.00   10.00    0.00    0.00  100.00     1  qemu-kvm\n\
12:00:02        0         -      4250   30.00   20.00    0.00    0.00   50.00     3  |__IO iothread0\n\
12:00:03        0         -      4250   40.00   20.00    0.00    0.00   60.00     3  |__IO iothread0\n";
        assert_eq!(pidstat_cpu_pct(pid, "p", 4250).unwrap(), 55.0);
        let with_avg = format!("{pid}Average:        0         -      4250   35.00   20.00    0.00    0.00   57.00     -  |__IO iothread0\n");
        assert_eq!(pidstat_cpu_pct(&with_avg, "p", 4250).unwrap(), 57.0);
        assert!(pidstat_cpu_pct(pid, "p", 1)
            .unwrap_err()
            .to_string()
            .contains("TID 1"));
    }

    #[test]
    fn a_log_backend_trace_becomes_window_rows() {
        let text = "\
qemu-system-x86_64: starting
4242@100.000010:run_poll_handlers_begin ctx 0xa max_ns 0 timeout 0
4242@100.000012:run_poll_handlers_end ctx 0xa progress 0 new timeout 0
4242@100.000020:poll_grow ctx 0xa old 0 new 4000
4243@100.000025:poll_add ctx 0xb node 0x1 fd 12 revents 0x1
4243@100.000030:poll_grow ctx 0xb old 0 new 4000
4242@100.000040:run_poll_handlers_begin ctx 0xa max_ns 4000 timeout 0
4242@100.001040:poll_shrink ctx 0xa old 4000 new 0
4242@100.001050:aio_co_schedule ctx 0xa co 0x2
";
        let t = parse_qemu_trace(text, 32768).unwrap();
        let got: Vec<_> = t
            .rows
            .iter()
            .map(|r| (r.iothread, r.time_ns, r.window_ns))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0, 0),
                (0, 10_000, 4000),
                (1, 20_000, 4000),
                (0, 1_030_000, 0)
            ]
        );
        assert_eq!((t.skipped, t.events), (2, 2));
        assert_eq!(t.rows[0].poll_max_ns, 32768);
    }

    #[test]
    fn lines_out_of_order_within_the_window_are_sorted_from_the_earliest() {
        // 0xb's begin was logged 1 us before 0xa's but written after it, and
        // 0xa's grow 10 ms (the window) before the latest line.
        let text = "\
1@100.000010:run_poll_handlers_begin ctx 0xa max_ns 0 timeout 0
2@100.000009:run_poll_handlers_begin ctx 0xb max_ns 0 timeout 0
2@100.010020:poll_grow ctx 0xb old 0 new 4000
1@100.000020:poll_grow ctx 0xa old 0 new 4000
1@100.000020:poll_shrink ctx 0xa old 4000 new 0
";
        let t = parse_qemu_trace(text, 32768).unwrap();
        let got: Vec<_> = t
            .rows
            .iter()
            .map(|r| (r.iothread, r.time_ns, r.window_ns))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0, 0),
                (1, 1_000, 0),
                (1, 11_000, 4000),
                (1, 11_000, 0),
                (0, 10_011_000, 4000)
            ]
        );
    }

    #[test]
    fn bad_traces_are_errors_with_the_line() {
        let e = |t: &str| parse_qemu_trace(t, 1).unwrap_err().to_string();
        assert!(e("poll_grow ctx 0xa old 0 new 4\n").contains("no poll_grow"));
        assert!(e("1@5.000001:poll_grow ctx 0xa old 0\n").contains("line 1"));
        assert!(e("1@5.000001:poll_grow ctx 0xa old 0 new -4\n").contains("'-4'"));
        assert!(e("1poll:poll_grow ctx 0xa old 0 new 4\n").contains("timestamp"));
        assert!(
            e("1@5.1:poll_grow ctx 0xa old 0 new 4\n1@4.1:poll_grow ctx 0xa old 4 new 8\n")
                .contains("line 2: time goes backwards by 1.000000 s")
        );
        // Past the window, measured from the latest line, not the last one.
        assert!(e("1@5.000000:poll_grow ctx 0xa old 0 new 4\n\
                   2@5.020000:poll_grow ctx 0xb old 0 new 4\n\
                   1@5.009999:poll_grow ctx 0xa old 4 new 8\n")
        .contains("line 3: time goes backwards by 0.010001 s"));
        assert!(e("").contains("no poll_grow"));
    }
}
