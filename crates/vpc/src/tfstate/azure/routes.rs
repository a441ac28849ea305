//! Azure route tables: `azurerm_route_table` (inline `route` blocks, its computed `subnets`),
//! standalone `azurerm_route`, and `azurerm_subnet_route_table_association`.
//!
//! Next hops: `VnetLocal` → [`RouteTarget::Local`]; `Internet` → `RouteTarget::Gateway("Internet")`
//! (Azure's default internet egress has no gateway object, so the id names the next hop type and
//! no gateway has it); `VirtualNetworkGateway` → the VPN gateway of the table's virtual network
//! (`RouteTarget::Other("VirtualNetworkGateway")` when none is in the state);
//! `VirtualAppliance` → [`RouteTarget::Instance`] of the VM with that private address, else
//! `RouteTarget::Other(address)`; `None` → [`RouteTarget::Blackhole`]. A table's VNet is the one
//! of its first subnet; Azure has no main route table.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, L, S};
use super::super::Resource;
use super::{parent, with_registry, Assoc, Hop, ParentRef, PendingRoute};
use crate::model::*;

/// The attributes of a route, inline or standalone.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteAttrs {
    name: S,
    address_prefix: S,
    next_hop_type: S,
    next_hop_in_ip_address: S,
}

/// The route `r` of `table`, or none with a warning naming `what`.
fn pending(b: &mut Builder, r: RouteAttrs, table: ParentRef, what: &str) -> Option<PendingRoute> {
    let what = format!("{what} route {:?}", r.name.0.unwrap_or_default());
    let Some(prefix) = r.address_prefix.0 else {
        b.warn(format!("{what}: no address prefix; skipped"));
        return None;
    };
    let is_address =
        prefix.parse::<ipnet::IpNet>().is_ok() || prefix.parse::<std::net::IpAddr>().is_ok();
    if !is_address && prefix.starts_with(|c: char| c.is_ascii_alphabetic()) && !prefix.contains(':')
    {
        b.warn(format!(
            "{what}: the service tag {prefix:?} as a destination is not modelled; skipped"
        ));
        return None;
    }
    let destination = b.net(&prefix, &what)?;
    let hop = match r
        .next_hop_type
        .0
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("vnetlocal") => Hop::Local,
        Some("internet") => Hop::Internet,
        Some("virtualnetworkgateway") => Hop::VnetGateway,
        Some("none") => Hop::Drop,
        Some("virtualappliance") => match b.ip(&r.next_hop_in_ip_address.0, &what) {
            Some(ip) => Hop::Appliance(ip),
            None => {
                b.warn(format!(
                    "{what}: a VirtualAppliance next hop without an address"
                ));
                Hop::Other("VirtualAppliance".into())
            }
        },
        _ => {
            let t = r.next_hop_type.0.unwrap_or_default();
            b.warn(format!("{what}: unknown next hop type {t:?}"));
            Hop::Other(t)
        }
    };
    Some(PendingRoute {
        table,
        destination,
        hop,
        what,
    })
}

/// `azurerm_route_table`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzRouteTable {
    id: S,
    name: S,
    route: Blocks<RouteAttrs>,
    subnets: L,
}

impl Resource for AzRouteTable {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_route_table");
        };
        let table = ParentRef {
            id: Some(id.clone()),
            ..Default::default()
        };
        let mut routes = Vec::new();
        for r in self.route.0 {
            routes.extend(pending(b, r, table.clone(), &id));
        }
        let assocs: Vec<Assoc> = self
            .subnets
            .0
            .into_iter()
            .map(|s| Assoc {
                from: s,
                to: id.clone(),
                what: "azurerm_route_table",
            })
            .collect();
        let t = RouteTable {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            vpc: None,
            main: false,
            routes: Vec::new(),
            subnets: Vec::new(),
            gateway: None,
        };
        b.add(t, managed);
        with_registry(b, |r| {
            r.route_tables.push(id);
            r.routes.extend(routes);
            r.subnet_routes.extend(assocs);
        });
    }
}

/// `azurerm_route`: a route of the table its id or `route_table_name` + `resource_group_name`
/// names.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzRoute {
    id: S,
    route_table_name: S,
    resource_group_name: S,
    #[serde(flatten)]
    route: RouteAttrs,
}

impl Resource for AzRoute {
    fn add(self, b: &mut Builder, _: bool) {
        let table = ParentRef {
            id: self.id.0.as_deref().and_then(|i| parent(i, "routes")),
            name: self.route_table_name.0,
            rg: self.resource_group_name.0,
        };
        if table.id.is_none() && table.name.is_none() {
            return b.warn("an azurerm_route without a route table was skipped".into());
        }
        let what = format!("azurerm_route of {}", table.describe());
        if let Some(p) = pending(b, self.route, table, &what) {
            with_registry(b, |r| r.routes.push(p));
        }
    }
}

/// `azurerm_subnet_route_table_association`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzSubnetRtAssoc {
    subnet_id: S,
    route_table_id: S,
}

impl Resource for AzSubnetRtAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        const WHAT: &str = "azurerm_subnet_route_table_association";
        let (Some(from), Some(to)) = (self.subnet_id.0, self.route_table_id.0) else {
            return b.warn(format!(
                "an {WHAT} without a subnet or route table was skipped"
            ));
        };
        with_registry(b, |r| {
            r.subnet_routes.push(Assoc {
                from,
                to,
                what: WHAT,
            })
        });
    }
}
