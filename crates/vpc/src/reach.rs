//! Reachability: can the laptop, through the active tunnel, open `host:port` in the VPC — and if
//! not, why not.
//!
//! A verdict walks the path a connection takes and records one [`Finding`] per step:
//!
//! 1. **Tunnel**: which peer's AllowedIPs carry the address (WireGuard picks the longest prefix
//!    across peers), or which of the laptop's own routes shadows it (a home LAN on the same range:
//!    a more specific route wins; with a full tunnel, wg-quick's rule keeps every main-table route
//!    but the default one).
//! 2. **VPC**: whether replies come back. Either the VPN host NATs (traffic arrives from its own
//!    private address), or the target subnet's route table (its explicit association, else the
//!    VPC's main table) sends the tunnel's addresses to the VPN host, and the VPN host forwards
//!    (AWS source/dest check off, GCP `can_ip_forward`).
//! 3. **Rules**: whether the target's security groups / cloud firewalls admit the traffic as it
//!    arrives (the client's tunnel address, or the VPN host's when NATed — then group, tag and
//!    droplet references to the VPN host count), and whether the VPN host's egress rules let it
//!    out.
//! 4. **Probe**: the last live probe, when there is one, has the final word on whether anything
//!    answers.
//!
//! The verdict is [`Status::Blocked`] when a step blocks, [`Status::Unknown`] when a step cannot
//! tell, else [`Status::Reachable`]; [`Verdict::sentence`] says why in one plain sentence, from
//! the first finding that decided it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::*;

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

/// Explanation codes, one per kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// No profile was given: the tunnel step is not checked.
    NoProfile,
    /// A peer's AllowedIPs carry the address.
    TunnelPeer,
    /// No peer's AllowedIPs include the address.
    TunnelNoPeer,
    /// A local route (home LAN…) is more specific than the tunnel's and takes the traffic.
    TunnelShadowed,
    /// The name or address is not in the topology.
    HostNotFound,
    /// The host has no private address in the topology.
    NoAddress,
    /// The provider says the host is not running.
    HostStopped,
    /// The VPN host could not be identified.
    VpnHostUnknown,
    /// The target is the VPN host itself: no forwarding needed.
    VpnHostItself,
    /// The VPN host NATs: traffic arrives from its address and replies come back to it.
    VpnNat,
    /// The subnet's route table returns the tunnel's addresses through the VPN host.
    ReturnRoute,
    /// The subnet has no explicit route table association: the VPC's main table applies.
    MainTableFallback,
    /// The route table sends replies for the tunnel's addresses elsewhere (or nowhere).
    NoReturnRoute,
    /// No route table is known for the subnet, or the provider has none in the model.
    ReturnPathUnknown,
    /// The VPN host forwards without NAT but drops forwarded packets (source/dest check on).
    SourceDestCheck,
    /// The target is in another VPC than the VPN host, with no peering.
    OtherVpc,
    /// The target is in another VPC reached through a peering (routes not checked).
    Peered,
    /// A rule admits the traffic.
    RuleAdmits,
    /// No rule of the host's security groups / firewalls admits the traffic.
    NoRuleAdmits,
    /// A deny rule (GCP) matches first.
    RuleDenies,
    /// No firewall applies to the host and the provider admits by default (DigitalOcean).
    NoFirewall,
    /// No firewall rule matches and the provider denies by default (GCP implied deny).
    ImpliedDeny,
    /// A security group the host is in is not in the topology.
    FirewallUnknown,
    /// The VPN host's own egress rules do not let the forwarded traffic out.
    EgressBlocked,
    /// The last probe got an answer.
    ProbeOpen,
    /// The last probe got no answer.
    ProbeClosed,
}

impl Code {
    /// Every code, for listings and documentation.
    pub const ALL: [Code; 26] = [
        Code::NoProfile,
        Code::TunnelPeer,
        Code::TunnelNoPeer,
        Code::TunnelShadowed,
        Code::HostNotFound,
        Code::NoAddress,
        Code::HostStopped,
        Code::VpnHostUnknown,
        Code::VpnHostItself,
        Code::VpnNat,
        Code::ReturnRoute,
        Code::MainTableFallback,
        Code::NoReturnRoute,
        Code::ReturnPathUnknown,
        Code::SourceDestCheck,
        Code::OtherVpc,
        Code::Peered,
        Code::RuleAdmits,
        Code::NoRuleAdmits,
        Code::RuleDenies,
        Code::NoFirewall,
        Code::ImpliedDeny,
        Code::FirewallUnknown,
        Code::EgressBlocked,
        Code::ProbeOpen,
        Code::ProbeClosed,
    ];

    /// The code as it appears in JSON (`tunnel-shadowed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Code::NoProfile => "no-profile",
            Code::TunnelPeer => "tunnel-peer",
            Code::TunnelNoPeer => "tunnel-no-peer",
            Code::TunnelShadowed => "tunnel-shadowed",
            Code::HostNotFound => "host-not-found",
            Code::NoAddress => "no-address",
            Code::HostStopped => "host-stopped",
            Code::VpnHostUnknown => "vpn-host-unknown",
            Code::VpnHostItself => "vpn-host-itself",
            Code::VpnNat => "vpn-nat",
            Code::ReturnRoute => "return-route",
            Code::MainTableFallback => "main-table-fallback",
            Code::NoReturnRoute => "no-return-route",
            Code::ReturnPathUnknown => "return-path-unknown",
            Code::SourceDestCheck => "source-dest-check",
            Code::OtherVpc => "other-vpc",
            Code::Peered => "peered",
            Code::RuleAdmits => "rule-admits",
            Code::NoRuleAdmits => "no-rule-admits",
            Code::RuleDenies => "rule-denies",
            Code::NoFirewall => "no-firewall",
            Code::ImpliedDeny => "implied-deny",
            Code::FirewallUnknown => "firewall-unknown",
            Code::EgressBlocked => "egress-blocked",
            Code::ProbeOpen => "probe-open",
            Code::ProbeClosed => "probe-closed",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
        public_ip: None,
        tags: Default::default(),
        labels: Vec::new(),
        security_groups: lb.security_groups.clone(),
        state: None,
        source_dest_check: None,
        interfaces: Vec::new(),
        service: None,
        subnets: Vec::new(),
    }
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

    /// A target by id, name or address: hosts first, then load balancers with an address.
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

    /// The ports worth checking on a target: the ports its ingress rules name (the first of
    /// each range), and its load balancer listeners; 22 when nothing names one.
    pub fn candidate_ports(&self, target: &Target) -> Vec<(Protocol, u16)> {
        let mut set = BTreeSet::new();
        for f in self.firewalls_of(target).0 {
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
        if set.is_empty() {
            set.insert((Protocol::Tcp, 22));
        }
        set.into_iter().collect()
    }

    /// The verdict for `key` (id, name or address) on `port`.
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
        self.walk(
            target,
            &proto,
            port,
            address,
            &mut findings,
            &mut arrives_from,
        );

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
        } else if findings.iter().any(|f| f.status == Status::Blocked) {
            Status::Blocked
        } else if findings.iter().any(|f| f.status == Status::Unknown) {
            Status::Unknown
        } else {
            Status::Reachable
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
        address: Option<IpAddr>,
        out: &mut Vec<Finding>,
        arrives_from: &mut Option<IpAddr>,
    ) {
        let Some(ip) = address else {
            out.push(Finding {
                code: Code::NoAddress,
                status: Status::Unknown,
                detail: format!("{} has no private address in the topology", target.name),
            });
            return;
        };

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
                out.push(tunnel_finding(t, ip));
                t.source_for(ip)
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

        // 2. VPC: who is the VPN host, and do replies come back?
        let vpn = self.vpn_host(client);
        let Some(vpn) = vpn else {
            out.push(Finding {
                code: Code::VpnHostUnknown,
                status: Status::Unknown,
                detail: "the VPN host could not be found in the topology (no peer endpoint or \
                         route to the tunnel's addresses points at one)"
                    .into(),
            });
            *arrives_from = client;
            self.rules(target, proto, port, client, None, out);
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
            self.rules(target, proto, port, client, None, out);
            return;
        }

        if target.vpc.is_some() && vpn.vpc.is_some() && target.vpc != vpn.vpc {
            let (a, b) = (
                target.vpc.as_deref().unwrap_or(""),
                vpn.vpc.as_deref().unwrap_or(""),
            );
            match self
                .topo
                .peerings
                .iter()
                .find(|p| (p.vpc == a && p.peer_vpc == b) || (p.vpc == b && p.peer_vpc == a))
            {
                Some(p) => out.push(Finding {
                    code: Code::Peered,
                    status: Status::Unknown,
                    detail: format!(
                        "{} is in another VPC than {vpn_name}, reached through peering {} whose \
                         routes are not checked",
                        target.name, p.name
                    ),
                }),
                None => {
                    out.push(Finding {
                        code: Code::OtherVpc,
                        status: Status::Blocked,
                        detail: format!(
                            "{} is in VPC {a}, and the VPN host {vpn_name} is in {b} with no \
                             peering between them",
                            target.name
                        ),
                    });
                    return;
                }
            }
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
            .find(|a| a.is_ipv4() == ip.is_ipv4());
        let source =
            if nat == Some(true) {
                out.push(Finding {
                    code: Code::VpnNat,
                    status: Status::Reachable,
                    detail: format!(
                    "{vpn_name} NATs VPN traffic, so it arrives from {} and replies return to it",
                    vpn_ip.map(|a| a.to_string()).unwrap_or_else(|| "its address".into())
                ),
                });
                vpn_ip
            } else {
                self.return_route(target, vpn, client, nat.is_none(), out);
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

        // 3. Rules at the target, and the VPN host's egress.
        let from_host = (nat == Some(true)).then_some(vpn);
        self.rules(target, proto, port, source, from_host, out);
        self.egress(vpn, target, proto, port, ip, out);
    }

    /// The VPN host: the hint, else the host behind a peer's endpoint, else the host a route to
    /// the tunnel's address points at, else the only host that forwards.
    fn vpn_host(&self, client: Option<IpAddr>) -> Option<&'a Host> {
        let topo = self.topo;
        if let Some(key) = &self.vpn_hint.host {
            return topo.find_host(key);
        }
        if let Some(t) = self.tunnel {
            for p in &t.peers {
                if let Some(ep) = p.endpoint {
                    if let Some(h) = topo
                        .hosts
                        .iter()
                        .find(|h| h.public_ip == Some(ep) || h.private_ips.contains(&ep))
                    {
                        return Some(h);
                    }
                }
            }
        }
        if let Some(c) = client {
            for rt in &topo.route_tables {
                if let Some(r) = rt.lookup(c) {
                    if let Some(h) = self.route_host(&r.target) {
                        return Some(h);
                    }
                }
            }
        }
        let mut forwarders = topo
            .hosts
            .iter()
            .filter(|h| h.source_dest_check == Some(false));
        match (forwarders.next(), forwarders.next()) {
            (Some(h), None) => Some(h),
            _ => None,
        }
    }

    /// The host a route target designates (instance, or one of its interfaces).
    fn route_host(&self, target: &RouteTarget) -> Option<&'a Host> {
        match target {
            RouteTarget::Instance(id) => self.topo.host(id),
            RouteTarget::Interface(eni) => {
                self.topo.hosts.iter().find(|h| h.interfaces.contains(eni))
            }
            _ => None,
        }
    }

    fn return_route(
        &self,
        target: &Target,
        vpn: &Host,
        client: Option<IpAddr>,
        nat_unknown: bool,
        out: &mut Vec<Finding>,
    ) {
        let missing_status = if nat_unknown {
            Status::Unknown
        } else {
            Status::Blocked
        };
        let nat_clause = if nat_unknown {
            format!(", so replies are lost unless {} NATs VPN traffic", vpn.name)
        } else {
            String::new()
        };
        let Some(client) = client else {
            out.push(Finding {
                code: Code::ReturnPathUnknown,
                status: Status::Unknown,
                detail: "without the tunnel's address the return route cannot be checked".into(),
            });
            return;
        };
        let table = match &target.subnet {
            Some(s) => self.topo.route_table_for_subnet(s),
            None => target
                .vpc
                .as_deref()
                .and_then(|v| self.topo.main_route_table(v))
                .map(|t| (t, true)),
        };
        let Some((table, fallback)) = table else {
            let has_tables = target.vpc.as_deref().is_some_and(|v| {
                self.topo
                    .route_tables
                    .iter()
                    .any(|t| t.vpc.as_deref() == Some(v))
            });
            out.push(Finding {
                code: Code::ReturnPathUnknown,
                status: Status::Unknown,
                detail: if has_tables {
                    format!(
                        "no route table is known for {}'s subnet{nat_clause}",
                        target.name
                    )
                } else {
                    format!(
                        "the topology has no route tables for {}'s network, so whether replies \
                         to {client} return through {} is unknown",
                        target.name, vpn.name
                    )
                },
            });
            return;
        };
        if fallback {
            out.push(Finding {
                code: Code::MainTableFallback,
                status: Status::Reachable,
                detail: format!(
                    "{}'s subnet has no route table of its own, so the main table {} applies",
                    target.name, table.name
                ),
            });
        }
        let route = table.lookup(client);
        let to_vpn = route
            .and_then(|r| self.route_host(&r.target))
            .is_some_and(|h| h.id == vpn.id);
        if to_vpn {
            let r = route.map(|r| r.destination.to_string()).unwrap_or_default();
            out.push(Finding {
                code: Code::ReturnRoute,
                status: Status::Reachable,
                detail: format!(
                    "route table {} sends {r} (your {client}) back through {}",
                    table.name, vpn.name
                ),
            });
            return;
        }
        let inside_vpc = target
            .vpc
            .as_deref()
            .and_then(|v| self.topo.vpc(v))
            .is_some_and(|v| v.cidrs.iter().any(|c| c.contains(&client)));
        let detail = match route {
            _ if inside_vpc => format!(
                "your address {client} is inside the VPC's own range, so replies stay in the \
                 VPC{nat_clause}"
            ),
            Some(r) => format!(
                "route table {} sends replies to {client} via {} to {}, not through {}{nat_clause}",
                table.name,
                r.destination,
                self.describe_target(&r.target),
                vpn.name
            ),
            None => format!(
                "route table {} has no route back to {client}{nat_clause}",
                table.name
            ),
        };
        out.push(Finding {
            code: Code::NoReturnRoute,
            status: missing_status,
            detail,
        });
    }

    fn describe_target(&self, t: &RouteTarget) -> String {
        let gw_name = |id: &str| {
            self.topo
                .gateways
                .iter()
                .find(|g| g.id == id)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        match t {
            RouteTarget::Local => "the VPC itself".into(),
            RouteTarget::Gateway(id) | RouteTarget::Nat(id) => gw_name(id),
            RouteTarget::Instance(_) | RouteTarget::Interface(_) => self
                .route_host(t)
                .map(|h| h.name.clone())
                .unwrap_or_else(|| match t {
                    RouteTarget::Instance(id) | RouteTarget::Interface(id) => id.clone(),
                    _ => String::new(),
                }),
            RouteTarget::Peering(id) => format!("peering {id}"),
            RouteTarget::TransitGateway(id) => format!("transit gateway {}", gw_name(id)),
            RouteTarget::Attachment(id) => format!("attachment {id}"),
            RouteTarget::Blackhole => "a blackhole (dropped)".into(),
            RouteTarget::Other(id) => id.clone(),
        }
    }

    /// The firewalls that apply to a host, and the ids it names that are not in the topology.
    fn firewalls_of(&self, h: &Host) -> (Vec<&'a Firewall>, Vec<String>) {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for g in &h.security_groups {
            match self
                .topo
                .firewalls
                .iter()
                .find(|f| &f.id == g || (f.name == *g && f.vpc == h.vpc))
            {
                Some(f) => out.push(f),
                None => missing.push(g.clone()),
            }
        }
        for f in &self.topo.firewalls {
            let applies = match &f.applies_to {
                AppliesTo::Membership => false,
                AppliesTo::Hosts { ids, labels } => {
                    ids.contains(&h.id) || labels.iter().any(|l| h.labels.contains(l))
                }
                AppliesTo::Subnets { ids } => h.subnet.as_ref().is_some_and(|s| ids.contains(s)),
                AppliesTo::Network { target_labels } => {
                    f.vpc.is_some()
                        && f.vpc == h.vpc
                        && (target_labels.is_empty()
                            || target_labels.iter().any(|l| h.labels.contains(l)))
                }
            };
            if applies && !out.iter().any(|o| o.id == f.id) {
                out.push(f);
            }
        }
        (out, missing)
    }

    fn peer_matches(
        &self,
        peer: &Peer,
        fw: &Firewall,
        ip: Option<IpAddr>,
        host: Option<&Host>,
    ) -> bool {
        match peer {
            Peer::Cidr(n) => ip.is_some_and(|a| n.contains(&a)),
            Peer::Group(g) => host.is_some_and(|h| {
                h.security_groups.iter().any(|s| {
                    s == g
                        || self
                            .topo
                            .firewall(s)
                            .is_some_and(|f| &f.name == g && f.vpc == fw.vpc)
                })
            }),
            Peer::SelfGroup => host.is_some_and(|h| h.security_groups.contains(&fw.id)),
            Peer::Label(l) => host.is_some_and(|h| h.labels.contains(l)),
            Peer::Host(id) => host.is_some_and(|h| &h.id == id),
            Peer::LoadBalancer(_) | Peer::ServiceTag(_) => false,
        }
    }

    fn describe_peer(&self, p: &Peer, fw: &Firewall) -> String {
        match p {
            Peer::Cidr(n) => n.to_string(),
            Peer::Group(g) => self
                .topo
                .firewall(g)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| g.clone()),
            Peer::SelfGroup => format!("members of {}", fw.name),
            Peer::Label(l) => format!("tag {l}"),
            Peer::Host(id) => self
                .topo
                .host(id)
                .map(|h| h.name.clone())
                .unwrap_or_else(|| id.clone()),
            Peer::LoadBalancer(id) => format!("load balancer {id}"),
            Peer::ServiceTag(t) => format!("service tag {t}"),
        }
    }

    /// Decides one direction of rules at `host` for traffic whose other end is `ip`/`other`.
    /// Returns (status, code, detail).
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        host: &Host,
        dir: Direction,
        proto: &Protocol,
        port: u16,
        ip: Option<IpAddr>,
        other: Option<&Host>,
        other_desc: &str,
    ) -> (Status, Code, String) {
        let (fws, missing) = self.firewalls_of(host);
        let what = format!("{}/{port}", proto_name(proto));
        let mut admitted_by: Option<(String, String)> = None;
        // Allow-only firewalls (security groups, DigitalOcean).
        let allow_only: Vec<&Firewall> = fws
            .iter()
            .copied()
            .filter(|f| f.kind != FirewallKind::Gcp)
            .collect();
        let gcp: Vec<&Firewall> = fws
            .iter()
            .copied()
            .filter(|f| f.kind == FirewallKind::Gcp)
            .collect();
        let mut allowed_peers: Vec<String> = Vec::new();
        let mut allow_ok = allow_only.is_empty();
        for f in &allow_only {
            for r in &f.rules {
                if r.direction != dir || !r.covers(proto, Some(port)) {
                    continue;
                }
                for p in &r.peers {
                    if self.peer_matches(p, f, ip, other) {
                        allow_ok = true;
                        if admitted_by.is_none() {
                            admitted_by = Some((f.name.clone(), self.describe_peer(p, f)));
                        }
                    } else {
                        let d = self.describe_peer(p, f);
                        if !allowed_peers.contains(&d) {
                            allowed_peers.push(d);
                        }
                    }
                }
            }
        }
        let names = |v: &[&Firewall]| {
            v.iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let verb = if dir == Direction::Ingress {
            "admits"
        } else {
            "lets out"
        };
        let from_to = if dir == Direction::Ingress {
            "from"
        } else {
            "to"
        };
        if !allow_only.is_empty() && !allow_ok {
            let detail = if allowed_peers.is_empty() {
                format!(
                    "no rule of {} {verb} {what}, and your traffic {}",
                    names(&allow_only),
                    other_desc
                )
            } else {
                format!(
                    "{} {verb} {port} only {from_to} {}, and your traffic {}",
                    names(&allow_only),
                    join_or(&allowed_peers),
                    other_desc
                )
            };
            let code = if dir == Direction::Ingress {
                Code::NoRuleAdmits
            } else {
                Code::EgressBlocked
            };
            return (Status::Blocked, code, detail);
        }
        if !gcp.is_empty() || (fws.is_empty() && host.provider == Provider::Gcp) {
            // The matching rule with the lowest priority number wins; deny wins ties.
            let mut best: Option<(&Firewall, &Rule)> = None;
            for f in &gcp {
                for r in &f.rules {
                    if r.direction != dir || !r.covers(proto, Some(port)) {
                        continue;
                    }
                    if !r.peers.iter().any(|p| self.peer_matches(p, f, ip, other)) {
                        continue;
                    }
                    let better = match best {
                        None => true,
                        Some((_, b)) => {
                            r.priority < b.priority
                                || (r.priority == b.priority && r.action == Action::Deny)
                        }
                    };
                    if better {
                        best = Some((f, r));
                    }
                }
            }
            match best {
                Some((f, r)) if r.action == Action::Deny => {
                    let code = if dir == Direction::Ingress {
                        Code::RuleDenies
                    } else {
                        Code::EgressBlocked
                    };
                    return (
                        Status::Blocked,
                        code,
                        format!(
                            "firewall rule {} (priority {}) denies {what}, and your traffic {}",
                            f.name, r.priority, other_desc
                        ),
                    );
                }
                Some((f, _)) if admitted_by.is_none() => {
                    admitted_by = Some((f.name.clone(), String::new()));
                }
                Some(_) => {}
                None if dir == Direction::Ingress => {
                    return (
                        Status::Blocked,
                        Code::ImpliedDeny,
                        format!(
                            "no firewall rule of the network admits {what} to {}, and GCP denies \
                             ingress by default; your traffic {}",
                            host.name, other_desc
                        ),
                    );
                }
                None => {}
            }
        }
        if !missing.is_empty() && admitted_by.is_none() {
            return (
                Status::Unknown,
                Code::FirewallUnknown,
                format!(
                    "{} is in {}, which the topology does not describe",
                    host.name,
                    missing.join(", ")
                ),
            );
        }
        match admitted_by {
            Some((fw, peer)) => (
                Status::Reachable,
                Code::RuleAdmits,
                if peer.is_empty() {
                    format!("{fw} {verb} {what}")
                } else {
                    format!("{fw} {verb} {what} {from_to} {peer}")
                },
            ),
            None if fws.is_empty()
                && host.provider == Provider::Aws
                && dir == Direction::Ingress =>
            {
                (
                    Status::Unknown,
                    Code::FirewallUnknown,
                    format!("no security group of {} is known", host.name),
                )
            }
            None => (
                Status::Reachable,
                Code::NoFirewall,
                format!("no firewall restricts {what} at {}", host.name),
            ),
        }
    }

    fn rules(
        &self,
        target: &Target,
        proto: &Protocol,
        port: u16,
        source: Option<IpAddr>,
        source_host: Option<&Host>,
        out: &mut Vec<Finding>,
    ) {
        let desc = match (source, source_host) {
            (Some(ip), Some(h)) => format!("arrives from {ip} ({})", h.name),
            (Some(ip), None) => format!("arrives from {ip} (your tunnel address)"),
            (None, _) => "arrives from an unknown address".to_string(),
        };
        let (mut status, code, detail) = self.evaluate(
            target,
            Direction::Ingress,
            proto,
            port,
            source,
            source_host,
            &desc,
        );
        if source.is_none() && source_host.is_none() && status == Status::Blocked {
            // Without the source address a rule that names addresses may still admit it.
            status = Status::Unknown;
        }
        out.push(Finding {
            code,
            status,
            detail,
        });
    }

    fn egress(
        &self,
        vpn: &Host,
        target: &Target,
        proto: &Protocol,
        port: u16,
        ip: IpAddr,
        out: &mut Vec<Finding>,
    ) {
        let desc = format!("leaves {} for {ip} ({})", vpn.name, target.name);
        let (status, code, detail) = self.evaluate(
            vpn,
            Direction::Egress,
            proto,
            port,
            Some(ip),
            Some(target),
            &desc,
        );
        if status == Status::Blocked {
            out.push(Finding {
                code: Code::EgressBlocked,
                status,
                detail: if code == Code::EgressBlocked {
                    detail
                } else {
                    format!(
                        "{}'s rules do not let {}/{port} out",
                        vpn.name,
                        proto_name(proto)
                    )
                },
            });
        }
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

/// The tunnel step for `ip`.
fn tunnel_finding(t: &Tunnel, ip: IpAddr) -> Finding {
    // WireGuard: the longest matching AllowedIPs prefix across all peers.
    let best = t
        .peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter().map(move |n| (p, n)))
        .filter(|(_, n)| n.contains(&ip))
        .max_by_key(|(_, n)| n.prefix_len());
    let Some((peer, net)) = best else {
        return Finding {
            code: Code::TunnelNoPeer,
            status: Status::Blocked,
            detail: format!("no peer's AllowedIPs include {ip}, so it does not go into the tunnel"),
        };
    };
    // A local route wins when it is at least as specific; with a full tunnel (/0), wg-quick's
    // `suppress_prefixlength 0` rule lets every non-default main-table route win.
    let shadow = t
        .local_routes
        .iter()
        .filter(|r| r.destination.contains(&ip))
        .filter(|r| {
            if net.prefix_len() == 0 {
                r.destination.prefix_len() > 0
            } else {
                r.destination.prefix_len() >= net.prefix_len()
            }
        })
        .max_by_key(|r| r.destination.prefix_len());
    if let Some(r) = shadow {
        return Finding {
            code: Code::TunnelShadowed,
            status: Status::Blocked,
            detail: format!(
                "your local route {} on {} is more specific than {}'s AllowedIPs {net}, so {ip} \
                 goes to your local network instead of the tunnel",
                r.destination, r.device, peer.name
            ),
        };
    }
    Finding {
        code: Code::TunnelPeer,
        status: Status::Reachable,
        detail: format!("peer {} carries {ip} (AllowedIPs {net})", peer.name),
    }
}

fn sentence(name: &str, port: u16, status: Status, findings: &[Finding]) -> String {
    let decisive = match status {
        Status::Reachable => findings
            .iter()
            .find(|f| f.code == Code::ProbeOpen)
            .or_else(|| {
                findings
                    .iter()
                    .rev()
                    .find(|f| matches!(f.code, Code::RuleAdmits | Code::NoFirewall))
            }),
        Status::Blocked => findings.iter().find(|f| f.status == Status::Blocked),
        Status::Unknown => findings.iter().find(|f| f.status == Status::Unknown),
    };
    match decisive {
        Some(f) => format!("{name}:{port} is {status}: {}", f.detail),
        None => format!("{name}:{port} is {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tunnel_of_an_interface_names_its_peers() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let one = Tunnel::of_interface(
            vec![net("10.0.0.2/32")],
            [(
                Some("192.0.2.1".parse().unwrap()),
                vec![net("10.20.0.0/16")],
            )],
            "work",
        );
        assert_eq!(one.peers.len(), 1);
        assert_eq!(one.peers[0].name, "work");
        assert_eq!(one.peers[0].endpoint, Some("192.0.2.1".parse().unwrap()));
        assert!(one.local_routes.is_empty());
        let two = Tunnel::of_interface(
            vec![net("10.0.0.2/32")],
            [
                (None, vec![net("10.20.0.0/16")]),
                (None, vec![net("10.30.0.0/16")]),
            ],
            "work",
        );
        let names: Vec<&str> = two.peers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["work#1", "work#2"]);
        assert_eq!(two.peers[1].allowed_ips, vec![net("10.30.0.0/16")]);
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn host(id: &str, name: &str, subnet: &str, addr: &str, sgs: &[&str]) -> Host {
        Host {
            id: id.into(),
            name: name.into(),
            provider: Provider::Aws,
            vpc: Some("vpc-1".into()),
            subnet: Some(subnet.into()),
            zone: None,
            private_ips: vec![ip(addr)],
            public_ip: None,
            tags: Default::default(),
            labels: vec![],
            security_groups: sgs.iter().map(|s| s.to_string()).collect(),
            state: Some("running".into()),
            source_dest_check: Some(true),
            interfaces: vec![format!("eni-{id}")],
            service: None,
            subnets: Vec::new(),
        }
    }

    fn allow_in(port: u16, peers: Vec<Peer>) -> Rule {
        Rule {
            direction: Direction::Ingress,
            action: Action::Allow,
            priority: 0,
            protocol: Protocol::Tcp,
            ports: Some(PortRange {
                from: port,
                to: port,
            }),
            peers,
            description: None,
            targets: Vec::new(),
        }
    }

    fn allow_all_out() -> Rule {
        Rule {
            direction: Direction::Egress,
            action: Action::Allow,
            priority: 0,
            protocol: Protocol::All,
            ports: None,
            peers: vec![Peer::Cidr(net("0.0.0.0/0"))],
            description: None,
            targets: Vec::new(),
        }
    }

    fn sg(id: &str, name: &str, rules: Vec<Rule>) -> Firewall {
        Firewall {
            id: id.into(),
            name: name.into(),
            kind: FirewallKind::SecurityGroup,
            vpc: Some("vpc-1".into()),
            applies_to: AppliesTo::Membership,
            rules,
        }
    }

    /// The small AWS topology of the tests: vpn-gw (10.20.0.5, forwards) in the public subnet,
    /// app (10.20.1.10) and db (10.20.2.30) in private subnets; the private table routes the
    /// tunnel's 10.100.0.0/24 to the VPN host; sg-db admits 5432 only from sg-app.
    fn topo() -> Topology {
        let mut vpn = host("i-vpn", "vpn-gw", "subnet-pub", "10.20.0.5", &["sg-vpn"]);
        vpn.source_dest_check = Some(false);
        vpn.public_ip = Some(ip("203.0.113.10"));
        Topology {
            vpcs: vec![Vpc {
                id: "vpc-1".into(),
                name: "lab".into(),
                provider: Provider::Aws,
                region: Some("eu-west-1".into()),
                cidrs: vec![net("10.20.0.0/16")],
                main_route_table: Some("rtb-main".into()),
                tags: Default::default(),
                placeholder: false,
            }],
            subnets: ["subnet-pub", "subnet-app", "subnet-db"]
                .iter()
                .enumerate()
                .map(|(i, s)| Subnet {
                    id: s.to_string(),
                    name: s.to_string(),
                    vpc: Some("vpc-1".into()),
                    cidr: Some(net(&format!("10.20.{i}.0/24"))),
                    zone: None,
                    region: None,
                    public: None,
                    tags: Default::default(),
                })
                .collect(),
            hosts: vec![
                vpn,
                host("i-app", "app", "subnet-app", "10.20.1.10", &["sg-app"]),
                host("i-db", "db", "subnet-db", "10.20.2.30", &["sg-db"]),
            ],
            route_tables: vec![
                RouteTable {
                    id: "rtb-main".into(),
                    name: "rtb-main".into(),
                    vpc: Some("vpc-1".into()),
                    main: true,
                    routes: vec![Route {
                        destination: net("0.0.0.0/0"),
                        target: RouteTarget::Gateway("igw-1".into()),
                    }],
                    subnets: vec![],
                    gateway: None,
                },
                RouteTable {
                    id: "rtb-private".into(),
                    name: "rtb-private".into(),
                    vpc: Some("vpc-1".into()),
                    main: false,
                    routes: vec![Route {
                        destination: net("10.100.0.0/24"),
                        target: RouteTarget::Interface("eni-i-vpn".into()),
                    }],
                    subnets: vec!["subnet-app".into(), "subnet-db".into()],
                    gateway: None,
                },
            ],
            firewalls: vec![
                sg("sg-vpn", "sg-vpn", vec![allow_all_out()]),
                sg(
                    "sg-app",
                    "sg-app",
                    vec![
                        allow_in(80, vec![Peer::Cidr(net("10.100.0.0/24"))]),
                        allow_all_out(),
                    ],
                ),
                sg(
                    "sg-db",
                    "sg-db",
                    vec![allow_in(5432, vec![Peer::Group("sg-app".into())])],
                ),
            ],
            gateways: vec![Gateway {
                id: "igw-1".into(),
                name: "lab-igw".into(),
                kind: GatewayKind::Internet,
                vpc: Some("vpc-1".into()),
                subnet: None,
                private_ip: None,
                public_ip: None,
                attachments: Vec::new(),
            }],
            ..Default::default()
        }
    }

    fn tunnel() -> Tunnel {
        Tunnel {
            addresses: vec![net("10.100.0.2/32")],
            peers: vec![TunnelPeer {
                name: "lab".into(),
                endpoint: Some(ip("203.0.113.10")),
                allowed_ips: vec![net("10.20.0.0/16")],
            }],
            local_routes: vec![LocalRoute {
                destination: net("192.168.1.0/24"),
                device: "wlan0".into(),
            }],
        }
    }

    fn check(t: &Topology, tun: Option<&Tunnel>, hint: &VpnHint, key: &str, port: u16) -> Verdict {
        Analyzer::new(t, tun, hint, &[]).check_key(key, Protocol::Tcp, port)
    }

    #[test]
    fn reachable_through_return_route() {
        let (t, tun) = (topo(), tunnel());
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert_eq!(
            v.codes(),
            vec![Code::TunnelPeer, Code::ReturnRoute, Code::RuleAdmits]
        );
        assert_eq!(v.arrives_from, Some(ip("10.100.0.2")));
        assert_eq!(
            v.sentence,
            "app:80 is reachable: sg-app admits tcp/80 from 10.100.0.0/24"
        );
    }

    #[test]
    fn code_no_rule_admits_names_the_group_and_source() {
        let (t, tun) = (topo(), tunnel());
        let v = check(&t, Some(&tun), &VpnHint::default(), "db", 5432);
        assert_eq!(v.status, Status::Blocked);
        assert!(v.has(Code::NoRuleAdmits));
        assert_eq!(
            v.sentence,
            "db:5432 is blocked: sg-db admits 5432 only from sg-app, and your traffic arrives \
             from 10.100.0.2 (your tunnel address)"
        );
    }

    #[test]
    fn code_vpn_nat_and_group_reference() {
        let mut t = topo();
        // NATed traffic arrives from vpn-gw: a rule naming vpn-gw's group admits it, and the
        // return route is not needed.
        t.firewalls[2]
            .rules
            .push(allow_in(5432, vec![Peer::Group("sg-vpn".into())]));
        t.route_tables[1].routes.clear();
        let tun = tunnel();
        let hint = VpnHint {
            host: None,
            nat: Some(true),
        };
        let v = check(&t, Some(&tun), &hint, "db", 5432);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert_eq!(
            v.codes(),
            vec![Code::TunnelPeer, Code::VpnNat, Code::RuleAdmits]
        );
        assert_eq!(v.arrives_from, Some(ip("10.20.0.5")));

        // Without that rule: the sentence says where the traffic comes from.
        t.firewalls[2].rules.pop();
        let v = check(&t, Some(&tun), &hint, "db", 5432);
        assert_eq!(
            v.sentence,
            "db:5432 is blocked: sg-db admits 5432 only from sg-app, and your traffic arrives \
             from 10.20.0.5 (vpn-gw)"
        );
    }

    #[test]
    fn code_self_reference() {
        let mut t = topo();
        t.firewalls[0]
            .rules
            .push(allow_in(22, vec![Peer::SelfGroup]));
        t.hosts[1].security_groups.push("sg-vpn".into());
        let tun = tunnel();
        let hint = VpnHint {
            host: Some("vpn-gw".into()),
            nat: Some(true),
        };
        let v = check(&t, Some(&tun), &hint, "app", 22);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert!(v.has(Code::RuleAdmits));
        assert!(v
            .findings
            .last()
            .unwrap()
            .detail
            .contains("members of sg-vpn"));
    }

    #[test]
    fn code_tunnel_no_peer() {
        let mut tun = tunnel();
        tun.peers[0].allowed_ips = vec![net("10.20.0.0/24")];
        let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Blocked);
        assert_eq!(v.codes()[0], Code::TunnelNoPeer);
        assert!(
            v.sentence
                .contains("no peer's AllowedIPs include 10.20.1.10"),
            "{}",
            v.sentence
        );
    }

    #[test]
    fn code_tunnel_shadowed() {
        let mut tun = tunnel();
        tun.local_routes.push(LocalRoute {
            destination: net("10.20.1.0/24"),
            device: "wlan0".into(),
        });
        let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Blocked);
        assert_eq!(v.codes()[0], Code::TunnelShadowed);
        assert!(
            v.sentence.contains("10.20.1.0/24 on wlan0"),
            "{}",
            v.sentence
        );

        // A full tunnel keeps non-default local routes (wg-quick's suppress_prefixlength 0) …
        tun.peers[0].allowed_ips = vec![net("0.0.0.0/0")];
        let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.codes()[0], Code::TunnelShadowed);
        // … but a less specific local route does not shadow a more specific AllowedIPs.
        tun.peers[0].allowed_ips = vec![net("10.20.1.0/25")];
        let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.codes()[0], Code::TunnelPeer);
    }

    #[test]
    fn code_no_profile() {
        let v = check(&topo(), None, &VpnHint::default(), "app", 80);
        assert_eq!(v.codes()[0], Code::NoProfile);
        assert_eq!(v.status, Status::Unknown);
    }

    #[test]
    fn code_host_not_found_and_no_address() {
        let (mut t, tun) = (topo(), tunnel());
        let v = check(&t, Some(&tun), &VpnHint::default(), "nope", 80);
        assert_eq!(v.codes(), vec![Code::HostNotFound]);
        assert_eq!(v.status, Status::Unknown);
        t.hosts[1].private_ips.clear();
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.codes(), vec![Code::NoAddress]);
    }

    #[test]
    fn code_host_stopped() {
        let (mut t, tun) = (topo(), tunnel());
        t.hosts[1].state = Some("stopped".into());
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Blocked);
        assert!(v.has(Code::HostStopped));
        assert_eq!(v.sentence, "app:80 is blocked: app is stopped");
    }

    #[test]
    fn code_vpn_host_unknown() {
        let (mut t, mut tun) = (topo(), tunnel());
        tun.peers[0].endpoint = None;
        t.route_tables[1].routes.clear();
        t.hosts[0].source_dest_check = Some(true);
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert!(v.has(Code::VpnHostUnknown));
        assert_eq!(v.status, Status::Unknown);
    }

    #[test]
    fn vpn_host_found_from_route_when_endpoint_is_elsewhere() {
        let (t, mut tun) = (topo(), tunnel());
        tun.peers[0].endpoint = Some(ip("127.0.0.1"));
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
    }

    #[test]
    fn code_vpn_host_itself() {
        let (mut t, tun) = (topo(), tunnel());
        t.firewalls[0]
            .rules
            .push(allow_in(22, vec![Peer::Cidr(net("10.100.0.0/24"))]));
        let v = check(&t, Some(&tun), &VpnHint::default(), "vpn-gw", 22);
        assert_eq!(
            v.codes(),
            vec![Code::TunnelPeer, Code::VpnHostItself, Code::RuleAdmits]
        );
        assert_eq!(v.status, Status::Reachable);
    }

    #[test]
    fn code_no_return_route_and_main_table_fallback() {
        let (mut t, tun) = (topo(), tunnel());
        // db's subnet loses its association: the main table applies, whose default route goes
        // to the internet gateway.
        t.route_tables[1].subnets.retain(|s| s != "subnet-db");
        t.firewalls[2]
            .rules
            .push(allow_in(5432, vec![Peer::Cidr(net("10.100.0.0/24"))]));
        let hint = VpnHint {
            host: None,
            nat: Some(false),
        };
        let v = check(&t, Some(&tun), &hint, "db", 5432);
        assert_eq!(v.status, Status::Blocked, "{v:#?}");
        assert!(v.has(Code::MainTableFallback));
        assert!(v.has(Code::NoReturnRoute));
        assert_eq!(
            v.sentence,
            "db:5432 is blocked: route table rtb-main sends replies to 10.100.0.2 via 0.0.0.0/0 \
             to lab-igw, not through vpn-gw"
        );
        // With NAT unknown, a missing return route is "unknown", not "blocked".
        let v = check(&t, Some(&tun), &VpnHint::default(), "db", 5432);
        assert_eq!(v.status, Status::Unknown, "{v:#?}");
        assert!(v.sentence.contains("unless vpn-gw NATs"), "{}", v.sentence);
        // The main table routing the tunnel back makes it reachable.
        t.route_tables[0].routes.push(Route {
            destination: net("10.100.0.0/24"),
            target: RouteTarget::Instance("i-vpn".into()),
        });
        let v = check(&t, Some(&tun), &hint, "db", 5432);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert_eq!(
            v.codes(),
            vec![
                Code::TunnelPeer,
                Code::MainTableFallback,
                Code::ReturnRoute,
                Code::RuleAdmits
            ]
        );
    }

    #[test]
    fn code_return_path_unknown() {
        let (mut t, tun) = (topo(), tunnel());
        t.route_tables.clear();
        t.vpcs[0].main_route_table = None;
        let v = check(
            &t,
            Some(&tun),
            &VpnHint {
                host: Some("i-vpn".into()),
                nat: None,
            },
            "app",
            80,
        );
        assert!(v.has(Code::ReturnPathUnknown));
        assert_eq!(v.status, Status::Unknown);
    }

    #[test]
    fn code_source_dest_check() {
        let (mut t, tun) = (topo(), tunnel());
        t.hosts[0].source_dest_check = Some(true);
        let hint = VpnHint {
            host: Some("vpn-gw".into()),
            nat: None,
        };
        let v = check(&t, Some(&tun), &hint, "app", 80);
        assert_eq!(v.status, Status::Blocked);
        assert!(v.has(Code::SourceDestCheck));
        assert!(
            v.sentence.contains("source/dest check on"),
            "{}",
            v.sentence
        );
    }

    #[test]
    fn code_other_vpc_and_peered() {
        let (mut t, tun) = (topo(), tunnel());
        t.hosts[1].vpc = Some("vpc-2".into());
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Blocked);
        assert!(v.has(Code::OtherVpc));
        t.peerings.push(Peering {
            id: "pcx-1".into(),
            name: "pcx-1".into(),
            vpc: "vpc-1".into(),
            peer_vpc: "vpc-2".into(),
            status: None,
        });
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert!(v.has(Code::Peered));
        assert_eq!(v.status, Status::Unknown);
    }

    #[test]
    fn code_firewall_unknown() {
        let (mut t, tun) = (topo(), tunnel());
        t.hosts[1].security_groups = vec!["sg-gone".into()];
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert!(v.has(Code::FirewallUnknown));
        assert_eq!(v.status, Status::Unknown);
        assert!(v.sentence.contains("sg-gone"));
    }

    #[test]
    fn code_egress_blocked() {
        let (mut t, tun) = (topo(), tunnel());
        t.firewalls[0].rules.clear();
        t.firewalls[0].rules.push(Rule {
            direction: Direction::Egress,
            action: Action::Allow,
            priority: 0,
            protocol: Protocol::Tcp,
            ports: Some(PortRange { from: 443, to: 443 }),
            peers: vec![Peer::Cidr(net("0.0.0.0/0"))],
            description: None,
            targets: Vec::new(),
        });
        let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
        assert_eq!(v.status, Status::Blocked, "{v:#?}");
        assert!(v.has(Code::EgressBlocked));
        assert_eq!(
            v.sentence,
            "app:80 is blocked: no rule of sg-vpn lets out tcp/80, and your traffic leaves vpn-gw \
             for 10.20.1.10 (app)"
        );
    }

    fn do_topo() -> Topology {
        let mk = |id: &str, name: &str, ip_: &str, labels: &[&str]| Host {
            id: id.into(),
            name: name.into(),
            provider: Provider::Digitalocean,
            vpc: Some("do-vpc".into()),
            subnet: None,
            zone: Some("ams3".into()),
            private_ips: vec![ip(ip_)],
            public_ip: None,
            tags: Default::default(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            security_groups: vec![],
            state: Some("active".into()),
            source_dest_check: None,
            interfaces: vec![],
            service: None,
            subnets: Vec::new(),
        };
        Topology {
            hosts: vec![
                mk("1", "vpn", "10.110.0.2", &["vpn"]),
                mk("2", "web", "10.110.0.3", &["web"]),
                mk("3", "free", "10.110.0.4", &[]),
            ],
            firewalls: vec![Firewall {
                id: "fw".into(),
                name: "fw-web".into(),
                kind: FirewallKind::Digitalocean,
                vpc: None,
                applies_to: AppliesTo::Hosts {
                    ids: vec![],
                    labels: vec!["web".into()],
                },
                rules: vec![allow_in(443, vec![Peer::Label("vpn".into())])],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn code_no_firewall_digitalocean_and_tag_reference() {
        let t = do_topo();
        let tun = Tunnel {
            addresses: vec![net("10.8.0.2/32")],
            peers: vec![TunnelPeer {
                name: "do".into(),
                endpoint: None,
                allowed_ips: vec![net("10.110.0.0/20")],
            }],
            local_routes: vec![],
        };
        let hint = VpnHint {
            host: Some("vpn".into()),
            nat: Some(true),
        };
        let v = check(&t, Some(&tun), &hint, "free", 8080);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert!(v.has(Code::NoFirewall));
        let v = check(&t, Some(&tun), &hint, "web", 443);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert!(v.sentence.contains("tag vpn"), "{}", v.sentence);
        let v = check(&t, Some(&tun), &hint, "web", 80);
        assert_eq!(v.status, Status::Blocked);
        assert!(
            v.sentence.contains("no rule of fw-web admits tcp/80"),
            "{}",
            v.sentence
        );
    }

    fn gcp_topo(rules: Vec<Rule>) -> Topology {
        let mk = |id: &str, ip_: &str, labels: &[&str], fwd: bool| Host {
            id: id.into(),
            name: id.into(),
            provider: Provider::Gcp,
            vpc: Some("net".into()),
            subnet: None,
            zone: None,
            private_ips: vec![ip(ip_)],
            public_ip: None,
            tags: Default::default(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            security_groups: vec![],
            state: Some("RUNNING".into()),
            source_dest_check: Some(!fwd),
            interfaces: vec![],
            service: None,
            subnets: Vec::new(),
        };
        Topology {
            hosts: vec![
                mk("vpn", "10.30.0.2", &[], true),
                mk("web", "10.30.0.3", &["web"], false),
            ],
            firewalls: vec![Firewall {
                id: "fw".into(),
                name: "fw-web".into(),
                kind: FirewallKind::Gcp,
                vpc: Some("net".into()),
                applies_to: AppliesTo::Network {
                    target_labels: vec!["web".into()],
                },
                rules,
            }],
            ..Default::default()
        }
    }

    fn gcp_rule(action: Action, priority: u32, port: u16) -> Rule {
        Rule {
            direction: Direction::Ingress,
            action,
            priority,
            protocol: Protocol::Tcp,
            ports: Some(PortRange {
                from: port,
                to: port,
            }),
            peers: vec![Peer::Cidr(net("10.30.0.0/24"))],
            description: None,
            targets: Vec::new(),
        }
    }

    #[test]
    fn codes_gcp_rule_denies_and_implied_deny() {
        let tun = Tunnel {
            addresses: vec![net("10.8.0.2/32")],
            peers: vec![TunnelPeer {
                name: "gcp".into(),
                endpoint: None,
                allowed_ips: vec![net("10.30.0.0/24")],
            }],
            local_routes: vec![],
        };
        let hint = VpnHint {
            host: Some("vpn".into()),
            nat: Some(true),
        };
        let t = gcp_topo(vec![
            gcp_rule(Action::Allow, 1000, 80),
            gcp_rule(Action::Deny, 900, 80),
        ]);
        let v = check(&t, Some(&tun), &hint, "web", 80);
        assert_eq!(v.status, Status::Blocked, "{v:#?}");
        assert!(v.has(Code::RuleDenies));
        assert!(v.sentence.contains("priority 900"), "{}", v.sentence);

        let t = gcp_topo(vec![
            gcp_rule(Action::Allow, 800, 80),
            gcp_rule(Action::Deny, 900, 80),
        ]);
        let v = check(&t, Some(&tun), &hint, "web", 80);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");

        let t = gcp_topo(vec![gcp_rule(Action::Allow, 1000, 80)]);
        let v = check(&t, Some(&tun), &hint, "web", 22);
        assert!(v.has(Code::ImpliedDeny), "{v:#?}");
        assert_eq!(v.status, Status::Blocked);
    }

    #[test]
    fn codes_probe_open_and_closed() {
        let (t, tun) = (topo(), tunnel());
        let hint = VpnHint::default();
        let probes = [
            Probe {
                host: "i-app".into(),
                port: 80,
                open: false,
            },
            Probe {
                host: "i-db".into(),
                port: 5432,
                open: true,
            },
        ];
        let a = Analyzer::new(&t, Some(&tun), &hint, &probes);
        let v = a.check_key("app", Protocol::Tcp, 80);
        assert_eq!(v.status, Status::Blocked);
        assert!(v.has(Code::ProbeClosed));
        assert_eq!(
            v.sentence,
            "app:80 is blocked: nothing answered the last probe"
        );
        let v = a.check_key("db", Protocol::Tcp, 5432);
        assert_eq!(v.status, Status::Reachable);
        assert!(v.has(Code::ProbeOpen));
    }

    #[test]
    fn candidate_ports_and_check_all() {
        let (t, tun) = (topo(), tunnel());
        let hint = VpnHint::default();
        let a = Analyzer::new(&t, Some(&tun), &hint, &[]);
        let app = a.find_target("app").unwrap();
        assert_eq!(a.candidate_ports(&app), vec![(Protocol::Tcp, 80)]);
        let all = a.check_all();
        assert_eq!(all.len(), 3);
        let json = serde_json::to_string(&all).unwrap();
        assert!(json.contains("\"no-rule-admits\""), "{json}");
    }

    #[test]
    fn every_code_has_a_distinct_spelling() {
        let set: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(set.len(), Code::ALL.len());
        for c in Code::ALL {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
