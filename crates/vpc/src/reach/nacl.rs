//! Network ACLs: stateless, at the subnet boundary, rules in rule-number order (`priority`),
//! the first match wins, no match is denied (the final `*` rule). The target subnet's ACL must
//! admit the traffic in and let the replies out to the client's ephemeral ports; when the VPN
//! host is in another subnet, its subnet's ACL must let the traffic out and the replies in.

use std::net::IpAddr;

use super::{proto_name, Addr, Analyzer, Code, Finding, Status, Target};
use crate::model::*;

/// The ephemeral ports a Linux client (and a NATing Linux VPN host) connects from.
pub(super) const EPHEMERAL: PortRange = PortRange {
    from: 32768,
    to: 60999,
};

/// How one ACL treats one direction.
enum Decision<'r> {
    /// These rules, first to last, allow every port needed.
    Allowed(Vec<&'r Rule>),
    /// This deny rule matches (some of) it first.
    Denied(&'r Rule),
    /// No rule matches all of it: the final `*` rule denies the rest (after this allow rule
    /// for part of it, if any).
    Unmatched(Option<&'r Rule>),
}

/// The rule number as AWS shows it (`*` for the final rule).
fn number(r: &Rule) -> String {
    if r.priority >= 32767 {
        "*".into()
    } else {
        r.priority.to_string()
    }
}

/// A rule's ports in a sentence.
fn ports_of(r: &Rule) -> String {
    match r.ports {
        Some(p) if r.protocol.has_ports() => format!("ports {p}"),
        _ => "every port".into(),
    }
}

/// Decides `acl` for traffic of `proto` on the ports `need` (`None`: ports do not apply) whose
/// other end is `peer` (`None`: unknown, so only rules for every address match).
fn decide<'r>(
    acl: &'r Firewall,
    dir: Direction,
    proto: &Protocol,
    need: Option<PortRange>,
    peer: Option<Addr>,
) -> Decision<'r> {
    let mut rules: Vec<&Rule> = acl
        .rules
        .iter()
        .filter(|r| r.direction == dir && r.protocol.matches(proto))
        .collect();
    rules.sort_by_key(|r| r.priority);
    let mut left: Vec<(u32, u32)> = match need {
        Some(p) => vec![(p.from.into(), p.to.into())],
        None => vec![(0, 65535)],
    };
    let mut allows = Vec::new();
    for r in rules {
        let peer_ok = r.peers.iter().any(|p| match p {
            Peer::Cidr(n) => peer.map_or(n.prefix_len() == 0, |a| a.within(n)),
            _ => false,
        });
        if !peer_ok {
            continue;
        }
        let (lo, hi): (u32, u32) = match (need, r.ports) {
            (Some(_), Some(p)) if r.protocol.has_ports() => (p.from.into(), p.to.into()),
            _ => (0, 65535),
        };
        if !left.iter().any(|(a, b)| *a <= hi && lo <= *b) {
            continue;
        }
        if r.action == Action::Deny {
            // The source's explicit final `*` rule reads as no match.
            if r.priority >= 32767 {
                break;
            }
            return Decision::Denied(r);
        }
        left = left
            .into_iter()
            .flat_map(|(a, b)| {
                let below = (a < lo).then(|| (a, lo - 1));
                let above = (b > hi).then(|| (hi + 1, b));
                below.into_iter().chain(above)
            })
            .collect();
        allows.push(r);
        if left.is_empty() {
            return Decision::Allowed(allows);
        }
    }
    Decision::Unmatched(allows.first().copied())
}

impl Analyzer<'_> {
    /// The network ACLs of a subnet.
    fn nacls_of(&self, subnet: Option<&str>) -> Vec<&Firewall> {
        let Some(s) = subnet else {
            return Vec::new();
        };
        self.topo
            .firewalls
            .iter()
            .filter(|f| f.kind == FirewallKind::NetworkAcl)
            .filter(|f| matches!(&f.applies_to, AppliesTo::Subnets { ids } if ids.iter().any(|i| i == s)))
            .collect()
    }

    /// The network ACL step: the target subnet's ACL for the traffic from `source` and its
    /// replies, and the VPN host subnet's when it is another subnet. One `nacl-admits` finding
    /// when all pass, else one finding per failing direction. Nothing when no ACL applies or
    /// the VPN host is in the target's subnet (traffic within a subnet crosses no ACL).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nacl_step(
        &self,
        target: &Target,
        vpn: Option<&Host>,
        addr: Addr,
        source: Option<IpAddr>,
        proto: &Protocol,
        port: u16,
        out: &mut Vec<Finding>,
    ) {
        if vpn.is_some_and(|v| v.subnet.is_some() && v.subnet == target.subnet) {
            return;
        }
        let here = self.nacls_of(target.subnet.as_deref());
        let there = vpn
            .map(|v| self.nacls_of(v.subnet.as_deref()))
            .unwrap_or_default();
        if here.is_empty() && there.is_empty() {
            return;
        }
        let ports = proto.has_ports();
        let need = ports.then_some(PortRange {
            from: port,
            to: port,
        });
        let reply = ports.then_some(EPHEMERAL);
        let what = if ports {
            format!("{}/{port}", proto_name(proto))
        } else {
            proto_name(proto)
        };
        let p = proto_name(proto);
        let src = source.map(Addr::Ip);
        let src_s = source
            .map(|a| a.to_string())
            .unwrap_or_else(|| "your (unknown) address".into());
        let range = if ports {
            format!(" on the ephemeral ports {EPHEMERAL}")
        } else {
            String::new()
        };
        let vpn_name = vpn.map(|v| v.name.as_str()).unwrap_or("the VPN host");
        // (ACL name, what it lets through and by which rules), grouped by ACL at the end.
        let mut passes: Vec<(String, String)> = Vec::new();
        let mut fails: Vec<Finding> = Vec::new();
        let mut fail = |code: Code, detail: String, by_source: bool| {
            let unknown = by_source && source.is_none();
            fails.push(Finding {
                code,
                status: if unknown {
                    Status::Unknown
                } else {
                    Status::Blocked
                },
                detail,
            });
        };
        let reply_fail = |acl: &Firewall, d: &Decision, towards: &str| match d {
            Decision::Denied(r) => format!(
                "network ACL {} rule {} denies {p} replies {towards} on {}, and replies need \
                 every ephemeral port {EPHEMERAL}",
                acl.name,
                number(r),
                ports_of(r)
            ),
            Decision::Unmatched(Some(r)) => format!(
                "network ACL {} rule {} allows {p} replies {towards} only on {}, and replies need \
                 every ephemeral port {EPHEMERAL}, so the final * rule denies the rest",
                acl.name,
                number(r),
                ports_of(r)
            ),
            _ => format!(
                "no rule of network ACL {} allows {p} replies {towards}{range}, so its final * \
                 rule denies them",
                acl.name
            ),
        };
        let allowed = |acl: &Firewall, rules: &[&Rule], what: &str| {
            let nums: Vec<String> = rules.iter().map(|r| number(r)).collect();
            let s = if nums.len() == 1 { "" } else { "s" };
            (
                acl.name.clone(),
                format!("{what} (rule{s} {})", nums.join(", ")),
            )
        };

        // The VPN host's subnet lets the forwarded traffic out…
        for acl in &there {
            match decide(acl, Direction::Egress, proto, need, Some(addr)) {
                Decision::Allowed(rs) => {
                    passes.push(allowed(acl, &rs, &format!("lets it out to {addr}")))
                }
                Decision::Denied(r) => fail(
                    Code::NaclDeniesOut,
                    format!(
                        "network ACL {} of {vpn_name}'s subnet rule {} denies {what} out to {addr}",
                        acl.name,
                        number(r)
                    ),
                    false,
                ),
                Decision::Unmatched(_) => fail(
                    Code::NaclDeniesOut,
                    format!(
                        "no rule of network ACL {} of {vpn_name}'s subnet lets {what} out to \
                         {addr}, so its final * rule denies it",
                        acl.name
                    ),
                    false,
                ),
            }
        }
        // … the target's subnet admits it and lets the replies out…
        for acl in &here {
            match decide(acl, Direction::Ingress, proto, need, src) {
                Decision::Allowed(rs) => {
                    passes.push(allowed(acl, &rs, &format!("admits {what} from {src_s}")))
                }
                Decision::Denied(r) => fail(
                    Code::NaclDeniesIn,
                    format!(
                        "network ACL {} rule {} denies {what} from {src_s}",
                        acl.name,
                        number(r)
                    ),
                    true,
                ),
                Decision::Unmatched(_) => fail(
                    Code::NaclDeniesIn,
                    format!(
                        "no rule of network ACL {} admits {what} from {src_s}, so its final * \
                         rule denies it",
                        acl.name
                    ),
                    true,
                ),
            }
            let towards = format!("to {src_s}");
            match decide(acl, Direction::Egress, proto, reply, src) {
                Decision::Allowed(rs) => {
                    passes.push(allowed(acl, &rs, &format!("lets the replies out{range}")))
                }
                d => fail(Code::NaclDeniesReply, reply_fail(acl, &d, &towards), true),
            }
        }
        // … and the VPN host's subnet lets the replies back in.
        for acl in &there {
            let towards = format!("from {addr} back into {vpn_name}'s subnet");
            match decide(acl, Direction::Ingress, proto, reply, Some(addr)) {
                Decision::Allowed(rs) => passes.push(allowed(
                    acl,
                    &rs,
                    &format!("lets the replies back in{range}"),
                )),
                d => fail(
                    Code::NaclDeniesReplyIn,
                    reply_fail(acl, &d, &towards),
                    false,
                ),
            }
        }
        if fails.is_empty() {
            let mut by_acl: Vec<(String, Vec<String>)> = Vec::new();
            for (acl, part) in passes {
                match by_acl.iter_mut().find(|(a, _)| *a == acl) {
                    Some((_, parts)) => parts.push(part),
                    None => by_acl.push((acl, vec![part])),
                }
            }
            let detail: Vec<String> = by_acl
                .into_iter()
                .map(|(acl, parts)| format!("network ACL {acl} {}", parts.join(" and ")))
                .collect();
            out.push(Finding {
                code: Code::NaclAdmits,
                status: Status::Reachable,
                detail: detail.join(", and "),
            });
        } else {
            out.extend(fails);
        }
    }
}
