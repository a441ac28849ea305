//! The privileged Gatehouse service (`gatehouse daemon`).
//!
//! It owns the running tunnels and every host change (through the in-process
//! [`gatehouse_session::Engine`]: journal first, then the change; a journal left by a crash is
//! undone at start) and serves the typed messages of [`gatehouse_ipc`] on a Unix socket:
//!
//! - the socket directory is 0755, the socket 0660 owned by group `gatehouse` when it exists;
//! - each caller is checked with `SO_PEERCRED`: root, or a process whose groups (from
//!   `/proc/PID/status`) include `gatehouse`; anyone else receives an error that says how to
//!   get access, and is dropped;
//! - each client runs in its own task with bounded queues: one that stops reading is dropped,
//!   never slowing the others;
//! - SIGTERM / SIGINT disconnect every tunnel cleanly, then the socket is removed.

mod access;
mod server;

pub use access::{groups_of_pid, parse_groups, Access};
pub use server::{run, DaemonError, DaemonOptions};
