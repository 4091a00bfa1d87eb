//! The workload flags shared by `sim`, `sweep` and `compare`: fio's names,
//! each accepting a comma-separated list where a command runs several.

use anyhow::{bail, Result};
use clap::Args;
use pollwise_sim::{Preset, Rw, Workload};

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
    /// Requests each job keeps in flight [default: the preset's].
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub iodepth: Option<String>,
    /// Number of IOThreads serving the disks.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub iothreads: Option<String>,
    /// Measured virtual time per run in ms [default: the preset's].
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
}

/// Parses a positive size such as `4096`, `8k`, `128K` or `1m`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1024),
        Some((i, 'm' | 'M')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{text}' is not a positive size (e.g. 4096, 4k, 128k)"))
}

/// Parses a non-negative whole number.
pub fn count(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|_| format!("'{text}' is not a whole number"))
}

/// Parses a comma-separated list of values of one flag.
pub fn list<T, E: std::fmt::Display>(
    flag: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>> {
    let items: Vec<T> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
        .collect::<Result<_>>()?;
    if items.is_empty() {
        bail!("--{flag} needs at least one value");
    }
    Ok(items)
}

impl WorkloadArgs {
    /// Every combination of the given values. A flag not given takes the
    /// first value of the preset's matrix for rw and bs, the preset's
    /// iodepth and duration, and 1 for numjobs and iothreads.
    pub fn workloads(&self, preset: &Preset) -> Result<Vec<Workload>> {
        let m = &preset.matrix;
        let rws = match &self.rw {
            Some(t) => list("rw", t, |v| v.parse::<Rw>())?,
            None => vec![m.rw[0]],
        };
        let bss = match &self.bs {
            Some(t) => list("bs", t, parse_size)?,
            None => vec![m.bs[0]],
        };
        let jobs = match &self.numjobs {
            Some(t) => list("numjobs", t, count)?,
            None => vec![1],
        };
        let depths = match &self.iodepth {
            Some(t) => list("iodepth", t, count)?,
            None => vec![m.iodepth],
        };
        let threads = match &self.iothreads {
            Some(t) => list("iothreads", t, count)?,
            None => vec![1],
        };
        let mut out = Vec::new();
        for &rw in &rws {
            for &bs in &bss {
                for &numjobs in &jobs {
                    for &iodepth in &depths {
                        for &iothreads in &threads {
                            let w = Workload {
                                rw,
                                rwmixread: self.rwmixread,
                                bs,
                                numjobs,
                                iodepth,
                                iothreads,
                                duration_ms: self.duration_ms.unwrap_or(m.duration_ms),
                            };
                            w.validate()?;
                            out.push(w);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Exactly one workload (for `sim`).
    pub fn workload(&self, preset: &Preset) -> Result<Workload> {
        let mut all = self.workloads(preset)?;
        if all.len() != 1 {
            bail!(
                "this command runs one workload, but the flags describe {}: give one value per flag (use `pollwise sweep` for lists)",
                all.len()
            );
        }
        Ok(all.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("8k").unwrap(), 8192);
        assert_eq!(parse_size("128K").unwrap(), 131072);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert!(parse_size("8q").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("-8k").is_err());
        assert!(parse_size("").is_err());
    }
}
