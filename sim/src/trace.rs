//! Where a run's window trajectory goes: kept in memory for callers that
//! want the rows, or handed row by row to a sink (a CSV writer) so memory
//! does not grow with the run's length.

use pollwise_core::TraceRow;

pub(crate) enum TraceSink<'a> {
    Collect(Vec<TraceRow>),
    Stream(Box<dyn FnMut(TraceRow) + 'a>),
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
