//! Rules at a host: which firewalls apply, and how each kind decides (security groups and
//! DigitalOcean firewalls allow only; GCP rules by priority; Azure NSGs in [`super::nsg`];
//! network ACLs at subnet boundaries in [`super::nacl`], not here).

use std::net::IpAddr;

use super::{join_or, proto_name, Addr, Analyzer, Code, Finding, Status, Target};
use crate::model::*;

impl<'a> Analyzer<'a> {
    /// The firewalls that apply to a host, and the ids it names that are not in the topology.
    pub(super) fn firewalls_of(&self, h: &Host) -> (Vec<&'a Firewall>, Vec<String>) {
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

    pub(super) fn peer_matches(
        &self,
        peer: &Peer,
        fw: &Firewall,
        ip: Option<Addr>,
        host: Option<&Host>,
    ) -> bool {
        match peer {
            Peer::Cidr(n) => ip.is_some_and(|a| a.within(n)),
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

    pub(super) fn describe_peer(&self, p: &Peer, fw: &Firewall) -> String {
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

    /// Decides one direction of rules at `host` (whose own address is `own`) for traffic whose
    /// other end is `ip`/`other`. Returns (status, code, detail).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn evaluate(
        &self,
        host: &Host,
        own: Option<Addr>,
        dir: Direction,
        proto: &Protocol,
        port: u16,
        ip: Option<Addr>,
        other: Option<&Host>,
        other_desc: &str,
    ) -> (Status, Code, String) {
        let (all, missing) = self.firewalls_of(host);
        // Network ACLs decide at subnet boundaries (the nacl step), not at the host.
        let fws: Vec<&Firewall> = all
            .into_iter()
            .filter(|f| f.kind != FirewallKind::NetworkAcl)
            .collect();
        let of_kind = |k: &[FirewallKind]| -> Vec<&Firewall> {
            fws.iter()
                .copied()
                .filter(|f| k.contains(&f.kind))
                .collect()
        };
        let allow_only = of_kind(&[FirewallKind::SecurityGroup, FirewallKind::Digitalocean]);
        let gcp = of_kind(&[FirewallKind::Gcp]);
        let nsgs = of_kind(&[FirewallKind::Nsg]);
        let what = format!("{}/{port}", proto_name(proto));
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
        let mut admitted_by: Option<(String, String)> = None;

        // Allow-only firewalls (security groups, DigitalOcean): any rule of any of them admits.
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
        if !allow_ok {
            let names: Vec<&str> = allow_only.iter().map(|f| f.name.as_str()).collect();
            let detail = if allowed_peers.is_empty() {
                format!(
                    "no rule of {} {verb} {what}, and your traffic {other_desc}",
                    names.join(", ")
                )
            } else {
                format!(
                    "{} {verb} {port} only {from_to} {}, and your traffic {other_desc}",
                    names.join(", "),
                    join_or(&allowed_peers)
                )
            };
            let code = if dir == Direction::Ingress {
                Code::NoRuleAdmits
            } else {
                Code::EgressBlocked
            };
            return (Status::Blocked, code, detail);
        }

        // GCP: the matching rule with the lowest priority number wins; deny wins ties.
        if !gcp.is_empty() || (fws.is_empty() && host.provider == Provider::Gcp) {
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

        // Azure NSGs: every one on the way must admit it.
        let mut nsg_admits = None;
        if !nsgs.is_empty() {
            let (status, code, detail) =
                self.nsg_verdict(host, own, &nsgs, dir, proto, port, ip, other, other_desc);
            if status != Status::Reachable {
                return (status, code, detail);
            }
            nsg_admits = Some(detail);
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
        match (admitted_by, nsg_admits) {
            (Some((fw, peer)), _) => (
                Status::Reachable,
                Code::RuleAdmits,
                if peer.is_empty() {
                    format!("{fw} {verb} {what}")
                } else {
                    format!("{fw} {verb} {what} {from_to} {peer}")
                },
            ),
            (None, Some(detail)) => (Status::Reachable, Code::NsgAdmits, detail),
            (None, None)
                if fws.is_empty()
                    && host.provider == Provider::Aws
                    && dir == Direction::Ingress =>
            {
                (
                    Status::Unknown,
                    Code::FirewallUnknown,
                    format!("no security group of {} is known", host.name),
                )
            }
            (None, None) => (
                Status::Reachable,
                Code::NoFirewall,
                format!("no firewall restricts {what} at {}", host.name),
            ),
        }
    }

    /// The rules at the target (at `addr`) for traffic arriving from `source`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rules(
        &self,
        target: &Target,
        addr: Addr,
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
            Some(addr),
            Direction::Ingress,
            proto,
            port,
            source.map(Addr::Ip),
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

    /// The VPN host's egress rules for the forwarded traffic to the target at `addr`.
    pub(super) fn egress(
        &self,
        vpn: &Host,
        target: &Target,
        addr: Addr,
        proto: &Protocol,
        port: u16,
        out: &mut Vec<Finding>,
    ) {
        let desc = format!("leaves {} for {addr} ({})", vpn.name, target.name);
        let (status, code, detail) = self.evaluate(
            vpn,
            vpn.primary_ip().map(Addr::Ip),
            Direction::Egress,
            proto,
            port,
            Some(addr),
            Some(target),
            &desc,
        );
        if status == Status::Blocked {
            out.push(match code {
                Code::EgressBlocked | Code::NsgDenies | Code::NsgDefaultDeny => Finding {
                    code,
                    status,
                    detail,
                },
                _ => Finding {
                    code: Code::EgressBlocked,
                    status,
                    detail: format!(
                        "{}'s rules do not let {}/{port} out",
                        vpn.name,
                        proto_name(proto)
                    ),
                },
            });
        }
    }
}
