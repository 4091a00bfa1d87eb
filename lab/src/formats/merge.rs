//! Sweeps split over a batch engine, and joined again. Every row of
//! `sweep` carries the sweep's identity (a hash of its spec), its shard
//! and its place in the whole sweep; [`merge`] checks that shard files are
//! of one sweep, complete and disjoint, and writes one CSV byte-identical
//! to the unsharded run's.

use std::collections::BTreeMap;
use std::io::Write;

use pollwise_core::RunRow;

use crate::LabError;

/// The columns `sweep` adds after [`RunRow::COLUMNS`].
pub const SWEEP_COLUMNS: [&str; 4] = ["sweep_id", "shard", "sweep_row", "sweep_rows"];

/// A stable 64-bit FNV-1a hash of `text`, as 16 hex digits: the sweep id
/// of a canonical description of the sweep (preset, policy, axes,
/// workloads, seeds). Not cryptographic: it tells sweeps apart, it does
/// not authenticate them.
pub fn sweep_id(canonical: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Where a shard's rows sit in the whole sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    pub sweep_id: String,
    pub index: u32,
    pub count: u32,
    /// The whole sweep's row index of this shard's first row.
    pub first_row: usize,
    /// Rows in the whole sweep.
    pub total_rows: usize,
}

fn header() -> Vec<&'static str> {
    RunRow::COLUMNS
        .iter()
        .chain(SWEEP_COLUMNS.iter())
        .copied()
        .collect()
}

/// Writes a shard's rows with the sweep columns.
pub fn write_sweep_csv<W: Write>(
    out: W,
    rows: &[RunRow],
    shard: &ShardInfo,
) -> Result<(), LabError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header())?;
    let shard_text = format!("{}/{}", shard.index, shard.count);
    let total = shard.total_rows.to_string();
    for (k, r) in rows.iter().enumerate() {
        // The row as the common schema writes it, then the sweep columns.
        let mut one = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        one.serialize(r)?;
        let bytes = one
            .into_inner()
            .map_err(|e| LabError::Input(e.to_string()))?;
        let mut rec = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice())
            .into_records()
            .next()
            .expect("one row was written")?;
        rec.push_field(&shard.sweep_id);
        rec.push_field(&shard_text);
        rec.push_field(&(shard.first_row + k).to_string());
        rec.push_field(&total);
        w.write_record(&rec)?;
    }
    w.flush().map_err(csv::Error::from)?;
    if rows.is_empty() {
        // No row to carry the identity: a line after the header does.
        let mut out = w.into_inner().map_err(|e| LabError::Input(e.to_string()))?;
        writeln!(
            out,
            "{EMPTY_SHARD}sweep_id={} shard={shard_text} sweep_rows={total}",
            shard.sweep_id
        )
        .map_err(csv::Error::from)?;
    }
    Ok(())
}

/// How the line that gives an empty shard's identity starts (a shard with
/// more shards than points has no rows).
pub const EMPTY_SHARD: &str = "# empty shard: ";

/// Joins shard files (name, text) into the whole sweep's CSV, written to
/// `out`: every file must be one shard of the same sweep (same id and
/// shard count), each shard exactly once, and the rows together exactly
/// the sweep's rows 0..total, each once. The result has shard `1/1`, so it
/// is byte-identical to the unsharded sweep's output.
pub fn merge<W: Write>(files: &[(String, String)], out: W) -> Result<usize, LabError> {
    if files.is_empty() {
        return err("merge needs at least one shard file".into());
    }
    let mut m = Merge::new();
    for (name, text) in files {
        m.file(name, text)?;
    }
    let total = m.complete()?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&m.want)?;
    for (_, rec) in m.rows.values() {
        w.write_record(rec)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(total)
}

fn err<T>(m: String) -> Result<T, LabError> {
    Err(LabError::Input(m))
}

/// The shards read so far.
struct Merge {
    want: Vec<&'static str>,
    /// Columns of the sweep id, the shard, the row and the sweep's rows.
    c_id: usize,
    c_shard: usize,
    c_row: usize,
    c_rows: usize,
    /// (id, shard, total) of the first row read.
    sweep: Option<(String, String, String)>,
    /// Each shard's file.
    seen_shards: BTreeMap<u32, String>,
    /// Each sweep row, with its file, its shard set to `1/1`.
    rows: BTreeMap<usize, (String, csv::StringRecord)>,
    count_of_sweep: u32,
}

impl Merge {
    fn new() -> Merge {
        let want = header();
        let col = |name: &str| {
            want.iter()
                .position(|c| *c == name)
                .expect("a sweep column")
        };
        Merge {
            c_id: col("sweep_id"),
            c_shard: col("shard"),
            c_row: col("sweep_row"),
            c_rows: col("sweep_rows"),
            want,
            sweep: None,
            seen_shards: BTreeMap::new(),
            rows: BTreeMap::new(),
            count_of_sweep: 0,
        }
    }

    /// Reads one shard file.
    fn file(&mut self, name: &String, text: &str) -> Result<(), LabError> {
        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let head: Vec<String> = rdr
            .headers()
            .map_err(|e| LabError::Input(format!("{name}: {e}")))?
            .iter()
            .map(String::from)
            .collect();
        if head != self.want {
            return err(format!(
                "{name} is not a sweep shard: its header lacks the sweep columns ({}) or \
                 differs from this version's; write it with `pollwise sweep`",
                SWEEP_COLUMNS.join(", ")
            ));
        }
        let mut file_shard: Option<String> = None;
        if let Some(rec) = self.empty_shard(name, text)? {
            self.same_sweep(name, 2, &rec)?;
            return self.shard(name, 2, &rec[self.c_shard], &mut file_shard);
        }
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| LabError::Input(format!("{name}: {e}")))?;
            self.same_sweep(name, line, &rec)?;
            self.shard(name, line, &rec[self.c_shard], &mut file_shard)?;
            self.row(name, line, &rec)?;
        }
        Ok(())
    }

    /// The identity of an empty shard (its line after the header) as a row
    /// with the sweep columns alone, or `None` for a shard with rows.
    fn empty_shard(&self, name: &str, text: &str) -> Result<Option<csv::StringRecord>, LabError> {
        let mut lines = text.lines().skip(1).filter(|l| !l.is_empty());
        let Some(line) = lines.next().and_then(|l| l.strip_prefix(EMPTY_SHARD)) else {
            return Ok(None);
        };
        if lines.next().is_some() {
            return err(format!("{name}: rows after the line of an empty shard"));
        }
        let mut fields = vec![String::new(); self.want.len()];
        for (key, col) in [
            ("sweep_id", self.c_id),
            ("shard", self.c_shard),
            ("sweep_rows", self.c_rows),
        ] {
            let value = line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| {
                    LabError::Input(format!("{name} line 2: an empty shard without its {key}"))
                })?;
            fields[col] = value.to_string();
        }
        Ok(Some(csv::StringRecord::from(fields)))
    }

    /// Checks that a row is of the sweep of the rows before it.
    fn same_sweep(
        &mut self,
        name: &str,
        line: usize,
        rec: &csv::StringRecord,
    ) -> Result<(), LabError> {
        let (id, shard, total) = (&rec[self.c_id], &rec[self.c_shard], &rec[self.c_rows]);
        match &self.sweep {
            None => {
                self.sweep = Some((id.to_string(), shard.to_string(), total.to_string()));
            }
            Some((sid, _, stotal)) => {
                if id != sid {
                    return err(format!(
                        "{name} line {line}: sweep {id} is not sweep {sid} of the other \
                         shards: shards of different sweeps cannot be merged"
                    ));
                }
                if total != stotal {
                    return err(format!(
                        "{name} line {line}: {total} rows in the sweep, other shards say {stotal}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks a row's shard `I/N`: one per file, each shard in one file,
    /// every file of the same `N`.
    fn shard(
        &mut self,
        name: &String,
        line: usize,
        shard: &str,
        file_shard: &mut Option<String>,
    ) -> Result<(), LabError> {
        let Some((i_text, n_text)) = shard.split_once('/') else {
            return err(format!("{name} line {line}: shard '{shard}' is not I/N"));
        };
        let (Ok(index), Ok(count)) = (i_text.parse::<u32>(), n_text.parse::<u32>()) else {
            return err(format!("{name} line {line}: shard '{shard}' is not I/N"));
        };
        match file_shard {
            None => {
                let count_of_sweep = self.count_of_sweep;
                if count_of_sweep != 0 && count != count_of_sweep {
                    return err(format!(
                        "{name}: shard {shard} of {count}, other files are shards of \
                         {count_of_sweep}"
                    ));
                }
                self.count_of_sweep = count;
                if let Some(other) = self.seen_shards.insert(index, name.clone()) {
                    return err(format!("shard {shard} is given twice: {other} and {name}"));
                }
                *file_shard = Some(shard.to_string());
            }
            Some(s) if s != shard => {
                return err(format!(
                    "{name} line {line}: shard {shard} in a file of shard {s}"
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Keeps a row at its place in the sweep, as shard `1/1`.
    fn row(&mut self, name: &String, line: usize, rec: &csv::StringRecord) -> Result<(), LabError> {
        let row = &rec[self.c_row];
        let k: usize = row
            .parse()
            .map_err(|_| LabError::Input(format!("{name} line {line}: sweep_row '{row}'")))?;
        let mut fields: Vec<String> = rec.iter().map(String::from).collect();
        fields[self.c_shard] = "1/1".into();
        let rec = csv::StringRecord::from(fields);
        if let Some((other, _)) = self.rows.insert(k, (name.clone(), rec)) {
            if &other == name {
                return err(format!(
                    "{name} line {line}: row {k} of the sweep appears twice in this file"
                ));
            }
            return err(format!(
                "row {k} of the sweep is in both {other} and {name}: shards overlap"
            ));
        }
        Ok(())
    }

    /// The sweep's row count, once every shard and every row is there.
    fn complete(&self) -> Result<usize, LabError> {
        let Some((_, _, total)) = &self.sweep else {
            return err("the shard files have no rows".into());
        };
        let total: usize = total
            .parse()
            .map_err(|_| LabError::Input(format!("sweep_rows '{total}'")))?;
        let count_of_sweep = self.count_of_sweep;
        let missing: Vec<u32> = (1..=count_of_sweep)
            .filter(|i| !self.seen_shards.contains_key(i))
            .collect();
        if !missing.is_empty() {
            return err(format!(
                "incomplete sweep: shard(s) {} of {count_of_sweep} missing",
                missing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let rows = &self.rows;
        if rows.len() != total || rows.keys().next_back().is_some_and(|&k| k + 1 != total) {
            let gap = (0..total).find(|k| !rows.contains_key(k));
            return err(format!(
                "incomplete sweep: {} of {total} rows{}",
                rows.len(),
                gap.map(|k| format!(", row {k} missing (a truncated shard file?)"))
                    .unwrap_or_default()
            ));
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_text(rows: &[RunRow], index: u32, count: u32, first: usize, total: usize) -> String {
        let mut out = Vec::new();
        let info = ShardInfo {
            sweep_id: sweep_id("spec"),
            index,
            count,
            first_row: first,
            total_rows: total,
        };
        write_sweep_csv(&mut out, rows, &info).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn rows(n: usize) -> Vec<RunRow> {
        (0..n)
            .map(|i| RunRow {
                iops: i as f64 * 1.5,
                params: "poll-max-ns=1 poll-shrink=2".into(),
                ..crate::test_row()
            })
            .collect()
    }

    #[test]
    fn shards_merge_to_the_whole_byte_for_byte() {
        let all = rows(5);
        let whole = shard_text(&all, 1, 1, 0, 5);
        let a = shard_text(&all[..2], 1, 2, 0, 5);
        let b = shard_text(&all[2..], 2, 2, 2, 5);
        let mut out = Vec::new();
        // Order of the files does not matter.
        merge(
            &[("b".into(), b.clone()), ("a".into(), a.clone())],
            &mut out,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole);
        let e = |files: &[(&str, &String)]| {
            let f: Vec<(String, String)> = files
                .iter()
                .map(|(n, t)| (n.to_string(), (*t).clone()))
                .collect();
            merge(&f, Vec::new()).unwrap_err().to_string()
        };
        assert!(e(&[("a", &a)]).contains("shard(s) 2 of 2 missing"));
        assert!(e(&[("a", &a), ("a2", &a), ("b", &b)]).contains("given twice"));
        let truncated: String = b.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(e(&[("a", &a), ("b", &truncated)]).contains("row 3 missing"));
        let other = a.replace(&sweep_id("spec"), &sweep_id("other"));
        assert!(e(&[("a", &other), ("b", &b)]).contains("different sweeps"));
        let plain = "source,iops\nsim,1\n".to_string();
        assert!(e(&[("p", &plain)]).contains("not a sweep shard"));
        let overlap = shard_text(&all[1..], 2, 2, 1, 5);
        assert!(e(&[("a", &a), ("o", &overlap)]).contains("overlap"));
        // A row twice in one file is not two shards overlapping.
        let last = a.lines().last().unwrap();
        let doubled = format!("{a}{last}\n");
        assert!(e(&[("d", &doubled), ("b", &b)]).contains("appears twice in this file"));
    }

    #[test]
    fn sweep_ids_are_stable_and_distinct() {
        // FNV-1a 64 of the empty string is its offset basis.
        assert_eq!(sweep_id(""), "cbf29ce484222325");
        assert_eq!(sweep_id("a"), "af63dc4c8601ec8c");
        assert_ne!(sweep_id("spec 1"), sweep_id("spec 2"));
    }
}
