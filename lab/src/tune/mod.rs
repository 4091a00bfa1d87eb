//! `pollwise tune`: what to set on this host. The search in the calibrated
//! simulator ([`search`]) ranks the release's settings by predicted
//! IOThread CPU among those that keep IOPS within the accepted loss of
//! stock; the confirmation on the disk ([`confirm`]) measures the
//! cheapest few against stock, cheapest first, until one holds, and a
//! setting the disk confirms is measured in QEMU's own loop too
//! ([`in_qemu`]) when QEMU's variants are built: a loss beyond the bar
//! there rejects it as on the disk. The
//! answer ([`Answer`]) is that setting, or stock with the numbers that
//! say why. [`text`] prints it and writes the report.

pub mod confirm;
pub mod in_qemu;
pub mod report;
pub mod search;
pub mod text;
pub mod version;

use pollwise_core::{Params, Workload};

pub use confirm::{Measured, Outcome};
pub use in_qemu::QemuLoop;
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
    /// Whether the disk's confirmations were repeated in QEMU's loop.
    pub qemu_loop: QemuLoop,
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

    /// The answer: the first setting that holds (confirmed on the disk,
    /// not rejected in QEMU's loop); without a disk, the cheapest
    /// predicted one; else the defaults, with the reason.
    pub fn answer(&self) -> Answer {
        if let Some(i) = self.measured.iter().position(Measured::holds) {
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
            .map(|m| format!("{} {}", m.params, m.verdicts()))
            .collect();
        let why = if tried.is_empty() {
            "no candidate was measured".to_string()
        } else {
            tried.join("; ")
        };
        let loops = if matches!(self.qemu_loop, QemuLoop::On(_)) {
            "on the disk and in QEMU's loop"
        } else {
            "on the disk"
        };
        Answer::KeepDefaults(format!(
            "no cheaper setting was confirmed {loops} within {bar}% IOPS of the defaults ({why})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acceptance::judge;
    use search::Predicted;

    fn prediction(p: Params, cpu_pct: f64) -> Prediction {
        let point = Predicted {
            iops: 1000.0,
            cpu_pct,
            iothreads: 1,
        };
        Prediction {
            params: p,
            points: vec![point],
        }
    }

    fn measured(params: &Params, outcome: Outcome) -> Measured {
        Measured {
            params: params.clone(),
            points: Vec::new(),
            acceptance: judge(&[], 1.0),
            outcome,
            in_qemu: None,
        }
    }

    /// Two candidates both confirmed on the disk; the cheaper one's QEMU
    /// verdict is `qemu`.
    fn tuned(qemu: Option<Outcome>) -> (Tuned, Params, Params) {
        let v = QemuVersion::parse("10.0").unwrap();
        let (cheap, next) = (v.setting(0, 0, 0, 0), v.setting(4096, 0, 0, 0));
        let all = vec![
            prediction(v.stock(), 80.0),
            prediction(cheap.clone(), 10.0),
            prediction(next.clone(), 40.0),
        ];
        let mut first = measured(&cheap, Outcome::Confirmed);
        first.in_qemu = qemu.map(|o| Box::new(measured(&cheap, o)));
        let mut second = measured(&next, Outcome::Confirmed);
        second.in_qemu = Some(Box::new(measured(&next, Outcome::Confirmed)));
        let t = Tuned {
            version: v,
            workloads: Vec::new(),
            preset: "p".into(),
            search: Search {
                stock: all[0].clone(),
                all,
                kept: vec![1, 2, 0],
                bar_pct: 1.0,
            },
            measured: vec![first, second],
            reference: Some("realdev (scratch)".into()),
            stopped: false,
            qemu_loop: QemuLoop::On("scratch".into()),
        };
        (t, cheap, next)
    }

    #[test]
    fn a_setting_rejected_in_qemus_loop_is_not_the_answer() {
        let (t, _, next) = tuned(Some(Outcome::Rejected));
        assert_eq!(
            t.answer(),
            Answer::Set {
                params: next,
                measured: Some(1)
            }
        );
        // Unclear in QEMU's loop (budget spent) or not run there: the
        // disk's confirmation stands.
        for q in [Some(Outcome::Unresolved), Some(Outcome::Confirmed), None] {
            let (t, cheap, _) = tuned(q);
            assert_eq!(
                t.answer(),
                Answer::Set {
                    params: cheap,
                    measured: Some(0)
                }
            );
        }
        // Both rejected in QEMU's loop: the defaults, with both verdicts.
        let (mut t, _, _) = tuned(Some(Outcome::Rejected));
        t.measured[1].in_qemu.as_mut().unwrap().outcome = Outcome::Rejected;
        let Answer::KeepDefaults(why) = t.answer() else {
            panic!("{:?}", t.answer())
        };
        assert!(why.contains("on the disk and in QEMU's loop"), "{why}");
        assert!(
            why.contains("confirmed on the disk, rejected in QEMU's loop"),
            "{why}"
        );
    }
}
