//! Progress of a run: a live line per step on a terminal (stderr), plain log lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::pipeline::StepReport;

pub struct StepProgress {
    step: &'static str,
    bar: Option<ProgressBar>,
}

impl StepProgress {
    /// Starts showing `step`; shows nothing when stderr is not a terminal.
    pub fn start(step: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(step);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        StepProgress { step, bar }
    }

    /// True when a live line is shown (log lines would only repeat it).
    pub fn is_live(&self) -> bool {
        self.bar.is_some()
    }

    pub fn update(&self, report: &StepReport) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: {} extracted, {} loaded, {} failed",
                self.step, report.extracted, report.loaded, report.failed
            ));
        }
    }

    pub fn finish(self, report: &StepReport) {
        if let Some(bar) = self.bar {
            bar.finish_with_message(format!(
                "{}: {} extracted, {} loaded, {} failed",
                self.step, report.extracted, report.loaded, report.failed
            ));
        }
    }
}
