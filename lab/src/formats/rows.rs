//! Result rows and traces as CSV files (the common schema).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use pollwise_core::{RunRow, TraceRow};

use crate::formats::output::{Kind, Output};
use crate::LabError;

/// Writes rows as CSV with the common header (the header alone for none).
pub fn write_csv<W: Write>(out: W, rows: &[RunRow]) -> Result<(), LabError> {
    let mut w = csv::Writer::from_writer(out);
    if rows.is_empty() {
        w.write_record(RunRow::COLUMNS)?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Writes trace rows as CSV.
pub fn write_trace<W: Write>(out: W, rows: &[TraceRow]) -> Result<(), LabError> {
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        w.serialize(r)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Creates `path` for buffered writing, the error naming it.
pub fn create(path: &Path) -> Result<BufWriter<File>, LabError> {
    Ok(BufWriter::new(
        File::create(path).map_err(LabError::file(path))?,
    ))
}

/// Writes rows to the file `path`, replacing it only when complete (see
/// [`crate::formats::output`]; the caller has checked the path with
/// [`Output::prepare`] before the work).
pub fn write_csv_file(path: &Path, rows: &[RunRow]) -> Result<(), LabError> {
    Output::prepare("output", path, Kind::Results, &[], true)?.write_with(|w| write_csv(w, rows))
}

/// Writes trace rows to the file `path`, as [`write_csv_file`] does.
pub fn write_trace_file(path: &Path, rows: &[TraceRow]) -> Result<(), LabError> {
    Output::prepare("output", path, Kind::Trace, &[], true)?.write_with(|w| write_trace(w, rows))
}
