//! RDS: DB instances (`DescribeDBInstances`) and clusters (`DescribeDBClusters`, their subnet
//! groups by `DescribeDBSubnetGroups`) → managed-service hosts. Optional: a refusal is a
//! warning.
//!
//! A host per instance (`id` its ARN, `name` its identifier, the endpoint address and port, the
//! subnet group's subnets with the one in the instance's zone first) and one per cluster (the
//! writer endpoint). A cluster's member instances are hosts of their own too: each has its own
//! endpoint.

use std::collections::BTreeMap;

use roxmltree::Node;

use super::reader::{Reader, Resources};
use super::xml::{kid_texts, kids, tag_map, text_at, text_of};
use super::{AwsError, Service};
use crate::model::*;

/// A DB subnet group: its VPC and its subnets with their zones.
#[derive(Debug, Default, Clone)]
pub(super) struct SubnetGroup {
    pub(super) vpc: Option<String>,
    pub(super) subnets: Vec<(String, Option<String>)>,
}

impl SubnetGroup {
    /// Reads `<VpcId>` and `<Subnets><Subnet><SubnetIdentifier>` (+ the zone).
    pub(super) fn of(n: Node<'_, '_>) -> SubnetGroup {
        SubnetGroup {
            vpc: text_of(n, "VpcId").filter(|v| !v.is_empty()),
            subnets: kids(n, "Subnets")
                .into_iter()
                .filter_map(|s| {
                    let id = text_of(s, "SubnetIdentifier").filter(|i| !i.is_empty())?;
                    Some((id, text_at(s, &["SubnetAvailabilityZone", "Name"])))
                })
                .collect(),
        }
    }

    /// Places `h` in the group: its VPC, its subnets with the one in its zone first.
    pub(super) fn place(&self, h: &mut Host) {
        let zone = h.zone.as_deref();
        if h.vpc.is_none() {
            h.vpc = self.vpc.clone();
        }
        let mut ids: Vec<String> = self.subnets.iter().map(|(s, _)| s.clone()).collect();
        if let Some(i) = self
            .subnets
            .iter()
            .position(|(_, z)| zone.is_some() && z.as_deref() == zone)
        {
            let first = ids.remove(i);
            ids.insert(0, first);
        }
        h.subnet = ids.first().cloned();
        h.subnets = if ids.len() > 1 { ids } else { Vec::new() };
    }
}

/// What the RDS calls gave.
#[derive(Debug, Default)]
pub struct Found {
    hosts: Vec<Host>,
    /// Clusters waiting for their subnet group (by name).
    clusters: Vec<(Host, Option<String>)>,
    groups: BTreeMap<String, SubnetGroup>,
}

/// Reads the region's DB instances and clusters.
pub(super) fn read(r: &mut Reader<'_>) -> Result<(), AwsError> {
    use Service::Rds;
    let res = r.pages(Rds, "DescribeDBInstances", vec![], 100, instances);
    r.optional(res, "RDS DB instances")?;
    let res = r.pages(Rds, "DescribeDBClusters", vec![], 100, clusters);
    if r.optional(res, "RDS DB clusters")? && !r.out.rds.clusters.is_empty() {
        let res = r.pages(Rds, "DescribeDBSubnetGroups", vec![], 100, groups);
        r.optional(res, "the subnets of RDS DB clusters")?;
    }
    Ok(())
}

/// A managed-service host of `id` and `name`, its security groups and state.
pub(super) fn service_host(
    id: String,
    name: String,
    service: ManagedService,
    security_groups: Vec<String>,
    state: Option<String>,
) -> Host {
    Host {
        id,
        name,
        provider: Provider::Aws,
        security_groups,
        state,
        service: Some(service),
        ..Host::default()
    }
}

fn port(n: Node<'_, '_>, path: &[&str]) -> Option<u16> {
    text_at(n, path).and_then(|p| p.parse().ok())
}

fn instances(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for d in kids(root, "DBInstances") {
        let Some(name) = text_of(d, "DBInstanceIdentifier").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("an RDS DB instance without an identifier was skipped".into());
            continue;
        };
        let engine = text_of(d, "Engine");
        let service = ManagedService::of_engine(
            engine.as_deref(),
            text_of(d, "EngineVersion").filter(|v| !v.is_empty()),
            text_at(d, &["Endpoint", "Address"]),
            port(d, &["Endpoint", "Port"]).or(port(d, &["DbInstancePort"]).filter(|p| *p != 0)),
        );
        let sgs = kid_texts(d, "VpcSecurityGroups", Some("VpcSecurityGroupId"));
        let mut h = service_host(
            text_of(d, "DBInstanceArn")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            service,
            sgs,
            text_of(d, "DBInstanceStatus"),
        );
        h.tags = tag_map(d);
        h.zone = text_of(d, "AvailabilityZone").filter(|z| !z.is_empty());
        if let Some(g) = super::xml::child(d, "DBSubnetGroup") {
            SubnetGroup::of(g).place(&mut h);
        }
        out.rds.hosts.push(h);
    }
}

fn clusters(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for c in kids(root, "DBClusters") {
        let Some(name) = text_of(c, "DBClusterIdentifier").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("an RDS DB cluster without an identifier was skipped".into());
            continue;
        };
        let engine = text_of(c, "Engine");
        let service = ManagedService::of_engine(
            engine.as_deref(),
            text_of(c, "EngineVersion").filter(|v| !v.is_empty()),
            text_of(c, "Endpoint").filter(|e| !e.is_empty()),
            port(c, &["Port"]),
        );
        let sgs = kid_texts(c, "VpcSecurityGroups", Some("VpcSecurityGroupId"));
        let mut h = service_host(
            text_of(c, "DBClusterArn")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            service,
            sgs,
            text_of(c, "Status"),
        );
        h.tags = tag_map(c);
        let group = text_of(c, "DBSubnetGroup").filter(|g| !g.is_empty());
        out.rds.clusters.push((h, group));
    }
}

fn groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in kids(root, "DBSubnetGroups") {
        if let Some(name) = text_of(g, "DBSubnetGroupName").filter(|n| !n.is_empty()) {
            out.rds.groups.insert(name, SubnetGroup::of(g));
        }
    }
}

/// Sets a managed host's VPC from its subnet when nothing else said it.
pub(super) fn vpc_from_subnet(h: &mut Host, t: &Topology) {
    if h.vpc.is_none() {
        h.vpc = h
            .subnet
            .as_deref()
            .and_then(|s| t.subnet(s))
            .and_then(|s| s.vpc.clone());
    }
}

impl Found {
    /// Adds the hosts to `t`, clusters placed in their subnet groups.
    pub(super) fn finish(self, t: &mut Topology, warnings: &mut Vec<String>) {
        let mut hosts = self.hosts;
        for (mut h, group) in self.clusters {
            match group.as_deref().map(|g| (g, self.groups.get(g))) {
                Some((_, Some(g))) => g.place(&mut h),
                Some((name, None)) => warnings.push(format!(
                    "RDS DB cluster {}: DB subnet group {name} not found; its subnets are unknown",
                    h.name
                )),
                None => {}
            }
            hosts.push(h);
        }
        for mut h in hosts {
            vpc_from_subnet(&mut h, t);
            t.hosts.push(h);
        }
    }
}

#[cfg(test)]
mod tests;
