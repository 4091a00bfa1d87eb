//! Pareto frontier of (CPU, IOPS) points: less CPU and more IOPS are better.

/// A point on the trade-off plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub cpu: f64,
    pub iops: f64,
}

/// `a` dominates `b`: no worse on both axes and better on at least one.
pub fn dominates(a: Point, b: Point) -> bool {
    a.cpu <= b.cpu && a.iops >= b.iops && (a.cpu < b.cpu || a.iops > b.iops)
}

/// The indices of the non-dominated points, by ascending CPU (and so
/// ascending IOPS). Of several identical points only the first is kept, so
/// the frontier is a line without repeated vertices.
pub fn frontier(points: &[Point]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    // Ascending CPU; at equal CPU the highest IOPS first, so the others at
    // that CPU are dominated by it and fall out of the sweep below.
    order.sort_by(|&a, &b| {
        let (pa, pb) = (points[a], points[b]);
        pa.cpu
            .total_cmp(&pb.cpu)
            .then(pb.iops.total_cmp(&pa.iops))
            .then(a.cmp(&b))
    });
    let mut kept = Vec::new();
    let mut best_iops = f64::NEG_INFINITY;
    for i in order {
        // Every point already kept has no more CPU; this one survives only
        // with strictly more IOPS than all of them.
        if points[i].iops > best_iops {
            best_iops = points[i].iops;
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cpu: f64, iops: f64) -> Point {
        Point { cpu, iops }
    }

    #[test]
    fn keeps_the_staircase_and_drops_dominated_points() {
        // By hand: (10,100) (20,150) (40,200) form the staircase;
        // (30,140) is beaten by (20,150); (50,190) by (40,200).
        let pts = [
            p(40.0, 200.0),
            p(30.0, 140.0),
            p(10.0, 100.0),
            p(50.0, 190.0),
            p(20.0, 150.0),
        ];
        assert_eq!(frontier(&pts), vec![2, 4, 0]);
    }

    #[test]
    fn equal_cpu_keeps_only_the_higher_iops() {
        let pts = [p(10.0, 100.0), p(10.0, 120.0), p(5.0, 90.0)];
        assert_eq!(frontier(&pts), vec![2, 1]);
    }

    #[test]
    fn equal_iops_keeps_only_the_lower_cpu() {
        let pts = [p(30.0, 100.0), p(20.0, 100.0)];
        assert_eq!(frontier(&pts), vec![1]);
    }

    #[test]
    fn identical_points_are_kept_once() {
        let pts = [p(1.0, 2.0), p(1.0, 2.0)];
        assert_eq!(frontier(&pts), vec![0]);
    }

    #[test]
    fn a_single_point_and_no_points() {
        assert_eq!(frontier(&[p(3.0, 4.0)]), vec![0]);
        assert!(frontier(&[]).is_empty());
    }

    #[test]
    fn a_point_better_on_both_axes_is_the_whole_frontier() {
        let pts = [p(50.0, 100.0), p(10.0, 300.0), p(30.0, 200.0)];
        assert_eq!(frontier(&pts), vec![1]);
    }

    #[test]
    fn dominance_is_strict() {
        assert!(dominates(p(1.0, 5.0), p(2.0, 5.0)));
        assert!(dominates(p(1.0, 6.0), p(1.0, 5.0)));
        assert!(!dominates(p(1.0, 5.0), p(1.0, 5.0)));
        assert!(!dominates(p(1.0, 4.0), p(2.0, 5.0)));
    }

    #[test]
    fn no_frontier_point_is_dominated_and_every_other_point_is() {
        // A grid where the frontier is known by hand: cpu = i, iops = i*i
        // for i in 0..5 (strictly rising, all on the frontier), plus
        // points shifted right (more CPU for the same IOPS).
        let mut pts: Vec<Point> = (0..5).map(|i| p(i as f64, (i * i) as f64)).collect();
        pts.extend((0..5).map(|i| p(i as f64 + 0.5, (i * i) as f64)));
        let f = frontier(&pts);
        assert_eq!(f, vec![0, 1, 2, 3, 4]);
        for (i, &q) in pts.iter().enumerate() {
            let dominated = pts.iter().any(|&o| dominates(o, q));
            assert_eq!(f.contains(&i), !dominated, "point {i}");
        }
    }
}
