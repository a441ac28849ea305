//! The pages of `/v2/vpcs`, `/v2/droplets`, `/v2/load_balancers`, `/v2/firewalls`,
//! `/v2/databases` and `/v2/kubernetes/clusters`, and how each item becomes model objects.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer};

use super::managed::{ApiDatabase, ApiK8s};
use crate::model::*;

/// A list that may be `null` (an account without databases answers `"databases": null`).
pub(super) fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Links {
    pages: Option<Pages>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pages {
    next: Option<String>,
}

/// A region: a slug or an object with one.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Region {
    Slug(String),
    Object { slug: String },
}

impl Region {
    /// The slug.
    pub(super) fn slug(self) -> String {
        match self {
            Region::Slug(s) | Region::Object { slug: s } => s,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Num(u64),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s.clone(),
        }
    }
}

#[derive(Deserialize)]
struct ApiVpc {
    id: String,
    #[serde(default)]
    name: String,
    region: Option<Region>,
    ip_range: Option<String>,
}

#[derive(Deserialize)]
struct ApiNet {
    ip_address: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiNetworks {
    v4: Vec<ApiNet>,
    v6: Vec<ApiNet>,
}

#[derive(Deserialize)]
struct ApiDroplet {
    id: Id,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    networks: ApiNetworks,
    region: Option<Region>,
    #[serde(default)]
    tags: Vec<String>,
    vpc_uuid: Option<String>,
}

#[derive(Deserialize)]
struct ApiForward {
    entry_protocol: String,
    entry_port: u16,
    target_port: Option<u16>,
}

#[derive(Deserialize)]
struct ApiLb {
    id: String,
    #[serde(default)]
    name: String,
    ip: Option<String>,
    region: Option<Region>,
    #[serde(default)]
    forwarding_rules: Vec<ApiForward>,
    #[serde(default)]
    droplet_ids: Vec<u64>,
    tag: Option<String>,
    vpc_uuid: Option<String>,
    network: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiEnds {
    addresses: Vec<String>,
    droplet_ids: Vec<u64>,
    tags: Vec<String>,
    load_balancer_uids: Vec<String>,
}

#[derive(Deserialize)]
struct ApiFwRule {
    protocol: String,
    #[serde(default)]
    ports: String,
    #[serde(default)]
    sources: ApiEnds,
    #[serde(default)]
    destinations: ApiEnds,
}

#[derive(Deserialize)]
struct ApiFirewall {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    inbound_rules: Vec<ApiFwRule>,
    #[serde(default)]
    outbound_rules: Vec<ApiFwRule>,
    #[serde(default)]
    droplet_ids: Vec<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct PageOf<T> {
    #[serde(
        alias = "vpcs",
        alias = "droplets",
        alias = "load_balancers",
        alias = "firewalls",
        alias = "databases",
        alias = "kubernetes_clusters",
        deserialize_with = "null_as_empty"
    )]
    items: Vec<T>,
    #[serde(default)]
    links: Links,
}

fn next_of(l: Links) -> Option<String> {
    l.pages.and_then(|p| p.next).filter(|n| !n.is_empty())
}

/// Adds one page of `kind` (the path after `/v2/`) to `t`; returns the next page's URL.
pub(super) fn add_page(
    kind: &str,
    body: &[u8],
    t: &mut Topology,
) -> Result<Option<String>, serde_json::Error> {
    Ok(match kind {
        "vpcs" => {
            let p: PageOf<ApiVpc> = serde_json::from_slice(body)?;
            for v in p.items {
                t.vpcs.push(Vpc {
                    name: if v.name.is_empty() {
                        v.id.clone()
                    } else {
                        v.name
                    },
                    id: v.id,
                    provider: Provider::Digitalocean,
                    region: v.region.map(Region::slug),
                    cidrs: v
                        .ip_range
                        .and_then(|r| r.parse().ok())
                        .into_iter()
                        .collect(),
                    main_route_table: None,
                    tags: BTreeMap::new(),
                    placeholder: false,
                });
            }
            next_of(p.links)
        }
        "droplets" => {
            let p: PageOf<ApiDroplet> = serde_json::from_slice(body)?;
            for d in p.items {
                let id = d.id.text();
                let addr = |kind: &str| -> Vec<IpAddr> {
                    d.networks
                        .v4
                        .iter()
                        .chain(&d.networks.v6)
                        .filter(|n| n.kind == kind)
                        .filter_map(|n| n.ip_address.parse().ok())
                        .collect()
                };
                t.hosts.push(Host {
                    name: if d.name.is_empty() {
                        id.clone()
                    } else {
                        d.name.clone()
                    },
                    private_ips: addr("private"),
                    public_ip: addr("public").into_iter().next(),
                    id,
                    provider: Provider::Digitalocean,
                    vpc: d.vpc_uuid,
                    subnet: None,
                    zone: d.region.map(Region::slug),
                    tags: BTreeMap::new(),
                    labels: d.tags,
                    security_groups: Vec::new(),
                    state: d.status,
                    source_dest_check: None,
                    interfaces: Vec::new(),
                    service: None,
                    subnets: Vec::new(),
                });
            }
            next_of(p.links)
        }
        "load_balancers" => {
            let p: PageOf<ApiLb> = serde_json::from_slice(body)?;
            for l in p.items {
                t.load_balancers.push(LoadBalancer {
                    name: if l.name.is_empty() {
                        l.id.clone()
                    } else {
                        l.name
                    },
                    id: l.id,
                    provider: Provider::Digitalocean,
                    vpc: l.vpc_uuid,
                    subnets: Vec::new(),
                    internal: Some(l.network.as_deref() == Some("INTERNAL")),
                    kind: l.kind,
                    ip: l.ip.and_then(|i| i.parse().ok()),
                    dns_name: None,
                    region: l.region.map(Region::slug),
                    listeners: l
                        .forwarding_rules
                        .into_iter()
                        .map(|f| Listener {
                            port: f.entry_port,
                            protocol: f.entry_protocol.to_ascii_lowercase(),
                            target_port: f.target_port,
                            target_group: None,
                        })
                        .collect(),
                    targets: l.droplet_ids.iter().map(|d| d.to_string()).collect(),
                    target_tag: l.tag.filter(|t| !t.is_empty()),
                    security_groups: Vec::new(),
                });
            }
            next_of(p.links)
        }
        "databases" => {
            let p: PageOf<ApiDatabase> = serde_json::from_slice(body)?;
            for d in p.items {
                d.add(t);
            }
            next_of(p.links)
        }
        "kubernetes/clusters" => {
            let p: PageOf<ApiK8s> = serde_json::from_slice(body)?;
            for c in p.items {
                c.add(t);
            }
            next_of(p.links)
        }
        _ => {
            let p: PageOf<ApiFirewall> = serde_json::from_slice(body)?;
            for f in p.items {
                let mut rules = Vec::new();
                for (dir, list) in [
                    (Direction::Ingress, f.inbound_rules),
                    (Direction::Egress, f.outbound_rules),
                ] {
                    for r in list {
                        let ends = if dir == Direction::Ingress {
                            r.sources
                        } else {
                            r.destinations
                        };
                        let protocol = Protocol::parse(&r.protocol);
                        let ports = if protocol.has_ports() {
                            match PortRange::parse(&r.ports) {
                                Ok(p) => p,
                                Err(_) => continue,
                            }
                        } else {
                            None
                        };
                        let mut peers: Vec<Peer> = ends
                            .addresses
                            .iter()
                            .filter_map(|a| {
                                a.parse::<ipnet::IpNet>()
                                    .ok()
                                    .or_else(|| a.parse::<IpAddr>().ok().map(Into::into))
                            })
                            .map(Peer::Cidr)
                            .collect();
                        peers.extend(ends.droplet_ids.iter().map(|d| Peer::Host(d.to_string())));
                        peers.extend(ends.tags.into_iter().map(Peer::Label));
                        peers.extend(ends.load_balancer_uids.into_iter().map(Peer::LoadBalancer));
                        rules.push(Rule {
                            direction: dir,
                            action: Action::Allow,
                            priority: 0,
                            protocol,
                            ports,
                            peers,
                            description: None,
                            targets: Vec::new(),
                        });
                    }
                }
                t.firewalls.push(Firewall {
                    name: if f.name.is_empty() {
                        f.id.clone()
                    } else {
                        f.name
                    },
                    id: f.id,
                    kind: FirewallKind::Digitalocean,
                    vpc: None,
                    applies_to: AppliesTo::Hosts {
                        ids: f.droplet_ids.iter().map(|d| d.to_string()).collect(),
                        labels: f.tags,
                    },
                    rules,
                });
            }
            next_of(p.links)
        }
    })
}
