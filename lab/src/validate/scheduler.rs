//! The host a preset was calibrated on against the host at hand: the
//! scheduler settings calibrate records (`[host] scheduler`) and the note
//! `validate` prints when they differ.

/// Where the scheduler of the host at hand differs from the one a preset
/// was calibrated on (`[host] scheduler`), as "name: there -> here" (a
/// setting one side lacks reads `(none)`); empty when the preset records
/// nothing or nothing differs.
pub fn scheduler_changes(recorded: &[String], here: &[(String, String)]) -> Vec<String> {
    if recorded.is_empty() {
        return Vec::new();
    }
    let there: Vec<(&str, &str)> = recorded.iter().filter_map(|f| f.split_once('=')).collect();
    let value = |list: &[(&str, &str)], name: &str| {
        list.iter()
            .find(|(n, _)| *n == name)
            .map_or("(none)".to_string(), |(_, v)| (*v).to_string())
    };
    let here: Vec<(&str, &str)> = here.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    // Every name once, in the order the two lists first name it.
    let mut names: Vec<&str> = Vec::new();
    for &(n, _) in there.iter().chain(&here) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .filter_map(|n| {
            let (a, b) = (value(&there, n), value(&here, n));
            (a != b).then(|| format!("{n}: {a} -> {b}"))
        })
        .collect()
}

/// The note for a preset calibrated on a host whose scheduler differs from
/// this one's: its wake-up and placement measurements may not hold here.
pub fn scheduler_note(preset: &pollwise_sim::Preset) -> Option<String> {
    let recorded = &preset.host.as_ref()?.scheduler;
    let here = pollwise_realdev::calibrate::scheduler_facts(std::path::Path::new("/"));
    let changes = scheduler_changes(recorded, &here);
    (!changes.is_empty()).then(|| {
        format!(
            "note: this host's scheduler differs from the one the preset was calibrated on \
             ({}); where woken threads run and how long wake-ups take may differ too: \
             calibrate on this host (`pollwise realdev calibrate`) before trusting the \
             absolute numbers",
            changes.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_changes_name_each_setting_that_differs_once() {
        let recorded: Vec<String> = [
            "kernel=6.1",
            "kernel.sched_vcpu_pack=15",
            "cpuidle.driver=haltpoll",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let here = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|&(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let same = here(&[
            ("kernel", "6.1"),
            ("cpuidle.driver", "haltpoll"),
            ("kernel.sched_vcpu_pack", "15"),
        ]);
        assert!(scheduler_changes(&recorded, &same).is_empty());
        let other = here(&[
            ("kernel", "6.2"),
            ("cpuidle.driver", "haltpoll"),
            ("kernel.sched_autogroup_enabled", "1"),
        ]);
        assert_eq!(
            scheduler_changes(&recorded, &other),
            [
                "kernel: 6.1 -> 6.2",
                "kernel.sched_vcpu_pack: 15 -> (none)",
                "kernel.sched_autogroup_enabled: (none) -> 1",
            ]
        );
        // A preset that records nothing is compared with nothing.
        assert!(scheduler_changes(&[], &other).is_empty());
    }
}
