//! Policies as every command names them, `NAME[:PARAM=VALUE,...]`, with the
//! deprecated flags of earlier releases applied over them; and `policy
//! list`, `policy show` and `policy replay`.

use std::io::{Read, Write};
use std::path::Path;

use pollwise_core::{Params, PolicyKind};

use super::{deprecated, Result, Ui};
use crate::effective::{effective_text, effective_value};
use crate::formats::parse::{parse_pairs, policy_spec};
use crate::formats::qemu_syntax::qemu_setting;

/// A policy as `NAME[:PAIRS]` with the pairs of deprecated flags applied
/// over it in order, each with its note naming the one spec to write.
pub fn spec_with(ui: &dyn Ui, flag: &str, spec: &str, old: &[(String, String)]) -> Result<Params> {
    let name = spec.split_once(':').map_or(spec, |(n, _)| n).trim();
    if let Some(note) = PolicyKind::renamed_from(name) {
        ui.note(&note);
    }
    let mut params = policy_spec(flag, spec)?;
    if old.is_empty() {
        return Ok(params);
    }
    let mut pairs: Vec<String> = spec
        .split_once(':')
        .map(|(_, p)| {
            parse_pairs(p)
                .map(|v| v.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    for (old_flag, pair) in old {
        let Some((k, v)) = pair.split_once('=') else {
            return super::fail(format!("{old_flag} '{pair}' is not NAME=VALUE"));
        };
        let name = format!("{}=", k.trim());
        if let Some(first) = pairs.iter().find(|p| p.starts_with(&name)) {
            // The later would win without a word.
            return super::fail(format!(
                "{old_flag} {pair} sets a parameter already given ({first}): give it once, as \
                 in --{flag} {}:{}",
                params.kind(),
                pairs.join(",")
            ));
        }
        if let Err(e) = params.set_str(k.trim(), v.trim()) {
            return super::fail(format!("{old_flag} {pair}: {e}"));
        }
        pairs.push(format!("{}={}", k.trim(), v.trim()));
    }
    let mut olds: Vec<&str> = old.iter().map(|(f, _)| f.as_str()).collect();
    olds.dedup();
    let new = format!("--{flag} {}:{}", params.kind(), pairs.join(","));
    deprecated(ui, &olds.join(", "), &new);
    Ok(params)
}

/// `--policy SPEC` and the deprecated flags that set one parameter each
/// (`--poll-weight 3`, `--param NAME=VALUE`), as typed.
#[derive(Clone, Debug, Default)]
pub struct PolicyFlags {
    pub spec: String,
    /// (parameter name, value) of each deprecated one-parameter flag given.
    pub single: Vec<(&'static str, String)>,
    /// The deprecated `--param` items.
    pub extra: Vec<String>,
}

impl PolicyFlags {
    /// The validated parameters: the spec's, then any deprecated flag's.
    pub fn params(&self, ui: &dyn Ui) -> Result<Params> {
        let mut old: Vec<(String, String)> = self
            .single
            .iter()
            .map(|(name, v)| (format!("--{name}"), format!("{name}={v}")))
            .collect();
        for item in &self.extra {
            for (k, v) in parse_pairs(item)? {
                old.push(("--param".into(), format!("{k}={v}")));
            }
        }
        spec_with(ui, "policy", &self.spec, &old)
    }
}

/// The pairs of a deprecated `--X-params PAIRS` flag.
pub fn old_pairs(flag: &str, text: Option<&str>) -> Result<Vec<(String, String)>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    Ok(parse_pairs(text)?
        .into_iter()
        .map(|(k, v)| (flag.to_string(), format!("{k}={v}")))
        .collect())
}

/// `--baseline`/`--candidate` and their deprecated `--X-params`, as typed.
#[derive(Clone, Debug)]
pub struct PairFlags {
    pub baseline: String,
    pub baseline_params: Option<String>,
    pub candidate: String,
    pub candidate_params: Option<String>,
}

impl PairFlags {
    /// QEMU's rule against the proposal, with no parameter given.
    pub fn default_pair() -> PairFlags {
        PairFlags {
            baseline: "qemu".into(),
            baseline_params: None,
            candidate: "weighted".into(),
            candidate_params: None,
        }
    }

    /// The validated (baseline, candidate) parameters.
    pub fn params(&self, ui: &dyn Ui) -> Result<(Params, Params)> {
        let b = old_pairs("--baseline-params", self.baseline_params.as_deref())?;
        let c = old_pairs("--candidate-params", self.candidate_params.as_deref())?;
        Ok((
            spec_with(ui, "baseline", &self.baseline, &b)?,
            spec_with(ui, "candidate", &self.candidate, &c)?,
        ))
    }
}

/// `policy list --format csv`: one line per policy and parameter.
pub fn write_list_csv(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "policy,parameter,default,min,max,description")?;
    for kind in PolicyKind::ALL {
        if kind.specs().is_empty() {
            writeln!(out, "{},,,,,\"{}\"", kind.name(), kind.description())?;
        }
        for s in kind.specs() {
            let default = effective_value(s, s.default);
            let (name, help) = (s.param.name(), s.help);
            let (k, min, max) = (kind.name(), s.min, s.max);
            writeln!(out, "{k},{name},{default},{min},{max},\"{help}\"")?;
        }
    }
    Ok(())
}

/// `policy list`: every policy with its parameters, defaults and ranges.
pub fn write_list_table(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "A policy is named NAME[:PARAM=VALUE,...] wherever a command takes one \
         (--policy, --baseline, --candidate), e.g. weighted:poll-weight=3.\n"
    )?;
    for kind in PolicyKind::ALL {
        writeln!(out, "{:<15} {}", kind.name(), kind.description())?;
        for s in kind.specs() {
            writeln!(
                out,
                "    {:<22} default {:<8} range [{}, {}]  {}",
                s.param.name(),
                effective_value(s, s.default),
                s.min,
                s.max,
                s.help
            )?;
        }
    }
    Ok(())
}

/// `policy show`: one setting as it acts and, with `qemu`, in QEMU's
/// syntaxes (command line, QMP, libvirt XML).
pub fn write_show(out: &mut dyn Write, params: &Params, qemu: bool, id: &str) -> Result<()> {
    writeln!(out, "policy {}: {}", params.kind(), effective_text(params))?;
    if !qemu {
        return Ok(());
    }
    let s = qemu_setting(params, id)?;
    writeln!(out, "\n# QEMU command line")?;
    writeln!(out, "{}", s.object)?;
    writeln!(
        out,
        "\n# QMP, to change a running IOThread (one command each)"
    )?;
    for line in &s.qmp {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "\n# libvirt domain XML (inside <domain>)")?;
    writeln!(out, "{}", s.libvirt)?;
    for note in &s.notes {
        writeln!(out, "\nnote: {note}")?;
    }
    Ok(())
}

/// `policy replay`: the trace at `input` (`-` is `stdin`) through the
/// policy, the window after each step as CSV on `out`.
pub fn replay(params: Params, input: &Path, stdin: impl Read, out: &mut dyn Write) -> Result<()> {
    let policy = pollwise_core::AnyPolicy::new(params);
    use crate::formats::input::{capped, open, InputKind};
    let reader: Box<dyn Read + '_> = if input.as_os_str() == "-" {
        Box::new(capped("--input", Path::new("-"), InputKind::Log, stdin))
    } else {
        Box::new(open("--input", input, InputKind::Log)?)
    };
    let origin = input.display().to_string();
    let mut out = out;
    crate::replay::replay(policy, reader, &origin, &mut out)?;
    Ok(())
}

/// `policy waits`: the trace at `input` (`-` is `stdin`) summarised per
/// handler and where each wait ended.
pub fn waits(input: &Path, stdin: impl Read, out: &mut dyn Write) -> Result<()> {
    use crate::formats::input::{capped, open, InputKind};
    let reader: Box<dyn Read + '_> = if input.as_os_str() == "-" {
        Box::new(capped("--input", Path::new("-"), InputKind::Log, stdin))
    } else {
        Box::new(open("--input", input, InputKind::Log)?)
    };
    let origin = input.display().to_string();
    let groups = crate::wait_summary::summarize(reader, &origin)?;
    crate::wait_summary::write_summary(out, &groups).map_err(|e| crate::LabError::File {
        path: "standard output".into(),
        error: e,
    })?;
    Ok(())
}

/// `policy ratio`: the trace at `input` (`-` is `stdin`) through each of
/// `specs` (every online policy at its defaults when empty), each one's
/// spin-plus-block cost against the offline optimum at `price`.
pub fn ratio(
    ui: &dyn Ui,
    specs: &[String],
    input: &Path,
    stdin: impl Read,
    price: crate::ratio::Price,
    out: &mut dyn Write,
) -> Result<()> {
    use crate::formats::input::{capped, open, InputKind};
    use crate::ratio::Price;
    if matches!(price, Price::Fixed(0) | Price::InFlight { wake_ns: 0 }) {
        return super::fail(
            "a block must cost something: give --price-ns or --wake-ns above 0 (e.g. 24000 \
             or 6000)"
                .to_string(),
        );
    }
    let policies = if specs.is_empty() {
        crate::ratio::online_defaults()
    } else {
        specs
            .iter()
            .map(|s| spec_with(ui, "policy", s, &[]))
            .collect::<Result<Vec<_>>>()?
    };
    let reader: Box<dyn Read + '_> = if input.as_os_str() == "-" {
        Box::new(capped("--input", Path::new("-"), InputKind::Log, stdin))
    } else {
        Box::new(open("--input", input, InputKind::Log)?)
    };
    let origin = input.display().to_string();
    let r = crate::ratio::ratios(&policies, reader, &origin, price)?;
    crate::ratio::write_ratios(out, &r).map_err(|e| crate::LabError::File {
        path: "standard output".into(),
        error: e,
    })?;
    Ok(())
}
