//! AWS managed services as hosts: what they share (subnet groups resolved by name, members of a
//! cluster inheriting its groups and subnets, placement in a known subnet), and RDS / DocumentDB
//! databases, clusters, cluster instances and DB subnet groups. ElastiCache, EKS and the other
//! services are in the submodules.

use std::collections::HashMap;

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::builder::Deferred;
use super::super::values::{Tags, L, N, S};
use super::super::Resource;
use crate::model::*;

mod cache;
mod eks;
mod others;

pub(super) use cache::{AwsCacheCluster, AwsCacheReplicationGroup, AwsCacheSubnetGroup};
pub(super) use eks::{AwsEksCluster, AwsEksNodeGroup};
pub(super) use others::{AwsMqBroker, AwsMskCluster, AwsOpensearchDomain};

/// Which namespace a subnet group name is in (DocumentDB and Neptune use RDS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Groups {
    /// `aws_db_subnet_group`, `aws_docdb_subnet_group`.
    Db,
    /// `aws_elasticache_subnet_group`.
    Cache,
}

/// Which kind of cluster members belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Rds,
    Docdb,
    Cache,
    Eks,
}

/// A cluster members may inherit from.
struct Cluster {
    host: String,
    /// The security groups every member gets ahead of its own (`None`: the cluster's groups,
    /// for members that name none).
    member_groups: Option<Vec<String>>,
}

/// What the managed-service resources of one import gather for each other.
#[derive(Default)]
pub(super) struct Managed {
    /// Subnet groups by namespace and name.
    groups: HashMap<(Groups, String), Vec<String>>,
    /// (host, namespace, subnet group name) for hosts placed by a subnet group.
    wants: Vec<(String, Groups, String)>,
    /// Clusters by family and name.
    clusters: HashMap<(Family, String), Cluster>,
    /// (member host, family, cluster name).
    members: Vec<(String, Family, String)>,
    /// Every managed host, for the final placement.
    hosts: Vec<String>,
}

/// How a service host is tied to others, for [`add_service`].
#[derive(Default)]
struct Ties {
    /// Its subnet group.
    group: Option<(Groups, String)>,
    /// It is a cluster of this family (by its `name`); members get these security groups ahead
    /// of their own (`None`: the cluster's groups when they name none).
    cluster: Option<(Family, Option<Vec<String>>)>,
    /// It is a member of this cluster.
    member: Option<(Family, String)>,
}

/// Adds a managed host (its candidate subnets in `subnets`, `subnet` unset: placement picks
/// it) and registers its ties.
fn add_service(b: &mut Builder, managed: bool, h: Host, ties: Ties) {
    let id = h.id.clone();
    let name = h.name.clone();
    b.add(h, managed);
    b.gather(|m: &mut Managed| {
        m.hosts.push(id.clone());
        if let Some((ns, g)) = ties.group {
            m.wants.push((id.clone(), ns, g));
        }
        if let Some((fam, member_groups)) = ties.cluster {
            m.clusters.insert(
                (fam, name),
                Cluster {
                    host: id.clone(),
                    member_groups,
                },
            );
        }
        if let Some((fam, c)) = ties.member {
            m.members.push((id, fam, c));
        }
    });
}

/// Registers a subnet group.
fn add_group(b: &mut Builder, ns: Groups, name: String, subnets: Vec<String>) {
    b.gather(|m: &mut Managed| {
        m.groups.insert((ns, name), subnets);
    });
}

impl Deferred for Managed {
    fn resolve(self, t: &mut Topology) -> Vec<String> {
        // Hosts by id, once: a state with thousands of databases stays linear.
        let index: HashMap<String, usize> = t
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.clone(), i))
            .collect();
        for (id, ns, g) in &self.wants {
            if let (Some(subnets), Some(&i)) = (self.groups.get(&(*ns, g.clone())), index.get(id)) {
                let h = &mut t.hosts[i];
                if h.subnets.is_empty() {
                    h.subnets = subnets.clone();
                }
            }
        }
        for (id, fam, c) in &self.members {
            let Some(cluster) = self.clusters.get(&(*fam, c.clone())) else {
                continue;
            };
            let Some(parent) = index.get(&cluster.host).map(|&i| t.hosts[i].clone()) else {
                continue;
            };
            let Some(&i) = index.get(id) else {
                continue;
            };
            let h = &mut t.hosts[i];
            match &cluster.member_groups {
                Some(groups) => {
                    let mut all = groups.clone();
                    for g in std::mem::take(&mut h.security_groups) {
                        if !all.contains(&g) {
                            all.push(g);
                        }
                    }
                    h.security_groups = all;
                }
                None if h.security_groups.is_empty() => {
                    h.security_groups = parent.security_groups;
                }
                None => {}
            }
            if h.subnets.is_empty() {
                h.subnets = parent.subnets;
            }
            if h.vpc.is_none() {
                h.vpc = parent.vpc;
            }
            if let (Some(s), Some(p)) = (&mut h.service, &parent.service) {
                if s.kind == ServiceKind::Other && s.engine.is_none() {
                    s.kind = p.kind;
                    s.engine.clone_from(&p.engine);
                    s.version.clone_from(&p.version);
                }
                if s.ports.is_empty() {
                    s.ports.clone_from(&p.ports);
                }
            }
        }
        let subnets: HashMap<&str, Option<&str>> = t
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.zone.as_deref()))
            .collect();
        let mut placed = Vec::new();
        for id in &self.hosts {
            if let Some(&i) = index.get(id) {
                placed.push((i, place(&t.hosts[i], &subnets)));
            }
        }
        for (i, pick) in placed {
            let h = &mut t.hosts[i];
            if let Some(p) = pick {
                h.subnets.retain(|s| s != &p);
                h.subnets.insert(0, p.clone());
                h.subnet = Some(p);
            }
            if h.subnet.is_some() && h.subnets.len() == 1 {
                h.subnets.clear();
            }
            if h.subnet.is_none() && h.vpc.is_none() {
                let vpc = h
                    .security_groups
                    .iter()
                    .find_map(|g| t.firewalls.iter().find(|f| &f.id == g))
                    .and_then(|f| f.vpc.clone());
                t.hosts[i].vpc = vpc;
            }
        }
        Vec::new()
    }
}

/// The subnet a host without one is placed in, among its candidates: the first one the
/// topology knows (`subnets`: id → zone), in the host's zone if one is. (A host with a single
/// known subnet then keeps no list; a host in no known subnet takes the VPC of its first known
/// security group.)
fn place(h: &Host, subnets: &HashMap<&str, Option<&str>>) -> Option<String> {
    if h.subnet.is_some() {
        return None;
    }
    let zone = h.zone.as_deref();
    h.subnets
        .iter()
        .find(|s| zone.is_some() && subnets.get(s.as_str()) == Some(&zone))
        .or_else(|| h.subnets.iter().find(|s| subnets.contains_key(s.as_str())))
        .cloned()
}

/// A port attribute: none when absent or 0 (not known yet), a warning when it is no port.
fn port_of(b: &mut Builder, n: N, what: &str) -> Option<u16> {
    match n.0 {
        None | Some(0) => None,
        Some(v) => {
            let p = u16::try_from(v).ok();
            if p.is_none() {
                b.warn(format!("{what}: port {v} is not a port"));
            }
            p
        }
    }
}

/// The host and port of an endpoint (`https://x.eks.amazonaws.com`, `db.rds.amazonaws.com:5432`,
/// `amqps://b-1.mq.amazonaws.com:5671`).
fn host_port(endpoint: &str) -> (String, Option<u16>) {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or_default();
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(p) => (h.to_string(), Some(p)),
            Err(_) => (rest.to_string(), None),
        },
        _ => (rest.to_string(), None),
    }
}

/// The provider id of a service: its ARN, else its id.
fn service_id(arn: S, id: S) -> Option<String> {
    arn.0.or(id.0)
}

/// A managed host without placement (filled by [`Managed::resolve`]).
fn service_host(id: String, name: String, tags: Tags, service: ManagedService) -> Host {
    Host {
        id,
        name,
        provider: Provider::Aws,
        tags: tags.0,
        service: Some(service),
        ..Default::default()
    }
}

/// `aws_db_subnet_group`, `aws_docdb_subnet_group`, `aws_neptune_subnet_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsDbSubnetGroup {
    id: S,
    name: S,
    subnet_ids: L,
}

impl Resource for AwsDbSubnetGroup {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(name) = self.name.0.or(self.id.0) else {
            return b.missing_id("aws_db_subnet_group");
        };
        add_group(b, Groups::Db, name, self.subnet_ids.0);
    }
}

/// `aws_db_instance`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsDbInstance {
    id: S,
    arn: S,
    identifier: S,
    address: S,
    endpoint: S,
    port: N,
    engine: S,
    engine_version: S,
    engine_version_actual: S,
    db_subnet_group_name: S,
    vpc_security_group_ids: L,
    availability_zone: S,
    status: S,
    tags: Tags,
}

impl Resource for AwsDbInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.identifier.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_db_instance");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let (address, endpoint_port) = match (self.address.0, &self.endpoint.0) {
            (Some(a), _) => (Some(a), None),
            (None, Some(e)) => {
                let (h, p) = host_port(e);
                (Some(h), p)
            }
            (None, None) => (None, None),
        };
        let port = port_of(b, self.port, &id).or(endpoint_port);
        let version = self.engine_version_actual.0.or(self.engine_version.0);
        let service = ManagedService::of_engine(self.engine.0.as_deref(), version, address, port);
        let mut h = service_host(id, name, self.tags, service);
        h.zone = self.availability_zone.0;
        h.security_groups = self.vpc_security_group_ids.0;
        h.state = self.status.0;
        let ties = Ties {
            group: self.db_subnet_group_name.0.map(|g| (Groups::Db, g)),
            ..Ties::default()
        };
        add_service(b, managed, h, ties);
    }
}

/// `aws_rds_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsRdsCluster {
    id: S,
    arn: S,
    cluster_identifier: S,
    endpoint: S,
    port: N,
    engine: S,
    engine_version: S,
    engine_version_actual: S,
    db_subnet_group_name: S,
    vpc_security_group_ids: L,
    status: S,
    tags: Tags,
}

impl Resource for AwsRdsCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        self.add_as(b, Family::Rds, managed);
    }
}

/// `aws_docdb_cluster`, `aws_neptune_cluster`: the attributes of an `aws_rds_cluster`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsDocdbCluster(AwsRdsCluster);

impl Resource for AwsDocdbCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        self.0.add_as(b, Family::Docdb, managed);
    }
}

impl AwsRdsCluster {
    fn add_as(self, b: &mut Builder, fam: Family, managed: bool) {
        let name = self.cluster_identifier.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_rds_cluster");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let engine = self
            .engine
            .0
            .or_else(|| (fam == Family::Docdb).then(|| "docdb".to_string()));
        let port = port_of(b, self.port, &id);
        let version = self.engine_version_actual.0.or(self.engine_version.0);
        let endpoint = self.endpoint.0.map(|e| host_port(&e).0);
        let service = ManagedService::of_engine(engine.as_deref(), version, endpoint, port);
        let mut h = service_host(id, name, self.tags, service);
        h.security_groups = self.vpc_security_group_ids.0;
        h.state = self.status.0;
        let ties = Ties {
            group: self.db_subnet_group_name.0.map(|g| (Groups::Db, g)),
            cluster: Some((fam, None)),
            member: None,
        };
        add_service(b, managed, h, ties);
    }
}

/// `aws_rds_cluster_instance`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsRdsClusterInstance {
    id: S,
    arn: S,
    identifier: S,
    cluster_identifier: S,
    endpoint: S,
    port: N,
    engine: S,
    engine_version: S,
    engine_version_actual: S,
    db_subnet_group_name: S,
    availability_zone: S,
    tags: Tags,
}

impl Resource for AwsRdsClusterInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        self.add_as(b, Family::Rds, managed);
    }
}

/// `aws_docdb_cluster_instance`, `aws_neptune_cluster_instance`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsDocdbClusterInstance(AwsRdsClusterInstance);

impl Resource for AwsDocdbClusterInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        self.0.add_as(b, Family::Docdb, managed);
    }
}

impl AwsRdsClusterInstance {
    fn add_as(self, b: &mut Builder, fam: Family, managed: bool) {
        let name = self.identifier.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_rds_cluster_instance");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let engine = self
            .engine
            .0
            .or_else(|| (fam == Family::Docdb).then(|| "docdb".to_string()));
        let port = port_of(b, self.port, &id);
        let version = self.engine_version_actual.0.or(self.engine_version.0);
        let endpoint = self.endpoint.0.map(|e| host_port(&e).0);
        let service = ManagedService::of_engine(engine.as_deref(), version, endpoint, port);
        let mut h = service_host(id, name, self.tags, service);
        h.zone = self.availability_zone.0;
        let ties = Ties {
            group: self.db_subnet_group_name.0.map(|g| (Groups::Db, g)),
            cluster: None,
            member: self.cluster_identifier.0.map(|c| (fam, c)),
        };
        add_service(b, managed, h, ties);
    }
}

#[cfg(test)]
mod tests;
