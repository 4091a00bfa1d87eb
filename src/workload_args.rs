//! The workload flags shared by `sim`, `sweep` and `compare`: fio's names,
//! each accepting a comma-separated list where a command runs several.

use anyhow::{bail, Context, Result};
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

/// Parses a size such as `4096`, `8k`, `128K` or `1m`.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 'b'),
    };
    let mult = match unit {
        'b' => 1,
        'k' => 1024,
        'm' => 1024 * 1024,
        _ => bail!("size '{text}' has an unknown unit: use bytes or a k/m suffix, e.g. 8k"),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("size '{text}' is not a number of bytes (e.g. 4096 or 8k)"))?;
    n.checked_mul(mult)
        .with_context(|| format!("size '{text}' is too large"))
}

fn list<T>(flag: &str, text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let values: Vec<T> = text
        .split(',')
        .map(|v| parse(v.trim()).with_context(|| format!("--{flag}")))
        .collect::<Result<_>>()?;
    if values.is_empty() {
        bail!("--{flag} needs at least one value");
    }
    Ok(values)
}

fn number(v: &str) -> Result<u32> {
    v.parse()
        .with_context(|| format!("'{v}' is not a non-negative whole number"))
}

impl WorkloadArgs {
    /// Every combination of the given values; a flag not given takes the
    /// first value of the preset's matrix.
    pub fn workloads(&self, preset: &Preset) -> Result<Vec<Workload>> {
        let m = &preset.matrix;
        let rws = match &self.rw {
            Some(t) => list("rw", t, |v| Ok(v.parse::<Rw>()?))?,
            None => vec![m.rw[0]],
        };
        let bss = match &self.bs {
            Some(t) => list("bs", t, parse_size)?,
            None => vec![m.bs[0]],
        };
        let jobs = match &self.numjobs {
            Some(t) => list("numjobs", t, number)?,
            None => vec![1],
        };
        let depths = match &self.iodepth {
            Some(t) => list("iodepth", t, number)?,
            None => vec![m.iodepth],
        };
        let threads = match &self.iothreads {
            Some(t) => list("iothreads", t, number)?,
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
        assert!(parse_size("-8k").is_err());
        assert!(parse_size("").is_err());
    }
}
