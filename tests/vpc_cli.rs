//! `gatehouse vpc import|diff|layout` and `gatehouse reach` end to end: the real binary on the
//! shared Terraform corpus and on a small state written here.

use std::path::{Path, PathBuf};
use std::process::Output;

use gatehouse_e2e::keyring::gatehouse_bin;
use serde_json::Value;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/tfstate"
    ))
    .join(name)
}

fn run(args: &[&str]) -> Output {
    std::process::Command::new(gatehouse_bin())
        .args(args)
        .env_remove("GATEHOUSE_TOPOLOGY")
        .output()
        .expect("gatehouse runs")
}

fn ok_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn stderr_of_failure(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn import_prints_the_topology_as_json_and_text() {
    let file = corpus("02-aws-three-tier-alb-asg-rds.tfstate");
    let v = ok_json(&["vpc", "import", file.to_str().unwrap(), "--json"]);
    assert_eq!(v["topology"]["vpcs"].as_array().unwrap().len(), 2);
    assert_eq!(v["topology"]["subnets"].as_array().unwrap().len(), 16);
    // Four instances, two auto scaling groups, two RDS databases.
    let hosts = v["topology"]["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 8);
    assert_eq!(hosts.iter().filter(|h| h["service"].is_object()).count(), 2);
    assert_eq!(v["report"]["format"], "state_v4");
    assert_eq!(v["report"]["skipped"]["aws_route53_record"], 6);

    let out = run(&[
        "vpc",
        "import",
        corpus("09-do-vpc-droplet-firewall.tfstate")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 VPCs, 0 subnets, 1 hosts"), "{text}");
    assert!(
        text.contains("host fheet-droplet-0001 10.10.10.2 public 104.131.51.229"),
        "{text}"
    );
}

#[test]
fn import_errors_are_clear() {
    let err = stderr_of_failure(&[
        "vpc",
        "import",
        corpus("06-aws-v3-elb-classic-ecs-instances.tfstate")
            .to_str()
            .unwrap(),
    ]);
    assert!(err.contains("format version 3"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.tfstate");
    let text = std::fs::read_to_string(corpus("03-aws-vpc-six-subnets-igw.tfstate")).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let err = stderr_of_failure(&["vpc", "import", cut.to_str().unwrap()]);
    assert!(
        err.contains("cut.tfstate:") && err.contains("truncated"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A VPC like the demo lab's: vpn-gw forwards 10.100.0.0/24, db admits 5432 from the VPN pool,
/// db-replica only from sg-app.
const STATE: &str = r#"{"version":4,"terraform_version":"1.9.8","serial":1,"lineage":"x","outputs":{},"resources":[
 {"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-1","arn":"arn:aws:ec2:eu-west-1:1:vpc/vpc-1","cidr_block":"10.20.0.0/16","tags":{"Name":"lab"}}}]},
 {"mode":"managed","type":"aws_subnet","name":"s","instances":[
   {"index_key":0,"attributes":{"id":"subnet-pub","vpc_id":"vpc-1","cidr_block":"10.20.0.0/24","tags":{"Name":"public"}}},
   {"index_key":1,"attributes":{"id":"subnet-data","vpc_id":"vpc-1","cidr_block":"10.20.2.0/24","tags":{"Name":"data"}}}]},
 {"mode":"managed","type":"aws_route_table","name":"rt","instances":[{"attributes":{"id":"rtb-1","vpc_id":"vpc-1","route":[{"cidr_block":"10.100.0.0/24","network_interface_id":"eni-vpn"}]}}]},
 {"mode":"managed","type":"aws_route_table_association","name":"a","instances":[{"attributes":{"route_table_id":"rtb-1","subnet_id":"subnet-data"}}]},
 {"mode":"managed","type":"aws_security_group","name":"sg","instances":[
   {"index_key":"app","attributes":{"id":"sg-app","name":"sg-app","vpc_id":"vpc-1","ingress":[],"egress":[]}},
   {"index_key":"vpn","attributes":{"id":"sg-vpn","name":"sg-vpn","vpc_id":"vpc-1","ingress":[],"egress":[{"cidr_blocks":["0.0.0.0/0"],"from_port":0,"to_port":0,"protocol":"-1"}]}},
   {"index_key":"db","attributes":{"id":"sg-db","name":"sg-db","vpc_id":"vpc-1","ingress":[{"cidr_blocks":["10.100.0.0/24"],"from_port":5432,"to_port":5432,"protocol":"tcp"}],"egress":[]}},
   {"index_key":"replica","attributes":{"id":"sg-replica","name":"sg-replica","vpc_id":"vpc-1","ingress":[{"security_groups":["sg-app"],"from_port":5432,"to_port":5432,"protocol":"tcp"}],"egress":[]}}]},
 {"mode":"managed","type":"aws_instance","name":"i","instances":[
   {"index_key":"vpn","attributes":{"id":"i-vpn","subnet_id":"subnet-pub","private_ip":"10.20.0.5","public_ip":"203.0.113.10","source_dest_check":false,"instance_state":"running","primary_network_interface_id":"eni-vpn","vpc_security_group_ids":["sg-vpn"],"tags":{"Name":"vpn-gw"}}},
   {"index_key":"db","attributes":{"id":"i-db","subnet_id":"subnet-data","private_ip":"10.20.2.30","instance_state":"running","vpc_security_group_ids":["sg-db"],"tags":{"Name":"db"}}},
   {"index_key":"replica","attributes":{"id":"i-replica","subnet_id":"subnet-data","private_ip":"10.20.2.31","instance_state":"running","vpc_security_group_ids":["sg-replica"],"tags":{"Name":"db-replica"}}}]}
]}"#;

const CONF: &str = "[Interface]\nPrivateKey = oK56DE9Ue9zK76rAc8pBl6opph+1v36lm7cXXsQKrQM=\nAddress = 10.100.0.2/32\n\n\
[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.20.0.0/16\nEndpoint = 203.0.113.10:51820\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn reach_explains_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let state = write(dir.path(), "lab.tfstate", STATE);
    let conf = write(dir.path(), "lab.conf", CONF);

    let v = ok_json(&[
        "reach",
        "db-replica:5432",
        "--state",
        &state,
        "--conf",
        &conf,
        "--json",
    ]);
    let v = &v[0];
    assert_eq!(v["status"], "blocked", "{v}");
    assert_eq!(
        v["sentence"],
        "db-replica:5432 is blocked: sg-replica admits 5432 only from sg-app, and your traffic \
         arrives from 10.100.0.2 (your tunnel address)"
    );

    let v = ok_json(&[
        "reach",
        "10.20.2.30:5432",
        "--state",
        &state,
        "--conf",
        &conf,
        "--json",
    ]);
    assert_eq!(v[0]["status"], "reachable", "{v}");
    let codes: Vec<&str> = v[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["tunnel-peer", "return-route", "rule-admits"]);

    // Every host and the ports its rules name.
    let all = ok_json(&["reach", "--state", &state, "--conf", &conf, "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");

    // Text output: one line per verdict with its codes.
    let out = run(&["reach", "db", "--state", &state, "--conf", &conf]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("ok ") && text.contains("[tunnel-peer return-route rule-admits]"),
        "{text}"
    );

    // Without a profile the tunnel is not checked.
    let v = ok_json(&["reach", "db:5432", "--state", &state, "--json"]);
    assert_eq!(v[0]["findings"][0]["code"], "no-profile");

    let err = stderr_of_failure(&["reach", "db:x", "--state", &state]);
    assert!(err.contains("bad port"), "{err}");
}

#[test]
fn snapshots_diff_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let state = write(dir.path(), "lab.tfstate", STATE);
    let snap = dir.path().join("snap.json");
    let out = run(&["vpc", "import", &state, "--save", snap.to_str().unwrap()]);
    assert!(out.status.success());
    let saved: Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    assert!(saved["taken_at"].as_str().unwrap().ends_with('Z'));

    // The replica is gone and db's group opens 6432 too.
    let changed = STATE
        .replace(
            r#"{"cidr_blocks":["10.100.0.0/24"],"from_port":5432,"to_port":5432,"protocol":"tcp"}"#,
            r#"{"cidr_blocks":["10.100.0.0/24"],"from_port":5432,"to_port":5432,"protocol":"tcp"},{"cidr_blocks":["10.100.0.0/24"],"from_port":6432,"to_port":6432,"protocol":"tcp"}"#,
        )
        .replace(r#""instance_state":"running","vpc_security_group_ids":["sg-replica"]"#, r#""instance_state":"stopped","vpc_security_group_ids":["sg-replica"]"#);
    let newer = write(dir.path(), "newer.tfstate", &changed);
    let d = ok_json(&["vpc", "diff", snap.to_str().unwrap(), &newer, "--json"]);
    assert_eq!(d["changed"][0]["object"]["name"], "db-replica", "{d}");
    assert_eq!(d["rules"][0]["added"][0]["ports"]["from"], 6432, "{d}");
    let out = run(&["vpc", "diff", &state, &state]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no changes");

    let l = ok_json(&["vpc", "layout", &state]);
    let hosts = l["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "host")
        .count();
    assert_eq!(hosts, 3);
}

#[test]
fn every_vpc_command_prints_json_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let state = write(dir.path(), "lab.tfstate", STATE);
    let snap = dir.path().join("snap.json");
    let v = ok_json(&[
        "vpc",
        "import",
        &state,
        "--save",
        snap.to_str().unwrap(),
        "--json",
    ]);
    assert!(v["topology"]["hosts"].is_array(), "{v}");
    assert!(snap.is_file());
    let snap = snap.to_str().unwrap();

    let d = ok_json(&["vpc", "diff", &state, snap, "--json"]);
    assert_eq!(d["added"], serde_json::json!([]), "{d}");

    // layout: JSON with or without --json, the same document.
    let a = ok_json(&["vpc", "layout", &state, "--json"]);
    assert_eq!(a, ok_json(&["vpc", "layout", &state]));
    assert!(a["nodes"].as_array().is_some_and(|n| !n.is_empty()), "{a}");

    // drift of the state against a snapshot of itself: in sync, in JSON and in text.
    let d = ok_json(&["vpc", "drift", &state, "--snapshot", snap, "--json"]);
    assert_eq!(d["in_sync"], true, "{d}");
    assert_eq!(d["provider"], "aws", "{d}");
    assert!(d["compared_only_when_both_know"].is_array());
    let out = run(&["vpc", "drift", &state, "--snapshot", snap]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("none: the state matches"));
    // A changed state drifts from the snapshot.
    let changed = STATE.replace(
        r#""instance_state":"running","vpc_security_group_ids":["sg-replica"]"#,
        r#""instance_state":"stopped","vpc_security_group_ids":["sg-replica"]"#,
    );
    let newer = write(dir.path(), "newer.tfstate", &changed);
    let d = ok_json(&["vpc", "drift", &newer, "--snapshot", snap, "--json"]);
    assert_eq!(d["in_sync"], false, "{d}");
    assert_eq!(
        d["drift"]["changed"][0]["fields"][0]["field"], "state",
        "{d}"
    );
    // Neither --digitalocean nor --snapshot: a usage error.
    let err = stderr_of_failure(&["vpc", "drift", &state, "--json"]);
    assert!(
        err.contains("--digitalocean") || err.contains("--snapshot"),
        "{err}"
    );

    // reach
    let r = ok_json(&["reach", "--state", &state, "--json"]);
    assert!(r.as_array().is_some_and(|a| !a.is_empty()), "{r}");

    // digitalocean --json: the live JSON is covered by tests/vpc_digitalocean.rs (it needs a
    // Secret Service); here, a refused URL fails before the keyring and prints no half JSON.
    let out = run(&[
        "vpc",
        "digitalocean",
        "--json",
        "--no-save",
        "--api-url",
        "http://192.0.2.1:8080",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("clear text"));
}

/// A VPC on loopback: one host, 127.0.0.1, whose security group admits every TCP port.
const LOOPBACK_STATE: &str = r#"{"version":4,"terraform_version":"1.9.8","serial":1,"lineage":"x","outputs":{},"resources":[
 {"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-lo","cidr_block":"127.0.0.0/8","tags":{"Name":"loopback"}}}]},
 {"mode":"managed","type":"aws_subnet","name":"s","instances":[{"attributes":{"id":"subnet-lo","vpc_id":"vpc-lo","cidr_block":"127.0.0.0/24","tags":{"Name":"lo"}}}]},
 {"mode":"managed","type":"aws_security_group","name":"sg","instances":[{"attributes":{"id":"sg-all","name":"sg-all","vpc_id":"vpc-lo","ingress":[{"cidr_blocks":["0.0.0.0/0"],"from_port":1,"to_port":65535,"protocol":"tcp"}],"egress":[]}}]},
 {"mode":"managed","type":"aws_instance","name":"i","instances":[{"attributes":{"id":"i-lo","subnet_id":"subnet-lo","private_ip":"127.0.0.1","instance_state":"running","vpc_security_group_ids":["sg-all"],"tags":{"Name":"local"}}}]}
]}"#;

#[test]
fn scan_results_are_reachs_last_probe() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let state = write(dir.path(), "lo.tfstate", LOOPBACK_STATE);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gh = |args: &[&str]| {
        let out = std::process::Command::new(gatehouse_bin())
            .args(args)
            .env("GATEHOUSE_CONFIG_DIR", &config)
            .env_remove("GATEHOUSE_TOPOLOGY")
            .output()
            .expect("gatehouse runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON on stdout")
    };
    let codes = |v: &Value| -> Vec<String> {
        v[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let (open_t, closed_t) = (format!("local:{open}"), format!("local:{closed}"));

    // Before any scan: the rules alone, no probe.
    let before = gh(&["reach", &closed_t, "--state", &state, "--json"]);
    assert!(
        !codes(&before).iter().any(|c| c.starts_with("probe-")),
        "{before}"
    );

    // A scan over the OS's sockets keeps its results for reach.
    let targets = [format!("127.0.0.1:{open}"), format!("127.0.0.1:{closed}")];
    let scan = gh(&[
        "scan",
        &targets[0],
        &targets[1],
        "--timeout",
        "500",
        "--json",
    ]);
    assert_eq!(scan["path"], "os", "{scan}");
    assert!(config.join("snapshots/last-probes.json").exists());

    let v = gh(&["reach", &open_t, "--state", &state, "--json"]);
    assert!(codes(&v).contains(&"probe-open".to_string()), "{v}");
    assert_eq!(v[0]["status"], "reachable", "{v}");
    let v = gh(&["reach", &closed_t, "--state", &state, "--json"]);
    assert!(codes(&v).contains(&"probe-closed".to_string()), "{v}");
    assert_eq!(v[0]["status"], "blocked", "{v}");

    // --no-probes leaves them out again.
    let v = gh(&[
        "reach",
        &closed_t,
        "--state",
        &state,
        "--no-probes",
        "--json",
    ]);
    assert_eq!(codes(&v), codes(&before), "{v}");
    drop(listener);
}
