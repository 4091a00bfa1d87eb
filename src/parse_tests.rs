//! The argument parser against arbitrary argument vectors, in process:
//! every vector parses or gives clap's error, never a panic.

use clap::{CommandFactory, Parser};
use proptest::prelude::*;

use crate::Cli;

/// Values a user might type, right or wrong, besides the parser's own
/// words.
const VALUES: &[&str] = &[
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

/// Every subcommand name and long flag of `cmd` and its subcommands.
fn words(cmd: &clap::Command, into: &mut Vec<String>) {
    let longs = cmd.get_arguments().filter_map(|a| a.get_long());
    into.extend(longs.map(|l| format!("--{l}")));
    for sub in cmd.get_subcommands() {
        into.push(sub.get_name().to_string());
        words(sub, into);
    }
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    let mut all: Vec<String> = VALUES.iter().map(|v| v.to_string()).collect();
    words(&Cli::command(), &mut all);
    let word = prop_oneof![
        4 => proptest::sample::select(all),
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
