//! DigitalOcean managed databases: `digitalocean_database_cluster`,
//! `digitalocean_database_replica` (hosts, built like the live API importer's) and
//! `digitalocean_database_firewall` (a cluster's trusted sources).
//!
//! Trusted sources become a [`Firewall`] of kind `Digitalocean` applying to the cluster host
//! (`AppliesTo::Hosts { ids: [cluster id] }`), one ingress rule per source on the cluster's TCP
//! port: `ip_addr` → the address range, `droplet` → that host, `tag` → hosts with that label,
//! `k8s` → the cluster's worker nodes (label `k8s:CLUSTER_ID`, which node pool hosts carry),
//! `app` → the service tag `app:APP_ID` (App Platform apps are not in the map).

use serde::Deserialize;

use crate::digitalocean::managed::{database_host, replica_id, DbFields};
use crate::model::*;
use crate::tfstate::builder::Builder;
use crate::tfstate::values::{Blocks, L, N, S};
use crate::tfstate::Resource;

/// `digitalocean_database_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoDatabase {
    id: S,
    name: S,
    engine: S,
    version: S,
    host: S,
    private_host: S,
    port: N,
    private_network_uuid: S,
    region: S,
    status: S,
    tags: L,
}

impl Resource for DoDatabase {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("digitalocean_database_cluster");
        };
        let h = database_host(DbFields {
            name: self.name.0.unwrap_or_default(),
            id,
            engine: self.engine.0,
            version: self.version.0,
            endpoint: self.private_host.0.or(self.host.0),
            port: self.port.port(),
            vpc: self.private_network_uuid.0,
            region: self.region.0,
            status: self.status.0,
            tags: self.tags.0,
        });
        b.add(h, managed);
    }
}

/// `digitalocean_database_replica`: a host of its own; engine and version are its cluster's
/// (filled in once every resource is in), VPC and region too unless it names its own.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoReplica {
    uuid: S,
    cluster_id: S,
    name: S,
    host: S,
    private_host: S,
    port: N,
    private_network_uuid: S,
    region: S,
    tags: L,
}

impl Resource for DoReplica {
    fn add(self, b: &mut Builder, managed: bool) {
        let (Some(cluster), Some(name)) = (self.cluster_id.0, self.name.0) else {
            return b.warn(
                "a digitalocean_database_replica without cluster_id or name was skipped".into(),
            );
        };
        let id = replica_id(self.uuid.0, &cluster, &name);
        let h = database_host(DbFields {
            id: id.clone(),
            name,
            endpoint: self.private_host.0.or(self.host.0),
            port: self.port.port(),
            vpc: self.private_network_uuid.0,
            region: self.region.0,
            tags: self.tags.0,
            ..Default::default()
        });
        b.add(h, managed);
        b.later(move |t| {
            let Some(parent) = t.host(&cluster) else {
                return vec![format!(
                    "replica {id} of database cluster {cluster}, which is not in the state"
                )];
            };
            let service = parent.service.clone();
            let (vpc, zone) = (parent.vpc.clone(), parent.zone.clone());
            if let Some(h) = t.hosts.iter_mut().find(|h| h.id == id) {
                if let (Some(mine), Some(theirs)) = (h.service.as_mut(), service) {
                    let port = mine.port();
                    *mine = ManagedService::of_engine(
                        theirs.engine.as_deref(),
                        theirs.version,
                        mine.endpoint.take(),
                        port.or(theirs.ports.first().copied()),
                    );
                }
                h.vpc = h.vpc.take().or(vpc);
                h.zone = h.zone.take().or(zone);
            }
            Vec::new()
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TrustedSource {
    #[serde(rename = "type")]
    type_: S,
    value: S,
}

/// `digitalocean_database_firewall`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoDatabaseFirewall {
    id: S,
    cluster_id: S,
    rule: Blocks<TrustedSource>,
}

impl Resource for DoDatabaseFirewall {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(cluster) = self.cluster_id.0 else {
            return b
                .warn("a digitalocean_database_firewall without cluster_id was skipped".into());
        };
        let id = self.id.0.unwrap_or_else(|| format!("{cluster}-firewall"));
        let mut rules = Vec::new();
        for r in self.rule.0 {
            let (Some(kind), Some(value)) = (r.type_.0, r.value.0) else {
                b.warn(format!(
                    "{id}: a trusted source without type or value, skipped"
                ));
                continue;
            };
            let peer = match kind.as_str() {
                "ip_addr" => match b.net(&value, &id) {
                    Some(n) => Peer::Cidr(n),
                    None => continue,
                },
                "droplet" => Peer::Host(value),
                "tag" => Peer::Label(value),
                "k8s" => Peer::Label(format!("k8s:{value}")),
                "app" => Peer::ServiceTag(format!("app:{value}")),
                other => {
                    b.warn(format!(
                        "{id}: trusted source type {other:?} is not known, skipped"
                    ));
                    continue;
                }
            };
            rules.push(Rule {
                direction: Direction::Ingress,
                action: Action::Allow,
                priority: 0,
                protocol: Protocol::Tcp,
                ports: None,
                peers: vec![peer],
                targets: Vec::new(),
                description: Some(kind),
            });
        }
        b.add(
            Firewall {
                name: format!("{cluster} trusted sources"),
                id: id.clone(),
                kind: FirewallKind::Digitalocean,
                vpc: None,
                applies_to: AppliesTo::Hosts {
                    ids: vec![cluster.clone()],
                    labels: Vec::new(),
                },
                rules,
            },
            managed,
        );
        // The cluster's name, VPC and port, once it is in.
        b.later(move |t| {
            let Some(h) = t.host(&cluster) else {
                return vec![format!(
                    "{id}: trusted sources of database cluster {cluster}, which is not in the \
                     state"
                )];
            };
            let (name, vpc) = (format!("{} trusted sources", h.name), h.vpc.clone());
            let port = h.service.as_ref().and_then(|s| s.port());
            if let Some(f) = t.firewalls.iter_mut().find(|f| f.id == id) {
                f.name = name;
                f.vpc = vpc;
                for r in &mut f.rules {
                    r.ports = port.map(|p| PortRange { from: p, to: p });
                }
            }
            Vec::new()
        });
    }
}
