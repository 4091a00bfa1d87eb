//! A loop's waits as the CSV `policy replay` and `policy ratio` read:
//! one row per iteration, the wait from the iteration's start to its work.
//!
//! ```text
//! pub const WAITS_HEADER: &str
//! pub enum WaitEnd { Polled, Rechecked, Doorbell, Woken, Seen }
//! impl WaitEnd { pub const ALL: [WaitEnd; 5]; pub fn name(self) -> &'static str; pub fn parse(text: &str) -> Option<WaitEnd> }
//! pub fn wait_of(r: &IterRecord) -> (u64, WaitEnd)
//! pub fn handler_ids(r: &IterRecord) -> impl Iterator<Item = u32> + '_
//! pub fn write_waits<W: Write>(out: W, records: &[IterRecord], path: &Path) -> Result<(), LabError>
//! ```
//!
//! Where a wait ends, per iteration (the `how` column):
//!
//! - `polled`: the poll phase found the work; the wait is the poll time.
//! - `rechecked`: the re-check before sleeping found it; the wait runs to
//!   that re-check.
//! - `doorbell`: the loop slept and the host knows when the work arrived
//!   (the device: when the submission queue's doorbell rang); the wait
//!   runs to the arrival, without the wake-up.
//! - `woken`: the loop slept and the host does not know when the work
//!   arrived (the device: a completion, written by the kernel, woke it);
//!   the wait runs to when the loop noticed the work, the wake-up included.
//!
//! QEMU's harness writes the same columns (its `how` is `doorbell` or
//! `seen`; see qemu/harness/pollwise-qemu-harness.c).

use std::io::Write;
use std::path::Path;

use pollwise_core::IterRecord;

use crate::LabError;

/// The header of a waits CSV.
pub const WAITS_HEADER: &str = "block_ns,handler,in_flight,how";

/// Where an iteration's wait ends (see the module). `Seen` is QEMU's
/// harness's: a poll callback found the work, a kick was read or a
/// completion reached the block layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitEnd {
    Polled,
    Rechecked,
    Doorbell,
    Woken,
    Seen,
}

impl WaitEnd {
    pub const ALL: [WaitEnd; 5] = [
        WaitEnd::Polled,
        WaitEnd::Rechecked,
        WaitEnd::Doorbell,
        WaitEnd::Woken,
        WaitEnd::Seen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WaitEnd::Polled => "polled",
            WaitEnd::Rechecked => "rechecked",
            WaitEnd::Doorbell => "doorbell",
            WaitEnd::Woken => "woken",
            WaitEnd::Seen => "seen",
        }
    }

    /// The end a waits file's `how` cell names.
    pub fn parse(text: &str) -> Option<WaitEnd> {
        WaitEnd::ALL.into_iter().find(|e| e.name() == text)
    }
}

/// The wait of iteration `r` (ns) and where it ends. A slept iteration's
/// `wake_ns`, when known, runs from the work's arrival to the loop
/// noticing it, so the arrival is `wait_ns - wake_ns` after the start.
pub fn wait_of(r: &IterRecord) -> (u64, WaitEnd) {
    if r.polled {
        return (r.wait_ns, WaitEnd::Polled);
    }
    match r.wake_ns {
        Some(wake) => (r.wait_ns.saturating_sub(wake), WaitEnd::Doorbell),
        None if r.slept_ns > 0 => (r.wait_ns, WaitEnd::Woken),
        None => (r.wait_ns, WaitEnd::Rechecked),
    }
}

/// The handler ids of a record's bitmask, in order.
pub fn handler_ids(r: &IterRecord) -> impl Iterator<Item = u32> + '_ {
    (0..64).filter(|h| r.handlers & (1 << h) != 0)
}

/// Writes one row per record: `block_ns,handler,in_flight,how`, the
/// handlers as ids separated by ';'. `path` names the file in errors.
pub fn write_waits<W: Write>(
    mut out: W,
    records: &[IterRecord],
    path: &Path,
) -> Result<(), LabError> {
    let io = |e: std::io::Error| LabError::File {
        path: path.to_path_buf(),
        error: e,
    };
    writeln!(out, "{WAITS_HEADER}").map_err(io)?;
    for r in records {
        let (wait, end) = wait_of(r);
        let handlers: Vec<String> = handler_ids(r).map(|h| h.to_string()).collect();
        writeln!(
            out,
            "{wait},{},{},{}",
            handlers.join(";"),
            r.in_flight,
            end.name()
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rec(
        wait_ns: u64,
        polled: bool,
        slept_ns: u64,
        wake_ns: Option<u64>,
    ) -> IterRecord {
        IterRecord {
            start_ns: 1000,
            poll_ns: if polled { wait_ns } else { 300 },
            polled,
            wait_ns,
            slept_ns,
            wake_ns,
            handlers: 0b10,
            in_flight: 4,
            ..IterRecord::default()
        }
    }

    #[test]
    fn each_kind_of_iteration_waits_until_its_work() {
        // Polled at 2500; re-checked at 800; slept 5000 then the doorbell
        // rang 1200 before it was noticed at 9000 (arrival at 7800); slept
        // and woken by a completion at 9000, arrival unknown.
        let cases = [
            (rec(2500, true, 0, None), (2500, WaitEnd::Polled)),
            (rec(800, false, 0, None), (800, WaitEnd::Rechecked)),
            (
                rec(9000, false, 5000, Some(1200)),
                (7800, WaitEnd::Doorbell),
            ),
            (rec(9000, false, 8700, None), (9000, WaitEnd::Woken)),
        ];
        for (r, want) in cases {
            assert_eq!(wait_of(&r), want, "{r:?}");
        }
    }
}
