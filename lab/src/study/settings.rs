//! The catalogue: which policy settings the study runs, and on which rows
//! of a preset's matrix.

use pollwise_core::{Params, PolicyKind, RunRow, Rw, Workload};
use pollwise_sim::Preset;

/// Which kind of point: an online policy, or one of the clairvoyant
/// policies whose points make up the best-known frontier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Online,
    ThresholdOracle,
    Clairvoyant,
    Rollout,
}

impl Family {
    pub fn on_frontier(self) -> bool {
        self != Family::Online
    }
}

/// One setting the study runs.
#[derive(Clone, Debug)]
pub(crate) struct Setting {
    pub label: String,
    pub family: Family,
    pub params: Params,
}

impl Setting {
    /// An online policy's parameters under its kind's name.
    pub fn of(params: Params) -> Setting {
        Setting {
            label: params.kind().name().to_string(),
            family: Family::Online,
            params,
        }
    }
}

fn setting(label: &str, family: Family, kind: PolicyKind, pairs: &[(&str, String)]) -> Setting {
    Setting {
        label: label.to_string(),
        family,
        params: Params::from_pairs(kind, pairs.iter().map(|(n, v)| (*n, v.as_str())))
            .expect("the study's settings are in range"),
    }
}

/// The online policies, `qemu` (the baseline) first, each at its defaults,
/// and QEMU with a short, gradually shrinking window (the setting that
/// passed the old "oracle").
pub(crate) fn online_settings() -> Vec<Setting> {
    let mut v: Vec<Setting> = [
        PolicyKind::Qemu,
        PolicyKind::Weighted,
        PolicyKind::WeightedMerged,
        PolicyKind::Pollwise,
        PolicyKind::KvmHaltPoll,
        PolicyKind::GuestHaltPoll,
        PolicyKind::Fixed,
        PolicyKind::Off,
    ]
    .iter()
    .map(|&k| setting(k.name(), Family::Online, k, &[]))
    .collect();
    v.push(setting(
        "qemu 4096/4",
        Family::Online,
        PolicyKind::Qemu,
        &[("poll-max-ns", "4096".into()), ("poll-shrink", "4".into())],
    ));
    v
}

const ORACLE_THRESHOLDS_NS: [u64; 7] = [0, 1000, 2000, 4000, 8000, 16000, 32768];

/// The priced clairvoyant's prices: IOThread CPU ns per 1000 ns of delay.
const PRICES_MILLI: [u64; 8] = [0, 125, 250, 500, 1000, 2000, 4000, 16000];

/// The rollout's prices (each run costs about 15 of the others).
const ROLLOUT_PRICES_MILLI: [u64; 3] = [250, 1000, 4000];

/// The clairvoyant settings whose points make up the frontier: the
/// threshold oracle at each threshold, the priced clairvoyant at each price.
pub(crate) fn frontier_settings() -> Vec<Setting> {
    let mut v: Vec<Setting> = ORACLE_THRESHOLDS_NS
        .iter()
        .map(|t| {
            setting(
                &format!("threshold-oracle {t}"),
                Family::ThresholdOracle,
                PolicyKind::ThresholdOracle,
                &[("oracle-threshold-ns", t.to_string())],
            )
        })
        .collect();
    v.extend(PRICES_MILLI.iter().map(|p| {
        setting(
            &format!("clairvoyant {p}"),
            Family::Clairvoyant,
            PolicyKind::Clairvoyant,
            &[("delay-price-milli", p.to_string())],
        )
    }));
    v
}

/// The priced clairvoyant at the rollout's prices (run as rollouts).
pub(crate) fn rollout_settings() -> Vec<Setting> {
    ROLLOUT_PRICES_MILLI
        .iter()
        .map(|p| {
            setting(
                &format!("rollout {p}"),
                Family::Rollout,
                PolicyKind::Clairvoyant,
                &[("delay-price-milli", p.to_string())],
            )
        })
        .collect()
}

/// A row of a preset table: `randread 8k nj1 it2`.
pub(crate) fn row_label(r: &RunRow) -> String {
    format!(
        "{} {}k nj{} it{}",
        r.rw,
        r.bs / 1024,
        r.numjobs,
        r.iothreads
    )
}

/// Sequential and random rows are one result in the model (it ignores the
/// access pattern), so the study runs each once: the sequential rows of a
/// matrix that also has their random twin are dropped.
pub(crate) fn distinct_workloads(preset: &Preset) -> Vec<Workload> {
    let all = preset.matrix.workloads();
    let twin = |rw: Rw| match rw {
        Rw::Read => Some(Rw::RandRead),
        Rw::Write => Some(Rw::RandWrite),
        _ => None,
    };
    all.iter()
        .filter(|w| {
            twin(w.rw).is_none_or(|t| {
                !all.iter().any(|o| {
                    o.rw == t
                        && Workload {
                            rw: w.rw,
                            ..(*o).clone()
                        } == **w
                })
            })
        })
        .cloned()
        .collect()
}

/// The rows the rollout runs on: 8k randread, numjobs 1 and 4, one and two
/// IOThreads.
pub(crate) fn reduced_workloads(preset: &Preset, duration_ms: u64) -> Vec<Workload> {
    preset
        .matrix
        .workloads()
        .into_iter()
        .filter(|w| w.rw == Rw::RandRead && w.bs == 8192 && [1, 4].contains(&w.numjobs))
        .map(|w| Workload { duration_ms, ..w })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_twins_of_random_rows_are_dropped() {
        let p = Preset::load("fcp-16disk").unwrap();
        let all = p.matrix.workloads();
        let kept = distinct_workloads(&p);
        assert_eq!(kept.len() * 2, all.len());
        assert!(kept
            .iter()
            .all(|w| matches!(w.rw, Rw::RandRead | Rw::RandWrite)));
        let o = Preset::load("optane-p4800x").unwrap();
        assert_eq!(distinct_workloads(&o).len(), o.matrix.workloads().len());
    }
}
