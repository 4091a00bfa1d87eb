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

/// Most settings [`scheduler_facts`] reports; the rest are left out.
const MAX_FACTS: usize = 64;

/// What decides where a woken thread runs and how an idle CPU waits, read
/// under `root` (`/` on the host; a test passes a tree of its own): the
/// kernel's release, the cpuidle driver and governor, the parameters of
/// the guest haltpoll cpuidle driver (an idle vCPU polls before it halts)
/// and every `kernel.sched_*` sysctl, as (name, value) in that order,
/// sysctls by name. Best effort: what cannot be read, or is not one short
/// line of text, is left out.
pub fn scheduler_facts(root: &std::path::Path) -> Vec<(String, String)> {
    let read = |rel: &str| -> Option<String> {
        let text = std::fs::read_to_string(root.join(rel)).ok()?;
        let v = text.trim();
        (!v.is_empty() && v.len() <= 80 && !v.contains('\n') && v.chars().all(|c| !c.is_control()))
            .then(|| v.to_string())
    };
    let mut facts: Vec<(String, String)> = [
        ("kernel", "proc/sys/kernel/osrelease"),
        (
            "cpuidle.driver",
            "sys/devices/system/cpu/cpuidle/current_driver",
        ),
        (
            "cpuidle.governor",
            "sys/devices/system/cpu/cpuidle/current_governor_ro",
        ),
    ]
    .iter()
    .filter_map(|&(name, rel)| read(rel).map(|v| (name.to_string(), v)))
    .collect();
    let listed = |dir: &str, prefix: &str, label: &str| -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| read(&format!("{dir}/{n}")).map(|v| (format!("{label}{n}"), v)))
            .collect()
    };
    facts.extend(listed("sys/module/haltpoll/parameters", "", "haltpoll."));
    facts.extend(listed("proc/sys/kernel", "sched_", "kernel."));
    facts.truncate(MAX_FACTS);
    facts
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
    fn scheduler_facts_name_what_places_threads_and_skip_what_is_not_a_setting() {
        let root = std::env::temp_dir().join(format!("pollwise-facts-{}", std::process::id()));
        let put = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put("proc/sys/kernel/osrelease", "6.1.0-test\n");
        put("proc/sys/kernel/sched_vcpu_pack", "15\n");
        put("proc/sys/kernel/sched_autogroup_enabled", "0\n");
        put("proc/sys/kernel/sched_domain_blob", "a\nb\nc\n");
        put("proc/sys/kernel/hostname", "not-a-scheduler-setting\n");
        put(
            "sys/devices/system/cpu/cpuidle/current_driver",
            "haltpoll\n",
        );
        put(
            "sys/module/haltpoll/parameters/guest_halt_poll_ns",
            "200000\n",
        );
        let facts = scheduler_facts(&root);
        std::fs::remove_dir_all(&root).unwrap();
        let want: Vec<(String, String)> = [
            ("kernel", "6.1.0-test"),
            ("cpuidle.driver", "haltpoll"),
            ("haltpoll.guest_halt_poll_ns", "200000"),
            ("kernel.sched_autogroup_enabled", "0"),
            ("kernel.sched_vcpu_pack", "15"),
        ]
        .iter()
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(facts, want);
        // Nothing to read: nothing reported.
        assert!(scheduler_facts(std::path::Path::new("/nonexistent-root")).is_empty());
    }

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
