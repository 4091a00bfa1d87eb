//! The policy flags every command that runs a policy shares.

use anyhow::Result;
use clap::Args;
use pollwise_core::{AnyPolicy, Params, PolicyKind};
use pollwise_lab::parse::{named_params, parse_pairs};

/// `--policy NAME` and its parameters in QEMU's names. Values are taken as
/// text so that a negative or malformed number reaches the core's validator
/// and gets its message (name, value, accepted range).
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// Policy name (see `pollwise policy list`).
    #[arg(long, default_value = "qemu")]
    pub policy: String,
    /// Maximum polling time in ns (QEMU poll-max-ns).
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub poll_max_ns: Option<String>,
    /// Growth factor (QEMU poll-grow; 0 means 2).
    #[arg(long, value_name = "G", allow_hyphen_values = true)]
    pub poll_grow: Option<String>,
    /// Shrink divisor (QEMU poll-shrink; for qemu 0 means reset to 0).
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    pub poll_shrink: Option<String>,
    /// EWMA weight shift of the weighted policy (poll-weight; 0 means 2).
    #[arg(long, value_name = "W", allow_hyphen_values = true)]
    pub poll_weight: Option<String>,
    /// First window after growing from 0 (kvm-halt-poll, guest-haltpoll).
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub poll_grow_start_ns: Option<String>,
    /// The threshold oracle polls when the next event is at most this far
    /// away.
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub oracle_threshold_ns: Option<String>,
    /// Cost of blocking for the pollwise policy (wake-up and kick).
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    pub poll_block_cost_ns: Option<String>,
    /// Any parameter as NAME=VALUE (repeatable), e.g. --param poll-weight=3.
    #[arg(long = "param", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

impl PolicyArgs {
    /// The validated parameters: the policy's defaults with every given
    /// flag applied.
    pub fn params(&self) -> Result<Params> {
        let kind = PolicyKind::from_name(&self.policy)?;
        if let Some(note) = PolicyKind::renamed_from(&self.policy) {
            eprintln!("{note}");
        }
        let flags = [
            ("poll-max-ns", &self.poll_max_ns),
            ("poll-grow", &self.poll_grow),
            ("poll-shrink", &self.poll_shrink),
            ("poll-weight", &self.poll_weight),
            ("poll-grow-start-ns", &self.poll_grow_start_ns),
            ("oracle-threshold-ns", &self.oracle_threshold_ns),
            ("poll-block-cost-ns", &self.poll_block_cost_ns),
        ];
        let mut pairs: Vec<(&str, &str)> = flags
            .iter()
            .filter_map(|(name, v)| v.as_deref().map(|v| (*name, v)))
            .collect();
        for item in &self.extra {
            pairs.extend(parse_pairs(item)?);
        }
        Ok(Params::from_pairs(kind, pairs)?)
    }

    pub fn build(&self) -> Result<AnyPolicy> {
        Ok(AnyPolicy::new(self.params()?))
    }
}

/// `--baseline`/`--candidate` and their parameters, shared by every command
/// that compares two policies.
#[derive(Args, Clone, Debug)]
pub struct PolicyPairArgs {
    /// The reference policy.
    #[arg(long, default_value = "qemu")]
    pub baseline: String,
    /// Baseline parameters as NAME=VALUE pairs, comma-separated.
    #[arg(long, value_name = "PAIRS", allow_hyphen_values = true)]
    pub baseline_params: Option<String>,
    /// The policy under test.
    #[arg(long, default_value = "weighted")]
    pub candidate: String,
    /// Candidate parameters as NAME=VALUE pairs, comma-separated.
    #[arg(long, value_name = "PAIRS", allow_hyphen_values = true)]
    pub candidate_params: Option<String>,
}

impl PolicyPairArgs {
    /// The validated (baseline, candidate) parameters.
    pub fn params(&self) -> Result<(Params, Params)> {
        Ok((
            named_params(&self.baseline, self.baseline_params.as_deref())?,
            named_params(&self.candidate, self.candidate_params.as_deref())?,
        ))
    }
}
