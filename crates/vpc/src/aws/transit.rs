//! Transit gateways (EC2 `DescribeTransitGateways`) with their attachments
//! (`DescribeTransitGatewayAttachments` for every kind and its route table association,
//! `DescribeTransitGatewayVpcAttachments` for a VPC attachment's subnets) and route tables
//! (`DescribeTransitGatewayRouteTables`, routes by `SearchTransitGatewayRoutes`); VPN gateways
//! (`DescribeVpnGateways`). All optional: a refusal is a warning.
//!
//! A transit gateway is a [`GatewayKind::Transit`] gateway without a VPC, its attachments in
//! [`Gateway::attachments`]; its route tables are [`RouteTable`]s with `gateway` set, `main`
//! for its default association table, routes to [`RouteTarget::Attachment`] or
//! [`RouteTarget::Blackhole`]. A VPN gateway is a [`GatewayKind::Vpn`] gateway of the VPC it is
//! attached to.

use std::collections::BTreeMap;

use roxmltree::Node;

use super::reader::{Reader, Resources};
use super::xml::{kid_texts, kids, name_or, tag_map, text_at, text_of};
use super::{AwsError, Service};
use crate::model::*;

/// What the transit and VPN gateway calls gave.
#[derive(Debug, Default)]
pub struct Found {
    gateways: Vec<Gateway>,
    /// Attachments by id, with their transit gateway.
    attachments: BTreeMap<String, (String, Attachment)>,
    tables: Vec<RouteTable>,
    /// The route table whose `SearchTransitGatewayRoutes` is being read.
    pending: Option<String>,
}

/// Reads the region's transit gateways (and, when there are any, their attachments and route
/// tables) and VPN gateways.
pub(super) fn read(r: &mut Reader<'_>) -> Result<(), AwsError> {
    use Service::Ec2;
    let res = r.pages(Ec2, "DescribeTransitGateways", vec![], 1000, gateways);
    if r.optional(res, "transit gateways")? && !r.out.transit.gateways.is_empty() {
        let res = r.pages(
            Ec2,
            "DescribeTransitGatewayAttachments",
            vec![],
            1000,
            attachments,
        );
        r.optional(res, "transit gateway attachments")?;
        let res = r.pages(
            Ec2,
            "DescribeTransitGatewayVpcAttachments",
            vec![],
            1000,
            vpc_attachments,
        );
        r.optional(res, "the subnets of transit gateway VPC attachments")?;
        let res = r.pages(
            Ec2,
            "DescribeTransitGatewayRouteTables",
            vec![],
            1000,
            tables,
        );
        if r.optional(res, "transit gateway route tables")? {
            let ids: Vec<String> = r.out.transit.tables.iter().map(|t| t.id.clone()).collect();
            for id in ids {
                r.out.transit.pending = Some(id.clone());
                // Every route but the deleted ones: a filter is required. No `MaxResults`: the
                // default is the largest answer (and moto fails on the parameter).
                let p = vec![
                    ("TransitGatewayRouteTableId".to_string(), id.clone()),
                    ("Filter.1.Name".to_string(), "type".to_string()),
                    ("Filter.1.Value.1".to_string(), "static".to_string()),
                    ("Filter.1.Value.2".to_string(), "propagated".to_string()),
                ];
                let res = r.pages(Ec2, "SearchTransitGatewayRoutes", p, 0, routes);
                r.optional(res, &format!("the routes of {id}"))?;
            }
            r.out.transit.pending = None;
        }
    }
    let res = r.pages(Ec2, "DescribeVpnGateways", vec![], 0, vpn_gateways);
    r.optional(res, "VPN gateways")?;
    Ok(())
}

fn gone(state: Option<String>) -> bool {
    matches!(
        state.as_deref(),
        Some("deleted" | "deleting" | "failed" | "rejected")
    )
}

fn gateways(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in kids(root, "transitGatewaySet") {
        let Some(id) = text_of(g, "transitGatewayId").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("a transit gateway without an id was skipped".into());
            continue;
        };
        if gone(text_of(g, "state")) {
            continue;
        }
        let tags = tag_map(g);
        out.transit.gateways.push(Gateway {
            name: name_or(&tags, &id),
            id,
            kind: GatewayKind::Transit,
            vpc: None,
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        });
    }
}

fn attachments(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for a in kids(root, "transitGatewayAttachments") {
        let (Some(id), Some(tgw)) = (
            text_of(a, "transitGatewayAttachmentId").filter(|i| !i.is_empty()),
            text_of(a, "transitGatewayId").filter(|i| !i.is_empty()),
        ) else {
            out.warnings
                .push("a transit gateway attachment without an id or gateway was skipped".into());
            continue;
        };
        if gone(text_of(a, "state")) {
            continue;
        }
        let kind = text_of(a, "resourceType").filter(|k| !k.is_empty());
        let resource = text_of(a, "resourceId").filter(|k| !k.is_empty());
        let entry = out
            .transit
            .attachments
            .entry(id.clone())
            .or_insert_with(|| {
                (
                    tgw,
                    Attachment {
                        id,
                        ..Attachment::default()
                    },
                )
            });
        let att = &mut entry.1;
        if kind.as_deref() == Some("vpc") && att.vpc.is_none() {
            att.vpc = resource;
        }
        att.kind = kind;
        att.route_table = text_at(a, &["association", "transitGatewayRouteTableId"]);
    }
}

fn vpc_attachments(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for a in kids(root, "transitGatewayVpcAttachments") {
        let (Some(id), Some(tgw)) = (
            text_of(a, "transitGatewayAttachmentId").filter(|i| !i.is_empty()),
            text_of(a, "transitGatewayId").filter(|i| !i.is_empty()),
        ) else {
            continue; // Said once already by the attachments call.
        };
        if gone(text_of(a, "state")) {
            continue;
        }
        let entry = out
            .transit
            .attachments
            .entry(id.clone())
            .or_insert_with(|| {
                (
                    tgw,
                    Attachment {
                        id,
                        kind: Some("vpc".into()),
                        ..Attachment::default()
                    },
                )
            });
        let att = &mut entry.1;
        att.vpc = text_of(a, "vpcId").filter(|v| !v.is_empty());
        att.subnets = kid_texts(a, "subnetIds", None);
    }
}

fn tables(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for t in kids(root, "transitGatewayRouteTables") {
        let (Some(id), Some(tgw)) = (
            text_of(t, "transitGatewayRouteTableId").filter(|i| !i.is_empty()),
            text_of(t, "transitGatewayId").filter(|i| !i.is_empty()),
        ) else {
            out.warnings
                .push("a transit gateway route table without an id or gateway was skipped".into());
            continue;
        };
        if gone(text_of(t, "state")) {
            continue;
        }
        let tags = tag_map(t);
        out.transit.tables.push(RouteTable {
            name: name_or(&tags, &id),
            id,
            vpc: None,
            main: text_of(t, "defaultAssociationRouteTable").as_deref() == Some("true"),
            routes: Vec::new(),
            subnets: Vec::new(),
            gateway: Some(tgw),
        });
    }
}

fn routes(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    let Some(table_id) = out.transit.pending.clone() else {
        return;
    };
    let mut got = Vec::new();
    for r in kids(root, "routeSet") {
        let state = text_of(r, "state").unwrap_or_default();
        if matches!(state.as_str(), "deleted" | "deleting") {
            continue;
        }
        let Some(dest) = text_of(r, "destinationCidrBlock").filter(|d| !d.is_empty()) else {
            let what = text_of(r, "prefixListId").unwrap_or_else(|| "no destination".into());
            out.warnings.push(format!(
                "{table_id}: a route to {what} is not shown (prefix lists are not read)"
            ));
            continue;
        };
        let Ok(destination) = dest.parse::<ipnet::IpNet>() else {
            out.warnings.push(format!(
                "{table_id}: a route to {dest:?} was skipped (bad CIDR)"
            ));
            continue;
        };
        let target = if state == "blackhole" {
            RouteTarget::Blackhole
        } else {
            let ids = kid_texts(
                r,
                "transitGatewayAttachments",
                Some("transitGatewayAttachmentId"),
            );
            match ids.first() {
                Some(a) => RouteTarget::Attachment(a.clone()),
                None => {
                    out.warnings.push(format!(
                        "{table_id}: the route to {dest} names no attachment; skipped"
                    ));
                    continue;
                }
            }
        };
        got.push(Route {
            destination,
            target,
        });
    }
    if text_of(root, "additionalRoutesAvailable").as_deref() == Some("true") {
        out.warnings.push(format!(
            "{table_id}: more routes than one answer holds; the rest are not shown"
        ));
    }
    if let Some(t) = out.transit.tables.iter_mut().find(|t| t.id == table_id) {
        t.routes.extend(got);
    }
}

fn vpn_gateways(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in kids(root, "vpnGatewaySet") {
        let Some(id) = text_of(g, "vpnGatewayId").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("a VPN gateway without an id was skipped".into());
            continue;
        };
        if gone(text_of(g, "state")) {
            continue;
        }
        let vpc = kids(g, "attachments")
            .into_iter()
            .find(|a| text_of(*a, "state").as_deref() == Some("attached"))
            .and_then(|a| text_of(a, "vpcId"))
            .filter(|v| !v.is_empty());
        let tags = tag_map(g);
        out.transit.gateways.push(Gateway {
            name: name_or(&tags, &id),
            id,
            kind: GatewayKind::Vpn,
            vpc,
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        });
    }
}

impl Found {
    /// Adds the gateways (attachments under theirs) and the route tables to `t`.
    pub(super) fn finish(mut self, t: &mut Topology, warnings: &mut Vec<String>) {
        for (_, (tgw, att)) in std::mem::take(&mut self.attachments) {
            match self.gateways.iter_mut().find(|g| g.id == tgw) {
                Some(g) => g.attachments.push(att),
                None => warnings.push(format!(
                    "transit gateway attachment {} of {tgw}: the gateway is not listed; skipped",
                    att.id
                )),
            }
        }
        t.gateways.extend(self.gateways);
        t.route_tables.extend(self.tables);
    }
}

#[cfg(test)]
mod tests;
