//! Azure network security groups: stateful; in each NSG the matching rule with the lowest
//! priority wins (allow or deny); inbound the subnet's NSG and then the NIC's must both admit,
//! outbound the NIC's and then the subnet's. Service tags: `VirtualNetwork` (the VNet, peered
//! VNets, and the tunnel's addresses when the VNet has a VPN gateway), `Internet` (anything
//! else), `AzureLoadBalancer` (168.63.129.16); other tags never match.

use ipnet::IpNet;

use super::{proto_name, Addr, Analyzer, Code, Status};
use crate::model::*;

/// Azure's health probe source, the `AzureLoadBalancer` service tag.
const AZURE_LB: &str = "168.63.129.16/32";

/// A rule's name (its description), else its priority.
fn rule_name(r: &Rule) -> String {
    r.description
        .clone()
        .unwrap_or_else(|| format!("#{}", r.priority))
}

/// Whether this is Azure's DenyAllInBound / DenyAllOutBound default rule.
fn is_default_deny(r: &Rule) -> bool {
    r.action == Action::Deny
        && (r.priority == 65500
            || matches!(
                r.description.as_deref(),
                Some("DenyAllInBound" | "DenyAllOutBound")
            ))
}

impl Analyzer<'_> {
    /// The address ranges of the `VirtualNetwork` tag for a host: its VNet's, the peered
    /// VNets', and the tunnel's addresses when its VNet has a VPN gateway.
    fn virtual_network(&self, host: &Host, fw: &Firewall) -> Vec<IpNet> {
        let Some(vnet) = host.vpc.as_deref().or(fw.vpc.as_deref()) else {
            return Vec::new();
        };
        let mut nets: Vec<IpNet> = Vec::new();
        let mut add = |id: &str| {
            if let Some(v) = self.topo.vpc(id) {
                nets.extend(v.cidrs.iter().copied());
            }
        };
        add(vnet);
        for p in &self.topo.peerings {
            if p.vpc == vnet {
                add(&p.peer_vpc);
            } else if p.peer_vpc == vnet {
                add(&p.vpc);
            }
        }
        let vpn_gateway = self
            .topo
            .gateways
            .iter()
            .any(|g| g.kind == GatewayKind::Vpn && g.vpc.as_deref() == Some(vnet));
        if vpn_gateway {
            if let Some(t) = self.tunnel {
                nets.extend(t.addresses.iter().copied());
            }
        }
        nets
    }

    /// Whether an NSG prefix matches `addr` (`None`: a service tag Gatehouse does not know).
    fn nsg_peer(
        &self,
        p: &Peer,
        fw: &Firewall,
        host: &Host,
        addr: Option<Addr>,
        other: Option<&Host>,
    ) -> Option<bool> {
        let in_vnet = |a: Addr| self.virtual_network(host, fw).iter().any(|n| a.within(n));
        match p {
            Peer::ServiceTag(t) => match t.to_ascii_lowercase().as_str() {
                "virtualnetwork" => Some(addr.is_some_and(in_vnet)),
                "internet" => Some(addr.is_some_and(|a| !in_vnet(a))),
                "azureloadbalancer" => Some(
                    addr.is_some_and(|a| AZURE_LB.parse::<IpNet>().is_ok_and(|n| a.within(&n))),
                ),
                _ => None,
            },
            _ => Some(self.peer_matches(p, fw, addr, other)),
        }
    }

    /// The rule of one NSG that decides (lowest priority match), and the unknown service tags
    /// of rules skipped on the way.
    #[allow(clippy::too_many_arguments)]
    fn nsg_decide<'f>(
        &self,
        fw: &'f Firewall,
        host: &Host,
        own: Option<Addr>,
        dir: Direction,
        proto: &Protocol,
        port: u16,
        ip: Option<Addr>,
        other: Option<&Host>,
    ) -> (Option<&'f Rule>, Vec<String>) {
        let mut rules: Vec<&Rule> = fw
            .rules
            .iter()
            .filter(|r| r.direction == dir && r.covers(proto, Some(port)))
            .collect();
        rules.sort_by_key(|r| r.priority);
        let mut unknown: Vec<String> = Vec::new();
        let mut note = |r: &Rule, p: &Peer| {
            if let Peer::ServiceTag(t) = p {
                let s = format!("{} names service tag {t}", rule_name(r));
                if !unknown.contains(&s) {
                    unknown.push(s);
                }
            }
        };
        for r in rules {
            let mut target_ok = r.targets.is_empty();
            for p in &r.targets {
                match self.nsg_peer(p, fw, host, own, Some(host)) {
                    Some(true) => target_ok = true,
                    Some(false) => {}
                    None => note(r, p),
                }
            }
            if !target_ok {
                continue;
            }
            let mut hit = false;
            for p in &r.peers {
                match self.nsg_peer(p, fw, host, ip, other) {
                    Some(true) => hit = true,
                    Some(false) => {}
                    None => note(r, p),
                }
            }
            if hit {
                return (Some(r), unknown);
            }
        }
        (None, unknown)
    }

    /// The NSGs at `host` for one direction: every one must admit. Returns (status, code,
    /// detail).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nsg_verdict(
        &self,
        host: &Host,
        own: Option<Addr>,
        nsgs: &[&Firewall],
        dir: Direction,
        proto: &Protocol,
        port: u16,
        ip: Option<Addr>,
        other: Option<&Host>,
        other_desc: &str,
    ) -> (Status, Code, String) {
        let (subnet, nic): (Vec<&Firewall>, Vec<&Firewall>) = nsgs
            .iter()
            .copied()
            .partition(|f| matches!(f.applies_to, AppliesTo::Subnets { .. }));
        let order: Vec<&Firewall> = if dir == Direction::Ingress {
            subnet.into_iter().chain(nic).collect()
        } else {
            nic.into_iter().chain(subnet).collect()
        };
        let what = format!("{}/{port}", proto_name(proto));
        let (verb, verbs, from_to, default) = if dir == Direction::Ingress {
            ("admit", "admits", "from", "DenyAllInBound")
        } else {
            ("let out", "lets out", "to", "DenyAllOutBound")
        };
        let mut admits: Vec<String> = Vec::new();
        for fw in order {
            let (hit, unknown) = self.nsg_decide(fw, host, own, dir, proto, port, ip, other);
            let tags = if unknown.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}, which Gatehouse does not know, so it never matches)",
                    unknown.join("; ")
                )
            };
            match hit {
                Some(r) if r.action == Action::Allow => admits.push(format!(
                    "NSG {} rule {} (priority {})",
                    fw.name,
                    rule_name(r),
                    r.priority
                )),
                Some(r) if is_default_deny(r) => {
                    return (
                        Status::Blocked,
                        Code::NsgDefaultDeny,
                        format!(
                            "no rule of NSG {} {verbs} {what} before its default rule {} \
                             (priority {}) denies it{tags}, and your traffic {other_desc}",
                            fw.name,
                            rule_name(r),
                            r.priority
                        ),
                    )
                }
                Some(r) => {
                    return (
                        Status::Blocked,
                        Code::NsgDenies,
                        format!(
                            "NSG {} rule {} (priority {}) denies {what}{tags}, and your traffic \
                             {other_desc}",
                            fw.name,
                            rule_name(r),
                            r.priority
                        ),
                    )
                }
                None => {
                    return (
                        Status::Blocked,
                        Code::NsgDefaultDeny,
                        format!(
                            "no rule of NSG {} {verbs} {what}, so Azure's default rule {default} \
                             (priority 65500) denies it{tags}, and your traffic {other_desc}",
                            fw.name
                        ),
                    )
                }
            }
        }
        let verb = if admits.len() == 1 { verbs } else { verb };
        let peer = ip.map(|a| format!(" {from_to} {a}")).unwrap_or_default();
        (
            Status::Reachable,
            Code::NsgAdmits,
            format!("{} {verb} {what}{peer}", admits.join(" and ")),
        )
    }
}
