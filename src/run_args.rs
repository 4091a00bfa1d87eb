//! Flags of several commands: `--threads` on those that run simulations
//! in parallel, `--accept-iops-loss` on those that judge a change.

use clap::Args;

#[derive(Args, Clone, Debug, Default)]
pub struct ThreadsArgs {
    /// Threads for the simulated runs, which run in parallel [default: one
    /// per CPU].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Args, Clone, Debug)]
pub struct AcceptArgs {
    /// The acceptance bar of the verdict, as every command that compares
    /// judges it: the IOPS loss in percent a candidate may have on any
    /// point (the maintainer's bar is 5), judged on the 95% interval of the
    /// changes with two or more repeats.
    #[arg(long, value_name = "PCT", default_value_t = pollwise_lab::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT, allow_hyphen_values = true)]
    pub accept_iops_loss: f64,
}
