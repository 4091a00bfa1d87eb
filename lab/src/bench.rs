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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heap_loop_is_deterministic_and_depends_on_its_length() {
        assert_eq!(heap_loop(10_000, 8), heap_loop(10_000, 8));
        assert_ne!(heap_loop(10_000, 8), heap_loop(10_001, 8));
    }
}
