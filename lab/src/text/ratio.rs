//! The study's competitive-ratio tables (`crate::study::ratio`): a row per
//! recorded trace, a column per online policy, and what they say of
//! pollwise against QEMU's rule and the merged proposal.

use std::fmt::Write as _;

use pollwise_core::DELAY_WEIGHT;

use crate::study::idle::IdleRow;
use crate::study::ratio::{labels, TraceRatios, PRICES, PRICE_NS, WAKE_NS};

/// The section: what the tables are, then the simulator's.
pub(crate) fn simulated_ratios(md: &mut String, traces: &[TraceRatios]) {
    ratio_intro(md);
    let _ = writeln!(
        md,
        "On the simulator, each preset's one-IOThread randread rows, seed 1:\n"
    );
    ratio_table(md, traces);
}

/// What the tables are, once, before the simulated one.
fn ratio_intro(md: &mut String) {
    let _ = writeln!(
        md,
        "## Competitive ratio on recorded waits\n\n\
         Each online policy replayed over the waits one loop recorded under `qemu` (as `pollwise \
         policy ratio` does): for a wait t under the window W in force when the iteration began, \
         a policy pays t if t <= W and W plus the price of a block otherwise; the offline optimum \
         pays min(t, price). Every policy and the optimum pay the same price per block: a \
         fixed {} us of CPU, and pollwise's own price, a wake-up path w plus {DELAY_WEIGHT} w \
         over the requests in flight when the wait began (w = {} us, pollwise's prior). The waits are replayed as recorded, so this does not count that a policy's own \
         choices change the waits that follow (the tables above do), and a replay has no \
         measured sleeps, so pollwise prices a block with its prior wake-up path. No \
         deterministic spin-then-block rule can guarantee better than 2 on adversarial waits \
         (Karlin et al.), a randomized one e/(e-1), about 1.58.\n",
        PRICE_NS / 1000,
        WAKE_NS / 1000
    );
}

/// The table of ratios at each price, each followed by the line on
/// pollwise.
pub(crate) fn ratio_table(md: &mut String, traces: &[TraceRatios]) {
    for (k, price) in PRICES.iter().enumerate() {
        let _ = writeln!(md, "At {price} per block:\n");
        price_table(md, traces, k);
    }
}

/// One table: a row per trace at price `k`, then the line on pollwise.
fn price_table(md: &mut String, traces: &[TraceRatios], k: usize) {
    let labels = labels();
    let _ = write!(md, "| trace | waits |");
    for l in &labels {
        let _ = write!(md, " {l} |");
    }
    let _ = write!(md, "\n|---|---:|");
    for _ in &labels {
        let _ = write!(md, "---:|");
    }
    let _ = writeln!(md);
    for t in traces {
        let r = &t.ratios[k];
        let _ = write!(md, "| {} | {} |", t.trace, r.waits);
        for row in &r.rows {
            match r.ratio(row) {
                Some(x) => {
                    let _ = write!(md, " {x:.3} |");
                }
                None => {
                    let _ = write!(md, " - |");
                }
            }
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "\n{}\n", pollwise_line(traces, k));
}

/// The idle IOThread: each online policy's polling once the I/O stops.
pub(crate) fn idle_md(md: &mut String, rows: &[IdleRow]) {
    let _ = writeln!(
        md,
        "## An idle IOThread\n\n\
         The loop serves a burst of 1000 iterations (one handler, its next event 2 us away), \
         then its handlers stay registered and nothing arrives: it wakes only for a timer every \
         millisecond for a second. Its polling in that second, in % of one core (the rules' \
         arithmetic on these waits, through core's loop; no clock):\n\n\
         | policy | polling when idle, % of a core |\n|---|---:|"
    );
    for r in rows {
        let _ = writeln!(md, "| {} | {:.3} |", r.label, r.poll_pct);
    }
    let _ = writeln!(md);
}

/// The measured part's table: the traces each loop recorded, with links
/// to their files.
pub(crate) fn measured_ratios(md: &mut String, traces: &[TraceRatios], duration_ms: u64) {
    if traces.is_empty() {
        return;
    }
    let files: Vec<String> = traces
        .iter()
        .filter_map(|t| t.file.as_ref().map(|f| format!("[{f}]({f})")))
        .collect();
    let _ = writeln!(
        md,
        "\nThe competitive ratio (as in \"Competitive ratio on recorded waits\") on the waits \
         each loop recorded under `qemu` at each point, one {duration_ms} ms run each ({}):\n",
        files.join(", ")
    );
    ratio_table(md, traces);
}

/// pollwise's ratio against 1.3 and against `qemu`'s and
/// `weighted-merged`'s on each trace.
fn pollwise_line(traces: &[TraceRatios], k: usize) -> String {
    let of = |t: &TraceRatios, label: &str| t.ratio_of(k, label);
    let count = |f: &dyn Fn(&TraceRatios) -> bool| traces.iter().filter(|t| f(t)).count();
    let below = |other: &str| {
        count(&|t| matches!((of(t, "pollwise"), of(t, other)), (Some(a), Some(b)) if a < b))
    };
    let worst = traces
        .iter()
        .filter_map(|t| of(t, "pollwise").map(|r| (r, t.trace.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let worst = worst.map_or_else(String::new, |(r, t)| format!("; its highest {r:.3} ({t})"));
    format!(
        "pollwise: at most 1.3 on {} of {n} traces, below `qemu` on {} and below \
         `weighted-merged` on {}{worst}.",
        count(&|t| of(t, "pollwise").is_some_and(|r| r <= 1.3)),
        below("qemu"),
        below("weighted-merged"),
        n = traces.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratio::{Price, RatioRow, Ratios};

    fn trace(name: &str, costs: &[u128]) -> TraceRatios {
        TraceRatios {
            trace: name.into(),
            file: None,
            ratios: [ratios(costs), ratios(&[])],
        }
    }

    fn ratios(costs: &[u128]) -> Ratios {
        Ratios {
            price: Price::Fixed(PRICE_NS),
            waits: 10,
            wait_ns: 1000,
            optimum_ns: 100,
            rows: labels()
                .iter()
                .zip(costs.iter().chain(std::iter::repeat(&200)))
                .map(|(l, &c)| RatioRow {
                    policy: l.clone(),
                    spin_ns: 0,
                    blocks: 0,
                    cost_ns: c,
                })
                .collect(),
        }
    }

    #[test]
    fn the_line_counts_pollwise_against_the_bar_and_both_rules() {
        // Columns: qemu, weighted, weighted-merged, pollwise, ...
        let traces = [
            trace("a", &[150, 200, 140, 120]),
            trace("b", &[150, 200, 140, 145]),
        ];
        let mut md = String::new();
        price_table(&mut md, &traces, 0);
        assert!(
            md.contains("| a | 10 | 1.500 | 2.000 | 1.400 | 1.200 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "pollwise: at most 1.3 on 1 of 2 traces, below `qemu` on 2 and below \
                 `weighted-merged` on 1; its highest 1.450 (b)."
            ),
            "{md}"
        );
    }
}
