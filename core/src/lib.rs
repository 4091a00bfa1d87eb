//! The pure policy core of pollwise: every adaptive poll-window policy,
//! behind one trait, with validated parameters.
//!
//! Nothing here performs I/O, reads a clock, spawns a thread or allocates in
//! the step (per-handler tables grow only when a new handler id appears).
//! Both the simulator and the real-device loop drive these same types (the
//! policies and the IOThread loop around them, [`IoThread`]), so a policy
//! measured in simulation is exactly the one, in exactly the loop, that runs
//! on a disk.

mod iothread;
mod iteration;
mod kind;
mod outcome;
mod param;
mod params;
mod policies;
mod policy;
mod row;
mod schema;
mod window_stats;
mod workload;

pub use iothread::{IoThread, LoopCounters, Noticed, Step, TracePoint};
pub use iteration::{IterRecord, JobWakes, MAX_ITER_RECORDS};
pub use kind::PolicyKind;
pub use outcome::{HandlerId, Outcome, MAX_HANDLER_ID};
pub use param::{Param, ParamError, ParamSpec, MAX_FACTOR, MAX_TIME_NS, MAX_WEIGHT_SHIFT};
pub use params::Params;
pub use policies::{
    AnyPolicy, Clairvoyant, Fixed, GuestHaltPoll, KvmHaltPoll, Off, Pollwise, Qemu,
    ThresholdOracle, Weighted, DELAY_WEIGHT, PRIOR_BLOCK_COST_NS, PRIOR_WAKEUPS,
    QEMU_GROW_START_NS,
};
pub use policy::{EventKind, Foresight, Policy};
pub use row::{cpu_pct, run_row, Latency, RawCounts, RunLabels};
pub use schema::{RunRow, TraceRow, COMPARE_COLUMNS};
pub use window_stats::{is_abrupt_reset, WindowStats};
pub use workload::{Limits, Rw, Workload, WorkloadError};
