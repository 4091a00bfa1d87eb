//! The terminal: lab's notes on stderr as they are, and its runs as a bar;
//! when stderr is not a terminal, a plain line every few seconds instead
//! (`lab::Pace`), so logs and pipes stay readable.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use pollwise_lab::cmd::{runs_line, runs_of, Pace, Ui};
use pollwise_lab::Progress;

/// The one terminal of the process.
pub static TERM: Terminal = Terminal {
    bar: Mutex::new(None),
    pace: Mutex::new(None),
};

pub struct Terminal {
    bar: Mutex<Option<(ProgressBar, Instant)>>,
    pace: Mutex<Option<Pace>>,
}

impl Ui for Terminal {
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn progress(&self, p: Progress) {
        let Some((done, total, _)) = runs_of(p) else {
            if let Progress::Step(text) = p {
                eprintln!("{text}");
            }
            return;
        };
        if !std::io::stderr().is_terminal() {
            let mut slot = self.pace.lock().unwrap_or_else(|e| e.into_inner());
            let pace = slot.get_or_insert_with(|| Pace::new(Instant::now()));
            if let Some(line) = pace.line(Instant::now(), p) {
                eprintln!("{line}");
            }
            if done >= total {
                *slot = None;
            }
            return;
        }
        let mut slot = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let (b, start) = slot.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("[{bar:30}] {msg}")
                    .expect("static template is valid")
                    .progress_chars("=> "),
            );
            (b, Instant::now())
        });
        b.set_length(total as u64);
        b.set_message(runs_line(p, start.elapsed()).unwrap_or_default());
        b.set_position(done as u64);
        if done >= total {
            b.finish_and_clear();
            *slot = None;
        }
    }
}
