//! Errors of this crate.

use crate::UndoAction;
use std::path::PathBuf;

/// One host operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// A netlink request was refused; `what` is the operation in `ip` syntax.
    #[error("{what}: {message}")]
    Netlink {
        /// The operation, e.g. `ip -4 route add 10.0.0.0/8 dev wg0 table 254`.
        what: String,
        /// The kernel's answer.
        message: String,
    },
    /// The interface named in the configuration does not exist.
    #[error("interface {0:?} does not exist")]
    NoSuchInterface(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An external command (resolvectl, resolvconf) failed or could not start.
    #[error("{command}: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and stderr, or why it did not start.
        detail: String,
    },
    /// The configuration asks for something this host cannot do.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// Not implemented on this operating system yet.
    #[error("not supported on this operating system")]
    Unsupported,
}

/// One undo action that failed during a revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoFailure {
    /// The action that failed (it can be retried, e.g. from a journal).
    pub action: UndoAction,
    /// Why.
    pub error: String,
}

impl std::fmt::Display for UndoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.action, self.error)
    }
}

/// [`crate::apply`] failed; what had been applied was reverted (except `rollback_failures`).
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", rollback_note(rollback_failures))]
pub struct ApplyError {
    /// The step that failed.
    #[source]
    pub error: OsError,
    /// Undo actions of the partial apply that could not be reverted.
    pub rollback_failures: Vec<UndoFailure>,
}

fn rollback_note(failures: &[UndoFailure]) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = failures.iter().map(ToString::to_string).collect();
        format!(" (and rolling back failed: {})", list.join("; "))
    }
}

/// [`crate::Applied::revert`] could not undo everything; all other actions were undone.
#[derive(Debug, thiserror::Error)]
#[error("revert incomplete: {}", list(failures))]
pub struct RevertError {
    /// The actions that failed, in the order they were tried.
    pub failures: Vec<UndoFailure>,
}

fn list(failures: &[UndoFailure]) -> String {
    let list: Vec<String> = failures.iter().map(ToString::to_string).collect();
    list.join("; ")
}
