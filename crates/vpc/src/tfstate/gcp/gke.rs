//! Google Kubernetes Engine: `google_container_cluster` (its API server as a Kubernetes service
//! host on 443, its inline `node_pool` blocks) and `google_container_node_pool`.
//!
//! A node pool is a host without a service: a group of machines named `CLUSTER/POOL` (id
//! `CLUSTER_ID/nodePools/POOL`) in the cluster's network and subnetwork, whose labels are the
//! node network tags firewall rules select on. Its addresses are not in the state.
//!
//! The API server answers on `private_cluster_config.private_endpoint` (private address) and
//! `public_endpoint` / `endpoint` (public). A private cluster with a `master_ipv4_cidr_block`
//! and a `peering_name` (the VPC peering kind) has its control plane in a Google-owned network
//! peered with the cluster's: the host is then in the placeholder producer VPC
//! `gke-master-CLUSTER:NETWORK` (CIDR: the master block), joined by that peering.

use std::net::IpAddr;

use serde::Deserialize;

use super::services::implied_producer;
use super::{gcp_ref, last_segment, net_ref};
use crate::model::*;
use crate::tfstate::builder::Builder;
use crate::tfstate::values::{Blocks, Tags, L, S};
use crate::tfstate::Resource;

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeConfig {
    tags: L,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InlinePool {
    name: S,
    node_config: Blocks<NodeConfig>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PrivateCluster {
    enable_private_endpoint: Option<bool>,
    private_endpoint: S,
    public_endpoint: S,
    master_ipv4_cidr_block: S,
    peering_name: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DnsEndpoint {
    endpoint: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ControlPlaneEndpoints {
    dns_endpoint_config: Blocks<DnsEndpoint>,
}

/// `google_container_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GkeCluster {
    id: S,
    name: S,
    project: S,
    location: S,
    network: S,
    subnetwork: S,
    endpoint: S,
    master_version: S,
    private_cluster_config: Blocks<PrivateCluster>,
    control_plane_endpoints_config: Blocks<ControlPlaneEndpoints>,
    node_pool: Blocks<InlinePool>,
    resource_labels: Tags,
    status: S,
}

/// The labels of a node pool: its node network tags.
fn pool_labels(config: Vec<NodeConfig>) -> Vec<String> {
    config.into_iter().flat_map(|c| c.tags.0).collect()
}

impl Resource for GkeCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0.map(|s| gcp_ref(&s)) else {
            return b.missing_id("google_container_cluster");
        };
        let name = self.name.0.unwrap_or_else(|| last_segment(&id));
        let project = self.project.0.as_deref();
        let network = self.network.0.as_deref().map(|n| net_ref(n, project));
        let subnet = self.subnetwork.0.as_deref().map(gcp_ref);
        let private = self.private_cluster_config.0.into_iter().next();
        let mut private_ips = Vec::new();
        let mut public_ip = None;
        let mut vpc = network.clone();
        let mut host_subnet = subnet.clone();
        if let Some(p) = &private {
            private_ips.extend(b.ip(&p.private_endpoint.0, &id));
            if p.enable_private_endpoint != Some(true) {
                public_ip = b.ip(&p.public_endpoint.0, &id);
            }
            if let (Some(block), Some(peering), Some(n)) =
                (&p.master_ipv4_cidr_block.0, &p.peering_name.0, &network)
            {
                let cidrs = b.net(block, &id).into_iter().collect();
                let service = format!("gke-master-{name}");
                vpc = Some(implied_producer(b, &service, n, peering, cidrs));
                host_subnet = None;
            }
        }
        if private_ips.is_empty() && public_ip.is_none() {
            // No private cluster config: `endpoint` is the API server's only (public) address.
            match b.ip(&self.endpoint.0, &id) {
                Some(ip) if is_private(ip) => private_ips.push(ip),
                other => public_ip = other,
            }
        }
        let dns = self
            .control_plane_endpoints_config
            .0
            .into_iter()
            .flat_map(|c| c.dns_endpoint_config.0)
            .find_map(|d| d.endpoint.0);
        let zone = self.location.0;
        for pool in self.node_pool.0 {
            let Some(pool_name) = pool.name.0 else {
                continue;
            };
            b.add(
                Host {
                    id: format!("{id}/nodePools/{pool_name}"),
                    name: format!("{name}/{pool_name}"),
                    provider: Provider::Gcp,
                    vpc: network.clone(),
                    subnet: subnet.clone(),
                    zone: zone.clone(),
                    labels: pool_labels(pool.node_config.0),
                    tags: group_tags("GKE node pool"),
                    ..Default::default()
                },
                managed,
            );
        }
        let h = Host {
            id,
            name,
            provider: Provider::Gcp,
            vpc,
            subnet: host_subnet,
            zone,
            private_ips,
            public_ip,
            tags: self.resource_labels.0,
            state: self.status.0,
            service: Some(ManagedService::of_engine(
                Some("kubernetes"),
                self.master_version.0,
                dns,
                None,
            )),
            ..Default::default()
        };
        b.add(h, managed);
    }
}

/// Whether an address is private (RFC 1918, CGNAT, unique local).
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private() || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// `google_container_node_pool`: a host group; its network and subnetwork are its cluster's,
/// filled in once every resource is in.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GkeNodePool {
    id: S,
    name: S,
    cluster: S,
    project: S,
    location: S,
    node_config: Blocks<NodeConfig>,
}

impl Resource for GkeNodePool {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0.map(|s| gcp_ref(&s)).or_else(|| {
            Some(format!(
                "projects/{}/locations/{}/clusters/{}/nodePools/{}",
                self.project.0.as_deref()?,
                self.location.0.as_deref()?,
                self.cluster.0.as_deref().map(last_segment)?,
                self.name.0.as_deref()?
            ))
        }) else {
            return b.missing_id("google_container_node_pool");
        };
        let cluster_id = match id.find("/nodePools/") {
            Some(i) => id[..i].to_string(),
            None => match &self.cluster.0 {
                Some(c) if c.contains('/') => gcp_ref(c),
                _ => {
                    b.warn(format!("{id}: node pool whose cluster is unknown"));
                    String::new()
                }
            },
        };
        let cluster_name = self
            .cluster
            .0
            .as_deref()
            .map(last_segment)
            .unwrap_or_else(|| last_segment(&cluster_id));
        let pool_name = self.name.0.unwrap_or_else(|| last_segment(&id));
        let host_id = id.clone();
        b.add(
            Host {
                id,
                name: format!("{cluster_name}/{pool_name}"),
                provider: Provider::Gcp,
                zone: self.location.0,
                labels: pool_labels(self.node_config.0),
                tags: group_tags("GKE node pool"),
                ..Default::default()
            },
            managed,
        );
        if cluster_id.is_empty() {
            return;
        }
        b.later(move |t| {
            // The network of the cluster's inline pools, else the cluster's own (a control plane
            // in a producer network `SERVICE:NETWORK` names the cluster's network after the `:`).
            let prefix = format!("{cluster_id}/nodePools/");
            let placed = t
                .hosts
                .iter()
                .find(|h| h.id.starts_with(&prefix) && h.id != host_id && h.vpc.is_some())
                .map(|h| (h.vpc.clone(), h.subnet.clone()))
                .or_else(|| {
                    let c = t.host(&cluster_id)?;
                    let vpc = c
                        .vpc
                        .as_deref()
                        .map(|v| v.split_once(':').map_or(v, |(_, n)| n).to_string());
                    Some((vpc, c.subnet.clone()))
                });
            let Some((vpc, subnet)) = placed else {
                return vec![format!(
                    "node pool {host_id} of cluster {cluster_id}, which is not in the state"
                )];
            };
            if let Some(h) = t.hosts.iter_mut().find(|h| h.id == host_id) {
                if h.vpc.is_none() {
                    h.vpc = vpc;
                    h.subnet = subnet;
                }
            }
            Vec::new()
        });
    }
}
