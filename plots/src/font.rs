//! The font every picture's text is drawn with, embedded in the binary so
//! text renders on a headless machine without system fonts or fontconfig.
//!
//! DejaVu Sans, under the Bitstream Vera licence (`fonts/LICENSE-DejaVu.txt`).

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use crate::PlotError;

const DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name the plots ask plotters for.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process; every plot calls this
/// before it draws.
pub fn ensure_registered() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Draw(
            "the embedded DejaVu Sans font could not be parsed".to_string(),
        ))
    }
}
