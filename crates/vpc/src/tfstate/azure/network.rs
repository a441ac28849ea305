//! Azure networks: virtual networks (with inline subnets), subnets, network interfaces, public
//! IPs, peerings and virtual network gateways.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, L, S};
use super::super::Resource;
use super::{parent, with_registry, Assoc, Nic, ParentRef, PublicIp};
use crate::model::*;

/// A subnet block of an `azurerm_virtual_network`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct InlineSubnet {
    id: S,
    name: S,
    address_prefix: S,
    address_prefixes: L,
    security_group: S,
}

/// `azurerm_virtual_network`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzVnet {
    id: S,
    name: S,
    location: S,
    address_space: L,
    tags: Tags,
    subnet: Blocks<InlineSubnet>,
}

impl Resource for AzVnet {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_virtual_network");
        };
        let mut cidrs = Vec::new();
        for c in &self.address_space.0 {
            cidrs.extend(b.net(c, &id));
        }
        let mut inline = Vec::new();
        let mut nsgs = Vec::new();
        for s in self.subnet.0 {
            let Some(sid) = s.id.0 else {
                continue;
            };
            let prefix = s
                .address_prefix
                .0
                .or_else(|| s.address_prefixes.0.first().cloned());
            let cidr = prefix.and_then(|p| b.net(&p, &sid));
            if let Some(nsg) = s.security_group.0 {
                nsgs.push(Assoc {
                    from: sid.clone(),
                    to: nsg,
                    what: "azurerm_virtual_network subnet block",
                });
            }
            inline.push(Subnet {
                name: s
                    .name
                    .0
                    .unwrap_or_else(|| super::last_segment(&sid).to_string()),
                id: sid,
                vpc: Some(id.clone()),
                cidr,
                zone: None,
                region: self.location.0.clone(),
                public: None,
                tags: Default::default(),
            });
        }
        let v = Vpc {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Azure,
            region: self.location.0,
            cidrs,
            main_route_table: None,
            tags: self.tags.0,
            placeholder: false,
        };
        b.add(v, managed);
        with_registry(b, |r| {
            r.vnets.push(id);
            r.inline_subnets.extend(inline);
            r.subnet_nsgs.extend(nsgs);
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServiceDelegation {
    name: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Delegation {
    service_delegation: Blocks<ServiceDelegation>,
}

/// `azurerm_subnet`. Its delegations (`Microsoft.DBforMySQL/flexibleServers`) are kept in the
/// `delegation` tag (Azure subnets have no tags of their own).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzSubnet {
    id: S,
    name: S,
    resource_group_name: S,
    virtual_network_name: S,
    address_prefix: S,
    address_prefixes: L,
    delegation: Blocks<Delegation>,
    network_security_group_id: S,
    route_table_id: S,
}

impl Resource for AzSubnet {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_subnet");
        };
        let prefix = self
            .address_prefixes
            .0
            .first()
            .cloned()
            .or(self.address_prefix.0);
        let cidr = prefix.and_then(|p| b.net(&p, &id));
        let delegations: Vec<String> = self
            .delegation
            .0
            .into_iter()
            .flat_map(|d| d.service_delegation.0)
            .filter_map(|s| s.name.0)
            .collect();
        let mut tags = std::collections::BTreeMap::new();
        if !delegations.is_empty() {
            tags.insert("delegation".to_string(), delegations.join(","));
        }
        let vnet = ParentRef {
            id: parent(&id, "subnets"),
            name: self.virtual_network_name.0,
            rg: self.resource_group_name.0,
        };
        let s = Subnet {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            vpc: vnet.id.clone(),
            cidr,
            zone: None,
            region: None,
            public: None,
            tags,
        };
        b.add(s, managed);
        let nsg = self.network_security_group_id.0.map(|to| Assoc {
            from: id.clone(),
            to,
            what: "azurerm_subnet",
        });
        let rt = self.route_table_id.0.map(|to| Assoc {
            from: id.clone(),
            to,
            what: "azurerm_subnet",
        });
        with_registry(b, |r| {
            r.subnet_vnets.push((id, vnet));
            r.subnet_nsgs.extend(nsg);
            r.subnet_routes.extend(rt);
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpConfiguration {
    subnet_id: S,
    private_ip_address: S,
    public_ip_address_id: S,
    primary: Option<bool>,
}

/// `azurerm_network_interface`: not a model object; its virtual machine takes its addresses,
/// subnet and forwarding flag.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzNic {
    id: S,
    ip_configuration: Blocks<IpConfiguration>,
    private_ip_addresses: L,
    enable_ip_forwarding: Option<bool>,
    ip_forwarding_enabled: Option<bool>,
    network_security_group_id: S,
}

impl Resource for AzNic {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_network_interface");
        };
        let mut configs = self.ip_configuration.0;
        // The primary configuration first (a stable sort keeps the others in order).
        configs.sort_by_key(|c| c.primary != Some(true));
        let mut nic = Nic {
            id: id.clone(),
            forwarding: self.ip_forwarding_enabled.or(self.enable_ip_forwarding),
            nsg: self.network_security_group_id.0,
            managed,
            ..Default::default()
        };
        for c in configs {
            if let Some(ip) = b.ip(&c.private_ip_address.0, &id) {
                if !nic.ips.contains(&ip) {
                    nic.ips.push(ip);
                }
            }
            if let Some(s) = c.subnet_id.0 {
                if !nic.subnets.contains(&s) {
                    nic.subnets.push(s);
                }
            }
            nic.public_ips.extend(c.public_ip_address_id.0);
        }
        for a in &self.private_ip_addresses.0 {
            if let Some(ip) = b.ip(&Some(a.clone()), &id) {
                if !nic.ips.contains(&ip) {
                    nic.ips.push(ip);
                }
            }
        }
        with_registry(b, |r| {
            let key = id.to_ascii_lowercase();
            match r.nics.get(&key) {
                Some(old) if old.managed || !managed => {}
                _ => {
                    r.nics.insert(key, nic);
                }
            }
        });
    }
}

/// `azurerm_public_ip`: not a model object; its address goes to the interface or gateway that
/// uses it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzPublicIp {
    id: S,
    ip_address: S,
    fqdn: S,
}

impl Resource for AzPublicIp {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_public_ip");
        };
        let p = PublicIp {
            ip: b.ip(&self.ip_address.0, &id),
            fqdn: self.fqdn.0,
            managed,
        };
        with_registry(b, |r| {
            let key = id.to_ascii_lowercase();
            match r.public_ips.get(&key) {
                Some(old) if old.managed || !managed => {}
                _ => {
                    r.public_ips.insert(key, p);
                }
            }
        });
    }
}

/// `azurerm_virtual_network_peering`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzPeering {
    id: S,
    name: S,
    resource_group_name: S,
    virtual_network_name: S,
    remote_virtual_network_id: S,
}

impl Resource for AzPeering {
    fn add(self, b: &mut Builder, managed: bool) {
        let (Some(id), Some(peer_vpc)) = (self.id.0, self.remote_virtual_network_id.0) else {
            return b.missing_id("azurerm_virtual_network_peering");
        };
        let local = ParentRef {
            id: parent(&id, "virtualNetworkPeerings"),
            name: self.virtual_network_name.0,
            rg: self.resource_group_name.0,
        };
        let Some(vpc) = local.id.clone().or_else(|| local.name.clone()) else {
            return b.warn(format!(
                "azurerm_virtual_network_peering {id}: no local virtual network"
            ));
        };
        let p = Peering {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            vpc,
            peer_vpc,
            status: None,
        };
        b.add(p, managed);
        with_registry(b, |r| r.peering_vnets.push((id, local)));
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GatewayIpConfig {
    subnet_id: S,
    public_ip_address_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BgpPeering {
    default_addresses: L,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BgpSettings {
    peering_addresses: Blocks<BgpPeering>,
}

/// `azurerm_virtual_network_gateway` (VPN or ExpressRoute): a VPN gateway in the virtual network
/// of its `GatewaySubnet`, its private address the BGP peering address there.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzVnetGateway {
    id: S,
    name: S,
    ip_configuration: Blocks<GatewayIpConfig>,
    bgp_settings: Blocks<BgpSettings>,
}

impl Resource for AzVnetGateway {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_virtual_network_gateway");
        };
        let subnet = self
            .ip_configuration
            .0
            .iter()
            .find_map(|c| c.subnet_id.0.clone());
        let pips: Vec<String> = self
            .ip_configuration
            .0
            .into_iter()
            .filter_map(|c| c.public_ip_address_id.0)
            .collect();
        let bgp = self
            .bgp_settings
            .0
            .into_iter()
            .flat_map(|s| s.peering_addresses.0)
            .flat_map(|p| p.default_addresses.0)
            .next();
        let private_ip = b.ip(&bgp, &id);
        let g = Gateway {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            kind: GatewayKind::Vpn,
            vpc: None,
            subnet,
            private_ip,
            public_ip: None,
            attachments: Vec::new(),
        };
        b.add(g, managed);
        with_registry(b, |r| r.gateway_public_ips.push((id, pips)));
    }
}
