//! GCP network services: forwarding rules (load balancers), Cloud Routers, Cloud NAT and VPN
//! gateways.

use serde::Deserialize;

use super::{gcp_ref, last_segment, net_ref};
use crate::model::*;
use crate::tfstate::builder::Builder;
use crate::tfstate::values::{Blocks, L, S};
use crate::tfstate::Resource;

/// `google_compute_forwarding_rule` / `google_compute_global_forwarding_rule`: a load balancer
/// with its address and ports. `internal` when the scheme is `INTERNAL*` (an internal passthrough
/// or proxy load balancer in a subnetwork).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpForwardingRule {
    id: S,
    self_link: S,
    name: S,
    project: S,
    region: S,
    ip_address: S,
    ip_protocol: S,
    ports: L,
    port_range: S,
    all_ports: Option<bool>,
    load_balancing_scheme: S,
    network: S,
    subnetwork: S,
}

/// At most this many listeners come from one port range.
const MAX_RANGE_LISTENERS: u16 = 16;

impl Resource for GcpForwardingRule {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_forwarding_rule");
        };
        let protocol = self
            .ip_protocol
            .0
            .as_deref()
            .unwrap_or("tcp")
            .to_ascii_lowercase();
        let mut ports: Vec<u16> = Vec::new();
        for p in self.ports.0.iter().chain(&self.port_range.0) {
            match PortRange::parse(p) {
                Ok(Some(r)) => {
                    let last = r.to.min(r.from.saturating_add(MAX_RANGE_LISTENERS - 1));
                    ports.extend(r.from..=last);
                }
                Ok(None) => {}
                Err(e) => b.warn(format!("{id}: {e}")),
            }
        }
        ports.sort_unstable();
        ports.dedup();
        if self.all_ports == Some(true) {
            ports.clear();
        }
        let listeners = ports
            .into_iter()
            .map(|port| Listener {
                port,
                protocol: protocol.clone(),
                target_port: None,
                target_group: None,
            })
            .collect();
        let scheme = self.load_balancing_scheme.0;
        let ip = match &self.ip_address.0 {
            // An address given by reference (its self link) rather than by value.
            Some(a) if a.contains('/') => None,
            _ => b.ip(&self.ip_address.0, &id),
        };
        let project = self.project.0.as_deref();
        let lb = LoadBalancer {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id,
            provider: Provider::Gcp,
            vpc: self.network.0.as_deref().map(|n| net_ref(n, project)),
            subnets: self
                .subnetwork
                .0
                .as_deref()
                .map(gcp_ref)
                .into_iter()
                .collect(),
            internal: scheme.as_deref().map(|s| s.starts_with("INTERNAL")),
            kind: scheme,
            ip,
            dns_name: None,
            region: self.region.0.map(|r| last_segment(&r)),
            listeners,
            targets: Vec::new(),
            target_tag: None,
            security_groups: Vec::new(),
        };
        b.add(lb, managed);
    }
}

/// `google_compute_router`: no map object of its own; gives its network to the Cloud NAT
/// gateways configured on it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpRouter {
    name: S,
    project: S,
    region: S,
    network: S,
}

impl Resource for GcpRouter {
    fn add(self, b: &mut Builder, _managed: bool) {
        let (Some(name), Some(network)) = (self.name.0, self.network.0) else {
            return;
        };
        let network = net_ref(&network, self.project.0.as_deref());
        let key = nat_router_key(
            self.project.0.as_deref(),
            self.region.0.as_deref().map(last_segment).as_deref(),
            &name,
        );
        b.later(move |t| {
            for g in &mut t.gateways {
                if g.kind == GatewayKind::Nat && g.vpc.is_none() && g.id.starts_with(&key) {
                    g.vpc = Some(network.clone());
                }
            }
            Vec::new()
        });
    }
}

/// The id prefix of the Cloud NAT gateways of a router (`PROJECT/REGION/ROUTER/`, the
/// provider's id of `google_compute_router_nat`).
fn nat_router_key(project: Option<&str>, region: Option<&str>, router: &str) -> String {
    format!(
        "{}/{}/{router}/",
        project.unwrap_or_default(),
        region.unwrap_or_default()
    )
}

/// `google_compute_router_nat`: a NAT gateway; its network is its router's.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpRouterNat {
    id: S,
    name: S,
    project: S,
    region: S,
    router: S,
}

impl Resource for GcpRouterNat {
    fn add(self, b: &mut Builder, managed: bool) {
        let region = self.region.0.as_deref().map(last_segment);
        let Some(id) = self.id.0.or_else(|| {
            let router = self.router.0.as_deref().map(last_segment)?;
            let key = nat_router_key(self.project.0.as_deref(), region.as_deref(), &router);
            Some(format!("{key}{}", self.name.0.as_deref()?))
        }) else {
            return b.missing_id("google_compute_router_nat");
        };
        let g = Gateway {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id,
            kind: GatewayKind::Nat,
            vpc: None,
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        };
        b.add(g, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VpnInterface {
    ip_address: S,
}

/// `google_compute_vpn_gateway` (classic) and `google_compute_ha_vpn_gateway`: VPN gateways of a
/// network; the public address is the first interface's.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpVpnGateway {
    id: S,
    self_link: S,
    name: S,
    project: S,
    network: S,
    vpn_interfaces: Blocks<VpnInterface>,
}

impl Resource for GcpVpnGateway {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_vpn_gateway");
        };
        let mut public_ip = None;
        for i in &self.vpn_interfaces.0 {
            if public_ip.is_none() {
                public_ip = b.ip(&i.ip_address.0, &id);
            }
        }
        let project = self.project.0.as_deref();
        let g = Gateway {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            vpc: self.network.0.as_deref().map(|n| net_ref(n, project)),
            id,
            kind: GatewayKind::Vpn,
            subnet: None,
            private_ip: None,
            public_ip,
            attachments: Vec::new(),
        };
        b.add(g, managed);
    }
}
