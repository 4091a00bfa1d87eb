//! The library's progress on stderr: stage lines as they are, runs as a
//! bar that is silent when stderr is not a terminal, so logs and pipes
//! stay clean.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use pollwise_lab::Progress;

/// A callback for the library's long work.
pub fn reporter() -> impl Fn(Progress) + Sync {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    move |p| match p {
        Progress::Step(text) => eprintln!("{text}"),
        Progress::Run { done, total, what } => {
            let mut slot = bar.lock().unwrap_or_else(|e| e.into_inner());
            let b = slot.get_or_insert_with(|| {
                let b = ProgressBar::new(total as u64);
                b.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:40}] {pos}/{len} runs, {elapsed} (eta {eta})",
                    )
                    .expect("static template is valid")
                    .progress_chars("=> "),
                );
                b
            });
            b.set_length(total as u64);
            b.set_message(what.to_string());
            b.set_position(done as u64);
            if done >= total {
                b.finish_and_clear();
                *slot = None;
            }
        }
    }
}
