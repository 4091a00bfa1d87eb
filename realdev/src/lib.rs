//! placeholder

pub mod handoff;
pub mod sync;
