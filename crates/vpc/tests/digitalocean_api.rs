//! The DigitalOcean importer against a local HTTP server that serves the shared corpus: paging
//! through `links.pages.next`, a 429 with `Retry-After`, a 500 that recovers, a 500 that does not,
//! and a dropped connection; managed databases, their replicas and Kubernetes clusters.
//!
//! The shared corpus has no example for `/v2/databases`, `/v2/databases/{uuid}/replicas` or
//! `/v2/kubernetes/clusters`: `fixtures` holds the OpenAPI specification's, as JSON.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_vpc::digitalocean::{import, DoError, Import, Response, RetryPolicy, Transport};
use gatehouse_vpc::model::ServiceKind;

#[path = "digitalocean_api/fixtures.rs"]
mod fixtures;
use fixtures::{CLUSTERS, DATABASES, DB_ID, REPLICAS};

fn corpus(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/digitalocean")
            .join(name),
    )
    .unwrap()
}

/// What the server answers: path+query → list of (status, extra header, body), served in turn
/// (the last one repeats).
type Script = HashMap<String, Vec<(u16, String, String)>>;

struct Server {
    base: String,
    hits: Arc<Mutex<Vec<String>>>,
}

fn serve(script: Script) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    std::thread::spawn(move || {
        let mut served: HashMap<String, usize> = HashMap::new();
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(target.clone());
            let Some(answers) = script.get(&target) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let n = served.entry(target).or_insert(0);
            let (status, header, body) = &answers[(*n).min(answers.len() - 1)];
            *n += 1;
            if *status == 0 {
                continue; // drop the connection without answering
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{header}Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Server { base, hits }
}

/// A minimal HTTP/1.1 client over a TCP socket (the real one adds TLS and the token).
struct PlainHttp;

impl Transport for PlainHttp {
    fn get(&mut self, url: &str) -> Result<Response, String> {
        let rest = url.strip_prefix("http://").ok_or("not http")?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut s = TcpStream::connect(host).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer test\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("connection closed without a response")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("bad status line")?;
        let retry_after = head
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After: "))
            .and_then(|v| v.trim().parse().ok());
        Ok(Response {
            status,
            retry_after,
            body: body.as_bytes().to_vec(),
        })
    }
}

/// The managed-service pages of a normal run.
fn managed_pages(script: &mut Script) {
    script.insert(
        "/v2/databases?per_page=200".into(),
        vec![ok(DATABASES.into())],
    );
    script.insert(
        format!("/v2/databases/{DB_ID}/replicas"),
        vec![ok(REPLICAS.into())],
    );
    script.insert(
        "/v2/kubernetes/clusters?per_page=200".into(),
        vec![ok(CLUSTERS.into())],
    );
}

fn ok(body: String) -> (u16, String, String) {
    (200, String::new(), body)
}

/// The corpus droplets split into two pages, the second behind a `next` link.
fn droplet_pages() -> (String, String) {
    let all: serde_json::Value = serde_json::from_str(&corpus("droplets_list.json")).unwrap();
    let list = all["droplets"].as_array().unwrap();
    let page1 = serde_json::json!({
        "droplets": list[..2],
        // The API writes its public host in links: the importer keeps the configured base.
        "links": {"pages": {"next": "https://api.digitalocean.com/v2/droplets?page=2&per_page=200", "last": "x"}},
        "meta": {"total": 3}
    });
    let page2 = serde_json::json!({"droplets": list[2..], "links": {"pages": {"prev": "https://api.digitalocean.com/v2/droplets?page=1"}}, "meta": {"total": 3}});
    (page1.to_string(), page2.to_string())
}

#[test]
fn pages_429_and_500_are_handled() {
    let mut script: Script = HashMap::new();
    let (p1, p2) = droplet_pages();
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![ok(corpus("vpcs_list.json"))],
    );
    script.insert("/v2/droplets?per_page=200".into(), vec![ok(p1)]);
    script.insert(
        "/v2/droplets?page=2&per_page=200".into(),
        vec![
            (
                429,
                "Retry-After: 1\r\n".into(),
                r#"{"id":"too_many_requests","message":"API Rate limit exceeded."}"#.into(),
            ),
            ok(p2),
        ],
    );
    script.insert(
        "/v2/load_balancers?per_page=200".into(),
        vec![
            (
                500,
                String::new(),
                r#"{"id":"server_error","message":"Server Error"}"#.into(),
            ),
            ok(corpus("load_balancers_list.json")),
        ],
    );
    script.insert(
        "/v2/firewalls?per_page=200".into(),
        vec![ok(
            r#"{"firewalls":[],"links":{},"meta":{"total":0}}"#.into()
        )],
    );
    managed_pages(&mut script);
    let server = serve(script);
    let mut waits = Vec::new();
    let t = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy::default(),
        &mut |d| waits.push(d),
    )
    .unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let t = t.topology;
    assert_eq!(t.vpcs.len(), 3);
    // 3 droplets, the database and its replica, the cluster and its 2 node pools.
    assert_eq!(t.hosts.len(), 8);
    assert_eq!(t.counts().services, 3);
    assert_eq!(t.load_balancers.len(), 2);
    assert_eq!(
        waits,
        vec![Duration::from_secs(1), Duration::from_millis(500)]
    );
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(
        hits,
        [
            "/v2/vpcs?per_page=200",
            "/v2/droplets?per_page=200",
            "/v2/droplets?page=2&per_page=200",
            "/v2/droplets?page=2&per_page=200",
            "/v2/load_balancers?per_page=200",
            "/v2/load_balancers?per_page=200",
            "/v2/firewalls?per_page=200",
            "/v2/databases?per_page=200",
            "/v2/databases/9cc10173-e9ea-4176-9dbc-a4cee4c4ff30/replicas",
            "/v2/kubernetes/clusters?per_page=200",
        ]
    );

    let db = t.host(DB_ID).unwrap();
    assert_eq!(db.name, "backend");
    assert_eq!(
        db.vpc.as_deref(),
        Some("d455e75d-4858-4eec-8c95-da2f0a5f93a7")
    );
    assert_eq!(db.zone.as_deref(), Some("nyc3"));
    assert_eq!(db.state.as_deref(), Some("online"));
    assert_eq!(db.labels, vec!["production".to_string()]);
    let s = db.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Postgres);
    assert_eq!(
        (s.engine.as_deref(), s.version.as_deref()),
        (Some("pg"), Some("10"))
    );
    assert_eq!(
        s.endpoint.as_deref(),
        Some("private-backend-do-user-19081923-0.db.ondigitalocean.com")
    );
    assert_eq!(s.ports, vec![25060]);

    let rep = t.find_host("read-nyc3-01").unwrap();
    assert_eq!(rep.id, format!("{DB_ID}/replicas/read-nyc3-01"));
    assert_eq!(rep.vpc, db.vpc, "the cluster's VPC");
    assert_eq!(rep.state.as_deref(), Some("active"));
    let s = rep.service.as_ref().unwrap();
    assert_eq!((s.kind, s.port()), (ServiceKind::Postgres, Some(25060)));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("private-read-nyc3-01-do-user-19081923-0.db.ondigitalocean.com")
    );

    let k = t.find_host("prod-cluster-01").unwrap();
    assert_eq!(
        k.vpc.as_deref(),
        Some("c33931f2-a26a-4e61-b85c-4e95a2ec431b")
    );
    assert_eq!(k.public_ip, Some("68.183.121.157".parse().unwrap()));
    assert_eq!(k.labels, vec!["production".to_string(), "web-team".into()]);
    assert_eq!(
        k.tags.get("cluster_subnet").map(String::as_str),
        Some("10.244.0.0/16")
    );
    let s = k.service.as_ref().unwrap();
    assert_eq!((s.kind, s.port()), (ServiceKind::Kubernetes, Some(443)));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("bd5f5959-5e1e-4205-a714-a914373942af.k8s.ondigitalocean.com")
    );
    let pool = t.find_host("prod-cluster-01/backend-pool").unwrap();
    assert_eq!(pool.id, "f49f4379-7e7f-4af5-aeb6-0354bd840778");
    assert_eq!(pool.vpc, k.vpc);
    assert!(pool.service.is_none());
    assert!(pool.is_group());
    assert!(pool
        .labels
        .contains(&"k8s:bd5f5959-5e1e-4205-a714-a914373942af".to_string()));
}

/// The network pages of a run with nothing in them.
fn empty_network(script: &mut Script) {
    for kind in ["vpcs", "droplets", "load_balancers", "firewalls"] {
        script.insert(
            format!("/v2/{kind}?per_page=200"),
            vec![ok(format!(
                r#"{{"{kind}":[],"links":{{}},"meta":{{"total":0}}}}"#
            ))],
        );
    }
}

fn run(script: Script) -> (Result<Import, DoError>, Vec<String>) {
    let server = serve(script);
    let r = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::default()
        },
        &mut |_| {},
    );
    let hits = server.hits.lock().unwrap().clone();
    (r, hits)
}

#[test]
fn managed_service_errors_name_the_path() {
    // A persistent 500 on the replicas of a cluster.
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    managed_pages(&mut script);
    let replicas = format!("/v2/databases/{DB_ID}/replicas");
    script.insert(
        replicas.clone(),
        vec![(
            500,
            String::new(),
            r#"{"id":"server_error","message":"Server Error"}"#.into(),
        )],
    );
    let (r, hits) = run(script);
    let e = r.unwrap_err();
    assert!(matches!(e, DoError::Status { status: 500, .. }), "{e}");
    assert!(e.to_string().contains(&replicas), "{e}");
    assert_eq!(
        hits.iter().filter(|h| **h == replicas).count(),
        2,
        "{hits:?}"
    );

    // A malformed Kubernetes page.
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    managed_pages(&mut script);
    script.insert(
        "/v2/kubernetes/clusters?per_page=200".into(),
        vec![ok(r#"{"kubernetes_clusters": [{"name": "no id"}]}"#.into())],
    );
    let e = run(script).0.unwrap_err();
    assert!(matches!(e, DoError::Body { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("/v2/kubernetes/clusters?per_page=200"),
        "{e}"
    );

    // A malformed replica page.
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    managed_pages(&mut script);
    script.insert(replicas.clone(), vec![ok(r#"{"replicas": {}}"#.into())]);
    let e = run(script).0.unwrap_err();
    assert!(matches!(e, DoError::Body { .. }), "{e}");
    assert!(e.to_string().contains(&replicas), "{e}");
}

#[test]
fn a_token_without_database_or_kubernetes_scope_still_imports_the_network() {
    let refused = |what: &str| {
        (
            403,
            String::new(),
            format!(r#"{{"id":"forbidden","message":"You are not authorized to read {what}."}}"#),
        )
    };
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![ok(corpus("vpcs_list.json"))],
    );
    script.insert(
        "/v2/databases?per_page=200".into(),
        vec![refused("databases")],
    );
    script.insert(
        "/v2/kubernetes/clusters?per_page=200".into(),
        vec![refused("clusters")],
    );
    let (r, hits) = run(script);
    let got = r.unwrap();
    assert_eq!(got.topology.vpcs.len(), 3);
    assert!(got.topology.hosts.is_empty());
    assert_eq!(got.warnings.len(), 2, "{:?}", got.warnings);
    assert!(got.warnings[0].contains("HTTP 403"), "{:?}", got.warnings);
    assert!(got.warnings[0].contains("database clusters not imported"));
    assert!(got.warnings[1].contains("Kubernetes clusters not imported"));
    // Refusals are not retried, and no replicas are asked for.
    assert_eq!(
        hits.iter()
            .filter(|h| h.starts_with("/v2/databases"))
            .count(),
        1
    );

    // The network kinds are not optional: a 403 there fails the import.
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    script.insert(
        "/v2/droplets?per_page=200".into(),
        vec![refused("droplets")],
    );
    let e = run(script).0.unwrap_err();
    assert!(matches!(e, DoError::Status { status: 403, .. }), "{e}");
}

#[test]
fn replicas_gone_and_engines_without_replicas() {
    let mut script: Script = HashMap::new();
    empty_network(&mut script);
    // The cluster went away between the two requests (404), and a Redis cluster, whose engine has
    // no read-only replicas, is not asked about them.
    script.insert(
        "/v2/databases?per_page=200".into(),
        vec![ok(DATABASES.replace(
            r#""tags": ["production"],"#,
            r#""tags": ["production"]}, {"id": "r1", "name": "cache", "engine": "redis", "version": "7", "private_connection": {"host": "private-cache", "port": 25061},"#,
        ))],
    );
    script.insert(
        "/v2/kubernetes/clusters?per_page=200".into(),
        vec![ok(r#"{"kubernetes_clusters": null}"#.into())],
    );
    let (r, hits) = run(script);
    let t = r.unwrap().topology;
    assert_eq!(t.hosts.len(), 2);
    let cache = t.find_host("cache").unwrap();
    assert_eq!(cache.service.as_ref().unwrap().kind, ServiceKind::Redis);
    assert_eq!(cache.service.as_ref().unwrap().port(), Some(25061));
    assert!(hits.contains(&format!("/v2/databases/{DB_ID}/replicas")));
    assert!(!hits.iter().any(|h| h.contains("/r1/")), "{hits:?}");
}

#[test]
fn persistent_errors_are_clear() {
    let mut script: Script = HashMap::new();
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![(
            500,
            String::new(),
            r#"{"id":"server_error","message":"Server Error"}"#.into(),
        )],
    );
    let server = serve(script);
    let mut waits = 0;
    let e = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy::default(),
        &mut |_| waits += 1,
    )
    .unwrap_err();
    assert_eq!(waits, 3);
    assert!(matches!(e, DoError::Status { status: 500, .. }), "{e}");
    assert!(e.to_string().contains("HTTP 500: Server Error"), "{e}");

    let mut script: Script = HashMap::new();
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![(
            401,
            String::new(),
            r#"{"id":"unauthorized","message":"Unable to authenticate you"}"#.into(),
        )],
    );
    let server = serve(script);
    let e = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("HTTP 401: Unable to authenticate you"),
        "{e}"
    );

    let mut script: Script = HashMap::new();
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![(0, String::new(), String::new())],
    );
    let server = serve(script);
    let e = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, DoError::Transport { .. }), "{e}");

    let mut script: Script = HashMap::new();
    script.insert(
        "/v2/vpcs?per_page=200".into(),
        vec![ok("{\"vpcs\": [{\"id\": 5".into())],
    );
    let server = serve(script);
    let e = import(
        &server.base,
        &mut PlainHttp,
        RetryPolicy::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, DoError::Body { .. }), "{e}");
}
