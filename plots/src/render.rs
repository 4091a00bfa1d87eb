//! Picking the backend from the output's extension, and drawing a plot on it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{font, PlotError};

/// The picture formats we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format named by `path`'s extension (case-insensitive).
    pub fn of(path: &Path) -> Result<Format, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Picture size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            width: 1200,
            height: 800,
        }
    }
}

/// Smallest picture the layouts still fit in.
const MIN_SIZE: Size = Size {
    width: 400,
    height: 300,
};
const MAX_SIDE: u32 = 10_000;

/// A plot that can draw itself on any plotters backend.
pub trait Draw {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static;
}

/// Draws `plot` into `out`, PNG or SVG by its extension.
pub fn render<P: Draw>(plot: &P, out: &Path, size: Size) -> Result<(), PlotError> {
    let format = Format::of(out)?;
    if size.width < MIN_SIZE.width
        || size.height < MIN_SIZE.height
        || size.width > MAX_SIDE
        || size.height > MAX_SIDE
    {
        return Err(PlotError::Invalid(format!(
            "picture size {}x{} is out of range: width and height must be {}..={} and {}..={}",
            size.width, size.height, MIN_SIZE.width, MAX_SIDE, MIN_SIZE.height, MAX_SIDE
        )));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(PlotError::Invalid(format!(
                "cannot write {}: the directory {} does not exist",
                out.display(),
                dir.display()
            )));
        }
    }
    font::ensure_registered()?;
    let write_err = |e: String| PlotError::Draw(format!("cannot write {}: {e}", out.display()));
    match format {
        Format::Png => {
            let root = BitMapBackend::new(out, (size.width, size.height)).into_drawing_area();
            root.fill(&WHITE)?;
            plot.draw(&root)?;
            root.present().map_err(|e| write_err(e.to_string()))?;
        }
        Format::Svg => {
            let root = SVGBackend::new(out, (size.width, size.height)).into_drawing_area();
            root.fill(&WHITE)?;
            plot.draw(&root)?;
            root.present().map_err(|e| write_err(e.to_string()))?;
        }
    }
    Ok(())
}
