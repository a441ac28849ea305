//! `gatehouse scan --demo --json`, no root: the demo lab and the userspace stack in the scan's
//! own process. Every kind of lab service is fingerprinted as what it is (HTTP with status and
//! title, TLS, SSH, Redis, PostgreSQL, MySQL), the replica that `sg-replica` blocks does not
//! answer, and the reachability verdicts take the probes in.
//!
//! Needs a built `gatehouse` (`cargo build -p gatehouse-cli`, or `GATEHOUSE_BIN`); without it
//! the test prints a skip notice and passes, unless `GATEHOUSE_E2E_REQUIRE=1`.

use std::process::Command;

use gatehouse_e2e::{can_run, gatehouse_bin};
use serde_json::Value;

fn scan(args: &[&str]) -> Value {
    let out = Command::new("timeout")
        .arg("120")
        .arg(gatehouse_bin())
        .arg("scan")
        .args(args)
        .output()
        .expect("run gatehouse scan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gatehouse scan {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The result for `ip:port`.
fn result<'a>(v: &'a Value, ip: &str, port: u16) -> &'a Value {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ip"] == ip && r["port"] == port)
        .unwrap_or_else(|| panic!("no result for {ip}:{port}"))
}

fn fingerprint<'a>(v: &'a Value, ip: &str, port: u16) -> &'a Value {
    let r = result(v, ip, port);
    assert_eq!(r["outcome"]["state"], "open", "{ip}:{port}: {r}");
    &r["outcome"]["fingerprint"]
}

#[test]
fn scan_demo_fingerprints_every_lab_service() {
    if !can_run("probe_lab", false, &["timeout"]) {
        return;
    }
    let v = scan(&["--demo", "--json", "--timeout", "1500"]);
    assert_eq!(v["path"], "demo");
    assert!(v["peak_in_flight"].as_u64().unwrap_or(0) >= 1);

    // HTTP: status and title, on the home LAN and in the VPC, through the load balancer too.
    let f = fingerprint(&v, "192.168.1.1", 80);
    assert_eq!(f["kind"], "http");
    assert_eq!(f["status"], 200);
    assert_eq!(f["title"], "Home router - admin");
    let f = fingerprint(&v, "192.168.1.20", 8080);
    assert_eq!(f["title"], "Raspberry Pi - home dashboard");
    assert_eq!(
        fingerprint(&v, "192.168.1.30", 5000)["title"],
        "NAS - file station"
    );
    for (ip, title) in [("10.20.1.11", "web-1"), ("10.20.1.12", "web-2")] {
        let f = fingerprint(&v, ip, 80);
        assert_eq!(f["kind"], "http");
        assert!(f["title"].as_str().unwrap_or("").contains(title), "{f}");
    }
    assert_eq!(fingerprint(&v, "10.20.0.10", 80)["status"], 200);

    // TLS on the router's 443 (rustls: TLS 1.3).
    let f = fingerprint(&v, "192.168.1.1", 443);
    assert_eq!(f["kind"], "tls", "{f}");
    assert_eq!(f["version"], "TLS 1.3");

    // SSH on the pi.
    let f = fingerprint(&v, "192.168.1.20", 22);
    assert_eq!(f["kind"], "ssh");
    assert!(
        f["banner"].as_str().unwrap_or("").starts_with("SSH-2.0-"),
        "{f}"
    );

    // Redis, PostgreSQL, MySQL.
    let f = fingerprint(&v, "10.20.1.20", 6379);
    assert_eq!(f["kind"], "redis");
    assert_eq!(f["auth_required"], false);
    let f = fingerprint(&v, "10.20.2.30", 5432);
    assert_eq!(f["kind"], "postgres");
    assert_eq!(f["ssl"], false);
    let f = fingerprint(&v, "192.168.1.30", 3306);
    assert_eq!(f["kind"], "mysql");
    assert!(
        f["version"].as_str().unwrap_or("").starts_with("8.0"),
        "{f}"
    );

    // SMB accepts and says nothing.
    assert_eq!(fingerprint(&v, "192.168.1.30", 445)["kind"], "silent");

    // The replica: sg-replica drops the SYN, nothing answers; its verdict stays blocked and
    // says why; the primary is reachable with the probe's word.
    let r = result(&v, "10.20.2.31", 5432);
    assert_eq!(r["outcome"]["state"], "timeout", "{r}");
    assert_eq!(r["name"], "db-replica");
    let verdicts = v["verdicts"]
        .as_array()
        .expect("verdicts with the lab topology");
    let verdict = |name: &str| {
        verdicts
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no verdict for {name}"))
    };
    let rep = verdict("db-replica");
    assert_eq!(rep["status"], "blocked");
    let codes: Vec<&str> = rep["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"no-rule-admits"), "{codes:?}");
    assert!(codes.contains(&"probe-closed"), "{codes:?}");
    let db = verdict("db");
    assert_eq!(db["status"], "reachable");
    assert!(db["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["code"] == "probe-open"));

    // Guessed ports that reset are counted, and every result is one of the known states.
    for r in v["results"].as_array().expect("results") {
        let state = r["outcome"]["state"].as_str().unwrap_or("");
        assert!(
            ["open", "refused", "timeout"].contains(&state),
            "unexpected {r}"
        );
    }
}

#[test]
fn scan_explicit_targets_ports_and_errors() {
    if !can_run("probe_lab", false, &["timeout"]) {
        return;
    }
    // A name from the lab topology, an address with a port, a port list on an address.
    let v = scan(&[
        "--demo",
        "--json",
        "--timeout",
        "800",
        "cache:6379",
        "192.168.1.1:443",
        "192.168.1.20",
        "--ports",
        "22,8080,9",
    ]);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 5, "{results:#?}");
    assert_eq!(fingerprint(&v, "10.20.1.20", 6379)["kind"], "redis");
    assert_eq!(result(&v, "10.20.1.20", 6379)["name"], "cache");
    assert_eq!(fingerprint(&v, "192.168.1.1", 443)["kind"], "tls");
    assert_eq!(fingerprint(&v, "192.168.1.20", 22)["kind"], "ssh");
    assert_eq!(result(&v, "192.168.1.20", 9)["outcome"]["state"], "refused");

    // Bad input names what is wrong and probes nothing.
    for (args, needle) in [
        (vec!["--demo", "10.0.0.0/16"], "a /22"),
        (vec!["--demo", "10.0.0.1", "--ports", "9-3"], "port"),
        (vec!["10.0.0.1:0"], "port"),
    ] {
        let out = Command::new(gatehouse_bin())
            .arg("scan")
            .args(&args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
