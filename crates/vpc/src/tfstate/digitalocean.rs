//! DigitalOcean (`digitalocean_*`): VPCs, droplets, load balancers and cloud firewalls (here);
//! managed databases, replicas and their trusted sources (`databases`); Kubernetes clusters and
//! node pools (`kubernetes`).

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::Deserialize;

use super::builder::Builder;
use super::values::{Blocks, L, N, S};
use super::{lookup, Decode, Mapping, Resource};
use crate::model::*;

mod databases;
mod kubernetes;
#[cfg(test)]
mod tests;

/// The DigitalOcean table: a row per resource type, naming the struct its attributes are read
/// into.
pub(super) fn find<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    lookup(
        ty,
        &[
            Mapping::of::<DoVpc>(&["digitalocean_vpc"]),
            Mapping::of::<DoDroplet>(&["digitalocean_droplet"]),
            Mapping::of::<DoLb>(&["digitalocean_loadbalancer"]),
            Mapping::of::<DoFirewall>(&["digitalocean_firewall"]),
            Mapping::of::<databases::DoDatabase>(&["digitalocean_database_cluster"]),
            Mapping::of::<databases::DoReplica>(&["digitalocean_database_replica"]),
            Mapping::of::<databases::DoDatabaseFirewall>(&["digitalocean_database_firewall"]),
            Mapping::of::<kubernetes::DoK8s>(&["digitalocean_kubernetes_cluster"]),
            Mapping::of::<kubernetes::DoK8sPool>(&["digitalocean_kubernetes_node_pool"]),
        ],
    )
}

/// `digitalocean_vpc`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DoVpc {
    id: S,
    name: S,
    region: S,
    ip_range: S,
}

impl Resource for DoVpc {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_vpc");
        };
        let cidrs = match &self.ip_range.0 {
            Some(r) => b.net(r, &id).into_iter().collect(),
            None => Vec::new(),
        };
        let v = Vpc {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            region: self.region.0,
            cidrs,
            main_route_table: None,
            tags: BTreeMap::new(),
            placeholder: false,
        };
        b.add(v, managed);
    }
}

/// `digitalocean_droplet`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DoDroplet {
    id: S,
    name: S,
    region: S,
    ipv4_address: S,
    ipv4_address_private: S,
    vpc_uuid: S,
    tags: L,
    status: S,
}

impl Resource for DoDroplet {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_droplet");
        };
        let private_ips = b
            .ip(&self.ipv4_address_private.0, &id)
            .into_iter()
            .collect();
        let public_ip = b.ip(&self.ipv4_address.0, &id);
        let h = Host {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            vpc: self.vpc_uuid.0,
            subnet: None,
            zone: self.region.0,
            private_ips,
            public_ip,
            tags: BTreeMap::new(),
            labels: self.tags.0,
            security_groups: Vec::new(),
            state: self.status.0,
            source_dest_check: None,
            interfaces: Vec::new(),
            service: None,
            subnets: Vec::new(),
        };
        b.add(h, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoForwardingRule {
    entry_port: N,
    entry_protocol: S,
    target_port: N,
}

/// `digitalocean_loadbalancer`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DoLb {
    id: S,
    name: S,
    region: S,
    ip: S,
    vpc_uuid: S,
    network: S,
    #[serde(rename = "type")]
    type_: S,
    forwarding_rule: Blocks<DoForwardingRule>,
    droplet_ids: L,
    droplet_tag: S,
}

impl Resource for DoLb {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_loadbalancer");
        };
        let ip = b.ip(&self.ip.0, &id);
        let listeners = self
            .forwarding_rule
            .0
            .into_iter()
            .filter_map(|r| {
                Some(Listener {
                    port: r.entry_port.port()?,
                    protocol: r.entry_protocol.0.unwrap_or_default().to_ascii_lowercase(),
                    target_port: r.target_port.port(),
                    target_group: None,
                })
            })
            .collect();
        let lb = LoadBalancer {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            vpc: self.vpc_uuid.0,
            subnets: Vec::new(),
            internal: Some(self.network.0.as_deref() == Some("INTERNAL")),
            kind: self.type_.0,
            ip,
            dns_name: None,
            region: self.region.0,
            listeners,
            targets: self.droplet_ids.0,
            target_tag: self.droplet_tag.0,
            security_groups: Vec::new(),
        };
        b.add(lb, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoRule {
    protocol: S,
    port_range: S,
    source_addresses: L,
    source_droplet_ids: L,
    source_tags: L,
    source_load_balancer_uids: L,
    destination_addresses: L,
    destination_droplet_ids: L,
    destination_tags: L,
    destination_load_balancer_uids: L,
}

/// `digitalocean_firewall`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DoFirewall {
    id: S,
    name: S,
    droplet_ids: L,
    tags: L,
    inbound_rule: Blocks<DoRule>,
    outbound_rule: Blocks<DoRule>,
}

impl Resource for DoFirewall {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_firewall");
        };
        let mut rules = firewall_rules(b, self.inbound_rule.0, Direction::Ingress, &id);
        rules.extend(firewall_rules(
            b,
            self.outbound_rule.0,
            Direction::Egress,
            &id,
        ));
        let f = Firewall {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            kind: FirewallKind::Digitalocean,
            vpc: None,
            applies_to: AppliesTo::Hosts {
                ids: self.droplet_ids.0,
                labels: self.tags.0,
            },
            rules,
        };
        b.add(f, managed);
    }
}

/// The rules of one direction of a firewall (a rule with a bad port range is skipped, with a
/// warning).
fn firewall_rules(b: &mut Builder, list: Vec<DoRule>, direction: Direction, id: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    for r in list {
        let protocol = Protocol::parse(r.protocol.0.as_deref().unwrap_or("all"));
        let ports = if protocol.has_ports() {
            match PortRange::parse(r.port_range.0.as_deref().unwrap_or("")) {
                Ok(p) => p,
                Err(e) => {
                    b.warn(format!("{id}: {e}; rule skipped"));
                    continue;
                }
            }
        } else {
            None
        };
        let (addrs, droplets, tags, lbs) = match direction {
            Direction::Ingress => (
                r.source_addresses.0,
                r.source_droplet_ids.0,
                r.source_tags.0,
                r.source_load_balancer_uids.0,
            ),
            Direction::Egress => (
                r.destination_addresses.0,
                r.destination_droplet_ids.0,
                r.destination_tags.0,
                r.destination_load_balancer_uids.0,
            ),
        };
        let mut peers = b.cidr_peers(&addrs, &[], id);
        peers.extend(droplets.into_iter().map(Peer::Host));
        peers.extend(tags.into_iter().map(Peer::Label));
        peers.extend(lbs.into_iter().map(Peer::LoadBalancer));
        rules.push(Rule {
            direction,
            action: Action::Allow,
            priority: 0,
            protocol,
            ports,
            peers,
            description: None,
            targets: Vec::new(),
        });
    }
    rules
}
