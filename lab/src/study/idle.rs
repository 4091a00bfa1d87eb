//! An idle IOThread: what each online policy spends polling once the I/O
//! stops. The loop (core's, through the replay) first serves a burst of
//! work, one handler whose next event is always 2 us away; then the
//! handlers stay registered and nothing arrives, and the loop wakes only
//! for a timer every millisecond for one second. `off` spends nothing; a
//! rule whose window outlives the I/O polls at every timer.
//!
//! No clock and no simulator: the waits are given, the windows are core's
//! loop's (through the replay), and each timer's wait is polled for the
//! window in force when it began (`crate::ratio`'s spin time of the idle
//! part): the rules' arithmetic on these waits.

use super::ratio::{labels, policies, PRICE_NS};
use crate::ratio::{ratios_of, Price};
use crate::replay::Wait;
use crate::LabError;

/// Iterations of the burst, and its wait (handler 0, one request in
/// flight).
const BURST: usize = 1000;
const BURST_WAIT_NS: u64 = 2000;

/// The idle second: a timer every millisecond, no handler's event.
const TICKS: usize = 1000;
const TICK_NS: u64 = 1_000_000;

/// One policy's polling in the idle second.
pub(crate) struct IdleRow {
    pub label: String,
    /// Time spent polling in the idle second, in % of one core.
    pub poll_pct: f64,
}

fn wait(block_ns: u64, handlers: Vec<u32>, in_flight: u32) -> Wait {
    Wait {
        block_ns,
        handlers,
        in_flight,
        end: None,
    }
}

/// Every online policy's polling once the I/O stops.
pub(crate) fn idle() -> Result<Vec<IdleRow>, LabError> {
    let burst: Vec<(usize, Wait)> = (1..=BURST)
        .map(|i| (i, wait(BURST_WAIT_NS, vec![0], 1)))
        .collect();
    let mut all = burst.clone();
    all.extend((BURST + 1..=BURST + TICKS).map(|i| (i, wait(TICK_NS, Vec::new(), 0))));
    let price = Price::Fixed(PRICE_NS);
    let before = ratios_of(&policies(), &burst, "the burst", price)?;
    let after = ratios_of(&policies(), &all, "the burst and the idle second", price)?;
    let idle_ns = (TICKS as u64 * TICK_NS) as f64;
    Ok(labels()
        .into_iter()
        .zip(before.rows.iter().zip(&after.rows))
        .map(|(label, (b, a))| IdleRow {
            label,
            poll_pct: 100.0 * (a.spin_ns - b.spin_ns) as f64 / idle_ns,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_pollwise_go_quiet_and_fixed_polls_at_every_timer() {
        let rows = idle().unwrap();
        let of = |name: &str| rows.iter().find(|r| r.label == name).unwrap().poll_pct;
        assert_eq!(of("off"), 0.0);
        assert!(of("pollwise") < 0.1, "{}", of("pollwise"));
        // `fixed` polls its whole window (32768 ns) before every timer.
        assert!((of("fixed") - 3.2768).abs() < 1e-9, "{}", of("fixed"));
    }
}
