//! Typed, validated policy parameters in QEMU's naming and units.
//!
//! Every policy reads the same [`Params`] value; which names a policy accepts,
//! their defaults and their ranges come from [`PolicyKind::specs`]. Values are
//! unsigned integers because QEMU's IOThread properties are integers and a
//! negative value is always a user error.

use std::fmt;

use crate::kind::PolicyKind;
use crate::param::{Param, ParamError, ParamSpec};

/// A complete, validated parameter set for one policy kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    kind: PolicyKind,
    values: [u64; Param::ALL.len()],
}

impl Params {
    /// The defaults of `kind`; parameters the kind does not use stay 0.
    pub fn defaults(kind: PolicyKind) -> Params {
        let mut values = [0; Param::ALL.len()];
        for spec in kind.specs() {
            values[spec.param.index()] = spec.default;
        }
        Params { kind, values }
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The value of `param`; 0 for a parameter the kind does not use.
    pub fn get(&self, param: Param) -> u64 {
        self.values[param.index()]
    }

    pub fn poll_max_ns(&self) -> u64 {
        self.get(Param::PollMaxNs)
    }

    /// Sets one parameter after checking the kind accepts it and its range.
    pub fn set(&mut self, param: Param, value: u64) -> Result<(), ParamError> {
        let spec = self.spec(param)?;
        if value < spec.min || value > spec.max {
            return Err(ParamError::OutOfRange {
                param: param.name(),
                value: value.to_string(),
                min: spec.min,
                max: spec.max,
            });
        }
        self.values[param.index()] = value;
        Ok(())
    }

    /// Sets a parameter from its textual name and value, as typed by a user.
    pub fn set_str(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let param = Param::from_name(name).ok_or_else(|| ParamError::UnknownParam {
            policy: self.kind.name(),
            param: name.to_string(),
            accepted: self.kind.param_names(),
        })?;
        let spec = self.spec(param)?;
        let parsed = parse_value(value).map_err(|why| match why {
            ValueError::Negative => ParamError::OutOfRange {
                param: spec.param.name(),
                value: value.trim().to_string(),
                min: spec.min,
                max: spec.max,
            },
            ValueError::NotANumber => ParamError::NotANumber {
                param: spec.param.name(),
                value: value.to_string(),
                min: spec.min,
                max: spec.max,
            },
        })?;
        self.set(param, parsed)
    }

    /// Applies `name=value` pairs in order over the kind's defaults.
    pub fn from_pairs<'a, I>(kind: PolicyKind, pairs: I) -> Result<Params, ParamError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut params = Params::defaults(kind);
        for (name, value) in pairs {
            params.set_str(name, value)?;
        }
        Ok(params)
    }

    /// The `name=value` pairs of every parameter this kind accepts, in spec
    /// order; the inverse of [`Params::from_pairs`].
    pub fn pairs(&self) -> Vec<(&'static str, u64)> {
        self.kind
            .specs()
            .iter()
            .map(|s| (s.param.name(), self.get(s.param)))
            .collect()
    }

    fn spec(&self, param: Param) -> Result<&'static ParamSpec, ParamError> {
        self.kind
            .specs()
            .iter()
            .find(|s| s.param == param)
            .ok_or_else(|| ParamError::UnknownParam {
                policy: self.kind.name(),
                param: param.name().to_string(),
                accepted: self.kind.param_names(),
            })
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, value) in self.pairs() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

enum ValueError {
    Negative,
    NotANumber,
}

/// Accepts plain decimal integers with optional `_` separators; rejects signs
/// (other than a telling error for `-`), fractions and units.
fn parse_value(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    if t.starts_with('-') && t[1..].chars().all(|c| c.is_ascii_digit() || c == '_') && t.len() > 1 {
        return Err(ValueError::Negative);
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ValueError::NotANumber);
    }
    // Too many digits for u64: report it as out of range via the caller's
    // range check by saturating.
    Ok(digits.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_parameter_value_and_range() {
        let mut p = Params::defaults(PolicyKind::Qemu);
        let e = p.set_str("poll-grow", "-3").unwrap_err().to_string();
        assert!(
            e.contains("poll-grow") && e.contains("-3") && e.contains("[0, 65536]"),
            "{e}"
        );
        let e = p.set_str("poll-max-ns", "12us").unwrap_err().to_string();
        assert!(
            e.contains("poll-max-ns") && e.contains("'12us'") && e.contains("whole number"),
            "{e}"
        );
        let e = p
            .set_str("poll-max-ns", "99999999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = p.set_str("poll-weight", "2").unwrap_err().to_string();
        assert!(
            e.contains("poll-weight") && e.contains("qemu") && e.contains("poll-shrink"),
            "{e}"
        );
        let e = p.set_str("bogus", "2").unwrap_err().to_string();
        assert!(e.contains("'bogus'"), "{e}");
    }

    #[test]
    fn pairs_round_trip() {
        let p = Params::from_pairs(
            PolicyKind::Weighted,
            [("poll-max-ns", "1_000"), ("poll-weight", "3")],
        )
        .unwrap();
        assert_eq!(p.get(Param::PollMaxNs), 1000);
        assert_eq!(p.get(Param::PollWeight), 3);
        let text: Vec<(String, String)> = p
            .pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = Params::from_pairs(
            PolicyKind::Weighted,
            text.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .unwrap();
        assert_eq!(p, q);
    }
}
