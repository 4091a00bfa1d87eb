//! Parameter values as they act, not as they are stored: several of QEMU's
//! IOThread properties take 0 to mean a default (`poll-grow=0` grows by 2).
//! The meaning of 0 is read from the policy's own parameter specs (their
//! help text says "0 means ..."), so there is one source for it.

use pollwise_core::{ParamSpec, Params};

/// What 0 means for a parameter, if its spec says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZeroMeans {
    /// 0 stands for this value (e.g. poll-grow: 0 means 2).
    Value(u64),
    /// 0 stands for a behaviour (e.g. poll-shrink: reset to 0 at once).
    Behaviour(String),
}

/// Reads "0 means X" from a spec's help text: X up to the next ';', ','
/// or '(' (or the end). A number is a value, anything else a behaviour.
pub fn zero_means(spec: &ParamSpec) -> Option<ZeroMeans> {
    let (_, rest) = spec.help.split_once("0 means ")?;
    let text = rest
        .split([';', ',', '('])
        .next()
        .unwrap_or_default()
        .trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.parse::<u64>() {
        Ok(v) => ZeroMeans::Value(v),
        Err(_) => ZeroMeans::Behaviour(text.to_string()),
    })
}

/// One parameter as it acts, as `name=value`: `poll-weight=2` when 0 was
/// given and means 2; the value itself otherwise (`poll-shrink=0`, whose 0
/// is a behaviour that `pollwise policy list` describes). The pair reads
/// back as the same setting.
pub fn effective_pair(spec: &ParamSpec, value: u64) -> String {
    format!("{}={}", spec.param.name(), effective_value(spec, value))
}

/// The value a parameter acts with: what 0 stands for when it stands for a
/// value, the value itself otherwise.
pub fn effective_value(spec: &ParamSpec, value: u64) -> u64 {
    match (value, zero_means(spec)) {
        (0, Some(ZeroMeans::Value(v))) => v,
        _ => value,
    }
}

/// Every parameter of `params` as it acts, space-separated, in spec order;
/// "(no parameters)" for a policy without any. The one way parameters are
/// printed for a reader: compare's tables and CSV, `policy show`.
pub fn effective_text(params: &Params) -> String {
    let specs = params.kind().specs();
    if specs.is_empty() {
        return "(no parameters)".into();
    }
    specs
        .iter()
        .map(|s| effective_pair(s, params.get(s.param)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A row's stored parameter text (`policy`, `params` of a results row) as
/// [`effective_text`] prints it; the text unchanged if it is not a
/// policy's `name=value` pairs (a rollout's settings, an imported row).
pub fn effective_row_text(policy: &str, params: &str) -> String {
    let parsed = pollwise_core::PolicyKind::from_name(policy)
        .ok()
        .and_then(|kind| {
            let pairs = crate::formats::parse::parse_pairs(params).ok()?;
            Params::from_pairs(kind, pairs).ok()
        });
    match parsed {
        Some(p) if p.kind().specs().is_empty() => params.to_string(),
        Some(p) => effective_text(&p),
        None => params.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::{Param, PolicyKind};

    fn spec(kind: PolicyKind, p: Param) -> &'static ParamSpec {
        kind.specs().iter().find(|s| s.param == p).unwrap()
    }

    #[test]
    fn zero_meaning_comes_from_the_specs() {
        use PolicyKind::*;
        assert_eq!(
            zero_means(spec(Weighted, Param::PollWeight)),
            Some(ZeroMeans::Value(2))
        );
        assert_eq!(
            zero_means(spec(Pollwise, Param::PollWeight)),
            Some(ZeroMeans::Value(3))
        );
        assert_eq!(
            zero_means(spec(Qemu, Param::PollGrow)),
            Some(ZeroMeans::Value(2))
        );
        assert_eq!(
            zero_means(spec(Qemu, Param::PollShrink)),
            Some(ZeroMeans::Behaviour("reset to 0 at once".into()))
        );
        assert_eq!(zero_means(spec(Qemu, Param::PollMaxNs)), None);
    }

    #[test]
    fn effective_text_of_the_defaults() {
        let w = Params::defaults(PolicyKind::Weighted);
        assert_eq!(
            effective_text(&w),
            "poll-max-ns=32768 poll-grow=2 poll-shrink=2 poll-weight=2"
        );
        let q = Params::from_pairs(PolicyKind::Qemu, [("poll-grow", "4")]).unwrap();
        assert_eq!(
            effective_text(&q),
            "poll-max-ns=32768 poll-grow=4 poll-shrink=0"
        );
        // A stored row's text reads the same way; other text stays.
        assert_eq!(
            effective_row_text("weighted", &w.to_string()),
            effective_text(&w)
        );
        assert_eq!(
            w.to_string(),
            "poll-max-ns=32768 poll-grow=0 poll-shrink=0 poll-weight=0"
        );
        assert_eq!(effective_row_text("rollout", "h=4 x"), "h=4 x");
        assert_eq!(
            effective_text(&Params::defaults(PolicyKind::Off)),
            "(no parameters)"
        );
    }
}
