//! The log: the last lines (the Logs view), each also sent to the front end as it comes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::notices::{Notice, Notifier};
use crate::views::LogLine;

/// Log lines kept.
const LOG_LINES: usize = 500;

/// The log lines so far and where notices go.
pub struct Log {
    lines: Mutex<VecDeque<LogLine>>,
    notify: Notifier,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

impl Log {
    /// An empty log that reports its lines (and the others' notices) to `notify`.
    pub fn new(notify: Notifier) -> Log {
        Log {
            lines: Mutex::new(VecDeque::new()),
            notify,
        }
    }

    /// Adds a log line and reports it.
    pub fn add(&self, level: &str, connection: Option<&str>, message: impl Into<String>) {
        let line = LogLine {
            at_ms: now_ms(),
            level: level.to_owned(),
            connection: connection.map(str::to_owned),
            message: message.into(),
        };
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == LOG_LINES {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        (self.notify)(Notice::Log(line));
    }

    /// The log so far, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends a notice to the front end.
    pub fn notify(&self, notice: Notice) {
        (self.notify)(notice)
    }
}
