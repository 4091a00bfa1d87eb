//! `realdev run --waits`: a short real run's waits file holds one row per
//! iteration, reads in `policy ratio`, and its waits agree with the loop's
//! own counters.

use pollwise_lab::cmd::policy::PolicyFlags;
use pollwise_lab::cmd::realdev::{run, DeviceRun};
use pollwise_lab::cmd::target::TargetFlags;
use pollwise_lab::cmd::workload::WorkloadFlags;
use pollwise_lab::cmd::Quiet;
use pollwise_lab::ratio::{online_defaults, ratios, Price};

#[path = "../../realdev/tests/device_dir/mod.rs"]
mod device_dir;
use device_dir::device_dir;

#[test]
fn the_waits_file_has_a_positive_wait_per_iteration_and_reads_in_ratio() {
    let Some(dir) = device_dir() else { return };
    let own = dir.join(format!("pollwise-waits-{}", std::process::id()));
    std::fs::create_dir_all(&own).unwrap();
    let waits = own.join("waits.csv");
    let spec = DeviceRun {
        workload: WorkloadFlags {
            iodepth: Some("8".into()),
            duration_ms: Some(300),
            ..WorkloadFlags::default()
        },
        seed: 1,
        target: TargetFlags {
            dir: Some(own.clone()),
            size_mb: 8,
            ..TargetFlags::default()
        },
        policy: PolicyFlags {
            spec: "qemu".into(),
            ..PolicyFlags::default()
        },
        trace: None,
        waits: Some(waits.clone()),
        set_at: Vec::new(),
        force: false,
    };
    let out = run(&Quiet, &spec).unwrap();
    let lp = &out.loop_report;
    let text = std::fs::read_to_string(&waits).unwrap();
    std::fs::remove_dir_all(&own).unwrap();

    let rows = read(&text);
    assert_eq!(rows.len() as u64, lp.iterations, "one row per iteration");
    assert!(lp.iterations > 10, "{} iterations", lp.iterations);
    for (i, r) in rows.iter().enumerate() {
        assert!(r.wait > 0, "row {i}: wait 0: {r:?}");
        assert!(r.in_flight <= 8, "row {i}: {r:?}");
        // The stop can land between the loop's check of it and its sleep:
        // that last iteration ends with no handler.
        let cut_by_the_stop = i + 1 == rows.len() && r.how != "polled";
        let handlers_ok = if r.handler.is_empty() {
            cut_by_the_stop
        } else {
            r.handler.split(';').all(|h| h == "0" || h == "1")
        };
        assert!(handlers_ok, "row {i} of {}: {r:?}", rows.len());
    }
    check_against_the_loops_record(&rows, &lp.iterations_log);
    let polled = rows.iter().filter(|r| r.how == "polled");
    assert_eq!(polled.count() as u64, lp.polled_hits);
    let asleep = rows
        .iter()
        .filter(|r| r.how == "doorbell" || r.how == "woken");
    assert!(
        asleep.count() > 0,
        "no iteration slept at qd8 under qemu's rule"
    );

    let r = ratios(
        &online_defaults(),
        text.as_bytes(),
        "waits.csv",
        Price::Fixed(24_000),
    )
    .unwrap();
    assert_eq!(r.waits, lp.iterations);
    assert_eq!(r.wait_ns, rows.iter().map(|r| u128::from(r.wait)).sum());
    assert!(r.rows.iter().all(|x| x.cost_ns >= r.optimum_ns), "{r:?}");
}

#[derive(Debug)]
struct Row {
    wait: u64,
    handler: String,
    in_flight: u32,
    how: String,
}

fn read(text: &str) -> Vec<Row> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["block_ns", "handler", "in_flight", "how"]);
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                wait: r[0].parse().unwrap(),
                handler: r[1].to_string(),
                in_flight: r[2].parse().unwrap(),
                how: r[3].to_string(),
            }
        })
        .collect()
}

/// Against the loop's own record of each iteration: a polled wait is its
/// poll phase; any other ends after the window ran out (a sleeper's after
/// its sleep began, unless a doorbell says the work came sooner); every
/// wait ends before the next iteration begins.
fn check_against_the_loops_record(rows: &[Row], log: &[pollwise_core::IterRecord]) {
    assert_eq!(log.len(), rows.len());
    for (i, (r, rec)) in rows.iter().zip(log).enumerate() {
        match r.how.as_str() {
            "polled" => assert_eq!(r.wait, rec.poll_ns, "row {i}: {r:?} {rec:?}"),
            "woken" => assert!(
                r.wait >= rec.poll_ns + rec.slept_ns,
                "row {i}: {r:?} {rec:?}"
            ),
            "doorbell" | "rechecked" => assert!(r.wait >= rec.poll_ns, "row {i}: {r:?}"),
            other => panic!("row {i}: how '{other}'"),
        }
        if let Some(next) = log.get(i + 1) {
            assert!(
                rec.start_ns + r.wait <= next.start_ns,
                "row {i}: {r:?} {rec:?}"
            );
        }
    }
}
