//! The workload flags: fio's names, each accepting a comma-separated list
//! where a command runs several; they become a [`Matrix`].

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use pollwise_core::{Limits, Rw, Workload};
use pollwise_lab::formats::fio::{read_job_file, FioJob};
use pollwise_lab::formats::parse::MatrixText;
pub use pollwise_lab::formats::parse::{count, list, parse_size};
use pollwise_lab::Matrix;
use pollwise_sim::Preset;

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
    /// The matrix these flags describe: each given flag replaces its axis
    /// of `defaults`; rwmixread and the duration (if given) apply to all.
    pub fn matrix(&self, defaults: Matrix) -> Result<Matrix> {
        self.matrix_of(defaults, self.fio()?)
    }

    /// [`WorkloadArgs::matrix`] with the fio job already read.
    fn matrix_of(&self, defaults: Matrix, job: Option<FioJob>) -> Result<Matrix> {
        let mut m = defaults;
        if let Some(job) = job {
            m.rw = vec![job.rw];
            m.bs = vec![job.bs];
            m.numjobs = vec![job.numjobs];
            m.iodepth = vec![job.iodepth];
            m.rwmixread = job.rwmixread;
            m.duration_ms = job.duration_ms.unwrap_or(m.duration_ms);
        }
        if let Some(t) = &self.rw {
            m.rw = list("rw", t, Rw::from_name)?;
        }
        if let Some(t) = &self.bs {
            m.bs = list("bs", t, parse_size)?;
        }
        if let Some(t) = &self.numjobs {
            m.numjobs = list("numjobs", t, count)?;
        }
        if let Some(t) = &self.iodepth {
            m.iodepth = list("iodepth", t, count)?;
        }
        if let Some(t) = &self.iothreads {
            m.iothreads = list("iothreads", t, count)?;
        }
        if self.fio_job.is_none() {
            m.rwmixread = self.rwmixread;
        }
        m.duration_ms = self.duration_ms.unwrap_or(m.duration_ms);
        Ok(m)
    }

    /// The matrix on a real backend: the flags given, else 4k randread,
    /// numjobs 1, queue depth 1 and 8, one IOThread, 2 s per run.
    pub fn real_matrix(&self) -> Result<Matrix> {
        self.real_matrix_with(MatrixText::DEVICE_DEFAULT.matrix(50, 2000)?)
    }

    /// The matrix on a real backend with a command's own defaults. A fio
    /// job's several files all go to the backend's one target: said once.
    pub fn real_matrix_with(&self, defaults: Matrix) -> Result<Matrix> {
        let job = self.fio()?;
        if let (Some(path), Some(d)) = (&self.fio_job, job.as_ref().and_then(|j| j.disks)) {
            if d > 1 {
                eprintln!(
                    "warning: {}: {d} files in filename: a real backend runs every job on its \
                     one target (--file or a scratch file)",
                    path.display()
                );
            }
        }
        self.matrix_of(defaults, job)
    }

    /// Exactly one workload on a real backend (`realdev run`, `qemu run`):
    /// the flags given, else 4k randread, numjobs 1, queue depth 1, one
    /// IOThread, 1000 ms.
    pub fn real_one(&self, limits: &Limits) -> Result<Workload> {
        let defaults = MatrixText {
            iodepth: "1",
            ..MatrixText::DEVICE_DEFAULT
        }
        .matrix(50, 1000)?;
        one(self.real_matrix_with(defaults)?.workloads(limits)?)
    }

    /// Every combination of the given values, checked against the
    /// simulator's limits. A flag not given takes the first value of the
    /// preset's matrix for rw and bs, the preset's iodepth and duration,
    /// and 1 for numjobs and iothreads.
    pub fn workloads(&self, preset: &Preset) -> Result<Vec<Workload>> {
        let m = Matrix::of_preset(&preset.matrix);
        let first = Matrix {
            rw: m.rw[..1].to_vec(),
            bs: m.bs[..1].to_vec(),
            numjobs: vec![1],
            iothreads: vec![1],
            ..m
        };
        Ok(self.matrix(first)?.workloads(&pollwise_sim::LIMITS)?)
    }

    /// The fio job file, if one was given, with its warnings printed.
    pub fn fio(&self) -> Result<Option<FioJob>> {
        let Some(path) = &self.fio_job else {
            return Ok(None);
        };
        let job = read_job_file(path)?;
        report_fio(path, &job);
        Ok(Some(job))
    }

    /// The preset with the fio job's disks (its filename list), if any.
    pub fn apply_to_preset(&self, mut preset: Preset) -> Result<Preset> {
        if let Some(path) = &self.fio_job {
            let job = read_job_file(path)?;
            if let Some(disks) = job.disks {
                preset.topology.disks = disks;
                preset.validate()?;
            }
        }
        Ok(preset)
    }

    /// Exactly one workload (for `sim`).
    pub fn workload(&self, preset: &Preset) -> Result<Workload> {
        one(self.workloads(preset)?)
    }
}

/// The one workload of a command that runs one.
fn one(mut all: Vec<Workload>) -> Result<Workload> {
    if all.len() != 1 {
        bail!(
            "this command runs one workload, but the flags describe {}: give one value per flag \
             (use `pollwise sweep` or `compare` for lists)",
            all.len()
        );
    }
    Ok(all.remove(0))
}

/// Prints a job file's warnings and the options it ignores, on stderr.
pub fn report_fio(path: &std::path::Path, job: &FioJob) {
    for w in &job.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    if let Some(ms) = job.ramp_ms {
        eprintln!(
            "note: {}: ramp_time={ms} ms is not used: the simulator warms up for its preset's \
             warmup_ms, realdev with its own warm-up run",
            path.display()
        );
    }
    if !job.ignored.is_empty() {
        eprintln!(
            "note: {}: no effect on the model: {}",
            path.display(),
            job.ignored.join(", ")
        );
    }
}
