//! AWS load balancers (ELBv2), target groups, listeners and attachments.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, L, N, S};
use super::super::Resource;
use super::{arn_region, name_or};
use crate::model::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct SubnetMapping {
    private_ipv4_address: S,
}

/// `aws_lb`, `aws_alb`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsLb {
    subnet_mapping: Blocks<SubnetMapping>,
    id: S,
    arn: S,
    name: S,
    internal: Option<bool>,
    load_balancer_type: S,
    subnets: L,
    security_groups: L,
    dns_name: S,
    vpc_id: S,
    tags: Tags,
}

impl Resource for AwsLb {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.arn.0.or(self.id.0) else {
            return b.missing_id("aws_lb");
        };
        let mut ip = None;
        for m in &self.subnet_mapping.0 {
            if ip.is_none() {
                ip = b.ip(&m.private_ipv4_address.0, &id);
            }
        }
        let lb = LoadBalancer {
            name: self.name.0.unwrap_or_else(|| name_or(&self.tags.0, &id)),
            region: arn_region(&Some(id.clone())),
            id: id.clone(),
            provider: Provider::Aws,
            vpc: self.vpc_id.0,
            subnets: self.subnets.0,
            internal: self.internal,
            kind: self.load_balancer_type.0,
            ip,
            dns_name: self.dns_name.0,
            listeners: Vec::new(),
            targets: Vec::new(),
            target_tag: None,
            security_groups: self.security_groups.0,
        };
        b.add(lb, managed);
    }
}

/// `aws_lb_target_group`, `aws_alb_target_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTargetGroup {
    id: S,
    arn: S,
    name: S,
    port: N,
    protocol: S,
    vpc_id: S,
}

impl Resource for AwsTargetGroup {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.arn.0.or(self.id.0) else {
            return b.missing_id("aws_lb_target_group");
        };
        let tg = TargetGroup {
            name: self.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            vpc: self.vpc_id.0,
            port: self.port.port(),
            protocol: self.protocol.0,
            targets: Vec::new(),
        };
        b.add(tg, managed);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TgRef {
    arn: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Forward {
    target_group: Blocks<TgRef>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LbAction {
    target_group_arn: S,
    forward: Blocks<Forward>,
}

/// `aws_lb_listener`, `aws_alb_listener`: kept until the end, when its load balancer is known.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsListener {
    load_balancer_arn: S,
    port: N,
    protocol: S,
    default_action: Blocks<LbAction>,
}

impl Resource for AwsListener {
    fn add(self, b: &mut Builder, _: bool) {
        let (Some(lb), Some(port)) = (self.load_balancer_arn.0, self.port.port()) else {
            return b.warn("an aws_lb_listener without a load balancer or port was skipped".into());
        };
        let target_group = self.default_action.0.into_iter().find_map(|act| {
            act.target_group_arn.0.or_else(|| {
                act.forward
                    .0
                    .into_iter()
                    .flat_map(|f| f.target_group.0)
                    .find_map(|t| t.arn.0)
            })
        });
        b.listeners.push((
            lb,
            Listener {
                port,
                protocol: self.protocol.0.unwrap_or_default().to_ascii_lowercase(),
                target_port: None,
                target_group,
            },
        ));
    }
}

/// `aws_lb_target_group_attachment`, `aws_alb_target_group_attachment`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsTgAttachment {
    target_group_arn: S,
    target_id: S,
}

impl Resource for AwsTgAttachment {
    fn add(self, b: &mut Builder, _: bool) {
        if let (Some(tg), Some(t)) = (self.target_group_arn.0, self.target_id.0) {
            b.tg_attachments.push((tg, t));
        }
    }
}
