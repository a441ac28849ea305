//! Network ACLs (EC2 `DescribeNetworkAcls`) → [`FirewallKind::NetworkAcl`] firewalls applied
//! to their subnets, one rule per entry (`priority` = the rule number).
//!
//! AWS lists every subnet's association explicitly, the default ACL's included; a subnet of the
//! VPC that no ACL names (an answer cut short) is given to the VPC's default ACL all the same,
//! so the model's subnet lists are whole.

use std::collections::BTreeSet;

use roxmltree::Node;

use super::reader::{Reader, Resources};
use super::xml::{kids, name_or, tag_map, text_at, text_of};
use super::{AwsError, Service};
use crate::model::*;

/// The network ACLs read, and which of them are their VPC's default.
#[derive(Debug, Default)]
pub struct Found {
    acls: Vec<Firewall>,
    defaults: BTreeSet<String>,
}

/// Reads the region's network ACLs (optional: a refusal is a warning).
pub(super) fn read(r: &mut Reader<'_>) -> Result<(), AwsError> {
    let res = r.pages(Service::Ec2, "DescribeNetworkAcls", vec![], 1000, page);
    r.optional(res, "network ACLs")?;
    Ok(())
}

fn page(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for n in kids(root, "networkAclSet") {
        let Some(id) = text_of(n, "networkAclId").filter(|i| !i.is_empty()) else {
            out.warnings
                .push("a network ACL without an id was skipped".into());
            continue;
        };
        let tags = tag_map(n);
        let mut subnets: Vec<String> = Vec::new();
        for a in kids(n, "associationSet") {
            if let Some(s) = text_of(a, "subnetId").filter(|s| !s.is_empty()) {
                if !subnets.contains(&s) {
                    subnets.push(s);
                }
            }
        }
        let mut rules = Vec::new();
        for e in kids(n, "entrySet") {
            match rule(e) {
                Ok(r) => rules.push(r),
                Err(why) => out
                    .warnings
                    .push(format!("network ACL {id}: an entry was skipped: {why}")),
            }
        }
        rules.sort_by_key(|r| (r.direction, r.priority));
        if text_of(n, "default").as_deref() == Some("true") {
            out.nacl.defaults.insert(id.clone());
        }
        out.nacl.acls.push(Firewall {
            name: name_or(&tags, &id),
            id,
            kind: FirewallKind::NetworkAcl,
            vpc: text_of(n, "vpcId").filter(|v| !v.is_empty()),
            applies_to: AppliesTo::Subnets { ids: subnets },
            rules,
        });
    }
}

/// One `entrySet` item.
fn rule(e: Node<'_, '_>) -> Result<Rule, String> {
    let number = text_of(e, "ruleNumber").unwrap_or_default();
    let priority: u32 = number
        .parse()
        .map_err(|_| format!("bad rule number {number:?}"))?;
    let action = match text_of(e, "ruleAction").as_deref() {
        Some("allow") => Action::Allow,
        Some("deny") => Action::Deny,
        other => return Err(format!("rule {priority}: bad action {other:?}")),
    };
    let direction = match text_of(e, "egress").as_deref() {
        Some("true") => Direction::Egress,
        _ => Direction::Ingress,
    };
    let protocol = Protocol::parse(&text_of(e, "protocol").unwrap_or_default());
    let cidr = text_of(e, "cidrBlock")
        .or_else(|| text_of(e, "ipv6CidrBlock"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("rule {priority}: no CIDR block"))?;
    let net: ipnet::IpNet = cidr
        .parse()
        .map_err(|_| format!("rule {priority}: bad CIDR block {cidr:?}"))?;
    let ports = match (
        text_at(e, &["portRange", "from"]),
        text_at(e, &["portRange", "to"]),
    ) {
        (Some(from), Some(to)) if protocol.has_ports() => PortRange::parse(&format!("{from}-{to}"))
            .map_err(|w| format!("rule {priority}: {w}"))?,
        _ => None,
    };
    Ok(Rule {
        direction,
        action,
        priority,
        protocol,
        ports,
        peers: vec![Peer::Cidr(net)],
        targets: Vec::new(),
        description: None,
    })
}

impl Found {
    /// Adds the ACLs to `t`, each VPC's default one extended to the VPC's subnets no ACL names.
    pub(super) fn finish(self, t: &mut Topology, _warnings: &mut [String]) {
        let mut named: BTreeSet<String> = BTreeSet::new();
        for f in &self.acls {
            if let AppliesTo::Subnets { ids } = &f.applies_to {
                named.extend(ids.iter().cloned());
            }
        }
        for mut f in self.acls {
            if self.defaults.contains(&f.id) {
                if let AppliesTo::Subnets { ids } = &mut f.applies_to {
                    for s in &t.subnets {
                        if s.vpc.is_some() && s.vpc == f.vpc && !named.contains(&s.id) {
                            ids.push(s.id.clone());
                        }
                    }
                }
            }
            t.firewalls.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{canned, ec2};
    use super::super::{import_region, Options};
    use super::*;

    #[test]
    fn entries_become_numbered_rules_and_the_default_acl_takes_the_rest() {
        let mut t = canned(vec![
            ("DescribeVpcs", None, 200, ec2("DescribeVpcs",
                "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet>")),
            ("DescribeSubnets", None, 200, ec2("DescribeSubnets",
                "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock></item>\
                 <item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.2.0/24</cidrBlock></item>\
                 <item><subnetId>subnet-c</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.3.0/24</cidrBlock></item></subnetSet>")),
            ("DescribeNetworkAcls", None, 200, ec2("DescribeNetworkAcls",
                "<networkAclSet>\
                 <item><networkAclId>acl-def</networkAclId><vpcId>vpc-1</vpcId><default>true</default>\
                 <associationSet><item><networkAclId>acl-def</networkAclId><subnetId>subnet-a</subnetId></item></associationSet>\
                 <entrySet><item><ruleNumber>100</ruleNumber><protocol>-1</protocol><ruleAction>allow</ruleAction><egress>false</egress><cidrBlock>0.0.0.0/0</cidrBlock></item>\
                 <item><ruleNumber>32767</ruleNumber><protocol>-1</protocol><ruleAction>deny</ruleAction><egress>false</egress><cidrBlock>0.0.0.0/0</cidrBlock></item></entrySet>\
                 <tagSet/></item>\
                 <item><networkAclId>acl-priv</networkAclId><vpcId>vpc-1</vpcId><default>false</default>\
                 <associationSet><item><subnetId>subnet-b</subnetId></item></associationSet>\
                 <entrySet>\
                 <item><ruleNumber>200</ruleNumber><protocol>-1</protocol><ruleAction>allow</ruleAction><egress>false</egress><cidrBlock>0.0.0.0/0</cidrBlock></item>\
                 <item><ruleNumber>100</ruleNumber><protocol>6</protocol><ruleAction>deny</ruleAction><egress>false</egress><cidrBlock>10.8.0.0/24</cidrBlock><portRange><from>22</from><to>22</to></portRange></item>\
                 <item><ruleNumber>100</ruleNumber><protocol>6</protocol><ruleAction>deny</ruleAction><egress>true</egress><cidrBlock>10.0.1.0/24</cidrBlock><portRange><from>1024</from><to>65535</to></portRange></item>\
                 <item><ruleNumber>110</ruleNumber><protocol>1</protocol><ruleAction>allow</ruleAction><egress>true</egress><ipv6CidrBlock>::/0</ipv6CidrBlock><icmpTypeCode><code>-1</code><type>-1</type></icmpTypeCode></item>\
                 <item><ruleNumber>x</ruleNumber><protocol>6</protocol><ruleAction>deny</ruleAction><cidrBlock>10.0.0.0/8</cidrBlock></item>\
                 <item><ruleNumber>120</ruleNumber><protocol>6</protocol><ruleAction>deny</ruleAction><cidrBlock>bogus</cidrBlock></item>\
                 </entrySet><tagSet><item><key>Name</key><value>private</value></item></tagSet></item>\
                 </networkAclSet>")),
        ]);
        let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
        let topo = &r.topology;
        let def = topo.firewall("acl-def").unwrap();
        assert_eq!(def.kind, FirewallKind::NetworkAcl);
        assert_eq!(def.name, "acl-def");
        assert_eq!(def.vpc.as_deref(), Some("vpc-1"));
        // subnet-c is named by no ACL: the default one applies.
        assert_eq!(
            def.applies_to,
            AppliesTo::Subnets {
                ids: vec!["subnet-a".into(), "subnet-c".into()]
            }
        );
        assert_eq!(
            def.rules
                .iter()
                .map(|r| (r.priority, r.action))
                .collect::<Vec<_>>(),
            [(100, Action::Allow), (32767, Action::Deny)]
        );
        let p = topo.firewall("acl-priv").unwrap();
        assert_eq!(p.name, "private");
        assert_eq!(
            p.applies_to,
            AppliesTo::Subnets {
                ids: vec!["subnet-b".into()]
            }
        );
        let got: Vec<String> = p
            .rules
            .iter()
            .map(|r| {
                format!(
                    "{:?} {} {:?} {:?} {} {:?}",
                    r.direction,
                    r.priority,
                    r.action,
                    r.protocol,
                    r.ports.map(|p| p.to_string()).unwrap_or("all".into()),
                    r.peers
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "Ingress 100 Deny Tcp 22 [Cidr(10.8.0.0/24)]",
                "Ingress 200 Allow All all [Cidr(0.0.0.0/0)]",
                "Egress 100 Deny Tcp 1024-65535 [Cidr(10.0.1.0/24)]",
                "Egress 110 Allow Icmp all [Cidr(::/0)]",
            ]
        );
        assert_eq!(
            r.warnings,
            [
                "network ACL acl-priv: an entry was skipped: bad rule number \"x\"",
                "network ACL acl-priv: an entry was skipped: rule 120: bad CIDR block \"bogus\"",
            ]
        );
    }
}
