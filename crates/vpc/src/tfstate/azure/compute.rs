//! Azure virtual machines: `azurerm_linux_virtual_machine`, `azurerm_windows_virtual_machine`
//! and the legacy `azurerm_virtual_machine`. Their addresses, subnets and forwarding flag come
//! from their network interfaces once every resource is in; the addresses a VM resource reports
//! itself are kept when its interfaces are not in the state.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Tags, L, S};
use super::super::Resource;
use super::with_registry;
use crate::model::*;

/// `azurerm_linux_virtual_machine`, `azurerm_windows_virtual_machine`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzVm {
    id: S,
    name: S,
    location: S,
    network_interface_ids: L,
    private_ip_addresses: L,
    private_ip_address: S,
    public_ip_address: S,
    tags: Tags,
}

impl Resource for AzVm {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b
                .missing_id("azurerm_linux_virtual_machine or azurerm_windows_virtual_machine");
        };
        let mut private_ips = Vec::new();
        let listed = self.private_ip_address.0.into_iter();
        for a in listed.chain(self.private_ip_addresses.0) {
            if let Some(ip) = b.ip(&Some(a), &id) {
                if !private_ips.contains(&ip) {
                    private_ips.push(ip);
                }
            }
        }
        let public_ip = b.ip(&self.public_ip_address.0, &id);
        let h = Host {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            provider: Provider::Azure,
            zone: self.location.0,
            private_ips,
            public_ip,
            tags: self.tags.0,
            interfaces: self.network_interface_ids.0,
            ..Default::default()
        };
        b.add(h, managed);
        with_registry(b, |r| r.vms.push(id));
    }
}

/// `azurerm_virtual_machine` (the legacy resource, Linux or Windows).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzLegacyVm {
    id: S,
    name: S,
    location: S,
    network_interface_ids: L,
    primary_network_interface_id: S,
    tags: Tags,
}

impl Resource for AzLegacyVm {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_virtual_machine");
        };
        let mut interfaces = self.network_interface_ids.0;
        if let Some(p) = self.primary_network_interface_id.0 {
            interfaces.retain(|i| !i.eq_ignore_ascii_case(&p));
            interfaces.insert(0, p);
        }
        let h = Host {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            provider: Provider::Azure,
            zone: self.location.0,
            tags: self.tags.0,
            interfaces,
            ..Default::default()
        };
        b.add(h, managed);
        with_registry(b, |r| r.vms.push(id));
    }
}
