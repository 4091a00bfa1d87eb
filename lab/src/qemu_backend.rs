//! QEMU's own loop as a [`Backend`]: each run is one run of the C harness
//! (`pollwise-qemu`), QEMU's `aio_poll()` and linux-aio on a real file, in
//! the variant that implements the policy in C or in a variant built from
//! a patch series ([`series_spec`]).
//!
//! The target is opened once, like the device backend's: a scratch file is
//! created and filled once and every read run reads it (`--file`); a run
//! that writes gets a scratch file of its own from the harness (`--dir`),
//! because the harness writes only to files it created.

use std::path::{Path, PathBuf};

use pollwise_core::{Limits, Params, PolicyKind, RunRow, Rw};
use pollwise_qemu::{
    harness_path, series_params_kind, variant_for, variant_info, RunSpec, Target as HarnessTarget,
    VariantParams,
};
use pollwise_realdev::sys::SigintGuard;
use pollwise_realdev::target::{Target, TargetSpec};

use crate::backend::{online, Backend, Point};
use crate::LabError;

/// What the harness accepts (`qemu/harness/pollwise-qemu-harness.c`): sizes
/// in 512-byte sectors, at most 256 jobs of 1024 requests, 64 IOThreads.
/// `randrw` is not among its modes (checked in [`QemuBackend::run`]).
pub const LIMITS: Limits = Limits {
    backend: "QEMU's loop",
    bs: (512, 64 << 20),
    bs_align: 512,
    numjobs: (1, 256),
    iodepth: (1, 1024),
    iothreads: (1, 64),
    duration_ms: (1, 24 * 3_600_000),
    max_in_flight: None,
};

/// The policies the QEMU backend runs (those with a variant).
pub const POLICIES: &str = "qemu, off, weighted, pollwise";

/// The harness of each variant in a cache directory, run on one target.
pub struct QemuBackend {
    cache: PathBuf,
    /// Read runs: the scratch file or the user's file.
    read_file: PathBuf,
    /// Write runs: where the harness makes its own scratch file (none for
    /// a user's file, which the harness never writes).
    write_dir: Option<(PathBuf, u64)>,
    label: String,
    /// Measured after this much warm-up in each run.
    pub warmup_ms: u64,
    sigint: SigintGuard,
    // Dropped (and so removed) with the backend.
    _scratch: Option<Target>,
}

impl QemuBackend {
    /// The warm-up before each run's measured time, unless changed.
    pub const WARMUP_MS: u64 = 500;

    /// Opens `target` for runs of block sizes up to `max_bs`, with the
    /// harnesses in `cache` (built by `pollwise qemu build`).
    pub fn open(cache: &Path, target: &TargetSpec, max_bs: u64) -> Result<QemuBackend, LabError> {
        let sigint = SigintGuard::install().map_err(|e| LabError::Input(e.to_string()))?;
        Ok(match target {
            TargetSpec::Scratch { dir, size_bytes } => {
                let scratch = Target::open(target, max_bs, true)?;
                let path = scratch.path().to_path_buf();
                let dir = dir.clone().unwrap_or_else(std::env::temp_dir);
                QemuBackend {
                    cache: cache.to_path_buf(),
                    read_file: path,
                    write_dir: Some((dir, *size_bytes)),
                    label: "scratch".into(),
                    warmup_ms: Self::WARMUP_MS,
                    sigint,
                    _scratch: Some(scratch),
                }
            }
            TargetSpec::Existing { path, .. } => {
                // Opened read-only here only to check it exists and is usable.
                Target::open(target, max_bs, false)?;
                QemuBackend {
                    cache: cache.to_path_buf(),
                    read_file: path.clone(),
                    write_dir: None,
                    label: path.display().to_string(),
                    warmup_ms: Self::WARMUP_MS,
                    sigint,
                    _scratch: None,
                }
            }
        })
    }

    /// The harness invocation for a point.
    pub fn spec(&self, p: &Point) -> Result<RunSpec, LabError> {
        let w = &p.workload;
        if w.rw == Rw::RandRw {
            return Err(LabError::Input(
                "rw randrw: QEMU's harness runs randread, read, randwrite and write".into(),
            ));
        }
        let target = if w.rw.writes() {
            let (dir, size) = self.write_dir.clone().ok_or_else(|| {
                LabError::Input(format!(
                    "rw {}: QEMU's harness writes only to a scratch file it creates; \
                     use --dir instead of --file",
                    w.rw
                ))
            })?;
            HarnessTarget::Scratch { dir, size }
        } else {
            HarnessTarget::File(self.read_file.clone())
        };
        let mut spec = RunSpec::new(p.params.clone(), PathBuf::new());
        spec.target = target;
        spec.rw = w.rw.name().to_string();
        spec.bs = w.bs;
        spec.numjobs = w.numjobs;
        spec.iodepth = w.iodepth;
        spec.iothreads = w.iothreads;
        spec.duration_ms = w.duration_ms;
        spec.warmup_ms = self.warmup_ms;
        spec.seed = p.seed;
        if let Some(v) = &p.qemu_variant {
            spec.variant = Some(variant_info(&self.cache, v).map_err(qemu_err)?);
        }
        Ok(spec)
    }
}

fn qemu_err(e: pollwise_qemu::QemuError) -> LabError {
    LabError::Qemu(format!("{e:#}"))
}

/// A policy spec `NAME[:PROP=VALUE,...]` whose NAME is not a policy but a
/// variant built from a patch series in `cache` (`pollwise qemu build
/// --series NAME=DIR`): its parameters, as the policy kind that carries
/// its properties ([`series_params_kind`]), and the variant's name. `None`
/// when NAME is a policy or no such variant is built. `extra` are more
/// `PROP=VALUE` pairs (a deprecated `--X-params` flag's).
pub fn series_spec(
    cache: &Path,
    flag: &str,
    spec: &str,
    extra: &[(String, String)],
) -> Result<Option<(Params, String)>, LabError> {
    let (name, pairs) = spec.split_once(':').unwrap_or((spec, ""));
    let name = name.trim();
    if PolicyKind::from_name(name).is_ok() || !harness_path(cache, name).is_file() {
        return Ok(None);
    }
    let info = variant_info(cache, name).map_err(qemu_err)?;
    let settable: Vec<&str> = info.settable().collect();
    let mut all: Vec<(String, String)> = if pairs.trim().is_empty() {
        Vec::new()
    } else {
        crate::formats::parse::parse_pairs(pairs)?
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    all.extend(extra.iter().cloned());
    let mut params = Params::defaults(series_params_kind(&info));
    for (k, v) in &all {
        if !settable.contains(&k.as_str()) {
            let unset: Vec<&str> = info
                .properties
                .iter()
                .filter(|(_, set)| !set)
                .map(|(n, _)| n.as_str())
                .collect();
            let also = if unset.is_empty() {
                String::new()
            } else {
                format!(
                    " (its schema also has {}, which the harness leaves at their defaults)",
                    unset.join(", ")
                )
            };
            return Err(LabError::Input(format!(
                "--{flag} {spec}: QEMU variant '{name}' (QEMU {}) has no IOThread property '{k}' \
                 the harness sets; it takes {}{also}",
                info.qemu_version,
                settable.join(", ")
            )));
        }
        params
            .set_str(k, v)
            .map_err(|e| LabError::Input(format!("--{flag} {spec}: {e}")))?;
    }
    Ok(Some((params, name.to_string())))
}

/// The QEMU variant of a policy, or an error naming the policies that
/// have one.
pub fn variant(params: &Params) -> Result<VariantParams, LabError> {
    online(params)?;
    variant_for(params).map_err(|e| {
        // The policy has a variant if its defaults run in one.
        let has_variant = variant_for(&Params::defaults(params.kind())).is_ok();
        LabError::Input(if has_variant {
            // The policy has a variant, but not with these parameters:
            // the variant's own reason says which.
            format!("policy '{}': {e}", params.kind())
        } else {
            format!(
                "policy '{}' has no QEMU variant; the qemu backend runs {POLICIES}",
                params.kind()
            )
        })
    })
}

/// Checks that QEMU has a variant for the policy ([`variant`]) and that
/// its harness is built in `cache`, else names the command that builds it.
pub fn check_variant(cache: &Path, params: &Params) -> Result<(), LabError> {
    let vp = variant(params)?;
    let bin = harness_path(cache, &vp.variant);
    if !bin.is_file() {
        return Err(LabError::Input(format!(
            "QEMU variant '{}' (policy '{}') is not built: no {}; run \
             `pollwise qemu build --cache {}`",
            vp.variant,
            params.kind(),
            bin.display(),
            cache.display()
        )));
    }
    Ok(())
}

impl Backend for QemuBackend {
    fn source(&self) -> &'static str {
        "qemu"
    }
    fn label(&self) -> String {
        self.label.clone()
    }
    fn deterministic(&self) -> bool {
        false
    }
    fn limits(&self) -> &Limits {
        &LIMITS
    }
    fn check_params(&self, params: &Params) -> Result<(), LabError> {
        check_variant(&self.cache, params)
    }
    fn check_variant(&self, params: &Params, qemu_variant: Option<&str>) -> Result<(), LabError> {
        match qemu_variant {
            Some(v) => variant_info(&self.cache, v).map(|_| ()).map_err(qemu_err),
            None => self.check_params(params),
        }
    }
    fn run(&self, p: &Point) -> Result<RunRow, LabError> {
        self.run_waits(p, None)
    }
}

impl QemuBackend {
    /// [`Backend::run`], the first IOThread's waits written to `waits` if
    /// given (`formats::waits`'s columns; what each wait is: the top of
    /// the harness's source).
    pub fn run_waits(&self, p: &Point, waits: Option<&Path>) -> Result<RunRow, LabError> {
        if self.sigint.interrupted() {
            return Err(LabError::Interrupted);
        }
        self.check_variant(&p.params, p.qemu_variant.as_deref())?;
        p.workload.check(&LIMITS)?;
        let mut spec = self.spec(p)?;
        spec.waits = waits.map(Path::to_path_buf);
        let result = pollwise_qemu::run(&self.cache, &spec);
        if self.sigint.interrupted() {
            return Err(LabError::Interrupted);
        }
        let mut row = result.map_err(qemu_err)?;
        row.preset = self.label.clone();
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::PolicyKind;

    fn params(kind: &str) -> Params {
        Params::defaults(PolicyKind::from_name(kind).unwrap())
    }

    #[test]
    fn refuses_policies_without_a_variant() {
        let empty = std::env::temp_dir().join("pollwise-no-such-qemu-cache");
        for kind in ["kvm-halt-poll", "guest-haltpoll"] {
            let err = check_variant(&empty, &params(kind))
                .unwrap_err()
                .to_string();
            assert!(err.contains("has no QEMU variant"), "{err}");
            assert!(err.contains("qemu, off, weighted, pollwise"), "{err}");
        }
        // pollwise has a variant, with its own properties at their
        // defaults only: the error says that, not that there is none.
        let mut pinned = params("pollwise");
        pinned.set_str("poll-block-cost-ns", "20000").unwrap();
        let err = check_variant(&empty, &pinned).unwrap_err().to_string();
        assert!(!err.contains("has no QEMU variant"), "{err}");
        assert!(err.contains("poll-block-cost-ns at its default"), "{err}");
        let err = check_variant(&empty, &params("oracle"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only runs in simulation"), "{err}");
    }

    /// A cache with variant `name` as `qemu/build.sh` records one: the
    /// harness (a stand-in), its version, properties and subjects.
    fn fake_variant(cache: &Path, name: &str, properties: &str) {
        let dir = cache.join("bin").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pollwise-qemu-harness"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.join("qemu-version"), "10.2.2\n").unwrap();
        std::fs::write(dir.join("properties"), properties).unwrap();
        std::fs::write(dir.join("subjects"), "[PATCH 1/1] aio-poll: x\n").unwrap();
    }

    #[test]
    fn a_series_variant_takes_the_properties_its_harness_sets() {
        let cache =
            std::env::temp_dir().join(format!("pollwise-series-spec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let props = "poll-max-ns set\npoll-grow set\npoll-shrink set\npoll-weight set\n\
                     poll-block-cost-ns unset\n";
        fake_variant(&cache, "myseries", props);
        let (params, name) = series_spec(&cache, "candidate", "myseries:poll-weight=3", &[])
            .unwrap()
            .unwrap();
        assert_eq!(name, "myseries");
        assert_eq!(params.kind(), PolicyKind::Weighted);
        assert_eq!(params.get(pollwise_core::Param::PollWeight), 3);
        // A deprecated --candidate-params pair counts too, checked alike.
        let old = [("poll-max-ns".to_string(), "16000".to_string())];
        let (params, _) = series_spec(&cache, "candidate", "myseries", &old)
            .unwrap()
            .unwrap();
        assert_eq!(params.poll_max_ns(), 16000);
        // In the schema but not passed by the harness: refused, both named.
        let err = series_spec(&cache, "candidate", "myseries:poll-block-cost-ns=9", &[])
            .unwrap_err()
            .to_string();
        for needle in [
            "'poll-block-cost-ns'",
            "poll-weight",
            "QEMU 10.2.2",
            "defaults",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let err = series_spec(&cache, "candidate", "myseries:poll-weight=x", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("poll-weight") && err.contains("'x'"), "{err}");
        // A policy's name, or a variant not built, is not a series.
        assert!(
            series_spec(&cache, "candidate", "weighted:poll-weight=3", &[])
                .unwrap()
                .is_none()
        );
        assert!(series_spec(&cache, "candidate", "nosuch", &[])
            .unwrap()
            .is_none());
        // Stock's three properties: carried as qemu's parameters.
        fake_variant(
            &cache,
            "stock",
            "poll-max-ns set\npoll-grow set\npoll-shrink set\n",
        );
        let (params, _) = series_spec(&cache, "baseline", "stock", &[])
            .unwrap()
            .unwrap();
        assert_eq!(params.kind(), PolicyKind::Qemu);
        let err = series_spec(&cache, "baseline", "stock:poll-weight=2", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no IOThread property 'poll-weight'"), "{err}");
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn names_a_variant_that_is_not_built() {
        let empty = std::env::temp_dir().join("pollwise-no-such-qemu-cache");
        let err = check_variant(&empty, &params("weighted"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("variant 'weighted'"), "{err}");
        assert!(err.contains("pollwise qemu build"), "{err}");
    }
}
