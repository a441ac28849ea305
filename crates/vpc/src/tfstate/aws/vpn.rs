//! AWS VPN gateways (virtual private gateways) and their VPC attachments, customer gateways, and
//! the accepter side of VPC peerings.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::builder::Deferred;
use super::super::values::{Tags, S};
use super::super::Resource;
use super::name_or;
use crate::model::*;

/// `aws_vpn_gateway`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsVpnGateway {
    id: S,
    vpc_id: S,
    tags: Tags,
}

impl Resource for AwsVpnGateway {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_vpn_gateway");
        };
        b.add(
            vpn_gateway(name_or(&self.tags.0, &id), id, self.vpc_id.0),
            managed,
        );
    }
}

fn vpn_gateway(name: String, id: String, vpc: Option<String>) -> Gateway {
    Gateway {
        name,
        id,
        kind: GatewayKind::Vpn,
        vpc,
        subnet: None,
        private_ip: None,
        public_ip: None,
        attachments: Vec::new(),
    }
}

/// `aws_vpn_gateway_attachment`: the VPC of a VPN gateway.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsVpnGatewayAttachment {
    vpn_gateway_id: S,
    vpc_id: S,
}

impl Resource for AwsVpnGatewayAttachment {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(g), Some(v)) = (self.vpn_gateway_id.0, self.vpc_id.0) else {
            return b.warn(
                "an aws_vpn_gateway_attachment without a VPN gateway or VPC was skipped".into(),
            );
        };
        b.gather(|x: &mut Links| x.vgw_vpcs.push((g, v)));
    }
}

/// `aws_customer_gateway`: the on-premises end of a VPN, named after its address.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsCustomerGateway {
    id: S,
    ip_address: S,
    tags: Tags,
}

impl Resource for AwsCustomerGateway {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_customer_gateway");
        };
        let public_ip = b.ip(&self.ip_address.0, &id);
        let fallback = self.ip_address.0.unwrap_or_else(|| id.clone());
        let mut g = vpn_gateway(name_or(&self.tags.0, &fallback), id, None);
        g.public_ip = public_ip;
        b.add(g, managed);
    }
}

/// `aws_vpc_peering_connection_accepter`: the same peering as its requester.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsPeeringAccepter {
    id: S,
    vpc_peering_connection_id: S,
    vpc_id: S,
    peer_vpc_id: S,
    accept_status: S,
    tags: Tags,
}

impl Resource for AwsPeeringAccepter {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(id) = self.vpc_peering_connection_id.0.or(self.id.0) else {
            return b.missing_id("aws_vpc_peering_connection_accepter");
        };
        let p = Accepted {
            name: name_or(&self.tags.0, &id),
            id,
            vpc: self.vpc_id.0,
            peer_vpc: self.peer_vpc_id.0,
            status: self.accept_status.0,
        };
        b.gather(|x: &mut Links| x.accepted.push(p));
    }
}

/// A peering as its accepter sees it.
struct Accepted {
    id: String,
    name: String,
    vpc: Option<String>,
    peer_vpc: Option<String>,
    status: Option<String>,
}

/// What VPN gateway attachments and peering accepters gather.
#[derive(Default)]
pub(super) struct Links {
    /// (VPN gateway, VPC).
    vgw_vpcs: Vec<(String, String)>,
    accepted: Vec<Accepted>,
}

impl Deferred for Links {
    fn resolve(self, t: &mut Topology) -> Vec<String> {
        let mut warnings = Vec::new();
        for (g, v) in self.vgw_vpcs {
            match t.gateways.iter_mut().find(|x| x.id == g) {
                Some(x) => {
                    x.vpc.get_or_insert(v);
                }
                None => t.gateways.push(vpn_gateway(g.clone(), g, Some(v))),
            }
        }
        for a in self.accepted {
            if let Some(p) = t.peerings.iter_mut().find(|p| p.id == a.id) {
                // The accepter's status is the later word ("active" once accepted).
                if a.status.is_some() {
                    p.status = a.status;
                }
                continue;
            }
            match (a.vpc, a.peer_vpc) {
                (Some(vpc), Some(peer_vpc)) => t.peerings.push(Peering {
                    id: a.id,
                    name: a.name,
                    vpc,
                    peer_vpc,
                    status: a.status,
                }),
                _ => warnings.push(format!(
                    "aws_vpc_peering_connection_accepter {}: no VPC ids, skipped",
                    a.id
                )),
            }
        }
        warnings
    }
}
