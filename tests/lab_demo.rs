//! `gatehouse demo` end to end, with no root: the lab and the no-root client in one process,
//! run as an unprivileged user (`nobody` when the test runs as root, else the current user).
//! Through its SOCKS5 proxy, `curl --socks5-hostname` fetches the raspberry pi's page and
//! `web-1.internal`, the load balancer alternates between the web servers, the HTTP proxy
//! reaches the home router; through the forwards, `redis-cli` gets PONG and `psql` the
//! database's answers; the replica is blocked by its security group.
//!
//! Needs curl, redis-cli (Debian `redis-tools`), psql (`postgresql-client`) and a built
//! `gatehouse` (`cargo build -p gatehouse-cli`, or `GATEHOUSE_BIN`). Without them the test prints
//! a skip notice and passes, unless `GATEHOUSE_E2E_REQUIRE=1`.

use gatehouse_e2e::lab::{can_run, tool, Demo};
use gatehouse_e2e::netns::is_root;

#[test]
fn demo_serves_the_lab_through_socks_http_and_forwards_unprivileged() {
    if !can_run("lab_demo", false, &["curl", "redis-cli", "psql", "setpriv"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // The binary must be readable by the unprivileged user: a copy in a 0755 directory.
    let mut bin = gatehouse_e2e::lab::gatehouse_bin();
    let mut prefix: Vec<String> = Vec::new();
    if is_root() {
        use std::os::unix::fs::PermissionsExt as _;
        let copy = dir.path().join("gatehouse");
        std::fs::copy(&bin, &copy).expect("copy the binary");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod dir");
        bin = copy;
        prefix.extend(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
    }
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let log = dir.path().join("demo.log");
    let mut demo = Demo::start(
        &bin,
        &prefix,
        &["--socks", "127.0.0.1:0", "--http", "127.0.0.1:0"],
        &log,
    )
    .expect("gatehouse demo starts");
    let p = demo.printed.clone();
    let socks = p.socks.expect("socks5 address printed").to_string();
    let http = p.http.expect("http proxy address printed").to_string();
    let fail = |what: &str, out: &str| -> ! {
        panic!(
            "{what}: {out}\nprinted:\n{}\ndemo log:\n{}",
            p.text,
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };

    // Not root: the demo process runs as nobody (or as the unprivileged caller).
    let pid = demo.pid().expect("demo pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    let euid = uid_line.split_whitespace().nth(2).unwrap_or("0");
    assert_ne!(euid, "0", "the demo runs as root: {uid_line}");

    let curl = |url: &str| {
        tool(
            "curl",
            &["-sS", "--max-time", "10", "--socks5-hostname", &socks, url],
        )
    };
    let (ok, out) = curl("http://pi.home.internal:8080/");
    if !ok || !out.contains("<title>Raspberry Pi - home dashboard</title>") {
        fail("the pi's page through SOCKS5", &out);
    }
    let (ok, out) = curl("http://web-1.internal/");
    if !ok || !out.contains("<title>web-1 - Gatehouse demo shop</title>") {
        fail("web-1.internal through SOCKS5", &out);
    }
    // The load balancer proxies to both web servers, in turn.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (ok, out) = curl("http://lb.internal/");
        if !ok {
            fail("lb.internal through SOCKS5", &out);
        }
        for name in ["web-1", "web-2"] {
            if out.contains(&format!("Hello from {name}")) {
                seen.push(name);
            }
        }
    }
    assert!(
        seen.contains(&"web-1") && seen.contains(&"web-2"),
        "round robin: {seen:?}"
    );
    let (ok, out) = tool(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-x",
            &format!("http://{http}"),
            "http://router.home.internal/",
        ],
    );
    if !ok || !out.contains("<title>Home router - admin</title>") {
        fail("the router through the HTTP proxy", &out);
    }

    // Redis through the forward.
    let redis = p.forward_to(6379).expect("a forward to the cache");
    let (rh, rp) = (redis.ip().to_string(), redis.port().to_string());
    let (ok, out) = tool("redis-cli", &["-h", &rh, "-p", &rp, "PING"]);
    if !ok || out.trim() != "PONG" {
        fail("redis-cli PING", &out);
    }
    let (ok, out) = tool(
        "redis-cli",
        &["-h", &rh, "-p", &rp, "SET", "greeting", "hi"],
    );
    if !ok || out.trim() != "OK" {
        fail("redis-cli SET", &out);
    }
    let (ok, out) = tool("redis-cli", &["-h", &rh, "-p", &rp, "GET", "greeting"]);
    if !ok || out.trim() != "hi" {
        fail("redis-cli GET", &out);
    }

    // PostgreSQL through the forward: an answer for demo, a refusal psql prints for others.
    let db = p.forward_to(5432).expect("a forward to the database");
    let (dh, dp) = (db.ip().to_string(), db.port().to_string());
    let (ok, out) = tool(
        "psql",
        &[
            "-h",
            &dh,
            "-p",
            &dp,
            "-U",
            "demo",
            "-d",
            "lab",
            "-c",
            "select version()",
        ],
    );
    if !ok || !out.contains("PostgreSQL 16.4 (gatehouse lab)") {
        fail("psql select version()", &out);
    }
    let (ok, out) = tool(
        "psql",
        &[
            "-h", &dh, "-p", &dp, "-U", "mallory", "-d", "lab", "-c", "select 1",
        ],
    );
    if ok || !out.contains("password authentication failed for user \"mallory\"") {
        fail("psql as an unknown user", &out);
    }

    // The replica: sg-replica admits 5432 only from sg-app, so the VPN gets no answer.
    let (ok, out) = tool(
        "curl",
        &[
            "-sS",
            "--max-time",
            "3",
            "--socks5-hostname",
            &socks,
            "telnet://db-replica.internal:5432",
        ],
    );
    assert!(!ok, "the replica answered: {out}");

    let status = demo.stop().expect("demo exit status");
    assert!(status.success(), "demo exit: {status}\n{}", demo.log_text());
    let log_text = demo.log_text();
    let blocked: u64 = log_text
        .lines()
        .find_map(|l| {
            let rest = l.split("delivered, ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no summary line in the demo log:\n{log_text}"));
    assert!(blocked >= 1, "no packet blocked by sg-replica:\n{log_text}");
}
