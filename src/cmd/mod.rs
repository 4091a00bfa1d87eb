//! One module per subcommand; each owns its flags and its output.

pub mod bench;
pub mod compare;
pub mod import;
pub mod merge;
pub mod plot;
pub mod policy;
pub mod policy_show;
pub mod preset;
pub mod qemu;
pub mod real;
pub mod realdev;
pub mod report;
pub mod sim;
pub mod study;
pub mod sweep;
pub mod validate;
