//! The tunnel step: which peer carries an address (or every candidate range of a managed
//! service), or which local route shadows it.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{Code, Finding, Status, Tunnel, TunnelPeer};

/// The peer and AllowedIPs prefix WireGuard picks for `range` (the longest prefix containing
/// all of it, across peers).
fn carrier(t: &Tunnel, range: IpNet) -> Option<(&TunnelPeer, IpNet)> {
    t.peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter().map(move |n| (p, *n)))
        .filter(|(_, n)| n.contains(&range))
        .max_by_key(|(_, n)| n.prefix_len())
}

/// Whether a local route of `len` bits wins over AllowedIPs `net`: at least as specific, or,
/// with a full tunnel (/0), any non-default route (wg-quick's `suppress_prefixlength 0`).
fn local_wins(len: u8, net: IpNet) -> bool {
    if net.prefix_len() == 0 {
        len > 0
    } else {
        len >= net.prefix_len()
    }
}

/// The tunnel step for `ip`.
pub(super) fn tunnel_finding(t: &Tunnel, ip: IpAddr) -> Finding {
    let Some((peer, net)) = carrier(t, IpNet::from(ip)) else {
        return Finding {
            code: Code::TunnelNoPeer,
            status: Status::Blocked,
            detail: format!("no peer's AllowedIPs include {ip}, so it does not go into the tunnel"),
        };
    };
    let shadow = t
        .local_routes
        .iter()
        .filter(|r| r.destination.contains(&ip) && local_wins(r.destination.prefix_len(), net))
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

/// How the tunnel treats one candidate range.
enum RangeFate {
    /// All of it goes to this peer.
    Carried(String, IpNet),
    /// None of it goes into the tunnel (this finding says why).
    Lost(Finding),
    /// Part of it does (why not all of it).
    Partial(String),
}

fn range_fate(t: &Tunnel, range: IpNet) -> RangeFate {
    let Some((peer, net)) = carrier(t, range) else {
        let part = t
            .peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter().map(move |n| (p, n)))
            .find(|(_, n)| range.contains(*n));
        return match part {
            Some((p, n)) => RangeFate::Partial(format!(
                "{}'s AllowedIPs {n} cover only part of {range}",
                p.name
            )),
            None => RangeFate::Lost(Finding {
                code: Code::TunnelNoPeer,
                status: Status::Blocked,
                detail: format!(
                    "no peer's AllowedIPs include {range}, so it does not go into the tunnel"
                ),
            }),
        };
    };
    let shadow = t
        .local_routes
        .iter()
        .filter(|r| r.destination.contains(&range) && local_wins(r.destination.prefix_len(), net))
        .max_by_key(|r| r.destination.prefix_len());
    if let Some(r) = shadow {
        return RangeFate::Lost(Finding {
            code: Code::TunnelShadowed,
            status: Status::Blocked,
            detail: format!(
                "your local route {} on {} is more specific than {}'s AllowedIPs {net}, so \
                 {range} goes to your local network instead of the tunnel",
                r.destination, r.device, peer.name
            ),
        });
    }
    if let Some(r) = t.local_routes.iter().find(|r| {
        range.contains(&r.destination)
            && r.destination != range
            && local_wins(r.destination.prefix_len(), net)
    }) {
        return RangeFate::Partial(format!(
            "your local route {} on {} takes part of {range} away from the tunnel",
            r.destination, r.device
        ));
    }
    RangeFate::Carried(peer.name.clone(), net)
}

/// The tunnel step for a managed service known only by its subnets' ranges: every range must
/// go into the tunnel whole.
pub(super) fn tunnel_range_finding(t: &Tunnel, name: &str, ranges: &[IpNet]) -> Finding {
    let fates: Vec<(IpNet, RangeFate)> = ranges.iter().map(|r| (*r, range_fate(t, *r))).collect();
    let carried: Vec<(IpNet, &str, IpNet)> = fates
        .iter()
        .filter_map(|(r, f)| match f {
            RangeFate::Carried(p, n) => Some((*r, p.as_str(), *n)),
            _ => None,
        })
        .collect();
    if carried.len() == fates.len() {
        let detail = carried
            .iter()
            .map(|(r, p, n)| format!("peer {p} carries {r} (AllowedIPs {n})"))
            .collect::<Vec<_>>()
            .join(", ");
        return Finding {
            code: Code::TunnelPeer,
            status: Status::Reachable,
            detail,
        };
    }
    if carried.is_empty() {
        if let Some((_, RangeFate::Lost(f))) = fates
            .iter()
            .find(|(_, f)| matches!(f, RangeFate::Lost(_)))
            .filter(|_| fates.iter().all(|(_, f)| matches!(f, RangeFate::Lost(_))))
        {
            return f.clone();
        }
    }
    let why: Vec<String> = fates
        .iter()
        .filter_map(|(r, f)| match f {
            RangeFate::Carried(..) => None,
            RangeFate::Lost(_) => Some(format!("no peer carries {r}")),
            RangeFate::Partial(s) => Some(s.clone()),
        })
        .collect();
    let some = if carried.is_empty() {
        String::new()
    } else {
        let c: Vec<String> = carried.iter().map(|(r, _, _)| r.to_string()).collect();
        format!("the tunnel carries {} but ", c.join(", "))
    };
    Finding {
        code: Code::TunnelPartial,
        status: Status::Unknown,
        detail: format!(
            "{some}{}, and the topology does not say where in its subnets {name} answers",
            why.join(", ")
        ),
    }
}
