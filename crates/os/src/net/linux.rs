//! Linux: rtnetlink for addresses, links, routes and rules; `/proc/sys` for sysctls.

use super::{auto_mtu, route_words, Family, NetUndo, Plan, RuleKind, RuleSpec, Table, MAIN_TABLE};
use crate::snapshot::{AddressEntry, RouteEntry, RuleEntry};
use crate::{HostConfig, OsError, UndoAction};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol,
    RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, IpVersion, LinkUnspec};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

const SRC_VALID_MARK: &str = "net/ipv4/conf/all/src_valid_mark";

/// An rtnetlink connection (its task runs on the ambient tokio runtime until dropped).
pub(crate) struct Network {
    handle: Handle,
}

struct Link {
    index: u32,
    mtu: u32,
    up: bool,
}

/// The positive errno of a netlink error, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn nl_err(what: impl Into<String>, e: rtnetlink::Error) -> OsError {
    let message = match errno(&e) {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.to_string(),
    };
    OsError::Netlink {
        what: what.into(),
        message,
    }
}

fn family_af(f: Family) -> AddressFamily {
    match f {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn family_of_ip(ip: &IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn route_table(m: &RouteMessage) -> u32 {
    m.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table))
}

fn route_destination(m: &RouteMessage) -> Option<IpNet> {
    let len = m.header.destination_prefix_length;
    let ip = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Destination(d) => route_ip(d),
            _ => None,
        })
        .or(match m.header.address_family {
            AddressFamily::Inet => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            AddressFamily::Inet6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            _ => None,
        })?;
    IpNet::new(ip, len).ok()
}

fn route_oif(m: &RouteMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        _ => None,
    })
}

fn route_gateway(m: &RouteMessage) -> Option<IpAddr> {
    m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => route_ip(g),
        _ => None,
    })
}

fn route_mtu(m: &RouteMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Metrics(ms) => ms.iter().find_map(|x| match x {
            RouteMetric::Mtu(v) if *v > 0 => Some(*v),
            _ => None,
        }),
        _ => None,
    })
}

/// A route message naming `destination` in `table`, as `ip route` builds it.
fn route_message(
    table: u32,
    destination: IpNet,
    oif: Option<u32>,
    gateway: Option<IpAddr>,
) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_af(Family::of(&destination));
    m.header.destination_prefix_length = destination.prefix_len();
    m.header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.attributes.push(RouteAttribute::Table(table));
    m.attributes
        .push(RouteAttribute::Destination(destination.network().into()));
    if let Some(i) = oif {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(g) = gateway {
        m.attributes.push(RouteAttribute::Gateway(g.into()));
    }
    m
}

fn route_text(
    verb: &str,
    table: u32,
    dest: IpNet,
    dev: Option<&str>,
    gw: Option<IpAddr>,
) -> String {
    let words = route_words(table, dest, dev, gw);
    format!("ip {} route {verb} {words}", Family::of(&dest))
}

fn rule_message(rule: &RuleSpec) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = family_af(rule.family);
    m.header.action = RuleAction::ToTable;
    let table = match rule.kind {
        RuleKind::NotFwmark { fwmark, table } => {
            m.header.flags = RuleFlags::Invert;
            m.attributes.push(RuleAttribute::FwMark(fwmark));
            table
        }
        RuleKind::SuppressMainDefault => {
            m.attributes.push(RuleAttribute::SuppressPrefixLen(0));
            MAIN_TABLE
        }
    };
    m.header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.attributes.push(RuleAttribute::Table(table));
    m
}

fn sysctl_path(key: &str) -> std::path::PathBuf {
    std::path::Path::new("/proc/sys").join(key)
}

fn read_sysctl(key: &str) -> Result<String, OsError> {
    let path = sysctl_path(key);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|source| OsError::Io { path, source })
}

fn write_sysctl(key: &str, value: &str) -> Result<(), OsError> {
    let path = sysctl_path(key);
    std::fs::write(&path, format!("{value}\n")).map_err(|source| OsError::Io { path, source })
}

impl Network {
    /// Opens an rtnetlink socket; its connection task is spawned on the current tokio runtime.
    pub(crate) fn open() -> Result<Network, OsError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|e| OsError::Netlink {
            what: "open rtnetlink socket".into(),
            message: format!("needs a tokio runtime: {e}"),
        })?;
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| OsError::Netlink {
            what: "open rtnetlink socket".into(),
            message: e.to_string(),
        })?;
        rt.spawn(conn);
        Ok(Network { handle })
    }

    /// The plan for `config`, asking the kernel which tables are in use when it must pick one.
    pub(crate) async fn plan(&self, config: &HostConfig) -> Result<Plan, OsError> {
        let must_pick = config.table == Table::Auto
            && config.fwmark.is_none()
            && config.allowed_ips.iter().any(|n| n.prefix_len() == 0);
        let mut used = BTreeSet::new();
        if must_pick {
            for f in [Family::V4, Family::V6] {
                for r in self.routes(f).await? {
                    used.insert(route_table(&r));
                }
            }
        }
        Ok(Plan::compute(config, |t| used.contains(&t)))
    }

    async fn link_by_name(&self, name: &str) -> Result<Option<Link>, OsError> {
        let mut req = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match req.try_next().await {
            Ok(Some(m)) => Ok(Some(link_of(&m))),
            Ok(None) => Ok(None),
            Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(None),
            Err(e) => Err(nl_err(format!("ip link show {name}"), e)),
        }
    }

    async fn link_names(&self) -> Result<HashMap<u32, String>, OsError> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err("ip link show", e))?;
        Ok(links
            .iter()
            .filter_map(|m| {
                m.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some((m.header.index, n.clone())),
                    _ => None,
                })
            })
            .collect())
    }

    async fn link_mtu(&self, index: u32) -> Option<u32> {
        let mut req = self.handle.link().get().match_index(index).execute();
        match req.try_next().await {
            Ok(Some(m)) => Some(link_of(&m).mtu),
            _ => None,
        }
    }

    async fn routes(&self, family: Family) -> Result<Vec<RouteMessage>, OsError> {
        let mut m = RouteMessage::default();
        m.header.address_family = family_af(family);
        self.handle
            .route()
            .get(m)
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err(format!("ip {family} route show table all"), e))
    }

    /// `ip route get IP`: the route the kernel uses towards `ip` right now.
    async fn route_get(&self, ip: IpAddr) -> Result<Option<RouteMessage>, OsError> {
        let dest = IpNet::from(ip);
        let mut m = RouteMessage::default();
        m.header.address_family = family_af(family_of_ip(&ip));
        m.header.destination_prefix_length = dest.prefix_len();
        m.attributes.push(RouteAttribute::Destination(ip.into()));
        match self.handle.route().get(m).execute().try_next().await {
            Ok(r) => Ok(r),
            Err(e) if errno(&e).is_some() => Ok(None),
            Err(e) => Err(nl_err(format!("ip route get {ip}"), e)),
        }
    }

    /// The MTU wg-quick would pick: path MTU towards the endpoints, else the v4 default
    /// route's, minus the WireGuard overhead.
    async fn compute_mtu(&self, endpoints: &[IpAddr]) -> Result<u32, OsError> {
        let mut mtus = Vec::new();
        for ep in endpoints {
            if let Some(r) = self.route_get(*ep).await? {
                mtus.extend(self.path_mtu(&r).await);
            }
        }
        if mtus.is_empty() {
            let default = self.routes(Family::V4).await?.into_iter().find(|r| {
                route_table(r) == MAIN_TABLE
                    && r.header.destination_prefix_length == 0
                    && r.header.kind == RouteType::Unicast
            });
            if let Some(r) = default {
                mtus.extend(self.path_mtu(&r).await);
            }
        }
        Ok(auto_mtu(mtus))
    }

    async fn path_mtu(&self, r: &RouteMessage) -> Option<u32> {
        match route_mtu(r) {
            Some(m) => Some(m),
            None => match route_oif(r) {
                Some(i) => self.link_mtu(i).await,
                None => None,
            },
        }
    }

    /// Applies the plan to `config.interface`, recording each change in `actions` before or as
    /// it is made. Returns the MTU set.
    pub(crate) async fn apply(
        &self,
        config: &HostConfig,
        plan: &Plan,
        actions: &mut Vec<UndoAction>,
    ) -> Result<u32, OsError> {
        let iface = config.interface.as_str();
        let link = self
            .link_by_name(iface)
            .await?
            .ok_or_else(|| OsError::NoSuchInterface(iface.to_string()))?;

        for addr in &plan.addresses {
            let req = self
                .handle
                .address()
                .add(link.index, addr.addr(), addr.prefix_len());
            match req.execute().await {
                Ok(()) => actions.push(UndoAction::Net(NetUndo::DeleteAddress {
                    interface: iface.to_string(),
                    address: *addr,
                })),
                Err(e) if errno(&e) == Some(EEXIST) => {
                    tracing::debug!(%addr, iface, "address already present");
                }
                Err(e) => {
                    return Err(nl_err(
                        format!("ip {} address add {addr} dev {iface}", Family::of(addr)),
                        e,
                    ))
                }
            }
        }

        let mtu = match plan.mtu {
            Some(m) => m,
            None => self.compute_mtu(&config.endpoints).await?,
        };
        if link.mtu != mtu || !link.up {
            actions.push(UndoAction::Net(NetUndo::RestoreLink {
                interface: iface.to_string(),
                mtu: link.mtu,
                up: link.up,
            }));
            let msg = LinkUnspec::new_with_index(link.index).mtu(mtu).up().build();
            self.handle
                .link()
                .set(msg)
                .execute()
                .await
                .map_err(|e| nl_err(format!("ip link set mtu {mtu} up dev {iface}"), e))?;
        }

        // Endpoints inside a routed prefix keep their current path through a host route.
        let names = if plan.endpoint_bypass.is_empty() {
            HashMap::new()
        } else {
            self.link_names().await?
        };
        for ep in &plan.endpoint_bypass {
            let Some(current) = self.route_get(*ep).await? else {
                tracing::warn!(endpoint = %ep, "no route to the endpoint; no bypass route added");
                continue;
            };
            let oif = route_oif(&current);
            if oif == Some(link.index) || oif.is_none() {
                continue;
            }
            let gateway = route_gateway(&current);
            let dest = IpNet::from(*ep);
            let dev = oif.and_then(|i| names.get(&i).cloned());
            let text = route_text("add", MAIN_TABLE, dest, dev.as_deref(), gateway);
            let msg = bypass_message(route_message(MAIN_TABLE, dest, oif, gateway), gateway);
            match self.handle.route().add(msg).execute().await {
                Ok(()) => actions.push(UndoAction::Net(NetUndo::DeleteRoute {
                    table: MAIN_TABLE,
                    destination: dest,
                    interface: dev,
                    gateway,
                })),
                Err(e) if errno(&e) == Some(EEXIST) => {
                    tracing::debug!(endpoint = %ep, "a host route to the endpoint exists");
                }
                Err(e) => return Err(nl_err(text, e)),
            }
        }

        // Routes the kernel already has on this interface (prefix routes of the addresses)
        // cover what they contain, as wg-quick's `ip route show dev IF match PREFIX` check.
        let mut existing: Vec<(u32, IpNet)> = Vec::new();
        if !plan.routes.is_empty() {
            for f in [Family::V4, Family::V6] {
                for r in self.routes(f).await? {
                    if route_oif(&r) == Some(link.index) {
                        if let Some(d) = route_destination(&r) {
                            existing.push((route_table(&r), d));
                        }
                    }
                }
            }
        }
        for r in &plan.routes {
            if existing
                .iter()
                .any(|(t, d)| *t == r.table && d.contains(&r.destination))
            {
                continue;
            }
            let mut msg = route_message(r.table, r.destination, Some(link.index), None);
            msg.header.protocol = RouteProtocol::Boot;
            msg.header.kind = RouteType::Unicast;
            msg.header.scope = match r.destination {
                IpNet::V4(_) => RouteScope::Link,
                IpNet::V6(_) => RouteScope::Universe,
            };
            self.handle.route().add(msg).execute().await.map_err(|e| {
                nl_err(
                    route_text("add", r.table, r.destination, Some(iface), None),
                    e,
                )
            })?;
            actions.push(UndoAction::Net(NetUndo::DeleteRoute {
                table: r.table,
                destination: r.destination,
                interface: Some(iface.to_string()),
                gateway: None,
            }));
        }

        for rule in &plan.rules {
            let mut req = self.handle.rule().add();
            *req.message_mut() = rule_message(rule);
            req.execute()
                .await
                .map_err(|e| nl_err(format!("ip rule add {rule}"), e))?;
            actions.push(UndoAction::Net(NetUndo::DeleteRule(*rule)));
        }

        if plan.src_valid_mark {
            let old = read_sysctl(SRC_VALID_MARK)?;
            if old != "1" {
                actions.push(UndoAction::Net(NetUndo::RestoreSysctl {
                    key: SRC_VALID_MARK.to_string(),
                    value: old,
                }));
                write_sysctl(SRC_VALID_MARK, "1")?;
            }
        }
        Ok(mtu)
    }

    /// Undoes one action; what is already gone counts as undone.
    pub(crate) async fn undo(&self, action: &NetUndo) -> Result<(), OsError> {
        match action {
            NetUndo::DeleteAddress { interface, address } => {
                let Some(link) = self.link_by_name(interface).await? else {
                    return Ok(());
                };
                let mut m = AddressMessage::default();
                m.header.family = family_af(Family::of(address));
                m.header.prefix_len = address.prefix_len();
                m.header.index = link.index;
                m.attributes.push(AddressAttribute::Local(address.addr()));
                m.attributes.push(AddressAttribute::Address(address.addr()));
                match self.handle.address().del(m).execute().await {
                    Ok(()) => Ok(()),
                    Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENOENT | ENODEV)) => Ok(()),
                    Err(e) => Err(nl_err(
                        format!("ip address del {address} dev {interface}"),
                        e,
                    )),
                }
            }
            NetUndo::RestoreLink { interface, mtu, up } => {
                let Some(link) = self.link_by_name(interface).await? else {
                    return Ok(());
                };
                let b = LinkUnspec::new_with_index(link.index).mtu(*mtu);
                let msg = if *up { b.up() } else { b.down() }.build();
                match self.handle.link().set(msg).execute().await {
                    Ok(()) => Ok(()),
                    Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
                    Err(e) => Err(nl_err(format!("ip link set {interface} mtu {mtu}"), e)),
                }
            }
            NetUndo::DeleteRoute {
                table,
                destination,
                interface,
                gateway,
            } => {
                let oif = match interface {
                    Some(name) => match self.link_by_name(name).await? {
                        Some(l) => Some(l.index),
                        // The link is gone, and its routes with it.
                        None => return Ok(()),
                    },
                    None => None,
                };
                let mut msg = route_message(*table, *destination, oif, *gateway);
                msg.header.scope = RouteScope::NoWhere;
                match self.handle.route().del(msg).execute().await {
                    Ok(()) => Ok(()),
                    Err(e) if matches!(errno(&e), Some(ESRCH | ENOENT | ENODEV)) => Ok(()),
                    Err(e) => Err(nl_err(
                        route_text("del", *table, *destination, interface.as_deref(), *gateway),
                        e,
                    )),
                }
            }
            NetUndo::DeleteRule(rule) => {
                let msg = rule_message(rule);
                match self.handle.rule().del(msg).execute().await {
                    Ok(()) => Ok(()),
                    Err(e) if matches!(errno(&e), Some(ENOENT | ESRCH)) => Ok(()),
                    Err(e) => Err(nl_err(format!("ip rule del {rule}"), e)),
                }
            }
            NetUndo::RestoreSysctl { key, value } => {
                if key.contains("..") || key.starts_with('/') {
                    return Err(OsError::Invalid(format!("sysctl key {key:?}")));
                }
                write_sysctl(key, value)
            }
        }
    }

    /// All interface addresses.
    pub(crate) async fn addresses(&self) -> Result<Vec<AddressEntry>, OsError> {
        let names = self.link_names().await?;
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err("ip address show", e))?;
        Ok(msgs
            .iter()
            .filter_map(|m| {
                let ip = m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        AddressAttribute::Local(ip) => Some(*ip),
                        _ => None,
                    })
                    .or_else(|| {
                        m.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    })?;
                Some(AddressEntry {
                    interface: names
                        .get(&m.header.index)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", m.header.index)),
                    address: IpNet::new(ip, m.header.prefix_len).ok()?,
                })
            })
            .collect())
    }

    /// All routes of all tables, v4 and v6.
    pub(crate) async fn route_entries(&self) -> Result<Vec<RouteEntry>, OsError> {
        let names = self.link_names().await?;
        let mut out = Vec::new();
        for f in [Family::V4, Family::V6] {
            for r in self.routes(f).await? {
                let Some(destination) = route_destination(&r) else {
                    continue;
                };
                out.push(RouteEntry {
                    table: route_table(&r),
                    destination,
                    gateway: route_gateway(&r),
                    interface: route_oif(&r)
                        .map(|i| names.get(&i).cloned().unwrap_or_else(|| format!("#{i}"))),
                    preferred_source: r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::PrefSource(s) => route_ip(s),
                        _ => None,
                    }),
                    metric: r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Priority(p) => Some(*p),
                        _ => None,
                    }),
                    kind: format!("{:?}", r.header.kind),
                    protocol: format!("{:?}", r.header.protocol),
                    scope: format!("{:?}", r.header.scope),
                });
            }
        }
        Ok(out)
    }

    /// All policy rules, v4 and v6.
    pub(crate) async fn rule_entries(&self) -> Result<Vec<RuleEntry>, OsError> {
        let mut out = Vec::new();
        for (f, v) in [(Family::V4, IpVersion::V4), (Family::V6, IpVersion::V6)] {
            let msgs: Vec<RuleMessage> = self
                .handle
                .rule()
                .get(v)
                .execute()
                .try_collect()
                .await
                .map_err(|e| nl_err(format!("ip {f} rule show"), e))?;
            for m in msgs {
                let mut e = RuleEntry {
                    family: f,
                    priority: 0,
                    table: u32::from(m.header.table),
                    invert: m.header.flags.contains(RuleFlags::Invert),
                    fwmark: None,
                    suppress_prefixlen: None,
                    action: format!("{:?}", m.header.action),
                    other: String::new(),
                };
                let mut other = Vec::new();
                for a in &m.attributes {
                    match a {
                        RuleAttribute::Priority(p) => e.priority = *p,
                        RuleAttribute::Table(t) => e.table = *t,
                        RuleAttribute::FwMark(x) => e.fwmark = Some(*x),
                        RuleAttribute::SuppressPrefixLen(x) => {
                            // u32::MAX is the kernel's "not set".
                            if *x != u32::MAX {
                                e.suppress_prefixlen = Some(*x)
                            }
                        }
                        RuleAttribute::FwMask(_) => {}
                        a => other.push(format!("{a:?}")),
                    }
                }
                e.other = other.join(" ");
                out.push(e);
            }
        }
        Ok(out)
    }
}

fn link_of(m: &LinkMessage) -> Link {
    Link {
        index: m.header.index,
        mtu: m
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Mtu(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(0),
        up: m.header.flags.contains(LinkFlags::Up),
    }
}

/// A host route via the endpoint's current path: `ip route add EP via GW dev DEV`.
fn bypass_message(mut msg: RouteMessage, gateway: Option<IpAddr>) -> RouteMessage {
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.kind = RouteType::Unicast;
    msg.header.scope = if gateway.is_some() || msg.header.address_family == AddressFamily::Inet6 {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    msg
}
