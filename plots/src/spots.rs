//! Settings that land on one spot of a plot: markers closer than
//! [`SPOT_FRACTION`] of each axis's span hide each other, so they are one
//! spot, numbered, with a count; the key beside the plot lists every
//! setting of every spot.

use crate::frontier::Point;

/// Markers closer than this fraction of the axis span on both axes are one
/// spot (a marker is about 12 pixels across on a plot about 1000 wide).
pub const SPOT_FRACTION: f64 = 0.012;

/// One spot of the plot: the configurations drawn there, by index.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    /// Where its number is drawn: its first configuration's point.
    pub at: Point,
    /// Indices into the plot's configurations, in their order.
    pub configs: Vec<usize>,
}

/// Groups `points` into spots: two points closer than `tol` (CPU, IOPS) on
/// both axes are in one spot, and so, transitively, are their neighbours.
/// Spots are numbered by ascending CPU, then IOPS, of their first point.
pub fn spots(points: &[Point], tol: (f64, f64)) -> Vec<Spot> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a].cpu.total_cmp(&points[b].cpu).then(a.cmp(&b)));
    let mut parent: Vec<usize> = (0..points.len()).collect();
    // Sorted by CPU, a point's neighbours within tol.0 follow it directly.
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if points[j].cpu - points[i].cpu > tol.0 {
                break;
            }
            if (points[j].iops - points[i].iops).abs() <= tol.1 {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut by_root: Vec<Option<usize>> = vec![None; points.len()];
    let mut out: Vec<Spot> = Vec::new();
    for (i, &at) in points.iter().enumerate() {
        let r = root(&mut parent, i);
        match by_root[r] {
            Some(s) => out[s].configs.push(i),
            None => {
                by_root[r] = Some(out.len());
                out.push(Spot {
                    at,
                    configs: vec![i],
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (a.at.cpu.total_cmp(&b.at.cpu))
            .then(a.at.iops.total_cmp(&b.at.iops))
            .then(a.configs[0].cmp(&b.configs[0]))
    });
    out
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cpu: f64, iops: f64) -> Point {
        Point { cpu, iops }
    }

    #[test]
    fn close_points_share_a_spot_and_far_ones_do_not() {
        let pts = [
            p(10.0, 100.0),
            p(50.0, 500.0),
            p(10.05, 100.5),
            p(10.0, 130.0),
            p(50.0, 500.0),
        ];
        let s = spots(&pts, (0.1, 1.0));
        let groups: Vec<Vec<usize>> = s.iter().map(|s| s.configs.clone()).collect();
        assert_eq!(groups, vec![vec![0, 2], vec![3], vec![1, 4]]);
        assert_eq!(s[0].at, pts[0]);
    }

    #[test]
    fn neighbours_of_neighbours_are_one_spot() {
        let pts = [p(0.0, 0.0), p(0.08, 0.0), p(0.16, 0.0), p(0.5, 0.0)];
        let s = spots(&pts, (0.1, 1.0));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].configs, vec![0, 1, 2]);
    }
}
