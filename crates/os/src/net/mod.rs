//! Addresses, MTU, link state, routes, policy rules and the routing sysctls.
//!
//! [`Plan::compute`] decides, without touching anything, which routes and rules a configuration
//! needs; `Network` (the OS implementation, chosen once) carries it out and records undo
//! actions.

mod plan;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;
#[cfg(not(target_os = "linux"))]
#[path = "unsupported.rs"]
mod imp;

pub(crate) use imp::Network;
pub use plan::{auto_mtu, table_id_by_name, Family, Plan, RouteSpec, RuleKind, RuleSpec, Table};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The main routing table's id.
pub const MAIN_TABLE: u32 = 254;
/// The table (and fwmark) wg-quick starts from for a default route.
pub const DEFAULT_FWMARK_TABLE: u32 = 51820;
/// What wg-quick subtracts from the underlying MTU: IPv6 (40) + UDP (8) + WireGuard (32).
pub const WIREGUARD_OVERHEAD: u32 = 80;
/// The MTU used when nothing better is known (1500 − 80).
pub const FALLBACK_MTU: u32 = 1420;

/// One change to the network configuration, recorded so it can be undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NetUndo {
    /// An address was added to `interface`: delete it.
    DeleteAddress {
        /// Interface name.
        interface: String,
        /// The address with its prefix length.
        address: IpNet,
    },
    /// The link's MTU and/or up state were changed: set them back.
    RestoreLink {
        /// Interface name.
        interface: String,
        /// MTU before.
        mtu: u32,
        /// Whether it was administratively up before.
        up: bool,
    },
    /// A route was added: delete it.
    DeleteRoute {
        /// Routing table id.
        table: u32,
        /// Destination prefix.
        destination: IpNet,
        /// Output interface name, when the route names one.
        interface: Option<String>,
        /// Gateway, when the route has one.
        gateway: Option<IpAddr>,
    },
    /// A policy rule was added: delete it.
    DeleteRule(RuleSpec),
    /// A sysctl (a path under `/proc/sys`) was changed: write the old value back.
    RestoreSysctl {
        /// e.g. `net/ipv4/conf/all/src_valid_mark`.
        key: String,
        /// The value before (trimmed).
        value: String,
    },
}

impl std::fmt::Display for NetUndo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetUndo::DeleteAddress { interface, address } => {
                write!(f, "delete address {address} from {interface}")
            }
            NetUndo::RestoreLink { interface, mtu, up } => {
                let state = if *up { "up" } else { "down" };
                write!(f, "set {interface} mtu {mtu} {state}")
            }
            NetUndo::DeleteRoute {
                table,
                destination,
                interface,
                gateway,
            } => write!(
                f,
                "delete route {}",
                route_words(*table, *destination, interface.as_deref(), *gateway)
            ),
            NetUndo::DeleteRule(rule) => write!(f, "delete rule {rule}"),
            NetUndo::RestoreSysctl { key, value } => write!(f, "sysctl {key}={value}"),
        }
    }
}

/// `DEST [via GW] [dev DEV] table TABLE`, as `ip route` spells a route.
pub(crate) fn route_words(
    table: u32,
    destination: IpNet,
    dev: Option<&str>,
    gateway: Option<IpAddr>,
) -> String {
    let mut s = destination.to_string();
    if let Some(g) = gateway {
        s.push_str(&format!(" via {g}"));
    }
    if let Some(d) = dev {
        s.push_str(&format!(" dev {d}"));
    }
    s.push_str(&format!(" table {table}"));
    s
}
