//! Which configuration of a results table is the pareto plot's baseline:
//! one real setting (its own rows), never a mean over several settings.
//!
//! `--baseline 'qemu poll-max-ns=32768'` names a policy and the parameters
//! its rows must have. Parameters it does not name are the policy's
//! defaults, as everywhere a policy is named; so of a sweep of `qemu` over
//! poll-max-ns and poll-shrink, `qemu` is the row at QEMU's defaults. When
//! that still leaves no setting, or several, there is no baseline and the
//! reason says which settings matched and how to name one.

use pollwise_core::{Params, PolicyKind};

use crate::table::{param, param_pairs, same_value, Filter};
use crate::PlotError;

/// The baseline as typed: a policy and the parameters its rows must have.
pub(crate) struct BaselineSpec {
    pub(crate) text: String,
    policy: String,
    params: Vec<Filter>,
}

impl BaselineSpec {
    pub(crate) fn parse(text: &str) -> Result<BaselineSpec, PlotError> {
        let mut words = text.split_whitespace();
        let policy = words.next().ok_or_else(|| {
            PlotError::Invalid(
                "--baseline is empty: name a policy, e.g. 'qemu' or 'qemu poll-max-ns=32768'"
                    .to_string(),
            )
        })?;
        let params = words
            .map(|w| w.parse::<Filter>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BaselineSpec {
            text: text.to_string(),
            policy: policy.to_string(),
            params,
        })
    }

    /// Rows of this policy with every parameter the spec names.
    pub(crate) fn matches(&self, policy: &str, params: &str) -> bool {
        policy == self.policy
            && self
                .params
                .iter()
                .all(|f| param(params, &f.name).is_some_and(|v| same_value(v, &f.value)))
    }

    /// Every parameter the spec does not name is at the policy's default
    /// (or absent). A policy pollwise does not know has no defaults: then
    /// only the named parameters count.
    fn at_defaults(&self, params: &str) -> bool {
        let Ok(kind) = PolicyKind::from_name(&self.policy) else {
            return true;
        };
        let defaults = Params::defaults(kind).pairs();
        param_pairs(params).iter().all(|(name, value)| {
            self.params.iter().any(|f| f.name == *name)
                || defaults
                    .iter()
                    .find(|(d, _)| d == name)
                    .is_none_or(|(_, d)| same_value(value, &d.to_string()))
        })
    }

    /// Of the configurations' (policy, params), the one that is the
    /// baseline, or why none is.
    pub(crate) fn choose(&self, configs: &[(&str, &str)]) -> Result<usize, NoBaseline> {
        let matching: Vec<usize> = (0..configs.len())
            .filter(|&i| self.matches(configs[i].0, configs[i].1))
            .collect();
        if let [one] = matching[..] {
            return Ok(one);
        }
        if matching.is_empty() {
            return Err(NoBaseline::Absent {
                spec: self.text.clone(),
            });
        }
        let at_defaults: Vec<usize> = matching
            .iter()
            .copied()
            .filter(|&i| self.at_defaults(configs[i].1))
            .collect();
        if let [one] = at_defaults[..] {
            return Ok(one);
        }
        let first = configs[matching[0]];
        Err(NoBaseline::Ambiguous {
            spec: self.text.clone(),
            settings: matching.len(),
            example: format!("{} {}", first.0, first.1),
        })
    }
}

/// Why a plot has no baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum NoBaseline {
    /// No row is of the baseline's policy and parameters.
    Absent { spec: String },
    /// Several settings match, and not exactly one has the parameters the
    /// spec leaves out at their defaults.
    Ambiguous {
        spec: String,
        settings: usize,
        example: String,
    },
}

impl NoBaseline {
    /// A few words for the picture's legend.
    pub fn short(&self) -> String {
        match self {
            NoBaseline::Absent { spec } => format!("no baseline: no '{spec}' row"),
            NoBaseline::Ambiguous { spec, settings, .. } => {
                format!("no baseline: '{spec}' is {settings} settings")
            }
        }
    }
}

impl std::fmt::Display for NoBaseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoBaseline::Absent { spec } => write!(f, "no row is the baseline '{spec}'"),
            NoBaseline::Ambiguous {
                spec,
                settings,
                example,
            } => write!(
                f,
                "the baseline '{spec}' matches {settings} settings and not exactly one of \
                 them has the other parameters at their defaults; name one with its \
                 parameters, e.g. --baseline '{example}'"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(spec: &str, configs: &[(&str, &str)]) -> Result<usize, String> {
        BaselineSpec::parse(spec)
            .unwrap()
            .choose(configs)
            .map_err(|e| e.to_string())
    }

    const SWEEP: [(&str, &str); 4] = [
        ("qemu", "poll-max-ns=0 poll-grow=0 poll-shrink=0"),
        ("qemu", "poll-max-ns=32768 poll-grow=0 poll-shrink=2"),
        ("qemu", "poll-max-ns=32768 poll-grow=0 poll-shrink=0"),
        ("weighted", "poll-max-ns=32768 poll-weight=2"),
    ];

    #[test]
    fn unnamed_parameters_are_the_policys_defaults() {
        assert_eq!(choose("qemu", &SWEEP), Ok(2));
        assert_eq!(choose("qemu poll-shrink=2", &SWEEP), Ok(1));
        assert_eq!(choose("qemu poll-max-ns=0", &SWEEP), Ok(0));
        // Parameters a row does not name count as defaults.
        assert_eq!(choose("qemu", &[("qemu", ""), ("off", "")]), Ok(0));
    }

    #[test]
    fn no_setting_or_several_is_no_baseline_with_the_reason() {
        let e = choose("off", &SWEEP).unwrap_err();
        assert!(e.contains("no row is the baseline 'off'"), "{e}");
        let e = choose("qemu poll-max-ns=0", &[SWEEP[0], SWEEP[0]]).unwrap_err();
        assert!(e.contains("matches 2 settings"), "{e}");
        let two = [("qemu", "poll-max-ns=1"), ("qemu", "poll-max-ns=2")];
        let e = choose("qemu poll-shrink=0", &two).unwrap_err();
        assert!(e.contains("no row is the baseline"), "{e}");
        let e = choose(
            "qemu",
            &[("qemu", "poll-max-ns=1"), ("qemu", "poll-max-ns=2")],
        )
        .unwrap_err();
        assert!(e.contains("--baseline 'qemu poll-max-ns=1'"), "{e}");
    }

    #[test]
    fn an_unknown_policy_matches_on_named_parameters_only() {
        let c = [("mine", "a=1 b=2"), ("mine", "a=1 b=3")];
        assert_eq!(choose("mine b=3", &c), Ok(1));
        assert!(choose("mine", &c).is_err());
    }
}
