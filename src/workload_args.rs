//! The workload flags: fio's names, each accepting a comma-separated list
//! where a command runs several.

use std::path::PathBuf;

use clap::Args;
use pollwise_lab::cmd::workload::WorkloadFlags;
use pollwise_lab::formats::fio::JobFile;

#[derive(Args, Clone, Debug, Default)]
pub struct WorkloadArgs {
    /// Access pattern: randread, randwrite, read, write or randrw.
    #[arg(long, value_name = "RW", allow_hyphen_values = true)]
    pub rw: Option<String>,
    /// Percentage of reads for randrw.
    #[arg(long, value_name = "PCT", default_value = "50")]
    pub rwmixread: u32,
    /// Block size in bytes, or with a k/m suffix (8k, 128k).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub bs: Option<String>,
    /// Number of fio jobs in the guest.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub numjobs: Option<String>,
    /// Requests each job keeps in flight [default: the preset's on the
    /// simulator; 1 and 8 on a real backend (compare, realdev compare,
    /// validate), 1 for one run (realdev run, qemu run)].
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub iodepth: Option<String>,
    /// Number of IOThreads serving the disks.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub iothreads: Option<String>,
    /// Measured time per run in ms [default: the preset's on the
    /// simulator; 2000 for compare and realdev compare on a real backend,
    /// 1000 for validate, realdev run and qemu run].
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
    /// A fio job file: its rw, rwmixread, bs, iodepth, numjobs and runtime
    /// give the workload (--duration-ms, if given, overrides runtime), and
    /// a ':'-separated filename list sets the preset's number of disks (a
    /// real backend runs every job on its one target).
    /// Options pollwise cannot model are named in a warning or an error.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["rw", "bs", "numjobs", "iodepth", "rwmixread"]
    )]
    pub fio_job: Option<PathBuf>,
}

impl WorkloadArgs {
    pub fn flags(&self) -> WorkloadFlags {
        WorkloadFlags {
            rw: self.rw.clone(),
            rwmixread: self.rwmixread,
            bs: self.bs.clone(),
            numjobs: self.numjobs.clone(),
            iodepth: self.iodepth.clone(),
            iothreads: self.iothreads.clone(),
            duration_ms: self.duration_ms,
            fio_job: self.fio_job.clone().map(JobFile::new),
        }
    }
}
