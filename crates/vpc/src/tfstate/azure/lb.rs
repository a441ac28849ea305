//! Azure load balancers (`azurerm_lb`, its `azurerm_lb_rule`s) and application gateways
//! (`azurerm_application_gateway`), with the backend pool memberships of network interfaces.
//!
//! A load balancer's address is its first frontend private address, else the address of its
//! frontend public IP (then it is internet-facing); its subnets are those of its frontends (an
//! application gateway's also those of its `gateway_ip_configuration`). Targets are the VMs whose
//! interfaces are in a backend pool, and the VMs with a backend pool address.

use std::collections::HashMap;

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, L, N, S};
use super::super::Resource;
use super::{with_registry, Assoc};
use crate::model::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Frontend {
    private_ip_address: S,
    subnet_id: S,
    public_ip_address_id: S,
}

/// What the frontends of a load balancer or gateway say.
struct Frontends {
    ip: Option<std::net::IpAddr>,
    subnets: Vec<String>,
    public_ips: Vec<String>,
}

fn frontends(b: &mut Builder, list: Vec<Frontend>, id: &str) -> Frontends {
    let mut out = Frontends {
        ip: None,
        subnets: Vec::new(),
        public_ips: Vec::new(),
    };
    for f in list {
        let ip = b.ip(&f.private_ip_address.0, id);
        out.ip = out.ip.or(ip);
        if let Some(s) = f.subnet_id.0 {
            if !out.subnets.contains(&s) {
                out.subnets.push(s);
            }
        }
        out.public_ips.extend(f.public_ip_address_id.0);
    }
    out
}

/// `azurerm_lb`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzLb {
    id: S,
    name: S,
    location: S,
    frontend_ip_configuration: Blocks<Frontend>,
}

impl Resource for AzLb {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_lb");
        };
        let f = frontends(b, self.frontend_ip_configuration.0, &id);
        let lb = LoadBalancer {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            provider: Provider::Azure,
            vpc: None,
            subnets: f.subnets,
            internal: Some(f.public_ips.is_empty()),
            kind: Some("load_balancer".into()),
            ip: f.ip,
            dns_name: None,
            region: self.location.0,
            listeners: Vec::new(),
            targets: Vec::new(),
            target_tag: None,
            security_groups: Vec::new(),
        };
        b.add(lb, managed);
        with_registry(b, |r| r.lb_public_ips.push((id, f.public_ips)));
    }
}

/// `azurerm_lb_rule`: a listener of its load balancer.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzLbRule {
    loadbalancer_id: S,
    protocol: S,
    frontend_port: N,
    backend_port: N,
}

impl Resource for AzLbRule {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(lb), Some(port)) = (self.loadbalancer_id.0, self.frontend_port.port()) else {
            return b.warn(
                "an azurerm_lb_rule without a load balancer or frontend port was skipped".into(),
            );
        };
        let l = Listener {
            port,
            protocol: self
                .protocol
                .0
                .unwrap_or_else(|| "tcp".into())
                .to_ascii_lowercase(),
            target_port: self.backend_port.port(),
            target_group: None,
        };
        b.listeners.push((lb, l));
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FrontendPort {
    name: S,
    port: N,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HttpListener {
    name: S,
    frontend_port_name: S,
    protocol: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoutingRule {
    http_listener_name: S,
    backend_http_settings_name: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HttpSettings {
    name: S,
    port: N,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GatewayIpConfig {
    subnet_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BackendPool {
    ip_addresses: L,
}

/// `azurerm_application_gateway`: listeners from `http_listener` (port of its frontend port,
/// target port of the backend settings its routing rule uses).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzAppGateway {
    id: S,
    name: S,
    location: S,
    frontend_ip_configuration: Blocks<Frontend>,
    frontend_port: Blocks<FrontendPort>,
    http_listener: Blocks<HttpListener>,
    request_routing_rule: Blocks<RoutingRule>,
    backend_http_settings: Blocks<HttpSettings>,
    gateway_ip_configuration: Blocks<GatewayIpConfig>,
    backend_address_pool: Blocks<BackendPool>,
}

impl Resource for AzAppGateway {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_application_gateway");
        };
        let mut f = frontends(b, self.frontend_ip_configuration.0, &id);
        for g in self.gateway_ip_configuration.0 {
            if let Some(s) = g.subnet_id.0 {
                if !f.subnets.contains(&s) {
                    f.subnets.push(s);
                }
            }
        }
        let ports: HashMap<String, u16> = self
            .frontend_port
            .0
            .into_iter()
            .filter_map(|p| Some((p.name.0?, p.port.port()?)))
            .collect();
        let settings: HashMap<String, u16> = self
            .backend_http_settings
            .0
            .into_iter()
            .filter_map(|s| Some((s.name.0?, s.port.port()?)))
            .collect();
        let rules: HashMap<String, String> = self
            .request_routing_rule
            .0
            .into_iter()
            .filter_map(|r| Some((r.http_listener_name.0?, r.backend_http_settings_name.0?)))
            .collect();
        let mut listeners = Vec::new();
        for l in self.http_listener.0 {
            let name = l.name.0.unwrap_or_default();
            let Some(port) = l.frontend_port_name.0.and_then(|p| ports.get(&p).copied()) else {
                b.warn(format!(
                    "{id}: listener {name:?} names no frontend port of the gateway"
                ));
                continue;
            };
            listeners.push(Listener {
                port,
                protocol: l
                    .protocol
                    .0
                    .unwrap_or_else(|| "http".into())
                    .to_ascii_lowercase(),
                target_port: rules.get(&name).and_then(|s| settings.get(s)).copied(),
                target_group: None,
            });
        }
        let mut pool_ips = Vec::new();
        for p in self.backend_address_pool.0 {
            for a in p.ip_addresses.0 {
                pool_ips.extend(b.ip(&Some(a), &id).map(|ip| (id.clone(), ip)));
            }
        }
        let lb = LoadBalancer {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            provider: Provider::Azure,
            vpc: None,
            subnets: f.subnets,
            internal: Some(f.public_ips.is_empty()),
            kind: Some("application_gateway".into()),
            ip: f.ip,
            dns_name: None,
            region: self.location.0,
            listeners,
            targets: Vec::new(),
            target_tag: None,
            security_groups: Vec::new(),
        };
        b.add(lb, managed);
        with_registry(b, |r| {
            r.lb_public_ips.push((id, f.public_ips));
            r.pool_ips.extend(pool_ips);
        });
    }
}

/// `azurerm_network_interface_application_gateway_backend_address_pool_association`,
/// `azurerm_network_interface_backend_address_pool_association`: the interface's VM is a target
/// of the gateway or load balancer owning the pool.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzPoolAssoc {
    network_interface_id: S,
    backend_address_pool_id: S,
}

impl Resource for AzPoolAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        const WHAT: &str = "backend address pool association";
        let (Some(from), Some(to)) = (self.network_interface_id.0, self.backend_address_pool_id.0)
        else {
            return b.warn(format!(
                "a {WHAT} without a network interface or pool was skipped"
            ));
        };
        with_registry(b, |r| {
            r.pool_members.push(Assoc {
                from,
                to,
                what: WHAT,
            })
        });
    }
}
