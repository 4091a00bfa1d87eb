//! One module per subcommand: its flags, their mapping onto lab's spec,
//! and where the result is printed.

pub mod bench;
pub mod compare;
pub mod import;
pub mod merge;
pub mod plot;
pub mod policy;
pub mod preset;
pub mod qemu;
pub mod realdev;
pub mod report;
pub mod sim;
pub mod study;
pub mod sweep;
pub mod tune;
pub mod validate;
