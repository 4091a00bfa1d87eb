//! The argument parser against arbitrary argument vectors, in process:
//! every vector parses or gives clap's error, never a panic.

use clap::{CommandFactory, Parser};
use proptest::prelude::*;

use crate::Cli;

/// Words a user might type, right or wrong, in any order.
const WORDS: &[&str] = &[
    "sim",
    "compare",
    "sweep",
    "bench",
    "realdev",
    "run",
    "calibrate",
    "clean",
    "validate",
    "plot",
    "pareto",
    "window",
    "heatmap",
    "study",
    "report",
    "policy",
    "list",
    "replay",
    "--preset",
    "--policy",
    "--out",
    "--trace",
    "--rows",
    "--file",
    "--dir",
    "--force",
    "--size-mb",
    "--duration-ms",
    "--seeds",
    "--seed",
    "--set-at",
    "--param",
    "--numjobs",
    "--iodepth",
    "--bs",
    "--rw",
    "--format",
    "--start-us",
    "--span-us",
    "--where",
    "--allow-write-to",
    "--shard",
    "--matrix",
    "--point-ms",
    "--help",
    "--version",
    "-",
    "--",
    "",
    "0",
    "-1",
    "1e300",
    "nan",
    "18446744073709551616",
    "4k",
    "csv",
    "x=1",
    "500:poll-max-ns=8000",
    "/dev/stdout",
    "/proc/self/mem",
    "\u{0}",
    "é",
];

fn argv() -> impl Strategy<Value = Vec<String>> {
    let word = prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => ".{0,40}",
    ];
    proptest::collection::vec(word, 0..12)
}

#[test]
fn the_parser_is_consistent() {
    Cli::command().debug_assert();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arguments_parse_or_are_refused(args in argv()) {
        let argv = std::iter::once("pollwise".to_string()).chain(args);
        match Cli::try_parse_from(argv) {
            Ok(_) => {}
            Err(e) => {
                // Rendering the message must not panic either.
                let _ = e.render().to_string();
            }
        }
    }
}
