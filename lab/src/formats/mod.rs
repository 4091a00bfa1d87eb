//! The file formats lab reads and writes, each module with its public
//! signatures at the top:
//!
//! - [`fio`]: fio job files read as workloads, fio's JSON output read as
//!   rows with `source=fio`;
//! - [`import`]: the IOThread's CPU from sar/pidstat reports, and QEMU's
//!   log trace read as window-trace rows;
//! - [`qemu_syntax`]: a policy written as QEMU's `-object iothread`, QMP
//!   and libvirt XML;
//! - [`merge`]: the sweep CSV (identity, shard, place) and the merge of
//!   shard files;
//! - [`rows`]: result rows and traces as CSV (the common schema);
//! - [`waits`]: a loop's waits, one row per iteration, as `policy ratio`
//!   reads them;
//! - [`input`]: the one way a command reads a file (regular files and
//!   pipes only, with a cap on the bytes read);
//! - [`output`]: the one way a command writes a file (checked, then a
//!   temporary file renamed into place);
//! - [`parse`]: the textual forms users type on the command line.
//!
//! Nothing here depends on the tables of [`crate::text`] or on the
//! experiments: they depend on these formats.

pub mod calibration_toml;
pub mod fio;
pub mod import;
pub mod input;
pub mod merge;
pub mod output;
pub mod parse;
pub mod qemu_syntax;
pub mod rows;
pub mod waits;
