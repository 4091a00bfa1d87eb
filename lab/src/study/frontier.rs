//! The best-known frontier: each setting as a point (IOPS relative to
//! `qemu`, IOThread CPU, with the seeds' spread), and where each online
//! policy stands against the clairvoyant policies' points.

use pollwise_core::Workload;
use pollwise_sim::rollout::RolloutOptions;
use pollwise_sim::Preset;

use super::plan::{self, Batch, PerWorkload};
use super::settings::{frontier_settings, online_settings, rollout_settings, Family};
use crate::stats::{mean, mean_of, range, ratio};
use crate::{LabError, Progress, Ticker};

/// One setting over a set of rows: its IOPS relative to the baseline and
/// its IOThread CPU, each the mean over seeds of that seed's mean over rows,
/// with the spread (max - min) of those per-seed means.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontPoint {
    pub label: String,
    pub family: Family,
    pub iops_ratio: f64,
    pub iops_ratio_spread: f64,
    pub cpu_pct: f64,
    pub cpu_spread: f64,
}

/// The point of `cand` against `base` (same rows, same seeds).
pub fn front_point(
    label: &str,
    family: Family,
    base: &PerWorkload,
    cand: &PerWorkload,
) -> FrontPoint {
    let seeds = base.first().map_or(0, Vec::len);
    let (mut ratios, mut cpus) = (Vec::new(), Vec::new());
    for s in 0..seeds {
        ratios.push(mean_of(
            base.iter()
                .zip(cand)
                .map(|(b, c)| ratio(b[s].iops, c[s].iops)),
        ));
        cpus.push(mean_of(cand.iter().map(|c| c[s].iothread_cpu_pct)));
    }
    FrontPoint {
        label: label.to_string(),
        family,
        iops_ratio: mean(&ratios),
        iops_ratio_spread: range(&ratios),
        cpu_pct: mean(&cpus),
        cpu_spread: range(&cpus),
    }
}

/// Where a point stands against the frontier.
#[derive(Clone, Debug, PartialEq)]
pub enum Standing {
    /// No frontier point reaches its IOPS, even within the spread.
    Beyond,
    /// Compared with the cheapest frontier point whose IOPS is at least the
    /// point's less the two spreads: `cpu_above` = point CPU - frontier CPU
    /// (points of one core), `tolerance` = the two CPU spreads added.
    Compared {
        at: String,
        frontier_cpu: f64,
        cpu_above: f64,
        tolerance: f64,
    },
}

impl Standing {
    /// Below the frontier by more than the seeds' spread.
    pub fn below(&self) -> bool {
        matches!(self, Standing::Compared { cpu_above, tolerance, .. } if *cpu_above < -tolerance)
    }
}

/// A point against the frontier: at equal IOPS within the two points' seed
/// spreads, how much more CPU it uses than the cheapest frontier point.
pub fn standing(p: &FrontPoint, frontier: &[FrontPoint]) -> Standing {
    let best = frontier
        .iter()
        .filter(|f| f.iops_ratio >= p.iops_ratio - (p.iops_ratio_spread + f.iops_ratio_spread))
        .min_by(|a, b| a.cpu_pct.total_cmp(&b.cpu_pct));
    match best {
        None => Standing::Beyond,
        Some(f) => Standing::Compared {
            at: f.label.clone(),
            frontier_cpu: f.cpu_pct,
            cpu_above: p.cpu_pct - f.cpu_pct,
            tolerance: p.cpu_spread + f.cpu_spread,
        },
    }
}

/// The frontier's points among `points`.
pub fn frontier_of(points: &[FrontPoint]) -> Vec<FrontPoint> {
    points
        .iter()
        .filter(|p| p.family.on_frontier())
        .cloned()
        .collect()
}

/// The online points that land below the frontier by more than the seeds'
/// spread, each with a line saying by how much.
pub fn violations(points: &[FrontPoint]) -> Vec<String> {
    let frontier = frontier_of(points);
    points
        .iter()
        .filter(|p| !p.family.on_frontier())
        .filter_map(|p| {
            let s = standing(p, &frontier);
            let Standing::Compared {
                at,
                cpu_above,
                tolerance,
                ..
            } = &s
            else {
                return None;
            };
            s.below().then(|| {
                format!(
                    "{} (IOPS x{:.4} +- {:.4}, CPU {:.2}%) is {:.2} points below {at} (tolerance {:.2})",
                    p.label, p.iops_ratio, p.iops_ratio_spread, p.cpu_pct, -cpu_above, tolerance
                )
            })
        })
        .collect()
}

/// The plan of the settings' points on `workloads`: every online policy,
/// the threshold oracle and the priced clairvoyant, and (with `rollout`)
/// the rollout.
pub(crate) fn points_plan(
    preset: &Preset,
    workloads: &[Workload],
    seeds: u32,
    rollout: Option<RolloutOptions>,
) -> Vec<Batch> {
    let batch = |settings, rollout| Batch {
        preset: preset.clone(),
        settings,
        workloads: workloads.to_vec(),
        seeds,
        rollout,
    };
    let mut plan = vec![batch(
        online_settings()
            .into_iter()
            .chain(frontier_settings())
            .collect(),
        None,
    )];
    if let Some(opts) = rollout {
        plan.push(batch(rollout_settings(), Some(opts)));
    }
    plan
}

/// The points of a [`points_plan`]'s rows, each against the first setting
/// (`qemu`).
pub(crate) fn points_of(plan: &[Batch], groups: &[Vec<PerWorkload>]) -> Vec<FrontPoint> {
    let settings = plan.iter().flat_map(|b| &b.settings);
    let groups: Vec<&PerWorkload> = groups.iter().flatten().collect();
    settings
        .zip(&groups)
        .map(|(s, g)| front_point(&s.label, s.family, groups[0], g))
        .collect()
}

/// The settings' points on `workloads`: every online policy, the threshold
/// oracle and the priced clairvoyant, and (with `rollout`) the rollout.
/// Returns the points (against the first setting, `qemu`) and every row.
pub fn frontier_points(
    preset: &Preset,
    workloads: &[Workload],
    seeds: u32,
    rollout: Option<RolloutOptions>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Vec<FrontPoint>, Vec<pollwise_core::RunRow>), LabError> {
    let plan = points_plan(preset, workloads, seeds, rollout);
    let runs = plan::points(&plan) * seeds as usize;
    let ticker = Ticker::new(runs, plan::events(&plan), "frontier", progress);
    let groups = plan::run(&plan, &ticker)?;
    let rows = groups.iter().flat_map(|g| plan::flatten(g)).collect();
    Ok((points_of(&plan, &groups), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(label: &str, family: Family, r: f64, rs: f64, c: f64, cs: f64) -> FrontPoint {
        FrontPoint {
            label: label.into(),
            family,
            iops_ratio: r,
            iops_ratio_spread: rs,
            cpu_pct: c,
            cpu_spread: cs,
        }
    }

    #[test]
    fn equal_iops_allows_for_the_seeds_spread() {
        let f = [
            pt("c0", Family::Clairvoyant, 0.98, 0.001, 10.0, 0.1),
            pt("c1", Family::Clairvoyant, 0.9999, 0.0001, 20.0, 0.1),
            pt("c2", Family::Clairvoyant, 1.0001, 0.0001, 30.0, 0.1),
        ];
        // 1.00003 is "above" c1 only at the sixth decimal: with the spreads
        // c1 counts as equal IOPS.
        let p = pt("x", Family::Online, 1.00003, 0.0001, 25.0, 0.2);
        match standing(&p, &f) {
            Standing::Compared { at, cpu_above, .. } => {
                assert_eq!(at, "c1");
                assert!((cpu_above - 5.0).abs() < 1e-9);
            }
            s => panic!("{s:?}"),
        }
        // Without spread it must reach c2.
        let p = pt("x", Family::Online, 1.00003, 0.0, 25.0, 0.2);
        let f0: Vec<FrontPoint> = f
            .iter()
            .map(|x| FrontPoint {
                iops_ratio_spread: 0.0,
                ..x.clone()
            })
            .collect();
        assert!(matches!(standing(&p, &f0), Standing::Compared { ref at, .. } if at == "c2"));
        let p = pt("x", Family::Online, 1.01, 0.0, 25.0, 0.2);
        assert_eq!(standing(&p, &f), Standing::Beyond);
    }

    #[test]
    fn a_point_below_the_frontier_by_more_than_the_spread_is_a_violation() {
        let pts = vec![
            pt("c", Family::Clairvoyant, 1.0, 0.0, 50.0, 0.5),
            pt("within", Family::Online, 1.0, 0.0, 49.6, 0.5),
            pt("below", Family::Online, 1.0, 0.0, 48.0, 0.5),
            pt("above", Family::Online, 1.0, 0.0, 70.0, 0.5),
        ];
        let v = violations(&pts);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("below "), "{v:?}");
    }
}
