//! Where a run's window trajectory goes: kept in memory for callers that
//! want the rows, or handed row by row to a sink (a CSV writer) so memory
//! does not grow with the run's length.

use pollwise_core::TraceRow;

pub(crate) enum TraceSink<'a> {
    Collect(Vec<TraceRow>),
    Stream(Box<dyn FnMut(TraceRow) + 'a>),
}

/// A clone of a collecting sink keeps a copy of its rows; a clone of a
/// streaming sink cannot share the sink and keeps nothing (collects into an
/// empty list). Only the rollout clones engines, and it runs untraced.
impl Clone for TraceSink<'_> {
    fn clone(&self) -> Self {
        match self {
            TraceSink::Collect(rows) => TraceSink::Collect(rows.clone()),
            TraceSink::Stream(_) => TraceSink::Collect(Vec::new()),
        }
    }
}

impl TraceSink<'_> {
    pub(crate) fn collect() -> Self {
        TraceSink::Collect(Vec::new())
    }

    pub(crate) fn push(&mut self, row: TraceRow) {
        match self {
            TraceSink::Collect(rows) => rows.push(row),
            TraceSink::Stream(sink) => sink(row),
        }
    }

    /// The rows kept (none when they were streamed).
    pub(crate) fn into_rows(self) -> Vec<TraceRow> {
        match self {
            TraceSink::Collect(rows) => rows,
            TraceSink::Stream(_) => Vec::new(),
        }
    }
}
