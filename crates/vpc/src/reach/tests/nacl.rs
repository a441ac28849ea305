//! Network ACLs: stateless, first match by rule number, replies on the ephemeral ports.

use super::*;

fn nacl_rule(
    dir: Direction,
    n: u32,
    action: Action,
    ports: Option<(u16, u16)>,
    cidr: &str,
) -> Rule {
    Rule {
        direction: dir,
        action,
        priority: n,
        protocol: if ports.is_some() {
            Protocol::Tcp
        } else {
            Protocol::All
        },
        ports: ports.map(|(from, to)| PortRange { from, to }),
        peers: vec![Peer::Cidr(net(cidr))],
        description: None,
        targets: Vec::new(),
    }
}

fn acl(id: &str, subnet: &str, rules: Vec<Rule>) -> Firewall {
    let mut rules = rules;
    // The source's explicit final `*` rules.
    for d in [Direction::Ingress, Direction::Egress] {
        rules.push(nacl_rule(d, 32767, Action::Deny, None, "0.0.0.0/0"));
    }
    Firewall {
        id: id.into(),
        name: id.into(),
        kind: FirewallKind::NetworkAcl,
        vpc: Some("vpc-1".into()),
        applies_to: AppliesTo::Subnets {
            ids: vec![subnet.into()],
        },
        rules,
    }
}

use Action::{Allow, Deny};
use Direction::{Egress as Out, Ingress as In};

/// The base topology with sg-db admitting the tunnel, prod-db-acl on subnet-db (5432 in from
/// the tunnel, replies out on 1024-65535) and pub-acl on the VPN host's subnet (all traffic).
fn with_acls() -> Topology {
    let mut t = topo();
    t.firewalls[2]
        .rules
        .push(allow_in(5432, vec![Peer::Cidr(net("10.100.0.0/24"))]));
    t.firewalls.push(acl(
        "prod-db-acl",
        "subnet-db",
        vec![
            nacl_rule(In, 100, Allow, Some((5432, 5432)), "10.100.0.0/24"),
            nacl_rule(Out, 100, Allow, Some((1024, 65535)), "10.100.0.0/24"),
        ],
    ));
    t.firewalls.push(acl(
        "pub-acl",
        "subnet-pub",
        vec![
            nacl_rule(In, 100, Allow, None, "0.0.0.0/0"),
            nacl_rule(Out, 100, Allow, None, "0.0.0.0/0"),
        ],
    ));
    t
}

const DB: usize = 3;
const PUB: usize = 4;

fn routed() -> VpnHint {
    VpnHint {
        host: None,
        nat: Some(false),
    }
}

#[test]
fn code_nacl_admits_both_ways_in_one_finding() {
    let (t, tun) = (with_acls(), tunnel());
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![
            Code::TunnelPeer,
            Code::ReturnRoute,
            Code::NaclAdmits,
            Code::RuleAdmits
        ]
    );
    assert_eq!(
        v.findings[2].detail,
        "network ACL pub-acl lets it out to 10.20.2.30 (rule 100) and lets the replies back in \
         on the ephemeral ports 32768-60999 (rule 100), and network ACL prod-db-acl admits \
         tcp/5432 from 10.100.0.2 (rule 100) and lets the replies out on the ephemeral ports \
         32768-60999 (rule 100)"
    );
}

#[test]
fn code_nacl_denies_in_first_match_wins() {
    let (mut t, tun) = (with_acls(), tunnel());
    t.firewalls[DB]
        .rules
        .push(nacl_rule(In, 90, Deny, Some((5432, 5432)), "10.100.0.0/24"));
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NaclDeniesIn));
    assert_eq!(
        v.sentence,
        "db:5432 is blocked: network ACL prod-db-acl rule 90 denies tcp/5432 from 10.100.0.2"
    );
    // A later deny does not matter: rule 100 matches first.
    t.firewalls[DB].rules.last_mut().unwrap().priority = 200;
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    // No rule at all: the final rule denies.
    t.firewalls[DB].rules.retain(|r| r.direction == Out);
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert!(v.has(Code::NaclDeniesIn));
    assert!(
        v.sentence.contains("so its final * rule denies it"),
        "{}",
        v.sentence
    );
}

#[test]
fn code_nacl_denies_reply_on_ephemeral_ports() {
    let (mut t, tun) = (with_acls(), tunnel());
    // Replies allowed only on part of the ephemeral range.
    t.firewalls[DB].rules[1].ports = Some(PortRange {
        from: 1024,
        to: 50000,
    });
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NaclDeniesReply));
    assert_eq!(
        v.sentence,
        "db:5432 is blocked: network ACL prod-db-acl rule 100 allows tcp replies to 10.100.0.2 \
         only on ports 1024-50000, and replies need every ephemeral port 32768-60999, so the \
         final * rule denies the rest"
    );
    // A deny in the middle of the range, before the allow.
    t.firewalls[DB].rules[1].ports = None;
    t.firewalls[DB]
        .rules
        .push(nacl_rule(Out, 50, Deny, Some((40000, 40010)), "0.0.0.0/0"));
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert!(v.has(Code::NaclDeniesReply));
    assert!(
        v.sentence
            .contains("rule 50 denies tcp replies to 10.100.0.2 on ports 40000-40010"),
        "{}",
        v.sentence
    );
    // Two allows that cover the range together are enough.
    t.firewalls[DB].rules.pop();
    t.firewalls[DB].rules[1].ports = Some(PortRange {
        from: 32768,
        to: 40000,
    });
    t.firewalls[DB].rules.push(nacl_rule(
        Out,
        110,
        Allow,
        Some((40001, 65535)),
        "10.100.0.0/16",
    ));
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert!(v.findings[2].detail.contains("rules 100, 110"), "{v:#?}");
}

#[test]
fn codes_nacl_denies_out_and_reply_in_at_the_vpn_host_subnet() {
    let (mut t, tun) = (with_acls(), tunnel());
    t.firewalls[PUB].rules[1] = nacl_rule(Out, 100, Allow, Some((443, 443)), "0.0.0.0/0");
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NaclDeniesOut));
    assert!(
        v.sentence.contains(
            "no rule of network ACL pub-acl of vpn-gw's subnet lets tcp/5432 out to 10.20.2.30"
        ),
        "{}",
        v.sentence
    );
    let (mut t, tun) = (with_acls(), tunnel());
    t.firewalls[PUB].rules[0] = nacl_rule(In, 100, Allow, Some((1024, 40000)), "0.0.0.0/0");
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NaclDeniesReplyIn));
    assert!(
        v.sentence
            .contains("replies from 10.20.2.30 back into vpn-gw's subnet only on ports 1024-40000"),
        "{}",
        v.sentence
    );
}

#[test]
fn nacls_are_not_security_groups() {
    let (mut t, tun) = (with_acls(), tunnel());
    // sg-db admits only sg-app; the ACL admitting everything must not count as a rule.
    t.firewalls[2].rules.pop();
    t.firewalls[DB].rules[0] = nacl_rule(In, 100, Allow, None, "0.0.0.0/0");
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NoRuleAdmits));
    assert!(
        v.sentence.contains("sg-db admits 5432 only from sg-app"),
        "{}",
        v.sentence
    );
    // Nor do their ports become candidates (rule 100 out names 1024).
    let hint = routed();
    let a = Analyzer::new(&t, Some(&tun), &hint, &[]);
    let db = a.find_target("db").unwrap();
    assert_eq!(a.candidate_ports(&db), vec![(Protocol::Tcp, 5432)]);
}

#[test]
fn no_acl_is_crossed_within_a_subnet() {
    let (mut t, tun) = (with_acls(), tunnel());
    t.firewalls[DB].rules.clear();
    // The VPN host in the database's subnet: nothing crosses prod-db-acl.
    t.hosts[0].subnet = Some("subnet-db".into());
    let v = check(&t, Some(&tun), &routed(), "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert!(
        !v.codes().iter().any(|c| c.as_str().starts_with("nacl")),
        "{v:#?}"
    );
}

#[test]
fn nacls_see_the_vpn_hosts_address_when_it_nats() {
    let (t, tun) = (with_acls(), tunnel());
    let hint = VpnHint {
        host: None,
        nat: Some(true),
    };
    // prod-db-acl admits only the tunnel's range, and NATed traffic comes from 10.20.0.5.
    let v = check(&t, Some(&tun), &hint, "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NaclDeniesIn));
    assert!(
        v.sentence
            .contains("no rule of network ACL prod-db-acl admits tcp/5432 from 10.20.0.5"),
        "{}",
        v.sentence
    );
}
