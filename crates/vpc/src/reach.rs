//! Reachability: can the laptop, through the active tunnel, open `host:port` in the VPC — and if
//! not, why not.
//!
//! A verdict walks the path a connection takes and records one [`Finding`] per step:
//!
//! 1. **Tunnel**: which peer's AllowedIPs carry the address (WireGuard picks the longest prefix
//!    across peers), or which of the laptop's own routes shadows it (a home LAN on the same range:
//!    a more specific route wins; with a full tunnel, wg-quick's rule keeps every main-table route
//!    but the default one). A managed service without a known address (an RDS database known by
//!    its endpoint name) is checked as anywhere in its subnets: every subnet's range must go into
//!    the tunnel, and each later step is checked per subnet (blocked when blocked in all of them,
//!    unknown when they differ).
//! 2. **VPC**: whether the traffic gets to the target's VPC and replies come back. Another VPC is
//!    reached through a transit gateway (the VPN host subnet's route, the gateway's route tables
//!    both ways) or a peering (routes both ways). Within the VPC, either the VPN host NATs
//!    (traffic arrives from its own private address), or the target subnet's route table (its
//!    explicit association, else the VPC's main table) sends the tunnel's addresses to the VPN
//!    host, and the VPN host forwards (AWS source/dest check off, GCP `can_ip_forward`).
//! 3. **Network ACLs** (stateless, at subnet boundaries): the target subnet's inbound rules for the
//!    traffic and outbound rules for the replies on the client's ephemeral ports, and the VPN host
//!    subnet's outbound and reply-inbound rules when it is another subnet.
//! 4. **Rules**: whether the target's security groups / cloud firewalls / Azure NSGs admit the
//!    traffic as it arrives (the client's tunnel address, or the VPN host's when NATed — then
//!    group, tag and droplet references to the VPN host count), and whether the VPN host's egress
//!    rules let it out. Each kind has its own semantics: security groups and DigitalOcean
//!    firewalls allow only, GCP rules and NSGs decide by priority.
//! 5. **Probe**: the last live probe, when there is one, has the final word on whether anything
//!    answers.
//!
//! The verdict is [`Status::Blocked`] when a step blocks, [`Status::Unknown`] when a step cannot
//! tell, else [`Status::Reachable`]; [`Verdict::sentence`] says why in one plain sentence, from
//! the first finding that decided it.

mod code;
mod nacl;
mod nsg;
mod routes;
mod rules;
mod service;
mod transit;
mod tunnel;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::*;

pub use code::{Code, Hop};

/// One WireGuard peer of the active profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TunnelPeer {
    /// How to call it in sentences (the profile name, or the peer's key abbreviated).
    pub name: String,
    /// Its endpoint address, when it is an address.
    #[serde(default)]
    pub endpoint: Option<IpAddr>,
    /// Its AllowedIPs.
    pub allowed_ips: Vec<IpNet>,
}

/// A route of the laptop outside the tunnel (`ip route` of the main table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalRoute {
    /// Destination.
    pub destination: IpNet,
    /// Interface.
    pub device: String,
}

/// The laptop's side: the active profile and the host's own routes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tunnel {
    /// The interface's addresses (`Address =`).
    pub addresses: Vec<IpNet>,
    /// The peers.
    pub peers: Vec<TunnelPeer>,
    /// The laptop's routes outside the tunnel (leave out the tunnel's own).
    #[serde(default)]
    pub local_routes: Vec<LocalRoute>,
}

impl Tunnel {
    /// The tunnel of a WireGuard interface with these addresses and peers (each its endpoint
    /// address, when it is one, and its AllowedIPs), named `label` in sentences (`label#1`,
    /// `label#2`… when there are several). No local routes: add them when known.
    pub fn of_interface(
        addresses: Vec<IpNet>,
        peers: impl IntoIterator<Item = (Option<IpAddr>, Vec<IpNet>)>,
        label: &str,
    ) -> Tunnel {
        let peers: Vec<(Option<IpAddr>, Vec<IpNet>)> = peers.into_iter().collect();
        let many = peers.len() > 1;
        Tunnel {
            addresses,
            peers: peers
                .into_iter()
                .enumerate()
                .map(|(i, (endpoint, allowed_ips))| TunnelPeer {
                    name: if many {
                        format!("{label}#{}", i + 1)
                    } else {
                        label.to_owned()
                    },
                    endpoint,
                    allowed_ips,
                })
                .collect(),
            local_routes: Vec::new(),
        }
    }

    /// The tunnel address traffic to `target` leaves with (same family, first one).
    pub fn source_for(&self, target: IpAddr) -> Option<IpAddr> {
        self.addresses
            .iter()
            .map(|n| n.addr())
            .find(|a| a.is_ipv4() == target.is_ipv4())
    }
}

/// What the caller knows about the VPN host (the WireGuard server inside the VPC).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VpnHint {
    /// The host: id, name or address. Found from the peers' endpoints or the route tables when
    /// absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Whether it masquerades VPN traffic behind its own address. When absent, the host tag
    /// `gatehouse:nat` (`true`/`false`) decides, else routed (no NAT) is checked and an absent
    /// return route reads as "unknown" instead of "blocked".
    #[serde(default)]
    pub nat: Option<bool>,
}

/// A live probe result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Host id.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Whether it answered.
    pub open: bool,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every step lets the traffic through.
    Reachable,
    /// A step stops it.
    Blocked,
    /// A step cannot tell from what is known.
    Unknown,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Reachable => "reachable",
            Status::Blocked => "blocked",
            Status::Unknown => "unknown",
        })
    }
}

/// One step's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub code: Code,
    /// What it means for the traffic.
    pub status: Status,
    /// The plain-language detail (the second half of a sentence).
    pub detail: String,
}

/// The verdict for one host and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Host id (or the name asked for when it is not in the topology).
    pub host: String,
    /// Display name.
    pub name: String,
    /// The address checked.
    pub address: Option<IpAddr>,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Outcome.
    pub status: Status,
    /// The source address the target sees (tunnel address, or the VPN host's when NATed).
    pub arrives_from: Option<IpAddr>,
    /// Every finding, in path order.
    pub findings: Vec<Finding>,
    /// One plain sentence.
    pub sentence: String,
}

impl Verdict {
    /// The codes of the findings, in order.
    pub fn codes(&self) -> Vec<Code> {
        self.findings.iter().map(|f| f.code).collect()
    }

    /// Whether a finding with this code is present.
    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// Everything a reachability check reads.
#[derive(Debug, Clone, Copy)]
pub struct Analyzer<'a> {
    topo: &'a Topology,
    tunnel: Option<&'a Tunnel>,
    vpn_hint: &'a VpnHint,
    probes: &'a [Probe],
}

/// A target: a host, or a load balancer seen as one.
type Target = Host;

fn lb_as_host(lb: &LoadBalancer) -> Target {
    Host {
        id: lb.id.clone(),
        name: lb.name.clone(),
        provider: lb.provider,
        vpc: lb.vpc.clone(),
        subnet: lb.subnets.first().cloned(),
        zone: lb.region.clone(),
        private_ips: lb.ip.into_iter().collect(),
        security_groups: lb.security_groups.clone(),
        ..Default::default()
    }
}

/// One end of the traffic: an address, or a range it lies somewhere in (a managed service known
/// only by its subnets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    /// This address.
    Ip(IpAddr),
    /// Somewhere in this range.
    Range(IpNet),
}

impl Addr {
    /// Whether all of it is in `net`.
    fn within(&self, net: &IpNet) -> bool {
        match self {
            Addr::Ip(a) => net.contains(a),
            Addr::Range(r) => net.contains(r),
        }
    }

    /// An address of it (the range's network address), for family and source choices.
    fn ip(&self) -> IpAddr {
        match self {
            Addr::Ip(a) => *a,
            Addr::Range(r) => r.network(),
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(a: IpAddr) -> Addr {
        Addr::Ip(a)
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(a) => a.fmt(f),
            Addr::Range(r) => r.fmt(f),
        }
    }
}

/// Whether the cross-VPC step lets the walk go on, and whether it checked the way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crossing {
    /// Same VPC (or a VPC unknown): the return route is the subnet's.
    SameVpc,
    /// Another VPC, the way back checked (or not checkable) by the crossing itself.
    Crossed,
    /// Another VPC with no way there: stop.
    Stop,
}

impl<'a> Analyzer<'a> {
    /// An analyzer over `topo`, with the active profile's tunnel when there is one.
    pub fn new(
        topo: &'a Topology,
        tunnel: Option<&'a Tunnel>,
        vpn_hint: &'a VpnHint,
        probes: &'a [Probe],
    ) -> Analyzer<'a> {
        Analyzer {
            topo,
            tunnel,
            vpn_hint,
            probes,
        }
    }

    /// A target by id, name, a managed service's endpoint or address: hosts first, then load
    /// balancers with an address.
    pub fn find_target(&self, key: &str) -> Option<Target> {
        if let Some(h) = self.topo.find_host(key) {
            return Some(h.clone());
        }
        let ip: Option<IpAddr> = key.parse().ok();
        self.topo
            .load_balancers
            .iter()
            .find(|l| l.id == key || l.name == key || (ip.is_some() && l.ip == ip))
            .map(lb_as_host)
    }

    /// Every target: hosts, then load balancers that have an address.
    pub fn targets(&self) -> Vec<Target> {
        let mut v: Vec<Target> = self.topo.hosts.clone();
        v.extend(
            self.topo
                .load_balancers
                .iter()
                .filter(|l| l.ip.is_some())
                .map(lb_as_host),
        );
        v
    }

    /// The ports worth checking on a target: a managed service's own ports first, then the
    /// ports its ingress rules name (the first of each range), and its load balancer listeners;
    /// 22 when nothing names one.
    pub fn candidate_ports(&self, target: &Target) -> Vec<(Protocol, u16)> {
        let mut set = BTreeSet::new();
        for f in self.firewalls_of(target).0 {
            if f.kind == FirewallKind::NetworkAcl {
                continue;
            }
            for r in &f.rules {
                if r.direction != Direction::Ingress || r.action != Action::Allow {
                    continue;
                }
                if let (Some(p), true) = (r.ports, r.protocol.has_ports()) {
                    set.insert((r.protocol.clone(), p.from));
                }
            }
        }
        if let Some(lb) = self.topo.load_balancers.iter().find(|l| l.id == target.id) {
            for l in &lb.listeners {
                let proto = if l.protocol == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                };
                set.insert((proto, l.port));
            }
        }
        let mut out: Vec<(Protocol, u16)> = Vec::new();
        for p in target.service.iter().flat_map(|s| s.ports.iter()) {
            if !out.contains(&(Protocol::Tcp, *p)) {
                out.push((Protocol::Tcp, *p));
            }
        }
        for p in set {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            out.push((Protocol::Tcp, 22));
        }
        out
    }

    /// The verdict for `key` (id, name, endpoint or address) on `port`.
    pub fn check_key(&self, key: &str, proto: Protocol, port: u16) -> Verdict {
        match self.find_target(key) {
            Some(t) => self.check(&t, proto, port),
            None => {
                let finding = Finding {
                    code: Code::HostNotFound,
                    status: Status::Unknown,
                    detail: format!("{key} is not a host or load balancer of the topology"),
                };
                let sentence = format!("{key}:{port} is unknown: {}", finding.detail);
                Verdict {
                    host: key.to_string(),
                    name: key.to_string(),
                    address: key.parse().ok(),
                    port,
                    protocol: proto,
                    status: Status::Unknown,
                    arrives_from: None,
                    findings: vec![finding],
                    sentence,
                }
            }
        }
    }

    /// Verdicts for every target and its candidate ports.
    pub fn check_all(&self) -> Vec<Verdict> {
        let mut out = Vec::new();
        for t in self.targets() {
            for (proto, port) in self.candidate_ports(&t) {
                out.push(self.check(&t, proto, port));
            }
        }
        out
    }

    /// The verdict for `target` on `proto`/`port`.
    pub fn check(&self, target: &Target, proto: Protocol, port: u16) -> Verdict {
        let mut findings = Vec::new();
        let address = target.primary_ip();
        let mut arrives_from = None;
        self.walk(target, &proto, port, &mut findings, &mut arrives_from);

        let probe = self
            .probes
            .iter()
            .find(|p| p.host == target.id && p.port == port);
        if let Some(p) = probe {
            findings.push(if p.open {
                Finding {
                    code: Code::ProbeOpen,
                    status: Status::Reachable,
                    detail: "the last probe got an answer".into(),
                }
            } else {
                Finding {
                    code: Code::ProbeClosed,
                    status: Status::Blocked,
                    detail: "nothing answered the last probe".into(),
                }
            });
        }

        let status = if probe.is_some_and(|p| p.open) {
            Status::Reachable
        } else {
            worst(&findings)
        };
        let sentence = sentence(&target.name, port, status, &findings);
        Verdict {
            host: target.id.clone(),
            name: target.name.clone(),
            address,
            port,
            protocol: proto,
            status,
            arrives_from,
            findings,
            sentence,
        }
    }

    fn walk(
        &self,
        target: &Target,
        proto: &Protocol,
        port: u16,
        out: &mut Vec<Finding>,
        arrives_from: &mut Option<IpAddr>,
    ) {
        // Where the traffic goes: the address, else every subnet a managed service may be in.
        let dests: Vec<(Target, Addr)> = match target.primary_ip() {
            Some(ip) => vec![(target.clone(), Addr::Ip(ip))],
            None => match self.by_subnet(target, out) {
                Some(d) => d,
                None => {
                    out.push(Finding {
                        code: Code::NoAddress,
                        status: Status::Unknown,
                        detail: format!("{} has no private address in the topology", target.name),
                    });
                    return;
                }
            },
        };
        let first = dests[0].1;

        // 1. Tunnel.
        let client = match self.tunnel {
            None => {
                out.push(Finding {
                    code: Code::NoProfile,
                    status: Status::Unknown,
                    detail: "no profile is active, so the tunnel was not checked".into(),
                });
                None
            }
            Some(t) => {
                out.push(match first {
                    Addr::Ip(ip) => tunnel::tunnel_finding(t, ip),
                    Addr::Range(_) => {
                        let ranges: Vec<IpNet> = dests
                            .iter()
                            .filter_map(|(_, a)| match a {
                                Addr::Range(r) => Some(*r),
                                Addr::Ip(_) => None,
                            })
                            .collect();
                        tunnel::tunnel_range_finding(t, &target.name, &ranges)
                    }
                });
                t.source_for(first.ip())
            }
        };

        if target.is_stopped() {
            out.push(Finding {
                code: Code::HostStopped,
                status: Status::Blocked,
                detail: format!(
                    "{} is {}",
                    target.name,
                    target.state.as_deref().unwrap_or("stopped")
                ),
            });
        }

        // 2.–4., per candidate subnet when the address is not known.
        if let [(t, addr)] = dests.as_slice() {
            self.walk_vpc(t, *addr, proto, port, client, out, arrives_from);
            return;
        }
        let per_subnet: Vec<(String, Vec<Finding>)> = dests
            .iter()
            .map(|(t, addr)| {
                let mut v = Vec::new();
                self.walk_vpc(t, *addr, proto, port, client, &mut v, arrives_from);
                (self.subnet_label(t), v)
            })
            .collect();
        out.extend(service::combine(&target.name, per_subnet));
    }

    /// The VPC part of the walk for `target` at `addr`: the VPN host, the way there and back,
    /// network ACLs, rules at the target and the VPN host's egress.
    #[allow(clippy::too_many_arguments)]
    fn walk_vpc(
        &self,
        target: &Target,
        addr: Addr,
        proto: &Protocol,
        port: u16,
        client: Option<IpAddr>,
        out: &mut Vec<Finding>,
        arrives_from: &mut Option<IpAddr>,
    ) {
        let Some(vpn) = self.vpn_host(client) else {
            out.push(Finding {
                code: Code::VpnHostUnknown,
                status: Status::Unknown,
                detail: "the VPN host could not be found in the topology (no peer endpoint or \
                         route to the tunnel's addresses points at one)"
                    .into(),
            });
            *arrives_from = client;
            self.nacl_step(target, None, addr, client, proto, port, out);
            self.rules(target, addr, proto, port, client, None, out);
            return;
        };
        let vpn_name = vpn.name.clone();
        if vpn.id == target.id {
            out.push(Finding {
                code: Code::VpnHostItself,
                status: Status::Reachable,
                detail: format!("{} is the VPN host itself", target.name),
            });
            *arrives_from = client;
            self.rules(target, addr, proto, port, client, None, out);
            return;
        }

        let nat = self.vpn_hint.nat.or_else(|| {
            vpn.tags
                .get("gatehouse:nat")
                .map(|v| v.eq_ignore_ascii_case("true"))
        });
        let vpn_ip = vpn
            .private_ips
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == addr.ip().is_ipv4());
        let back = if nat == Some(true) { vpn_ip } else { client };
        let crossing = self.cross_vpc(target, vpn, addr, back, nat.is_none(), out);
        if crossing == Crossing::Stop {
            return;
        }

        let source = if nat == Some(true) {
            out.push(Finding {
                code: Code::VpnNat,
                status: Status::Reachable,
                detail: format!(
                    "{vpn_name} NATs VPN traffic, so it arrives from {} and replies return to it",
                    vpn_ip
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "its address".into())
                ),
            });
            vpn_ip
        } else {
            if crossing == Crossing::SameVpc {
                self.return_route(target, vpn, client, nat.is_none(), out);
            }
            if vpn.source_dest_check == Some(true) {
                out.push(Finding {
                    code: Code::SourceDestCheck,
                    status: Status::Blocked,
                    detail: format!(
                        "{vpn_name} forwards VPN traffic without NAT but has source/dest check \
                         on, so the VPC drops what it forwards"
                    ),
                });
            }
            client
        };
        *arrives_from = source;

        // Subnet boundaries, then rules at the target, and the VPN host's egress.
        self.nacl_step(target, Some(vpn), addr, source, proto, port, out);
        let from_host = (nat == Some(true)).then_some(vpn);
        self.rules(target, addr, proto, port, source, from_host, out);
        self.egress(vpn, target, addr, proto, port, out);
    }
}

/// The verdict's status from its findings: blocked when one blocks, unknown when one cannot
/// tell, else reachable.
fn worst(findings: &[Finding]) -> Status {
    if findings.iter().any(|f| f.status == Status::Blocked) {
        Status::Blocked
    } else if findings.iter().any(|f| f.status == Status::Unknown) {
        Status::Unknown
    } else {
        Status::Reachable
    }
}

fn proto_name(p: &Protocol) -> String {
    match p {
        Protocol::All => "any".into(),
        Protocol::Tcp => "tcp".into(),
        Protocol::Udp => "udp".into(),
        Protocol::Icmp => "icmp".into(),
        Protocol::Other(s) => s.clone(),
    }
}

fn join_or(v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        n => format!("{} or {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

fn sentence(name: &str, port: u16, status: Status, findings: &[Finding]) -> String {
    let decisive = match status {
        Status::Reachable => findings
            .iter()
            .find(|f| f.code == Code::ProbeOpen)
            .or_else(|| {
                findings.iter().rev().find(|f| {
                    matches!(
                        f.code,
                        Code::RuleAdmits | Code::NoFirewall | Code::NsgAdmits
                    )
                })
            }),
        Status::Blocked => findings.iter().find(|f| f.status == Status::Blocked),
        Status::Unknown => findings.iter().find(|f| f.status == Status::Unknown),
    };
    match decisive {
        Some(f) => format!("{name}:{port} is {status}: {}", f.detail),
        None => format!("{name}:{port} is {status}"),
    }
}
