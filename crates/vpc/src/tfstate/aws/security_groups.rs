//! AWS security groups and their standalone rules.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, L, N, S};
use super::super::Resource;
use super::name_or;
use crate::model::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSgInline {
    from_port: N,
    to_port: N,
    protocol: S,
    cidr_blocks: L,
    ipv6_cidr_blocks: L,
    security_groups: L,
    #[serde(rename = "self")]
    self_: Option<bool>,
    description: S,
}

/// `aws_security_group`, `aws_default_security_group`, with their inline rules.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsSg {
    id: S,
    name: S,
    vpc_id: S,
    tags: Tags,
    ingress: Blocks<AwsSgInline>,
    egress: Blocks<AwsSgInline>,
}

impl Resource for AwsSg {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_security_group");
        };
        let mut rules = Vec::new();
        for (dir, list) in [
            (Direction::Ingress, self.ingress.0),
            (Direction::Egress, self.egress.0),
        ] {
            for r in list {
                let mut peers = b.cidr_peers(&r.cidr_blocks.0, &r.ipv6_cidr_blocks.0, &id);
                peers.extend(r.security_groups.0.into_iter().map(Peer::Group));
                if r.self_ == Some(true) {
                    peers.push(Peer::SelfGroup);
                }
                let rule = sg_rule(
                    dir,
                    &r.protocol.0,
                    r.from_port,
                    r.to_port,
                    peers,
                    r.description.0,
                );
                rules.push(rule);
            }
        }
        let f = Firewall {
            name: self.name.0.unwrap_or_else(|| name_or(&self.tags.0, &id)),
            id: id.clone(),
            kind: FirewallKind::SecurityGroup,
            vpc: self.vpc_id.0,
            applies_to: AppliesTo::Membership,
            rules,
        };
        b.add(f, managed);
    }
}

/// `aws_security_group_rule`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsSgRule {
    #[serde(rename = "type")]
    type_: S,
    security_group_id: S,
    from_port: N,
    to_port: N,
    protocol: S,
    cidr_blocks: L,
    ipv6_cidr_blocks: L,
    source_security_group_id: S,
    #[serde(rename = "self")]
    self_: Option<bool>,
    description: S,
}

impl Resource for AwsSgRule {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(sg) = self.security_group_id.0 else {
            return b
                .warn("an aws_security_group_rule without a security group was skipped".into());
        };
        let dir = match self.type_.0.as_deref() {
            Some("egress") => Direction::Egress,
            _ => Direction::Ingress,
        };
        let mut peers = b.cidr_peers(&self.cidr_blocks.0, &self.ipv6_cidr_blocks.0, &sg);
        peers.extend(self.source_security_group_id.0.map(Peer::Group));
        if self.self_ == Some(true) {
            peers.push(Peer::SelfGroup);
        }
        let rule = sg_rule(
            dir,
            &self.protocol.0,
            self.from_port,
            self.to_port,
            peers,
            self.description.0,
        );
        b.sg_rules.push((sg, rule));
    }
}

/// `aws_vpc_security_group_ingress_rule`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsSgIngressRule(AwsSgVpcRule);

impl Resource for AwsSgIngressRule {
    fn add(self, b: &mut Builder, _: bool) {
        self.0.add_as(b, Direction::Ingress);
    }
}

/// `aws_vpc_security_group_egress_rule`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsSgEgressRule(AwsSgVpcRule);

impl Resource for AwsSgEgressRule {
    fn add(self, b: &mut Builder, _: bool) {
        self.0.add_as(b, Direction::Egress);
    }
}

/// The attributes of an `aws_vpc_security_group_*_rule`, one rule of either direction.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSgVpcRule {
    security_group_id: S,
    cidr_ipv4: S,
    cidr_ipv6: S,
    referenced_security_group_id: S,
    from_port: N,
    to_port: N,
    ip_protocol: S,
    description: S,
}

impl AwsSgVpcRule {
    /// Adds the rule to its security group, in `dir`.
    fn add_as(self, b: &mut Builder, dir: Direction) {
        let Some(sg) = self.security_group_id.0 else {
            return b.warn(
                "an aws_vpc_security_group_*_rule without a security group was skipped".into(),
            );
        };
        let v4: Vec<String> = self.cidr_ipv4.0.into_iter().collect();
        let v6: Vec<String> = self.cidr_ipv6.0.into_iter().collect();
        let mut peers = b.cidr_peers(&v4, &v6, &sg);
        if let Some(g) = self.referenced_security_group_id.0 {
            peers.push(if g == sg {
                Peer::SelfGroup
            } else {
                Peer::Group(g)
            });
        }
        let rule = sg_rule(
            dir,
            &self.ip_protocol.0,
            self.from_port,
            self.to_port,
            peers,
            self.description.0,
        );
        b.sg_rules.push((sg, rule));
    }
}

/// An allow rule of a security group (ports only where the protocol has them).
fn sg_rule(
    direction: Direction,
    protocol: &Option<String>,
    from: N,
    to: N,
    peers: Vec<Peer>,
    description: Option<String>,
) -> Rule {
    let protocol = Protocol::parse(protocol.as_deref().unwrap_or("-1"));
    let ports = if protocol.has_ports() {
        match (from.port(), to.port()) {
            (Some(0), Some(65535)) | (None, None) => None,
            (Some(f), Some(t)) if f <= t => Some(PortRange { from: f, to: t }),
            (Some(f), None) => Some(PortRange { from: f, to: f }),
            _ => None,
        }
    } else {
        None
    };
    Rule {
        direction,
        action: Action::Allow,
        priority: 0,
        protocol,
        ports,
        peers,
        description,
        targets: Vec::new(),
    }
}
