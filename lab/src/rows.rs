//! Result rows and traces as CSV files (the common schema).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use pollwise_core::{RunRow, TraceRow};

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

/// Writes rows to the file `path`.
pub fn write_csv_file(path: &Path, rows: &[RunRow]) -> Result<(), LabError> {
    write_csv(create(path)?, rows)
}

/// Writes trace rows to the file `path`.
pub fn write_trace_file(path: &Path, rows: &[TraceRow]) -> Result<(), LabError> {
    write_trace(create(path)?, rows)
}
