//! AWS network ACLs: `aws_network_acl` and `aws_default_network_acl` with their inline rules,
//! standalone `aws_network_acl_rule`s and `aws_network_acl_association`s.
//!
//! A subnet is associated with exactly one ACL: an association moves it from any other ACL, and
//! the VPC's default ACL applies to every subnet of the VPC no other ACL claims.

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::builder::Deferred;
use super::super::values::B;
use super::super::values::{Blocks, Tags, L, N, S};
use super::super::Resource;
use super::name_or;
use crate::model::*;

/// One `ingress`/`egress` block.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NaclEntry {
    rule_no: N,
    action: S,
    protocol: S,
    from_port: N,
    to_port: N,
    cidr_block: S,
    ipv6_cidr_block: S,
}

/// `aws_network_acl`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsNacl {
    id: S,
    default_network_acl_id: S,
    vpc_id: S,
    subnet_ids: L,
    ingress: Blocks<NaclEntry>,
    egress: Blocks<NaclEntry>,
    tags: Tags,
}

impl Resource for AwsNacl {
    fn add(self, b: &mut Builder, managed: bool) {
        self.add_as(b, false, managed);
    }
}

/// `aws_default_network_acl`: the VPC's default ACL, with the attributes of any other.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AwsDefaultNacl(AwsNacl);

impl Resource for AwsDefaultNacl {
    fn add(self, b: &mut Builder, managed: bool) {
        self.0.add_as(b, true, managed);
    }
}

impl AwsNacl {
    fn add_as(self, b: &mut Builder, default: bool, managed: bool) {
        let id = if default {
            self.default_network_acl_id.0.or(self.id.0)
        } else {
            self.id.0
        };
        let Some(id) = id else {
            return b.missing_id("aws_network_acl");
        };
        let mut rules = Vec::new();
        for (dir, list) in [
            (Direction::Ingress, self.ingress.0),
            (Direction::Egress, self.egress.0),
        ] {
            for e in list {
                let v = RuleValues {
                    number: e.rule_no,
                    action: e.action,
                    protocol: e.protocol,
                    from: e.from_port,
                    to: e.to_port,
                    v4: e.cidr_block,
                    v6: e.ipv6_cidr_block,
                };
                rules.extend(v.rule(b, dir, &id));
            }
        }
        rules.sort_by_key(|r| (r.direction, r.priority));
        if default {
            let (acl, vpc) = (id.clone(), self.vpc_id.0.clone());
            b.gather(|n: &mut Nacls| n.defaults.push((acl, vpc)));
        }
        let f = Firewall {
            name: name_or(&self.tags.0, &id),
            id,
            kind: FirewallKind::NetworkAcl,
            vpc: self.vpc_id.0,
            applies_to: AppliesTo::Subnets {
                ids: self.subnet_ids.0,
            },
            rules,
        };
        b.add(f, managed);
    }
}

/// `aws_network_acl_rule`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsNaclRule {
    network_acl_id: S,
    rule_number: N,
    egress: B,
    rule_action: S,
    protocol: S,
    from_port: N,
    to_port: N,
    cidr_block: S,
    ipv6_cidr_block: S,
}

impl Resource for AwsNaclRule {
    fn add(self, b: &mut Builder, _: bool) {
        let Some(acl) = self.network_acl_id.0 else {
            return b.warn("an aws_network_acl_rule without a network ACL was skipped".into());
        };
        let dir = if self.egress.0 == Some(true) {
            Direction::Egress
        } else {
            Direction::Ingress
        };
        let v = RuleValues {
            number: self.rule_number,
            action: self.rule_action,
            protocol: self.protocol,
            from: self.from_port,
            to: self.to_port,
            v4: self.cidr_block,
            v6: self.ipv6_cidr_block,
        };
        if let Some(rule) = v.rule(b, dir, &acl) {
            b.sg_rules.push((acl, rule));
        }
    }
}

/// `aws_network_acl_association`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsNaclAssoc {
    network_acl_id: S,
    subnet_id: S,
}

impl Resource for AwsNaclAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        match (self.network_acl_id.0, self.subnet_id.0) {
            (Some(acl), Some(s)) => b.gather(|n: &mut Nacls| n.assocs.push((acl, s))),
            _ => b.warn(
                "an aws_network_acl_association without a network ACL or subnet was skipped".into(),
            ),
        }
    }
}

/// The values of one rule, inline or standalone.
struct RuleValues {
    number: N,
    action: S,
    protocol: S,
    from: N,
    to: N,
    v4: S,
    v6: S,
}

impl RuleValues {
    /// The rule; none (with a warning naming the ACL) when a value is unusable.
    fn rule(self, b: &mut Builder, direction: Direction, acl: &str) -> Option<Rule> {
        let Some(priority) = self.number.0.and_then(|n| u32::try_from(n).ok()) else {
            b.warn(format!(
                "{acl}: a rule without a valid rule number was skipped"
            ));
            return None;
        };
        let what = format!("{acl} rule {priority}");
        let action = match self
            .action
            .0
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("allow") => Action::Allow,
            Some("deny") => Action::Deny,
            _ => {
                let a = self.action.0.unwrap_or_default();
                b.warn(format!("{what}: action {a:?} is neither allow nor deny"));
                return None;
            }
        };
        let protocol = Protocol::parse(self.protocol.0.as_deref().unwrap_or("-1"));
        let ports = if protocol.has_ports() {
            match (self.from.port(), self.to.port()) {
                (Some(0), Some(0)) | (Some(0), Some(65535)) | (None, None) => None,
                (Some(f), Some(t)) if f <= t => Some(PortRange { from: f, to: t }),
                _ => {
                    let show = |n: N| n.0.map_or("none".to_string(), |v| v.to_string());
                    b.warn(format!(
                        "{what}: ports {}-{} are not a port range",
                        show(self.from),
                        show(self.to)
                    ));
                    return None;
                }
            }
        } else {
            None
        };
        let v4: Vec<String> = self.v4.0.into_iter().collect();
        let v6: Vec<String> = self.v6.0.into_iter().collect();
        let peers = b.cidr_peers(&v4, &v6, &what);
        if peers.is_empty() {
            b.warn(format!("{what}: no usable CIDR, the rule was skipped"));
            return None;
        }
        Some(Rule {
            direction,
            action,
            priority,
            protocol,
            ports,
            peers,
            targets: Vec::new(),
            description: None,
        })
    }
}

/// What the network ACL resources of one import gather.
#[derive(Default)]
pub(super) struct Nacls {
    /// (default ACL, its VPC).
    defaults: Vec<(String, Option<String>)>,
    /// (ACL, subnet) associations.
    assocs: Vec<(String, String)>,
}

/// The subnet ids a network ACL applies to.
fn ids_mut(f: &mut Firewall) -> Option<&mut Vec<String>> {
    match (&f.kind, &mut f.applies_to) {
        (FirewallKind::NetworkAcl, AppliesTo::Subnets { ids }) => Some(ids),
        _ => None,
    }
}

impl Deferred for Nacls {
    fn resolve(self, t: &mut Topology) -> Vec<String> {
        let mut warnings = Vec::new();
        for (acl, subnet) in self.assocs {
            if t.firewall(&acl).is_none() {
                warnings.push(format!(
                    "association of {subnet} with network ACL {acl}, which is not in the state"
                ));
                continue;
            }
            for f in &mut t.firewalls {
                let is_target = f.id == acl;
                if let Some(ids) = ids_mut(f) {
                    ids.retain(|s| s != &subnet);
                    if is_target {
                        ids.push(subnet.clone());
                    }
                }
            }
        }
        for (acl, vpc) in self.defaults {
            let claimed: Vec<String> = t
                .firewalls
                .iter_mut()
                .filter(|f| f.id != acl)
                .filter_map(ids_mut)
                .flat_map(|ids| ids.clone())
                .collect();
            let in_vpc: Vec<String> = t
                .subnets
                .iter()
                .filter(|s| vpc.is_some() && s.vpc == vpc)
                .map(|s| s.id.clone())
                .collect();
            if let Some(ids) = t
                .firewalls
                .iter_mut()
                .find(|f| f.id == acl)
                .and_then(ids_mut)
            {
                for s in in_vpc {
                    if !ids.contains(&s) {
                        ids.push(s);
                    }
                }
                ids.retain(|s| !claimed.contains(s));
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests;
