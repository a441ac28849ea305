//! Gatehouse's product: the use cases both front ends share, over the library crates, and the
//! views they return. [`Backend`] holds the shared state and forwards to the module of each use
//! case:
//!
//! - [`profiles`]: import (text, QR picture), edit, export, QR, delete;
//! - [`connections`]: connect and disconnect, in the Gatehouse service or in-process without
//!   root (and the demo lab), their states and counters;
//! - [`maps`]: the VPC map (demo, Terraform file, AWS, DigitalOcean) seen from the active
//!   connection, laid out;
//! - [`scans`] and [`services`]: what a scan covers, running it, its Services rows, opening a
//!   service;
//! - [`logs`], [`notices`]: the log and what the front end must hear about;
//! - [`settings`] and [`service`]: the settings file and mode selection, the Gatehouse
//!   service's status;
//! - [`views`]: what the front ends receive (`specta::Type` with the `specta` feature).
//!
//! No module calls back into one that calls it: the connections are asked for what the others
//! need (the active profile and its configuration, a connection's no-root stack) and that is
//! passed down as arguments.

pub mod backend;
pub mod connections;
pub mod demo;
pub mod logs;
pub mod maps;
pub mod notices;
pub mod profiles;
pub mod scans;
pub mod service;
pub mod services;
pub mod settings;
pub mod views;

pub use backend::{Backend, BackendOptions};
pub use demo::DEMO;
pub use notices::Notice;
pub use views::AppError;
