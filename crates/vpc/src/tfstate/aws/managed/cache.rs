//! ElastiCache: replication groups, cache clusters (members of a group inherit its subnet group
//! and security groups) and subnet groups.

use serde::Deserialize;

use super::super::super::builder::Builder;
use super::super::super::values::{Blocks, Tags, L, N, S};
use super::super::super::Resource;
use super::{add_group, add_service, port_of, service_host, service_id, Family, Groups, Ties};
use crate::model::*;

/// `aws_elasticache_subnet_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsCacheSubnetGroup {
    id: S,
    name: S,
    subnet_ids: L,
}

impl Resource for AwsCacheSubnetGroup {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(name) = self.name.0.or(self.id.0) else {
            return b.missing_id("aws_elasticache_subnet_group");
        };
        add_group(b, Groups::Cache, name, self.subnet_ids.0);
    }
}

/// `aws_elasticache_replication_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsCacheReplicationGroup {
    id: S,
    arn: S,
    replication_group_id: S,
    primary_endpoint_address: S,
    configuration_endpoint_address: S,
    port: N,
    engine: S,
    engine_version: S,
    engine_version_actual: S,
    subnet_group_name: S,
    security_group_ids: L,
    tags: Tags,
}

impl Resource for AwsCacheReplicationGroup {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.replication_group_id.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_elasticache_replication_group");
        };
        let name = name.unwrap_or_else(|| id.clone());
        // Cluster mode enabled: clients use the configuration endpoint.
        let endpoint = self
            .configuration_endpoint_address
            .0
            .or(self.primary_endpoint_address.0);
        let engine = self.engine.0.unwrap_or_else(|| "redis".to_string());
        let port = port_of(b, self.port, &id);
        let version = self.engine_version_actual.0.or(self.engine_version.0);
        let service = ManagedService::of_engine(Some(&engine), version, endpoint, port);
        let mut h = service_host(id, name, self.tags, service);
        h.security_groups = self.security_group_ids.0;
        let ties = Ties {
            group: self.subnet_group_name.0.map(|g| (Groups::Cache, g)),
            cluster: Some((Family::Cache, None)),
            member: None,
        };
        add_service(b, managed, h, ties);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CacheNode {
    address: S,
    port: N,
    availability_zone: S,
}

/// `aws_elasticache_cluster`: a Memcached or Redis cluster, or a member of a replication group.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsCacheCluster {
    id: S,
    arn: S,
    cluster_id: S,
    engine: S,
    engine_version: S,
    engine_version_actual: S,
    port: N,
    cache_nodes: Blocks<CacheNode>,
    cluster_address: S,
    subnet_group_name: S,
    security_group_ids: L,
    replication_group_id: S,
    availability_zone: S,
    tags: Tags,
}

impl Resource for AwsCacheCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.cluster_id.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_elasticache_cluster");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let first = self.cache_nodes.0.into_iter().next().unwrap_or_default();
        let endpoint = self.cluster_address.0.or(first.address.0);
        let port = match port_of(b, self.port, &id) {
            Some(p) => Some(p),
            None => port_of(b, first.port, &id),
        };
        let version = self.engine_version_actual.0.or(self.engine_version.0);
        let service = ManagedService::of_engine(self.engine.0.as_deref(), version, endpoint, port);
        let mut h = service_host(id, name, self.tags, service);
        h.zone = self.availability_zone.0.or(first.availability_zone.0);
        h.security_groups = self.security_group_ids.0;
        let ties = Ties {
            group: self.subnet_group_name.0.map(|g| (Groups::Cache, g)),
            cluster: None,
            member: self.replication_group_id.0.map(|g| (Family::Cache, g)),
        };
        add_service(b, managed, h, ties);
    }
}
