//! DigitalOcean Kubernetes: `digitalocean_kubernetes_cluster` (a Kubernetes service host and
//! its inline `node_pool` as a host group) and `digitalocean_kubernetes_node_pool` (a host group
//! in its cluster's VPC), built like the live API importer's.

use serde::Deserialize;

use crate::digitalocean::managed::{kubernetes_host, node_pool_host, K8sFields};
use crate::tfstate::builder::Builder;
use crate::tfstate::values::{Blocks, L, S};
use crate::tfstate::Resource;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pool {
    id: S,
    name: S,
    tags: L,
}

/// `digitalocean_kubernetes_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoK8s {
    id: S,
    name: S,
    region: S,
    version: S,
    vpc_uuid: S,
    endpoint: S,
    ipv4_address: S,
    cluster_subnet: S,
    service_subnet: S,
    status: S,
    tags: L,
    node_pool: Blocks<Pool>,
}

impl Resource for DoK8s {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_kubernetes_cluster");
        };
        let name = self.name.0.unwrap_or_else(|| id.clone());
        let ipv4 = b.ip(&self.ipv4_address.0, &id);
        for p in self.node_pool.0 {
            let (Some(pool_id), Some(pool_name)) = (p.id.0, p.name.0) else {
                b.warn(format!("{id}: a node pool without id or name, skipped"));
                continue;
            };
            let h = node_pool_host(
                &id,
                &name,
                pool_id,
                &pool_name,
                self.vpc_uuid.0.clone(),
                self.region.0.clone(),
                p.tags.0,
            );
            b.add(h, managed);
        }
        let h = kubernetes_host(K8sFields {
            id,
            name,
            version: self.version.0,
            endpoint: self.endpoint.0,
            ipv4,
            vpc: self.vpc_uuid.0,
            region: self.region.0,
            status: self.status.0,
            tags: self.tags.0,
            cluster_subnet: self.cluster_subnet.0,
            service_subnet: self.service_subnet.0,
        });
        b.add(h, managed);
    }
}

/// `digitalocean_kubernetes_node_pool`: its VPC, region and name prefix are its cluster's, filled
/// in once every resource is in.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoK8sPool {
    id: S,
    cluster_id: S,
    name: S,
    tags: L,
}

impl Resource for DoK8sPool {
    fn add(self, b: &mut Builder, managed: bool) {
        let (Some(id), Some(cluster)) = (self.id.0, self.cluster_id.0) else {
            return b.missing_id("digitalocean_kubernetes_node_pool");
        };
        let pool_name = self.name.0.unwrap_or_else(|| id.clone());
        let h = node_pool_host(
            &cluster,
            &cluster,
            id.clone(),
            &pool_name,
            None,
            None,
            self.tags.0,
        );
        b.add(h, managed);
        b.later(move |t| {
            let Some(c) = t.host(&cluster) else {
                return vec![format!(
                    "node pool {id} of Kubernetes cluster {cluster}, which is not in the state"
                )];
            };
            let (name, vpc, zone) = (
                format!("{}/{pool_name}", c.name),
                c.vpc.clone(),
                c.zone.clone(),
            );
            if let Some(h) = t.hosts.iter_mut().find(|h| h.id == id && h.vpc.is_none()) {
                h.name = name;
                h.vpc = vpc;
                h.zone = zone;
            }
            Vec::new()
        });
    }
}
