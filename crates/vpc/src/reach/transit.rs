//! Another VPC than the VPN host's: through a transit gateway (the VPN host subnet's route, the
//! gateway's route tables both ways), a peering (routes both ways), or not at all.

use std::net::IpAddr;

use super::routes::route_for;
use super::{Addr, Analyzer, Code, Crossing, Finding, Status, Target};
use crate::model::*;

/// What the way back reads when it is missing: blocked, or unknown while NAT is unknown.
struct Back {
    /// The address replies go to (the tunnel address, or the VPN host's when it NATs).
    ip: Option<IpAddr>,
    /// The status of a missing way back.
    missing: Status,
    /// The clause a missing way back adds (`, so replies are lost unless … NATs …`).
    clause: String,
}

impl<'a> Analyzer<'a> {
    /// The crossing to the target's VPC, when it is not the VPN host's.
    pub(super) fn cross_vpc(
        &self,
        target: &Target,
        vpn: &Host,
        addr: Addr,
        back: Option<IpAddr>,
        nat_unknown: bool,
        out: &mut Vec<Finding>,
    ) -> Crossing {
        let (Some(a), Some(b)) = (target.vpc.as_deref(), vpn.vpc.as_deref()) else {
            return Crossing::SameVpc;
        };
        if a == b {
            return Crossing::SameVpc;
        }
        let back = Back {
            ip: back,
            missing: if nat_unknown {
                Status::Unknown
            } else {
                Status::Blocked
            },
            clause: if nat_unknown {
                format!(", so replies are lost unless {} NATs VPN traffic", vpn.name)
            } else {
                String::new()
            },
        };
        let fwd_table = self.table_of(vpn).map(|(t, _)| t);
        let fwd = fwd_table.and_then(|t| route_for(t, addr).map(|r| (t, r)));
        if let Some((t, r)) = fwd {
            if let RouteTarget::TransitGateway(tgw) = &r.target {
                self.transit(target, vpn, addr, &back, t, tgw, out);
                return Crossing::Crossed;
            }
            if let Some(f) = self.unfollowed(t, r) {
                out.push(f);
                return Crossing::Crossed;
            }
        }
        let peering = self
            .topo
            .peerings
            .iter()
            .find(|p| (p.vpc == a && p.peer_vpc == b) || (p.vpc == b && p.peer_vpc == a));
        match (peering, fwd) {
            (Some(p), _) => {
                self.peering(p, target, vpn, addr, &back, fwd_table, out);
                Crossing::Crossed
            }
            (None, Some((t, r))) if matches!(r.target, RouteTarget::Peering(_)) => {
                out.push(Finding {
                    code: Code::Peered,
                    status: Status::Unknown,
                    detail: format!(
                        "route table {} sends {addr} to {}, which the topology does not describe",
                        t.name,
                        self.describe_target(&r.target)
                    ),
                });
                Crossing::Crossed
            }
            (None, _) => {
                out.push(Finding {
                    code: Code::OtherVpc,
                    status: Status::Blocked,
                    detail: format!(
                        "{} is in VPC {a}, and the VPN host {} is in {b} with no peering between \
                         them",
                        target.name, vpn.name
                    ),
                });
                Crossing::Stop
            }
        }
    }

    /// A peering between the VPCs: the VPN host's table must send the target into it, and the
    /// target's table must return the replies through it.
    #[allow(clippy::too_many_arguments)]
    fn peering(
        &self,
        p: &Peering,
        target: &Target,
        vpn: &Host,
        addr: Addr,
        back: &Back,
        fwd_table: Option<&RouteTable>,
        out: &mut Vec<Finding>,
    ) {
        let back_table = self.table_of(target).map(|(t, _)| t);
        let (Some(ft), Some(bt)) = (fwd_table, back_table) else {
            out.push(Finding {
                code: Code::Peered,
                status: Status::Unknown,
                detail: format!(
                    "{} is in another VPC than {}, reached through peering {} whose route tables \
                     are not in the topology",
                    target.name, vpn.name, p.name
                ),
            });
            return;
        };
        let via = |r: Option<&Route>| {
            r.is_some_and(|r| matches!(&r.target, RouteTarget::Peering(id) if *id == p.id))
        };
        let fr = route_for(ft, addr);
        if !via(fr) {
            let detail = match fr {
                Some(r) if r.target == RouteTarget::Blackhole => format!(
                    "route table {} blackholes {addr} ({}), so nothing goes through peering {}",
                    ft.name, target.name, p.name
                ),
                Some(r) => format!(
                    "route table {} sends {addr} ({}) via {} to {}, not through peering {}",
                    ft.name,
                    target.name,
                    r.destination,
                    self.describe_target(&r.target),
                    p.name
                ),
                None => format!(
                    "route table {} has no route to {addr} ({}) through peering {}",
                    ft.name, target.name, p.name
                ),
            };
            out.push(Finding {
                code: Code::PeeringNoRoute,
                status: Status::Blocked,
                detail,
            });
            return;
        }
        let Some(back_ip) = back.ip else {
            out.push(Finding {
                code: Code::ReturnPathUnknown,
                status: Status::Unknown,
                detail: "without the tunnel's address the return route cannot be checked".into(),
            });
            return;
        };
        let br = bt.lookup(back_ip);
        if via(br) {
            out.push(Finding {
                code: Code::Peered,
                status: Status::Reachable,
                detail: format!(
                    "peering {} carries {addr} ({}) from route table {} and {} returns replies \
                     to {back_ip} through it",
                    p.name, target.name, ft.name, bt.name
                ),
            });
            return;
        }
        if let Some(f) = br.and_then(|r| self.unfollowed(bt, r)) {
            out.push(f);
            return;
        }
        let detail = match br {
            Some(r) if r.target == RouteTarget::Blackhole => format!(
                "route table {} blackholes replies to {back_ip}{}",
                bt.name, back.clause
            ),
            Some(r) => format!(
                "route table {} sends replies to {back_ip} via {} to {}, not through peering \
                 {}{}",
                bt.name,
                r.destination,
                self.describe_target(&r.target),
                p.name,
                back.clause
            ),
            None => format!(
                "route table {} has no route back to {back_ip} through peering {}{}",
                bt.name, p.name, back.clause
            ),
        };
        out.push(Finding {
            code: Code::NoReturnRoute,
            status: back.missing,
            detail,
        });
    }

    /// Through transit gateway `tgw_id`, which the VPN host's table `ft` sends `addr` to.
    #[allow(clippy::too_many_arguments)]
    fn transit(
        &self,
        target: &Target,
        vpn: &Host,
        addr: Addr,
        back: &Back,
        ft: &RouteTable,
        tgw_id: &str,
        out: &mut Vec<Finding>,
    ) {
        let unknown = |detail: String| Finding {
            code: Code::TransitUnknown,
            status: Status::Unknown,
            detail,
        };
        let Some(tgw) = self.transit_gateway(tgw_id) else {
            out.push(unknown(format!(
                "route table {} sends {addr} to transit gateway {tgw_id}, which the topology does \
                 not describe",
                ft.name
            )));
            return;
        };
        let from = vpn.vpc.clone().unwrap_or_default();
        let to = target.vpc.clone().unwrap_or_default();
        let there = format!("on the way to {}", target.name);
        let fwd = match self.tgw_hop(tgw, &from, &to, addr, &there, Status::Blocked, "") {
            Ok(d) => d,
            Err(f) => return out.push(f),
        };
        let Some(back_ip) = back.ip else {
            out.push(Finding {
                code: Code::ReturnPathUnknown,
                status: Status::Unknown,
                detail: "without the tunnel's address the return route cannot be checked".into(),
            });
            return;
        };
        let Some((bt, _)) = self.table_of(target) else {
            out.push(unknown(format!(
                "no route table is known for {}'s subnet, so the way back through transit \
                 gateway {} is unknown",
                target.name, tgw.name
            )));
            return;
        };
        let br = bt.lookup(back_ip);
        let back_tgw = match br.map(|r| &r.target) {
            Some(RouteTarget::TransitGateway(id)) => match self.transit_gateway(id) {
                Some(g) => g,
                None => {
                    return out.push(unknown(format!(
                        "route table {} sends replies to {back_ip} to transit gateway {id}, which \
                         the topology does not describe",
                        bt.name
                    )))
                }
            },
            _ => {
                if let Some(f) = br.and_then(|r| self.unfollowed(bt, r)) {
                    return out.push(f);
                }
                let detail = match br {
                    Some(r) if r.target == RouteTarget::Blackhole => format!(
                        "route table {} blackholes replies to {back_ip}{}",
                        bt.name, back.clause
                    ),
                    Some(r) => format!(
                        "route table {} sends replies to {back_ip} via {} to {}, not to transit \
                         gateway {}{}",
                        bt.name,
                        r.destination,
                        self.describe_target(&r.target),
                        tgw.name,
                        back.clause
                    ),
                    None => format!(
                        "route table {} has no route back to {back_ip} through transit gateway \
                         {}{}",
                        bt.name, tgw.name, back.clause
                    ),
                };
                return out.push(Finding {
                    code: Code::NoReturnRoute,
                    status: back.missing,
                    detail,
                });
            }
        };
        let home = "on the way back".to_string();
        let bwd = match self.tgw_hop(
            back_tgw,
            &to,
            &from,
            Addr::Ip(back_ip),
            &home,
            back.missing,
            &back.clause,
        ) {
            Ok(d) => d,
            Err(f) => return out.push(f),
        };
        out.push(Finding {
            code: Code::TransitGateway,
            status: Status::Reachable,
            detail: format!(
                "transit gateway {} carries {addr} from route table {} through {fwd}, and \
                 replies to {back_ip} from route table {} through {bwd}",
                tgw.name, ft.name, bt.name
            ),
        });
    }

    fn transit_gateway(&self, id: &str) -> Option<&'a Gateway> {
        self.gateway(id).filter(|g| g.kind == GatewayKind::Transit)
    }

    /// One hop through a transit gateway: from `from`'s attachment, its route table must send
    /// `addr` to an attachment of `to`. Ok: how it reads; Err: the finding that stops it.
    #[allow(clippy::too_many_arguments)]
    fn tgw_hop(
        &self,
        tgw: &Gateway,
        from: &str,
        to: &str,
        addr: Addr,
        way: &str,
        no_route: Status,
        clause: &str,
    ) -> Result<String, Finding> {
        let unknown = |detail: String| Finding {
            code: Code::TransitUnknown,
            status: Status::Unknown,
            detail,
        };
        let vpc_name = |id: &str| {
            self.topo
                .vpc(id)
                .map(|v| v.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let Some(att) = tgw
            .attachments
            .iter()
            .find(|a| a.vpc.as_deref() == Some(from))
        else {
            return Err(unknown(format!(
                "transit gateway {} has no attachment of VPC {} in the topology ({way})",
                tgw.name,
                vpc_name(from)
            )));
        };
        let table = match &att.route_table {
            Some(id) => self.topo.route_tables.iter().find(|t| &t.id == id),
            None => self
                .topo
                .route_tables
                .iter()
                .find(|t| t.gateway.as_deref() == Some(tgw.id.as_str()) && t.main),
        };
        let Some(table) = table else {
            return Err(unknown(format!(
                "the route table of transit gateway {}'s attachment {} is not in the topology \
                 ({way})",
                tgw.name, att.id
            )));
        };
        let no = |detail: String| Finding {
            code: Code::TransitNoRoute,
            status: no_route,
            detail,
        };
        match route_for(table, addr).map(|r| &r.target) {
            None => Err(no(format!(
                "transit gateway {}'s route table {} has no route to {addr} ({way}){clause}",
                tgw.name, table.name
            ))),
            Some(RouteTarget::Blackhole) => Err(no(format!(
                "transit gateway {}'s route table {} blackholes {addr} ({way}){clause}",
                tgw.name, table.name
            ))),
            Some(RouteTarget::Attachment(id)) => {
                match tgw.attachments.iter().find(|a| &a.id == id) {
                    None => Err(unknown(format!(
                        "transit gateway {}'s route table {} sends {addr} to attachment {id}, \
                         which the topology does not describe ({way})",
                        tgw.name, table.name
                    ))),
                    Some(a) if a.vpc.as_deref() == Some(to) => Ok(format!(
                        "its table {} to attachment {} of {}",
                        table.name,
                        a.id,
                        vpc_name(to)
                    )),
                    Some(a) => Err(no(format!(
                        "transit gateway {}'s route table {} sends {addr} to attachment {} ({}), \
                         not to VPC {} ({way}){clause}",
                        tgw.name,
                        table.name,
                        a.id,
                        a.vpc
                            .as_deref()
                            .map(vpc_name)
                            .or_else(|| a.kind.clone())
                            .unwrap_or_else(|| "unknown".into()),
                        vpc_name(to)
                    ))),
                }
            }
            Some(t) => Err(unknown(format!(
                "transit gateway {}'s route table {} sends {addr} to {}, which Gatehouse does not \
                 follow ({way})",
                tgw.name,
                table.name,
                self.describe_target(t)
            ))),
        }
    }
}
