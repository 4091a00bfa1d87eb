//! The QEMU release a host runs, and the IOThread knobs it has: which
//! policy its `aio_poll()` runs, its defaults (the stock setting every
//! candidate is judged against) and the values `tune` searches.
//!
//! Where the knob sets come from: QEMU 10.0 to 11.0 run `qemu`
//! (`adjust_polling_time()` in util/aio-posix.c; `poll-max-ns`,
//! `poll-grow`, `poll-shrink`, defaults 32768/0/0 in iothread.c). The
//! weighted series was merged in May 2026 (QEMU commits 9563d0b5e2d2 and
//! 9fea80ddf0f5, after the 11.0 release), so 11.1 is the first release
//! with `poll-weight`; it runs `weighted-merged`, whose defaults
//! (`IOTHREAD_POLL_*_DEFAULT`) core's registry states (core/src/kind.rs).

use pollwise_core::{Param, Params, PolicyKind};

use crate::LabError;

/// A QEMU release `tune` knows the knobs of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QemuVersion {
    pub name: &'static str,
    /// The policy its IOThread runs: `qemu`, or `weighted-merged` once the
    /// series is in.
    pub kind: PolicyKind,
}

/// Every release `tune` knows, oldest first.
pub const KNOWN: [QemuVersion; 5] = [
    QemuVersion::new("10.0", PolicyKind::Qemu),
    QemuVersion::new("10.1", PolicyKind::Qemu),
    QemuVersion::new("10.2", PolicyKind::Qemu),
    QemuVersion::new("11.0", PolicyKind::Qemu),
    QemuVersion::new("11.1", PolicyKind::WeightedMerged),
];

/// The values of `poll-max-ns` the coarse search tries (0 disables
/// polling; the largest is 16 times QEMU's default).
pub const MAX_NS_GRID: [u64; 9] = [0, 2048, 4096, 8192, 16384, 32768, 65536, 131_072, 524_288];
/// `poll-grow` and `poll-shrink` values the search tries (0 is QEMU's
/// meaning of the default).
pub const GROW_GRID: [u64; 3] = [0, 2, 4];
pub const SHRINK_GRID: [u64; 3] = [0, 2, 4];
/// `poll-weight` values, where the release has it.
pub const WEIGHT_GRID: [u64; 3] = [1, 3, 5];

impl QemuVersion {
    const fn new(name: &'static str, kind: PolicyKind) -> QemuVersion {
        QemuVersion { name, kind }
    }

    /// `10.2`, `v10.2` or `10.2.1` (the patch level does not change the
    /// knobs); anything else is an error listing the known releases.
    pub fn parse(text: &str) -> Result<QemuVersion, LabError> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let major_minor = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), patch)
                if patch.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())) =>
            {
                format!("{a}.{b}")
            }
            _ => String::new(),
        };
        if parts.next().is_none() {
            if let Some(v) = KNOWN.iter().find(|v| v.name == major_minor) {
                return Ok(*v);
            }
        }
        let known: Vec<&str> = KNOWN.iter().map(|v| v.name).collect();
        Err(LabError::Input(format!(
            "--qemu-version {text:?} is not a release pollwise knows the IOThread knobs of; \
             give one of {} (a patch level such as 10.0.2 is fine)",
            known.join(", ")
        )))
    }

    /// Whether the release has `poll-weight` (the merged series).
    pub fn has_weight(self) -> bool {
        self.kind == PolicyKind::WeightedMerged
    }

    /// The release's defaults: what an IOThread without poll options runs.
    pub fn stock(self) -> Params {
        Params::defaults(self.kind)
    }

    /// The knobs this release has, in QEMU's names.
    pub fn knobs(self) -> Vec<&'static str> {
        self.kind.param_names()
    }

    /// Every setting of the coarse grid, stock first.
    pub fn grid(self) -> Vec<Params> {
        let weights: &[u64] = if self.has_weight() {
            &WEIGHT_GRID
        } else {
            &[0]
        };
        let mut out = vec![self.stock()];
        for &max in &MAX_NS_GRID {
            // With polling off the other knobs do nothing: one setting.
            let (grows, shrinks, ws): (&[u64], &[u64], &[u64]) = if max == 0 {
                (&[0], &[0], &weights[..1])
            } else {
                (&GROW_GRID, &SHRINK_GRID, weights)
            };
            for &g in grows {
                for &s in shrinks {
                    for &w in ws {
                        let p = self.setting(max, g, s, w);
                        if !out.contains(&p) {
                            out.push(p);
                        }
                    }
                }
            }
        }
        out
    }

    /// This release's setting with these knob values (`weight` ignored
    /// where it has none).
    pub fn setting(self, max_ns: u64, grow: u64, shrink: u64, weight: u64) -> Params {
        let mut p = self.stock();
        let mut set = |param, v| {
            p.set(param, v)
                .expect("grid values lie within every knob's range")
        };
        set(Param::PollMaxNs, max_ns);
        set(Param::PollGrow, grow);
        set(Param::PollShrink, shrink);
        if self.has_weight() {
            set(Param::PollWeight, weight);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_with_or_without_a_patch_level() {
        assert_eq!(QemuVersion::parse("10.0.2").unwrap().name, "10.0");
        assert_eq!(QemuVersion::parse("v10.2").unwrap().kind, PolicyKind::Qemu);
        assert!(QemuVersion::parse("11.1").unwrap().has_weight());
        assert!(!QemuVersion::parse("11.0").unwrap().has_weight());
        for bad in ["9.2", "12.0", "10", "10.0.x", "", "10.0.1.1", "ten"] {
            let e = QemuVersion::parse(bad).unwrap_err().to_string();
            assert!(e.contains("10.0, 10.1, 10.2, 11.0, 11.1"), "{bad}: {e}");
        }
    }

    #[test]
    fn stock_is_the_release_default_and_the_grid_has_only_its_knobs() {
        let old = QemuVersion::parse("10.0").unwrap();
        assert_eq!(
            old.stock().to_string(),
            "poll-max-ns=32768 poll-grow=0 poll-shrink=0"
        );
        assert!(old.grid().iter().all(|p| p.kind() == PolicyKind::Qemu));
        let new = QemuVersion::parse("11.1").unwrap();
        assert_eq!(
            new.stock().to_string(),
            "poll-max-ns=32768 poll-grow=2 poll-shrink=2 poll-weight=3"
        );
        assert!(new.knobs().contains(&"poll-weight"));
        assert!(!old.knobs().contains(&"poll-weight"));
        let g = new.grid();
        assert_eq!(g[0], new.stock());
        assert!(g.iter().any(|p| p.get(Param::PollWeight) == 5));
    }
}
