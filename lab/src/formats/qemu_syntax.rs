//! QEMU's own language for polling: a policy setting as the IOThread
//! command-line option, as QMP `qom-set` commands for a live change and as
//! libvirt domain XML; and QEMU's `log` trace backend output read back into
//! the window-trace schema ([`TraceRow`]).

use std::collections::HashMap;

use pollwise_core::{Param, Params, PolicyKind, TraceRow};

use crate::LabError;

/// A policy setting in QEMU's syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuSetting {
    /// `-object iothread,id=...,poll-max-ns=...`
    pub object: String,
    /// One QMP command per property, each a line of JSON.
    pub qmp: Vec<String>,
    /// The libvirt `<iothreadids>` element with its `<poll>` child.
    pub libvirt: String,
    /// What the reader must know (properties only a patched QEMU has).
    pub notes: Vec<String>,
}

/// IOThread properties in QEMU's names with their values, and notes.
type Properties = (Vec<(&'static str, u64)>, Vec<String>);

/// The IOThread properties a policy setting becomes, in QEMU's names, or
/// an error naming the policies QEMU can run.
fn properties(p: &Params) -> Result<Properties, LabError> {
    let get = |param| p.get(param);
    match p.kind() {
        PolicyKind::Qemu => Ok((
            vec![
                ("poll-max-ns", get(Param::PollMaxNs)),
                ("poll-grow", get(Param::PollGrow)),
                ("poll-shrink", get(Param::PollShrink)),
            ],
            Vec::new(),
        )),
        PolicyKind::Weighted => Ok((
            vec![
                ("poll-max-ns", get(Param::PollMaxNs)),
                ("poll-grow", get(Param::PollGrow)),
                ("poll-shrink", get(Param::PollShrink)),
                ("poll-weight", get(Param::PollWeight)),
            ],
            vec![
                "poll-weight is the 2026 proposal's property: it needs a QEMU with that \
                 series applied, and libvirt has no attribute for it (set it with qom-set or \
                 <qemu:commandline>)"
                    .into(),
                "with the proposal applied, poll-shrink=0 means 2, not an immediate reset".into(),
            ],
        )),
        PolicyKind::Off => Ok((
            vec![("poll-max-ns", 0)],
            vec!["poll-max-ns=0 disables polling".into()],
        )),
        other => Err(LabError::Input(format!(
            "policy '{other}' has no QEMU IOThread equivalent; QEMU runs qemu (its own rule), \
             off (poll-max-ns=0) and, with the 2026 series, weighted"
        ))),
    }
}

/// `id` if QEMU takes it as an object id, as QEMU's `id_wellformed`
/// (util/id.c) decides: an ASCII letter, then ASCII letters, digits, '-',
/// '.' and '_'. Otherwise a message saying so (clap's value parser for
/// `--iothread-id` uses it as is).
pub fn qom_id(id: &str) -> Result<String, String> {
    let mut chars = id.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if well_formed {
        Ok(id.to_string())
    } else {
        Err(format!(
            "IOThread id {id:?} is not one QEMU accepts: a QOM id starts with an ASCII letter \
             and holds only ASCII letters, digits, '-', '.' and '_' (e.g. iothread1)"
        ))
    }
}

/// The number libvirt's `<iothread id='N'>` takes for the QEMU object
/// `id`: libvirt names its IOThreads `iothread1`, `iothread2`, ..., so only
/// such an id has one.
fn libvirt_number(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("iothread")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n > 0)
}

/// `setting` for the IOThread `id` (e.g. iothread1).
pub fn qemu_setting(p: &Params, id: &str) -> Result<QemuSetting, LabError> {
    qom_id(id).map_err(LabError::Input)?;
    let (props, notes) = properties(p)?;
    let object = std::iter::once(format!("-object iothread,id={id}"))
        .chain(props.iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(",");
    let qmp = props
        .iter()
        .map(|(k, v)| {
            format!(
                r#"{{"execute": "qom-set", "arguments": {{"path": "/objects/{id}", "property": "{k}", "value": {v}}}}}"#
            )
        })
        .collect();
    let attr = |name: &str| props.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let mut poll = String::from("<poll");
    for (xml, prop) in [
        ("max", "poll-max-ns"),
        ("grow", "poll-grow"),
        ("shrink", "poll-shrink"),
    ] {
        if let Some(v) = attr(prop) {
            poll.push_str(&format!(" {xml}='{v}'"));
        }
    }
    poll.push_str("/>");
    let libvirt = match libvirt_number(id) {
        Some(n) => format!(
            "<iothreadids>\n  <iothread id='{n}'>\n    {poll}\n  </iothread>\n</iothreadids>"
        ),
        None => format!(
            "<!-- none for '{id}': libvirt names its IOThreads iothread1, iothread2, ... \
             (<iothread id='N'> is QEMU's iothreadN); give an id of that form -->"
        ),
    };
    Ok(QemuSetting {
        object,
        qmp,
        libvirt,
        notes,
    })
}

/// What an import of a QEMU trace found.
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
    fn qemu_defaults_in_three_syntaxes() {
        let s = qemu_setting(&Params::defaults(PolicyKind::Qemu), "iothread1").unwrap();
        assert_eq!(
            s.object,
            "-object iothread,id=iothread1,poll-max-ns=32768,poll-grow=0,poll-shrink=0"
        );
        assert_eq!(s.qmp.len(), 3);
        assert_eq!(
            s.qmp[0],
            r#"{"execute": "qom-set", "arguments": {"path": "/objects/iothread1", "property": "poll-max-ns", "value": 32768}}"#
        );
        assert!(
            s.libvirt
                .contains("<poll max='32768' grow='0' shrink='0'/>"),
            "{}",
            s.libvirt
        );
        assert!(s.notes.is_empty());
    }

    #[test]
    fn weighted_says_it_needs_the_series_and_others_are_refused() {
        let p = Params::from_pairs(PolicyKind::Weighted, [("poll-weight", "3")]).unwrap();
        let s = qemu_setting(&p, "io1").unwrap();
        assert!(s.object.ends_with(",poll-weight=3"), "{}", s.object);
        assert!(!s.libvirt.contains("weight"));
        assert!(s.notes[0].contains("2026"));
        let e = qemu_setting(&Params::defaults(PolicyKind::KvmHaltPoll), "io1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kvm-halt-poll") && e.contains("no QEMU"), "{e}");
        assert!(qemu_setting(&p, "bad id").is_err());
    }

    #[test]
    fn ids_are_checked_as_qemu_does_and_libvirt_gets_the_id_asked_for() {
        let p = Params::defaults(PolicyKind::Qemu);
        for bad in [
            "",
            "0io",
            "1",
            "-io",
            ".io",
            "_io",
            "io thread",
            "io/x",
            "iö",
            "ö",
        ] {
            let e = qemu_setting(&p, bad).unwrap_err().to_string();
            assert!(e.contains("ASCII letter"), "{bad:?}: {e}");
        }
        for good in ["a", "Z9", "io-1.x_y", "iothread0"] {
            assert_eq!(qom_id(good).as_deref(), Ok(good));
        }
        let s = qemu_setting(&p, "iothread12").unwrap();
        assert!(s.libvirt.contains("<iothread id='12'>"), "{}", s.libvirt);
        // libvirt has no IOThread 0 and no named ones: no element, a reason.
        for other in ["iothread0", "iothread01", "disk-io", "iothread99999999999"] {
            let s = qemu_setting(&p, other).unwrap();
            assert!(
                !s.libvirt.contains("<iothreadids>"),
                "{other}: {}",
                s.libvirt
            );
            assert!(s.libvirt.contains("iothreadN"), "{}", s.libvirt);
        }
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
