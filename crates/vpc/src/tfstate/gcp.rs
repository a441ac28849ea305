//! Google Cloud: networks, subnetworks, instances and firewall rules (here); load balancers,
//! Cloud NAT, VPN gateways (`network`); Cloud SQL, Memorystore and private services access
//! (`services`); GKE clusters and node pools (`gke`). Ids are self links without the API prefix,
//! so references by self link and by id compare equal.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::de::Deserializer;
use serde::Deserialize;

use super::builder::Builder;
use super::values::{Blocks, Tags, L, N, S};
use super::{lookup, Decode, Mapping, Resource};
use crate::model::*;

mod gke;
mod network;
mod services;
#[cfg(test)]
mod tests;

/// The Google Cloud table: a row per resource type, naming the struct its attributes are read
/// into.
pub(super) fn find<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    lookup(
        ty,
        &[
            Mapping::of::<GcpNetwork>(&["google_compute_network"]),
            Mapping::of::<GcpSubnetwork>(&["google_compute_subnetwork"]),
            Mapping::of::<GcpInstance>(&["google_compute_instance"]),
            Mapping::of::<GcpFirewall>(&["google_compute_firewall"]),
            Mapping::of::<network::GcpForwardingRule>(&[
                "google_compute_forwarding_rule",
                "google_compute_global_forwarding_rule",
            ]),
            Mapping::of::<network::GcpRouter>(&["google_compute_router"]),
            Mapping::of::<network::GcpRouterNat>(&["google_compute_router_nat"]),
            Mapping::of::<network::GcpVpnGateway>(&[
                "google_compute_vpn_gateway",
                "google_compute_ha_vpn_gateway",
            ]),
            Mapping::of::<services::GcpGlobalAddress>(&["google_compute_global_address"]),
            Mapping::of::<services::GcpServiceNetworking>(&[
                "google_service_networking_connection",
            ]),
            Mapping::of::<services::GcpSqlInstance>(&["google_sql_database_instance"]),
            Mapping::of::<services::GcpRedis>(&["google_redis_instance"]),
            Mapping::of::<gke::GkeCluster>(&["google_container_cluster"]),
            Mapping::of::<gke::GkeNodePool>(&["google_container_node_pool"]),
        ],
    )
}

/// A GCP reference with the API prefix removed, so self links and ids compare equal.
fn gcp_ref(s: &str) -> String {
    for marker in ["/compute/v1/", "/compute/beta/", "/compute/alpha/"] {
        if let Some(i) = s.find(marker) {
            return s[i + marker.len()..].to_string();
        }
    }
    s.to_string()
}

/// A network reference as an id: a self link or id without the API prefix; a bare network name
/// (`default`) becomes `projects/PROJECT/global/networks/NAME` when the project is known.
fn net_ref(s: &str, project: Option<&str>) -> String {
    match project {
        Some(p) if !s.contains('/') => format!("projects/{p}/global/networks/{s}"),
        _ => gcp_ref(s),
    }
}

/// The last path segment of a GCP reference (`…/zones/us-east4-b` → `us-east4-b`).
fn last_segment(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

/// `google_compute_network`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpNetwork {
    id: S,
    name: S,
    self_link: S,
}

impl Resource for GcpNetwork {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_network");
        };
        let v = Vpc {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            provider: Provider::Gcp,
            region: None,
            cidrs: Vec::new(),
            main_route_table: None,
            tags: BTreeMap::new(),
            placeholder: false,
        };
        b.add(v, managed);
    }
}

/// `google_compute_subnetwork`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpSubnetwork {
    id: S,
    name: S,
    self_link: S,
    network: S,
    ip_cidr_range: S,
    region: S,
}

impl Resource for GcpSubnetwork {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_subnetwork");
        };
        let cidr = match &self.ip_cidr_range.0 {
            Some(c) => b.net(c, &id),
            None => None,
        };
        let s = Subnet {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            vpc: self.network.0.map(|n| gcp_ref(&n)),
            cidr,
            zone: None,
            region: self.region.0.map(|r| last_segment(&r)),
            public: None,
            tags: BTreeMap::new(),
        };
        b.add(s, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpAccessConfig {
    nat_ip: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpNic {
    network: S,
    subnetwork: S,
    network_ip: S,
    access_config: Blocks<GcpAccessConfig>,
}

/// `google_compute_instance`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpInstance {
    id: S,
    self_link: S,
    name: S,
    zone: S,
    network_interface: Blocks<GcpNic>,
    tags: L,
    labels: Tags,
    current_status: S,
    can_ip_forward: Option<bool>,
}

impl Resource for GcpInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_instance");
        };
        let mut private_ips = Vec::new();
        let mut public_ip = None;
        let mut vpc = None;
        let mut subnet = None;
        for (i, nic) in self.network_interface.0.into_iter().enumerate() {
            private_ips.extend(b.ip(&nic.network_ip.0, &id));
            for ac in &nic.access_config.0 {
                if public_ip.is_none() {
                    public_ip = b.ip(&ac.nat_ip.0, &id);
                }
            }
            if i == 0 {
                vpc = nic.network.0.map(|n| gcp_ref(&n));
                subnet = nic.subnetwork.0.map(|n| gcp_ref(&n));
            }
        }
        let h = Host {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            provider: Provider::Gcp,
            vpc,
            subnet,
            zone: self.zone.0.map(|z| last_segment(&z)),
            private_ips,
            public_ip,
            tags: self.labels.0,
            labels: self.tags.0,
            security_groups: Vec::new(),
            state: self.current_status.0,
            source_dest_check: self.can_ip_forward.map(|f| !f),
            interfaces: Vec::new(),
            service: None,
            subnets: Vec::new(),
        };
        b.add(h, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpAllow {
    protocol: S,
    ports: L,
}

/// `google_compute_firewall`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpFirewall {
    id: S,
    name: S,
    self_link: S,
    network: S,
    direction: S,
    priority: N,
    source_ranges: L,
    source_tags: L,
    destination_ranges: L,
    target_tags: L,
    allow: Blocks<GcpAllow>,
    deny: Blocks<GcpAllow>,
    disabled: Option<bool>,
}

impl Resource for GcpFirewall {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.self_link.0.or(self.id.0).map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_compute_firewall");
        };
        let direction = match self.direction.0.as_deref() {
            Some("EGRESS") => Direction::Egress,
            _ => Direction::Ingress,
        };
        let priority = self
            .priority
            .0
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(1000);
        let mut peers = match direction {
            Direction::Ingress => b.cidr_peers(&self.source_ranges.0, &[], &id),
            Direction::Egress => b.cidr_peers(&self.destination_ranges.0, &[], &id),
        };
        if direction == Direction::Ingress {
            peers.extend(self.source_tags.0.iter().cloned().map(Peer::Label));
        }
        if direction == Direction::Egress && peers.is_empty() {
            // An egress rule without destination ranges applies to every destination.
            peers.push(Peer::Cidr(IpNet::V4(ipnet::Ipv4Net::default())));
        }
        let mut rules = Vec::new();
        if self.disabled != Some(true) {
            for (action, list) in [(Action::Allow, self.allow.0), (Action::Deny, self.deny.0)] {
                for entry in list {
                    let protocol = Protocol::parse(entry.protocol.0.as_deref().unwrap_or("all"));
                    let mut ranges: Vec<Option<PortRange>> = Vec::new();
                    for p in &entry.ports.0 {
                        match PortRange::parse(p) {
                            Ok(r) => ranges.push(r),
                            Err(e) => b.warn(format!("{id}: {e}")),
                        }
                    }
                    if ranges.is_empty() {
                        ranges.push(None);
                    }
                    for ports in ranges {
                        rules.push(Rule {
                            direction,
                            action,
                            priority,
                            protocol: protocol.clone(),
                            ports,
                            peers: peers.clone(),
                            description: None,
                            targets: Vec::new(),
                        });
                    }
                }
            }
        }
        let f = Firewall {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            kind: FirewallKind::Gcp,
            vpc: self.network.0.map(|n| gcp_ref(&n)),
            applies_to: AppliesTo::Network {
                target_labels: self.target_tags.0,
            },
            rules,
        };
        b.add(f, managed);
    }
}
