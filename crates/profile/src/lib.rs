//! WireGuard profiles for Gatehouse.
//!
//! * [`model`]: the data of a wg-quick `.conf` file ([`Config`], [`Interface`], [`Peer`]).
//! * [`key`]: 32-byte Curve25519 keys, base64 in text, secrets redacted in `Debug`.
//! * [`parse`] / [`mod@write`]: the wg-quick text format, with `file:line:col` errors.
//! * [`store`]: profiles on disk (no secrets), [`secrets`]: keys in the OS keyring or a vault.
//! * [`qr`]: QR codes in and out.

pub mod files;
pub mod key;
pub mod model;
pub mod parse;
pub mod qr;
pub mod secrets;
pub mod store;
pub mod vault;
pub mod write;

pub use key::{Key, KeyError, Secret};
pub use model::{Config, DnsEntry, Endpoint, Host, Interface, Peer, Table};
