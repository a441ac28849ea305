//! ELBv2 answers (load balancers, target groups, listeners, targets) → Terraform-provider
//! attributes.

use roxmltree::Node;
use serde_json::{json, Value};

use super::reader::Resources;
use super::xml::{child, items, s, text_of, texts};

pub(super) fn load_balancers(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for lb in items(root, "LoadBalancers") {
        let Some(arn) = text_of(lb, "LoadBalancerArn") else {
            out.warnings
                .push("a load balancer without an ARN was skipped".into());
            continue;
        };
        let zones = items(lb, "AvailabilityZones");
        let mapping: Vec<Value> = zones
            .iter()
            .flat_map(|z| items(*z, "LoadBalancerAddresses"))
            .map(|a| json!({"private_ipv4_address": s(a, "PrivateIPv4Address")}))
            .collect();
        out.lb_arns.push(arn.clone());
        out.push(
            "aws_lb",
            json!({
                "arn": arn,
                "name": s(lb, "LoadBalancerName"),
                "internal": text_of(lb, "Scheme").map(|sc| sc == "internal"),
                "load_balancer_type": s(lb, "Type"),
                "subnets": zones.iter().filter_map(|z| text_of(*z, "SubnetId")).collect::<Vec<_>>(),
                "security_groups": texts(lb, "SecurityGroups", None),
                "dns_name": s(lb, "DNSName"),
                "vpc_id": s(lb, "VpcId"),
                "subnet_mapping": mapping,
            }),
        );
    }
}

pub(super) fn target_groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for tg in items(root, "TargetGroups") {
        let Some(arn) = text_of(tg, "TargetGroupArn") else {
            out.warnings
                .push("a target group without an ARN was skipped".into());
            continue;
        };
        out.tg_arns.push(arn.clone());
        out.push(
            "aws_lb_target_group",
            json!({
                "arn": arn,
                "name": s(tg, "TargetGroupName"),
                "port": s(tg, "Port"),
                "protocol": s(tg, "Protocol"),
                "vpc_id": s(tg, "VpcId"),
            }),
        );
    }
}

pub(super) fn listeners(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for l in items(root, "Listeners") {
        let actions: Vec<Value> = items(l, "DefaultActions")
            .into_iter()
            .map(|a| {
                let forward: Vec<Value> = child(a, "ForwardConfig")
                    .map(|f| {
                        items(f, "TargetGroups")
                            .into_iter()
                            .map(|t| json!({"arn": s(t, "TargetGroupArn")}))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "target_group_arn": s(a, "TargetGroupArn"),
                    "forward": [{"target_group": forward}],
                })
            })
            .collect();
        out.push(
            "aws_lb_listener",
            json!({
                "load_balancer_arn": s(l, "LoadBalancerArn"),
                "port": s(l, "Port"),
                "protocol": s(l, "Protocol"),
                "default_action": actions,
            }),
        );
    }
}

pub(super) fn targets(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    // The answer does not name its target group: the request did (`tg_pending`).
    let Some(tg) = out.tg_pending.clone() else {
        return;
    };
    for d in items(root, "TargetHealthDescriptions") {
        if let Some(id) = child(d, "Target").and_then(|t| text_of(t, "Id")) {
            out.push(
                "aws_lb_target_group_attachment",
                json!({"target_group_arn": tg, "target_id": id}),
            );
        }
    }
}
