//! Results CSV read by header name, so a file with extra or fewer columns
//! works wherever the plot does not need the missing ones.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr;

use crate::PlotError;

/// A CSV file held as text cells, with its header for lookups by name.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    headers: Vec<String>,
    /// Every cell's text, trimmed, row after row: one buffer for the whole
    /// file rather than allocations per row (results run to millions of
    /// rows).
    text: String,
    /// Each cell's end in `text`, relative to the start of its row.
    cell_ends: Vec<u32>,
    rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    /// 1-based line of the record in the file, for error messages.
    line: u64,
    /// Where the row's text starts in `Table::text`.
    text: usize,
    /// Where the row's cells start in `Table::cell_ends`, and how many.
    cells: usize,
    len: u32,
}

/// A column's position, checked to exist when it was looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col(usize);

impl Table {
    /// Reads a CSV file with a header row, whole (for tests and small
    /// files; the `pollwise` binary reads its inputs with a bound and
    /// parses them with [`Table::from_reader`]).
    pub fn read(path: &Path) -> Result<Table, PlotError> {
        let file = std::fs::File::open(path).map_err(|e| PlotError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Table::from_reader(path, file)
    }

    /// Reads CSV from any reader; `path` only names it in errors.
    pub fn from_reader<R: Read>(path: &Path, reader: R) -> Result<Table, PlotError> {
        let lines = Rc::new(RefCell::new(LineEnds::default()));
        let counted = CountLines {
            inner: reader,
            ends: Rc::clone(&lines),
        };
        let line_of = |byte: u64| lines.borrow_mut().line_of(byte);
        let csv_err = |e: csv::Error| csv_error(path, e, &line_of);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(counted);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(PlotError::Empty {
                path: path.to_path_buf(),
                header_only: false,
            });
        }
        // A column named twice: which one a plot reads would be a guess.
        let mut seen = std::collections::HashSet::new();
        if let Some(h) = headers
            .iter()
            .find(|h| !h.is_empty() && !seen.insert(h.as_str()))
        {
            return Err(PlotError::Csv {
                path: path.to_path_buf(),
                message: format!("line 1: the column '{h}' appears twice in the header"),
            });
        }
        let mut table = Table {
            path: path.to_path_buf(),
            headers,
            text: String::new(),
            cell_ends: Vec::new(),
            rows: Vec::new(),
        };
        let mut record = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut record).map_err(csv_err)? {
            let line = record.position().map_or(0, |p| line_of(p.byte()));
            let whole = record_text(&record).map_err(|field| PlotError::Csv {
                path: path.to_path_buf(),
                message: format!("line {line}: field {field} is not valid UTF-8"),
            })?;
            let fields = (0..record.len()).map(|i| record.range(i).map_or("", |r| whole[r].trim()));
            table.push(line, fields, path)?;
        }
        if table.rows.is_empty() {
            return Err(PlotError::Empty {
                path: path.to_path_buf(),
                header_only: true,
            });
        }
        Ok(table)
    }

    /// Adds one record; skips one of only empty cells; refuses a repeat of
    /// the header.
    fn push<'a>(
        &mut self,
        line: u64,
        cells: impl Iterator<Item = &'a str> + Clone,
        path: &Path,
    ) -> Result<(), PlotError> {
        if cells.clone().all(str::is_empty) {
            return Ok(());
        }
        if cells.clone().eq(self.headers.iter().map(String::as_str)) {
            return Err(PlotError::RepeatedHeader {
                path: path.to_path_buf(),
                line,
            });
        }
        let row = Row {
            line,
            text: self.text.len(),
            cells: self.cell_ends.len(),
            len: 0,
        };
        let mut len = 0u32;
        for cell in cells {
            self.text.push_str(cell);
            let end = u32::try_from(self.text.len() - row.text).map_err(|_| PlotError::Csv {
                path: path.to_path_buf(),
                message: format!("line {line}: a row of over 4 GiB"),
            })?;
            self.cell_ends.push(end);
            len += 1;
        }
        self.rows.push(Row { len, ..row });
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn find(&self, name: &str) -> Option<Col> {
        self.headers.iter().position(|h| h == name).map(Col)
    }

    /// The column called `name`, or an error naming it and listing those present.
    pub fn col(&self, name: &str) -> Result<Col, PlotError> {
        self.find(name).ok_or_else(|| PlotError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            present: self.headers.clone(),
        })
    }

    /// The column called `name` if the file has it.
    pub fn opt_col(&self, name: &str) -> Option<Col> {
        self.find(name)
    }

    pub fn text(&self, row: usize, col: Col) -> &str {
        let row = self.rows[row];
        if col.0 >= row.len as usize {
            return "";
        }
        let end = self.cell_ends[row.cells + col.0] as usize;
        let start = match col.0 {
            0 => 0,
            c => self.cell_ends[row.cells + c - 1] as usize,
        };
        &self.text[row.text + start..row.text + end]
    }

    /// A cell that must hold a finite number.
    pub fn num(&self, row: usize, col: Col) -> Result<f64, PlotError> {
        let text = self.text(row, col);
        parse_finite(text).ok_or_else(|| PlotError::BadNumber {
            path: self.path.clone(),
            line: self.rows[row].line,
            column: self.headers[col.0].clone(),
            value: text.to_string(),
        })
    }

    /// The value called `name` in a row: the column of that name if there is
    /// one, else the parameter of that name in the `params` column.
    pub fn value(&self, row: usize, name: &str) -> Option<&str> {
        if let Some(col) = self.find(name) {
            return Some(self.text(row, col));
        }
        let params = self.find("params")?;
        param(self.text(row, params), name)
    }

    /// Like [`Table::value`], parsed as a finite number. `Ok(None)` when the
    /// row has no such value; an error when it has one that is not a number.
    pub fn value_num(&self, row: usize, name: &str) -> Result<Option<f64>, PlotError> {
        match self.value(row, name) {
            None => Ok(None),
            Some(text) => match parse_finite(text) {
                Some(v) => Ok(Some(v)),
                None => Err(PlotError::BadNumber {
                    path: self.path.clone(),
                    line: self.rows[row].line,
                    column: name.to_string(),
                    value: text.to_string(),
                }),
            },
        }
    }

    /// Keeps only the rows every filter matches; an error when none is left.
    pub fn retain(&mut self, filters: &[Filter]) -> Result<(), PlotError> {
        if filters.is_empty() {
            return Ok(());
        }
        let keep: Vec<bool> = (0..self.rows.len())
            .map(|r| filters.iter().all(|f| f.matches(self, r)))
            .collect();
        let mut flags = keep.into_iter();
        self.rows.retain(|_| flags.next().unwrap_or(false));
        if self.rows.is_empty() {
            let list: Vec<String> = filters.iter().map(Filter::to_string).collect();
            return Err(PlotError::Invalid(format!(
                "no row of {} matches {}",
                self.path.display(),
                list.join(" and ")
            )));
        }
        Ok(())
    }
}

/// The byte offsets of the line ends the CSV parser has read and not yet
/// passed, so a record's byte offset maps to the line a text editor shows
/// it on. (The csv crate's own line count misses the line ends of CRLF
/// files.) A line ends at `\n`, `\r\n` or a lone `\r`, as the parser sees it.
#[derive(Default)]
struct LineEnds {
    /// Offsets not yet passed; holds at most what the parser buffered.
    ends: VecDeque<u64>,
    /// Line ends before the first offset in `ends`.
    passed: u64,
    /// Bytes read so far.
    offset: u64,
    prev_cr: bool,
}

impl LineEnds {
    fn scan(&mut self, bytes: &[u8]) {
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            // A \n right after a \r ends the same line.
            let after_cr = if i == 0 {
                self.prev_cr
            } else {
                bytes[i - 1] == b'\r'
            };
            if bytes[i] == b'\r' || !after_cr {
                self.ends.push_back(self.offset + i as u64);
            }
        }
        if let Some(&last) = bytes.last() {
            self.prev_cr = last == b'\r';
        }
        self.offset += bytes.len() as u64;
    }

    /// The 1-based line of the byte at `offset`. Offsets must not decrease
    /// from call to call (records come in file order).
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.ends.front().is_some_and(|&e| e < offset) {
            self.ends.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A reader that feeds what it reads to a [`LineEnds`].
struct CountLines<R> {
    inner: R,
    ends: Rc<RefCell<LineEnds>>,
}

impl<R: Read> Read for CountLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ends.borrow_mut().scan(&buf[..n]);
        Ok(n)
    }
}

/// A record's bytes as text, or the 1-based field that is not UTF-8.
fn record_text(record: &csv::ByteRecord) -> Result<&str, usize> {
    let bad_field = || {
        record
            .iter()
            .position(|f| std::str::from_utf8(f).is_err())
            .map_or(1, |i| i + 1)
    };
    let whole = std::str::from_utf8(record.as_slice()).map_err(|_| bad_field())?;
    // Valid as a whole, but a field may still end inside a character.
    let mut at = 0;
    for f in record.iter() {
        at += f.len();
        if !whole.is_char_boundary(at) {
            return Err(bad_field());
        }
    }
    Ok(whole)
}

/// A csv error with the line numbered as in [`LineEnds`], not as the csv
/// crate counts.
fn csv_error(path: &Path, e: csv::Error, line_of: &dyn Fn(u64) -> u64) -> PlotError {
    let at = |pos: &Option<csv::Position>| match pos {
        Some(p) => format!("line {}: ", line_of(p.byte())),
        None => String::new(),
    };
    let message = match e.kind() {
        csv::ErrorKind::Io(io) => {
            return PlotError::Read {
                path: path.to_path_buf(),
                message: io.to_string(),
            }
        }
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "{}found a row of {len} fields where the rows before have {expected_len}",
            at(pos)
        ),
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "{}field {} is not valid UTF-8 (after {} valid bytes)",
            at(pos),
            err.field() + 1,
            err.valid_up_to()
        ),
        _ => e.to_string(),
    };
    PlotError::Csv {
        path: path.to_path_buf(),
        message,
    }
}

/// The value of parameter `name` in a `params` cell (`name=value` pairs
/// separated by spaces).
pub fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The `name=value` pairs of a `params` cell, in order.
pub fn param_pairs(params: &str) -> Vec<(&str, &str)> {
    params
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

fn parse_finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.abs() <= MAX_ABS)
}

/// The largest magnitude a plotted number may have: far past any rate,
/// percentage or time in nanoseconds pollwise writes (u64 ns end at 1.8e19),
/// and far enough below f64::MAX that an axis's range and ticks stay finite
/// (values near it made the axis code loop).
pub const MAX_ABS: f64 = 1e18;

/// Two cell texts are equal as numbers when both are numbers, else as text,
/// so `bs=8192` matches `8192.0`.
pub fn same_value(a: &str, b: &str) -> bool {
    match (parse_finite(a), parse_finite(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A cell text as a hashable key with the equality of [`same_value`]:
/// numbers compare by value, anything else by text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKey<'a> {
    /// The bits of a finite number, with -0 folded into 0.
    Num(u64),
    Text(&'a str),
}

impl<'a> ValueKey<'a> {
    pub fn of(text: &'a str) -> ValueKey<'a> {
        match parse_finite(text) {
            // -0.0 == 0.0 as numbers; adding 0.0 turns -0.0 into +0.0.
            Some(v) => ValueKey::Num((v + 0.0).to_bits()),
            None => ValueKey::Text(text),
        }
    }
}

/// A row filter `NAME=VALUE`: NAME is a column or a parameter in `params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub value: String,
}

impl Filter {
    pub fn matches(&self, table: &Table, row: usize) -> bool {
        table
            .value(row, &self.name)
            .is_some_and(|v| same_value(v, &self.value))
    }
}

impl FromStr for Filter {
    type Err = PlotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok(Filter {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            }),
            _ => Err(PlotError::Invalid(format!(
                "filter '{s}' must be NAME=VALUE, e.g. rw=randread or poll-shrink=2"
            ))),
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}
