//! Presets: the embedded ones load, and bad ones are refused with a message
//! that names the key and says what would be right.

use pollwise_sim::{Preset, SimError};

fn err(text: &str) -> String {
    match Preset::from_toml(text, "test.toml") {
        Ok(_) => panic!("accepted a bad preset"),
        Err(e) => e.to_string(),
    }
}

fn optane_text() -> String {
    Preset::load("optane-p4800x").unwrap().to_toml()
}

#[test]
fn every_embedded_preset_loads_and_round_trips() {
    for name in Preset::names() {
        let p = Preset::load(name).unwrap();
        assert_eq!(p.name, name);
        let again = Preset::from_toml(&p.to_toml(), name).unwrap();
        assert_eq!(again, p);
    }
}

#[test]
fn optane_matrix_is_the_design_table() {
    let p = Preset::load("optane-p4800x").unwrap();
    // randread and randwrite x 8k, 128k x numjobs 1/4/8/16 x 1/2 IOThreads.
    assert_eq!(p.matrix.workloads().len(), 32);
    assert_eq!(p.matrix.iodepth, 8);
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let e = Preset::load("optane").unwrap_err().to_string();
    assert!(e.contains("unknown preset 'optane'"), "{e}");
    assert!(
        e.contains("optane-p4800x") && e.contains("fcp-16disk"),
        "{e}"
    );
}

#[test]
fn missing_file_says_so() {
    let e = Preset::load("no/such/preset.toml").unwrap_err().to_string();
    assert!(
        e.contains("cannot read preset file 'no/such/preset.toml'"),
        "{e}"
    );
}

#[test]
fn unknown_key_is_named() {
    let text = optane_text().replace("vcpus = 8", "vcpus = 8\nvcpu_count = 8");
    let e = err(&text);
    assert!(e.contains("vcpu_count"), "{e}");
}

#[test]
fn out_of_range_values_name_the_key_and_range() {
    let e = err(&optane_text().replace("vcpus = 8", "vcpus = 0"));
    assert!(
        e.contains("guest.vcpus = 0") && e.contains("1 ..= 1024"),
        "{e}"
    );
    let e = err(&optane_text().replace("sigma = 0.15", "sigma = -1.0"));
    assert!(
        e.contains("read_latency.sigma") && e.contains("0 ..= 4"),
        "{e}"
    );
    let sigma = Preset::load("optane-p4800x")
        .unwrap()
        .guest
        .io_cpu_jitter_sigma;
    let text = optane_text().replace(
        &format!("io_cpu_jitter_sigma = {sigma}"),
        "io_cpu_jitter_sigma = 9.0",
    );
    assert_ne!(text, optane_text(), "the key was not found to change");
    let e = err(&text);
    assert!(e.contains("io_cpu_jitter_sigma"), "{e}");
}

#[test]
fn negative_number_is_a_parse_error_naming_the_key() {
    let it = Preset::load("optane-p4800x").unwrap().iothread.iteration_ns;
    let text = optane_text().replace(
        &format!("iteration_ns = {it}"),
        &format!("iteration_ns = -{it}"),
    );
    assert_ne!(text, optane_text(), "the key was not found to change");
    let e = err(&text);
    assert!(e.contains("iteration_ns"), "{e}");
}

#[test]
fn unknown_distribution_kind_is_refused() {
    let text = optane_text().replace("kind = \"lognormal\"", "kind = \"weibull\"");
    let e = err(&text);
    assert!(e.contains("weibull"), "{e}");
}

#[test]
fn empirical_histogram_needs_consistent_bounds() {
    let text = optane_text();
    let start = text.find("[device.read_latency]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |i| start + i);
    let bad = format!(
        "{}[device.read_latency]\nkind = \"empirical\"\nbounds_ns = [1000, 500]\nweights = [1.0]\n{}",
        &text[..start],
        &text[end..]
    );
    let e = err(&bad);
    assert!(e.contains("strictly increasing"), "{e}");
    assert!(matches!(
        Preset::from_toml(&bad, "x"),
        Err(SimError::Preset(_))
    ));
}

const HOST: &str = "
[host]
cpus = 2
background_load_cpus = 0.05
steal_frac = 0.01
eventfd_wakeup_ns = [20000, 40000, 90000, 300000]
channel_wakeup_ns = [15000, 30000, 80000, 250000]
io_submit_batch = [1, 4, 16]
io_submit_ns = [9000, 14000, 30000]
io_submit_cpu_ns = [3000, 6000, 15000]
";

#[test]
fn the_optional_host_section_loads_round_trips_and_is_checked() {
    let p = Preset::from_toml(&(optane_text() + HOST), "test.toml").unwrap();
    let h = p.host.as_ref().unwrap();
    assert_eq!((h.cpus, h.io_submit_batch.len()), (2, 3));
    assert_eq!(Preset::from_toml(&p.to_toml(), "again").unwrap(), p);
    // Absent: None, and an embedded preset does not grow the section.
    assert!(Preset::load("optane-p4800x").unwrap().host.is_none());
    assert!(!optane_text().contains("[host]"));
    for (from, to, needle) in [
        ("cpus = 2", "cpus = 0", "host.cpus = 0"),
        (
            "background_load_cpus = 0.05",
            "background_load_cpus = 3.0",
            "host.background_load_cpus = 3",
        ),
        ("steal_frac = 0.01", "steal_frac = 2.0", "host.steal_frac"),
        ("40000, 90000", "90000, 40000", "host.eventfd_wakeup_ns"),
        ("[1, 4, 16]", "[1, 16, 4]", "host.io_submit_batch"),
        ("[9000, 14000, 30000]", "[9000]", "one each per batch size"),
        ("cpus = 2", "cpus = 2\nthreads = 4", "threads"),
    ] {
        let e = err(&(optane_text() + &HOST.replace(from, to)));
        assert!(e.contains(needle), "{from} -> {to}: {e}");
    }
}

const BY_IDLE: &str = "wakeup_idle_ns = [10000, 200000]
eventfd_wakeup_by_idle_ns = [[4000, 5000, 6000, 9000], [10000, 14000, 30000, 90000]]
channel_wakeup_by_idle_ns = [[3000, 4000, 5000, 8000], [9000, 12000, 25000, 80000]]
";

#[test]
fn the_wakeup_table_by_idle_time_round_trips_and_is_checked() {
    let text = optane_text() + HOST + BY_IDLE;
    let p = Preset::from_toml(&text, "test.toml").unwrap();
    let h = p.host.as_ref().unwrap();
    assert_eq!(h.wakeup_idle_ns, [10_000, 200_000]);
    assert_eq!(
        h.channel_wakeup_by_idle_ns[1],
        [9_000, 12_000, 25_000, 80_000]
    );
    assert_eq!(Preset::from_toml(&p.to_toml(), "again").unwrap(), p);
    // Without the table the section writes none of its keys.
    let plain = Preset::from_toml(&(optane_text() + HOST), "plain").unwrap();
    assert!(!plain.to_toml().contains("wakeup_idle_ns"));
    for (from, to, needle) in [
        (
            "[10000, 200000]",
            "[200000, 10000]",
            "expected increasing idle times",
        ),
        (
            "[10000, 200000]",
            "[10000]",
            "one row of percentiles per idle time",
        ),
        (
            "[9000, 12000, 25000, 80000]",
            "[9000, 12000, 5000, 80000]",
            "channel_wakeup_by_idle_ns",
        ),
        (
            "[4000, 5000, 6000, 9000]",
            "[4000, 5000, 6000, 2000000000]",
            "<= 1 s",
        ),
    ] {
        let e = err(&(optane_text() + HOST + &BY_IDLE.replace(from, to)));
        assert!(e.contains(needle), "{from} -> {to}: {e}");
    }
    let many: Vec<String> = (1..=65).map(|i| (i * 1000).to_string()).collect();
    let rows = vec!["[1, 2, 3, 4]"; 65].join(", ");
    let e = err(&format!(
        "{}{HOST}wakeup_idle_ns = [{}]\neventfd_wakeup_by_idle_ns = [{rows}]\n\
         channel_wakeup_by_idle_ns = [{rows}]\n",
        optane_text(),
        many.join(", ")
    ));
    assert!(e.contains("at most 64"), "{e}");
}

#[test]
fn the_idle_state_table_is_checked() {
    let text = |res: &str, exit: &str| {
        let base = optane_text()
            .lines()
            .filter(|l| !l.starts_with("cstate_"))
            .collect::<Vec<_>>()
            .join("\n");
        let table = format!("cstate_residency_ns = {res}\ncstate_exit_ns = {exit}\n");
        base.replace("[iothread]\n", &format!("[iothread]\n{table}"))
    };
    let p = Preset::from_toml(&text("[20000, 600000]", "[8000, 131000]"), "t").unwrap();
    assert_eq!(
        p.iothread.cstates().collect::<Vec<_>>(),
        [(20_000, 8_000), (600_000, 131_000)]
    );
    assert_eq!(Preset::from_toml(&p.to_toml(), "again").unwrap(), p);
    for (res, exit, needle) in [
        ("[20000, 600000]", "[8000]", "the same number of values"),
        (
            "[600000, 20000]",
            "[8000, 131000]",
            "increasing residencies",
        ),
        ("[20000, 600000]", "[131000, 8000]", "do not decrease"),
        ("[20000, 2000000000]", "[8000, 131000]", "at most 1 s"),
    ] {
        let e = err(&text(res, exit));
        assert!(e.contains(needle), "{res} {exit}: {e}");
    }
    let nine: Vec<String> = (1..=9).map(|i| (i * 1000).to_string()).collect();
    let nine = format!("[{}]", nine.join(", "));
    assert!(err(&text(&nine, &nine)).contains("at most 8"));
}

#[test]
fn the_optional_calibration_section_loads_round_trips_and_is_checked() {
    let text = optane_text() + "\n[calibration]\ndevice_spread_pct = 55.5\n";
    let p = Preset::from_toml(&text, "test.toml").unwrap();
    assert_eq!(p.calibration.as_ref().unwrap().device_spread_pct, 55.5);
    assert_eq!(Preset::from_toml(&p.to_toml(), "again").unwrap(), p);
    // The model ignores it: the same run with and without.
    let without = Preset::load("optane-p4800x").unwrap();
    assert!(without.calibration.is_none());
    let mut w = without.matrix.workloads()[0].clone();
    w.duration_ms = 20;
    let params = pollwise_core::Params::defaults(pollwise_core::PolicyKind::Qemu);
    let run = |p: &Preset| format!("{:?}", pollwise_sim::simulate(p, &w, &params, 7).unwrap());
    assert_eq!(run(&p), run(&without));
    for (to, needle) in [
        ("-1.0", "calibration.device_spread_pct = -1 is out of range"),
        ("nan", "calibration.device_spread_pct = NaN"),
        ("55.5\nrepeats = 3", "repeats"),
    ] {
        let e = err(&text.replace("55.5", to));
        assert!(e.contains(needle), "{to}: {e}");
    }
}
