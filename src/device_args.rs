//! The device commands' flags: one run's workload and the target.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use pollwise_core::Rw;
use pollwise_realdev::loadgen::JobSpec;
use pollwise_realdev::target::{mib_to_bytes, TargetSpec};

use crate::workload_args::parse_size;

/// The fio-like workload, with `pollwise sim`'s flag names.
#[derive(Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// randread, randwrite, read, write or randrw.
    #[arg(long, default_value = "randread")]
    pub rw: String,
    /// Block size in bytes; a k or m suffix multiplies by 1024 or 1024^2.
    #[arg(long, default_value = "4k", value_parser = parse_size)]
    pub bs: u64,
    #[arg(long, default_value_t = 1)]
    pub numjobs: u32,
    #[arg(long, default_value_t = 1)]
    pub iodepth: u32,
    /// Event loops (IOThreads); job j is served by loop j % iothreads.
    #[arg(long, default_value_t = 1)]
    pub iothreads: u32,
    /// Percentage of reads for randrw.
    #[arg(long, default_value_t = 50)]
    pub rwmixread: u32,
    /// Measured time in ms [default: the fio job's runtime, else 1000].
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
    /// Seeds the jobs' offset generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A fio job file: its rw, rwmixread, bs, iodepth, numjobs and runtime
    /// give the workload. Options pollwise cannot model are named in a
    /// warning or an error; a filename list of several disks runs on the
    /// one target.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["rw", "bs", "numjobs", "iodepth", "rwmixread"]
    )]
    pub fio_job: Option<PathBuf>,
}

impl WorkloadArgs {
    fn fio(&self) -> Result<Option<pollwise_lab::fio::FioJob>> {
        let Some(path) = &self.fio_job else {
            return Ok(None);
        };
        let job = pollwise_lab::fio::read_job_file(path)?;
        crate::workload_args::report_fio(path, &job);
        if let Some(d) = job.disks.filter(|&d| d > 1) {
            eprintln!(
                "warning: {}: {d} files in filename: realdev runs every job on its one target \
                 (--file or a scratch file)",
                path.display()
            );
        }
        Ok(Some(job))
    }

    /// The measured time: --duration-ms, else the fio job's runtime, else
    /// 1000 ms.
    pub fn duration_ms(&self) -> Result<u64> {
        if let Some(ms) = self.duration_ms {
            return Ok(ms);
        }
        let runtime = match &self.fio_job {
            Some(path) => pollwise_lab::fio::read_job_file(path)?.duration_ms,
            None => None,
        };
        Ok(runtime.unwrap_or(1000))
    }

    pub fn workload(&self) -> Result<JobSpec> {
        let w = match self.fio()? {
            Some(job) => JobSpec {
                rw: job.rw,
                rwmixread: job.rwmixread,
                bs: job.bs,
                numjobs: job.numjobs,
                iodepth: job.iodepth,
                iothreads: self.iothreads,
                seed: self.seed,
            },
            None => JobSpec {
                rw: Rw::from_name(&self.rw).map_err(anyhow::Error::msg)?,
                rwmixread: self.rwmixread,
                bs: self.bs,
                numjobs: self.numjobs,
                iodepth: self.iodepth,
                iothreads: self.iothreads,
                seed: self.seed,
            },
        };
        w.validate().map_err(anyhow::Error::msg)?;
        Ok(w)
    }
}

/// Where the I/O goes.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// Directory for the scratch file (default: the system temp dir). It
    /// must be on a filesystem that supports O_DIRECT.
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub dir: Option<PathBuf>,
    /// An existing file or block device to use instead of a scratch file.
    /// Read-only unless --allow-write-to names the same path.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Size of the scratch file in MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mb: u64,
    /// Allow writing to the --file target (destroying its contents); it
    /// must resolve to the same file (device and inode) as --file.
    #[arg(long, value_name = "PATH")]
    pub allow_write_to: Option<PathBuf>,
}

impl TargetArgs {
    pub fn spec(&self) -> Result<TargetSpec> {
        if self.size_mb == 0 {
            bail!("--size-mb must be positive (e.g. 256)");
        }
        Ok(match &self.file {
            Some(path) => TargetSpec::Existing {
                path: path.clone(),
                allow_write_to: self.allow_write_to.clone(),
            },
            None => {
                if let Some(a) = &self.allow_write_to {
                    bail!(
                        "--allow-write-to {} needs --file naming the same path",
                        a.display()
                    );
                }
                let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
                // Said here, at the start of every device command: the
                // scratch files of runs killed by SIGKILL.
                if let Ok(removed) = pollwise_realdev::scratch::clean_stale_scratch(&dir) {
                    for r in removed {
                        eprintln!("{r}");
                    }
                }
                TargetSpec::Scratch {
                    dir: self.dir.clone(),
                    size_bytes: mib_to_bytes(self.size_mb)?,
                }
            }
        })
    }
}
