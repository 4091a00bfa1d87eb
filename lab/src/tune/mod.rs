//! `pollwise tune`: what to set on this host. The search in the calibrated
//! simulator ([`search`]) ranks the release's settings by predicted
//! IOThread CPU among those that keep IOPS within the accepted loss of
//! stock; the confirmation on the disk ([`confirm`]) measures the
//! cheapest few against stock, cheapest first, until one holds. The
//! answer ([`Answer`]) is that setting, or stock with the numbers that
//! say why. [`text`] prints it and writes the report.

pub mod confirm;
pub mod report;
pub mod search;
pub mod text;
pub mod version;

use pollwise_core::{Params, Workload};

pub use confirm::{Measured, Outcome};
pub use search::{Prediction, Search};
pub use version::QemuVersion;

/// How many of the cheapest kept settings the disk confirms at most.
pub const CONFIRM_AT_MOST: usize = 3;

/// What `tune` concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Set this (the index into [`Tuned::measured`] that confirmed it, or
    /// `None` when nothing was measured: a prediction only).
    Set {
        params: Params,
        measured: Option<usize>,
    },
    /// Keep the release's defaults, and why.
    KeepDefaults(String),
}

/// Everything `tune` found, for the answer and the report.
#[derive(Clone, Debug)]
pub struct Tuned {
    pub version: QemuVersion,
    pub workloads: Vec<Workload>,
    /// The simulator's preset: the calibration's or `--preset`'s name.
    pub preset: String,
    pub search: Search,
    /// The candidates measured against stock, in the order tried.
    pub measured: Vec<Measured>,
    /// What the measurements ran on ("realdev on scratch"), if anything.
    pub reference: Option<String>,
    /// Whether the work was stopped (Ctrl-C) before it ended.
    pub stopped: bool,
}

impl Tuned {
    /// The settings to confirm: the cheapest kept ones cheaper than stock,
    /// one per prediction (settings the simulator tells apart by nothing
    /// would measure the same).
    pub fn to_confirm(search: &Search) -> Vec<Params> {
        let mut out: Vec<&Prediction> = Vec::new();
        for &i in &search.kept {
            let p = &search.all[i];
            if p.params == search.stock.params || out.len() == CONFIRM_AT_MOST {
                break;
            }
            if !out.iter().any(|o| o.points == p.points) {
                out.push(p);
            }
        }
        out.into_iter().map(|p| p.params.clone()).collect()
    }

    /// The answer: the first confirmed setting; without a disk, the
    /// cheapest predicted one; else the defaults, with the reason.
    pub fn answer(&self) -> Answer {
        if let Some(i) = self
            .measured
            .iter()
            .position(|m| m.outcome == Outcome::Confirmed)
        {
            return Answer::Set {
                params: self.measured[i].params.clone(),
                measured: Some(i),
            };
        }
        let best = self.search.best();
        let bar = self.search.bar_pct;
        if best.params == self.search.stock.params {
            return Answer::KeepDefaults(format!(
                "the simulator finds no setting of QEMU {} that uses less IOThread CPU while \
                 keeping IOPS within {bar}% of the defaults at every point",
                self.version.name
            ));
        }
        if self.reference.is_none() && !self.stopped {
            return Answer::Set {
                params: best.params.clone(),
                measured: None,
            };
        }
        let tried: Vec<String> = self
            .measured
            .iter()
            .map(|m| format!("{} {}", m.params, m.outcome.name()))
            .collect();
        let why = if tried.is_empty() {
            "no candidate was measured".to_string()
        } else {
            tried.join("; ")
        };
        Answer::KeepDefaults(format!(
            "no cheaper setting was confirmed on the disk within {bar}% IOPS of the defaults \
             ({why})"
        ))
    }
}
