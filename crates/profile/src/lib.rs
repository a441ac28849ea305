//! WireGuard profiles for Gatehouse.
//!
//! * [`model`]: the data of a wg-quick `.conf` file ([`Config`], [`Interface`], [`Peer`]).
//! * [`Key`] / [`Secret`]: 32-byte Curve25519 keys, base64 in text, secrets redacted in `Debug`.

pub mod key;
pub mod model;

pub use key::{Key, KeyError, Secret};
pub use model::{Config, DnsEntry, Endpoint, Host, Interface, Peer, Table};
