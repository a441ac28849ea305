//! The data of a wg-quick `.conf` file: everything wg-quick(8) and wg(8) accept.
//!
//! Values are kept as written where the format allows several spellings of the same thing
//! (an `AllowedIPs` entry keeps its host bits, as wg(8) accepts them), so that
//! `parse(write(p)) == p` holds for every profile.

use crate::key::{Key, Secret};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// A whole wg-quick configuration: one `[Interface]` and any number of `[Peer]`s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The `[Interface]` section.
    pub interface: Interface,
    /// The `[Peer]` sections, in file order. Public keys are unique.
    pub peers: Vec<Peer>,
}

/// The `[Interface]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// `PrivateKey`; absent in server files that set it from a `PostUp` command.
    pub private_key: Option<Secret>,
    /// `ListenPort`.
    pub listen_port: Option<u16>,
    /// `FwMark` (`off` or absent is `None`).
    pub fwmark: Option<u32>,
    /// `Address`, repeated or comma separated; a bare IP is a /32 or /128.
    pub addresses: Vec<IpNet>,
    /// `DNS`: servers and search domains, in order.
    pub dns: Vec<DnsEntry>,
    /// `MTU`.
    pub mtu: Option<u16>,
    /// `Table`.
    pub table: Option<Table>,
    /// `PreUp` commands, in order. Never run unless the user enables hooks for the profile.
    pub pre_up: Vec<String>,
    /// `PostUp` commands.
    pub post_up: Vec<String>,
    /// `PreDown` commands.
    pub pre_down: Vec<String>,
    /// `PostDown` commands.
    pub post_down: Vec<String>,
    /// `SaveConfig`.
    pub save_config: Option<bool>,
}

impl Interface {
    /// True when the file carries any `PreUp`/`PostUp`/`PreDown`/`PostDown` command.
    pub fn has_hooks(&self) -> bool {
        !(self.pre_up.is_empty()
            && self.post_up.is_empty()
            && self.pre_down.is_empty()
            && self.post_down.is_empty())
    }
}

/// One `DNS` entry: wg-quick treats an IP as a server and anything else as a search domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DnsEntry {
    /// A resolver address.
    Server(IpAddr),
    /// A search domain.
    Search(String),
}

impl fmt::Display for DnsEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsEntry::Server(ip) => write!(f, "{ip}"),
            DnsEntry::Search(d) => f.write_str(d),
        }
    }
}

/// `Table`: which routing table wg-quick puts the AllowedIPs routes in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Table {
    /// `auto` (the default): main table, or fwmark + own table for a default route.
    Auto,
    /// `off`: no routes at all.
    Off,
    /// A numeric table id.
    Id(u32),
    /// A table name from `/etc/iproute2/rt_tables`.
    Named(String),
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Table::Auto => f.write_str("auto"),
            Table::Off => f.write_str("off"),
            Table::Id(n) => write!(f, "{n}"),
            Table::Named(s) => f.write_str(s),
        }
    }
}

/// One `[Peer]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// `PublicKey` (required).
    pub public_key: Key,
    /// `PresharedKey`.
    pub preshared_key: Option<Secret>,
    /// `AllowedIPs`, repeated or comma separated, as written (host bits kept).
    pub allowed_ips: Vec<IpNet>,
    /// `Endpoint`.
    pub endpoint: Option<Endpoint>,
    /// `PersistentKeepalive` in seconds (`off` or absent is `None`).
    pub persistent_keepalive: Option<u16>,
}

/// An `Endpoint`: a host (IP or name) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The host.
    pub host: Host,
    /// The UDP port.
    pub port: u16,
}

/// The host part of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal address.
    Ip(IpAddr),
    /// A DNS name, resolved at connect time.
    Name(String),
}

impl Endpoint {
    /// The endpoint's address when it is a literal one (not a name).
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.host {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(n) => write!(f, "{n}:{}", self.port),
        }
    }
}
