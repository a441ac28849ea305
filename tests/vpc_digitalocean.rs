//! `gatehouse vpc digitalocean` and `gatehouse vpc drift --digitalocean` end to end: the real
//! binary against a local HTTP server (127.0.0.1, in this test) that serves the DigitalOcean API
//! examples of `../shared/corpus/digitalocean/` split into pages, with a 429 (Retry-After) and a
//! 500 on the way; the token goes through a real Secret Service.
//!
//! Run under `scripts/with-keyring.sh` after `cargo build -p gatehouse-cli`:
//!
//! ```text
//! scripts/with-keyring.sh cargo test -p gatehouse-e2e --test vpc_digitalocean
//! ```
//!
//! Without a session bus it skips, or fails with `GATEHOUSE_E2E_REQUIRE=1`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_e2e::keyring::{secret_service_available, secret_tool_lookup, Gatehouse, Run};
use serde_json::{json, Value};

const TOKEN: &str = "dop_v1_e2e0123456789abcdef0123456789abcdef0123456789abcdef01234567";

fn corpus(name: &str) -> Value {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/digitalocean"
    ))
    .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Pages, one 429 and one 500 on the way.
    Normal,
    /// 500 to everything.
    Broken,
    /// 401 to everything.
    Unauthorized,
}

struct State {
    mode: Mode,
    /// Every request: (path and query, Authorization header, status answered).
    log: Vec<(String, String, u16)>,
    /// Answers given per path (for the one-time 429 and 500).
    seen: HashMap<String, usize>,
}

/// A DigitalOcean API on 127.0.0.1: the corpus examples split into pages.
struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Normal,
            log: Vec::new(),
            seen: HashMap::new(),
        }));
        let pages = Arc::new(pages(&base));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (st, pages) = (st.clone(), pages.clone());
                std::thread::spawn(move || serve(conn, &st, &pages));
            }
        });
        Server { base, state }
    }

    fn set_mode(&self, mode: Mode) {
        let mut s = self.state.lock().unwrap();
        s.mode = mode;
        s.log.clear();
        s.seen.clear();
    }

    fn log(&self) -> Vec<(String, String, u16)> {
        self.state.lock().unwrap().log.clone()
    }
}

/// path?query → body, for the normal mode.
fn pages(base: &str) -> HashMap<String, Value> {
    let vpcs = corpus("vpcs_list.json");
    let vpc_list = vpcs["vpcs"].as_array().expect("vpcs").clone();
    let droplets = corpus("droplets_list.json");
    let gpus = corpus("droplets_list_gpus.json");
    let lbs = corpus("load_balancers_list.json");
    let mut m = HashMap::new();
    // VPCs: two pages, `next` on this server.
    m.insert(
        "/v2/vpcs?per_page=200".to_string(),
        json!({
            "vpcs": vpc_list[..2],
            "links": {"pages": {"next": format!("{base}/v2/vpcs?page=2&per_page=200"),
                                "last": format!("{base}/v2/vpcs?page=2&per_page=200")}},
            "meta": {"total": vpc_list.len()}
        }),
    );
    m.insert(
        "/v2/vpcs?page=2&per_page=200".to_string(),
        json!({
            "vpcs": vpc_list[2..],
            "links": {"pages": {"first": format!("{base}/v2/vpcs?page=1&per_page=200"),
                                "prev": format!("{base}/v2/vpcs?page=1&per_page=200")}},
            "meta": {"total": vpc_list.len()}
        }),
    );
    // Droplets: the "All Droplets" example, then the GPU one; `next` as the real API writes it
    // (its public host), which the importer keeps on the configured base.
    let mut first = droplets.clone();
    first["links"] = json!({"pages": {
        "next": "https://api.digitalocean.com/v2/droplets?page=2&per_page=200",
        "last": "https://api.digitalocean.com/v2/droplets?page=2&per_page=200"}});
    first["meta"] = json!({"total": 4});
    m.insert("/v2/droplets?per_page=200".to_string(), first);
    m.insert("/v2/droplets?page=2&per_page=200".to_string(), gpus);
    m.insert("/v2/load_balancers?per_page=200".to_string(), lbs);
    // Firewalls: the corpus has no example; this one has the API's shape.
    m.insert(
        "/v2/firewalls?per_page=200".to_string(),
        json!({
            "firewalls": [{
                "id": "bb4b2611-3d72-467b-8602-280330ecd65c",
                "name": "firewall",
                "status": "succeeded",
                "inbound_rules": [
                    {"protocol": "tcp", "ports": "80",
                     "sources": {"load_balancer_uids": ["4de7ac8b-495b-4884-9a69-1050c6793cd6"]}},
                    {"protocol": "tcp", "ports": "22",
                     "sources": {"tags": ["gateway"], "addresses": ["18.0.0.0/8"]}},
                    {"protocol": "icmp", "ports": "0",
                     "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}
                ],
                "outbound_rules": [
                    {"protocol": "tcp", "ports": "8000-9000",
                     "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}}
                ],
                "created_at": "2017-05-23T21:24:00Z",
                "droplet_ids": [3164444],
                "tags": ["web"],
                "pending_changes": []
            }],
            "links": {},
            "meta": {"total": 1}
        }),
    );
    // Managed databases and Kubernetes clusters: none in this account (the importer's mapping of
    // them is tested in crates/vpc/tests/digitalocean_api.rs), `null` as the API answers for
    // an account without databases.
    m.insert(
        "/v2/databases?per_page=200".to_string(),
        json!({"databases": null}),
    );
    m.insert(
        "/v2/kubernetes/clusters?per_page=200".to_string(),
        json!({"kubernetes_clusters": [], "links": {}, "meta": {"total": 0}}),
    );
    m
}

fn serve(conn: TcpStream, state: &Mutex<State>, pages: &HashMap<String, Value>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut auth = String::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    auth = v.trim().to_string();
                }
            }
        }
        let (status, extra, body) = answer(state, pages, &target, &auth);
        state
            .lock()
            .unwrap()
            .log
            .push((target.clone(), auth.clone(), status));
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            _ => "Internal Server Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(&body).is_err() {
            return;
        }
    }
}

fn answer(
    state: &Mutex<State>,
    pages: &HashMap<String, Value>,
    target: &str,
    auth: &str,
) -> (u16, String, Vec<u8>) {
    let error = |id: &str, message: &str| {
        serde_json::to_vec(&json!({"id": id, "message": message})).unwrap_or_default()
    };
    let mut s = state.lock().unwrap();
    match s.mode {
        Mode::Unauthorized => {
            return (
                401,
                String::new(),
                error("Unauthorized", "Unable to authenticate you"),
            )
        }
        Mode::Broken => {
            return (
                500,
                String::new(),
                error("server_error", "Unexpected server-side error"),
            )
        }
        Mode::Normal => {}
    }
    if auth != format!("Bearer {TOKEN}") {
        return (
            401,
            String::new(),
            error("Unauthorized", "Unable to authenticate you"),
        );
    }
    let n = {
        let e = s.seen.entry(target.to_string()).or_insert(0);
        *e += 1;
        *e
    };
    drop(s);
    // One 429 (with Retry-After) on the second droplet page, one 500 on the load balancers.
    if target == "/v2/droplets?page=2&per_page=200" && n == 1 {
        return (
            429,
            "Retry-After: 1\r\nRateLimit-Remaining: 0\r\n".to_string(),
            error("too_many_requests", "API rate limit exceeded."),
        );
    }
    if target == "/v2/load_balancers?per_page=200" && n == 1 {
        return (
            500,
            String::new(),
            error("server_error", "Unexpected server-side error"),
        );
    }
    match pages.get(target) {
        Some(v) => (
            200,
            String::new(),
            serde_json::to_vec(v).unwrap_or_default(),
        ),
        None => (
            404,
            String::new(),
            error(
                "not_found",
                "The resource you were accessing could not be found.",
            ),
        ),
    }
}

fn no_token_in(r: &Run) {
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "the token was printed"
    );
}

fn ids(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The one snapshot file in the store.
fn snapshot_file(g: &Gatehouse) -> PathBuf {
    let dir = g.config_dir().join("snapshots");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// A Terraform state with the live account's VPC, two of its droplets (one changed since), one
/// droplet destroyed outside Terraform, and the firewall with one rule that differs.
fn write_state(dir: &Path) -> PathBuf {
    let droplet = |name: &str, id: &str, private: &str, public: &str, vpc: &str, tags: Value| {
        json!({"mode": "managed", "type": "digitalocean_droplet", "name": name, "provider": "provider[\"registry.terraform.io/digitalocean/digitalocean\"]",
               "instances": [{"schema_version": 1, "attributes": {
                   "id": id, "name": name, "region": "nyc3", "status": "active",
                   "ipv4_address": public, "ipv4_address_private": private,
                   "vpc_uuid": vpc, "tags": tags, "size": "s-1vcpu-1gb", "image": "ubuntu-16-04-x64"}}]})
    };
    let state = json!({
        "version": 4, "terraform_version": "1.9.8", "serial": 7,
        "lineage": "2b1e0a1c-0000-4000-8000-000000000000", "outputs": {},
        "resources": [
            {"mode": "managed", "type": "digitalocean_vpc", "name": "prod",
             "provider": "provider[\"registry.terraform.io/digitalocean/digitalocean\"]",
             "instances": [{"schema_version": 0, "attributes": {
                 "id": "5a4981aa-9653-4bd1-bef5-d6bff52042e4", "name": "env.prod-vpc",
                 "region": "nyc1", "ip_range": "10.10.10.0/24", "default": false}}]},
            droplet("example.com", "3164444", "10.128.192.124", "192.241.165.154",
                    "760e09ef-dc84-11e8-981e-3cfdfeaae000", json!(["web", "env:prod"])),
            // Changed since: its private address in the state is the old one.
            droplet("stage.example.com", "3164412", "10.128.192.99", "192.241.247.248",
                    "5a4981aa-9653-4bd1-bef5-d6bff52042e4", json!(["env:stage"])),
            // Destroyed outside Terraform.
            droplet("old.example.com", "3000001", "10.128.192.200", "192.241.247.1",
                    "5a4981aa-9653-4bd1-bef5-d6bff52042e4", json!([])),
            {"mode": "managed", "type": "digitalocean_firewall", "name": "web",
             "provider": "provider[\"registry.terraform.io/digitalocean/digitalocean\"]",
             "instances": [{"schema_version": 0, "attributes": {
                 "id": "bb4b2611-3d72-467b-8602-280330ecd65c", "name": "firewall",
                 "droplet_ids": [3164444], "tags": ["web"],
                 "inbound_rule": [
                    {"protocol": "tcp", "port_range": "80", "source_addresses": [], "source_droplet_ids": [],
                     "source_tags": [], "source_load_balancer_uids": ["4de7ac8b-495b-4884-9a69-1050c6793cd6"]},
                    // The live rule also admits the `gateway` tag.
                    {"protocol": "tcp", "port_range": "22", "source_addresses": ["18.0.0.0/8"],
                     "source_droplet_ids": [], "source_tags": [], "source_load_balancer_uids": []},
                    {"protocol": "icmp", "port_range": "", "source_addresses": ["0.0.0.0/0", "::/0"],
                     "source_droplet_ids": [], "source_tags": [], "source_load_balancer_uids": []}
                 ],
                 "outbound_rule": [
                    {"protocol": "tcp", "port_range": "8000-9000", "destination_addresses": ["0.0.0.0/0", "::/0"],
                     "destination_droplet_ids": [], "destination_tags": [], "destination_load_balancer_uids": []}
                 ]}}]}
        ]
    });
    let path = dir.join("do.tfstate");
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    path
}

/// Keyring entries are per session, not per config dir: the steps share one token, so they run
/// in one test, in order.
#[test]
fn digitalocean_live_import_drift_and_failures() {
    if !secret_service_available("digitalocean_live_import_drift_and_failures") {
        return;
    }
    let server = Server::start();
    let g = Gatehouse::new();

    // No token yet: a clear error, nothing contacted.
    g.ok(&["vpc", "digitalocean", "--forget-token"]);
    let r = g.run(&["vpc", "digitalocean", "--api-url", &server.base]);
    assert!(!r.ok);
    assert!(r.stderr.contains("--set-token"), "{}", r.stderr);
    assert!(server.log().is_empty());

    // The token goes to the Secret Service, read from stdin.
    let r = g.run_stdin(
        &["vpc", "digitalocean", "--set-token"],
        format!("{TOKEN}\n").as_bytes(),
    );
    assert!(r.ok, "{}", r.stderr);
    no_token_in(&r);
    assert_eq!(
        secret_tool_lookup("digitalocean/token").as_deref(),
        Some(TOKEN)
    );
    assert!(
        g.files().iter().all(|f| !std::fs::read(f)
            .unwrap_or_default()
            .windows(TOKEN.len())
            .any(|w| w == TOKEN.as_bytes())),
        "the token is in a file"
    );

    // Import: pages followed, the 429 and the 500 retried.
    let r = g.run_env(
        &["vpc", "digitalocean", "--json"],
        &[("DIGITALOCEAN_API_URL", &server.base)],
    );
    assert!(r.ok, "{}", r.stderr);
    no_token_in(&r);
    let v = r.json();
    let t = &v["topology"];
    assert_eq!(v["counts"]["vpcs"], 3, "{v}");
    assert_eq!(v["counts"]["hosts"], 4);
    assert_eq!(v["counts"]["load_balancers"], 2);
    assert_eq!(v["counts"]["firewalls"], 1);
    assert_eq!(v["counts"]["rules"], 4);
    assert_eq!(
        ids(&t["vpcs"]),
        [
            "5a4981aa-9653-4bd1-bef5-d6bff52042e4",
            "d455e75d-4858-4eec-8c95-da2f0a5f93a7",
            "e0fe0f4d-596a-465e-a902-571ce57b79fa"
        ]
    );
    let cidrs: Vec<&str> = t["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["cidrs"][0].as_str().unwrap_or(""))
        .collect();
    assert_eq!(cidrs, ["10.10.10.0/24", "10.102.0.0/20", "10.100.0.0/20"]);
    assert_eq!(
        ids(&t["hosts"]),
        ["3164412", "3164444", "3164459", "448543583"]
    );
    let web = t["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "3164444")
        .unwrap();
    assert_eq!(web["private_ips"], json!(["10.128.192.124"]));
    assert_eq!(web["public_ip"], "192.241.165.154");
    assert_eq!(web["vpc"], "760e09ef-dc84-11e8-981e-3cfdfeaae000");
    assert_eq!(
        ids(&t["load_balancers"]),
        [
            "4de7ac8b-495b-4884-9a69-1050c6793cd6",
            "56775c3f-04ab-4fb3-a7ed-40ef9bc8eece"
        ]
    );
    let fw = &t["firewalls"][0];
    assert_eq!(
        fw["applies_to"],
        json!({"by": "hosts", "ids": ["3164444"], "labels": ["web"]})
    );
    let rules = fw["rules"].as_array().unwrap();
    assert_eq!(
        rules[0]["peers"],
        json!([{"kind": "load_balancer", "value": "4de7ac8b-495b-4884-9a69-1050c6793cd6"}])
    );
    assert_eq!(rules[1]["ports"], json!({"from": 22, "to": 22}));
    assert_eq!(
        rules[1]["peers"],
        json!([{"kind": "cidr", "value": "18.0.0.0/8"}, {"kind": "label", "value": "gateway"}])
    );
    assert_eq!(rules[3]["direction"], "egress");
    assert_eq!(rules[3]["ports"], json!({"from": 8000, "to": 9000}));

    let log = server.log();
    let statuses: Vec<(&str, u16)> = log.iter().map(|(p, _, s)| (p.as_str(), *s)).collect();
    assert_eq!(
        statuses,
        [
            ("/v2/vpcs?per_page=200", 200),
            ("/v2/vpcs?page=2&per_page=200", 200),
            ("/v2/droplets?per_page=200", 200),
            ("/v2/droplets?page=2&per_page=200", 429),
            ("/v2/droplets?page=2&per_page=200", 200),
            ("/v2/load_balancers?per_page=200", 500),
            ("/v2/load_balancers?per_page=200", 200),
            ("/v2/firewalls?per_page=200", 200),
            ("/v2/databases?per_page=200", 200),
            ("/v2/kubernetes/clusters?per_page=200", 200),
        ]
    );
    assert!(log.iter().all(|(_, a, _)| *a == format!("Bearer {TOKEN}")));

    // The last good snapshot.
    let snap = snapshot_file(&g);
    assert_eq!(v["snapshot_file"], snap.display().to_string());
    let saved: Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    assert_eq!(saved["source"], "digitalocean");
    assert_eq!(saved["topology"], *t);

    // Text output, through --api-url.
    let r = g.ok(&["vpc", "digitalocean", "--api-url", &server.base]);
    assert!(
        r.stdout.contains(
            "3 VPCs, 4 droplets, 0 managed services, 2 load balancers, 1 firewalls (4 rules)"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("droplet example.com (3164444) 10.128.192.124 public 192.241.165.154 active"),
        "{}",
        r.stdout
    );

    // Drift: the state against the live API, then against the snapshot just saved.
    let state = write_state(&g.scratch());
    let r = g.run(&[
        "vpc",
        "drift",
        state.to_str().unwrap(),
        "--digitalocean",
        "--api-url",
        &server.base,
        "--json",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["in_sync"], false);
    assert_eq!(d["provider"], "digitalocean");
    let drift = &d["drift"];
    let refs = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = drift[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o["kind"].as_str().unwrap(),
                    o["id"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        refs("added"),
        [
            "host 3164459",
            "host 448543583",
            "load_balancer 4de7ac8b-495b-4884-9a69-1050c6793cd6",
            "load_balancer 56775c3f-04ab-4fb3-a7ed-40ef9bc8eece",
            "vpc d455e75d-4858-4eec-8c95-da2f0a5f93a7",
            "vpc e0fe0f4d-596a-465e-a902-571ce57b79fa",
        ]
    );
    assert_eq!(refs("removed"), ["host 3000001"]);
    let changed = drift["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["object"]["id"], "3164412");
    assert_eq!(
        changed[0]["fields"],
        json!([{"field": "private_ips", "before": ["10.128.192.99"], "after": ["10.128.192.125"]}])
    );
    assert_eq!(
        drift["rules"][0]["added"][0]["peers"][1],
        json!({"kind": "label", "value": "gateway"})
    );
    assert_eq!(drift["rules"][0]["removed"].as_array().unwrap().len(), 1);
    assert!(d["compared_only_when_both_know"]
        .as_array()
        .unwrap()
        .contains(&json!("load_balancer.kind")));

    let r = g.ok(&[
        "vpc",
        "drift",
        state.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
    ]);
    let text = r.stdout;
    for line in [
        "- host old.example.com (3000001): in the state, not live",
        "+ host assets.example.com (3164459): live, not in the state",
        "~ host stage.example.com (3164412): private_ips state [\"10.128.192.99\"] → live [\"10.128.192.125\"]",
        "+ rule in firewall (bb4b2611-3d72-467b-8602-280330ecd65c): live only: ingress allow tcp 22 18.0.0.0/8,gateway",
        "- rule in firewall (bb4b2611-3d72-467b-8602-280330ecd65c): state only: ingress allow tcp 22 18.0.0.0/8",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  ")).count(),
        10,
        "{text}"
    );
    let r = g.run(&[
        "vpc",
        "drift",
        state.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.json()["drift"], *drift);
    // The live drift saved a fresh snapshot with the same topology.
    let after_drift: Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    assert_eq!(after_drift["topology"], *t);
    let before = std::fs::read(&snap).unwrap();

    // A persistent 500: retried, then a clear error; the snapshot is kept byte for byte.
    server.set_mode(Mode::Broken);
    let r = g.run(&["vpc", "digitalocean", "--api-url", &server.base, "--json"]);
    assert!(!r.ok);
    no_token_in(&r);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("HTTP 500: Unexpected server-side error"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("/v2/vpcs?per_page=200"), "{}", r.stderr);
    assert!(r.stderr.contains("previous snapshot"), "{}", r.stderr);
    assert_eq!(server.log().len(), 4, "1 try + 3 retries");
    assert_eq!(std::fs::read(&snap).unwrap(), before);

    // 401: not retried; the error says how to fix it; the snapshot is kept.
    server.set_mode(Mode::Unauthorized);
    let r = g.run(&["vpc", "digitalocean", "--api-url", &server.base]);
    assert!(!r.ok);
    no_token_in(&r);
    assert!(
        r.stderr.contains("HTTP 401: Unable to authenticate you"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--set-token"), "{}", r.stderr);
    assert_eq!(server.log().len(), 1);
    assert_eq!(std::fs::read(&snap).unwrap(), before);
    let r = g.run(&[
        "vpc",
        "drift",
        state.to_str().unwrap(),
        "--digitalocean",
        "--api-url",
        &server.base,
    ]);
    assert!(!r.ok && r.stderr.contains("HTTP 401"), "{}", r.stderr);
    assert_eq!(std::fs::read(&snap).unwrap(), before);

    // Plain http to a non-loopback address is refused before anything is sent.
    server.set_mode(Mode::Normal);
    let r = g.run(&["vpc", "digitalocean", "--api-url", "http://192.0.2.1:8080"]);
    assert!(!r.ok && r.stderr.contains("clear text"), "{}", r.stderr);

    g.ok(&["vpc", "digitalocean", "--forget-token"]);
    assert_eq!(secret_tool_lookup("digitalocean/token"), None);
}
