//! The preset reader against arbitrary bytes and mutated presets: every
//! input gives an error or a preset, never a panic; every preset it accepts
//! simulates a short run without a panic.

use pollwise_core::{Params, PolicyKind, Rw, Workload};
use pollwise_sim::Preset;
use proptest::prelude::*;

const OPTANE: &str = include_str!("../presets/optane-p4800x.toml");

/// Values a careless or hostile user might put in any field.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("18446744073709551615".to_string()),
        Just("1e308".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just(format!("\"{}\"", "x".repeat(5000))),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
    ]
}

fn accepted_runs(preset: &Preset) {
    let w = Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 1,
        iodepth: 1,
        iothreads: 1,
        duration_ms: 1,
    };
    let mut p = preset.clone();
    p.matrix.warmup_ms = 0;
    let _ = pollwise_sim::simulate(&p, &w, &Params::defaults(PolicyKind::Qemu), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_an_error_or_a_preset(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(p) = Preset::from_toml(&text, "fuzz") {
            accepted_runs(&p);
        }
    }

    #[test]
    fn a_mutated_preset_is_an_error_or_a_preset(
        line in 0usize..400,
        value in hostile_value(),
        cut in 0usize..8000,
        len in 0usize..64,
        dup in any::<bool>(),
    ) {
        let lines: Vec<&str> = OPTANE.lines().collect();
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let i = line % out.len();
        // Replace a value, duplicate a line (a repeated key), or cut bytes.
        if let Some((key, _)) = out[i].split_once('=') {
            out[i] = format!("{key}= {value}");
        }
        if dup {
            let copy = out[i].clone();
            out.insert(i, copy);
        }
        let mut text = out.join("\n");
        let start = cut.min(text.len());
        let end = (start + len).min(text.len());
        if text.is_char_boundary(start) && text.is_char_boundary(end) {
            text.replace_range(start..end, "");
        }
        if let Ok(p) = Preset::from_toml(&text, "mutated") {
            prop_assert!(p.name.len() <= 256);
            accepted_runs(&p);
        }
    }
}
