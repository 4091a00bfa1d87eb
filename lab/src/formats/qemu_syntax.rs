//! QEMU's own language for polling: a policy setting as the IOThread
//! command-line option, as QMP `qom-set` commands for a live change and as
//! libvirt domain XML. (QEMU's trace read back is [`crate::formats::import`].)
//!
//! ```text
//! pub fn qemu_setting(p: &Params, id: &str) -> Result<QemuSetting, LabError>
//! pub struct QemuSetting { pub object: String, pub qmp: Vec<String>, pub libvirt: String,
//!                          pub notes: Vec<String> }
//! pub fn qom_id(id: &str) -> Result<String, String>
//! ```

use pollwise_core::{Param, Params, PolicyKind};

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
    // QEMU's own three, and the 2026 series' poll-weight after them.
    let stock = || {
        vec![
            ("poll-max-ns", get(Param::PollMaxNs)),
            ("poll-grow", get(Param::PollGrow)),
            ("poll-shrink", get(Param::PollShrink)),
        ]
    };
    let weighted = || {
        let mut v = stock();
        v.push(("poll-weight", get(Param::PollWeight)));
        v
    };
    match p.kind() {
        PolicyKind::Qemu => Ok((stock(), Vec::new())),
        PolicyKind::Weighted => Ok((
            weighted(),
            vec![
                "poll-weight is the 2026 proposal's property: it needs a QEMU with that \
                 series applied, and libvirt has no attribute for it (set it with qom-set or \
                 <qemu:commandline>)"
                    .into(),
                "with the proposal applied, poll-shrink=0 means 2, not an immediate reset".into(),
            ],
        )),
        PolicyKind::WeightedMerged => Ok((
            weighted(),
            vec![
                "poll-weight is the merged series' property (QEMU 11.1 on); libvirt's <poll> \
                 has no attribute for it yet (set it with qom-set or <qemu:commandline>)"
                    .into(),
            ],
        )),
        PolicyKind::Off => Ok((
            vec![("poll-max-ns", 0)],
            vec!["poll-max-ns=0 disables polling".into()],
        )),
        other => Err(LabError::Input(format!(
            "policy '{other}' has no QEMU IOThread equivalent; QEMU runs qemu (its own rule), \
             off (poll-max-ns=0) and, with the 2026 series, weighted and weighted-merged"
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
    fn the_merged_series_has_its_release_defaults_and_says_where_weight_goes() {
        let s = qemu_setting(&Params::defaults(PolicyKind::WeightedMerged), "iothread1").unwrap();
        assert_eq!(
            s.object,
            "-object iothread,id=iothread1,poll-max-ns=32768,poll-grow=2,poll-shrink=2,poll-weight=3"
        );
        assert_eq!(s.qmp.len(), 4);
        assert!(s
            .libvirt
            .contains("<poll max='32768' grow='2' shrink='2'/>"));
        assert!(s.notes[0].contains("QEMU 11.1"), "{:?}", s.notes);
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
}
