//! One grammar on every command: a policy is `NAME[:PARAM=VALUE,...]`,
//! repeats are `--repeat`, where runs happen is `--backend`, `--threads`
//! is on the commands that simulate; the spellings of the release before
//! still work, give the same bytes and print one note naming the new one.

mod common;
use common::{assert_clean_error, assert_ok, pollwise, stderr, stdout};

const NOTE: &str = "is deprecated and will be removed in the next release; write";

/// Runs `new` and `old`: the same stdout, no note for `new`, `note` for
/// `old`.
fn same_as_deprecated(new: &[&str], old: &[&str], note: &str) -> String {
    let (n, o) = (pollwise(new), pollwise(old));
    assert_ok(&n);
    assert_ok(&o);
    assert!(!stderr(&n).contains(NOTE), "{}", stderr(&n));
    assert!(
        stderr(&o).contains(note) && stderr(&o).contains(NOTE),
        "missing {note:?} in: {}",
        stderr(&o)
    );
    assert_eq!(stdout(&n), stdout(&o), "{new:?} and {old:?} differ");
    stdout(&n)
}

const ONE_ROW: [&str; 8] = [
    "--rw",
    "randread",
    "--bs",
    "4k",
    "--numjobs",
    "1",
    "--duration-ms",
    "5",
];

#[test]
fn sim_takes_a_policy_spec() {
    let new = [
        &[
            "sim",
            "--policy",
            "weighted:poll-weight=3,poll-max-ns=16000",
        ],
        &ONE_ROW[..],
    ]
    .concat();
    let old = [
        &[
            "sim",
            "--policy",
            "weighted",
            "--poll-weight",
            "3",
            "--param",
            "poll-max-ns=16000",
        ],
        &ONE_ROW[..],
    ]
    .concat();
    let text = same_as_deprecated(&new, &old, "note: --poll-weight, --param is deprecated");
    // Both parameters reached the run (the row records them as stored).
    assert!(
        text.contains("poll-max-ns=16000") && text.contains("poll-weight=3"),
        "{text}"
    );
    // The note names the one spec that replaces both flags.
    let o = pollwise(&old);
    assert!(
        stderr(&o).contains("write --policy weighted:poll-weight=3,poll-max-ns=16000"),
        "{}",
        stderr(&o)
    );
    // A bad value names the flag, the spec and the range.
    assert_clean_error(
        &pollwise(&["sim", "--policy", "weighted:poll-weight=99"]),
        &["--policy weighted:poll-weight=99", "poll-weight", "[0, 62]"],
    );
    assert_clean_error(
        &pollwise(&["sim", "--policy", "weighted:poll-weight"]),
        &["'poll-weight' is not NAME=VALUE"],
    );
}

#[test]
fn compare_takes_specs_and_repeat() {
    let base = [&["compare"], &ONE_ROW[..], &["--iothreads", "1"]].concat();
    let new = [
        &base[..],
        &[
            "--baseline",
            "qemu:poll-shrink=2",
            "--candidate",
            "fixed:poll-max-ns=1000",
            "--repeat",
            "2",
        ],
    ]
    .concat();
    let old = [
        &base[..],
        &[
            "--baseline-params",
            "poll-shrink=2",
            "--candidate",
            "fixed",
            "--candidate-params",
            "poll-max-ns=1000",
            "--seeds",
            "2",
        ],
    ]
    .concat();
    let text = same_as_deprecated(&new, &old, "note: --candidate-params is deprecated");
    assert!(text.contains("baseline:  qemu       poll-max-ns=32768 poll-grow=2 poll-shrink=2"));
    assert!(
        text.contains("candidate: fixed      poll-max-ns=1000"),
        "{text}"
    );
    assert!(text.contains("seeds 1..2"), "{text}");
    let o = pollwise(&old);
    for note in [
        "write --baseline qemu:poll-shrink=2",
        "write --candidate fixed:poll-max-ns=1000",
        "note: --seeds 2 is deprecated",
    ] {
        assert!(stderr(&o).contains(note), "missing {note}: {}", stderr(&o));
    }
    // compare's CSV prints the parameters as the table does.
    let csv = pollwise(&[&new[..], &["--format", "csv"]].concat());
    assert_ok(&csv);
    assert!(
        stdout(&csv).contains(",poll-max-ns=32768 poll-grow=2 poll-shrink=2,"),
        "{}",
        stdout(&csv)
    );
    assert_clean_error(
        &pollwise(&["compare", "--candidate", "nosuch:poll-max-ns=1"]),
        &["--candidate nosuch:poll-max-ns=1", "weighted"],
    );
}

#[test]
fn sweep_takes_a_spec_for_fixed_parameters_and_param_lists_for_axes() {
    let base = [&["sweep"], &ONE_ROW[..], &["--param", "poll-max-ns=0,8000"]].concat();
    let new = [
        &base[..],
        &["--policy", "qemu:poll-shrink=4", "--repeat", "2"],
    ]
    .concat();
    let old = [
        &base[..],
        &["--policy", "qemu:poll-shrink=4", "--seeds", "2"],
    ]
    .concat();
    let text = same_as_deprecated(&new, &old, "note: --seeds 2 is deprecated");
    // Two settings x two seeds, every one with the fixed poll-shrink.
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows.iter().all(|r| r.contains("poll-shrink=4")), "{text}");
}

#[test]
fn replay_and_show_take_a_spec() {
    same_as_deprecated(
        &[
            "policy",
            "show",
            "--policy",
            "kvm-halt-poll:poll-grow-start-ns=20000",
        ],
        &[
            "policy",
            "show",
            "--policy",
            "kvm-halt-poll",
            "--poll-grow-start-ns",
            "20000",
        ],
        "note: --poll-grow-start-ns is deprecated",
    );
    // policy list advertises the spec, not flags that no command takes.
    let o = pollwise(&["policy", "list"]);
    assert_ok(&o);
    let text = stdout(&o);
    assert!(text.contains("NAME[:PARAM=VALUE,...]"), "{text}");
    assert!(!text.contains("--delay-price-milli"), "{text}");
    assert!(text.contains("delay-price-milli"), "{text}");
    // ... and its defaults as they act, as every output prints them.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("poll-grow") && l.contains("default 2 ")),
        "{text}"
    );
}

#[test]
fn device_commands_check_their_specs_before_any_device() {
    assert_clean_error(
        &pollwise(&["realdev", "run", "--policy", "weighted:poll-weight=99"]),
        &["--policy weighted:poll-weight=99", "[0, 62]"],
    );
    assert_clean_error(
        &pollwise(&["realdev", "compare", "--candidate", "fixed:nope=1"]),
        &["--candidate fixed:nope=1", "poll-max-ns"],
    );
    assert_clean_error(
        &pollwise(&["realdev", "compare", "--accept-iops-loss", "200"]),
        &["--accept-iops-loss 200", "0 ..= 100"],
    );
    // validate: --backend, and --against still works with its note (the
    // preset error comes after it, before any device).
    let o = pollwise(&["validate", "--preset", "no-such.toml", "--against", "qemu"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("note: --against qemu") && stderr(&o).contains("write --backend qemu"),
        "{}",
        stderr(&o)
    );
    let o = pollwise(&[
        "validate",
        "--preset",
        "no-such.toml",
        "--baseline",
        "qemu",
        "--baseline-params",
        "poll-shrink=2",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("write --baseline qemu:poll-shrink=2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn threads_is_on_the_commands_that_simulate_only() {
    for cmd in ["compare", "sweep", "study", "report", "validate", "bench"] {
        let o = pollwise(&[cmd, "--help"]);
        assert!(stdout(&o).contains("--threads"), "{cmd}: {}", stdout(&o));
    }
    for cmd in [
        &["sim"][..],
        &["realdev", "run"],
        &["import", "fio"],
        &["policy", "list"],
    ] {
        let o = pollwise(&[cmd, &["--help"][..]].concat());
        assert!(!stdout(&o).contains("--threads"), "{cmd:?}: {}", stdout(&o));
    }
    assert_clean_error(
        &pollwise(&["realdev", "run", "--threads", "2"]),
        &["--threads"],
    );
    // Before the command, the old global spelling still works, with its note.
    let args = [
        &["--threads", "1", "compare"],
        &ONE_ROW[..],
        &["--iothreads", "1"],
    ]
    .concat();
    same_as_deprecated(
        &[&args[2..], &["--threads", "1"]].concat(),
        &args,
        "note: `pollwise --threads 1 COMMAND` is deprecated",
    );
}

#[test]
fn help_pages_answer_on_their_own() {
    for cmd in [
        &["compare"][..],
        &["sim"],
        &["realdev", "run"],
        &["validate"],
    ] {
        let o = pollwise(&[cmd, &["--help"][..]].concat());
        assert!(
            !stdout(&o).contains("see its --help"),
            "{cmd:?}: {}",
            stdout(&o)
        );
    }
    let o = pollwise(&["compare", "--help"]);
    for needle in ["NAME[:PARAM=VALUE,...]", "--repeat", "--accept-iops-loss"] {
        assert!(stdout(&o).contains(needle), "missing {needle}");
    }
    for hidden in ["--seeds", "--candidate-params", "--baseline-params"] {
        assert!(!stdout(&o).contains(hidden), "{hidden} still offered");
    }
}
