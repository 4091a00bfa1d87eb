//! What `pollwise bench` times: the simulator against the practical limit
//! of any event-queue simulator, a bare binary-heap loop, in one run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

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

/// The fastest of `repeat` timings of `f` in seconds, and its last value.
pub fn best_of<T>(repeat: u32, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one repetition"))
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

/// Simulated I/Os per wall second of the SimPy model of the same closed
/// loop (`python3 SCRIPT 4 0.2`, whose last line ends
/// `= N simulated IOs/s; ...`), or why there is none.
pub fn simpy_ios_per_s(script: &std::path::Path) -> Result<f64, String> {
    if !script.is_file() {
        return Err(format!("{} not found", script.display()));
    }
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(["4", "0.2"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .split("= ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse::<f64>().ok());
    match rate {
        Some(r) if out.status.success() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{} printed no rate (is simpy installed? `pip install simpy`): {}",
            script.display(),
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
    fn the_heap_loop_is_deterministic_and_depends_on_its_length() {
        assert_eq!(heap_loop(10_000, 8), heap_loop(10_000, 8));
        assert_ne!(heap_loop(10_000, 8), heap_loop(10_001, 8));
    }
}
