//! fio's two files: a job file read as a workload ([`job`]) and fio's JSON
//! output read as a row of the common schema ([`json`]).
//!
//! ```text
//! pub struct JobFile  (JobFile::new(path), .path(), .job() -> Result<FioJob, LabError>)
//! pub fn parse_job(text: &str, origin: &str) -> Result<FioJob, LabError>
//! pub struct FioJob { rw, rwmixread, bs, iodepth, numjobs, duration_ms, ramp_ms, disks,
//!                     jobs, warnings, ignored }
//! pub fn split_filenames(list: &str) -> Vec<String>
//! pub fn fio_json_rows(text: &str, origin: &str, labels: &Labels, iothread_cpu_pct: f64)
//!     -> Result<(Vec<RunRow>, Vec<String>), LabError>
//! pub struct Labels { pub testbed: String, pub policy: String, pub params: String,
//!                     pub iothreads: u32 }
//! ```

mod job;
mod json;
mod sections;

pub use job::{parse_job, split_filenames, FioJob, JobFile};
pub use json::{fio_json_rows, Labels};
