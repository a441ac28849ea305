//! Google-managed services reached over a VPC peering: private services access
//! (`google_compute_global_address` + `google_service_networking_connection`), Cloud SQL
//! (`google_sql_database_instance`) and Memorystore for Redis (`google_redis_instance`).
//!
//! A Cloud SQL or Memorystore instance does not live in the customer's VPC: it lives in a
//! Google-owned *producer* network peered with it, and the customer VPC's firewall rules do not
//! apply to it. The model says so: the instance is a host of a placeholder VPC
//! `SERVICE:NETWORK` (`servicenetworking:projects/p/global/networks/n` for
//! private services access, `redis:…` for Memorystore's direct peering), whose CIDRs are the
//! ranges reserved for it, and a [`Peering`] joins the customer VPC to it (id
//! `NETWORK/peerings/PEERING`), so reachability reports the address as reached through that
//! peering (whose exported routes, e.g. to VPN clients, are not checked).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{gcp_ref, last_segment, net_ref};
use crate::model::*;
use crate::tfstate::builder::Builder;
use crate::tfstate::values::{Blocks, L, N, S};
use crate::tfstate::Resource;

/// The private services access producer (`servicenetworking.googleapis.com`).
pub(super) const SERVICE_NETWORKING: &str = "servicenetworking";
/// The peering Google creates for private services access.
const SERVICE_NETWORKING_PEERING: &str = "servicenetworking-googleapis-com";
/// Tag of a producer VPC listing the reserved range names (comma separated).
const RESERVED_TAG: &str = "reserved_peering_ranges";

/// The id of the placeholder producer VPC of `service` peered with `network`.
pub(super) fn producer_id(service: &str, network: &str) -> String {
    format!("{service}:{network}")
}

/// The placeholder producer VPC of `service` for `network` and the peering `peering` joining
/// them; `cidrs` are the producer's known ranges, `reserved` the names of the global addresses
/// it is given (private services access).
fn producer(
    service: &str,
    network: &str,
    peering: &str,
    cidrs: Vec<ipnet::IpNet>,
    reserved: &[String],
) -> (Vpc, Peering) {
    let id = producer_id(service, network);
    let mut tags = BTreeMap::new();
    if !reserved.is_empty() {
        tags.insert(RESERVED_TAG.to_string(), reserved.join(","));
    }
    let peering = Peering {
        id: format!("{network}/peerings/{peering}"),
        name: peering.to_string(),
        vpc: network.to_string(),
        peer_vpc: id.clone(),
        status: None,
    };
    let vpc = Vpc {
        id,
        name: format!("{service} ({})", last_segment(network)),
        provider: Provider::Gcp,
        region: None,
        cidrs,
        main_route_table: None,
        tags,
        placeholder: true,
    };
    (vpc, peering)
}

/// The producer VPC and peering an instance implies (`service` for `network`), added once every
/// resource is in unless the state describes them (a service networking connection); `cidrs` are
/// merged into it. Returns the producer VPC's id.
pub(super) fn implied_producer(
    b: &mut Builder,
    service: &str,
    network: &str,
    peering: &str,
    cidrs: Vec<ipnet::IpNet>,
) -> String {
    let (vpc, peering) = producer(service, network, peering, cidrs, &[]);
    let id = vpc.id.clone();
    b.later(move |t| {
        match t.vpcs.iter_mut().find(|v| v.id == vpc.id) {
            Some(v) => {
                for c in vpc.cidrs {
                    if !v.cidrs.contains(&c) {
                        v.cidrs.push(c);
                    }
                }
            }
            None => t.vpcs.push(vpc),
        }
        let joined = t
            .peerings
            .iter()
            .any(|p| p.vpc == peering.vpc && p.peer_vpc == peering.peer_vpc);
        if !joined {
            t.peerings.push(peering);
        }
        Vec::new()
    });
    id
}

/// `google_compute_global_address`: a range reserved for private services access adds its CIDR
/// to the producer network once every resource is in (only when the service networking
/// connection of its network reserves it by name). Other global addresses have no map object.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpGlobalAddress {
    id: S,
    name: S,
    address: S,
    prefix_length: N,
    purpose: S,
    network: S,
    project: S,
}

impl Resource for GcpGlobalAddress {
    fn add(self, b: &mut Builder, _managed: bool) {
        if self.purpose.0.as_deref() != Some("VPC_PEERING") {
            return;
        }
        let what = self.id.0.or(self.name.0.clone()).unwrap_or_default();
        let (Some(name), Some(address), Some(network)) =
            (self.name.0, self.address.0, self.network.0)
        else {
            return b.warn(format!(
                "{what}: a VPC_PEERING global address without a name, address or network"
            ));
        };
        let cidr = match self.prefix_length.0 {
            Some(p) => format!("{address}/{p}"),
            None => address,
        };
        let Some(cidr) = b.net(&cidr, &what) else {
            return;
        };
        let vpc = producer_id(
            SERVICE_NETWORKING,
            &net_ref(&network, self.project.0.as_deref()),
        );
        b.later(move |t| {
            if let Some(v) = t.vpcs.iter_mut().find(|v| v.id == vpc) {
                let reserved = v
                    .tags
                    .get(RESERVED_TAG)
                    .is_some_and(|r| r.split(',').any(|n| n == name));
                if reserved && !v.cidrs.contains(&cidr) {
                    v.cidrs.push(cidr);
                }
            }
            Vec::new()
        });
    }
}

/// `google_service_networking_connection`: the peering of private services access.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpServiceNetworking {
    network: S,
    peering: S,
    reserved_peering_ranges: L,
    service: S,
}

impl Resource for GcpServiceNetworking {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(network) = self.network.0.map(|n| gcp_ref(&n)) else {
            return b.warn(
                "a google_service_networking_connection without a network was skipped".into(),
            );
        };
        if self
            .service
            .0
            .as_deref()
            .is_some_and(|s| s != "servicenetworking.googleapis.com")
        {
            b.warn(format!(
                "{network}: service networking connection to {:?} modelled as private services \
                 access",
                self.service.0.unwrap_or_default()
            ));
        }
        let peering = self
            .peering
            .0
            .unwrap_or_else(|| SERVICE_NETWORKING_PEERING.to_string());
        let (vpc, peering) = producer(
            SERVICE_NETWORKING,
            &network,
            &peering,
            Vec::new(),
            &self.reserved_peering_ranges.0,
        );
        b.add(vpc, managed);
        b.add(peering, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SqlIp {
    ip_address: S,
    #[serde(rename = "type")]
    type_: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SqlIpConfig {
    private_network: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SqlSettings {
    ip_configuration: Blocks<SqlIpConfig>,
    user_labels: crate::tfstate::values::Tags,
}

/// `google_sql_database_instance`: a managed database host. With a private network it is a host
/// of that network's private services access producer (the peering is implied when the state
/// does not hold the connection).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpSqlInstance {
    id: S,
    name: S,
    self_link: S,
    project: S,
    region: S,
    database_version: S,
    connection_name: S,
    dns_name: S,
    ip_address: Blocks<SqlIp>,
    private_ip_address: S,
    public_ip_address: S,
    settings: Blocks<SqlSettings>,
    state: S,
}

/// `MYSQL_8_0` → `8.0`, `POSTGRES_15` → `15`, `SQLSERVER_2019_STANDARD` → `2019_STANDARD`.
pub(super) fn sql_version(v: &str) -> Option<String> {
    let (_, rest) = v.split_once('_')?;
    Some(if rest.split('_').all(|p| p.parse::<u32>().is_ok()) {
        rest.replace('_', ".")
    } else {
        rest.to_string()
    })
}

impl Resource for GcpSqlInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        let link = self
            .self_link
            .0
            .as_deref()
            .and_then(|s| s.find("projects/").map(|i| s[i..].to_string()));
        let Some(id) = link.or(self.id.0) else {
            return b.missing_id("google_sql_database_instance");
        };
        let mut private_ips = Vec::new();
        let mut public_ip = None;
        for a in &self.ip_address.0 {
            let ip = b.ip(&a.ip_address.0, &id);
            match (a.type_.0.as_deref(), ip) {
                (Some("PRIVATE"), Some(ip)) if !private_ips.contains(&ip) => private_ips.push(ip),
                (Some("PRIMARY"), Some(ip)) => public_ip = public_ip.or(Some(ip)),
                _ => {}
            }
        }
        if let Some(ip) = b.ip(&self.private_ip_address.0, &id) {
            if !private_ips.contains(&ip) {
                private_ips.push(ip);
            }
        }
        if public_ip.is_none() {
            public_ip = b.ip(&self.public_ip_address.0, &id);
        }
        let settings = self.settings.0.into_iter().next().unwrap_or_default();
        let network = settings
            .ip_configuration
            .0
            .iter()
            .find_map(|c| c.private_network.0.as_deref())
            .map(|n| net_ref(n, self.project.0.as_deref()));
        let vpc = network.map(|n| {
            implied_producer(
                b,
                SERVICE_NETWORKING,
                &n,
                SERVICE_NETWORKING_PEERING,
                Vec::new(),
            )
        });
        let engine = self.database_version.0;
        let mut tags = settings.user_labels.0;
        if let Some(c) = self.connection_name.0 {
            tags.insert("connection_name".into(), c);
        }
        let h = Host {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id,
            provider: Provider::Gcp,
            vpc,
            zone: self.region.0,
            private_ips,
            public_ip,
            tags,
            state: self.state.0,
            service: Some(ManagedService::of_engine(
                engine.as_deref(),
                engine.as_deref().and_then(sql_version),
                self.dns_name.0,
                None,
            )),
            ..Default::default()
        };
        b.add(h, managed);
    }
}

/// `google_redis_instance` (Memorystore for Redis): a cache host in the producer network of its
/// connect mode (direct peering: `redis:NETWORK`, whose CIDR is `reserved_ip_range`; private
/// service access: `servicenetworking:NETWORK`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct GcpRedis {
    id: S,
    name: S,
    project: S,
    region: S,
    location_id: S,
    current_location_id: S,
    host: S,
    port: N,
    read_endpoint: S,
    authorized_network: S,
    connect_mode: S,
    reserved_ip_range: S,
    redis_version: S,
    state: S,
    labels: crate::tfstate::values::Tags,
}

impl Resource for GcpRedis {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0.clone().or_else(|| {
            Some(format!(
                "projects/{}/locations/{}/instances/{}",
                self.project.0.as_deref()?,
                self.region.0.as_deref()?,
                self.name.0.as_deref()?
            ))
        }) else {
            return b.missing_id("google_redis_instance");
        };
        let mut private_ips: Vec<_> = b.ip(&self.host.0, &id).into_iter().collect();
        private_ips.extend(b.ip(&self.read_endpoint.0, &id));
        private_ips.dedup();
        let network = self
            .authorized_network
            .0
            .as_deref()
            .map(|n| net_ref(n, self.project.0.as_deref()));
        let vpc = network.map(|n| {
            if self.connect_mode.0.as_deref() == Some("PRIVATE_SERVICE_ACCESS") {
                implied_producer(
                    b,
                    SERVICE_NETWORKING,
                    &n,
                    SERVICE_NETWORKING_PEERING,
                    Vec::new(),
                )
            } else {
                let cidrs = match &self.reserved_ip_range.0 {
                    Some(r) => b.net(r, &id).into_iter().collect(),
                    None => Vec::new(),
                };
                implied_producer(b, "redis", &n, "redis-peer", cidrs)
            }
        });
        let version = self
            .redis_version
            .0
            .as_deref()
            .and_then(|v| v.strip_prefix("REDIS_"))
            .map(|v| v.replace('_', "."));
        let h = Host {
            name: self.name.0.unwrap_or_else(|| last_segment(&id)),
            id,
            provider: Provider::Gcp,
            vpc,
            zone: self
                .current_location_id
                .0
                .or(self.location_id.0)
                .or(self.region.0),
            private_ips,
            tags: self.labels.0,
            state: self.state.0,
            service: Some(ManagedService::of_engine(
                Some("redis"),
                version,
                None,
                self.port.port(),
            )),
            ..Default::default()
        };
        b.add(h, managed);
    }
}
