//! Every plot drawn from a small hand-written CSV, then checked as a
//! picture: size, dimensions, and ink where the plot and its text belong.

use std::fs;
use std::path::{Path, PathBuf};

use pollwise_plots::{
    plot_compare, plot_heatmap, plot_pareto, plot_window, CompareOptions, HeatmapOptions,
    ParetoOptions, PlotError, Size, Summary, Table, WindowOptions,
};

// Each plot of the CSV file at `input`.
type Drawn = Result<Summary, PlotError>;
fn pareto(input: &Path, out: &Path, size: Size, o: &ParetoOptions) -> Drawn {
    plot_pareto(Table::read(input)?, out, size, o)
}
fn window(input: &Path, out: &Path, size: Size, o: &WindowOptions) -> Drawn {
    plot_window(Table::read(input)?, out, size, o)
}
fn heatmap(input: &Path, out: &Path, size: Size, o: &HeatmapOptions) -> Drawn {
    plot_heatmap(Table::read(input)?, out, size, o)
}
fn compare(input: &Path, out: &Path, size: Size, o: &CompareOptions) -> Drawn {
    plot_compare(Table::read(input)?, out, size, o)
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("pollwise-plots-pictures-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = dir().join(name);
    fs::write(&p, text).unwrap();
    p
}

struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(path: &Path) -> Picture {
        let decoder = png::Decoder::new(fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb, "plotters writes RGB");
        buf.truncate(info.buffer_size());
        Picture {
            width: info.width,
            height: info.height,
            rgb: buf,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.width + x) * 3) as usize;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Pixels in the rectangle that satisfy `f`.
    fn count(&self, x0: u32, y0: u32, x1: u32, y1: u32, f: impl Fn((u8, u8, u8)) -> bool) -> usize {
        let mut n = 0;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                if f(self.pixel(x, y)) {
                    n += 1;
                }
            }
        }
        n
    }

    /// Dark pixels (text, axes) in the rectangle: the background is white.
    fn ink(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        self.count(x0, y0, x1, y1, |(r, g, b)| {
            (r as u32 + g as u32 + b as u32) < 3 * 100
        })
    }

    /// Pixels within a small distance of `c` anywhere in the picture.
    fn has_color(&self, c: (u8, u8, u8)) -> usize {
        self.count(0, 0, self.width, self.height, |p| near(p, c))
    }
}

fn near(p: (u8, u8, u8), c: (u8, u8, u8)) -> bool {
    p.0.abs_diff(c.0) <= 6 && p.1.abs_diff(c.1) <= 6 && p.2.abs_diff(c.2) <= 6
}

const BLUE: (u8, u8, u8) = (0, 114, 178);
const ORANGE: (u8, u8, u8) = (230, 159, 0);
const VERMILLION: (u8, u8, u8) = (213, 94, 0);
const RED: (u8, u8, u8) = (255, 0, 0);

/// The checks every PNG gets: a real file of the requested dimensions,
/// text in the title strip and the bottom axis-label strip, and drawing
/// in the middle of the plot.
fn assert_picture(path: &Path, size: Size) -> Picture {
    let bytes = fs::metadata(path).unwrap().len();
    assert!(bytes > 10_000, "{} is only {bytes} bytes", path.display());
    let pic = Picture::decode(path);
    assert_eq!((pic.width, pic.height), (size.width, size.height));
    let (w, h) = (pic.width, pic.height);
    assert_eq!(pic.pixel(0, 0), (255, 255, 255), "white background");
    assert!(pic.ink(w / 4, 0, 3 * w / 4, 45) > 300, "no title text");
    assert!(
        pic.ink(w / 4, h - 60, 3 * w / 4, h) > 100,
        "no axis label text at the bottom"
    );
    let plot_area_non_white =
        pic.count(w / 6, h / 6, 5 * w / 6, 5 * h / 6, |p| p != (255, 255, 255));
    assert!(
        plot_area_non_white > 2_000,
        "plot area nearly empty: {plot_area_non_white}"
    );
    pic
}

const RESULTS: &str = "\
source,preset,policy,params,rw,bs,numjobs,iodepth,iothreads,duration_ms,seed,iops,iothread_cpu_pct,mb_per_s
sim,p,qemu,poll-max-ns=32768 poll-shrink=0,randread,8192,1,8,1,1000,1,163000,98.7,1
sim,p,qemu,poll-max-ns=8192 poll-shrink=0,randread,8192,1,8,1,1000,1,150000,80.0,1
sim,p,weighted,poll-max-ns=32768 poll-weight=2,randread,8192,1,8,1,1000,1,150700,95.8,1
sim,p,weighted,poll-max-ns=32768 poll-weight=3,randread,8192,1,8,1,1000,1,155000,96.5,1
sim,p,threshold-oracle,,randread,8192,1,8,1,1000,1,168000,70.0,1
";

#[test]
fn pareto_png_has_series_text_and_the_right_size() {
    let input = write("results.csv", RESULTS);
    let out = dir().join("pareto.png");
    let size = Size::default();
    let s = pareto(&input, &out, size, &ParetoOptions::default()).unwrap();
    assert_eq!((s.rows, s.series), (5, 3));
    let pic = assert_picture(&out, size);
    assert!(
        pic.has_color(BLUE) > 100,
        "qemu series (first colour) missing"
    );
    assert!(pic.has_color(ORANGE) > 100, "weighted series missing");
    // The y axis description is rotated text left of the plot.
    assert!(
        pic.ink(0, pic.height / 3, 50, 2 * pic.height / 3) > 50,
        "no y label"
    );
}

#[test]
fn pareto_normalized_and_svg() {
    let input = write("results-n.csv", RESULTS);
    let out = dir().join("pareto.svg");
    let opts = ParetoOptions {
        normalize: true,
        ..ParetoOptions::default()
    };
    pareto(&input, &out, Size::default(), &opts).unwrap();
    let svg = fs::read_to_string(&out).unwrap();
    assert!(
        svg.starts_with("<svg width=\"1200\" height=\"800\""),
        "{}",
        &svg[..80]
    );
    assert!(svg.contains("IOPS (% of baseline)"));
    assert!(svg.contains("relative to the baseline"));
    // The baseline is the qemu setting at its default poll-max-ns, named
    // with its parameters; the key beside the plot lists every setting.
    assert!(svg.contains("baseline (qemu poll-max-ns=32768 poll-shrink=0)"));
    assert!(svg.contains("Settings by spot"));
    for setting in [
        "qemu max-ns=8192",
        "weighted weight=2",
        "weighted weight=3",
        "threshold-oracle",
    ] {
        assert!(svg.contains(setting), "{setting} is not in the key");
    }
}

#[test]
fn window_png_draws_each_run_and_the_bound() {
    let mut text = String::from("policy,params,iothread,time_ns,window_ns,poll_max_ns\n");
    // qemu: grow 4000 -> 8000 -> 16000 -> 32768, reset to 0, again.
    let qemu = [0, 4000, 8000, 16000, 32768, 32768, 0, 4000, 8000, 16000];
    for (i, w) in qemu.iter().enumerate() {
        text += &format!("qemu,poll-max-ns=32768,0,{},{w},32768\n", i * 10_000);
    }
    for (i, w) in [32768, 24576, 18432, 24576, 32768, 24576]
        .iter()
        .enumerate()
    {
        text += &format!("weighted,poll-weight=2,0,{},{w},32768\n", i * 15_000);
    }
    let input = write("trace.csv", &text);
    let out = dir().join("window.png");
    let size = Size::default();
    let s = window(&input, &out, size, &WindowOptions::default()).unwrap();
    assert_eq!((s.rows, s.series), (16, 2));
    let pic = assert_picture(&out, size);
    let (w, h) = (pic.width, pic.height);
    let top = pic.count(0, 0, w, h / 2, |p| near(p, BLUE));
    let bottom = pic.count(0, h / 2, w, h, |p| near(p, ORANGE));
    assert!(
        top > 100 && bottom > 100,
        "panels: qemu {top}, weighted {bottom}"
    );
    assert!(pic.has_color(RED) > 100, "poll-max-ns line missing");
}

#[test]
fn window_without_poll_max_column_draws_no_bound() {
    let input = write(
        "trace-nomax.csv",
        "policy,time_ns,window_ns\nqemu,0,0\nqemu,100,4000\nqemu,200,8000\nqemu,300,0\n",
    );
    let out = dir().join("window-nomax.png");
    window(&input, &out, Size::default(), &WindowOptions::default()).unwrap();
    let pic = Picture::decode(&out);
    assert!(pic.has_color(BLUE) > 100);
    assert_eq!(pic.has_color(RED), 0, "no poll_max_ns column, no line");
}

#[test]
fn heatmap_png_spans_the_colour_map() {
    let mut text = String::from("policy,params,seed,iothread_cpu_pct\n");
    for (mx, cpus) in [
        (4096, [20.0, 30.0]),
        (16384, [50.0, 60.0]),
        (32768, [90.0, 95.0]),
    ] {
        for (sh, cpu) in [0, 2].iter().zip(cpus) {
            for seed in [1, 2] {
                text += &format!("qemu,poll-max-ns={mx} poll-shrink={sh},{seed},{cpu}\n");
            }
        }
    }
    let input = write("sweep.csv", &text);
    let out = dir().join("heat.png");
    let size = Size::default();
    let opts = HeatmapOptions {
        x: "poll-max-ns".into(),
        y: "poll-shrink".into(),
        metric: "iothread_cpu_pct".into(),
        filters: Vec::new(),
        title: None,
    };
    let s = heatmap(&input, &out, size, &opts).unwrap();
    assert_eq!((s.rows, s.series), (12, 6));
    let pic = assert_picture(&out, size);
    // The lowest cell (20) and the highest (95) take the ends of the map,
    // in cells large enough to hold thousands of pixels each.
    assert!(pic.has_color((68, 1, 84)) > 5_000, "lowest colour");
    assert!(pic.has_color((253, 231, 37)) > 5_000, "highest colour");
}

const COMPARE: &str = "\
rw,bs,numjobs,iothreads,baseline_iops,candidate_iops,iops_diff_pct,baseline_cpu_pct,candidate_cpu_pct,cpu_diff_pct,baseline,candidate,preset
randread,8192,1,1,163417,150670,-7.8,98.7,95.81,-2.93,qemu,weighted,optane-p4800x
randread,8192,1,2,165041,161080,-2.4,78.43,66.13,-15.68,qemu,weighted,optane-p4800x
randread,131072,16,2,17269,17231,-0.22,78.43,66.13,-15.68,qemu,weighted,optane-p4800x
";

#[test]
fn compare_png_marks_rows_outside_the_band() {
    let input = write("compare.csv", COMPARE);
    let out = dir().join("compare.png");
    let size = Size::default();
    let s = compare(&input, &out, size, &CompareOptions::default()).unwrap();
    assert_eq!(s.rows, 3);
    assert_eq!(s.outside_band, 1, "one row loses more than 5%");
    let pic = assert_picture(&out, size);
    assert!(pic.has_color(VERMILLION) > 500, "failing IOPS bar colour");
    assert!(pic.has_color(BLUE) > 500, "passing IOPS bars");

    let passing: String = COMPARE.replace("-7.8,", "-4.9,");
    let input = write("compare-ok.csv", &passing);
    let out = dir().join("compare-ok.png");
    let s = compare(&input, &out, size, &CompareOptions::default()).unwrap();
    assert_eq!(s.outside_band, 0);
    assert_eq!(Picture::decode(&out).has_color(VERMILLION), 0);
}

#[test]
fn other_sizes_are_honoured() {
    let input = write("compare-size.csv", COMPARE);
    let out = dir().join("compare-small.png");
    let size = Size {
        width: 800,
        height: 600,
    };
    compare(&input, &out, size, &CompareOptions::default()).unwrap();
    let pic = Picture::decode(&out);
    assert_eq!((pic.width, pic.height), (800, 600));
}

#[test]
fn errors_name_the_problem() {
    let input = write("results-e.csv", RESULTS);
    let e = pareto_error(&input, &dir().join("x.jpg"), Size::default());
    assert!(e.contains(".png or .svg"), "{e}");

    let empty = write("empty.csv", "");
    let e = pareto_error(&empty, &dir().join("e.png"), Size::default());
    assert!(e.contains("is empty"), "{e}");

    let header = write("header.csv", "policy,iops,iothread_cpu_pct\n");
    let e = pareto_error(&header, &dir().join("h.png"), Size::default());
    assert!(e.contains("no data rows"), "{e}");

    let e = compare(
        &input,
        &dir().join("c.png"),
        Size::default(),
        &CompareOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no column 'iops_diff_pct'"), "{e}");
    assert!(e.contains("columns present: source, preset, policy"), "{e}");

    let bad = write("bad.csv", "policy,iops,iothread_cpu_pct\nqemu,lots,5\n");
    let e = pareto_error(&bad, &dir().join("b.png"), Size::default());
    assert!(
        e.contains("line 2: column 'iops' must be a number between -1e18 and 1e18, got 'lots'"),
        "{e}"
    );

    let e = pareto_error(
        &input,
        &dir().join("no-such-dir").join("p.png"),
        Size::default(),
    );
    assert!(e.contains("does not exist"), "{e}");

    let tiny = Size {
        width: 10,
        height: 10,
    };
    let e = pareto_error(&input, &dir().join("t.png"), tiny);
    assert!(e.contains("out of range"), "{e}");
}

/// The error of drawing the Pareto plot of `input` into `out`.
fn pareto_error(input: &Path, out: &Path, size: Size) -> String {
    pareto(input, out, size, &ParetoOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_dense_trace_stays_inside_its_panel() {
    // 200k window changes with an irregular pattern: thinning leaves sharp
    // angles that, drawn as wide polygons, once shot lines over the title.
    let mut text = String::from("policy,params,iothread,time_ns,window_ns,poll_max_ns\n");
    let mut w = 0u64;
    for i in 0..200_000u64 {
        w = match (i * 7919) % 13 {
            0 => 0,
            1..=3 => w / 2,
            _ => (w * 2).clamp(4000, 32768),
        };
        text += &format!("qemu,,0,{},{w},32768\n", i * 1000 + (i * 31) % 700);
    }
    let input = write("dense-trace.csv", &text);
    let out = dir().join("dense.png");
    window(&input, &out, Size::default(), &WindowOptions::default()).unwrap();
    let pic = Picture::decode(&out);
    assert!(pic.has_color(BLUE) > 10_000, "the trace is drawn");
    let title_strip = pic.count(0, 0, pic.width, 40, |p| near(p, BLUE));
    let bottom_strip = pic.count(0, pic.height - 40, pic.width, pic.height, |p| near(p, BLUE));
    assert_eq!(
        (title_strip, bottom_strip),
        (0, 0),
        "line outside the panel"
    );
}
