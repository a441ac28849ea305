//! What Gatehouse changes on the host while a tunnel is up, and how it is undone.
//!
//! The caller (`gatehouse up`, later the daemon) creates the TUN device, then hands a [`HostConfig`]
//! to [`apply`]: addresses, MTU and link state, routes for the peers' AllowedIPs (the wg-quick way,
//! see [`net::Plan`]), policy rules, the `src_valid_mark` sysctl and nftables rules for a default route, and DNS.
//! Every change is recorded as an [`UndoAction`] in the returned [`Applied`], which is serde
//! serializable so a journal can undo it after a crash; [`Applied::revert`] undoes everything,
//! is idempotent and continues past individual failures. [`snapshot`] captures the host state
//! (addresses, routes of all tables, rules, resolver configuration) as a comparable value.
//!
//! # Concurrency
//!
//! The Linux implementation speaks rtnetlink, which is async: [`apply`], [`Applied::revert`] and
//! [`snapshot`] are `async fn`s that must run inside a tokio runtime (current-thread or
//! multi-thread; each call opens its own netlink socket and spawns its connection task on the
//! ambient runtime). For a synchronous context, [`Applied::revert_blocking`] runs the revert on
//! a private current-thread runtime in a helper thread.
//!
//! [`apply`] is not cancel-safe: dropping its future midway loses the record of what was already
//! changed. Let it finish (it rolls back by itself on failure), then revert.
//!
//! # Tests
//!
//! Unit tests (plan computation, scripts, serialization) run anywhere. The root tests in
//! `tests/netns.rs` apply and revert inside network namespaces they create:
//! `cargo test -p gatehouse-os --test netns` as root (skipped with a notice otherwise, failed
//! when `GATEHOUSE_E2E_REQUIRE=1`).
//!
//! # Layout
//!
//! One folder per concern ([`net`], [`firewall`], [`dns`]), each with the OS implementation chosen
//! once behind one type (`Network`, `Firewall`, `Dns`).

pub mod dns;
mod error;
pub mod firewall;
pub mod net;
mod snapshot;
mod undo;
mod util;

pub use dns::{DnsConfig, DnsMethod};
pub use error::{ApplyError, OsError, RevertError, UndoFailure};
pub use firewall::FirewallSpec;
pub use net::{Family, Plan, RouteSpec, RuleKind, RuleSpec, Table};
pub use snapshot::{snapshot, AddressEntry, RouteEntry, RuleEntry, Snapshot};
pub use undo::{Applied, UndoAction};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

/// Everything [`apply`] needs to know about one tunnel: the interface (which must exist) and what
/// the profile asks of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// Name of the existing interface (the TUN device created by the driver).
    pub interface: String,
    /// `Address`: the interface addresses, v4 and v6, with their prefix length.
    pub addresses: Vec<IpNet>,
    /// `MTU`; `None` computes it the way wg-quick does (path MTU towards the endpoints, else the
    /// default route's, minus 80; 1420 when nothing is known).
    pub mtu: Option<u32>,
    /// The `AllowedIPs` of all peers (host bits are ignored).
    pub allowed_ips: Vec<IpNet>,
    /// `Table`.
    pub table: Table,
    /// `FwMark`: the mark the driver puts on its UDP socket. With a default route and `None`,
    /// [`apply`] picks one (51820, or the next unused table) and reports it in
    /// [`Applied::fwmark`]: the driver must then mark its socket with it (`SO_MARK`).
    pub fwmark: Option<u32>,
    /// The peers' endpoint IPs (already resolved). Used for the MTU and to keep an endpoint that
    /// falls inside a routed AllowedIP reachable outside the tunnel.
    pub endpoints: Vec<IpAddr>,
    /// `DNS` servers and search domains; empty servers means DNS is left alone (as wg-quick).
    pub dns: DnsConfig,
}

/// How [`apply`] may touch the host beyond the [`HostConfig`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOptions {
    /// Where the `/etc/resolv.conf` backup is kept when DNS falls back to rewriting it; `None`
    /// keeps it next to the file (`/etc/resolv.conf.gatehouse-IFACE`).
    pub state_dir: Option<PathBuf>,
    /// Which DNS mechanism to use; [`DnsMethod::Auto`] picks systemd-resolved, then resolvconf,
    /// then the resolv.conf rewrite.
    pub dns_method: DnsMethod,
}

/// Applies `config` to the host: addresses, MTU, link up, routes, rules, sysctls, DNS.
///
/// On success the returned [`Applied`] lists every change made, in order. On failure, what was
/// already applied is reverted before returning, and the error carries any revert failure.
pub async fn apply(config: &HostConfig, options: &ApplyOptions) -> Result<Applied, ApplyError> {
    undo::apply(config, options).await
}
