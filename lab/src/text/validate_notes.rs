//! The notes under `validate`'s absolute table: points whose reference
//! runs fell into two states, and points where the model is steep.

use std::io::{self, Write};

use super::bs_text;
use crate::validate::{DiffValidation, WAKEUP_DRIFT};

/// A note for each point whose reference runs fell into two states.
pub(super) fn write_two_states<W: Write + ?Sized>(
    out: &mut W,
    v: &DiffValidation,
) -> io::Result<()> {
    for a in &v.baseline {
        let Some(((lo_a, lo_b), (hi_a, hi_b))) = a.two_states() else {
            continue;
        };
        let d = &a.reference;
        writeln!(
            out,
            "note: at {} the {} runs of the baseline fell into two groups, {lo_a:.0}-{lo_b:.0} and \
             {hi_a:.0}-{hi_b:.0} IOPS, further apart than the IOPS target: the host ran it in two \
             states (where woken threads ran: `--explain`'s placement rows show them), and the \
             mean compared above is neither",
            point_text(&d.rw, d.bs, d.numjobs, d.iodepth, d.iothreads),
            a.reference_iops.len()
        )?;
    }
    Ok(())
}

/// A note for each point where the model is steep.
pub(super) fn write_steep<W: Write + ?Sized>(out: &mut W, v: &DiffValidation) -> io::Result<()> {
    for a in v.baseline.iter().filter(|a| a.steep()) {
        let Some(s) = a.steepness else { continue };
        let d = &a.reference;
        writeln!(
            out,
            "note: at {} the model is steep: with the calibrated wake-ups {:.0}% shorter or longer \
             its baseline runs {:.0}-{:.0} IOPS at {:.1}-{:.1}% CPU, past a target; what it \
             predicts there holds for the hour of the calibration (recalibrate and validate again \
             before relying on it)",
            point_text(&d.rw, d.bs, d.numjobs, d.iodepth, d.iothreads),
            100.0 * WAKEUP_DRIFT,
            s.iops.0,
            s.iops.1,
            s.cpu.0,
            s.cpu.1
        )?;
    }
    Ok(())
}

/// A point as the tables name it: `randread 4k j=1 qd=8 iot=1`.
pub(super) fn point_text(rw: &str, bs: u64, numjobs: u32, iodepth: u32, iothreads: u32) -> String {
    format!(
        "{rw} {} j={numjobs} qd={iodepth} iot={iothreads}",
        bs_text(bs)
    )
}
