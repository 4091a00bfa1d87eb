//! `pollwise policy list`, `policy replay`, `policy ratio` and `policy waits`
//! through the binary.

use std::fs;
use std::path::PathBuf;

mod common;
use common::{assert_clean_error, pollwise, scratch_dir, stderr, stdout};

fn trace(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir("cli-policy").join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn replay_reproduces_qemu_by_hand() {
    let input = trace(
        "qemu.csv",
        "block_ns\n1000\n1000\n5000\n20000\n20000\n32769\n100\n",
    );
    let o = pollwise(&[
        "policy",
        "replay",
        "--policy",
        "qemu",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 0 -> 4000 (start), keep, x2, x2, x2 = 32000, reset, restart at 4000.
    assert_eq!(
        stdout(&o),
        "step,block_ns,window_ns\n1,1000,4000\n2,1000,4000\n3,5000,8000\n4,20000,16000\n\
         5,20000,32000\n6,32769,0\n7,100,4000\n"
    );
}

#[test]
fn replay_with_handlers_and_parameters() {
    let input = trace(
        "handlers.csv",
        "time,block_ns,handler\n0,100,0\n1,100,1\n2,5000,0\n3,40000,1\n4,40000,0;1\n5,100,\n",
    );
    let o = pollwise(&["policy", "replay", "--input", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let windows: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(windows, ["4000", "4000", "8000", "8000", "0", "0"]);

    // poll-shrink 2 halves instead: 4000, 8000, 16000, then 40000 > max
    // gives 8000.
    let input = trace("shrink.csv", "block_ns\n100\n5000\n10000\n40000\n");
    let o = pollwise(&[
        "policy",
        "replay",
        "--policy",
        "qemu:poll-shrink=2",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with("3,10000,16000\n4,40000,8000\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn replay_errors_are_clear() {
    let good = trace("good.csv", "block_ns\n1\n");
    let good = good.to_str().unwrap();
    let o = pollwise(&[
        "policy",
        "replay",
        "--policy",
        "qemu:poll-grow=-2",
        "--input",
        good,
    ]);
    assert_clean_error(&o, &["poll-grow", "-2", "[0, 65536]"]);
    let o = pollwise(&[
        "policy",
        "replay",
        "--policy",
        "qemu:poll-max-ns=abc",
        "--input",
        good,
    ]);
    assert_clean_error(&o, &["poll-max-ns", "abc"]);
    let o = pollwise(&["policy", "replay", "--policy", "nosuch", "--input", good]);
    assert_clean_error(&o, &["nosuch", "qemu", "weighted", "kvm-halt-poll"]);
    let o = pollwise(&[
        "policy",
        "replay",
        "--policy",
        "qemu:poll-weight=3",
        "--input",
        good,
    ]);
    assert_clean_error(&o, &["poll-weight", "qemu", "poll-shrink"]);
    let o = pollwise(&["policy", "replay", "--policy", "oracle", "--input", good]);
    assert_clean_error(&o, &["oracle", "simulator"]);
    let o = pollwise(&["policy", "replay", "--input", "no-such-dir/none.csv"]);
    assert_clean_error(&o, &["no-such-dir/none.csv"]);

    let wrong = trace("wrong.csv", "when,ns\n1,2\n");
    let o = pollwise(&["policy", "replay", "--input", wrong.to_str().unwrap()]);
    assert_clean_error(&o, &["block_ns", "when, ns"]);
    let negative = trace("negative.csv", "block_ns\n10\n-5\n");
    let o = pollwise(&["policy", "replay", "--input", negative.to_str().unwrap()]);
    assert_clean_error(&o, &["line 3", "-5"]);
    let handler = trace("handler.csv", "block_ns,handler\n10,x\n");
    let o = pollwise(&["policy", "replay", "--input", handler.to_str().unwrap()]);
    assert_clean_error(&o, &["line 2", "handler 'x'"]);
}

#[test]
fn list_names_every_policy_and_parameter() {
    let o = pollwise(&["policy", "list", "--format", "csv"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "qemu,poll-max-ns,32768,",
        "qemu,poll-shrink,0,",
        // Defaults as they act: QEMU stores 0 for "2".
        "weighted,poll-weight,2,0,62,",
        "qemu,poll-grow,2,0,",
        "kvm-halt-poll,poll-max-ns,200000,",
        "kvm-halt-poll,poll-grow-start-ns,10000,",
        "guest-haltpoll,poll-grow-start-ns,50000,",
        "off,,",
        "threshold-oracle,oracle-threshold-ns,",
        "clairvoyant,delay-price-milli,1000,",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[test]
fn ratio_prices_every_policy_against_the_optimum() {
    // Price 10000, waits 1000 and 20000: the optimum pays 11000, `off`
    // blocks twice (20000, ratio 1.818), `fixed` spins both (21000, 1.909).
    let input = trace("ratio.csv", "block_ns\n1000\n20000\n");
    let input = input.to_str().unwrap();
    let o = pollwise(&[
        "policy",
        "ratio",
        "--input",
        input,
        "--policy",
        "off",
        "--policy",
        "fixed",
        "--price-ns",
        "10000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("price of a block: 10000 ns"), "{out}");
    let ratios: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("off") || l.starts_with("fixed"))
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(ratios, ["1.818", "1.909"], "{out}");
    // Without --policy every online policy is replayed, clairvoyant ones not.
    let o = pollwise(&["policy", "ratio", "--input", input]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\npollwise ") && out.contains("\nweighted-merged "),
        "{out}"
    );
    assert!(
        !out.contains("clairvoyant") && !out.contains("threshold-oracle"),
        "{out}"
    );

    let o = pollwise(&["policy", "ratio", "--input", input, "--price-ns", "0"]);
    assert_clean_error(&o, &["--price-ns", "not in 1..=10000000000"]);
    let empty = trace("empty.csv", "block_ns\n");
    let o = pollwise(&["policy", "ratio", "--input", empty.to_str().unwrap()]);
    assert_clean_error(&o, &["no waits"]);
    let o = pollwise(&["policy", "ratio", "--input", input, "--policy", "oracle"]);
    assert_clean_error(&o, &["oracle", "simulator"]);
}

#[test]
fn waits_summarises_a_trace_per_handler_and_end() {
    // A loop that recorded its waits: handler 0 polled three times, handler
    // 1 woken once; read from a file and from standard input alike.
    let text = "block_ns,handler,in_flight,how\n\
                1000,0,1,polled\n3000,0,1,polled\n2000,0,1,polled\n30000,1,1,woken\n";
    let input = trace("waits.csv", text);
    let o = pollwise(&["policy", "waits", "--input", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(3)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["0", "polled", "3", "75.0%", "1.2", "2.0", "2.8", "2.0"],
            ["1", "woken", "1", "25.0%", "30.0", "30.0", "30.0", "30.0"],
        ],
        "{out}"
    );
    let piped = common::with_stdin(&["policy", "waits", "--input", "-"], text);
    assert_eq!(stdout(&piped), out);
    // A `how` it does not know is refused with the ones it does.
    let bad = trace("bad-how.csv", "block_ns,handler,how\n1000,0,slept\n");
    let o = pollwise(&["policy", "waits", "--input", bad.to_str().unwrap()]);
    assert_clean_error(&o, &["line 2", "how 'slept'", "polled, rechecked"]);
}
