//! EC2 answers (VPCs, subnets, instances, security groups, route tables, internet and NAT
//! gateways, peerings) → Terraform-provider attributes.

use roxmltree::Node;
use serde_json::{json, Map, Value};

use super::reader::Resources;
use super::xml::{b, child, items, s, tags, text_of, texts};

pub(super) fn vpcs(root: Node<'_, '_>, region: &str, out: &mut Resources) {
    for v in items(root, "vpcSet") {
        let id = s(v, "vpcId");
        let arn = match (&id, text_of(v, "ownerId")) {
            (Value::String(id), Some(owner)) => {
                Value::String(format!("arn:aws:ec2:{region}:{owner}:vpc/{id}"))
            }
            (Value::String(id), None) => Value::String(format!("arn:aws:ec2:{region}::vpc/{id}")),
            _ => Value::Null,
        };
        let v6 = items(v, "ipv6CidrBlockAssociationSet")
            .into_iter()
            .find_map(|a| text_of(a, "ipv6CidrBlock"));
        out.push(
            "aws_vpc",
            json!({
                "id": id,
                "arn": arn,
                "cidr_block": s(v, "cidrBlock"),
                "ipv6_cidr_block": v6,
                "tags": tags(v),
            }),
        );
    }
}

pub(super) fn subnets(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for n in items(root, "subnetSet") {
        out.push(
            "aws_subnet",
            json!({
                "id": s(n, "subnetId"),
                "arn": s(n, "subnetArn"),
                "vpc_id": s(n, "vpcId"),
                "cidr_block": s(n, "cidrBlock"),
                "availability_zone": s(n, "availabilityZone"),
                "map_public_ip_on_launch": b(n, "mapPublicIpOnLaunch"),
                "tags": tags(n),
            }),
        );
    }
}

pub(super) fn instances(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for r in items(root, "reservationSet") {
        for i in items(r, "instancesSet") {
            let state = child(i, "instanceState")
                .and_then(|st| text_of(st, "name"))
                .unwrap_or_default();
            if state == "terminated" {
                continue;
            }
            let primary_ip = text_of(i, "privateIpAddress").unwrap_or_default();
            let mut secondary: Vec<Value> = Vec::new();
            let mut enis: Vec<(u32, String)> = Vec::new();
            for e in items(i, "networkInterfaceSet") {
                let Some(id) = text_of(e, "networkInterfaceId") else {
                    continue;
                };
                let index = child(e, "attachment")
                    .and_then(|a| text_of(a, "deviceIndex"))
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(u32::MAX);
                enis.push((index, id));
                for a in items(e, "privateIpAddressesSet") {
                    if let Some(ip) = text_of(a, "privateIpAddress") {
                        let v = Value::String(ip.clone());
                        if ip != primary_ip && !secondary.contains(&v) {
                            secondary.push(v);
                        }
                    }
                }
            }
            enis.sort();
            let primary_eni = enis.iter().find(|(i, _)| *i == 0).map(|(_, id)| id.clone());
            let blocks: Vec<Value> = enis
                .iter()
                .map(|(_, id)| json!({"network_interface_id": id}))
                .collect();
            out.push(
                "aws_instance",
                json!({
                    "id": s(i, "instanceId"),
                    "subnet_id": s(i, "subnetId"),
                    "private_ip": s(i, "privateIpAddress"),
                    "secondary_private_ips": secondary,
                    "public_ip": s(i, "ipAddress"),
                    "tags": tags(i),
                    "vpc_security_group_ids": texts(i, "groupSet", Some("groupId")),
                    "instance_state": state,
                    "source_dest_check": b(i, "sourceDestCheck"),
                    "availability_zone": child(i, "placement").map(|p| s(p, "availabilityZone")).unwrap_or(Value::Null),
                    "primary_network_interface_id": primary_eni,
                    "network_interface": blocks,
                }),
            );
        }
    }
}

pub(super) fn security_groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "securityGroupInfo") {
        let Some(id) = text_of(g, "groupId") else {
            out.warnings
                .push("a security group without an id was skipped".into());
            continue;
        };
        out.push(
            "aws_security_group",
            json!({
                "id": id,
                "name": s(g, "groupName"),
                "vpc_id": s(g, "vpcId"),
                "tags": tags(g),
            }),
        );
        for (set, ty) in [
            ("ipPermissions", "aws_vpc_security_group_ingress_rule"),
            ("ipPermissionsEgress", "aws_vpc_security_group_egress_rule"),
        ] {
            for p in items(g, set) {
                // One rule per source, as AWS lists security group rules.
                let base = |extra: Value| {
                    let mut m = Map::new();
                    m.insert("security_group_id".into(), Value::String(id.clone()));
                    m.insert("ip_protocol".into(), s(p, "ipProtocol"));
                    m.insert("from_port".into(), s(p, "fromPort"));
                    m.insert("to_port".into(), s(p, "toPort"));
                    if let Value::Object(e) = extra {
                        m.extend(e);
                    }
                    Value::Object(m)
                };
                for r in items(p, "ipRanges") {
                    out.push(
                        ty,
                        base(json!({"cidr_ipv4": s(r, "cidrIp"), "description": s(r, "description")})),
                    );
                }
                for r in items(p, "ipv6Ranges") {
                    out.push(
                        ty,
                        base(json!({"cidr_ipv6": s(r, "cidrIpv6"), "description": s(r, "description")})),
                    );
                }
                for r in items(p, "groups") {
                    out.push(
                        ty,
                        base(json!({"referenced_security_group_id": s(r, "groupId"), "description": s(r, "description")})),
                    );
                }
                let lists = items(p, "prefixListIds").len();
                if lists > 0 {
                    out.warnings.push(format!(
                        "{id}: {lists} rule source(s) by prefix list are not shown"
                    ));
                }
            }
        }
    }
}

pub(super) fn route_tables(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for t in items(root, "routeTableSet") {
        let id = s(t, "routeTableId");
        let vpc = s(t, "vpcId");
        let mut routes = Vec::new();
        for r in items(t, "routeSet") {
            if text_of(r, "gatewayId").as_deref() == Some("local") {
                continue; // The implicit local route: not part of the model.
            }
            routes.push(json!({
                "destination_cidr_block": s(r, "destinationCidrBlock"),
                "destination_ipv6_cidr_block": s(r, "destinationIpv6CidrBlock"),
                "gateway_id": s(r, "gatewayId"),
                "nat_gateway_id": s(r, "natGatewayId"),
                "instance_id": s(r, "instanceId"),
                "network_interface_id": s(r, "networkInterfaceId"),
                "vpc_peering_connection_id": s(r, "vpcPeeringConnectionId"),
                "transit_gateway_id": s(r, "transitGatewayId"),
                "egress_only_gateway_id": s(r, "egressOnlyInternetGatewayId"),
                "local_gateway_id": s(r, "localGatewayId"),
                "carrier_gateway_id": s(r, "carrierGatewayId"),
            }));
        }
        for a in items(t, "associationSet") {
            if text_of(a, "main").as_deref() == Some("true") {
                out.push(
                    "aws_main_route_table_association",
                    json!({"vpc_id": vpc, "route_table_id": id}),
                );
            } else if let Some(subnet) = text_of(a, "subnetId") {
                out.push(
                    "aws_route_table_association",
                    json!({"route_table_id": id, "subnet_id": subnet}),
                );
            }
        }
        out.push(
            "aws_route_table",
            json!({"id": id, "vpc_id": vpc, "route": routes, "tags": tags(t)}),
        );
    }
}

pub(super) fn igws(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "internetGatewaySet") {
        let vpc = items(g, "attachmentSet")
            .into_iter()
            .find_map(|a| text_of(a, "vpcId"));
        out.push(
            "aws_internet_gateway",
            json!({"id": s(g, "internetGatewayId"), "vpc_id": vpc, "tags": tags(g)}),
        );
    }
}

pub(super) fn nats(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "natGatewaySet") {
        if matches!(text_of(g, "state").as_deref(), Some("deleted" | "failed")) {
            continue;
        }
        let addr = items(g, "natGatewayAddressSet").into_iter().next();
        out.push(
            "aws_nat_gateway",
            json!({
                "id": s(g, "natGatewayId"),
                "subnet_id": s(g, "subnetId"),
                "private_ip": addr.map(|a| s(a, "privateIp")),
                "public_ip": addr.map(|a| s(a, "publicIp")),
                "tags": tags(g),
            }),
        );
    }
}

pub(super) fn peerings(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for p in items(root, "vpcPeeringConnectionSet") {
        let status = child(p, "status").and_then(|st| text_of(st, "code"));
        if matches!(
            status.as_deref(),
            Some("deleted" | "rejected" | "failed" | "expired")
        ) {
            continue;
        }
        out.push(
            "aws_vpc_peering_connection",
            json!({
                "id": s(p, "vpcPeeringConnectionId"),
                "vpc_id": child(p, "requesterVpcInfo").map(|v| s(v, "vpcId")),
                "peer_vpc_id": child(p, "accepterVpcInfo").map(|v| s(v, "vpcId")),
                "accept_status": status,
                "tags": tags(p),
            }),
        );
    }
}
