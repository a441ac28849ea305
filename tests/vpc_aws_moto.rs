//! `gatehouse vpc aws` against moto in server mode (PyPI `moto[server]`) on 127.0.0.1, seeded
//! with boto3 (`support/seed_moto.py`): the imported topology is exactly the seeded one plus what
//! AWS creates by itself (each region's default VPC, each VPC's default security group, main
//! route table and default network ACL), across two regions, with NextToken paging; credentials from the environment, a
//! credentials-file profile and a credential_process; SigV4 signatures checked by moto's own
//! authentication; a 403, a 500 and a timeout each fail clearly and leave the previous snapshot
//! byte for byte. Besides EC2 and ELBv2: network ACLs, a transit gateway with a VPC attachment,
//! a VPN gateway, RDS, ElastiCache and EKS; calls the account may not make are warnings.
//!
//! Needs moto (scripts/install-deps.sh puts it in /opt/gatehouse/moto-venv) and the gatehouse
//! binary (`cargo build -p gatehouse-cli`). No root.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_e2e::gatehouse_bin;
use gatehouse_e2e::moto::{self, Moto};
use gatehouse_vpc::model::{
    Action, AppliesTo, Attachment, Direction, FirewallKind, GatewayKind, Peer, Protocol,
    RouteTarget, Topology,
};
use gatehouse_vpc::snapshot::Snapshot;
use gatehouse_vpc::store::SnapshotStore;
use serde_json::Value;

const PRIMARY: &str = "eu-west-1";
const SECONDARY: &str = "us-east-1";

/// `gatehouse vpc aws ARGS` with only the AWS variables given (none inherited), `HOME` and the
/// config directory in `home`.
fn gatehouse(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(gatehouse_bin());
    cmd.args(["vpc", "aws"]).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("GATEHOUSE_CONFIG_DIR", home.join("gatehouse"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run gatehouse")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "gatehouse failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn topology_of(v: &Value) -> Topology {
    serde_json::from_value(v["topology"].clone()).expect("a topology")
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

/// Asserts that `t` holds exactly what `m` (the seed script's output for `regions`) says.
fn check(t: &Topology, m: &Value, regions: &[&str]) {
    let mut vpcs = BTreeSet::new();
    let mut subnets = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut sgs = BTreeSet::new();
    let mut rts = BTreeSet::new();
    let mut gws = BTreeSet::new();
    let mut lbs = BTreeSet::new();
    let mut tgs = BTreeSet::new();
    for r in regions {
        let s = &m[*r];
        let imp = &s["implicit"];
        vpcs.extend(
            s["vpcs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        vpcs.extend(
            imp["vpcs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        subnets.extend(
            s["subnets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        subnets.extend(
            imp["subnets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        hosts.extend(
            s["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        sgs.extend(
            s["security_groups"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_str().unwrap().to_string()),
        );
        sgs.extend(strs(&imp["security_groups"]));
        // Network ACLs are firewalls too: the seeded one and every VPC's default one.
        for a in s["network_acls"]
            .as_array()
            .unwrap()
            .iter()
            .chain(imp["network_acls"].as_array().unwrap())
        {
            sgs.insert(a["id"].as_str().unwrap().to_string());
        }
        rts.extend(
            s["route_tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        rts.extend(
            imp["route_tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        gws.extend(strs(&s["igws"]));
        for g in s["transit_gateways"]
            .as_array()
            .unwrap()
            .iter()
            .chain(s["vpn_gateways"].as_array().unwrap())
        {
            gws.insert(g["id"].as_str().unwrap().to_string());
        }
        for g in s["transit_gateways"].as_array().unwrap() {
            rts.insert(g["route_table"].as_str().unwrap().to_string());
        }
        hosts.extend(
            s["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        gws.extend(strs(&imp["igws"]));
        gws.extend(
            s["nats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        lbs.extend(
            s["load_balancers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["arn"].as_str().unwrap().to_string()),
        );
        tgs.extend(
            s["target_groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["arn"].as_str().unwrap().to_string()),
        );
    }
    // Ids, kind by kind: nothing missing, nothing extra.
    assert_eq!(set(t.vpcs.iter().map(|x| x.id.clone())), vpcs, "VPCs");
    assert_eq!(
        set(t.subnets.iter().map(|x| x.id.clone())),
        subnets,
        "subnets"
    );
    assert_eq!(set(t.hosts.iter().map(|x| x.id.clone())), hosts, "hosts");
    assert_eq!(
        set(t.firewalls.iter().map(|x| x.id.clone())),
        sgs,
        "security groups and network ACLs"
    );
    assert_eq!(
        set(t.route_tables.iter().map(|x| x.id.clone())),
        rts,
        "route tables"
    );
    assert_eq!(
        set(t.gateways.iter().map(|x| x.id.clone())),
        gws,
        "gateways"
    );
    assert_eq!(
        set(t.load_balancers.iter().map(|x| x.id.clone())),
        lbs,
        "load balancers"
    );
    assert_eq!(
        set(t.target_groups.iter().map(|x| x.id.clone())),
        tgs,
        "target groups"
    );
    assert!(t.peerings.is_empty());
    // And no duplicates.
    let c = t.counts();
    assert_eq!(
        (
            c.vpcs,
            c.subnets,
            c.hosts,
            c.firewalls,
            c.route_tables,
            c.gateways,
            c.load_balancers,
            c.target_groups
        ),
        (
            vpcs.len(),
            subnets.len(),
            hosts.len(),
            sgs.len(),
            rts.len(),
            gws.len(),
            lbs.len(),
            tgs.len()
        )
    );

    for r in regions {
        let s = &m[*r];
        let imp = &s["implicit"];
        for v in s["vpcs"].as_array().unwrap() {
            let got = t.vpc(v["id"].as_str().unwrap()).unwrap();
            assert_eq!(got.name, v["name"].as_str().unwrap());
            assert_eq!(got.cidrs[0].to_string(), v["cidr"].as_str().unwrap());
            assert_eq!(got.region.as_deref(), Some(*r));
            assert!(!got.placeholder);
        }
        // Each region's default VPC: moto's 172.31.0.0/16 with one /20 per zone, no gateway.
        for v in imp["vpcs"].as_array().unwrap() {
            assert_eq!(v["default"], true);
            let got = t.vpc(v["id"].as_str().unwrap()).unwrap();
            assert_eq!(got.cidrs[0].to_string(), "172.31.0.0/16");
            assert_eq!(got.region.as_deref(), Some(*r));
        }
        for sn in s["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .chain(imp["subnets"].as_array().unwrap())
        {
            let got = t.subnet(sn["id"].as_str().unwrap()).unwrap();
            assert_eq!(got.cidr.unwrap().to_string(), sn["cidr"].as_str().unwrap());
            assert_eq!(got.vpc.as_deref(), sn["vpc"].as_str());
            if let Some(name) = sn["name"].as_str() {
                assert_eq!(got.name, name);
                assert_eq!(got.public, sn["public"].as_bool(), "{}", got.name);
            }
        }
        // The main route tables AWS made: main, no routes but the implicit local one.
        for rt in imp["route_tables"].as_array().unwrap() {
            let got = t
                .route_tables
                .iter()
                .find(|x| x.id == rt["id"].as_str().unwrap())
                .unwrap();
            assert!(got.main);
            assert!(got.routes.is_empty(), "{got:?}");
            assert_eq!(got.vpc.as_deref(), rt["vpc"].as_str());
            assert_eq!(
                t.vpc(rt["vpc"].as_str().unwrap())
                    .unwrap()
                    .main_route_table
                    .as_deref(),
                Some(got.id.as_str())
            );
        }
        for rt in s["route_tables"].as_array().unwrap() {
            let got = t
                .route_tables
                .iter()
                .find(|x| x.id == rt["id"].as_str().unwrap())
                .unwrap();
            assert_eq!(got.name, rt["name"].as_str().unwrap());
            assert!(!got.main);
            assert_eq!(got.subnets, strs(&rt["subnets"]));
            assert_eq!(got.routes[0].destination.to_string(), "0.0.0.0/0");
            let target_id = rt["default_route"][1].as_str().unwrap().to_string();
            let want = match rt["default_route"][0].as_str().unwrap() {
                "gateway" => RouteTarget::Gateway(target_id),
                _ => RouteTarget::Nat(target_id),
            };
            assert_eq!(got.routes[0].target, want);
            // Then the routes to the transit gateway.
            let transit: Vec<(String, RouteTarget)> = rt["transit_routes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| {
                            (
                                r[0].as_str().unwrap().to_string(),
                                RouteTarget::TransitGateway(r[1].as_str().unwrap().into()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let rest: Vec<(String, RouteTarget)> = got.routes[1..]
                .iter()
                .map(|r| (r.destination.to_string(), r.target.clone()))
                .collect();
            assert_eq!(rest, transit, "{}", got.id);
        }
        for n in s["nats"].as_array().unwrap() {
            let got = t
                .gateways
                .iter()
                .find(|g| g.id == n["id"].as_str().unwrap())
                .unwrap();
            assert_eq!(got.subnet.as_deref(), n["subnet"].as_str());
            assert_eq!(
                got.public_ip.map(|i| i.to_string()).as_deref(),
                n["public_ip"].as_str()
            );
        }
        for h in s["hosts"].as_array().unwrap() {
            let got = t.host(h["id"].as_str().unwrap()).unwrap();
            assert_eq!(got.name, h["name"].as_str().unwrap());
            assert_eq!(got.subnet.as_deref(), h["subnet"].as_str());
            assert_eq!(
                got.private_ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>(),
                [h["ip"].as_str().unwrap()]
            );
            assert_eq!(got.security_groups, strs(&h["security_groups"]));
            assert_eq!(got.tags.get("role").map(String::as_str), h["role"].as_str());
            assert_eq!(got.state.as_deref(), Some("running"));
            let subnet = t.subnet(got.subnet.as_deref().unwrap()).unwrap();
            assert_eq!(got.vpc, subnet.vpc);
        }
        check_network_acls(t, s);
        check_gateways(t, s);
        check_services(t, s);
        // Every default security group: moto gives it one rule, all traffic out.
        for id in strs(&imp["security_groups"]) {
            let got = t.firewall(&id).unwrap();
            assert_eq!(got.name, "default");
            assert_eq!(got.rules.len(), 1, "{got:?}");
            assert_eq!(got.rules[0].direction, Direction::Egress);
            assert_eq!(got.rules[0].protocol, Protocol::All);
        }
        for lb in s["load_balancers"].as_array().unwrap() {
            let got = t
                .load_balancers
                .iter()
                .find(|x| x.id == lb["arn"].as_str().unwrap())
                .unwrap();
            assert_eq!(got.name, lb["name"].as_str().unwrap());
            assert_eq!(got.internal, Some(false));
            assert_eq!(got.kind.as_deref(), Some("application"));
            assert_eq!(got.region.as_deref(), Some(*r));
            assert_eq!(set(got.subnets.clone()), set(strs(&lb["subnets"])));
            assert_eq!(got.security_groups, strs(&lb["security_groups"]));
            assert_eq!(got.listeners.len(), 1);
            assert_eq!(
                u64::from(got.listeners[0].port),
                lb["listener_port"].as_u64().unwrap()
            );
            assert_eq!(
                got.listeners[0].target_group.as_deref(),
                lb["target_group"].as_str()
            );
        }
        for tg in s["target_groups"].as_array().unwrap() {
            let got = t
                .target_groups
                .iter()
                .find(|x| x.id == tg["arn"].as_str().unwrap())
                .unwrap();
            assert_eq!(got.name, tg["name"].as_str().unwrap());
            assert_eq!(got.port.map(u64::from), tg["port"].as_u64());
            assert_eq!(set(got.targets.clone()), set(strs(&tg["targets"])));
        }
    }

    // The seeded security groups, rule by rule.
    if regions.contains(&PRIMARY) {
        let g = &m[PRIMARY]["security_groups"];
        let id = |k: &str| g[k].as_str().unwrap().to_string();
        let rules = |sg: &str| {
            let mut v: Vec<String> = t
                .firewall(sg)
                .unwrap()
                .rules
                .iter()
                .map(|r| {
                    let peers: Vec<String> = r
                        .peers
                        .iter()
                        .map(|p| match p {
                            Peer::Cidr(c) => c.to_string(),
                            Peer::Group(g) => g.clone(),
                            Peer::SelfGroup => "self".into(),
                            other => format!("{other:?}"),
                        })
                        .collect();
                    format!(
                        "{:?} {:?} {} {} {}",
                        r.direction,
                        r.protocol,
                        r.ports
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "all".into()),
                        peers.join(","),
                        r.description.clone().unwrap_or_default()
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            rules(&id("lb")),
            [
                "Egress All all 0.0.0.0/0 ",
                "Ingress Tcp 80 0.0.0.0/0 internet"
            ]
        );
        assert_eq!(
            rules(&id("web")),
            [
                "Egress All all 0.0.0.0/0 ".to_string(),
                "Ingress Tcp 22 10.8.0.0/24 vpn".to_string(),
                format!("Ingress Tcp 8080 {} ", id("lb")),
            ]
        );
        assert_eq!(
            rules(&id("db")),
            [
                "Egress All all 0.0.0.0/0 ".to_string(),
                "Ingress Tcp 5432 self ".to_string(),
                format!("Ingress Tcp 5432 {} ", id("web")),
            ]
        );
    }
}

/// The network ACLs: the seeded one rule by rule, each VPC's default one (moto: allow all in
/// and out, then the 32767 deny) on the VPC's other subnets.
fn check_network_acls(t: &Topology, s: &Value) {
    for a in s["network_acls"].as_array().unwrap() {
        let got = t.firewall(a["id"].as_str().unwrap()).unwrap();
        assert_eq!(got.kind, FirewallKind::NetworkAcl);
        assert_eq!(got.name, a["name"].as_str().unwrap());
        assert_eq!(got.vpc.as_deref(), a["vpc"].as_str());
        assert_eq!(
            got.applies_to,
            AppliesTo::Subnets {
                ids: strs(&a["subnets"])
            }
        );
        let rules: Vec<String> = got.rules.iter().map(rule_line).collect();
        assert_eq!(
            rules,
            [
                "Ingress 100 Deny Tcp 22 10.8.0.0/24",
                "Ingress 200 Allow All all 0.0.0.0/0",
                "Egress 100 Deny Tcp 1024-65535 10.20.1.0/24",
                "Egress 200 Allow All all 0.0.0.0/0",
            ]
        );
        assert_eq!(a["rules"].as_array().unwrap().len(), rules.len());
    }
    for a in s["implicit"]["network_acls"].as_array().unwrap() {
        let got = t.firewall(a["id"].as_str().unwrap()).unwrap();
        assert_eq!(got.kind, FirewallKind::NetworkAcl);
        assert_eq!(got.vpc.as_deref(), a["vpc"].as_str());
        let AppliesTo::Subnets { ids } = &got.applies_to else {
            panic!("{got:?}")
        };
        assert_eq!(set(ids.clone()), set(strs(&a["subnets"])));
        let rules: Vec<String> = got.rules.iter().map(rule_line).collect();
        assert_eq!(
            rules,
            [
                "Ingress 100 Allow All all 0.0.0.0/0",
                "Ingress 32767 Deny All all 0.0.0.0/0",
                "Egress 100 Allow All all 0.0.0.0/0",
                "Egress 32767 Deny All all 0.0.0.0/0",
            ]
        );
    }
}

/// `DIRECTION NUMBER ACTION PROTOCOL PORTS PEERS` of a network ACL rule.
fn rule_line(r: &gatehouse_vpc::model::Rule) -> String {
    let peers: Vec<String> = r
        .peers
        .iter()
        .map(|p| match p {
            Peer::Cidr(c) => c.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    format!(
        "{:?} {} {:?} {:?} {} {}",
        r.direction,
        r.priority,
        r.action,
        r.protocol,
        r.ports
            .map(|p| p.to_string())
            .unwrap_or_else(|| "all".into()),
        peers.join(",")
    )
}

/// The transit gateway (its VPC attachment, its default route table with the blackhole) and
/// the VPN gateway.
fn check_gateways(t: &Topology, s: &Value) {
    for g in s["transit_gateways"].as_array().unwrap() {
        let got = t
            .gateways
            .iter()
            .find(|x| x.id == g["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(got.kind, GatewayKind::Transit);
        assert_eq!(got.name, g["name"].as_str().unwrap());
        assert_eq!(got.vpc, None);
        let table = g["route_table"].as_str().unwrap();
        let want: Vec<Attachment> = g["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| Attachment {
                id: a["id"].as_str().unwrap().into(),
                vpc: a["vpc"].as_str().map(str::to_string),
                subnets: strs(&a["subnets"]),
                route_table: Some(table.into()),
                kind: a["kind"].as_str().map(str::to_string),
            })
            .collect();
        assert_eq!(got.attachments, want);
        let rt = t.route_tables.iter().find(|r| r.id == table).unwrap();
        assert!(rt.main);
        assert_eq!(
            (rt.vpc.as_deref(), rt.gateway.as_deref()),
            (None, Some(got.id.as_str()))
        );
        assert!(rt.subnets.is_empty());
        let routes: Vec<(String, RouteTarget)> = rt
            .routes
            .iter()
            .map(|r| (r.destination.to_string(), r.target.clone()))
            .collect();
        let want: Vec<(String, RouteTarget)> = strs(&g["blackholes"])
            .into_iter()
            .map(|d| (d, RouteTarget::Blackhole))
            .collect();
        assert_eq!(routes, want);
    }
    for g in s["vpn_gateways"].as_array().unwrap() {
        let got = t
            .gateways
            .iter()
            .find(|x| x.id == g["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(got.kind, GatewayKind::Vpn);
        assert_eq!(got.name, g["name"].as_str().unwrap());
        assert_eq!(got.vpc.as_deref(), g["vpc"].as_str());
    }
}

/// Each managed service: a host with its kind, engine, version, endpoint and port, subnets,
/// security groups and state as the APIs describe it.
fn check_services(t: &Topology, s: &Value) {
    for v in s["services"].as_array().unwrap() {
        let got = t.host(v["id"].as_str().unwrap()).unwrap();
        assert_eq!(got.name, v["name"].as_str().unwrap());
        let svc = got.service.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(svc.kind).unwrap(),
            v["kind"],
            "{}",
            got.name
        );
        assert_eq!(svc.engine.as_deref(), v["engine"].as_str(), "{}", got.name);
        assert_eq!(
            svc.version.as_deref(),
            v["version"].as_str(),
            "{}",
            got.name
        );
        assert_eq!(
            svc.endpoint.as_deref(),
            v["endpoint"].as_str(),
            "{}",
            got.name
        );
        assert_eq!(
            svc.port().map(u64::from),
            v["port"].as_u64(),
            "{}",
            got.name
        );
        let subnets = strs(&v["subnets"]);
        assert_eq!(got.subnet.as_ref(), subnets.first(), "{}", got.name);
        if subnets.len() > 1 {
            assert_eq!(got.subnets, subnets, "{}", got.name);
        } else {
            assert!(got.subnets.is_empty(), "{}", got.name);
        }
        assert_eq!(got.vpc.as_deref(), v["vpc"].as_str(), "{}", got.name);
        assert_eq!(
            got.security_groups,
            strs(&v["security_groups"]),
            "{}",
            got.name
        );
        assert_eq!(got.state.as_deref(), v["state"].as_str(), "{}", got.name);
        assert!(got.private_ips.is_empty());
        // Found by the name users type and by its endpoint.
        assert_eq!(t.find_host(&got.name).map(|h| &h.id), Some(&got.id));
        if let Some(e) = &svc.endpoint {
            assert_eq!(t.find_host(e).map(|h| &h.id), Some(&got.id));
        }
    }
}

#[test]
fn live_import_matches_the_seeded_topology() {
    if !moto::can_run("vpc_aws_moto::live_import_matches_the_seeded_topology") {
        return;
    }
    let moto = Moto::start(&[]);
    let m = moto.seed(PRIMARY, SECONDARY);
    let home = tempfile::tempdir().unwrap();
    let url = moto.url();
    let env_creds = [
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDGATEHOUSETEST"),
        ("AWS_SECRET_ACCESS_KEY", "gatehouse-test-secret"),
    ];

    // Environment credentials, two regions, 5 items a page: nine instances take two pages.
    let paged = json_of(&gatehouse(
        home.path(),
        &env_creds,
        &[
            "--json",
            "--region",
            PRIMARY,
            "--region",
            SECONDARY,
            "--page-size",
            "5",
        ],
    ));
    let t = topology_of(&paged);
    check(&t, &m, &[PRIMARY, SECONDARY]);
    assert_eq!(paged["credentials_source"], "environment");
    assert_eq!(paged["source"], "aws:default:eu-west-1,us-east-1");
    assert_eq!(paged["endpoints"][0]["ec2"], url.as_str());
    assert_eq!(paged["warnings"], serde_json::json!([]));

    // The same with the default page size: the same topology, one request less (the second
    // DescribeInstances page in the primary region), so NextToken was followed above.
    let whole = json_of(&gatehouse(
        home.path(),
        &env_creds,
        &["--json", "--region", &format!("{PRIMARY},{SECONDARY}")],
    ));
    assert_eq!(topology_of(&whole), t);
    let (a, b) = (
        paged["requests"].as_u64().unwrap(),
        whole["requests"].as_u64().unwrap(),
    );
    assert_eq!(a, b + 1, "paged {a} requests, whole {b}");
    // Per region: 8 EC2 calls, 2 ELBv2 calls, then one per load balancer and target group;
    // network ACLs, transit gateways, VPN gateways (3); RDS instances and clusters (2);
    // ElastiCache clusters and replication groups (2); EKS clusters (1). Where there are any:
    // transit gateway attachments (2) and route tables (1), routes per route table (1); DB and
    // cache subnet groups (1 + 1); one DescribeCluster per EKS cluster (1).
    let primary = 8 + 2 + 1 + 1 + 3 + 2 + 2 + 1 + 2 + 1 + 1 + 1 + 1 + 1;
    let secondary = 8 + 2 + 3 + 2 + 2 + 1;
    assert_eq!(b, primary + secondary);

    // The store holds the last good snapshot, 0600, equal to what was printed.
    let store = SnapshotStore::open(home.path().join("gatehouse/snapshots"));
    let snap = store
        .latest("aws:default:eu-west-1,us-east-1")
        .unwrap()
        .unwrap();
    assert_eq!(snap.topology, t);
    let file = Path::new(whole["snapshot_file"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A profile from AWS_SHARED_CREDENTIALS_FILE, its region and endpoints from AWS_CONFIG_FILE
    // (a `services` section), no AWS_ENDPOINT_URL and no key in the environment.
    let files = tempfile::tempdir().unwrap();
    let creds = files.path().join("creds");
    let config = files.path().join("conf");
    std::fs::write(
        &creds,
        "[seeded]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = from-file-secret\n",
    )
    .unwrap();
    let script = files.path().join("creds.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process-secret\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile seeded]\nregion = {SECONDARY}\nservices = moto\n\n[profile proc]\nregion = {PRIMARY}\nendpoint_url = {url}\ncredential_process = {}\n\n[services moto]\nec2 =\n  endpoint_url = {url}\nelastic_load_balancing_v2 =\n  endpoint_url = {url}\nrds =\n  endpoint_url = {url}\nelasticache =\n  endpoint_url = {url}\neks =\n  endpoint_url = {url}\n",
            script.display()
        ),
    )
    .unwrap();
    let file_env = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let v = json_of(&gatehouse(
        home.path(),
        &file_env,
        &["--json", "--profile", "seeded"],
    ));
    assert_eq!(v["credentials_source"], "profile seeded");
    assert_eq!(v["regions"], serde_json::json!([SECONDARY]));
    check(&topology_of(&v), &m, &[SECONDARY]);

    // credential_process, chosen through AWS_PROFILE.
    let mut env = file_env.to_vec();
    env.push(("AWS_PROFILE", "proc"));
    let v = json_of(&gatehouse(home.path(), &env, &["--json"]));
    assert_eq!(v["credentials_source"], "profile proc (credential_process)");
    check(&topology_of(&v), &m, &[PRIMARY]);

    // The text rendering names what was found.
    let out = gatehouse(home.path(), &env_creds, &["--region", PRIMARY, "--no-save"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gatehouse-prod 10.20.0.0/16 eu-west-1"),
        "{text}"
    );
    assert!(text.contains("load balancer prod-alb 80/http"), "{text}");
}

/// The first rule of a network ACL (lowest number) matching a packet in `dir`: TCP to `port`,
/// from (ingress) or to (egress) `peer`; `None` is the implicit `*` deny.
fn nacl_verdict(
    f: &gatehouse_vpc::model::Firewall,
    dir: Direction,
    peer: &str,
    port: u16,
) -> Option<(u32, Action)> {
    let ip: std::net::IpAddr = peer.parse().unwrap();
    let mut rules: Vec<&gatehouse_vpc::model::Rule> =
        f.rules.iter().filter(|r| r.direction == dir).collect();
    rules.sort_by_key(|r| r.priority);
    rules
        .into_iter()
        .find(|r| {
            r.covers(&Protocol::Tcp, Some(port))
                && r.peers
                    .iter()
                    .any(|p| matches!(p, Peer::Cidr(c) if c.contains(&ip)))
        })
        .map(|r| (r.priority, r.action))
}

/// The network ACL deny, as `gatehouse reach` needs it from the imported topology: SSH from
/// the VPN (10.8.0.5, routed) to web-1 in the private subnet is denied inbound by rule 100 of
/// private-acl (`nacl-denies-in`); PostgreSQL from the bastion (10.20.1.10, the public subnet:
/// the VPN host masquerading) to db passes the security group and rule 200 inbound, but the
/// reply to the bastion's ephemeral port is denied outbound by rule 100 (`nacl-denies-reply`).
///
/// Then `gatehouse reach` itself, on the snapshot saved here, with a profile whose VPN host is
/// the bastion: `web-1:22 --routed` says `nacl-denies-in`, `db:5432 --nat` `nacl-denies-reply`.
#[test]
fn network_acl_denies_are_imported_for_reach() {
    if !moto::can_run("vpc_aws_moto::network_acl_denies_are_imported_for_reach") {
        return;
    }
    let moto = Moto::start(&[]);
    let m = moto.seed(PRIMARY, SECONDARY);
    let home = tempfile::tempdir().unwrap();
    let url = moto.url();
    let v = json_of(&gatehouse(
        home.path(),
        &[
            ("AWS_ENDPOINT_URL", url.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIDGATEHOUSETEST"),
            ("AWS_SECRET_ACCESS_KEY", "gatehouse-test-secret"),
        ],
        &["--json", "--region", PRIMARY],
    ));
    // What reach reads: the saved snapshot.
    let snap = Snapshot::load(Path::new(v["snapshot_file"].as_str().unwrap())).unwrap();
    let t = snap.topology;
    let s = &m[PRIMARY];
    let subnet = |name: &str| {
        s["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let acl_of = |subnet: &str| {
        let all: Vec<&gatehouse_vpc::model::Firewall> = t
            .firewalls
            .iter()
            .filter(|f| {
                f.kind == FirewallKind::NetworkAcl
                    && matches!(&f.applies_to, AppliesTo::Subnets { ids } if ids.iter().any(|i| i == subnet))
            })
            .collect();
        assert_eq!(all.len(), 1, "one network ACL per subnet: {all:?}");
        all[0]
    };
    let private = acl_of(&subnet("private-b"));
    assert_eq!(private.name, "private-acl");
    let web1 = t.find_host("web-1").unwrap();
    assert_eq!(web1.subnet.as_deref(), Some(subnet("private-b").as_str()));
    let db = t.find_host("db").unwrap();
    assert_eq!(db.subnet, web1.subnet);

    use Direction::{Egress, Ingress};
    // SSH from the VPN, routed: denied on the way in.
    assert_eq!(
        nacl_verdict(private, Ingress, "10.8.0.5", 22),
        Some((100, Action::Deny))
    );
    // PostgreSQL from the bastion: in, allowed; the reply to its ephemeral port, denied.
    assert_eq!(
        nacl_verdict(private, Ingress, "10.20.1.10", 5432),
        Some((200, Action::Allow))
    );
    assert_eq!(
        nacl_verdict(private, Egress, "10.20.1.10", 49152),
        Some((100, Action::Deny))
    );
    // Replies to the VPN itself are not denied.
    assert_eq!(
        nacl_verdict(private, Egress, "10.8.0.5", 49152),
        Some((200, Action::Allow))
    );
    // The public subnet keeps the VPC's default ACL: allow all both ways.
    let public = acl_of(&subnet("public-a"));
    assert_ne!(public.id, private.id);
    assert_eq!(
        nacl_verdict(public, Ingress, "10.20.2.50", 49152),
        Some((100, Action::Allow))
    );
    assert_eq!(
        nacl_verdict(public, Egress, "10.20.2.50", 5432),
        Some((100, Action::Allow))
    );
    // The security groups let both through (so the ACL is what blocks): web allows 22 from the
    // VPN, db allows 5432 from web's members, the bastion among them.
    let bastion = t.find_host("bastion").unwrap();
    let sg_web = s["security_groups"]["web"].as_str().unwrap();
    assert_eq!(bastion.security_groups, [sg_web]);
    assert!(db
        .security_groups
        .iter()
        .any(|g| t
            .firewall(g)
            .unwrap()
            .rules
            .iter()
            .any(|r| r.direction == Ingress
                && r.covers(&Protocol::Tcp, Some(5432))
                && r.peers.contains(&Peer::Group(sg_web.into())))));

    // And what `gatehouse reach` says about both, in both directions.
    let conf = home.path().join("vpn.conf");
    std::fs::write(
        &conf,
        "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
         Address = 10.8.0.5/32\n\n[Peer]\n\
         PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n\
         AllowedIPs = 10.20.0.0/16\nEndpoint = 198.51.100.7:51820\n",
    )
    .unwrap();
    let reach = |target: &str, mode: &str| -> Value {
        let out = Command::new(gatehouse_bin())
            .args(["reach", target, "--state"])
            .arg(v["snapshot_file"].as_str().unwrap())
            .arg("--conf")
            .arg(&conf)
            .args(["--vpn-host", "bastion", mode, "--json", "--no-probes"])
            .env("HOME", home.path())
            .env("GATEHOUSE_CONFIG_DIR", home.path().join("gatehouse"))
            .output()
            .unwrap();
        let all = json_of(&out);
        all[0].clone()
    };
    let codes = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let ssh = reach("web-1:22", "--routed");
    assert_eq!(ssh["status"], "blocked", "{ssh}");
    let finding = |v: &Value, code: &str| -> String {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {v}"))["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // (Routed, the bastion's return route and source/dest check are findings too.)
    let why = finding(&ssh, "nacl-denies-in");
    assert!(why.contains("private-acl rule 100 denies tcp/22"), "{why}");
    let pg = reach("db:5432", "--nat");
    assert_eq!(pg["status"], "blocked", "{pg}");
    assert!(!codes(&pg).contains(&"nacl-denies-in".to_string()), "{pg}");
    let why = finding(&pg, "nacl-denies-reply");
    assert!(why.contains("private-acl rule 100"), "{why}");
    assert!(
        pg["sentence"].as_str().unwrap().contains("private-acl"),
        "{pg}"
    );
}

#[test]
fn signatures_pass_moto_auth_and_a_403_keeps_the_snapshot() {
    if !moto::can_run("vpc_aws_moto::signatures_pass_moto_auth_and_a_403_keeps_the_snapshot") {
        return;
    }
    // moto checks every request's SigV4 signature and IAM policy after the first five (the
    // users, keys and policy below).
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "5")]);
    let keys = moto.python(&[
        "-c",
        &format!(
            r#"
import boto3, json
iam = boto3.client("iam", region_name="us-east-1", endpoint_url="{}", aws_access_key_id="x", aws_secret_access_key="y")
out = {{}}
for user in ["reader", "nobody"]:
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    out[user] = [k["AccessKeyId"], k["SecretAccessKey"]]
iam.put_user_policy(UserName="reader", PolicyName="describe", PolicyDocument=json.dumps({{
    "Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Action": ["ec2:Describe*", "elasticloadbalancing:Describe*"], "Resource": "*"}}]}}))
print(json.dumps(out))
"#,
            moto.url()
        ),
    ]);
    let keys: Value = serde_json::from_slice(&keys.stdout).unwrap();
    let key = |u: &str, i: usize| keys[u][i].as_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let url = moto.url();
    let run = |user: &str, secret: &str| {
        gatehouse(
            home.path(),
            &[
                ("AWS_ENDPOINT_URL", url.as_str()),
                ("AWS_ACCESS_KEY_ID", key(user, 0).as_str()),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_REGION", PRIMARY),
            ],
            &["--json"],
        )
    };

    // Signed by the reader: accepted; the region holds moto's default VPC only (and its default
    // network ACL). The reader may not call RDS, ElastiCache or EKS: a warning naming each
    // call refused, the rest imported.
    let v = json_of(&run("reader", &key("reader", 1)));
    let t = topology_of(&v);
    assert_eq!(t.vpcs.len(), 1);
    assert_eq!(t.vpcs[0].cidrs[0].to_string(), "172.31.0.0/16");
    assert_eq!(
        t.firewalls.len(),
        2,
        "the default security group and network ACL"
    );
    let warnings = strs(&v["warnings"]);
    let refused: Vec<&str> = warnings
        .iter()
        .map(|w| w.split(" in eu-west-1: ").next().unwrap())
        .collect();
    assert_eq!(
        refused,
        [
            "RDS DescribeDBInstances",
            "RDS DescribeDBClusters",
            "ElastiCache DescribeCacheClusters",
            "ElastiCache DescribeReplicationGroups",
            "EKS ListClusters",
        ],
        "{warnings:?}"
    );
    for w in &warnings {
        assert!(w.contains(": HTTP 403 "), "{w}");
        assert!(w.ends_with(" not imported"), "{w}");
    }
    assert!(
        warnings[0].contains("not authorized to perform: rds:DescribeDBInstances"),
        "{warnings:?}"
    );
    let store = SnapshotStore::open(home.path().join("gatehouse/snapshots"));
    let file = store.path("aws:default:eu-west-1").unwrap();
    let before = std::fs::read(&file).unwrap();

    // A user without the permission: 403, said plainly, exit 1, the snapshot untouched.
    let out = run("nobody", &key("nobody", 1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("EC2 DescribeVpcs in eu-west-1: HTTP 403 AccessDenied"),
        "{err}"
    );
    assert!(
        err.contains("not authorized to perform: ec2:DescribeVpcs"),
        "{err}"
    );
    assert!(
        err.contains("the previous snapshot of aws:default:eu-west-1"),
        "{err}"
    );
    assert!(!err.contains(&key("nobody", 1)), "the secret leaked: {err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // A wrong secret: the signature does not verify.
    let out = run("reader", "not-the-secret");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("HTTP 401 AuthFailure"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

/// A local HTTP server answering every request with `status` and `body`, or never answering
/// when `hang` is set. Only for the error cases: the good path is moto.
fn bad_server(status: u16, body: &'static str, hang: bool) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            if stop2.load(Ordering::Relaxed) {
                return;
            }
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 65536];
                let _ = conn.read(&mut buf);
                if hang {
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 {status} Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            });
        }
    });
    (url, stop)
}

#[test]
fn server_errors_and_timeouts_keep_the_previous_snapshot() {
    if !gatehouse_e2e::can_run(
        "vpc_aws_moto::server_errors_and_timeouts_keep_the_previous_snapshot",
        false,
        &[],
    ) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(home.path().join("gatehouse/snapshots"));
    let source = "aws:default:eu-west-1";
    let file = store
        .save(&Snapshot::at(1_795_666_662, source, Topology::default()))
        .unwrap();
    let before = std::fs::read(&file).unwrap();
    let env = |url: &str| {
        vec![
            ("AWS_ENDPOINT_URL", url.to_string()),
            ("AWS_ACCESS_KEY_ID", "AKIDERRORTEST".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "error-test-secret".to_string()),
            ("AWS_DEFAULT_REGION", PRIMARY.to_string()),
        ]
    };
    let run = |url: &str, extra: &[&str]| {
        let e = env(url);
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        gatehouse(home.path(), &e, extra)
    };

    let (url, _s) = bad_server(
        500,
        "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>r</RequestID></Response>",
        false,
    );
    let out = run(&url, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "EC2 DescribeVpcs in eu-west-1: HTTP 500 InternalError: An internal error has occurred"
        ),
        "{err}"
    );
    assert!(err.contains("(2026-11-26T04:17:42Z) is kept in"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    let (url, _s) = bad_server(0, "", true);
    let start = Instant::now();
    let out = run(&url, &["--timeout", "2"]);
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("EC2 DescribeVpcs in eu-west-1: timed out"),
        "{err}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    assert!(
        !err.contains("error-test-secret"),
        "the secret leaked: {err}"
    );
    let listed: Vec<_> = std::fs::read_dir(store.dir()).unwrap().collect();
    assert_eq!(listed.len(), 1, "no temporary file left");
}

/// `gatehouse vpc drift STATE --aws` against moto: a state that knows the secondary region's VPC,
/// subnet and instance (with an older address) and one instance AWS no longer has.
#[test]
fn drift_of_a_state_against_the_live_api() {
    if !moto::can_run("vpc_aws_moto::drift_of_a_state_against_the_live_api") {
        return;
    }
    let moto = Moto::start(&[]);
    let m = moto.seed(PRIMARY, SECONDARY);
    let dr = &m[SECONDARY];
    let (vpc, subnet, host) = (
        dr["vpcs"][0]["id"].as_str().unwrap(),
        dr["subnets"][0]["id"].as_str().unwrap(),
        dr["hosts"][0]["id"].as_str().unwrap(),
    );
    let state = format!(
        r#"{{"version":4,"terraform_version":"1.9.8","serial":1,"lineage":"x","outputs":{{}},"resources":[
 {{"mode":"managed","type":"aws_vpc","name":"dr","instances":[{{"attributes":{{"id":"{vpc}","arn":"arn:aws:ec2:{SECONDARY}:123456789012:vpc/{vpc}","cidr_block":"10.30.0.0/16","tags":{{"Name":"gatehouse-dr"}}}}}}]}},
 {{"mode":"managed","type":"aws_subnet","name":"dr","instances":[{{"attributes":{{"id":"{subnet}","vpc_id":"{vpc}","cidr_block":"10.30.1.0/24","availability_zone":"{SECONDARY}a","tags":{{"Name":"dr-a"}}}}}}]}},
 {{"mode":"managed","type":"aws_instance","name":"i","instances":[
   {{"index_key":"standby","attributes":{{"id":"{host}","subnet_id":"{subnet}","private_ip":"10.30.1.99","instance_state":"running","tags":{{"Name":"dr-standby"}}}}}},
   {{"index_key":"retired","attributes":{{"id":"i-0000000000gone","subnet_id":"{subnet}","private_ip":"10.30.1.6","instance_state":"running","tags":{{"Name":"retired"}}}}}}]}}
]}}"#
    );
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("dr.tfstate");
    std::fs::write(&path, state).unwrap();
    let url = moto.url();
    let mut cmd = Command::new(gatehouse_bin());
    cmd.args(["vpc", "drift", path.to_str().unwrap(), "--aws"])
        .args(["--region", SECONDARY, "--json"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("HOME", home.path())
        .env("GATEHOUSE_CONFIG_DIR", home.path().join("gatehouse"))
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "AKIDGATEHOUSETEST")
        .env("AWS_SECRET_ACCESS_KEY", "gatehouse-test-secret")
        .output()
        .expect("run gatehouse");
    let v = json_of(&out);
    assert_eq!(v["provider"], "aws", "{v}");
    assert_eq!(v["in_sync"], false, "{v}");
    let d = &v["drift"];
    let ids = |key: &str| -> BTreeSet<String> {
        d[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // The retired instance is gone from AWS; the standby's address changed.
    assert_eq!(ids("removed"), set(["i-0000000000gone".to_string()]), "{d}");
    let changed: Vec<&Value> = d["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["object"]["id"] == host)
        .collect();
    assert_eq!(changed.len(), 1, "{d}");
    let fields = changed[0]["fields"].to_string();
    assert!(
        fields.contains("private_ips")
            && fields.contains("10.30.1.99")
            && fields.contains("10.30.1.5"),
        "{fields}"
    );
    // What the state never held (the default VPC and its subnets) is reported as added; the
    // VPC and subnet the state holds are in step.
    let added = ids("added");
    assert!(!added.contains(vpc) && !added.contains(subnet), "{d}");
    let default_vpc = dr["implicit"]["vpcs"][0]["id"].as_str().unwrap();
    assert!(added.contains(default_vpc), "{d}");
}
