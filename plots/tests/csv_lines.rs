//! Errors about the CSV input name the line of the file a text editor
//! shows (the header is line 1).

use std::path::Path;

use pollwise_plots::{heatmap_grid, pareto_data, HeatmapOptions, ParetoOptions, Table};

fn table(text: &str) -> Result<Table, pollwise_plots::PlotError> {
    Table::from_reader(Path::new("t.csv"), text.as_bytes())
}

#[test]
fn a_bad_number_names_its_own_line() {
    // Line 1 the header, lines 2-3 fine, line 4 bad.
    let t = table(
        "policy,params,iops,iothread_cpu_pct\n\
         qemu,,1000,40\n\
         qemu,,1000,41\n\
         qemu,,oops,42\n",
    )
    .unwrap();
    let e = pareto_data(&t, &ParetoOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4:"), "{e}");
    assert!(e.contains("'oops'"), "{e}");
}

#[test]
fn blank_and_quoted_multiline_rows_do_not_shift_the_count() {
    // A blank line 3 and a quoted cell spanning lines 4-5: the bad value
    // is on line 6.
    let t = table(
        "policy,params,iops,iothread_cpu_pct\n\
         qemu,,1000,40\n\
         \n\
         qemu,\"a=1\n b=2\",1000,41\n\
         qemu,,1000,x42\n",
    )
    .unwrap();
    let e = pareto_data(&t, &ParetoOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 6:"), "{e}");
}

#[test]
fn heatmap_metric_errors_name_the_line_too() {
    let t = table(
        "policy,params,iothread_cpu_pct\n\
         qemu,poll-max-ns=1 poll-shrink=0,10\n\
         qemu,poll-max-ns=2 poll-shrink=0,bad\n",
    )
    .unwrap();
    let opts = HeatmapOptions {
        x: "poll-max-ns".into(),
        y: "poll-shrink".into(),
        metric: "iothread_cpu_pct".into(),
        filters: Vec::new(),
        title: None,
    };
    let e = heatmap_grid(&t, &opts).unwrap_err().to_string();
    assert!(e.contains("line 3:"), "{e}");
}

#[test]
fn a_ragged_row_names_its_line() {
    let e = table("policy,iops\nqemu,1\nqemu,2\nqemu,3,4\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4") || e.contains("line: 4"), "{e}");
}

#[test]
fn concatenated_shards_are_named_as_a_repeated_header() {
    let e = table(
        "policy,params,iops,iothread_cpu_pct\n\
         qemu,,1000,40\n\
         policy,params,iops,iothread_cpu_pct\n\
         qemu,,1000,41\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("repeats the header"), "{e}");
    // Spaces around cells are trimmed when the header is read too.
    let e = table("policy, iops\nqemu,1\npolicy ,iops\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3 repeats the header"), "{e}");
}

#[test]
fn crlf_files_are_numbered_like_lf_files() {
    let lf = "policy,params,iops,iothread_cpu_pct\nqemu,,1000,40\n\nqemu,,1000,41\nqemu,,oops,42\n";
    for text in [
        lf.to_string(),
        lf.replace('\n', "\r\n"),
        lf.replace('\n', "\r"),
    ] {
        let t = table(&text).unwrap();
        let e = pareto_data(&t, &ParetoOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5:"), "{text:?}: {e}");
    }
    let e = table("policy,iops\r\nqemu,1\r\nqemu,2\r\nqemu,3,4\r\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4:"), "{e}");
    let e = table("policy,params,iops\r\nqemu,,1\r\npolicy,params,iops\r\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3 repeats the header"), "{e}");
}

#[test]
fn invalid_utf8_names_the_line_and_field() {
    let bytes = b"policy,iops\nqemu,1\nqemu,\xff\xfe\n";
    let e = Table::from_reader(Path::new("t.csv"), &bytes[..])
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3: field 2 is not valid UTF-8"), "{e}");
}
