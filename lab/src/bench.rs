//! What `pollwise bench` times: the simulator against the practical limit
//! of any event-queue simulator, a bare binary-heap loop, in one run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use pollwise_stats::{median, paired_median_ci, Interval};

/// The bare loop: pops the earliest event and pushes a successor, with a
/// queue as deep as the simulation's and entries of the same size.
pub fn heap_loop(events: u64, depth: u64) -> u64 {
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let next = |x: &mut u64| {
        // xorshift: cheap, deterministic delays
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % 20_000
    };
    for i in 0..depth {
        heap.push(Reverse((next(&mut x), i, i)));
    }
    let mut checksum = 0u64;
    for seq in 0..events {
        let Reverse((t, _, v)) = heap.pop().expect("the queue never empties");
        checksum = checksum.wrapping_add(v);
        heap.push(Reverse((t + next(&mut x), depth + seq, v ^ seq)));
    }
    checksum
}

/// The time `f` takes, in seconds, and its value.
pub fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let v = f();
    (start.elapsed().as_secs_f64(), v)
}

/// A ratio of two speeds measured side by side: the median of the
/// per-round ratios and its 95% percentile-bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioEstimate {
    pub median: f64,
    /// `None` with fewer than two rounds.
    pub ci: Option<Interval>,
    pub rounds: usize,
}

impl RatioEstimate {
    /// From the ratio each round measured (seeded, so the same rounds give
    /// the same interval).
    pub fn of(ratios: &[f64]) -> RatioEstimate {
        RatioEstimate {
            median: median(ratios),
            ci: paired_median_ci(ratios, 0.95, 1),
            rounds: ratios.len(),
        }
    }
}

impl std::fmt::Display for RatioEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ci {
            Some(ci) => write!(
                f,
                "{:.2} [{:.2}, {:.2}] (median of {} interleaved rounds, 95% bootstrap interval)",
                self.median, ci.lo, ci.hi, self.rounds
            ),
            None => write!(f, "{:.2} (one round)", self.median),
        }
    }
}

/// `rounds` rounds (at least one) of measuring the speeds `a` and `b`
/// back to back, in an order that alternates from one round to the next,
/// after one unmeasured run of each to warm up: each round's pair of
/// speeds. Interleaving puts a burst of other load on a shared machine into
/// one round's ratio instead of one side's every measurement.
pub fn interleaved(
    rounds: u32,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> Vec<(f64, f64)> {
    let _ = (a(), b());
    (0..rounds.max(1))
        .map(|round| {
            if round % 2 == 0 {
                let sa = a();
                (sa, b())
            } else {
                let sb = b();
                (a(), sb)
            }
        })
        .collect()
}

/// The per-round ratios `a / b` of [`interleaved`]'s speeds.
pub fn ratios(speeds: &[(f64, f64)]) -> Vec<f64> {
    speeds.iter().map(|&(a, b)| a / b).collect()
}

/// The median speed of each side of [`interleaved`]'s rounds.
pub fn median_speeds(speeds: &[(f64, f64)]) -> (f64, f64) {
    let side = |f: fn(&(f64, f64)) -> f64| median(&speeds.iter().map(f).collect::<Vec<_>>());
    (side(|s| s.0), side(|s| s.1))
}

/// Allocations made by this process so far, when it is built with the
/// `count-allocs` feature (a counting global allocator; release builds
/// without it allocate through the system allocator untouched).
pub fn allocations() -> Option<u64> {
    #[cfg(feature = "count-allocs")]
    return Some(counting::ALLOCS.load(std::sync::atomic::Ordering::Relaxed));
    #[cfg(not(feature = "count-allocs"))]
    None
}

#[cfg(feature = "count-allocs")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static ALLOCS: AtomicU64 = AtomicU64::new(0);

    struct Counting;

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            unsafe { System.realloc(ptr, layout, size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;
}

/// The SimPy model `pollwise bench` compares the simulator with
/// (lab/bench/simpy_closed_loop.py, compiled in).
pub const SIMPY_MODEL: &str = include_str!("../bench/simpy_closed_loop.py");

/// Simulated I/Os per wall second of a SimPy model of the closed loop at 4
/// jobs for 0.2 simulated seconds: `script` if given, else [`SIMPY_MODEL`]
/// (fed to `python3 -` on standard input). An error says why when python3
/// or simpy is missing or the script printed no rate.
pub fn simpy_ios_per_s(script: Option<&std::path::Path>) -> Result<f64, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("python3");
    match script {
        Some(path) if !path.is_file() => return Err(format!("{} not found", path.display())),
        Some(path) => cmd.arg(path),
        None => cmd.arg("-"),
    };
    let mut child = cmd
        .args(["4", "0.2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        if script.is_none() {
            // A python3 that exits early closes the pipe; its stderr says why.
            let _ = stdin.write_all(SIMPY_MODEL.as_bytes());
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("python3 failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("simulated_ios_per_wall_second "))
        .and_then(|n| n.trim().parse::<f64>().ok());
    let name = script.map_or("the SimPy model".into(), |p| p.display().to_string());
    match rate {
        Some(r) if out.status.success() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{name} printed no `simulated_ios_per_wall_second N` line (is simpy 3 or later \
             installed? `pip install simpy`): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_rounds_alternate_their_order_and_pair_each_rounds_speeds() {
        let order = std::cell::RefCell::new(String::new());
        let speeds = interleaved(
            4,
            || {
                order.borrow_mut().push('a');
                6.0
            },
            || {
                order.borrow_mut().push('b');
                2.0
            },
        );
        // One warm-up of each, then ab, ba, ab, ba.
        assert_eq!(order.into_inner(), "ababbaabba");
        assert_eq!(speeds, vec![(6.0, 2.0); 4]);
        assert_eq!(ratios(&speeds), vec![3.0; 4]);
        assert_eq!(
            median_speeds(&[(1.0, 9.0), (3.0, 7.0), (2.0, 8.0)]),
            (2.0, 8.0)
        );
        assert_eq!(interleaved(0, || 1.0, || 2.0).len(), 1);
    }

    #[test]
    fn a_ratio_estimate_is_the_median_with_its_interval() {
        let e = RatioEstimate::of(&[0.5, 0.6, 0.7, 0.65, 0.55]);
        assert_eq!(e.median, 0.6);
        let ci = e.ci.expect("five rounds give an interval");
        assert!(
            ci.lo <= 0.6 && 0.6 <= ci.hi && ci.lo >= 0.5 && ci.hi <= 0.7,
            "{ci:?}"
        );
        assert!(e.to_string().starts_with("0.60 ["), "{e}");
        assert_eq!(RatioEstimate::of(&[0.5]).to_string(), "0.50 (one round)");
    }

    #[test]
    fn the_heap_loop_is_deterministic_and_depends_on_its_length() {
        assert_eq!(heap_loop(10_000, 8), heap_loop(10_000, 8));
        assert_ne!(heap_loop(10_000, 8), heap_loop(10_001, 8));
    }
}
