//! A typed workload matrix: every combination of rw x bs x numjobs x
//! iodepth x iothreads, its size computed and bounded before anything is
//! allocated.

use pollwise_core::{Limits, Rw, Workload};

use crate::LabError;

/// The most points one matrix may have: far beyond any useful experiment
/// (each point is at least one run), small enough to hold in memory.
pub const MAX_POINTS: u64 = 1_000_000;

/// The axes of a matrix; every combination is one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub rw: Vec<Rw>,
    pub bs: Vec<u64>,
    pub numjobs: Vec<u32>,
    pub iodepth: Vec<u32>,
    pub iothreads: Vec<u32>,
    /// fio's rwmixread for every point (randrw only).
    pub rwmixread: u32,
    pub duration_ms: u64,
}

impl Matrix {
    /// A simulator preset's own matrix (the DESIGN table), with fio's
    /// default rwmixread of 50.
    pub fn of_preset(m: &pollwise_sim::Matrix) -> Matrix {
        Matrix {
            rw: m.rw.clone(),
            bs: m.bs.clone(),
            numjobs: m.numjobs.clone(),
            iodepth: vec![m.iodepth],
            iothreads: m.iothreads.clone(),
            rwmixread: 50,
            duration_ms: m.duration_ms,
        }
    }

    /// The number of points, refused (with the number and the limit)
    /// when an axis is empty or the product passes [`MAX_POINTS`].
    pub fn len(&self) -> Result<usize, LabError> {
        let axes = [
            ("rw", self.rw.len()),
            ("bs", self.bs.len()),
            ("numjobs", self.numjobs.len()),
            ("iodepth", self.iodepth.len()),
            ("iothreads", self.iothreads.len()),
        ];
        if let Some((name, _)) = axes.iter().find(|(_, n)| *n == 0) {
            return Err(LabError::Input(format!(
                "the workload matrix has no {name} value: give at least one"
            )));
        }
        let n = axes
            .iter()
            .try_fold(1u64, |acc, (_, n)| acc.checked_mul(*n as u64));
        match n {
            Some(n) if n <= MAX_POINTS => Ok(n as usize),
            _ => Err(LabError::Input(format!(
                "the workload matrix would have {} points; at most {MAX_POINTS} are allowed: \
                 give fewer values",
                axes.iter()
                    .map(|(_, n)| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" x ")
            ))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len().is_ok_and(|n| n == 0)
    }

    /// Every point in rw, bs, numjobs, iodepth, iothreads order (the last
    /// varies fastest), each checked against the backend's `limits`.
    pub fn workloads(&self, limits: &Limits) -> Result<Vec<Workload>, LabError> {
        let mut out = Vec::with_capacity(self.len()?);
        for &rw in &self.rw {
            for &bs in &self.bs {
                for &numjobs in &self.numjobs {
                    for &iodepth in &self.iodepth {
                        for &iothreads in &self.iothreads {
                            let w = Workload {
                                rw,
                                rwmixread: self.rwmixread,
                                bs,
                                numjobs,
                                iodepth,
                                iothreads,
                                duration_ms: self.duration_ms,
                            };
                            w.check(limits)?;
                            out.push(w);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Matrix {
        Matrix {
            rw: vec![Rw::RandRead, Rw::RandWrite],
            bs: vec![4096],
            numjobs: vec![1, 4],
            iodepth: vec![8],
            iothreads: vec![1, 2],
            rwmixread: 50,
            duration_ms: 10,
        }
    }

    #[test]
    fn order_is_rw_bs_numjobs_iodepth_iothreads() {
        let w = m().workloads(&pollwise_sim::LIMITS).unwrap();
        assert_eq!(w.len(), 8);
        let key: Vec<_> = w.iter().map(|w| (w.rw, w.numjobs, w.iothreads)).collect();
        assert_eq!(
            key[..3],
            [
                (Rw::RandRead, 1, 1),
                (Rw::RandRead, 1, 2),
                (Rw::RandRead, 4, 1)
            ]
        );
        assert_eq!(key[4], (Rw::RandWrite, 1, 1));
    }

    #[test]
    fn absurd_sizes_are_refused_before_allocation() {
        let huge = Matrix {
            bs: (1..=2000).map(|k| k * 512).collect(),
            numjobs: (1..=1000).collect(),
            ..m()
        };
        let e = huge.len().unwrap_err().to_string();
        assert!(
            e.contains("2 x 2000 x 1000 x 1 x 2") && e.contains("1000000"),
            "{e}"
        );
        let e = Matrix { rw: vec![], ..m() }.len().unwrap_err().to_string();
        assert!(e.contains("no rw value"), "{e}");
    }

    #[test]
    fn points_outside_the_backend_limits_are_refused() {
        let e = Matrix {
            iothreads: vec![17],
            ..m()
        }
        .workloads(&pollwise_realdev::loadgen::LIMITS)
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("iothreads 17") && e.contains("the device"),
            "{e}"
        );
    }
}
