//! `pollwise validate`: what the simulator (with a calibrated preset)
//! predicts each policy changes against a baseline, against what the
//! device measures, with the measurement's interval; and the baseline's
//! absolute agreement.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_core::Params;
use pollwise_lab::formats::output::{preset_input, Kind, Output};
use pollwise_lab::formats::parse::{policy_spec, MatrixText};
use pollwise_lab::stats::DEFAULT_DEVICE_REPEATS;
use pollwise_lab::text::{
    write_validation_csv, write_validation_markdown, write_validation_table, ReportSource,
};
use pollwise_lab::{online, validate_diffs, DiffSpec, SimBackend};

use crate::cmd::real::{self, BackendKind, CacheArgs, RealKind};
use crate::device_args::TargetArgs;
use crate::policy_args::{deprecated, old_pairs, spec_with, SPEC_HELP};
use crate::progress;
use crate::run_args::ThreadsArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The calibrated preset (`pollwise realdev calibrate --out FILE`), or
    /// any preset name or file.
    #[arg(long, value_name = "FILE")]
    pub preset: String,
    /// The policy every other is compared against, e.g.
    /// `qemu:poll-max-ns=16000` (`pollwise policy list` has the names,
    /// parameters and defaults).
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub baseline: String,
    /// Deprecated: --baseline NAME:PAIRS.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub baseline_params: Option<String>,
    /// A policy to compare against the baseline, as `--baseline` takes it
    /// (repeatable).
    #[arg(
        long = "policy",
        value_name = SPEC_HELP,
        default_values_t = ["off".to_string(), "weighted:poll-weight=2".into(),
            "pollwise".into(), "fixed".into()]
    )]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Interleaved device rounds per point (each runs the baseline and
    /// every policy once, after one warm-up run), and simulator seeds.
    #[arg(long, default_value_t = DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    /// Seed of the first round; round i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = ValidateFormat::Table)]
    pub format: ValidateFormat,
    /// Write the output to FILE (through a temporary file, renamed when
    /// complete) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out even if it is not a file this format writes.
    #[arg(long)]
    pub force: bool,
    /// Where the measured runs happen, which the simulator is checked
    /// against: device (pollwise's loop on the disk) or qemu (QEMU's own
    /// loop, `pollwise qemu build` first) [default: device].
    #[arg(long, value_enum)]
    pub backend: Option<RealKind>,
    /// Deprecated: --backend.
    #[arg(long, value_enum, hide = true, conflicts_with = "backend")]
    pub against: Option<RealKind>,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

impl ValidateArgs {
    /// Where the measured runs happen: --backend, or the deprecated
    /// --against (with its note).
    fn backend(&self) -> BackendKind {
        if let (None, Some(k)) = (self.backend, self.against) {
            let name = format!("{k:?}").to_lowercase();
            deprecated(&format!("--against {name}"), &format!("--backend {name}"));
        }
        self.backend
            .or(self.against)
            .unwrap_or(RealKind::Device)
            .into()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Table,
    /// One row per (policy, point); see `VALIDATION_CSV_COLUMNS` in lab.
    Csv,
    /// A report for the docs: the command, the checks against their
    /// targets, each pair that misses, the table, the preset's
    /// calibration comments and the CSV.
    Markdown,
}

pub fn run(a: ValidateArgs) -> Result<()> {
    let against = a.backend();
    let old = old_pairs("--baseline-params", a.baseline_params.as_deref())?;
    let baseline = spec_with("baseline", &a.baseline, &old)?;
    let candidates: Vec<Params> = a
        .policies
        .iter()
        .map(|p| policy_spec("policy", p))
        .collect::<Result<_, _>>()?;
    let preset = pollwise_sim::Preset::load(&a.preset)?;
    for p in std::iter::once(&baseline).chain(&candidates) {
        online(p)?;
    }
    if a.repeat == 0 {
        anyhow::bail!("--repeat must be at least 1");
    }
    let defaults = MatrixText {
        numjobs: "1,4",
        ..MatrixText::DEVICE_DEFAULT
    }
    .matrix(50, 1000)?;
    let matrix = a.workload.real_matrix_with(defaults)?;
    if against == BackendKind::Qemu {
        // Every policy's variant first: a policy without one is the clearer
        // error than a variant not built yet.
        for p in std::iter::once(&baseline).chain(&candidates) {
            pollwise_lab::qemu_backend::variant(p)?;
        }
    }
    for p in std::iter::once(&baseline).chain(&candidates) {
        real::precheck(against, &a.cache, p)?;
    }
    let workloads = matrix.workloads(real::limits(against))?;
    if against == BackendKind::Qemu {
        real::refuse_randrw(&workloads)?;
    }
    // Every policy runs each point once per round: checked before anything
    // is created.
    pollwise_lab::validate::run_count(workloads.len() * (1 + candidates.len()), a.repeat)?;
    // Checked before the first run: the runs take minutes.
    let output = match &a.out {
        Some(path) => {
            let kind = match a.format {
                ValidateFormat::Table | ValidateFormat::Markdown => Kind::ValidationReport,
                ValidateFormat::Csv => Kind::ValidationCsv,
            };
            let mut inputs = preset_input(&a.preset);
            inputs.extend(real::target_inputs(&a.target));
            Some(Output::prepare("--out", path, kind, &inputs, a.force)?)
        }
        None => None,
    };
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let device = real::open(against, &a.target, &a.cache, largest_bs)?;
    let sim = SimBackend { preset };
    let spec = DiffSpec {
        workloads,
        baseline,
        candidates,
        seed: a.seed,
        repeats: a.repeat,
    };
    let v = crate::stop::guarded(crate::stop::DEVICE_STOPPED, || {
        Ok(validate_diffs(
            device.as_ref(),
            &sim,
            &spec,
            &progress::reporter(),
        )?)
    })?;
    let preset_text = std::fs::read_to_string(&a.preset).ok();
    let command = command_line(std::env::args());
    let write = |out: &mut dyn Write| -> io::Result<()> {
        match a.format {
            ValidateFormat::Table => {
                write_validation_table(out, &v, &a.preset, &spec, device.source())
            }
            ValidateFormat::Csv => write_validation_csv(out, &v, &spec),
            ValidateFormat::Markdown => write_validation_markdown(
                out,
                &v,
                &spec,
                &ReportSource {
                    command: &command,
                    preset: &a.preset,
                    preset_text: preset_text.as_deref(),
                    reference: device.source(),
                },
            ),
        }
    };
    match &output {
        Some(o) => o.write_with(|w| write(w).map_err(anyhow::Error::from))?,
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The command line as a reader would type it again: the program by its
/// name, and any argument that is not plain in single quotes.
fn command_line(args: impl Iterator<Item = String>) -> String {
    let plain = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c))
    };
    args.enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "pollwise".to_string()
            } else if plain(&a) {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn the_command_line_reads_as_typed() {
        let args = [
            "./target/release/pollwise",
            "validate",
            "--preset",
            "my local.toml",
            "--policy",
            "it's",
        ];
        assert_eq!(
            command_line(args.iter().map(|a| a.to_string())),
            "pollwise validate --preset 'my local.toml' --policy 'it'\\''s'"
        );
    }
}
