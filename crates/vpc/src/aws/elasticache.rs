//! ElastiCache: cache clusters (`DescribeCacheClusters` with `ShowCacheNodeInfo=true`) and
//! replication groups (`DescribeReplicationGroups`), placed by their cache subnet groups
//! (`DescribeCacheSubnetGroups`) → managed-service hosts. Optional: a refusal is a warning.
//!
//! A host per cache cluster that is not part of a replication group (its configuration
//! endpoint, else its first node's endpoint), and one per replication group (its configuration
//! endpoint, else its primary endpoint) placed and guarded as its member clusters are.

use std::collections::BTreeMap;

use roxmltree::Node;

use super::rds::{service_host, vpc_from_subnet, SubnetGroup};
use super::reader::{Reader, Resources};
use super::xml::{child, kid_texts, kids, text_of};
use super::{AwsError, Service};
use crate::model::*;

/// A cache cluster as read: the host and where it is placed.
#[derive(Debug)]
struct Cluster {
    host: Host,
    group: Option<String>,
    replication_group: Option<String>,
}

/// What the ElastiCache calls gave.
#[derive(Debug, Default)]
pub struct Found {
    clusters: Vec<Cluster>,
    /// Replication groups with their member cluster ids.
    replication: Vec<(Host, Vec<String>)>,
    groups: BTreeMap<String, SubnetGroup>,
}

/// Reads the region's cache clusters and replication groups.
pub(super) fn read(r: &mut Reader<'_>) -> Result<(), AwsError> {
    use Service::Elasticache;
    let p = vec![("ShowCacheNodeInfo".to_string(), "true".to_string())];
    let res = r.pages(Elasticache, "DescribeCacheClusters", p, 100, clusters);
    r.optional(res, "ElastiCache clusters")?;
    let res = r.pages(
        Elasticache,
        "DescribeReplicationGroups",
        vec![],
        100,
        replication_groups,
    );
    r.optional(res, "ElastiCache replication groups")?;
    let found = &r.out.cache;
    if found.clusters.iter().any(|c| c.group.is_some()) {
        let res = r.pages(
            Elasticache,
            "DescribeCacheSubnetGroups",
            vec![],
            100,
            groups,
        );
        r.optional(res, "the subnets of ElastiCache clusters")?;
    }
    Ok(())
}

/// `<Address>` and `<Port>` of an endpoint element.
fn endpoint(n: Option<Node<'_, '_>>) -> Option<(String, Option<u16>)> {
    let n = n?;
    let address = text_of(n, "Address").filter(|a| !a.is_empty())?;
    Some((address, text_of(n, "Port").and_then(|p| p.parse().ok())))
}

fn clusters(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for c in kids(root, "CacheClusters") {
        let Some(name) = text_of(c, "CacheClusterId").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("an ElastiCache cluster without an id was skipped".into());
            continue;
        };
        let ep = endpoint(child(c, "ConfigurationEndpoint")).or_else(|| {
            kids(c, "CacheNodes")
                .into_iter()
                .find_map(|n| endpoint(child(n, "Endpoint")))
        });
        let (address, port) = match ep {
            Some((a, p)) => (Some(a), p),
            None => (None, None),
        };
        let engine = text_of(c, "Engine");
        let service = ManagedService::of_engine(
            engine.as_deref(),
            text_of(c, "EngineVersion").filter(|v| !v.is_empty()),
            address,
            port,
        );
        let sgs = kid_texts(c, "SecurityGroups", Some("SecurityGroupId"));
        let mut host = service_host(
            text_of(c, "ARN")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            service,
            sgs,
            text_of(c, "CacheClusterStatus"),
        );
        host.zone =
            text_of(c, "PreferredAvailabilityZone").filter(|z| !z.is_empty() && z != "Multiple");
        out.cache.clusters.push(Cluster {
            host,
            group: text_of(c, "CacheSubnetGroupName").filter(|g| !g.is_empty()),
            replication_group: text_of(c, "ReplicationGroupId").filter(|g| !g.is_empty()),
        });
    }
}

fn replication_groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in kids(root, "ReplicationGroups") {
        let Some(name) = text_of(g, "ReplicationGroupId").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("an ElastiCache replication group without an id was skipped".into());
            continue;
        };
        let ep = endpoint(child(g, "ConfigurationEndpoint")).or_else(|| {
            kids(g, "NodeGroups")
                .into_iter()
                .find_map(|n| endpoint(child(n, "PrimaryEndpoint")))
        });
        let (address, port) = match ep {
            Some((a, p)) => (Some(a), p),
            None => (None, None),
        };
        // Replication groups are Redis (or Valkey, which says so).
        let engine = text_of(g, "Engine").unwrap_or_else(|| "redis".into());
        let service = ManagedService::of_engine(Some(&engine), None, address, port);
        let host = service_host(
            text_of(g, "ARN")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            service,
            Vec::new(),
            text_of(g, "Status"),
        );
        let members = kid_texts(g, "MemberClusters", None);
        out.cache.replication.push((host, members));
    }
}

fn groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in kids(root, "CacheSubnetGroups") {
        if let Some(name) = text_of(g, "CacheSubnetGroupName").filter(|n| !n.is_empty()) {
            out.cache.groups.insert(name, SubnetGroup::of(g));
        }
    }
}

impl Found {
    /// Adds the hosts to `t`: clusters of no replication group, then the groups, each placed
    /// in its subnet group and guarded by its (members') security groups.
    pub(super) fn finish(self, t: &mut Topology, warnings: &mut Vec<String>) {
        let mut placed: Vec<Cluster> = Vec::new();
        for mut c in self.clusters {
            if let Some(g) = &c.group {
                match self.groups.get(g) {
                    Some(sg) => sg.place(&mut c.host),
                    None => warnings.push(format!(
                        "ElastiCache cluster {}: cache subnet group {g} not found; its subnets are unknown",
                        c.host.name
                    )),
                }
            }
            placed.push(c);
        }
        let mut hosts = Vec::new();
        for (mut h, members) in self.replication {
            let mine: Vec<&Cluster> = placed
                .iter()
                .filter(|c| {
                    c.replication_group.as_deref() == Some(h.name.as_str())
                        || members.contains(&c.host.name)
                })
                .collect();
            let mut subnets: Vec<String> = Vec::new();
            for c in &mine {
                for s in c.host.subnet.iter().chain(&c.host.subnets) {
                    if !subnets.contains(s) {
                        subnets.push(s.clone());
                    }
                }
                for g in &c.host.security_groups {
                    if !h.security_groups.contains(g) {
                        h.security_groups.push(g.clone());
                    }
                }
                if h.vpc.is_none() {
                    h.vpc = c.host.vpc.clone();
                }
                if let (Some(svc), Some(theirs)) = (h.service.as_mut(), c.host.service.as_ref()) {
                    if svc.version.is_none() {
                        svc.version = theirs.version.clone();
                    }
                }
            }
            h.subnet = subnets.first().cloned();
            h.subnets = if subnets.len() > 1 {
                subnets
            } else {
                Vec::new()
            };
            hosts.push(h);
        }
        // A member of a group not listed (the call refused) stays a host of its own.
        let listed: Vec<String> = hosts.iter().map(|h: &Host| h.name.clone()).collect();
        let singles = placed
            .into_iter()
            .filter(|c| {
                c.replication_group
                    .as_ref()
                    .is_none_or(|g| !listed.contains(g))
            })
            .map(|c| c.host);
        for mut h in singles.chain(hosts) {
            vpc_from_subnet(&mut h, t);
            t.hosts.push(h);
        }
    }
}

#[cfg(test)]
mod tests;
