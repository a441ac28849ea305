//! Route tables: finding the VPN host, the return route within a VPC, route lookups for an address or a range, and
//! how route targets read in sentences.

use std::net::IpAddr;

use super::{Addr, Analyzer, Code, Finding, Status, Target};
use crate::model::*;

/// The most specific route of `table` for all of `addr` (longest prefix), if any.
pub(super) fn route_for(table: &RouteTable, addr: Addr) -> Option<&Route> {
    match addr {
        Addr::Ip(ip) => table.lookup(ip),
        Addr::Range(r) => table
            .routes
            .iter()
            .filter(|x| x.destination.contains(&r))
            .max_by_key(|x| x.destination.prefix_len()),
    }
}

impl<'a> Analyzer<'a> {
    /// The VPN host or gateway the active tunnel ends on, as reach identifies it (none without
    /// a profile or when it cannot tell).
    pub fn gate(&self) -> Option<&'a Host> {
        let client = self.tunnel?.addresses.first().map(|a| a.addr());
        self.vpn_host(client)
    }

    /// The VPN host: the hint, else the host behind a peer's endpoint, else the host a route to
    /// the tunnel's address points at, else the only host that forwards.
    pub(super) fn vpn_host(&self, client: Option<IpAddr>) -> Option<&'a Host> {
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
    pub(super) fn route_host(&self, target: &RouteTarget) -> Option<&'a Host> {
        match target {
            RouteTarget::Instance(id) => self.topo.host(id),
            RouteTarget::Interface(eni) => {
                self.topo.hosts.iter().find(|h| h.interfaces.contains(eni))
            }
            _ => None,
        }
    }

    /// The route table of a host's subnet (else its VPC's main table); the flag tells whether
    /// the main-table fallback was used.
    pub(super) fn table_of(&self, h: &Host) -> Option<(&'a RouteTable, bool)> {
        match &h.subnet {
            Some(s) => self.topo.route_table_for_subnet(s),
            None => h
                .vpc
                .as_deref()
                .and_then(|v| self.topo.main_route_table(v))
                .map(|t| (t, true)),
        }
    }

    /// The gateway with this id.
    pub(super) fn gateway(&self, id: &str) -> Option<&'a Gateway> {
        self.topo.gateways.iter().find(|g| g.id == id)
    }

    /// The finding for a route Gatehouse does not follow (to a virtual private gateway, an
    /// endpoint, a transit gateway attachment from a VPC table…), if `r` is one.
    pub(super) fn unfollowed(&self, table: &RouteTable, r: &Route) -> Option<Finding> {
        match &r.target {
            RouteTarget::Gateway(id)
                if self.gateway(id).is_some_and(|g| g.kind == GatewayKind::Vpn) =>
            {
                Some(Finding {
                    code: Code::VpnGateway,
                    status: Status::Unknown,
                    detail: format!(
                        "route table {} sends {} to virtual private gateway {}, a site-to-site \
                         VPN Gatehouse does not follow",
                        table.name,
                        r.destination,
                        self.gateway(id).map(|g| g.name.as_str()).unwrap_or(id)
                    ),
                })
            }
            RouteTarget::Other(id) | RouteTarget::Attachment(id) => Some(Finding {
                code: Code::RouteNotFollowed,
                status: Status::Unknown,
                detail: format!(
                    "route table {} sends {} to {id}, which Gatehouse does not follow",
                    table.name, r.destination
                ),
            }),
            _ => None,
        }
    }

    pub(super) fn return_route(
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
        let Some((table, fallback)) = self.table_of(target) else {
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
        if let Some(f) = route
            .filter(|_| !inside_vpc)
            .and_then(|r| self.unfollowed(table, r))
        {
            out.push(f);
            return;
        }
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

    /// How a route target reads in a sentence.
    pub(super) fn describe_target(&self, t: &RouteTarget) -> String {
        let gw_name = |id: &str| {
            self.gateway(id)
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
}
