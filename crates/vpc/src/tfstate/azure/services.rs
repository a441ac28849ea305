//! Azure managed services as hosts: MySQL and PostgreSQL flexible servers (in their delegated
//! subnet), Redis caches (in their subnet when VNet-injected) and AKS clusters (the API server,
//! in the default node pool's subnet).

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, N, S};
use super::super::Resource;
use super::with_registry;
use crate::model::*;

/// Adds a managed service host and registers it for subnet resolution.
fn add_service(b: &mut Builder, h: Host, managed: bool) {
    let id = h.id.clone();
    b.add(h, managed);
    with_registry(b, |r| r.services.push(id));
}

fn name_of(name: Option<String>, id: &str) -> String {
    name.unwrap_or_else(|| super::last_segment(id).to_string())
}

/// `azurerm_mysql_flexible_server`, `azurerm_postgresql_flexible_server`: the engine is told by
/// the id (`Microsoft.DBforMySQL` / `Microsoft.DBforPostgreSQL`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzFlexServer {
    id: S,
    name: S,
    location: S,
    fqdn: S,
    delegated_subnet_id: S,
    version: S,
    tags: Tags,
}

impl Resource for AzFlexServer {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b
                .missing_id("azurerm_mysql_flexible_server or azurerm_postgresql_flexible_server");
        };
        let lower = id.to_ascii_lowercase();
        let engine = if lower.contains("dbforpostgresql") {
            "postgres"
        } else if lower.contains("dbformysql") {
            "mysql"
        } else {
            b.warn(format!(
                "{id}: neither a MySQL nor a PostgreSQL flexible server id; taken as MySQL"
            ));
            "mysql"
        };
        let h = Host {
            name: name_of(self.name.0, &id),
            id,
            provider: Provider::Azure,
            subnet: self.delegated_subnet_id.0,
            zone: self.location.0,
            tags: self.tags.0,
            service: Some(ManagedService::of_engine(
                Some(engine),
                self.version.0,
                self.fqdn.0,
                None,
            )),
            ..Default::default()
        };
        add_service(b, h, managed);
    }
}

/// `azurerm_redis_cache`: the TLS port first, the plain one when it is enabled.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzRedis {
    id: S,
    name: S,
    location: S,
    hostname: S,
    port: N,
    ssl_port: N,
    enable_non_ssl_port: Option<bool>,
    non_ssl_port_enabled: Option<bool>,
    subnet_id: S,
    private_static_ip_address: S,
    redis_version: S,
    tags: Tags,
}

impl Resource for AzRedis {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_redis_cache");
        };
        let mut service = ManagedService::of_engine(
            Some("redis"),
            self.redis_version.0,
            self.hostname.0,
            Some(self.ssl_port.port().unwrap_or(6380)),
        );
        if self.non_ssl_port_enabled.or(self.enable_non_ssl_port) == Some(true) {
            service.ports.push(self.port.port().unwrap_or(6379));
        }
        let private_ips = b
            .ip(&self.private_static_ip_address.0, &id)
            .into_iter()
            .collect();
        let h = Host {
            name: name_of(self.name.0, &id),
            id,
            provider: Provider::Azure,
            subnet: self.subnet_id.0,
            zone: self.location.0,
            private_ips,
            tags: self.tags.0,
            service: Some(service),
            ..Default::default()
        };
        add_service(b, h, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodePool {
    vnet_subnet_id: S,
}

/// `azurerm_kubernetes_cluster`: its API server, at the private FQDN of a private cluster or its
/// public FQDN.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzAks {
    id: S,
    name: S,
    location: S,
    fqdn: S,
    private_fqdn: S,
    kubernetes_version: S,
    default_node_pool: Blocks<NodePool>,
    tags: Tags,
}

impl Resource for AzAks {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_kubernetes_cluster");
        };
        let subnet = self
            .default_node_pool
            .0
            .into_iter()
            .find_map(|p| p.vnet_subnet_id.0);
        let h = Host {
            name: name_of(self.name.0, &id),
            id,
            provider: Provider::Azure,
            subnet,
            zone: self.location.0,
            tags: self.tags.0,
            service: Some(ManagedService::of_engine(
                Some("kubernetes"),
                self.kubernetes_version.0,
                self.private_fqdn.0.or(self.fqdn.0),
                None,
            )),
            ..Default::default()
        };
        add_service(b, h, managed);
    }
}
