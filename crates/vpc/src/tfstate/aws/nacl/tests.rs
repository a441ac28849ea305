//! Network ACLs: the corpus files that have them, small states for associations and defaults.

use std::path::PathBuf;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

fn corpus(file: &str) -> (Topology, ImportReport) {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tfstate"
    ))
    .join(file);
    import_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn state(resources: &[(&str, &str)]) -> (Topology, ImportReport) {
    let list: Vec<String> = resources
        .iter()
        .enumerate()
        .map(|(i, (ty, attrs))| {
            format!(
                r#"{{"mode":"managed","type":"{ty}","name":"r{i}","instances":[{{"attributes":{attrs}}}]}}"#
            )
        })
        .collect();
    let s = format!(
        r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{}]}}"#,
        list.join(",")
    );
    import_str(&s, "t").unwrap_or_else(|e| panic!("{e}"))
}

fn subnets_of(t: &Topology, acl: &str) -> Vec<String> {
    match &t.firewall(acl).expect("the ACL").applies_to {
        AppliesTo::Subnets { ids } => {
            let mut ids = ids.clone();
            ids.sort();
            ids
        }
        other => panic!("{other:?}"),
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn default_acl_of_the_corpus() {
    let (t, _) = corpus("01-aws-vpc-nat-instance-bigip.tfstate");
    let f = t.firewall("acl-01c144c8609411fbc").unwrap();
    assert_eq!(f.kind, FirewallKind::NetworkAcl);
    assert_eq!(f.name, "ob1-f5-vpc-default");
    assert_eq!(f.vpc.as_deref(), Some("vpc-03a7f9c1ce1198d8a"));
    assert_eq!(
        subnets_of(&t, &f.id),
        ids(&[
            "subnet-03e982ea4cbc1d03e",
            "subnet-07a96497c87179fc6",
            "subnet-09908feef074f3d0b"
        ])
    );
    assert_eq!(f.rules.len(), 4);
    let r = &f.rules[1];
    assert_eq!(
        (r.direction, r.action, r.priority),
        (Direction::Ingress, Action::Allow, 101)
    );
    assert_eq!(r.protocol, Protocol::All);
    assert_eq!(r.ports, None);
    assert_eq!(r.peers, vec![Peer::Cidr("::/0".parse().unwrap())]);

    let (t, _) = corpus("11-show-json-aws-vpc-nat.json");
    assert_eq!(subnets_of(&t, "acl-0abd2dfa01d5a818b").len(), 4);
}

#[test]
fn unassociated_acl_of_the_corpus() {
    let (t, _) = corpus("15-aws-network-acl-vpc-instance.tfstate");
    let f = t.firewall("acl-015226e304d0b7b82").unwrap();
    assert_eq!(f.vpc.as_deref(), Some("vpc-0753380e9710b6fc1"));
    assert!(subnets_of(&t, &f.id).is_empty());
    let prios: Vec<(Direction, u32)> = f.rules.iter().map(|r| (r.direction, r.priority)).collect();
    assert_eq!(
        prios,
        vec![(Direction::Ingress, 200), (Direction::Egress, 100)]
    );
    assert!(f
        .rules
        .iter()
        .all(|r| r.action == Action::Allow
            && r.peers == vec![Peer::Cidr("0.0.0.0/0".parse().unwrap())]));
}

const VPC: (&str, &str) = ("aws_vpc", r#"{"id":"vpc-1","cidr_block":"10.0.0.0/16"}"#);
const SUBNETS: [(&str, &str); 3] = [
    (
        "aws_subnet",
        r#"{"id":"subnet-a","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24"}"#,
    ),
    (
        "aws_subnet",
        r#"{"id":"subnet-b","vpc_id":"vpc-1","cidr_block":"10.0.2.0/24"}"#,
    ),
    (
        "aws_subnet",
        r#"{"id":"subnet-c","vpc_id":"vpc-1","cidr_block":"10.0.3.0/24"}"#,
    ),
];
const DEFAULT: (&str, &str) = (
    "aws_default_network_acl",
    r#"{"id":"acl-def","default_network_acl_id":"acl-def","vpc_id":"vpc-1","subnet_ids":["subnet-b"],"ingress":[{"rule_no":100,"action":"allow","protocol":"-1","from_port":0,"to_port":0,"cidr_block":"0.0.0.0/0","ipv6_cidr_block":""}],"egress":[]}"#,
);
const PRIVATE: (&str, &str) = (
    "aws_network_acl",
    r#"{"id":"acl-priv","vpc_id":"vpc-1","subnet_ids":["subnet-a"],"tags":{"Name":"private"},
        "ingress":[{"rule_no":110,"action":"deny","protocol":"6","from_port":22,"to_port":22,"cidr_block":"0.0.0.0/0","ipv6_cidr_block":""},
                   {"rule_no":100,"action":"allow","protocol":"tcp","from_port":1024,"to_port":65535,"cidr_block":"10.0.0.0/16","ipv6_cidr_block":""}],
        "egress":[{"rule_no":100,"action":"allow","protocol":"-1","from_port":0,"to_port":0,"cidr_block":"","ipv6_cidr_block":"::/0"}]}"#,
);
const ASSOC: (&str, &str) = (
    "aws_network_acl_association",
    r#"{"id":"aclassoc-1","network_acl_id":"acl-priv","subnet_id":"subnet-b"}"#,
);
const RULE: (&str, &str) = (
    "aws_network_acl_rule",
    r#"{"network_acl_id":"acl-priv","rule_number":"120","egress":false,"rule_action":"allow","protocol":"17","from_port":53,"to_port":53,"cidr_block":"10.0.0.2/32"}"#,
);

#[test]
fn associations_and_the_default_acl_in_any_order() {
    for order in [
        vec![
            VPC, SUBNETS[0], SUBNETS[1], SUBNETS[2], DEFAULT, PRIVATE, ASSOC, RULE,
        ],
        vec![
            ASSOC, RULE, DEFAULT, PRIVATE, SUBNETS[2], SUBNETS[1], SUBNETS[0], VPC,
        ],
        vec![
            PRIVATE, DEFAULT, ASSOC, SUBNETS[0], RULE, SUBNETS[1], VPC, SUBNETS[2],
        ],
    ] {
        let (t, r) = state(&order);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // The association moves subnet-b off the default; subnet-c, claimed by nobody, is the
        // default's.
        assert_eq!(subnets_of(&t, "acl-priv"), ids(&["subnet-a", "subnet-b"]));
        assert_eq!(subnets_of(&t, "acl-def"), ids(&["subnet-c"]));
        let f = t.firewall("acl-priv").unwrap();
        assert_eq!(f.name, "private");
        let ingress: Vec<(u32, Action, Protocol, Option<PortRange>)> = {
            let mut v: Vec<_> = f
                .rules
                .iter()
                .filter(|r| r.direction == Direction::Ingress)
                .map(|r| (r.priority, r.action, r.protocol.clone(), r.ports))
                .collect();
            v.sort_by_key(|x| x.0);
            v
        };
        assert_eq!(
            ingress,
            vec![
                (
                    100,
                    Action::Allow,
                    Protocol::Tcp,
                    Some(PortRange {
                        from: 1024,
                        to: 65535
                    })
                ),
                (
                    110,
                    Action::Deny,
                    Protocol::Tcp,
                    Some(PortRange { from: 22, to: 22 })
                ),
                (
                    120,
                    Action::Allow,
                    Protocol::Udp,
                    Some(PortRange { from: 53, to: 53 })
                ),
            ]
        );
        let egress: Vec<&Rule> = f
            .rules
            .iter()
            .filter(|r| r.direction == Direction::Egress)
            .collect();
        assert_eq!(egress.len(), 1);
        assert_eq!(egress[0].peers, vec![Peer::Cidr("::/0".parse().unwrap())]);
    }
}

#[test]
fn broken_rules_warn() {
    let (t, r) = state(&[
        (
            "aws_network_acl",
            r#"{"id":"acl-x","vpc_id":"vpc-1","ingress":[
            {"rule_no":"x","action":"allow","protocol":"-1","cidr_block":"0.0.0.0/0"},
            {"rule_no":1,"action":"maybe","protocol":"-1","cidr_block":"0.0.0.0/0"},
            {"rule_no":2,"action":"allow","protocol":"6","from_port":90,"to_port":80,"cidr_block":"0.0.0.0/0"},
            {"rule_no":3,"action":"allow","protocol":"-1","cidr_block":"bogus"},
            {"rule_no":4,"action":"DENY","protocol":"-1","cidr_block":"10.0.0.0/8"}],"egress":null}"#,
        ),
        (
            "aws_network_acl_association",
            r#"{"network_acl_id":"acl-gone","subnet_id":"subnet-a"}"#,
        ),
        ("aws_network_acl_rule", r#"{"rule_number":1}"#),
    ]);
    let f = t.firewall("acl-x").unwrap();
    assert_eq!(f.rules.len(), 1);
    assert_eq!(f.rules[0].action, Action::Deny);
    // rule number, action, port range, bad CIDR + no usable CIDR, unknown ACL, missing ACL id.
    assert_eq!(r.warnings.len(), 7, "{:?}", r.warnings);
    assert!(
        r.warnings
            .iter()
            .all(|w| w.contains("acl") || w.contains("ACL")),
        "{:?}",
        r.warnings
    );
}

/// What a failed import gathered dies with it: the next import on the thread starts clean.
#[test]
fn a_failed_import_leaves_nothing_for_the_next() {
    for _ in 0..3 {
        let cut = format!(
            r#"{{"version":4,"resources":[{{"mode":"managed","type":"{}","name":"a","instances":[{{"attributes":{}}}]}},{{"mode":"managed","type":"aws_vpc","#,
            ASSOC.0, ASSOC.1
        );
        assert!(import_str(&cut, "cut").is_err());
        let (t, r) = state(&[DEFAULT, SUBNETS[0], SUBNETS[1]]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(subnets_of(&t, "acl-def"), ids(&["subnet-a", "subnet-b"]));
    }
}
