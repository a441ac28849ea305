//! AWS transit gateways: the gateway and its default route tables, VPC / peering / VPN
//! attachments, route tables, static routes, associations and propagations.
//!
//! Attachments, associations and propagations may come before the gateway or table they name, so
//! they are gathered and applied once every resource is in: an attachment of a gateway the state
//! does not describe (shared from another account) gets a placeholder gateway.

use std::collections::HashMap;

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::builder::Deferred;
use super::super::values::B;
use super::super::values::{Tags, L, S};
use super::super::Resource;
use super::name_or;
use crate::model::*;

/// `aws_ec2_transit_gateway`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgw {
    id: S,
    association_default_route_table_id: S,
    propagation_default_route_table_id: S,
    default_route_table_association: S,
    default_route_table_propagation: S,
    tags: Tags,
}

impl Resource for AwsTgw {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_ec2_transit_gateway");
        };
        let name = name_or(&self.tags.0, &id);
        let enabled = |s: &S| s.0.as_deref() != Some("disable");
        let assoc = self
            .association_default_route_table_id
            .0
            .filter(|_| enabled(&self.default_route_table_association));
        let prop = self
            .propagation_default_route_table_id
            .0
            .filter(|_| enabled(&self.default_route_table_propagation));
        // The default tables AWS creates are rarely in the state: added as if read from a data
        // source, so an `aws_ec2_transit_gateway_route_table` of the same id replaces them.
        for (table, main) in [(&assoc, true), (&prop, false)] {
            if let Some(t) = table {
                if !main && Some(t) == assoc.as_ref() {
                    continue;
                }
                b.add(
                    tgw_table(t.clone(), format!("{name} default"), &id, main),
                    false,
                );
            }
        }
        let info = TgwInfo {
            assoc_default: assoc,
            prop_default: prop,
        };
        let key = id.clone();
        b.gather(|x: &mut Transit| {
            x.tgws.insert(key, info);
        });
        let g = Gateway {
            name,
            id,
            kind: GatewayKind::Transit,
            vpc: None,
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        };
        b.add(g, managed);
    }
}

/// Warns that an instance of `ty` without an id or transit gateway was skipped.
fn no_gateway(b: &mut Builder, ty: &str) {
    b.warn(format!(
        "an {ty} without an id or transit gateway was skipped"
    ));
}

fn tgw_table(id: String, name: String, tgw: &str, main: bool) -> RouteTable {
    RouteTable {
        id,
        name,
        vpc: None,
        main,
        routes: Vec::new(),
        subnets: Vec::new(),
        gateway: Some(tgw.to_string()),
    }
}

/// `aws_ec2_transit_gateway_route_table`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgwRouteTable {
    id: S,
    transit_gateway_id: S,
    default_association_route_table: B,
    tags: Tags,
}

impl Resource for AwsTgwRouteTable {
    fn add(self, b: &mut Builder, managed: bool) {
        let (Some(id), Some(tgw)) = (self.id.0, self.transit_gateway_id.0) else {
            return no_gateway(b, "aws_ec2_transit_gateway_route_table");
        };
        let main = self.default_association_route_table.0 == Some(true);
        b.add(
            tgw_table(id.clone(), name_or(&self.tags.0, &id), &tgw, main),
            managed,
        );
    }
}

/// `aws_ec2_transit_gateway_vpc_attachment`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgwVpcAttachment {
    id: S,
    transit_gateway_id: S,
    vpc_id: S,
    subnet_ids: L,
    transit_gateway_default_route_table_association: B,
    transit_gateway_default_route_table_propagation: B,
}

impl Resource for AwsTgwVpcAttachment {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(id), Some(tgw)) = (self.id.0, self.transit_gateway_id.0) else {
            return no_gateway(b, "aws_ec2_transit_gateway_vpc_attachment");
        };
        let a = Pending {
            att: Attachment {
                id,
                vpc: self.vpc_id.0,
                subnets: self.subnet_ids.0,
                route_table: None,
                kind: Some("vpc".into()),
            },
            tgw,
            default_assoc: self.transit_gateway_default_route_table_association.0 != Some(false),
            default_prop: self.transit_gateway_default_route_table_propagation.0 != Some(false),
        };
        b.gather(|x: &mut Transit| x.attachments.push(a));
    }
}

/// `aws_ec2_transit_gateway_peering_attachment`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgwPeeringAttachment {
    id: S,
    transit_gateway_id: S,
}

impl Resource for AwsTgwPeeringAttachment {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(id), Some(tgw)) = (self.id.0, self.transit_gateway_id.0) else {
            return no_gateway(b, "aws_ec2_transit_gateway_peering_attachment");
        };
        let a = Pending::bare(id, tgw, "peering");
        b.gather(|x: &mut Transit| x.attachments.push(a));
    }
}

/// `aws_vpn_connection`: an attachment of kind `vpn` when it ends on a transit gateway (on a
/// VPN gateway it adds nothing the model shows).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsVpnConnection {
    id: S,
    transit_gateway_id: S,
    transit_gateway_attachment_id: S,
}

impl Resource for AwsVpnConnection {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(tgw) = self.transit_gateway_id.0 else {
            return;
        };
        let Some(id) = self.transit_gateway_attachment_id.0.or(self.id.0) else {
            return b.missing_id("aws_vpn_connection");
        };
        let a = Pending::bare(id, tgw, "vpn");
        b.gather(|x: &mut Transit| x.attachments.push(a));
    }
}

/// `aws_ec2_transit_gateway_route`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgwRoute {
    destination_cidr_block: S,
    transit_gateway_attachment_id: S,
    blackhole: B,
    transit_gateway_route_table_id: S,
}

impl Resource for AwsTgwRoute {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(table), Some(dest)) = (
            self.transit_gateway_route_table_id.0,
            self.destination_cidr_block.0,
        ) else {
            return b.warn(
                "an aws_ec2_transit_gateway_route without a route table or destination was \
                 skipped"
                    .into(),
            );
        };
        let Some(destination) = b.net(&dest, &table) else {
            return;
        };
        let target = match (self.blackhole.0, self.transit_gateway_attachment_id.0) {
            (Some(true), _) => RouteTarget::Blackhole,
            (_, Some(a)) => RouteTarget::Attachment(a),
            (_, None) => {
                return b.warn(format!(
                    "{table}: the route to {dest} has neither an attachment nor blackhole"
                ))
            }
        };
        b.routes.push((
            table,
            Route {
                destination,
                target,
            },
        ));
    }
}

/// `aws_ec2_transit_gateway_route_table_association` and `_propagation`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgwTableLink {
    transit_gateway_attachment_id: S,
    transit_gateway_route_table_id: S,
    resource_id: S,
    resource_type: S,
}

/// `aws_ec2_transit_gateway_route_table_association`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsTgwAssociation(AwsTgwTableLink);

impl Resource for AwsTgwAssociation {
    fn add(self, b: &mut Builder, _: bool) {
        let l = self.0;
        let (Some(att), Some(table)) = (
            l.transit_gateway_attachment_id.0,
            l.transit_gateway_route_table_id.0,
        ) else {
            return b.warn(
                "an aws_ec2_transit_gateway_route_table_association without an attachment or \
                 route table was skipped"
                    .into(),
            );
        };
        let kind = l.resource_type.0;
        b.gather(|x: &mut Transit| x.assocs.push((att, table, kind)));
    }
}

/// `aws_ec2_transit_gateway_route_table_propagation`: routes to the attached VPC's CIDRs.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsTgwPropagation(AwsTgwTableLink);

impl Resource for AwsTgwPropagation {
    fn add(self, b: &mut Builder, _: bool) {
        let l = self.0;
        let (Some(att), Some(table)) = (
            l.transit_gateway_attachment_id.0,
            l.transit_gateway_route_table_id.0,
        ) else {
            return b.warn(
                "an aws_ec2_transit_gateway_route_table_propagation without an attachment or \
                 route table was skipped"
                    .into(),
            );
        };
        let vpc = l
            .resource_id
            .0
            .filter(|_| l.resource_type.0.as_deref().is_none_or(|t| t == "vpc"));
        b.gather(|x: &mut Transit| x.props.push((att, table, vpc)));
    }
}

/// A transit gateway's default tables (`None`: disabled or unknown).
struct TgwInfo {
    assoc_default: Option<String>,
    prop_default: Option<String>,
}

/// An attachment waiting for its gateway.
struct Pending {
    att: Attachment,
    tgw: String,
    default_assoc: bool,
    default_prop: bool,
}

impl Pending {
    /// An attachment with no VPC; a VPN is associated with the default table like a VPC (its
    /// propagated routes come from BGP, unknown here), a peering never is.
    fn bare(id: String, tgw: String, kind: &str) -> Pending {
        Pending {
            att: Attachment {
                id,
                kind: Some(kind.into()),
                ..Attachment::default()
            },
            tgw,
            default_assoc: kind == "vpn",
            default_prop: false,
        }
    }
}

/// What the transit gateway resources of one import gather.
#[derive(Default)]
pub(super) struct Transit {
    tgws: HashMap<String, TgwInfo>,
    attachments: Vec<Pending>,
    /// (attachment, table, resource type).
    assocs: Vec<(String, String, Option<String>)>,
    /// (attachment, table, propagated VPC).
    props: Vec<(String, String, Option<String>)>,
}

/// The gateway `id` (a placeholder transit gateway when the state does not describe it).
fn gateway_mut<'t>(t: &'t mut Topology, id: &str) -> &'t mut Gateway {
    let i = match t.gateways.iter().position(|g| g.id == id) {
        Some(i) => i,
        None => {
            t.gateways.push(Gateway {
                id: id.to_string(),
                name: id.to_string(),
                kind: GatewayKind::Transit,
                vpc: None,
                subnet: None,
                private_ip: None,
                public_ip: None,
                attachments: Vec::new(),
            });
            t.gateways.len() - 1
        }
    };
    &mut t.gateways[i]
}

fn attachment_mut<'t>(t: &'t mut Topology, id: &str) -> Option<&'t mut Attachment> {
    t.gateways
        .iter_mut()
        .flat_map(|g| g.attachments.iter_mut())
        .find(|a| a.id == id)
}

/// Adds routes to `vpc`'s CIDRs through `att` to `table`.
fn propagate(t: &mut Topology, att: &str, table: &str, vpc: &str, warnings: &mut Vec<String>) {
    let cidrs = t.vpc(vpc).map(|v| v.cidrs.clone()).unwrap_or_default();
    let Some(rt) = t.route_tables.iter_mut().find(|r| r.id == table) else {
        warnings.push(format!(
            "propagation of {att} to transit gateway route table {table}, which is not in the \
             state"
        ));
        return;
    };
    for destination in cidrs {
        let r = Route {
            destination,
            target: RouteTarget::Attachment(att.to_string()),
        };
        if !rt.routes.contains(&r) {
            rt.routes.push(r);
        }
    }
}

impl Deferred for Transit {
    fn resolve(self, t: &mut Topology) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut props = self.props;
        for p in self.attachments {
            let info = self.tgws.get(&p.tgw);
            let mut att = p.att;
            if p.default_assoc {
                att.route_table = info.and_then(|i| i.assoc_default.clone());
            }
            if let (true, Some(vpc), Some(table)) = (
                p.default_prop,
                &att.vpc,
                info.and_then(|i| i.prop_default.as_ref()),
            ) {
                props.push((att.id.clone(), table.clone(), Some(vpc.clone())));
            }
            let g = gateway_mut(t, &p.tgw);
            match g.attachments.iter_mut().find(|a| a.id == att.id) {
                Some(a) => *a = att,
                None => g.attachments.push(att),
            }
        }
        for (att, table, kind) in self.assocs {
            if let Some(a) = attachment_mut(t, &att) {
                a.route_table = Some(table);
                continue;
            }
            let Some(tgw) = t
                .route_tables
                .iter()
                .find(|r| r.id == table)
                .and_then(|r| r.gateway.clone())
            else {
                warnings.push(format!(
                    "association of {att} with transit gateway route table {table}, which is \
                     not in the state"
                ));
                continue;
            };
            gateway_mut(t, &tgw).attachments.push(Attachment {
                id: att,
                route_table: Some(table),
                kind,
                ..Attachment::default()
            });
        }
        for (att, table, vpc) in props {
            let vpc = vpc.or_else(|| attachment_mut(t, &att).and_then(|a| a.vpc.clone()));
            if let Some(vpc) = vpc {
                propagate(t, &att, &table, &vpc, &mut warnings);
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests;
