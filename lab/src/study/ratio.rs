//! The competitive ratio in the study: every online policy replayed over
//! the waits one loop recorded under QEMU's rule, its spin-plus-block cost
//! against the offline optimum on the same waits (`crate::ratio`).
//!
//! Recorded on the simulator for each preset's one-IOThread randread rows
//! (seed 1), and in the measured part on the device loop and QEMU's loop
//! at each measured point. Every block is priced the same for every policy
//! and the optimum: at a fixed [`PRICE_NS`], as `policy ratio` does by
//! default, and at pollwise's own price with its prior wake-up path
//! ([`WAKE_NS`] plus 8 of them over the requests in flight, `policy ratio
//! --wake-ns`).

use pollwise_core::{
    IterRecord, Params, PolicyKind, Rw, Workload, PRIOR_BLOCK_COST_NS, PRIOR_WAKEUPS,
};
use pollwise_sim::Preset;

use super::options::StudyOptions;
use super::settings::{distinct_workloads, online_settings};
use crate::ratio::{ratios_of, Price, RatioRow, Ratios};
use crate::replay::{replay_wait, Wait};
use crate::LabError;

/// The price of one block, ns of CPU: pollwise's prior, the price
/// `policy ratio` uses unless told otherwise.
pub(crate) const PRICE_NS: u64 = PRIOR_BLOCK_COST_NS;

/// The wake-up path of the in-flight price: pollwise's prior, what it
/// prices a block with before it has measured a sleep (as in a replay).
pub(crate) const WAKE_NS: u64 = PRIOR_BLOCK_COST_NS / PRIOR_WAKEUPS;

/// The two prices, in the order of [`TraceRatios::ratios`].
pub(crate) const PRICES: [Price; 2] =
    [Price::Fixed(PRICE_NS), Price::InFlight { wake_ns: WAKE_NS }];

/// One recorded trace and every online policy's ratio on it.
pub(crate) struct TraceRatios {
    /// What recorded it: "optane-p4800x randread 8k nj1", "4k j=1 qd=1".
    pub trace: String,
    /// The file in the study's directory that holds the waits, if kept.
    pub file: Option<String>,
    /// At each of [`PRICES`].
    pub ratios: [Ratios; 2],
}

impl TraceRatios {
    /// The ratio of the policy the study labels `label` at price `k` of
    /// [`PRICES`]; `None` for no such policy or no optimum to divide by.
    pub(crate) fn ratio_of(&self, k: usize, label: &str) -> Option<f64> {
        let col = labels().iter().position(|l| l == label)?;
        let r = &self.ratios[k];
        r.ratio(&r.rows[col])
    }
}

/// Every online policy replayed over `waits` at each of [`PRICES`].
pub(crate) fn at_both_prices(
    trace: String,
    file: Option<String>,
    waits: &[(usize, Wait)],
) -> Result<TraceRatios, LabError> {
    let at = |price| {
        if waits.is_empty() {
            // A run too short to have an iteration: a row of dashes, not
            // an error that ends the study.
            return Ok(nothing(price));
        }
        ratios_of(&policies(), waits, &trace, price)
    };
    let ratios = [at(PRICES[0])?, at(PRICES[1])?];
    Ok(TraceRatios {
        trace,
        file,
        ratios,
    })
}

/// The policies replayed: the study's online settings, `qemu` first.
pub(crate) fn policies() -> Vec<Params> {
    online_settings().into_iter().map(|s| s.params).collect()
}

/// The label of one replayed policy: the study's label of its setting.
pub(crate) fn labels() -> Vec<String> {
    online_settings().into_iter().map(|s| s.label).collect()
}

/// Every online policy replayed over `records` (a loop's iterations),
/// whose waits are kept in `file` if given.
pub(crate) fn of_records(
    trace: String,
    file: Option<String>,
    records: &[IterRecord],
) -> Result<TraceRatios, LabError> {
    // Numbered from 1, as a waits file's rows are (its line less one).
    let waits: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 1, replay_wait(r)))
        .collect();
    at_both_prices(trace, file, &waits)
}

/// The ratios of a trace with no waits: every policy paid nothing, and no
/// ratio is defined.
fn nothing(price: Price) -> Ratios {
    Ratios {
        price,
        waits: 0,
        wait_ns: 0,
        optimum_ns: 0,
        rows: labels()
            .into_iter()
            .map(|policy| RatioRow {
                policy,
                spin_ns: 0,
                blocks: 0,
                cost_ns: 0,
            })
            .collect(),
    }
}

/// The rows the simulated traces come from: a preset's distinct randread
/// rows with one IOThread (the waits file has no IOThread column).
pub(crate) fn simulated_workloads(preset: &Preset, opts: &StudyOptions) -> Vec<Workload> {
    distinct_workloads(preset)
        .into_iter()
        .filter(|w| w.rw == Rw::RandRead && w.iothreads == 1)
        .map(|mut w| {
            if let Some(ms) = opts.duration_ms {
                w.duration_ms = ms;
            }
            w
        })
        .collect()
}

/// The ratios on each preset's simulated traces, recorded under `qemu`
/// with seed 1.
pub(crate) fn simulated(
    opts: &StudyOptions,
    presets: &[&str],
) -> Result<Vec<TraceRatios>, LabError> {
    let qemu = Params::defaults(PolicyKind::Qemu);
    let mut out = Vec::new();
    for name in presets {
        let preset = Preset::load(name)?;
        for w in simulated_workloads(&preset, opts) {
            let (_, log) = pollwise_sim::simulate_iterations(&preset, &w, &qemu, 1)?;
            let trace = format!("{name} {} {}k nj{}", w.rw.name(), w.bs / 1024, w.numjobs);
            out.push(of_records(trace, None, &log)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_policy_beats_the_offline_optimum_and_every_policy_is_replayed() {
        // One short simulated trace: the optimum pays min(wait, price) per
        // wait, which no spin-then-block window can undercut.
        let opts = StudyOptions {
            out: std::path::PathBuf::from("unused"),
            seeds: 1,
            duration_ms: Some(20),
            robust_duration_ms: 1,
            skip_robustness: true,
            rollout_duration_ms: 0,
            force: false,
        };
        let traces = simulated(&opts, &["optane-p4800x"]).unwrap();
        assert_eq!(traces.len(), 8, "8k and 128k x numjobs 1, 4, 8, 16");
        let off = labels().iter().position(|l| l == "off").unwrap();
        for t in &traces {
            for r in &t.ratios {
                assert!(r.waits > 100, "{}: {} waits", t.trace, r.waits);
                assert_eq!(r.rows.len(), labels().len());
                for row in &r.rows {
                    let x = r.ratio(row).unwrap();
                    assert!(
                        x >= 1.0,
                        "{} on {} at {}: ratio {x}",
                        row.policy,
                        t.trace,
                        r.price
                    );
                }
            }
            // `off` blocks at every wait: at the fixed price it pays that
            // price per wait.
            let fixed = u128::from(t.ratios[0].waits) * u128::from(PRICE_NS);
            assert_eq!(t.ratios[0].rows[off].cost_ns, fixed);
            assert_eq!(t.ratios[0].waits, t.ratios[1].waits);
        }
    }
}
