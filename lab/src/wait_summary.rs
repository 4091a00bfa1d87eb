//! `policy waits`: a recorded trace of waits summarised per handler and
//! per where the wait ended, so that a reader sees what a loop waited for
//! without a script: how many, their share, and their 10th, 50th and 90th
//! percentiles and mean.
//!
//! Two traces of the same point under two policies, summarised side by
//! side, show what a policy's own choices do to the waits that follow
//! (which `policy ratio`, replaying the waits as recorded, cannot): on a
//! host where a polling loop keeps its producer on another CPU, the wait
//! for the producer's next request grows.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::formats::waits::WaitEnd;
use crate::replay::read_waits;
use crate::stats::{mean, quantile_sorted};
use crate::LabError;

/// The waits of one handler set that ended one way.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitGroup {
    /// The handlers that had the work, ids separated by ';' (empty: none).
    pub handlers: String,
    pub end: Option<WaitEnd>,
    pub count: usize,
    /// 10th, 50th and 90th percentiles and the mean, in ns.
    pub p10_ns: f64,
    pub p50_ns: f64,
    pub p90_ns: f64,
    pub mean_ns: f64,
}

/// Every group of `input`'s waits, ordered by handlers, then end.
pub fn summarize<R: Read>(input: R, name: &str) -> Result<Vec<WaitGroup>, LabError> {
    // Keyed by the handler set (ids in order, each once) and the end, so
    // "1;0" and "0;1" are one group and groups sort by number.
    let mut groups: BTreeMap<(Vec<u32>, Option<WaitEnd>), Vec<f64>> = BTreeMap::new();
    read_waits(input, name, |_, mut w| {
        w.handlers.sort_unstable();
        w.handlers.dedup();
        groups
            .entry((w.handlers, w.end))
            .or_default()
            .push(w.block_ns as f64);
        Ok(())
    })?;
    if groups.is_empty() {
        return Err(LabError::Input(format!(
            "{name} has no waits: give a trace with a header row and one row per iteration"
        )));
    }
    Ok(groups
        .into_iter()
        .map(|((handlers, end), mut waits)| {
            // Sorted in place: no second copy of a large trace.
            waits.sort_unstable_by(f64::total_cmp);
            let [p10, p50, p90] = [0.1, 0.5, 0.9].map(|q| quantile_sorted(&waits, q));
            let handlers: Vec<String> = handlers.iter().map(u32::to_string).collect();
            WaitGroup {
                handlers: handlers.join(";"),
                end,
                count: waits.len(),
                p10_ns: p10,
                p50_ns: p50,
                p90_ns: p90,
                mean_ns: mean(&waits),
            }
        })
        .collect())
}

/// The table `policy waits` prints.
pub fn write_summary(out: &mut dyn Write, groups: &[WaitGroup]) -> std::io::Result<()> {
    let total: usize = groups.iter().map(|g| g.count).sum();
    let waits = if total == 1 { "wait" } else { "waits" };
    writeln!(
        out,
        "{total} {waits}, each from its iteration's start to its work (us)\n"
    )?;
    writeln!(
        out,
        "{:<10} {:<10} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "handler", "end", "waits", "share", "p10", "p50", "p90", "mean"
    )?;
    for g in groups {
        let handlers = if g.handlers.is_empty() {
            "-"
        } else {
            &g.handlers
        };
        writeln!(
            out,
            "{:<10} {:<10} {:>8} {:>5.1}% {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            handlers,
            g.end.map_or("-", WaitEnd::name),
            g.count,
            100.0 * g.count as f64 / total as f64,
            g.p10_ns / 1000.0,
            g.p50_ns / 1000.0,
            g.p90_ns / 1000.0,
            g.mean_ns / 1000.0
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_grouped_by_handler_and_end() {
        let text = "block_ns,handler,in_flight,how\n\
                    1000,0,1,polled\n3000,0,1,polled\n2000,0,1,polled\n\
                    30000,1,1,woken\n500,,0,\n";
        let g = summarize(text.as_bytes(), "t.csv").unwrap();
        let keys: Vec<_> = g
            .iter()
            .map(|g| (g.handlers.as_str(), g.end, g.count))
            .collect();
        assert_eq!(
            keys,
            [
                ("", None, 1),
                ("0", Some(WaitEnd::Polled), 3),
                ("1", Some(WaitEnd::Woken), 1)
            ]
        );
        assert_eq!((g[1].p50_ns, g[1].mean_ns), (2000.0, 2000.0));
        let mut out = Vec::new();
        write_summary(&mut out, &g).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("5 waits,"), "{text}");
        assert!(
            text.contains("0          polled            3  60.0%"),
            "{text}"
        );
    }

    #[test]
    fn one_handler_set_is_one_group_in_numeric_order() {
        let text = "block_ns,handler,how\n1000,1;0,polled\n2000,0;1;1,polled\n3000,10,polled\n\
                    4000,2,polled\n";
        let g = summarize(text.as_bytes(), "t.csv").unwrap();
        let keys: Vec<_> = g.iter().map(|g| (g.handlers.as_str(), g.count)).collect();
        assert_eq!(keys, [("0;1", 2), ("2", 1), ("10", 1)]);
    }

    #[test]
    fn an_unknown_end_is_refused_with_the_names_that_are_known() {
        let text = "block_ns,handler,how\n1000,0,slept\n";
        let e = summarize(text.as_bytes(), "t.csv").unwrap_err().to_string();
        assert!(
            e.contains("t.csv: line 2: how 'slept' is not where a wait ends")
                && e.contains("polled, rechecked, doorbell, woken, seen"),
            "{e}"
        );
    }
}
