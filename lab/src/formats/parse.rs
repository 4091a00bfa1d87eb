//! The textual forms users type: sizes (`8k`), comma-separated lists,
//! `NAME=VALUE` pairs, a policy as `NAME[:PAIRS]`, a live change as
//! `MS:PAIRS`, and a workload matrix as lists of each axis. Each error names
//! the flag, the text and what would be accepted.

use pollwise_core::{Params, PolicyKind, Rw};
use pollwise_realdev::run::ParamChange;

use crate::{LabError, Matrix};

fn input(msg: String) -> LabError {
    LabError::Input(msg)
}

/// A positive size: a number with an optional k/m/g suffix (powers of
/// 1024, as fio's default kb_base), optionally followed by `b` or `ib`, in
/// any case (`4096`, `8k`, `128K`, `1m`, `4KiB`). `None` if it is not one.
pub fn size_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (digits, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
}

/// Parses a positive size (see [`size_bytes`]) for a flag.
pub fn parse_size(text: &str) -> Result<u64, String> {
    size_bytes(text).ok_or_else(|| format!("'{text}' is not a positive size (e.g. 4096, 4k, 128k)"))
}

/// Parses a non-negative whole number.
pub fn count(text: &str) -> Result<u32, String> {
    text.parse::<u32>().map_err(|e| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("'{text}' is far too large for a count")
        } else if text.starts_with('-') {
            format!("'{text}' is negative: give a count of 1 or more")
        } else {
            format!("'{text}' is not a whole number")
        }
    })
}

/// The first value equal to an earlier one, as (the earlier's index, its
/// index); in linear time, since a command line can hold a million values.
pub fn first_repeat<T: Eq + std::hash::Hash>(items: &[T]) -> Option<(usize, usize)> {
    let mut seen = std::collections::HashMap::with_capacity(items.len());
    items
        .iter()
        .enumerate()
        .find_map(|(i, x)| seen.insert(x, i).map(|j| (j, i)))
}

/// Parses a comma-separated list of values of the flag `--flag`.
pub fn list<T: Eq + std::hash::Hash, E: std::fmt::Display>(
    flag: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, LabError> {
    let texts: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let items: Vec<T> = texts
        .iter()
        .map(|s| parse(s).map_err(|e| input(format!("--{flag}: {e}"))))
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Err(input(format!("--{flag} needs at least one value")));
    }
    // A value twice would run (and count) the same rows twice.
    if let Some((j, i)) = first_repeat(&items) {
        return Err(input(format!(
            "--{flag} lists the same value twice ('{}' and '{}'): give each value once",
            texts[j], texts[i]
        )));
    }
    Ok(items)
}

/// Parses `a=1,b=2` or `a=1 b=2` into name/value pairs.
pub fn parse_pairs(text: &str) -> Result<Vec<(&str, &str)>, LabError> {
    let pairs: Vec<(&str, &str)> = text
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| {
                    input(format!(
                        "'{item}' is not NAME=VALUE (e.g. poll-max-ns=16000)"
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    // The last of two values would win without a word.
    let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
    if let Some((j, i)) = first_repeat(&names) {
        let (name, first, value) = (names[i], pairs[j].1, pairs[i].1);
        return Err(input(format!(
            "{name} is given twice ({name}={first} and {name}={value}): give it once"
        )));
    }
    Ok(pairs)
}

/// A policy given by name and `NAME=VALUE` pairs (comma-separated).
pub fn named_params(name: &str, pairs: Option<&str>) -> Result<Params, LabError> {
    let kind = PolicyKind::from_name(name)?;
    let pairs = match pairs {
        Some(text) => parse_pairs(text)?,
        None => Vec::new(),
    };
    Ok(Params::from_pairs(kind, pairs)?)
}

/// A policy as `NAME` or `NAME:PAIRS` (`weighted:poll-weight=2`), for the
/// flag `--flag`.
pub fn policy_spec(flag: &str, item: &str) -> Result<Params, LabError> {
    let (name, pairs) = match item.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (item, None),
    };
    named_params(name.trim(), pairs).map_err(|e| input(format!("--{flag} {item}: {e}")))
}

/// `MS:NAME=VALUE,...` items (`--set-at`) as changes applied over `base`, in
/// time order; each time must lie inside a run of `duration_ms`.
pub fn set_at(
    items: &[String],
    base: &Params,
    duration_ms: u64,
) -> Result<Vec<ParamChange>, LabError> {
    let mut parsed: Vec<(u64, &str)> = items
        .iter()
        .map(|item| {
            let (ms, pairs) = item.split_once(':').ok_or_else(|| {
                input(format!(
                    "--set-at '{item}' is not MS:NAME=VALUE (e.g. 500:poll-max-ns=8000)"
                ))
            })?;
            let ms = ms.trim().parse::<u64>().map_err(|_| {
                input(format!(
                    "--set-at '{item}': '{ms}' is not a time in ms (e.g. 500)"
                ))
            })?;
            if ms >= duration_ms {
                return Err(input(format!(
                    "--set-at '{item}': {ms} ms is not inside the run: give a time in \
                     0..{duration_ms} ms (--duration-ms is {duration_ms})"
                )));
            }
            Ok((ms, pairs))
        })
        .collect::<Result<_, _>>()?;
    parsed.sort_by_key(|(ms, _)| *ms);
    let mut current = base.clone();
    let mut changes = Vec::new();
    for (ms, pairs) in parsed {
        for (name, value) in parse_pairs(pairs)? {
            current
                .set_str(name, value)
                .map_err(|e| input(format!("--set-at {ms}:{pairs}: {e}")))?;
        }
        changes.push(ParamChange {
            at_ms: ms,
            params: current.clone(),
        });
    }
    Ok(changes)
}

/// `NAME=V1,V2,...` (a sweep's `--param`) as a parameter and its values.
pub fn axis(text: &str) -> Result<(String, Vec<String>), LabError> {
    let (name, values) = text.split_once('=').ok_or_else(|| {
        input(format!(
            "--param '{text}' is not NAME=V1,V2,... (e.g. poll-max-ns=0,4000)"
        ))
    })?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(input(format!(
            "--param {name} has no values: give e.g. {name}=1,2,4"
        )));
    }
    if let Some((_, i)) = first_repeat(&values) {
        return Err(input(format!(
            "--param {name} lists {} twice (value {} of {}): give each value once",
            values[i],
            i + 1,
            values.len()
        )));
    }
    Ok((name.trim().to_string(), values))
}

/// The axes of a matrix as the comma-separated lists of its flags.
#[derive(Clone, Copy, Debug)]
pub struct MatrixText<'a> {
    pub rw: &'a str,
    pub bs: &'a str,
    pub numjobs: &'a str,
    pub iodepth: &'a str,
    pub iothreads: &'a str,
}

impl MatrixText<'_> {
    /// The small matrix real backends run by default: 4k randread,
    /// numjobs 1, queue depth 1 and 8, one IOThread.
    pub const DEVICE_DEFAULT: MatrixText<'static> = MatrixText {
        rw: "randread",
        bs: "4k",
        numjobs: "1",
        iodepth: "1,8",
        iothreads: "1",
    };

    pub fn matrix(&self, rwmixread: u32, duration_ms: u64) -> Result<Matrix, LabError> {
        Ok(Matrix {
            rw: list("rw", self.rw, Rw::from_name)?,
            bs: list("bs", self.bs, parse_size)?,
            numjobs: list("numjobs", self.numjobs, count)?,
            iodepth: list("iodepth", self.iodepth, count)?,
            iothreads: list("iothreads", self.iothreads, count)?,
            rwmixread,
            duration_ms,
        })
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
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert!(parse_size("8q").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("-8k").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn lists_name_their_flag() {
        assert_eq!(list("iodepth", "1, 8,", count).unwrap(), vec![1, 8]);
        let e = list("iodepth", "1,x", count).unwrap_err().to_string();
        assert!(e.contains("--iodepth") && e.contains("'x'"), "{e}");
        assert!(list("bs", " , ", parse_size).is_err());
        // The same value twice, however spelled, would run its rows twice.
        let e = list("bs", "4k,8k,4096", parse_size)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'4k' and '4096'") && e.contains("--bs"), "{e}");
        assert!(list("numjobs", "1, 1", count).is_err());
        assert!(count("99999999999").unwrap_err().contains("far too large"));
        assert!(count("-1").unwrap_err().contains("negative"));
        assert!(count("x").unwrap_err().contains("not a whole number"));
    }

    #[test]
    fn live_changes_are_sorted_cumulative_and_inside_the_run() {
        let base = named_params("qemu", None).unwrap();
        let items = vec![
            "700:poll-shrink=2".to_string(),
            "200:poll-max-ns=8000".to_string(),
        ];
        let c = set_at(&items, &base, 1000).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].at_ms, 200);
        assert_eq!(c[1].at_ms, 700);
        // The second change keeps the first's poll-max-ns.
        assert_eq!(c[1].params.poll_max_ns(), 8000);
        assert!(set_at(&["1000:poll-max-ns=1".into()], &base, 1000).is_err());
        assert!(set_at(&["x:poll-max-ns=1".into()], &base, 1000).is_err());
        assert!(set_at(&["5:poll-max-ns".into()], &base, 1000).is_err());
    }

    #[test]
    fn sweep_axes() {
        let (name, values) = axis("poll-max-ns=0, 4000,").unwrap();
        assert_eq!(
            (name.as_str(), values),
            ("poll-max-ns", vec!["0".into(), "4000".into()])
        );
        assert!(axis("poll-max-ns").is_err());
        assert!(axis("poll-max-ns=,")
            .unwrap_err()
            .to_string()
            .contains("no values"));
        let e = axis("poll-max-ns=1,2,1").unwrap_err().to_string();
        assert!(e.contains("lists 1 twice"), "{e}");
    }

    #[test]
    fn policy_specs() {
        let p = policy_spec("policy", "weighted:poll-weight=2").unwrap();
        assert_eq!(p.kind(), PolicyKind::Weighted);
        assert_eq!(
            p.pairs()
                .iter()
                .find(|(n, _)| *n == "poll-weight")
                .unwrap()
                .1,
            2
        );
        let e = policy_spec("policy", "nosuch").unwrap_err().to_string();
        assert!(e.contains("--policy nosuch"), "{e}");
        // The second value would win without a word.
        let e = policy_spec("policy", "qemu:poll-max-ns=1,poll-max-ns=2")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("poll-max-ns is given twice (poll-max-ns=1 and poll-max-ns=2)"),
            "{e}"
        );
    }
}
