//! The pareto and heatmap grouping (hash maps, O(n)) give exactly what the
//! straightforward quadratic scans they replaced give, on random tables;
//! the pareto baseline is one setting's rows, as a plain scan finds it.

use std::path::Path;

use pollwise_core::{Params, PolicyKind};
use pollwise_plots::frontier::Point;
use pollwise_plots::table::{param, same_value, Filter};
use pollwise_plots::{
    heatmap_grid, pareto_data, Grid, HeatmapOptions, ParetoData, ParetoOptions, PlotError, Table,
    WORKLOAD_COLUMNS,
};
use proptest::prelude::*;

/// Values chosen to collide: equal as numbers but not as text, -0 and 0,
/// non-finite numbers (text for equality, numbers for order), plain text.
const VALUES: [&str; 12] = [
    "0", "-0", "0.0", "1000", "1e3", "512", "2", "inf", "+inf", "NaN", "abc", "b",
];
const POLICIES: [&str; 4] = ["qemu", "weighted", "threshold-oracle", "pollwise"];
const RWS: [&str; 2] = ["randread", "randwrite"];

#[derive(Debug, Clone)]
struct Row {
    policy: usize,
    max_ns: Option<usize>,
    shrink: Option<usize>,
    rw: usize,
    numjobs: u8,
    iops: u32,
    cpu: u32,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0..POLICIES.len(),
        proptest::option::weighted(0.9, 0..VALUES.len()),
        proptest::option::weighted(0.9, 0..VALUES.len()),
        0..RWS.len(),
        1u8..3,
        1u32..5000,
        1u32..400,
    )
        .prop_map(|(policy, max_ns, shrink, rw, numjobs, iops, cpu)| Row {
            policy,
            max_ns,
            shrink,
            rw,
            numjobs,
            iops,
            cpu,
        })
}

fn csv(rows: &[Row], preset_varies: bool) -> String {
    let mut s = String::from("preset,policy,params,rw,numjobs,iops,iothread_cpu_pct\n");
    for (i, r) in rows.iter().enumerate() {
        let mut params = Vec::new();
        if let Some(v) = r.max_ns {
            params.push(format!("poll-max-ns={}", VALUES[v]));
        }
        if let Some(v) = r.shrink {
            params.push(format!("poll-shrink={}", VALUES[v]));
        }
        let preset = if preset_varies && i % 3 == 2 {
            "b"
        } else {
            "a"
        };
        // Fractions, so sums depend on their order.
        s.push_str(&format!(
            "{preset},{},{},{},{},{}.{},{}.{}\n",
            POLICIES[r.policy],
            params.join(" "),
            RWS[r.rw],
            r.numjobs,
            r.iops,
            r.iops % 7,
            r.cpu / 10,
            r.cpu % 10
        ));
    }
    s
}

// ---- the reference: the scans the grouping replaced, kept simple ----

#[derive(Default, Clone, Copy)]
struct Mean {
    cpu: f64,
    iops: f64,
    n: usize,
}

impl Mean {
    fn add(&mut self, p: Point) {
        self.cpu += p.cpu;
        self.iops += p.iops;
        self.n += 1;
    }
    fn point(self) -> Point {
        Point {
            cpu: self.cpu / self.n as f64,
            iops: self.iops / self.n as f64,
        }
    }
}

/// (policy, params, point, runs) per configuration, in the order first
/// seen; the baseline configuration's index, if one.
type RefPareto = (Vec<(String, String, Point, usize)>, Option<usize>);

fn reference_pareto(t: &Table, baseline: &str, normalize: bool) -> Option<RefPareto> {
    let mut raw = reference_rows(t);
    let base = reference_baseline(&raw, baseline);
    if normalize {
        let (_, base_params) = base.clone()?;
        let rows = raw.clone();
        for (_, _, point, r) in raw.iter_mut() {
            let w = reference_workload(t, *r);
            let mut m = Mean::default();
            for (p, q, bp, br) in &rows {
                if *p == baseline.split_whitespace().next().unwrap()
                    && *q == base_params
                    && reference_workload(t, *br) == w
                {
                    m.add(*bp);
                }
            }
            if m.n == 0 {
                return None;
            }
            let b = m.point();
            if b.cpu <= 0.0 || b.iops <= 0.0 {
                return None;
            }
            point.cpu = point.cpu / b.cpu * 100.0;
            point.iops = point.iops / b.iops * 100.0;
        }
    }
    let configs = reference_configs(&raw);
    let index = base.and_then(|(p, q)| configs.iter().position(|c| c.0 == p && c.1 == q));
    Some((configs, index))
}

/// (policy, params, point, row index) per row.
type RefRow = (String, String, Point, usize);

fn reference_rows(t: &Table) -> Vec<RefRow> {
    let (pc, cc, ic) = (
        t.col("policy").unwrap(),
        t.col("iothread_cpu_pct").unwrap(),
        t.col("iops").unwrap(),
    );
    let params_col = t.opt_col("params");
    (0..t.len())
        .map(|r| {
            let params = params_col.map_or("", |c| t.text(r, c)).to_string();
            let point = Point {
                cpu: t.num(r, cc).unwrap(),
                iops: t.num(r, ic).unwrap(),
            };
            (t.text(r, pc).to_string(), params, point, r)
        })
        .collect()
}

/// The baseline's (policy, params): the one setting with the named
/// parameters, or of several the one with every other parameter at the
/// policy's default.
fn reference_baseline(raw: &[RefRow], baseline: &str) -> Option<(String, String)> {
    let mut words = baseline.split_whitespace();
    let base_policy = words.next().unwrap();
    let named: Vec<Filter> = words.map(|w| w.parse().unwrap()).collect();
    let mut matching: Vec<String> = Vec::new();
    for (policy, params, ..) in raw {
        let ok = policy == base_policy
            && named
                .iter()
                .all(|f| param(params, &f.name).is_some_and(|v| same_value(v, &f.value)));
        if ok && !matching.contains(params) {
            matching.push(params.clone());
        }
    }
    if matching.len() > 1 {
        let defaults = PolicyKind::from_name(base_policy)
            .map(|k| Params::defaults(k).pairs())
            .unwrap_or_default();
        matching.retain(|params| {
            defaults.iter().all(|(n, d)| {
                named.iter().any(|f| f.name == *n)
                    || param(params, n).is_none_or(|v| same_value(v, &d.to_string()))
            })
        });
    }
    match &matching[..] {
        [one] => Some((base_policy.to_string(), one.clone())),
        _ => None,
    }
}

/// Row `r`'s workload as `name=value` pairs.
fn reference_workload(t: &Table, r: usize) -> String {
    WORKLOAD_COLUMNS
        .iter()
        .filter_map(|&n| t.opt_col(n).map(|c| format!("{n}={}", t.text(r, c))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The configurations in the order first seen.
fn reference_configs(raw: &[RefRow]) -> Vec<(String, String, Point, usize)> {
    let mut configs: Vec<(String, String, Mean)> = Vec::new();
    for (policy, params, point, _) in raw {
        match configs
            .iter_mut()
            .find(|(p, q, _)| p == policy && q == params)
        {
            Some((_, _, m)) => m.add(*point),
            None => {
                let mut m = Mean::default();
                m.add(*point);
                configs.push((policy.clone(), params.clone(), m));
            }
        }
    }
    configs
        .into_iter()
        .map(|(p, q, m)| (p, q, m.point(), m.n))
        .collect()
}

fn reference_axis(values: &[&str]) -> Vec<String> {
    let mut out: Vec<&str> = Vec::new();
    for v in values {
        if !out.iter().any(|o| same_value(o, v)) {
            out.push(v);
        }
    }
    let nums: Option<Vec<f64>> = out.iter().map(|v| v.parse::<f64>().ok()).collect();
    match nums {
        Some(n) => {
            let mut idx: Vec<usize> = (0..out.len()).collect();
            idx.sort_by(|&a, &b| n[a].total_cmp(&n[b]));
            idx.into_iter().map(|i| out[i].to_string()).collect()
        }
        None => {
            out.sort_unstable();
            out.into_iter().map(str::to_string).collect()
        }
    }
}

fn reference_grid(t: &Table, x: &str, y: &str, metric: &str) -> Option<Grid> {
    let m = t.col(metric).unwrap();
    let used: Vec<(usize, &str, &str)> = (0..t.len())
        .filter_map(|r| match (t.value(r, x), t.value(r, y)) {
            (Some(_), Some(_)) if t.text(r, m).is_empty() => None,
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => Some((r, a, b)),
            _ => None,
        })
        .collect();
    if used.is_empty() {
        return None;
    }
    let xs = reference_axis(&used.iter().map(|u| u.1).collect::<Vec<_>>());
    let ys = reference_axis(&used.iter().map(|u| u.2).collect::<Vec<_>>());
    let mut sums = vec![vec![(0.0, 0usize); xs.len()]; ys.len()];
    let pc = t.opt_col("policy");
    let mut policy: Option<Option<String>> = None;
    for &(r, a, b) in &used {
        let v = t.num(r, m).unwrap();
        let xi = xs.iter().position(|o| same_value(o, a)).unwrap();
        let yi = ys.iter().position(|o| same_value(o, b)).unwrap();
        sums[yi][xi].0 += v;
        sums[yi][xi].1 += 1;
        let p = pc.map(|c| t.text(r, c).to_string());
        policy = match policy {
            None => Some(p),
            Some(prev) if prev == p => Some(prev),
            Some(_) => Some(None),
        };
    }
    Some(Grid {
        xs,
        ys,
        cells: sums
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|(s, n)| (n > 0).then(|| (s / n as f64, n)))
                    .collect()
            })
            .collect(),
        rows: used.len(),
        skipped: t.len() - used.len(),
        policy: policy.flatten(),
    })
}

fn flat(d: &ParetoData) -> RefPareto {
    (
        d.configs
            .iter()
            .map(|c| (c.policy.clone(), c.params.clone(), c.point, c.runs))
            .collect(),
        d.baseline.clone().ok(),
    )
}

fn check_pareto(t: &Table, baseline: &str, normalize: bool) -> Result<(), TestCaseError> {
    let opts = ParetoOptions {
        baseline: baseline.to_string(),
        normalize,
        ..ParetoOptions::default()
    };
    let got: Result<ParetoData, PlotError> = pareto_data(t, &opts);
    match (got, reference_pareto(t, baseline, normalize)) {
        (Ok(d), Some(r)) => prop_assert_eq!(flat(&d), r),
        (Err(_), None) => {}
        (got, want) => prop_assert!(false, "got {:?}, reference {:?}", got, want),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pareto_grouping_matches_the_reference(
        rows in proptest::collection::vec(row(), 1..80),
        preset_varies in any::<bool>(),
        base in 0..4usize,
    ) {
        let t = Table::from_reader(Path::new("r.csv"), csv(&rows, preset_varies).as_bytes())
            .unwrap();
        let baseline = ["qemu", "qemu poll-max-ns=1000", "weighted poll-shrink=0", "off"][base];
        check_pareto(&t, baseline, false)?;
        check_pareto(&t, baseline, true)?;
        let d = pareto_data(&t, &ParetoOptions::default()).unwrap();
        prop_assert_eq!(d.preset.is_some(), !preset_varies || rows.len() < 3);
    }

    #[test]
    fn heatmap_grouping_matches_the_reference(
        rows in proptest::collection::vec(row(), 1..80),
        axes in 0..3usize,
    ) {
        let t = Table::from_reader(Path::new("r.csv"), csv(&rows, false).as_bytes()).unwrap();
        let (x, y) = [
            ("poll-max-ns", "poll-shrink"),
            ("numjobs", "poll-max-ns"),
            ("rw", "policy"),
        ][axes];
        let opts = HeatmapOptions {
            x: x.to_string(),
            y: y.to_string(),
            metric: "iops".to_string(),
            filters: Vec::new(),
            title: None,
        };
        match (heatmap_grid(&t, &opts), reference_grid(&t, x, y, "iops")) {
            (Ok(g), Some(r)) => prop_assert_eq!(g, r),
            (Err(_), None) => {}
            (got, want) => prop_assert!(false, "got {:?}, reference {:?}", got, want),
        }
    }
}
