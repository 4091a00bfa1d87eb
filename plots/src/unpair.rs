//! `compare --format csv` as results rows: each paired row becomes two
//! rows of the results schema (the baseline's and the candidate's), so the
//! plots that read results (`pareto`, `heatmap`) read a compare file too.

use crate::table::Table;
use crate::PlotError;

/// The paired columns and the results column each becomes.
const PAIRED: [(&str, &str, &str); 3] = [
    ("baseline", "candidate", "policy"),
    ("baseline_iops", "candidate_iops", "iops"),
    ("baseline_cpu_pct", "candidate_cpu_pct", "iothread_cpu_pct"),
];

/// Columns copied to both rows when present.
const SHARED: [&str; 7] = [
    "source",
    "preset",
    "rw",
    "bs",
    "numjobs",
    "iodepth",
    "iothreads",
];

/// True for a compare CSV (paired columns, no `iops` column).
pub fn is_compare(table: &Table) -> bool {
    !table.has("iops") && table.has("baseline_iops") && table.has("candidate_iops")
}

/// The table as results rows if it is a compare CSV, else unchanged.
pub fn results_view(table: Table) -> Result<Table, PlotError> {
    if !is_compare(&table) {
        return Ok(table);
    }
    let shared: Vec<(&str, _)> = SHARED
        .iter()
        .filter_map(|&name| table.opt_col(name).map(|c| (name, c)))
        .collect();
    let mut paired = Vec::new();
    for (b, c, to) in PAIRED {
        paired.push((table.col(b)?, table.col(c)?, to));
    }
    let params = (
        table.opt_col("baseline_params"),
        table.opt_col("candidate_params"),
    );
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = shared.iter().map(|(n, _)| *n).collect();
    header.extend(paired.iter().map(|(.., to)| *to));
    header.push("params");
    let csv_err = |e: csv::Error| PlotError::Csv {
        path: table.path().to_path_buf(),
        message: e.to_string(),
    };
    w.write_record(&header).map_err(csv_err)?;
    for row in 0..table.len() {
        for side in 0..2 {
            let mut rec: Vec<&str> = shared.iter().map(|(_, c)| table.text(row, *c)).collect();
            for (b, c, _) in &paired {
                rec.push(table.text(row, if side == 0 { *b } else { *c }));
            }
            let p = if side == 0 { params.0 } else { params.1 };
            rec.push(p.map_or("", |c| table.text(row, c)));
            w.write_record(&rec).map_err(csv_err)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| PlotError::Csv {
        path: table.path().to_path_buf(),
        message: e.to_string(),
    })?;
    Table::from_reader(table.path(), bytes.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_compare_row_becomes_two_results_rows() {
        let text = "rw,bs,numjobs,iothreads,baseline_iops,candidate_iops,iops_diff_pct,\
baseline_cpu_pct,candidate_cpu_pct,cpu_diff_pct,baseline,candidate,preset,baseline_params,candidate_params,iops_diff_sd_pct\n\
randread,8192,1,1,1000.0,900.0,-10,50.0,40.0,-20,qemu,weighted,optane-p4800x,poll-max-ns=32768,poll-weight=3,0\n";
        let t = Table::from_reader(Path::new("c.csv"), text.as_bytes()).unwrap();
        assert!(is_compare(&t));
        let r = results_view(t).unwrap();
        assert_eq!(r.len(), 2);
        let get = |row, name| r.text(row, r.col(name).unwrap()).to_string();
        assert_eq!(get(0, "policy"), "qemu");
        assert_eq!(get(1, "policy"), "weighted");
        assert_eq!(get(1, "iops"), "900.0");
        assert_eq!(get(0, "iothread_cpu_pct"), "50.0");
        assert_eq!(get(1, "params"), "poll-weight=3");
        assert_eq!(get(1, "numjobs"), "1");
        assert_eq!(r.value(1, "poll-weight"), Some("3"));
    }

    #[test]
    fn a_results_table_is_left_alone() {
        let t = Table::from_reader(Path::new("r.csv"), "policy,iops\nqemu,5\n".as_bytes()).unwrap();
        assert!(!is_compare(&t));
        assert_eq!(results_view(t).unwrap().len(), 1);
    }
}
