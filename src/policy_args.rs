//! The policy flags every command that runs a policy shares: a policy is
//! named one way everywhere, `NAME[:PARAM=VALUE,...]` (parsed by
//! `pollwise_lab::parse::policy_spec`). The flags of earlier releases
//! (`--poll-weight 3`, `--param NAME=VALUE`, `--candidate-params PAIRS`)
//! still work for one release and say what to write instead.

use anyhow::Result;
use clap::Args;
use pollwise_core::{AnyPolicy, Params, PolicyKind};
use pollwise_lab::formats::parse::{parse_pairs, policy_spec};

/// What `--policy`, `--baseline` and `--candidate` take, for their help.
pub const SPEC_HELP: &str = "NAME[:PARAM=VALUE,...]";

/// Prints the one-line note of a deprecated spelling on stderr.
pub fn deprecated(old: &str, new: &str) {
    eprintln!("note: {old} is deprecated and will be removed in the next release; write {new}");
}

/// A policy as `NAME[:PAIRS]` with the pairs of deprecated flags applied
/// over it in order, each with its note naming the one spec to write.
pub fn spec_with(flag: &str, spec: &str, old: &[(String, String)]) -> Result<Params> {
    let name = spec.split_once(':').map_or(spec, |(n, _)| n).trim();
    if let Some(note) = PolicyKind::renamed_from(name) {
        eprintln!("{note}");
    }
    let mut params = policy_spec(flag, spec)?;
    if old.is_empty() {
        return Ok(params);
    }
    let mut pairs: Vec<String> = spec
        .split_once(':')
        .map(|(_, p)| {
            parse_pairs(p)
                .map(|v| v.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    for (old_flag, pair) in old {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{old_flag} '{pair}' is not NAME=VALUE"))?;
        params
            .set_str(k.trim(), v.trim())
            .map_err(|e| anyhow::anyhow!("{old_flag} {pair}: {e}"))?;
        pairs.push(format!("{}={}", k.trim(), v.trim()));
    }
    let mut olds: Vec<&str> = old.iter().map(|(f, _)| f.as_str()).collect();
    olds.dedup();
    deprecated(
        &olds.join(", "),
        &format!("--{flag} {}:{}", params.kind(), pairs.join(",")),
    );
    Ok(params)
}

/// `--policy NAME[:PARAM=VALUE,...]`. Values are taken as text so that a
/// negative or malformed number reaches the core's validator and gets its
/// message (name, value, accepted range).
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// The policy and its parameters in QEMU's names, e.g.
    /// `weighted:poll-weight=3` or `qemu:poll-max-ns=16000,poll-shrink=2`;
    /// parameters not given keep their defaults. `pollwise policy list`
    /// prints every name, parameter, default and range.
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub policy: String,
    /// Deprecated: --policy NAME:poll-max-ns=NS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_max_ns: Option<String>,
    /// Deprecated: --policy NAME:poll-grow=G.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_grow: Option<String>,
    /// Deprecated: --policy NAME:poll-shrink=S.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_shrink: Option<String>,
    /// Deprecated: --policy NAME:poll-weight=W.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_weight: Option<String>,
    /// Deprecated: --policy NAME:poll-grow-start-ns=NS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_grow_start_ns: Option<String>,
    /// Deprecated: --policy NAME:oracle-threshold-ns=NS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub oracle_threshold_ns: Option<String>,
    /// Deprecated: --policy NAME:poll-block-cost-ns=NS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub poll_block_cost_ns: Option<String>,
    /// Deprecated: --policy NAME:NAME=VALUE.
    #[arg(long = "param", hide = true, allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

impl PolicyArgs {
    /// The validated parameters: the spec's, then any deprecated flag's.
    pub fn params(&self) -> Result<Params> {
        let flags = [
            ("poll-max-ns", &self.poll_max_ns),
            ("poll-grow", &self.poll_grow),
            ("poll-shrink", &self.poll_shrink),
            ("poll-weight", &self.poll_weight),
            ("poll-grow-start-ns", &self.poll_grow_start_ns),
            ("oracle-threshold-ns", &self.oracle_threshold_ns),
            ("poll-block-cost-ns", &self.poll_block_cost_ns),
        ];
        let mut old: Vec<(String, String)> = flags
            .iter()
            .filter_map(|(name, v)| {
                v.as_ref()
                    .map(|v| (format!("--{name}"), format!("{name}={v}")))
            })
            .collect();
        for item in &self.extra {
            for (k, v) in parse_pairs(item)? {
                old.push(("--param".into(), format!("{k}={v}")));
            }
        }
        spec_with("policy", &self.policy, &old)
    }

    pub fn build(&self) -> Result<AnyPolicy> {
        Ok(AnyPolicy::new(self.params()?))
    }
}

/// `--baseline`/`--candidate` as policy specs, shared by every command
/// that compares two policies.
#[derive(Args, Clone, Debug)]
pub struct PolicyPairArgs {
    /// The reference policy, as `--policy` takes it (e.g.
    /// `qemu:poll-max-ns=16000`).
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub baseline: String,
    /// Deprecated: --baseline NAME:PAIRS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub baseline_params: Option<String>,
    /// The policy under test, as `--policy` takes it (e.g.
    /// `weighted:poll-weight=3`).
    #[arg(long, default_value = "weighted", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub candidate: String,
    /// Deprecated: --candidate NAME:PAIRS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub candidate_params: Option<String>,
}

/// The pairs of a deprecated `--X-params PAIRS` flag.
pub fn old_pairs(flag: &str, text: Option<&str>) -> Result<Vec<(String, String)>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    Ok(parse_pairs(text)?
        .into_iter()
        .map(|(k, v)| (flag.to_string(), format!("{k}={v}")))
        .collect())
}

impl PolicyPairArgs {
    /// The validated (baseline, candidate) parameters.
    pub fn params(&self) -> Result<(Params, Params)> {
        Ok((
            spec_with(
                "baseline",
                &self.baseline,
                &old_pairs("--baseline-params", self.baseline_params.as_deref())?,
            )?,
            spec_with(
                "candidate",
                &self.candidate,
                &old_pairs("--candidate-params", self.candidate_params.as_deref())?,
            )?,
        ))
    }
}
