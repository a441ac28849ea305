//! AWS (`aws_*`): VPCs, subnets, instances, gateways and peerings here; load balancers, route
//! tables, security groups, network ACLs, managed services (databases, caches, EKS…), transit
//! and VPN gateways in the submodules.

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::Deserialize;

use super::builder::{zone_region, Builder};
use super::values::{Blocks, Tags, L, S};
use super::{lookup, Decode, Mapping, Resource};
use crate::model::*;

mod compute;
mod lb;
mod managed;
mod nacl;
mod routes;
mod security_groups;
mod transit;
mod vpn;

use compute::{AwsAsg, AwsBeanstalkEnv, AwsEip, AwsEni, AwsLaunchTemplate};
use lb::{AwsLb, AwsListener, AwsTargetGroup, AwsTgAttachment};
use managed::{
    AwsCacheCluster, AwsCacheReplicationGroup, AwsCacheSubnetGroup, AwsDbInstance,
    AwsDbSubnetGroup, AwsDocdbCluster, AwsDocdbClusterInstance, AwsEksCluster, AwsEksNodeGroup,
    AwsMqBroker, AwsMskCluster, AwsOpensearchDomain, AwsRdsCluster, AwsRdsClusterInstance,
};
use nacl::{AwsDefaultNacl, AwsNacl, AwsNaclAssoc, AwsNaclRule};
use routes::{AwsDefaultRouteTable, AwsMainRtAssoc, AwsRouteEntry, AwsRouteTable, AwsRtAssoc};
use security_groups::{AwsSg, AwsSgEgressRule, AwsSgIngressRule, AwsSgRule};
use transit::{
    AwsTgw, AwsTgwAssociation, AwsTgwPeeringAttachment, AwsTgwPropagation, AwsTgwRoute,
    AwsTgwRouteTable, AwsTgwVpcAttachment, AwsVpnConnection,
};
use vpn::{AwsCustomerGateway, AwsPeeringAccepter, AwsVpnGateway, AwsVpnGatewayAttachment};

/// The AWS table: a row per resource type (with its aliases), naming the struct its attributes
/// are read into.
pub(super) fn find<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    lookup(
        ty,
        &[
            Mapping::of::<AwsVpc>(&["aws_vpc", "aws_default_vpc"]),
            Mapping::of::<AwsSubnet>(&["aws_subnet", "aws_default_subnet"]),
            Mapping::of::<AwsInstance>(&["aws_instance"]),
            Mapping::of::<AwsLb>(&["aws_lb", "aws_alb"]),
            Mapping::of::<AwsTargetGroup>(&["aws_lb_target_group", "aws_alb_target_group"]),
            Mapping::of::<AwsListener>(&["aws_lb_listener", "aws_alb_listener"]),
            Mapping::of::<AwsTgAttachment>(&[
                "aws_lb_target_group_attachment",
                "aws_alb_target_group_attachment",
            ]),
            Mapping::of::<AwsRouteTable>(&["aws_route_table"]),
            Mapping::of::<AwsDefaultRouteTable>(&["aws_default_route_table"]),
            Mapping::of::<AwsRouteEntry>(&["aws_route"]),
            Mapping::of::<AwsRtAssoc>(&["aws_route_table_association"]),
            Mapping::of::<AwsMainRtAssoc>(&["aws_main_route_table_association"]),
            Mapping::of::<AwsSg>(&["aws_security_group", "aws_default_security_group"]),
            Mapping::of::<AwsSgRule>(&["aws_security_group_rule"]),
            Mapping::of::<AwsSgIngressRule>(&["aws_vpc_security_group_ingress_rule"]),
            Mapping::of::<AwsSgEgressRule>(&["aws_vpc_security_group_egress_rule"]),
            Mapping::of::<AwsNat>(&["aws_nat_gateway"]),
            Mapping::of::<AwsIgw>(&["aws_internet_gateway"]),
            Mapping::of::<AwsPeering>(&["aws_vpc_peering_connection"]),
            Mapping::of::<AwsAsg>(&["aws_autoscaling_group"]),
            Mapping::of::<AwsLaunchTemplate>(&["aws_launch_template", "aws_launch_configuration"]),
            Mapping::of::<AwsBeanstalkEnv>(&["aws_elastic_beanstalk_environment"]),
            Mapping::of::<AwsEni>(&["aws_network_interface"]),
            Mapping::of::<AwsEip>(&["aws_eip"]),
            Mapping::of::<AwsPeeringAccepter>(&["aws_vpc_peering_connection_accepter"]),
            Mapping::of::<AwsNacl>(&["aws_network_acl"]),
            Mapping::of::<AwsDefaultNacl>(&["aws_default_network_acl"]),
            Mapping::of::<AwsNaclRule>(&["aws_network_acl_rule"]),
            Mapping::of::<AwsNaclAssoc>(&["aws_network_acl_association"]),
            Mapping::of::<AwsDbInstance>(&["aws_db_instance"]),
            Mapping::of::<AwsDbSubnetGroup>(&[
                "aws_db_subnet_group",
                "aws_docdb_subnet_group",
                "aws_neptune_subnet_group",
            ]),
            Mapping::of::<AwsRdsCluster>(&["aws_rds_cluster"]),
            Mapping::of::<AwsRdsClusterInstance>(&["aws_rds_cluster_instance"]),
            Mapping::of::<AwsDocdbCluster>(&["aws_docdb_cluster", "aws_neptune_cluster"]),
            Mapping::of::<AwsDocdbClusterInstance>(&[
                "aws_docdb_cluster_instance",
                "aws_neptune_cluster_instance",
            ]),
            Mapping::of::<AwsCacheCluster>(&["aws_elasticache_cluster"]),
            Mapping::of::<AwsCacheReplicationGroup>(&["aws_elasticache_replication_group"]),
            Mapping::of::<AwsCacheSubnetGroup>(&["aws_elasticache_subnet_group"]),
            Mapping::of::<AwsEksCluster>(&["aws_eks_cluster"]),
            Mapping::of::<AwsEksNodeGroup>(&["aws_eks_node_group"]),
            Mapping::of::<AwsOpensearchDomain>(&[
                "aws_opensearch_domain",
                "aws_elasticsearch_domain",
            ]),
            Mapping::of::<AwsMqBroker>(&["aws_mq_broker"]),
            Mapping::of::<AwsMskCluster>(&["aws_msk_cluster"]),
            Mapping::of::<AwsTgw>(&["aws_ec2_transit_gateway"]),
            Mapping::of::<AwsTgwRouteTable>(&["aws_ec2_transit_gateway_route_table"]),
            Mapping::of::<AwsTgwVpcAttachment>(&["aws_ec2_transit_gateway_vpc_attachment"]),
            Mapping::of::<AwsTgwPeeringAttachment>(&["aws_ec2_transit_gateway_peering_attachment"]),
            Mapping::of::<AwsTgwRoute>(&["aws_ec2_transit_gateway_route"]),
            Mapping::of::<AwsTgwAssociation>(&["aws_ec2_transit_gateway_route_table_association"]),
            Mapping::of::<AwsTgwPropagation>(&["aws_ec2_transit_gateway_route_table_propagation"]),
            Mapping::of::<AwsVpnGateway>(&["aws_vpn_gateway"]),
            Mapping::of::<AwsVpnGatewayAttachment>(&["aws_vpn_gateway_attachment"]),
            Mapping::of::<AwsVpnConnection>(&["aws_vpn_connection"]),
            Mapping::of::<AwsCustomerGateway>(&["aws_customer_gateway"]),
        ],
    )
}

fn name_or(tags: &BTreeMap<String, String>, fallback: &str) -> String {
    tags.get("Name")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// Region from an ARN (`arn:aws:ec2:eu-west-2:…`).
fn arn_region(arn: &Option<String>) -> Option<String> {
    arn.as_deref()?
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// `aws_vpc`, `aws_default_vpc`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsVpc {
    id: S,
    arn: S,
    cidr_block: S,
    ipv6_cidr_block: S,
    main_route_table_id: S,
    tags: Tags,
}

impl Resource for AwsVpc {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_vpc");
        };
        let mut cidrs = Vec::new();
        for c in [self.cidr_block.0, self.ipv6_cidr_block.0]
            .into_iter()
            .flatten()
        {
            cidrs.extend(b.net(&c, &id));
        }
        let v = Vpc {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            provider: Provider::Aws,
            region: arn_region(&self.arn.0),
            cidrs,
            main_route_table: self.main_route_table_id.0,
            tags: self.tags.0,
            placeholder: false,
        };
        b.add(v, managed);
    }
}

/// `aws_subnet`, `aws_default_subnet`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSubnet {
    id: S,
    arn: S,
    vpc_id: S,
    cidr_block: S,
    availability_zone: S,
    map_public_ip_on_launch: Option<bool>,
    tags: Tags,
}

impl Resource for AwsSubnet {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_subnet");
        };
        let cidr = match &self.cidr_block.0 {
            Some(c) => b.net(c, &id),
            None => None,
        };
        if let Some(p) = self.map_public_ip_on_launch {
            b.subnet_public_hint.insert(id.clone(), p);
        }
        let region = arn_region(&self.arn.0)
            .or_else(|| self.availability_zone.0.as_deref().map(zone_region));
        let s = Subnet {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            vpc: self.vpc_id.0,
            cidr,
            zone: self.availability_zone.0,
            region,
            public: None,
            tags: self.tags.0,
        };
        b.add(s, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EniRef {
    network_interface_id: S,
}

/// `aws_instance`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsInstance {
    id: S,
    subnet_id: S,
    private_ip: S,
    secondary_private_ips: L,
    public_ip: S,
    tags: Tags,
    vpc_security_group_ids: L,
    security_groups: L,
    instance_state: S,
    source_dest_check: Option<bool>,
    availability_zone: S,
    primary_network_interface_id: S,
    network_interface: Blocks<EniRef>,
}

impl Resource for AwsInstance {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_instance");
        };
        let mut private_ips = Vec::new();
        private_ips.extend(b.ip(&self.private_ip.0, &id));
        for s in &self.secondary_private_ips.0 {
            private_ips.extend(b.ip(&Some(s.clone()), &id));
        }
        let public_ip = b.ip(&self.public_ip.0, &id);
        let mut security_groups = self.vpc_security_group_ids.0;
        for g in self.security_groups.0 {
            if !security_groups.contains(&g) {
                security_groups.push(g);
            }
        }
        let mut interfaces: Vec<String> = self.primary_network_interface_id.0.into_iter().collect();
        for n in self.network_interface.0 {
            if let Some(e) = n.network_interface_id.0 {
                if !interfaces.contains(&e) {
                    interfaces.push(e);
                }
            }
        }
        let h = Host {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            provider: Provider::Aws,
            vpc: None,
            subnet: self.subnet_id.0,
            zone: self.availability_zone.0,
            private_ips,
            public_ip,
            tags: self.tags.0,
            labels: Vec::new(),
            security_groups,
            state: self.instance_state.0,
            source_dest_check: self.source_dest_check,
            interfaces,
            service: None,
            subnets: Vec::new(),
        };
        b.add(h, managed);
    }
}

/// `aws_nat_gateway`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsNat {
    id: S,
    subnet_id: S,
    private_ip: S,
    public_ip: S,
    tags: Tags,
}

impl Resource for AwsNat {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_nat_gateway");
        };
        let private_ip = b.ip(&self.private_ip.0, &id);
        let public_ip = b.ip(&self.public_ip.0, &id);
        let g = Gateway {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            kind: GatewayKind::Nat,
            vpc: None,
            subnet: self.subnet_id.0,
            private_ip,
            public_ip,
            attachments: Vec::new(),
        };
        b.add(g, managed);
    }
}

/// `aws_internet_gateway`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsIgw {
    id: S,
    vpc_id: S,
    tags: Tags,
}

impl Resource for AwsIgw {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_internet_gateway");
        };
        let g = Gateway {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            kind: GatewayKind::Internet,
            vpc: self.vpc_id.0,
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        };
        b.add(g, managed);
    }
}

/// `aws_vpc_peering_connection`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsPeering {
    id: S,
    vpc_id: S,
    peer_vpc_id: S,
    accept_status: S,
    tags: Tags,
}

impl Resource for AwsPeering {
    fn add(self, b: &mut Builder, managed: bool) {
        let (Some(id), Some(vpc), Some(peer_vpc)) = (self.id.0, self.vpc_id.0, self.peer_vpc_id.0)
        else {
            return b.missing_id("aws_vpc_peering_connection");
        };
        let p = Peering {
            name: name_or(&self.tags.0, &id),
            id: id.clone(),
            vpc,
            peer_vpc,
            status: self.accept_status.0,
        };
        b.add(p, managed);
    }
}
