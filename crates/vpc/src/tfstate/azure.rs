//! Azure (`azurerm_*`): virtual networks and subnets, virtual machines with their network
//! interfaces and public IPs, network security groups with their rules and associations, route
//! tables, peerings, VPN gateways, load balancers and application gateways, and managed services
//! (MySQL/PostgreSQL flexible servers, Redis, AKS).
//!
//! Model ids are the Azure resource ids (`/subscriptions/…/virtualNetworks/vnet1`), names the
//! resources' `name`. Azure ids are case-insensitive and the provider does not always spell a
//! reference like the resource it names (`resourceGroups` vs `resourcegroups`), so references are
//! matched ignoring case and rewritten to the spelling of the object they name.
//!
//! Several Azure resources are not model objects but feed others: a network interface gives its
//! virtual machine its addresses and subnet, a public IP its address to an interface or a
//! gateway, associations bind security groups and route tables to subnets and interfaces. They
//! are collected in a [`Registry`] while the state streams in and resolved once every resource is
//! in (see [`resolve`]), so the order of resources in the file does not matter.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::Deserializer;

use super::builder::{Builder, Deferred};
use super::{lookup, Decode, Mapping};
use crate::model::{Rule, Subnet, Topology};

mod compute;
mod lb;
mod network;
mod nsg;
mod resolve;
mod routes;
mod services;
#[cfg(test)]
mod tests;

use compute::{AzLegacyVm, AzVm};
use lb::{AzAppGateway, AzLb, AzLbRule, AzPoolAssoc};
use network::{AzNic, AzPeering, AzPublicIp, AzSubnet, AzVnet, AzVnetGateway};
use nsg::{AzNicNsgAssoc, AzNsg, AzNsgRule, AzSubnetNsgAssoc};
use routes::{AzRoute, AzRouteTable, AzSubnetRtAssoc};
use services::{AzAks, AzFlexServer, AzRedis};

/// The Azure table: a row per resource type, naming the struct its attributes are read into.
pub(super) fn find<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    lookup(
        ty,
        &[
            Mapping::of::<AzVnet>(&["azurerm_virtual_network"]),
            Mapping::of::<AzSubnet>(&["azurerm_subnet"]),
            Mapping::of::<AzNic>(&["azurerm_network_interface"]),
            Mapping::of::<AzPublicIp>(&["azurerm_public_ip"]),
            Mapping::of::<AzVm>(&[
                "azurerm_linux_virtual_machine",
                "azurerm_windows_virtual_machine",
            ]),
            Mapping::of::<AzLegacyVm>(&["azurerm_virtual_machine"]),
            Mapping::of::<AzNsg>(&["azurerm_network_security_group"]),
            Mapping::of::<AzNsgRule>(&["azurerm_network_security_rule"]),
            Mapping::of::<AzSubnetNsgAssoc>(&["azurerm_subnet_network_security_group_association"]),
            Mapping::of::<AzNicNsgAssoc>(&["azurerm_network_interface_security_group_association"]),
            Mapping::of::<AzRouteTable>(&["azurerm_route_table"]),
            Mapping::of::<AzRoute>(&["azurerm_route"]),
            Mapping::of::<AzSubnetRtAssoc>(&["azurerm_subnet_route_table_association"]),
            Mapping::of::<AzPeering>(&["azurerm_virtual_network_peering"]),
            Mapping::of::<AzVnetGateway>(&["azurerm_virtual_network_gateway"]),
            Mapping::of::<AzLb>(&["azurerm_lb"]),
            Mapping::of::<AzLbRule>(&["azurerm_lb_rule"]),
            Mapping::of::<AzAppGateway>(&["azurerm_application_gateway"]),
            Mapping::of::<AzPoolAssoc>(&[
                "azurerm_network_interface_application_gateway_backend_address_pool_association",
                "azurerm_network_interface_backend_address_pool_association",
            ]),
            Mapping::of::<AzFlexServer>(&[
                "azurerm_mysql_flexible_server",
                "azurerm_postgresql_flexible_server",
            ]),
            Mapping::of::<AzRedis>(&["azurerm_redis_cache"]),
            Mapping::of::<AzAks>(&["azurerm_kubernetes_cluster"]),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Resource ids
// ---------------------------------------------------------------------------------------------

/// The id of the resource `id` is a child of through `/{segment}/{name}` (a subnet's virtual
/// network: `parent(subnet, "subnets")`), ignoring case; none if `id` has no such segment.
fn parent(id: &str, segment: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let needle = format!("/{}/", segment.to_ascii_lowercase());
    let at = lower.rfind(&needle)?;
    let rest = &id[at + needle.len()..];
    (at > 0 && !rest.is_empty() && !rest.contains('/')).then(|| id[..at].to_string())
}

/// The resource group named in an id (`/subscriptions/…/resourceGroups/{rg}/…`).
fn resource_group(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    parts.find(|p| p.eq_ignore_ascii_case("resourceGroups"))?;
    parts.next().filter(|p| !p.is_empty()).map(str::to_string)
}

/// The last segment of an id (its resource name).
fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Ids of one kind of object, found ignoring case and returned in their own spelling.
#[derive(Default)]
struct Canon(HashMap<String, String>);

impl Canon {
    /// The ids of `ids`.
    fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Canon {
        Canon(
            ids.into_iter()
                .map(|i| (i.to_ascii_lowercase(), i.to_string()))
                .collect(),
        )
    }

    /// The known id `id` names, in its own spelling.
    fn get(&self, id: &str) -> Option<&String> {
        self.0.get(&id.to_ascii_lowercase())
    }
}

/// A reference to a parent resource: by id when the child's id or attributes give it, else by
/// name and resource group (`network_security_group_name` + `resource_group_name`).
#[derive(Debug, Clone, Default)]
struct ParentRef {
    id: Option<String>,
    name: Option<String>,
    rg: Option<String>,
}

impl ParentRef {
    /// The parent among `ids` (a list of existing ids in their own spelling).
    fn find<'a>(&self, ids: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
        if let Some(id) = &self.id {
            if let Some(f) = ids.clone().into_iter().find(|i| i.eq_ignore_ascii_case(id)) {
                return Some(f.to_string());
            }
        }
        let name = self.name.as_deref()?;
        ids.into_iter()
            .find(|i| {
                last_segment(i).eq_ignore_ascii_case(name)
                    && match (&self.rg, resource_group(i)) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(&b),
                        _ => true,
                    }
            })
            .map(str::to_string)
    }

    /// How to name it in a warning.
    fn describe(&self) -> String {
        match (&self.id, &self.name) {
            (Some(id), _) => id.clone(),
            (None, Some(n)) => format!("{n:?} (resource group {:?})", self.rg.as_deref()),
            (None, None) => "(unnamed)".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The registry of what is resolved at the end
// ---------------------------------------------------------------------------------------------

/// A network interface: what its virtual machine takes from it.
#[derive(Debug, Clone, Default)]
struct Nic {
    /// Its id, as spelled by the resource.
    id: String,
    /// Private addresses, the primary IP configuration's first.
    ips: Vec<IpAddr>,
    /// Subnets of its IP configurations, the primary's first.
    subnets: Vec<String>,
    /// Public IP resources of its IP configurations.
    public_ips: Vec<String>,
    /// IP forwarding enabled.
    forwarding: Option<bool>,
    /// The security group set on the interface itself (azurerm 1.x `network_security_group_id`).
    nsg: Option<String>,
    /// Whether it comes from a managed resource (a data source never replaces one).
    managed: bool,
}

/// A public IP resource.
#[derive(Debug, Clone, Default)]
struct PublicIp {
    ip: Option<IpAddr>,
    fqdn: Option<String>,
    managed: bool,
}

/// Where a route goes, before hosts and gateways are known.
#[derive(Debug, Clone, PartialEq)]
enum Hop {
    /// `VnetLocal`.
    Local,
    /// `Internet`.
    Internet,
    /// `VirtualNetworkGateway`: the VPN gateway of the table's virtual network.
    VnetGateway,
    /// `VirtualAppliance` at this address.
    Appliance(IpAddr),
    /// `None`.
    Drop,
    /// Anything else, by its next hop type.
    Other(String),
}

/// A route of a route table (inline or `azurerm_route`), resolved at the end.
#[derive(Debug, Clone)]
struct PendingRoute {
    table: ParentRef,
    destination: IpNet,
    hop: Hop,
    /// The resource, for warnings.
    what: String,
}

/// An association of a subnet or network interface with a security group or route table.
#[derive(Debug, Clone)]
struct Assoc {
    /// The subnet or network interface.
    from: String,
    /// The security group, route table or backend pool.
    to: String,
    /// The resource type, for warnings.
    what: &'static str,
}

/// What Azure resources leave to resolve once every resource is in.
#[derive(Default)]
struct Registry {
    /// Virtual network ids.
    vnets: Vec<String>,
    /// Subnets of `subnet` blocks of virtual networks, added unless an `azurerm_subnet` says more.
    inline_subnets: Vec<Subnet>,
    /// (subnet id, its virtual network by name and resource group).
    subnet_vnets: Vec<(String, ParentRef)>,
    /// Network interfaces by lower-case id.
    nics: HashMap<String, Nic>,
    /// Public IPs by lower-case id.
    public_ips: HashMap<String, PublicIp>,
    /// Virtual machine host ids.
    vms: Vec<String>,
    /// Managed service host ids (their subnets are canonicalized).
    services: Vec<String>,
    /// Network security group ids.
    nsgs: HashSet<String>,
    /// Standalone rules by security group.
    nsg_rules: Vec<(ParentRef, Rule, String)>,
    /// Subnet → security group.
    subnet_nsgs: Vec<Assoc>,
    /// Network interface → security group.
    nic_nsgs: Vec<Assoc>,
    /// Routes, inline and standalone.
    routes: Vec<PendingRoute>,
    /// Route table ids.
    route_tables: Vec<String>,
    /// Subnet → route table.
    subnet_routes: Vec<Assoc>,
    /// Network interface → backend pool (of a load balancer or application gateway).
    pool_members: Vec<Assoc>,
    /// Backend pool addresses, by load balancer id.
    pool_ips: Vec<(String, IpAddr)>,
    /// Load balancer ids with the public IPs of their frontends.
    lb_public_ips: Vec<(String, Vec<String>)>,
    /// Gateway ids with the public IPs of their IP configurations.
    gateway_public_ips: Vec<(String, Vec<String>)>,
    /// (peering id, its local virtual network).
    peering_vnets: Vec<(String, ParentRef)>,
}

impl Deferred for Registry {
    fn resolve(self, t: &mut Topology) -> Vec<String> {
        resolve::run(self, t)
    }
}

/// Runs `f` on the registry of the import `b` belongs to.
fn with_registry(b: &mut Builder, f: impl FnOnce(&mut Registry)) {
    b.gather(f);
}
