//! The workload flags (fio's names, each a comma-separated list where a
//! command runs several) as typed, and the matrix or workload they give.

use std::path::Path;

use pollwise_core::{Limits, Rw, Workload};
use pollwise_sim::Preset;

use super::{fail, Result, Ui};
use crate::formats::fio::{FioJob, JobFile};
use crate::formats::output::Input;
use crate::formats::parse::{count, list, parse_size, MatrixText};
use crate::Matrix;

#[derive(Clone, Debug, Default)]
pub struct WorkloadFlags {
    pub rw: Option<String>,
    pub rwmixread: u32,
    pub bs: Option<String>,
    pub numjobs: Option<String>,
    pub iodepth: Option<String>,
    pub iothreads: Option<String>,
    pub duration_ms: Option<u64>,
    /// `--fio-job`, read once however often it is used.
    pub fio_job: Option<JobFile>,
}

impl WorkloadFlags {
    /// The files these flags read, which no output may be: the fio job.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        self.fio_job
            .iter()
            .map(|f| Input::new("--fio-job", f.path()))
            .collect()
    }

    /// The matrix these flags describe: each given flag replaces its axis
    /// of `defaults`; rwmixread and the duration (if given) apply to all.
    pub fn matrix(&self, ui: &dyn Ui, defaults: Matrix) -> Result<Matrix> {
        self.matrix_of(defaults, self.fio(ui)?)
    }

    /// [`WorkloadFlags::matrix`] with the fio job already read.
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
    pub fn real_matrix(&self, ui: &dyn Ui) -> Result<Matrix> {
        self.real_matrix_with(ui, MatrixText::DEVICE_DEFAULT.matrix(50, 2000)?)
    }

    /// The matrix on a real backend with a command's own defaults. A fio
    /// job's several files all go to the backend's one target: said once.
    pub fn real_matrix_with(&self, ui: &dyn Ui, defaults: Matrix) -> Result<Matrix> {
        let job = self.fio(ui)?;
        if let (Some(file), Some(d)) = (&self.fio_job, job.as_ref().and_then(|j| j.disks)) {
            if d > 1 {
                ui.note(&format!(
                    "warning: {}: {d} files in filename: a real backend runs every job on its \
                     one target (--file or a scratch file)",
                    file.path().display()
                ));
            }
        }
        self.matrix_of(defaults, job)
    }

    /// Exactly one workload on a real backend (`realdev run`, `qemu run`):
    /// the flags given, else 4k randread, numjobs 1, queue depth 1, one
    /// IOThread, 1000 ms.
    pub fn real_one(&self, ui: &dyn Ui, limits: &Limits) -> Result<Workload> {
        let defaults = MatrixText {
            iodepth: "1",
            ..MatrixText::DEVICE_DEFAULT
        }
        .matrix(50, 1000)?;
        one(self.real_matrix_with(ui, defaults)?.workloads(limits)?)
    }

    /// Every combination of the given values, checked against the
    /// simulator's limits. A flag not given takes the first value of the
    /// preset's matrix for rw and bs, the preset's iodepth and duration,
    /// and 1 for numjobs and iothreads.
    pub fn workloads(&self, ui: &dyn Ui, preset: &Preset) -> Result<Vec<Workload>> {
        let m = Matrix::of_preset(&preset.matrix);
        let first = Matrix {
            rw: m.rw[..1].to_vec(),
            bs: m.bs[..1].to_vec(),
            numjobs: vec![1],
            iothreads: vec![1],
            ..m
        };
        Ok(self.matrix(ui, first)?.workloads(&pollwise_sim::LIMITS)?)
    }

    /// Exactly one workload (for `sim`).
    pub fn workload(&self, ui: &dyn Ui, preset: &Preset) -> Result<Workload> {
        one(self.workloads(ui, preset)?)
    }

    /// The fio job file, if one was given, with its warnings noted.
    pub fn fio(&self, ui: &dyn Ui) -> Result<Option<FioJob>> {
        let Some(file) = &self.fio_job else {
            return Ok(None);
        };
        let job = file.job()?;
        note_fio(ui, file.path(), &job);
        Ok(Some(job))
    }

    /// The preset with the fio job's disks (its filename list), if any.
    pub fn apply_to_preset(&self, mut preset: Preset) -> Result<Preset> {
        if let Some(file) = &self.fio_job {
            let job = file.job()?;
            if let Some(disks) = job.disks {
                preset.topology.disks = disks;
                preset.validate()?;
            }
        }
        Ok(preset)
    }
}

/// The one workload of a command that runs one.
fn one(mut all: Vec<Workload>) -> Result<Workload> {
    if all.len() != 1 {
        return fail(format!(
            "this command runs one workload, but the flags describe {}: give one value per flag \
             (use `pollwise sweep` or `compare` for lists)",
            all.len()
        ));
    }
    Ok(all.remove(0))
}

/// A job file's warnings and the options it ignores, as notes.
fn note_fio(ui: &dyn Ui, path: &Path, job: &FioJob) {
    let path = path.display();
    for w in &job.warnings {
        ui.note(&format!("warning: {path}: {w}"));
    }
    if let Some(ms) = job.ramp_ms {
        ui.note(&format!(
            "note: {path}: ramp_time={ms} ms is not used: the simulator warms up for its preset's \
             warmup_ms, realdev with its own warm-up run"
        ));
    }
    if !job.ignored.is_empty() {
        let ignored = job.ignored.join(", ");
        ui.note(&format!("note: {path}: no effect on the model: {ignored}"));
    }
}
