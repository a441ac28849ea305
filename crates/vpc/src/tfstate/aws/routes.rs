//! AWS route tables, routes and their associations.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, S};
use super::super::Resource;
use super::name_or;
use crate::model::*;

/// `aws_route_table`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsRouteTable {
    id: S,
    vpc_id: S,
    route: Blocks<AwsRouteEntry>,
    tags: Tags,
}

impl Resource for AwsRouteTable {
    fn add(self, b: &mut Builder, managed: bool) {
        self.add_as(b, false, managed);
    }
}

/// `aws_default_route_table`: the VPC's main route table, with the attributes of any other.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsDefaultRouteTable(AwsRouteTable);

impl Resource for AwsDefaultRouteTable {
    fn add(self, b: &mut Builder, managed: bool) {
        self.0.add_as(b, true, managed);
    }
}

impl AwsRouteTable {
    /// Adds the table; `main`: the VPC's main route table.
    fn add_as(self, b: &mut Builder, main: bool, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_route_table");
        };
        let mut routes = Vec::new();
        for r in self.route.0 {
            routes.extend(route_of(b, r));
        }
        let t = RouteTable {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            vpc: self.vpc_id.0,
            main,
            routes,
            subnets: Vec::new(),
            gateway: None,
        };
        b.add(t, managed);
    }
}

/// `aws_route`, and one `route` block of an `aws_route_table`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsRouteEntry {
    route_table_id: S,
    cidr_block: S,
    ipv6_cidr_block: S,
    destination_cidr_block: S,
    destination_ipv6_cidr_block: S,
    gateway_id: S,
    nat_gateway_id: S,
    instance_id: S,
    network_interface_id: S,
    vpc_peering_connection_id: S,
    transit_gateway_id: S,
    egress_only_gateway_id: S,
    vpc_endpoint_id: S,
    local_gateway_id: S,
    carrier_gateway_id: S,
}

impl Resource for AwsRouteEntry {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(rt) = self.route_table_id.0.clone() else {
            return b.warn("an aws_route without a route table was skipped".into());
        };
        if let Some(r) = route_of(b, self) {
            b.routes.push((rt, r));
        }
    }
}

/// `aws_route_table_association`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsRtAssoc {
    route_table_id: S,
    subnet_id: S,
}

impl Resource for AwsRtAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        // Gateway associations (edge routing) have no subnet: nothing for the model.
        if let (Some(rt), Some(s)) = (self.route_table_id.0, self.subnet_id.0) {
            b.assocs.push((rt, s));
        }
    }
}

/// `aws_main_route_table_association`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsMainRtAssoc {
    vpc_id: S,
    route_table_id: S,
}

impl Resource for AwsMainRtAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        if let (Some(v), Some(rt)) = (self.vpc_id.0, self.route_table_id.0) {
            b.main_assocs.push((v, rt));
        }
    }
}

/// The route of a `route` block or an `aws_route`; none without a destination or a target.
fn route_of(b: &mut Builder, r: AwsRouteEntry) -> Option<Route> {
    let dest = r
        .destination_cidr_block
        .0
        .or(r.cidr_block.0)
        .or(r.destination_ipv6_cidr_block.0)
        .or(r.ipv6_cidr_block.0)?;
    let destination = b.net(&dest, "route")?;
    let target = if let Some(g) = r.nat_gateway_id.0 {
        RouteTarget::Nat(g)
    } else if let Some(i) = r.instance_id.0 {
        RouteTarget::Instance(i)
    } else if let Some(n) = r.network_interface_id.0 {
        RouteTarget::Interface(n)
    } else if let Some(p) = r.vpc_peering_connection_id.0 {
        RouteTarget::Peering(p)
    } else if let Some(g) = r.gateway_id.0 {
        if g == "local" {
            RouteTarget::Local
        } else if g.starts_with("nat-") {
            RouteTarget::Nat(g)
        } else if g.starts_with("tgw-") && !g.starts_with("tgw-attach-") {
            RouteTarget::TransitGateway(g)
        } else {
            // Internet gateways, and VPN gateways (`vgw-…`).
            RouteTarget::Gateway(g)
        }
    } else if let Some(t) = r.transit_gateway_id.0 {
        RouteTarget::TransitGateway(t)
    } else if let Some(o) = r
        .egress_only_gateway_id
        .0
        .or(r.vpc_endpoint_id.0)
        .or(r.local_gateway_id.0)
        .or(r.carrier_gateway_id.0)
    {
        RouteTarget::Other(o)
    } else {
        return None;
    };
    Some(Route {
        destination,
        target,
    })
}
