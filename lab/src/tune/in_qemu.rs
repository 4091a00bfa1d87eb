//! The confirmation in QEMU's own `aio_poll()` (the qemu backend), after
//! the disk's: the same pairs, intervals and verdict ([`super::confirm`])
//! with each side run by the QEMU variant that has its knobs. A release's
//! `poll-max-ns`/`poll-grow`/`poll-shrink` run on the stock variant; a
//! release with `poll-weight` runs on the weighted variant (the merged
//! series' defaults given as explicit values, so the variant's own
//! meaning of 0 never applies); `pollwise` would run on the pollwise
//! variant, but no release can be set to it, so it is never confirmed.

use std::path::Path;
use std::time::Duration;

use pollwise_core::{Param, Params, PolicyKind, Workload};

use super::confirm::pair_estimate;
use crate::qemu_backend::{check_variant, LIMITS};
use crate::QemuBackend;

/// Whether `tune` confirms in QEMU's loop, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QemuLoop {
    /// Nothing is measured (no disk), or `--no-qemu`: nothing to say.
    Off,
    /// Wanted but not possible here: the sentence says why and how to
    /// enable it.
    Skipped(String),
    /// Confirmed in QEMU's loop, on this target (its label).
    On(String),
}

impl QemuLoop {
    /// The one line the answer prints about QEMU's loop, if any.
    pub fn skipped_line(&self) -> Option<String> {
        match self {
            QemuLoop::Skipped(why) => Some(format!("QEMU's loop: confirmation skipped: {why}")),
            _ => None,
        }
    }
}

/// The parameters QEMU's variant runs for a release's setting `p`
/// (`weighted-merged` as the weighted variant's `weighted`, every knob
/// explicit: `poll-weight` 0 is the merged series' 3).
pub fn variant_params(p: &Params) -> Params {
    if p.kind() != PolicyKind::WeightedMerged {
        return p.clone();
    }
    let mut w = Params::defaults(PolicyKind::Weighted);
    for param in [
        Param::PollMaxNs,
        Param::PollGrow,
        Param::PollShrink,
        Param::PollWeight,
    ] {
        let v = match (param, p.get(param)) {
            (Param::PollWeight, 0) => 3,
            (Param::PollGrow | Param::PollShrink, 0) => 2,
            (_, v) => v,
        };
        w.set(param, v)
            .expect("weighted and weighted-merged share their knobs' ranges");
    }
    w
}

/// Whether QEMU's loop can confirm `stock`'s release (every candidate is
/// of its kind, so it runs on the same variant) at `workloads`, with the
/// variants built in `cache`: `None` if it can, else why not and how to
/// make it so.
pub fn unavailable(cache: &Path, stock: &Params, workloads: &[Workload]) -> Option<String> {
    if let Err(e) = check_variant(cache, &variant_params(stock)) {
        return Some(format!(
            "{e} (or pass --no-qemu to leave QEMU's loop out without this line)"
        ));
    }
    for w in workloads {
        if w.rw == pollwise_core::Rw::RandRw {
            return Some("QEMU's harness does not run --rw randrw".into());
        }
        if let Err(e) = w.check(&LIMITS) {
            return Some(e.to_string());
        }
    }
    None
}

/// The time one pair of runs at every point takes in QEMU's loop: the
/// device's estimate and each run's warm-up.
pub fn qemu_pair_estimate(workloads: &[Workload]) -> Duration {
    let warmups = workloads.len() as u64 * 2 * QemuBackend::WARMUP_MS;
    pair_estimate(workloads) + Duration::from_millis(warmups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::QemuVersion;

    #[test]
    fn each_release_runs_on_the_variant_with_its_knobs() {
        let old = QemuVersion::parse("10.0").unwrap();
        for p in old.grid() {
            let v = crate::qemu_backend::variant(&variant_params(&p)).unwrap();
            assert_eq!(v.variant, "stock", "{p}");
            assert_eq!(v.poll_max_ns, p.poll_max_ns());
        }
        let new = QemuVersion::parse("11.1").unwrap();
        for p in new.grid() {
            let v = crate::qemu_backend::variant(&variant_params(&p)).unwrap();
            assert_eq!(v.variant, "weighted", "{p}");
            let w = p.get(Param::PollWeight);
            assert_eq!(v.poll_weight, Some(if w == 0 { 3 } else { w }), "{p}");
        }
        let stock = variant_params(&new.stock());
        assert_eq!(
            stock.to_string(),
            "poll-max-ns=32768 poll-grow=2 poll-shrink=2 poll-weight=3"
        );
        let pw = Params::defaults(PolicyKind::Pollwise);
        let v = crate::qemu_backend::variant(&variant_params(&pw)).unwrap();
        assert_eq!(v.variant, "pollwise");
    }

    #[test]
    fn a_cache_without_the_variant_is_a_skip_that_names_the_build() {
        let empty = std::env::temp_dir().join("pollwise-tune-no-such-qemu-cache");
        let stock = QemuVersion::parse("10.0").unwrap().stock();
        let why = unavailable(&empty, &stock, &[]).expect("not built");
        assert!(why.contains("pollwise qemu build --cache"), "{why}");
        assert!(why.contains("variant 'stock'"), "{why}");
        let line = QemuLoop::Skipped(why).skipped_line().unwrap();
        assert!(line.starts_with("QEMU's loop: confirmation skipped: "));
        assert_eq!(QemuLoop::Off.skipped_line(), None);
    }
}
