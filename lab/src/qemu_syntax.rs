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

/// `setting` for the IOThread `id` (e.g. iothread0).
pub fn qemu_setting(p: &Params, id: &str) -> Result<QemuSetting, LabError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(LabError::Input(format!(
            "IOThread id '{id}' is not a QOM id (letters, digits, '-', '_', '.')"
        )));
    }
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
    let libvirt =
        format!("<iothreadids>\n  <iothread id='1'>\n    {poll}\n  </iothread>\n</iothreadids>");
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
/// change. Each AioContext (`ctx`) is one IOThread, numbered in order of
/// appearance; time is from the first event read. `poll_max_ns` is the
/// bound the user says was in force (a trace does not carry it).
pub fn parse_qemu_trace(text: &str, poll_max_ns: u64) -> Result<QemuTrace, LabError> {
    let mut rows = Vec::new();
    let (mut skipped, mut events) = (0, 0);
    let mut ctxs: HashMap<String, (u32, bool)> = HashMap::new();
    let mut t0: Option<u64> = None;
    let params = format!("poll-max-ns={poll_max_ns}");
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        let Some((prefix, rest)) = line.split_once(':') else {
            skipped += 1;
            continue;
        };
        let (event, args) = rest.split_once(' ').unwrap_or((rest, ""));
        if !matches!(
            event,
            "poll_grow"
                | "poll_shrink"
                | "poll_add"
                | "run_poll_handlers_begin"
                | "run_poll_handlers_end"
        ) {
            skipped += 1;
            continue;
        }
        let bad = |what: &str| LabError::Input(format!("line {n}: {what}: '{line}'"));
        let time_ns = {
            let stamp = prefix.split_once('@').map(|(_, s)| s).ok_or_else(|| {
                bad("no <tid>@<seconds>.<micros> timestamp (run QEMU with -msg timestamp=on)")
            })?;
            let (s, us) = stamp
                .split_once('.')
                .ok_or_else(|| bad("malformed timestamp"))?;
            let s: u64 = s.parse().map_err(|_| bad("malformed timestamp"))?;
            let us: u64 = us.parse().map_err(|_| bad("malformed timestamp"))?;
            s.checked_mul(1_000_000_000)
                .and_then(|v| v.checked_add(us.checked_mul(1000)?))
                .ok_or_else(|| bad("timestamp out of range"))?
        };
        let fields: Vec<&str> = args.split_whitespace().collect();
        let field = |name: &str| -> Result<&str, LabError> {
            fields
                .iter()
                .position(|f| *f == name)
                .and_then(|k| fields.get(k + 1).copied())
                .ok_or_else(|| bad(&format!("{event} without '{name}'")))
        };
        let number = |name: &str| -> Result<u64, LabError> {
            let v = field(name)?;
            v.parse::<i64>()
                .ok()
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| bad(&format!("{name} '{v}' is not a non-negative number")))
        };
        let ctx = field("ctx")?.to_string();
        let next = ctxs.len() as u32;
        let start = *t0.get_or_insert(time_ns);
        let rel = time_ns.checked_sub(start).ok_or_else(|| {
            bad("time goes backwards (lines must be in the order QEMU wrote them)")
        })?;
        let entry = ctxs.entry(ctx).or_insert((next, false));
        let window = match event {
            "poll_grow" | "poll_shrink" => {
                entry.1 = true;
                Some(number("new")?)
            }
            "run_poll_handlers_begin" if !entry.1 => {
                entry.1 = true;
                Some(number("max_ns")?)
            }
            "run_poll_handlers_begin" => {
                number("max_ns")?;
                None
            }
            _ => {
                events += 1;
                None
            }
        };
        if let Some(window_ns) = window {
            rows.push(TraceRow {
                policy: "qemu-trace".into(),
                params: params.clone(),
                iothread: entry.0,
                time_ns: rel,
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
        let s = qemu_setting(&Params::defaults(PolicyKind::Qemu), "iothread0").unwrap();
        assert_eq!(
            s.object,
            "-object iothread,id=iothread0,poll-max-ns=32768,poll-grow=0,poll-shrink=0"
        );
        assert_eq!(s.qmp.len(), 3);
        assert_eq!(
            s.qmp[0],
            r#"{"execute": "qom-set", "arguments": {"path": "/objects/iothread0", "property": "poll-max-ns", "value": 32768}}"#
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
    fn bad_traces_are_errors_with_the_line() {
        let e = |t: &str| parse_qemu_trace(t, 1).unwrap_err().to_string();
        assert!(e("poll_grow ctx 0xa old 0 new 4\n").contains("no poll_grow"));
        assert!(e("1@5.000001:poll_grow ctx 0xa old 0\n").contains("line 1"));
        assert!(e("1@5.000001:poll_grow ctx 0xa old 0 new -4\n").contains("'-4'"));
        assert!(e("1poll:poll_grow ctx 0xa old 0 new 4\n").contains("timestamp"));
        assert!(
            e("1@5.1:poll_grow ctx 0xa old 0 new 4\n1@4.1:poll_grow ctx 0xa old 4 new 8\n")
                .contains("line 2: time goes backwards")
        );
        assert!(e("").contains("no poll_grow"));
    }
}
