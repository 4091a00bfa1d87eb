//! Reading the host: other load and steal time from /proc/stat, and what a
//! read of the thread CPU clock costs.

use pollwise_stats::median;

use crate::sys::thread_cpu_ns;

/// The aggregate `cpu` line of /proc/stat: (busy, steal, total) in ticks,
/// busy excluding idle, iowait and steal.
pub fn proc_stat_cpu(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    if v.len() < 8 {
        return None;
    }
    // guest time is already counted in user.
    let total: u64 = v[..8].iter().sum();
    let busy = total - v[3] - v[4] - v[7];
    Some((busy, v[7], total))
}

/// Other load between two /proc/stat samples: (CPUs' worth of busy time,
/// fraction stolen). `cpus` scales the busy fraction to CPUs.
pub fn load_between(before: (u64, u64, u64), after: (u64, u64, u64), cpus: usize) -> (f64, f64) {
    let total = after.2.saturating_sub(before.2);
    if total == 0 {
        return (0.0, 0.0);
    }
    let busy = after.0.saturating_sub(before.0) as f64 / total as f64;
    let steal = after.1.saturating_sub(before.1) as f64 / total as f64;
    (busy * cpus as f64, steal)
}

/// Sleeps `ms` and reports other load meanwhile; (0, 0) where /proc/stat
/// cannot be read.
pub(super) fn idle_load(ms: u64) -> (f64, f64) {
    let read = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| proc_stat_cpu(&t))
    };
    let cpus = cpus();
    let Some(before) = read() else {
        return (0.0, 0.0);
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    read().map_or((0.0, 0.0), |after| load_between(before, after, cpus))
}

/// What one read of the thread CPU clock adds to a CPU-clock interval (it
/// is a system call), the median of back-to-back reads.
pub fn cpu_clock_cost() -> u64 {
    let d: Vec<u64> = (0..200)
        .map(|_| {
            let a = thread_cpu_ns();
            thread_cpu_ns() - a
        })
        .collect();
    median(&ns(&d)) as u64
}

/// Nanosecond counts as numbers for the statistics.
pub(super) fn ns(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The CPUs this process may run on.
pub(super) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_load_by_hand() {
        let a = "cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n";
        let b = "cpu  150 0 70 1500 10 0 0 50 0 0\n";
        // busy 150 -> 220 (+70), steal +10, total 1000 -> 1780 (+780).
        assert_eq!(proc_stat_cpu(a), Some((150, 40, 1000)));
        let (load, steal) = load_between(proc_stat_cpu(a).unwrap(), proc_stat_cpu(b).unwrap(), 2);
        assert!((load - 2.0 * 70.0 / 780.0).abs() < 1e-12);
        assert!((steal - 10.0 / 780.0).abs() < 1e-12);
        assert_eq!(proc_stat_cpu("intr 1 2"), None);
    }
}
