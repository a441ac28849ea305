//! A comparable picture of what this crate touches on the host.

use crate::dns::Dns;
use crate::firewall::Firewall;
use crate::net::{Family, Network};
use crate::OsError;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An interface address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddressEntry {
    /// Interface name.
    pub interface: String,
    /// Address with prefix length.
    pub address: IpNet,
}

/// A route, from any table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RouteEntry {
    /// Routing table id.
    pub table: u32,
    /// Destination prefix (`0.0.0.0/0` / `::/0` for a default route).
    pub destination: IpNet,
    /// Gateway.
    pub gateway: Option<IpAddr>,
    /// Output interface name.
    pub interface: Option<String>,
    /// Preferred source address.
    pub preferred_source: Option<IpAddr>,
    /// Metric.
    pub metric: Option<u32>,
    /// Route type (`Unicast`, `Local`, `Broadcast`, …).
    pub kind: String,
    /// Origin (`Kernel`, `Boot`, `Static`, …).
    pub protocol: String,
    /// Scope (`Universe`, `Link`, `Host`).
    pub scope: String,
}

/// A policy routing rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleEntry {
    /// IPv4 or IPv6 rule set.
    pub family: Family,
    /// Priority (`pref`).
    pub priority: u32,
    /// Table looked up.
    pub table: u32,
    /// `not`.
    pub invert: bool,
    /// `fwmark`.
    pub fwmark: Option<u32>,
    /// `suppress_prefixlength`.
    pub suppress_prefixlen: Option<u32>,
    /// Action (`ToTable`, `Unreachable`, …).
    pub action: String,
    /// Any other selector, as debug text.
    pub other: String,
}

/// Addresses, routes of all tables, rules (v4 and v6), nftables tables and resolver configuration,
/// sorted, so two
/// snapshots compare equal when the host is in the same state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// All interface addresses.
    pub addresses: Vec<AddressEntry>,
    /// All routes of all tables, v4 and v6.
    pub routes: Vec<RouteEntry>,
    /// All policy rules, v4 and v6.
    pub rules: Vec<RuleEntry>,
    /// `nft list tables`, sorted (`None` without nft).
    pub nft_tables: Option<Vec<String>>,
    /// The content of `/etc/resolv.conf` (`None` when absent).
    pub resolv_conf: Option<String>,
    /// systemd-resolved's per-link servers and domains, when it runs.
    pub resolved: Option<String>,
}

impl Snapshot {
    /// Human-readable differences from `other` (`-` only in self, `+` only in other); empty when
    /// equal.
    pub fn diff(&self, other: &Snapshot) -> Vec<String> {
        fn side<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, a: &[T], b: &[T]) {
            for x in a.iter().filter(|x| !b.contains(x)) {
                out.push(format!("- {x:?}"));
            }
            for x in b.iter().filter(|x| !a.contains(x)) {
                out.push(format!("+ {x:?}"));
            }
        }
        let mut out = Vec::new();
        side(&mut out, &self.addresses, &other.addresses);
        side(&mut out, &self.routes, &other.routes);
        side(&mut out, &self.rules, &other.rules);
        if self.nft_tables != other.nft_tables {
            out.push(format!(
                "nft tables: {:?} -> {:?}",
                self.nft_tables, other.nft_tables
            ));
        }
        if self.resolv_conf != other.resolv_conf {
            out.push(format!(
                "resolv.conf: {:?} -> {:?}",
                self.resolv_conf, other.resolv_conf
            ));
        }
        if self.resolved != other.resolved {
            out.push(format!(
                "resolved: {:?} -> {:?}",
                self.resolved, other.resolved
            ));
        }
        out
    }
}

/// Captures the current state of everything [`crate::apply`] may change.
pub async fn snapshot() -> Result<Snapshot, OsError> {
    let net = Network::open()?;
    let mut snap = Snapshot {
        addresses: net.addresses().await?,
        routes: net.route_entries().await?,
        rules: net.rule_entries().await?,
        nft_tables: Firewall::tables().await,
        resolv_conf: Dns::resolv_conf_content()?,
        resolved: Dns::resolved_state().await,
    };
    snap.addresses.sort();
    snap.routes.sort();
    snap.rules.sort();
    Ok(snap)
}
