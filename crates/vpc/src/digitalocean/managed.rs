//! DigitalOcean managed databases and Kubernetes clusters: the API's pages (`/v2/databases`,
//! `/v2/databases/{uuid}/replicas`, `/v2/kubernetes/clusters`) and the hosts they become. The
//! host builders are shared with the Terraform state importer, so both sources model the same
//! cluster alike (and drift compares them field by field):
//!
//! - a database cluster or replica: a managed host (`service` from its engine, endpoint = the
//!   private host name, port = the connection's), in its private network, labelled with its tags;
//! - a Kubernetes cluster: a Kubernetes service host on 443 (endpoint = the API server's host
//!   name, public address = its `ipv4`), tagged `cluster_subnet` / `service_subnet` with the pod
//!   and service ranges, labelled with its user tags (without DigitalOcean's automatic `k8s…`
//!   tags);
//! - a node pool: a host without a service named `CLUSTER/POOL` in the cluster's VPC, labelled
//!   with its tags plus the tags DigitalOcean puts on every worker droplet (`k8s`,
//!   `k8s:CLUSTER_ID`, `k8s:worker`), which firewalls and database trusted sources select on.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::pages::Region;
use crate::model::*;

/// What a database cluster or replica host is made of.
#[derive(Debug, Default)]
pub(crate) struct DbFields {
    /// Cluster UUID (a replica: its UUID, else `CLUSTER/replicas/NAME`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Engine slug (`pg`, `mysql`, `redis`, `valkey`, `mongodb`, `kafka`…).
    pub engine: Option<String>,
    /// Engine version.
    pub version: Option<String>,
    /// The private host name, else the public one.
    pub endpoint: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// VPC UUID.
    pub vpc: Option<String>,
    /// Region slug.
    pub region: Option<String>,
    /// Status (`online`, `creating`…).
    pub status: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// A database cluster or replica as a managed host.
pub(crate) fn database_host(f: DbFields) -> Host {
    Host {
        name: if f.name.is_empty() {
            f.id.clone()
        } else {
            f.name
        },
        id: f.id,
        provider: Provider::Digitalocean,
        vpc: f.vpc,
        zone: f.region,
        labels: f.tags,
        state: f.status,
        service: Some(ManagedService::of_engine(
            f.engine.as_deref(),
            f.version,
            f.endpoint,
            f.port,
        )),
        ..Default::default()
    }
}

/// The id of a replica: its UUID when known, else `CLUSTER/replicas/NAME` (the Terraform
/// provider's id).
pub(crate) fn replica_id(uuid: Option<String>, cluster: &str, name: &str) -> String {
    uuid.filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| format!("{cluster}/replicas/{name}"))
}

/// What a Kubernetes cluster host is made of.
#[derive(Debug, Default)]
pub(crate) struct K8sFields {
    /// Cluster UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version slug.
    pub version: Option<String>,
    /// API server URL (`https://UUID.k8s.ondigitalocean.com`).
    pub endpoint: Option<String>,
    /// Public address of the API server.
    pub ipv4: Option<IpAddr>,
    /// VPC UUID.
    pub vpc: Option<String>,
    /// Region slug.
    pub region: Option<String>,
    /// Status (`running`, `provisioning`…).
    pub status: Option<String>,
    /// Tags (automatic `k8s…` ones are dropped).
    pub tags: Vec<String>,
    /// Pod range.
    pub cluster_subnet: Option<String>,
    /// Service range.
    pub service_subnet: Option<String>,
}

/// The host name of an endpoint URL (`https://x.k8s.ondigitalocean.com` → `x.k8s…`); none when
/// blank.
pub(crate) fn endpoint_host(url: &str) -> Option<String> {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let host = rest.split(['/', ':']).next().unwrap_or_default().trim();
    (!host.is_empty()).then(|| host.to_string())
}

/// Whether a tag is one DigitalOcean puts on Kubernetes resources itself.
fn automatic(tag: &str) -> bool {
    tag == "k8s" || tag.starts_with("k8s:")
}

/// A Kubernetes cluster as a Kubernetes service host.
pub(crate) fn kubernetes_host(f: K8sFields) -> Host {
    let mut tags = BTreeMap::new();
    for (k, v) in [
        ("cluster_subnet", f.cluster_subnet),
        ("service_subnet", f.service_subnet),
    ] {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            tags.insert(k.to_string(), v);
        }
    }
    Host {
        name: if f.name.is_empty() {
            f.id.clone()
        } else {
            f.name
        },
        id: f.id,
        provider: Provider::Digitalocean,
        vpc: f.vpc,
        zone: f.region,
        public_ip: f.ipv4,
        tags,
        labels: f.tags.into_iter().filter(|t| !automatic(t)).collect(),
        state: f.status,
        service: Some(ManagedService::of_engine(
            Some("kubernetes"),
            f.version,
            f.endpoint.as_deref().and_then(endpoint_host),
            None,
        )),
        ..Default::default()
    }
}

/// A node pool of cluster `cluster_id` (named `cluster_name`) as a host group.
pub(crate) fn node_pool_host(
    cluster_id: &str,
    cluster_name: &str,
    pool_id: String,
    pool_name: &str,
    vpc: Option<String>,
    region: Option<String>,
    tags: Vec<String>,
) -> Host {
    let mut labels: Vec<String> = tags.into_iter().filter(|t| !automatic(t)).collect();
    labels.extend([
        "k8s".to_string(),
        format!("k8s:{cluster_id}"),
        "k8s:worker".into(),
    ]);
    Host {
        name: format!("{cluster_name}/{pool_name}"),
        id: pool_id,
        provider: Provider::Digitalocean,
        vpc,
        zone: region,
        labels,
        tags: group_tags("Kubernetes node pool"),
        ..Default::default()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiConnection {
    host: Option<String>,
    port: Option<u16>,
}

impl ApiConnection {
    fn host(&self) -> Option<String> {
        self.host.clone().filter(|h| !h.trim().is_empty())
    }
}

/// The private connection's host and port, else the public one's.
fn endpoint_of(
    private: Option<ApiConnection>,
    public: Option<ApiConnection>,
) -> (Option<String>, Option<u16>) {
    let (p, q) = (private.unwrap_or_default(), public.unwrap_or_default());
    (p.host().or(q.host()), p.port.or(q.port))
}

/// One database cluster of `/v2/databases`.
#[derive(Deserialize)]
pub(super) struct ApiDatabase {
    id: String,
    #[serde(default)]
    name: String,
    engine: Option<String>,
    version: Option<String>,
    connection: Option<ApiConnection>,
    private_connection: Option<ApiConnection>,
    private_network_uuid: Option<String>,
    region: Option<Region>,
    status: Option<String>,
    tags: Option<Vec<String>>,
}

impl ApiDatabase {
    /// Adds the cluster to `t`.
    pub(super) fn add(self, t: &mut Topology) {
        let (endpoint, port) = endpoint_of(self.private_connection, self.connection);
        t.hosts.push(database_host(DbFields {
            id: self.id,
            name: self.name,
            engine: self.engine,
            version: self.version,
            endpoint,
            port,
            vpc: self.private_network_uuid.filter(|v| !v.is_empty()),
            region: self.region.map(Region::slug),
            status: self.status,
            tags: self.tags.unwrap_or_default(),
        }));
    }
}

/// One replica of `/v2/databases/{uuid}/replicas`.
#[derive(Deserialize)]
pub(super) struct ApiReplica {
    id: Option<String>,
    name: String,
    connection: Option<ApiConnection>,
    private_connection: Option<ApiConnection>,
    private_network_uuid: Option<String>,
    region: Option<Region>,
    status: Option<String>,
    tags: Option<Vec<String>>,
}

/// The `/v2/databases/{uuid}/replicas` answer.
#[derive(Deserialize)]
pub(super) struct ReplicaPage {
    #[serde(deserialize_with = "super::pages::null_as_empty")]
    replicas: Vec<ApiReplica>,
}

impl ReplicaPage {
    /// Adds the replicas of cluster `parent` (already in `t`: they share its engine, version
    /// and, unless they say otherwise, VPC and region).
    pub(super) fn add(self, parent: &str, t: &mut Topology) {
        let Some(p) = t.host(parent) else {
            return;
        };
        let (engine, version) = p
            .service
            .as_ref()
            .map(|s| (s.engine.clone(), s.version.clone()))
            .unwrap_or_default();
        let (vpc, region) = (p.vpc.clone(), p.zone.clone());
        for r in self.replicas {
            let (endpoint, port) = endpoint_of(r.private_connection, r.connection);
            t.hosts.push(database_host(DbFields {
                id: replica_id(r.id, parent, &r.name),
                name: r.name,
                engine: engine.clone(),
                version: version.clone(),
                endpoint,
                port,
                vpc: r
                    .private_network_uuid
                    .filter(|v| !v.is_empty())
                    .or(vpc.clone()),
                region: r.region.map(Region::slug).or(region.clone()),
                status: r.status,
                tags: r.tags.unwrap_or_default(),
            }));
        }
    }
}

#[derive(Deserialize)]
struct ApiPool {
    id: String,
    #[serde(default)]
    name: String,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiK8sStatus {
    state: Option<String>,
}

/// One cluster of `/v2/kubernetes/clusters`.
#[derive(Deserialize)]
pub(super) struct ApiK8s {
    id: String,
    #[serde(default)]
    name: String,
    region: Option<Region>,
    version: Option<String>,
    cluster_subnet: Option<String>,
    service_subnet: Option<String>,
    vpc_uuid: Option<String>,
    ipv4: Option<String>,
    endpoint: Option<String>,
    tags: Option<Vec<String>>,
    node_pools: Option<Vec<ApiPool>>,
    status: Option<ApiK8sStatus>,
}

impl ApiK8s {
    /// Adds the cluster and its node pools to `t`.
    pub(super) fn add(self, t: &mut Topology) {
        let region = self.region.map(Region::slug);
        let vpc = self.vpc_uuid.filter(|v| !v.is_empty());
        let (id, name) = (self.id.clone(), self.name.clone());
        t.hosts.push(kubernetes_host(K8sFields {
            id: self.id,
            name: self.name,
            version: self.version,
            endpoint: self.endpoint,
            ipv4: self.ipv4.and_then(|i| i.trim().parse().ok()),
            vpc: vpc.clone(),
            region: region.clone(),
            status: self.status.and_then(|s| s.state),
            tags: self.tags.unwrap_or_default(),
            cluster_subnet: self.cluster_subnet,
            service_subnet: self.service_subnet,
        }));
        let cluster_name = if name.is_empty() { &id } else { &name };
        for p in self.node_pools.unwrap_or_default() {
            t.hosts.push(node_pool_host(
                &id,
                cluster_name,
                p.id,
                &p.name,
                vpc.clone(),
                region.clone(),
                p.tags.unwrap_or_default(),
            ));
        }
    }
}
