//! The policy flags every command that runs a policy shares: a policy is
//! named one way everywhere, `NAME[:PARAM=VALUE,...]`. The flags of earlier
//! releases (`--poll-weight 3`, `--param NAME=VALUE`, `--candidate-params
//! PAIRS`) still work for one release and say what to write instead.

use clap::Args;
use pollwise_lab::cmd::policy::{PairFlags, PolicyFlags};

/// What `--policy`, `--baseline` and `--candidate` take, for their help.
pub const SPEC_HELP: &str = "NAME[:PARAM=VALUE,...]";

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
    pub fn flags(&self) -> PolicyFlags {
        let single = [
            ("poll-max-ns", &self.poll_max_ns),
            ("poll-grow", &self.poll_grow),
            ("poll-shrink", &self.poll_shrink),
            ("poll-weight", &self.poll_weight),
            ("poll-grow-start-ns", &self.poll_grow_start_ns),
            ("oracle-threshold-ns", &self.oracle_threshold_ns),
            ("poll-block-cost-ns", &self.poll_block_cost_ns),
        ];
        PolicyFlags {
            spec: self.policy.clone(),
            single: single
                .into_iter()
                .filter_map(|(name, v)| v.clone().map(|v| (name, v)))
                .collect(),
            extra: self.extra.clone(),
        }
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

impl PolicyPairArgs {
    pub fn flags(&self) -> PairFlags {
        PairFlags {
            baseline: self.baseline.clone(),
            baseline_params: self.baseline_params.clone(),
            candidate: self.candidate.clone(),
            candidate_params: self.candidate_params.clone(),
        }
    }
}
