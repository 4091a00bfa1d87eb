//! The real-device adapter: an event loop of our own (epoll over eventfds
//! and Linux AIO on an O_DIRECT file) that is the IOThread, driven by the
//! same core policy the simulator runs, plus a load generator playing fio
//! jobs, and the measurement that turns a run into the common result row.

pub mod handoff;
pub mod sync;

pub mod aio;
pub mod buffer;
pub mod calibrate;
pub mod eventloop;
pub mod loadgen;
pub mod measure;
pub mod run;
pub mod scratch;
pub mod sys;
pub mod target;
