//! `policy ratio`: every online policy's spin-plus-block cost on one trace
//! of waits against the offline optimum on the same waits.
//!
//! Each policy replays the trace's iterations through core's loop (as
//! `policy replay` does). For a wait `t` under a window `W` in force when
//! the iteration began, the policy pays `t` if `t <= W` (it spun until the
//! event) and `W + price` otherwise (it spun for the window, then blocked).
//! The offline optimum knows every wait and pays `min(t, price)`. The ratio
//! of the two sums is the policy's competitive ratio on this trace at this
//! price; a deterministic spin-then-block rule cannot guarantee better than
//! 2 on adversarial waits (Karlin et al.), a randomized one e/(e-1).
//!
//! The price is either fixed (`Price::Fixed`) or pollwise's model of what
//! a block costs (`Price::InFlight`): a wake-up path `w` of CPU plus its
//! delay weighted by the requests in flight, `w + 8 w / max(n, 1)` with the
//! trace's `in_flight` per wait (`pollwise_core::policies::pollwise`'s
//! `DELAY_WEIGHT`). The optimum and every policy pay the same price per wait.
//!
//! The waits are replayed as recorded: a policy's decisions do not change
//! them (the recording's loop made its own), and a replay has no measured
//! sleeps, so a rule that learns its price from sleeps uses its prior.

use std::io::{Read, Write};

use pollwise_core::DELAY_WEIGHT;
use pollwise_core::{AnyPolicy, Params, PolicyKind};

use crate::effective::effective_text;
use crate::replay::{read_waits, Replayer, Wait};
use crate::LabError;

/// One policy's totals over a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct RatioRow {
    pub policy: String,
    /// Time spent spinning, ns.
    pub spin_ns: u128,
    /// Waits that outlasted the window (each paid the price).
    pub blocks: u64,
    /// Spin plus `blocks` x price.
    pub cost_ns: u128,
}

/// What a block costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Price {
    /// The same for every wait.
    Fixed(u64),
    /// A wake-up path of this many ns, plus its delay weighted by the
    /// requests in flight when the wait began.
    InFlight { wake_ns: u64 },
}

impl Price {
    /// The price of blocking for `wait`.
    pub fn of(self, wait: &Wait) -> u64 {
        match self {
            Price::Fixed(ns) => ns,
            Price::InFlight { wake_ns } => {
                let delay = DELAY_WEIGHT.saturating_mul(wake_ns) / u64::from(wait.in_flight.max(1));
                wake_ns.saturating_add(delay)
            }
        }
    }
}

impl std::fmt::Display for Price {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Price::Fixed(ns) => write!(f, "{ns} ns"),
            Price::InFlight { wake_ns } => write!(
                f,
                "{wake_ns} + {DELAY_WEIGHT} x {wake_ns} / max(in_flight, 1) ns"
            ),
        }
    }
}

/// The totals of every policy, and the optimum's.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratios {
    pub price: Price,
    pub waits: u64,
    pub wait_ns: u128,
    pub optimum_ns: u128,
    pub rows: Vec<RatioRow>,
}

impl Ratios {
    /// `row`'s cost over the optimum's; `None` when the optimum paid
    /// nothing (every wait was 0).
    pub fn ratio(&self, row: &RatioRow) -> Option<f64> {
        (self.optimum_ns > 0).then(|| row.cost_ns as f64 / self.optimum_ns as f64)
    }
}

/// What a window `w` spins for a wait `t`, and whether it then blocked.
fn spun(t: u64, w: u64) -> (u64, bool) {
    if t <= w {
        (t, false)
    } else {
        (w, true)
    }
}

/// The most waits [`ratios`] reads: each is held in memory (about 80 bytes
/// with its handler list) until every policy has replayed it, so 8 million
/// is about 640 MB; a second of a busy loop's trace is 10-30 thousand.
pub const MAX_WAITS: usize = 8_000_000;

/// Replays the waits of `input` through each of `policies` at block price
/// `price_ns`. `name` names the input in errors.
pub fn ratios<R: Read>(
    policies: &[Params],
    input: R,
    name: &str,
    price: Price,
) -> Result<Ratios, LabError> {
    let waits = read_at_most(input, name, MAX_WAITS)?;
    ratios_of(policies, &waits, name, price)
}

/// The waits of `input`, each with its line, refused past `max` of them.
fn read_at_most<R: Read>(input: R, name: &str, max: usize) -> Result<Vec<(usize, Wait)>, LabError> {
    let mut waits: Vec<(usize, Wait)> = Vec::new();
    read_waits(input, name, |line, w| {
        if waits.len() >= max {
            return Err(LabError::Input(format!(
                "{name}: line {line}: more than {max} waits; `policy ratio` holds every wait in \
                 memory (about 80 bytes each) to replay it once per policy: give a shorter \
                 trace (`head -n {} {name}` keeps the header and the first {max})",
                max + 1
            )));
        }
        waits.push((line, w));
        Ok(())
    })?;
    Ok(waits)
}

/// [`ratios`] over waits already read, each with the line (or iteration
/// number) that errors name.
pub fn ratios_of(
    policies: &[Params],
    waits: &[(usize, Wait)],
    name: &str,
    price: Price,
) -> Result<Ratios, LabError> {
    if waits.is_empty() {
        return Err(LabError::Input(format!(
            "{name} has no waits: give a trace with a header row and one row per iteration"
        )));
    }
    let optimum_ns = waits
        .iter()
        .map(|(_, w)| u128::from(w.block_ns.min(price.of(w))))
        .sum();
    let mut rows = Vec::new();
    for params in policies {
        let policy = AnyPolicy::new(params.clone());
        let mut r = Replayer::new(&policy)?;
        let mut row = RatioRow {
            policy: format!("{} {}", params.kind(), effective_text(params)),
            spin_ns: 0,
            blocks: 0,
            cost_ns: 0,
        };
        for (line, w) in waits {
            let (spin, blocked) = spun(w.block_ns, r.window_ns());
            row.spin_ns += u128::from(spin);
            row.blocks += u64::from(blocked);
            row.cost_ns += u128::from(spin) + u128::from(blocked) * u128::from(price.of(w));
            r.step(w, name, *line)?;
        }
        rows.push(row);
    }
    Ok(Ratios {
        price,
        waits: waits.len() as u64,
        wait_ns: waits.iter().map(|(_, w)| u128::from(w.block_ns)).sum(),
        optimum_ns,
        rows,
    })
}

/// Every online policy at its defaults, in the registry's order.
pub fn online_defaults() -> Vec<Params> {
    PolicyKind::ALL
        .into_iter()
        .filter(|k| !k.is_clairvoyant())
        .map(Params::defaults)
        .collect()
}

/// The table `policy ratio` prints.
pub fn write_ratios(out: &mut dyn Write, r: &Ratios) -> std::io::Result<()> {
    let ms = |ns: u128| ns as f64 / 1e6;
    writeln!(
        out,
        "price of a block: {}; offline optimum per wait: min(wait, price)\n\
         {} {}, {:.3} ms of waiting; optimum {:.3} ms\n",
        r.price,
        r.waits,
        if r.waits == 1 { "wait" } else { "waits" },
        ms(r.wait_ns),
        ms(r.optimum_ns)
    )?;
    // The policy column as wide as its longest name, so the numbers line up.
    let w = r
        .rows
        .iter()
        .map(|x| x.policy.len())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "{:<w$} {:>10} {:>8} {:>10} {:>7}",
        "policy", "spin ms", "blocks", "cost ms", "ratio"
    )?;
    for row in &r.rows {
        let ratio = r
            .ratio(row)
            .map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        writeln!(
            out,
            "{:<w$} {:>10.3} {:>8} {:>10.3} {:>7}",
            row.policy,
            ms(row.spin_ns),
            row.blocks,
            ms(row.cost_ns),
            ratio
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kinds: &[PolicyKind], text: &str, price: u64) -> Result<Ratios, LabError> {
        let params: Vec<Params> = kinds.iter().map(|&k| Params::defaults(k)).collect();
        ratios(&params, text.as_bytes(), "t.csv", Price::Fixed(price))
    }

    #[test]
    fn never_polling_and_always_polling_cost_what_they_should() {
        // Price 10000, waits 1000 and 20000: the optimum spins 1000 and
        // blocks for the other, 11000. `off` blocks for both: 20000, ratio
        // 1.818. `fixed` polls 32768 every time and catches both: 21000.
        let r = run(
            &[PolicyKind::Off, PolicyKind::Fixed],
            "block_ns\n1000\n20000\n",
            10_000,
        )
        .unwrap();
        assert_eq!((r.waits, r.wait_ns, r.optimum_ns), (2, 21_000, 11_000));
        let got: Vec<(u128, u64, u128)> = r
            .rows
            .iter()
            .map(|x| (x.spin_ns, x.blocks, x.cost_ns))
            .collect();
        assert_eq!(got, [(0, 2, 20_000), (21_000, 0, 21_000)]);
        let mut out = Vec::new();
        write_ratios(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("1.818") && text.contains("1.909"), "{text}");
    }

    #[test]
    fn a_window_that_misses_pays_the_window_and_the_price() {
        // QEMU's rule starts at 0: the first 1000 ns wait blocks (10000),
        // then the window is 4000: the second 1000 is spun, the 6000 after
        // it spins 4000 and blocks (14000). Optimum 1000 + 1000 + 6000.
        let r = run(&[PolicyKind::Qemu], "block_ns\n1000\n1000\n6000\n", 10_000).unwrap();
        assert_eq!(r.optimum_ns, 8000);
        assert_eq!(
            (r.rows[0].spin_ns, r.rows[0].blocks, r.rows[0].cost_ns),
            (5000, 2, 25_000)
        );
    }

    #[test]
    fn an_empty_trace_and_a_clairvoyant_policy_are_errors() {
        let e = run(&[PolicyKind::Qemu], "block_ns\n", 10_000).unwrap_err();
        assert!(e.to_string().contains("no waits"), "{e}");
        let e = run(&[PolicyKind::Clairvoyant], "block_ns\n5\n", 10_000).unwrap_err();
        assert!(e.to_string().contains("clairvoyant"), "{e}");
    }

    #[test]
    fn the_in_flight_price_follows_each_wait() {
        // Wake-up 1000: with 8 in flight a block costs 1000 + 8000 / 8 =
        // 2000, with none 9000. Waits of 5000 at each: the optimum blocks
        // the first (2000) and spins the second (5000); `off` pays 11000.
        let params = [Params::defaults(PolicyKind::Off)];
        let text = "block_ns,in_flight\n5000,8\n5000,0\n";
        let r = ratios(
            &params,
            text.as_bytes(),
            "t",
            Price::InFlight { wake_ns: 1000 },
        )
        .unwrap();
        assert_eq!((r.optimum_ns, r.rows[0].cost_ns), (7000, 11_000));
    }

    /// The table names each policy's parameters as they act (QEMU's
    /// poll-grow 0 is 2) and lines its numbers up however long the names.
    #[test]
    fn the_table_shows_parameters_as_they_act_in_aligned_columns() {
        let text = "block_ns,handler\n5,0\n7000,0\n";
        let r = ratios(
            &online_defaults(),
            text.as_bytes(),
            "t.csv",
            Price::Fixed(24_000),
        )
        .unwrap();
        let mut out = Vec::new();
        write_ratios(&mut out, &r).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("\nqemu poll-max-ns=32768 poll-grow=2 poll-shrink=0 "),
            "{out}"
        );
        let table: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("policy"))
            .collect();
        let at = table[0].find("spin ms").unwrap() + "spin ms".len();
        for line in &table[1..] {
            // Each row's spin column ends where the header's does.
            let cut = &line[..at];
            assert!(cut.ends_with(|c: char| c.is_ascii_digit()), "{line}");
        }
    }

    #[test]
    fn a_trace_past_the_most_waits_is_refused_with_how_to_shorten_it() {
        let text = "block_ns,handler,in_flight\n1,0,1\n2,0,1\n3,0,1\n";
        let three = read_at_most(text.as_bytes(), "w.csv", 3).unwrap();
        assert_eq!(three.len(), 3);
        let err = read_at_most(text.as_bytes(), "w.csv", 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4: more than 2 waits"), "{err}");
        assert!(err.contains("head -n 3 w.csv"), "{err}");
    }
}
