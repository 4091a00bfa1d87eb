//! What the guest runs: fio's knobs plus the number of IOThreads. One type
//! for every backend; what each backend accepts is its [`Limits`], checked
//! by [`Workload::check`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// fio's `rw`. Sequential and random access cost the same in the simulated
/// device model (flash and SAN, not spinning disks); they stay distinct so
/// results say what was run, and the device backend honours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rw {
    RandRead,
    RandWrite,
    Read,
    Write,
    RandRw,
}

impl Rw {
    pub const ALL: [Rw; 5] = [Rw::RandRead, Rw::RandWrite, Rw::Read, Rw::Write, Rw::RandRw];

    pub fn name(self) -> &'static str {
        match self {
            Rw::RandRead => "randread",
            Rw::RandWrite => "randwrite",
            Rw::Read => "read",
            Rw::Write => "write",
            Rw::RandRw => "randrw",
        }
    }

    /// Parses fio's name; the error lists the accepted names.
    pub fn from_name(name: &str) -> Result<Rw, String> {
        Rw::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Rw::ALL.iter().map(|r| r.name()).collect();
                format!(
                    "unknown rw mode '{name}': expected one of {}",
                    known.join(", ")
                )
            })
    }

    /// The share of reads in percent (`rwmixread` applies to randrw only).
    pub fn read_pct(self, rwmixread: u32) -> u32 {
        match self {
            Rw::RandRead | Rw::Read => 100,
            Rw::RandWrite | Rw::Write => 0,
            Rw::RandRw => rwmixread,
        }
    }

    pub fn writes(self) -> bool {
        matches!(self, Rw::RandWrite | Rw::Write | Rw::RandRw)
    }

    pub fn random(self) -> bool {
        matches!(self, Rw::RandRead | Rw::RandWrite | Rw::RandRw)
    }
}

impl fmt::Display for Rw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rw {
    type Err = String;
    fn from_str(s: &str) -> Result<Rw, String> {
        Rw::from_name(s)
    }
}

/// One workload point: fio's knobs plus the number of IOThreads and the
/// measured time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub rw: Rw,
    /// Percentage of reads for `randrw` (fio's rwmixread, default 50).
    pub rwmixread: u32,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    pub iothreads: u32,
    /// Measured time (after any warm-up).
    pub duration_ms: u64,
}

/// What one backend accepts. Each backend states its limits once, as a
/// constant, and every check goes through [`Workload::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Named in messages ("the simulator", "the device").
    pub backend: &'static str,
    /// Inclusive ranges.
    pub bs: (u64, u64),
    /// `bs` must be a multiple of this (1: the backend checks alignment
    /// itself, e.g. against a device's logical block size).
    pub bs_align: u64,
    pub numjobs: (u32, u32),
    pub iodepth: (u32, u32),
    pub iothreads: (u32, u32),
    pub duration_ms: (u64, u64),
    /// At most this many requests in flight (numjobs x iodepth), if bounded.
    pub max_in_flight: Option<u64>,
}

/// A workload value a backend does not accept; the message names the
/// value, the backend and the accepted range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadError(pub String);

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WorkloadError {}

impl Workload {
    /// Checks every field against `limits`, naming the first one out of
    /// range, its value and what would be accepted.
    pub fn check(&self, limits: &Limits) -> Result<(), WorkloadError> {
        let who = limits.backend;
        let range = |name: &str, v: u64, (lo, hi): (u64, u64)| {
            if v < lo || v > hi {
                Err(WorkloadError(format!(
                    "{name} {v} is out of range for {who}: expected {lo} ..= {hi}"
                )))
            } else {
                Ok(())
            }
        };
        let wide = |(lo, hi): (u32, u32)| (u64::from(lo), u64::from(hi));
        range("bs", self.bs, limits.bs)?;
        if !self.bs.is_multiple_of(limits.bs_align) {
            return Err(WorkloadError(format!(
                "bs {} is not a multiple of {} bytes, as {who} needs (direct I/O uses \
                 sector-aligned sizes)",
                self.bs, limits.bs_align
            )));
        }
        range("numjobs", self.numjobs.into(), wide(limits.numjobs))?;
        range("iodepth", self.iodepth.into(), wide(limits.iodepth))?;
        range("iothreads", self.iothreads.into(), wide(limits.iothreads))?;
        range("duration_ms", self.duration_ms, limits.duration_ms)?;
        range("rwmixread", self.rwmixread.into(), (0, 100))?;
        if let Some(max) = limits.max_in_flight {
            let slots = u64::from(self.numjobs) * u64::from(self.iodepth);
            if slots > max {
                return Err(WorkloadError(format!(
                    "numjobs x iodepth = {slots} requests in flight; {who} supports at most {max}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        backend: "the test",
        bs: (512, 1 << 20),
        bs_align: 512,
        numjobs: (1, 4),
        iodepth: (1, 8),
        iothreads: (1, 1),
        duration_ms: (1, 1000),
        max_in_flight: Some(16),
    };

    fn w() -> Workload {
        Workload {
            rw: Rw::RandRead,
            rwmixread: 50,
            bs: 4096,
            numjobs: 1,
            iodepth: 1,
            iothreads: 1,
            duration_ms: 10,
        }
    }

    #[test]
    fn rw_names_round_trip_and_unknown_lists_the_known() {
        for rw in Rw::ALL {
            assert_eq!(rw.name().parse::<Rw>(), Ok(rw));
        }
        let e = Rw::from_name("randomread").unwrap_err();
        assert!(
            e.contains("'randomread'") && e.contains("randread, randwrite"),
            "{e}"
        );
    }

    #[test]
    fn check_names_field_value_and_range() {
        assert_eq!(w().check(&L), Ok(()));
        let e = Workload { iodepth: 0, ..w() }.check(&L).unwrap_err().0;
        assert_eq!(
            e,
            "iodepth 0 is out of range for the test: expected 1 ..= 8"
        );
        let e = Workload { bs: 1000, ..w() }.check(&L).unwrap_err().0;
        assert!(e.starts_with("bs 1000 is not a multiple of 512"), "{e}");
        let e = Workload {
            rwmixread: 101,
            ..w()
        }
        .check(&L)
        .unwrap_err()
        .0;
        assert!(e.starts_with("rwmixread 101 is out of range"), "{e}");
        let e = Workload {
            iothreads: 2,
            ..w()
        }
        .check(&L)
        .unwrap_err()
        .0;
        assert!(e.contains("iothreads 2") && e.contains("1 ..= 1"), "{e}");
        let e = Workload {
            numjobs: 4,
            iodepth: 8,
            ..w()
        }
        .check(&L)
        .unwrap_err()
        .0;
        assert!(
            e.contains("= 32 requests") && e.contains("at most 16"),
            "{e}"
        );
    }
}
