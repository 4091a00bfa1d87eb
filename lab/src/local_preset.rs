//! `realdev calibrate` as a function: measure the machine, check that the
//! measurements add up, and turn them into a simulator preset's text that
//! reads back as the preset measured.

use pollwise_realdev::calibrate::{calibrate, CalibrateConfig, Calibration};

use crate::calibrated::{self, MAX_DEPTH};
use crate::LabError;

/// Checks `cfg`'s bounds, then measures. What the measurements say about
/// themselves is `Calibration::warnings`; the caller reports them before
/// [`preset_text`] builds anything from them.
pub fn measure(cfg: &CalibrateConfig) -> Result<Calibration, LabError> {
    let input = |m: String| Err(LabError::Input(m));
    let max_ms = pollwise_realdev::loadgen::LIMITS.duration_ms.1;
    if cfg.point_ms == 0 || cfg.point_ms > max_ms {
        return input(format!(
            "--point-ms {} is out of range 1..={max_ms}",
            cfg.point_ms
        ));
    }
    if cfg.saturation_depth == 0 || cfg.saturation_depth > MAX_DEPTH {
        return input(format!(
            "--depth {} is out of range 1..={MAX_DEPTH}",
            cfg.saturation_depth
        ));
    }
    if cfg.repeats == 0 {
        return input("--repeat must be at least 1".into());
    }
    Ok(calibrate(cfg)?)
}

/// The preset's TOML text (the measurements in comments), checked to read
/// back as the preset measured. `name` names it in errors (the output
/// file).
pub fn preset_text(cal: &Calibration, name: &str) -> Result<String, LabError> {
    let preset = calibrated::build(cal).map_err(LabError::Input)?;
    let text = calibrated::to_toml(cal, &preset);
    // What the simulator will read must be what was measured: the text is
    // checked before anyone writes it (reading an output back would hang
    // on a pipe such as /dev/stdout).
    let loaded = pollwise_sim::Preset::from_toml(&text, name)?;
    if loaded != preset {
        return Err(LabError::Input(format!(
            "the preset for {name} does not read back as the one measured"
        )));
    }
    Ok(text)
}
