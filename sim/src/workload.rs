//! What the guest runs: an fio-like job description.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// fio's `rw`. Sequential and random access cost the same in the device
/// model (the presets model flash and SAN, not spinning disks); they stay
/// distinct so results say what was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rw {
    Randread,
    Randwrite,
    Read,
    Write,
    Randrw,
}

impl Rw {
    pub const ALL: [Rw; 5] = [Rw::Randread, Rw::Randwrite, Rw::Read, Rw::Write, Rw::Randrw];

    pub fn name(self) -> &'static str {
        match self {
            Rw::Randread => "randread",
            Rw::Randwrite => "randwrite",
            Rw::Read => "read",
            Rw::Write => "write",
            Rw::Randrw => "randrw",
        }
    }

    /// The share of reads in percent (`rwmixread` applies to randrw only).
    pub fn read_pct(self, rwmixread: u32) -> u32 {
        match self {
            Rw::Randread | Rw::Read => 100,
            Rw::Randwrite | Rw::Write => 0,
            Rw::Randrw => rwmixread,
        }
    }
}

impl fmt::Display for Rw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rw {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Rw, SimError> {
        Rw::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            SimError::Workload(format!(
                "unknown rw '{s}': expected one of randread, randwrite, read, write, randrw"
            ))
        })
    }
}

/// One workload point: fio's knobs plus the number of IOThreads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub rw: Rw,
    /// Percentage of reads for `randrw` (fio's rwmixread, default 50).
    pub rwmixread: u32,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    pub iothreads: u32,
    /// Measured virtual time, after the warm-up.
    pub duration_ms: u64,
}

impl Workload {
    pub const MAX_JOBS: u32 = 1024;
    pub const MAX_IODEPTH: u32 = 1024;
    pub const MAX_IOTHREADS: u32 = 64;
    pub const MAX_BS: u64 = 64 << 20;
    pub const MAX_DURATION_MS: u64 = 3_600_000;

    pub fn validate(&self) -> Result<(), SimError> {
        let range = |name: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err(SimError::Workload(format!(
                    "{name} = {v} is out of range: expected {lo} ..= {hi}"
                )))
            } else {
                Ok(())
            }
        };
        range("bs", self.bs, 512, Self::MAX_BS)?;
        if !self.bs.is_multiple_of(512) {
            return Err(SimError::Workload(format!(
                "bs = {} is not a multiple of 512 bytes (direct I/O needs sector-aligned sizes)",
                self.bs
            )));
        }
        range("numjobs", self.numjobs.into(), 1, Self::MAX_JOBS.into())?;
        range("iodepth", self.iodepth.into(), 1, Self::MAX_IODEPTH.into())?;
        range(
            "iothreads",
            self.iothreads.into(),
            1,
            Self::MAX_IOTHREADS.into(),
        )?;
        range("duration_ms", self.duration_ms, 1, Self::MAX_DURATION_MS)?;
        range("rwmixread", self.rwmixread.into(), 0, 100)
    }
}
