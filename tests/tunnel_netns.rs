//! End-to-end: `gatehouse up` against Debian's wireguard-go in network namespaces.
//!
//! Each test builds its own client ↔ gateway (wireguard-go) ↔ lan topology
//! (see `gatehouse_e2e::netns`), runs `ip netns exec CLIENT gatehouse up client.conf` and checks
//! what a user would: the lan host answers pings and serves a 20 MB file intact over IPv4 and
//! IPv6, through a gateway restart, a change of the client's address, a lossy slow link and a
//! flood of hostile datagrams; and after Ctrl-C the client's namespace is as it was.
//!
//! Needs root. Without root the tests print a skip notice and pass, unless
//! `GATEHOUSE_E2E_REQUIRE=1` (CI), where they fail. The binary is `$GATEHOUSE_BIN`, else
//! `gatehouse` beside the test executable's directory (`cargo build -p gatehouse-cli` first).
//! `GATEHOUSE_E2E_KEEP=1` keeps each test's scratch directory (logs, conf) in the temp dir.
//! `GATEHOUSE_E2E_CLIENT=wireguard-go` runs the same scenarios with Debian's wireguard-go as the
//! client (configured from the same `.conf` the way wg-quick would): a reference run that checks
//! the harness; the gatehouse-only checks (log, `status --json`, DNS) are skipped then.

use gatehouse_e2e::gatehouse_bin;
use gatehouse_e2e::netns::{
    self, check_blob, download, ns_run, Client, ImpairedRelay, Progress, Topology, CLIENT_DNS,
    CLIENT_LISTEN_PORT, CLIENT_OUTER_V4, CLIENT_ROAM_V4, CLIENT_TUNNEL_V4, GATEWAY_LISTEN_PORT,
    GATEWAY_OUTER_V4, LAN_HOST_V4, LAN_HOST_V6,
};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const V4: IpAddr = IpAddr::V4(LAN_HOST_V4);
const V6: IpAddr = IpAddr::V6(LAN_HOST_V6);
/// Generous bound for one 20 MB transfer on a busy 2-core machine.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(90);

/// Root and the tools of these tests (see `gatehouse_e2e::can_run`).
fn can_run(test: &str) -> bool {
    gatehouse_e2e::can_run(test, true, &["ip", "wg", "wireguard-go", "ping"])
}

/// True for a reference run with wireguard-go as the client (`GATEHOUSE_E2E_CLIENT`).
fn reference_run() -> bool {
    std::env::var("GATEHOUSE_E2E_CLIENT").is_ok_and(|v| v == "wireguard-go")
}

/// Starts `gatehouse up` in the client ns and waits until the lan host answers a ping through
/// the tunnel and the client has logged its handshake.
fn connect(topo: &Topology) -> Client {
    if reference_run() {
        let mut client = Client::wireguard_go(topo).expect("start the wireguard-go client");
        wait_for_tunnel(topo, &mut client, Duration::from_secs(20));
        return client;
    }
    let mut client = Client::gatehouse(topo, &gatehouse_bin()).expect("start gatehouse up");
    wait_for_tunnel(topo, &mut client, Duration::from_secs(20));
    client
        .wait_handshake(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}\n{}", context(topo)));
    client
}

/// Waits until the tunnel carries a ping to the lan host (v4), or panics with the logs.
fn wait_for_tunnel(topo: &Topology, client: &mut Client, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if topo.ping_from_client(V4, 1, 1).is_ok() {
            return;
        }
        assert!(
            client.is_running(),
            "the client exited; log:\n{}\n{}",
            client.log_text(),
            context(topo)
        );
        assert!(
            Instant::now() < deadline,
            "no ping reply from {V4} through the tunnel within {timeout:?}; client log:\n{}\n{}",
            client.log_text(),
            context(topo)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What helps to understand a failure: the gateway's view and wireguard-go's log.
fn context(topo: &Topology) -> String {
    format!(
        "gateway wg dump:\n{}\nwireguard-go log:\n{}",
        topo.gateway_wg_dump(),
        topo.wireguard_go_log()
    )
}

/// Stops the client with SIGINT and asserts it exits 0.
fn disconnect(client: &mut Client) {
    let status = client.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "gatehouse up did not exit 0 on SIGINT: {status:?}; log:\n{}",
        client.log_text()
    );
}

/// Downloads the blob from the lan host and checks it, with a message naming the family.
fn download_and_check(topo: &Topology, addr: IpAddr, client: &Client) {
    let progress = Progress::default();
    let body = download(&topo.client_ns, addr, progress, None, DOWNLOAD_TIMEOUT)
        .join()
        .expect("download thread")
        .unwrap_or_else(|e| panic!("{e}\nclient log:\n{}\n{}", client.log_text(), context(topo)));
    check_blob(&body).unwrap_or_else(|e| panic!("http://{addr}: {e}"));
}

/// `gatehouse status --json` in the client ns with the client's run dir (`Null` in a
/// reference run).
fn status_json(topo: &Topology, client: &Client) -> serde_json::Value {
    if reference_run() {
        return serde_json::Value::Null;
    }
    let out = Command::new("ip")
        .args(["netns", "exec", &topo.client_ns])
        .arg(gatehouse_bin())
        .args(["status", "--json"])
        .env("GATEHOUSE_RUN_DIR", &client.run_dir)
        .output()
        .expect("run gatehouse status --json");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gatehouse status --json failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        text
    );
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {text}"))
}

/// The drop count of a status document: the sum over every field whose name mentions "drop"
/// (a number, or an object of per-reason numbers, whose `total` is used when it has one).
/// `None` when there is no such field.
fn drop_counters(v: &serde_json::Value) -> Option<u64> {
    use serde_json::Value;
    fn object_sum(m: &serde_json::Map<String, Value>) -> u64 {
        match m.get("total").and_then(Value::as_u64) {
            Some(t) => t,
            None => m.values().filter_map(Value::as_u64).sum(),
        }
    }
    fn walk(v: &Value, sum: &mut Option<u64>) {
        match v {
            Value::Object(m) => {
                // A `drops_total`-like number beside a per-reason `drops` object: use the total.
                let total = m.iter().find_map(|(k, x)| {
                    let k = k.to_lowercase();
                    (k.contains("drop") && k.contains("total"))
                        .then(|| x.as_u64())
                        .flatten()
                });
                if let Some(t) = total {
                    *sum = Some(sum.unwrap_or(0) + t);
                }
                for (k, x) in m {
                    let named = k.to_lowercase().contains("drop");
                    match x {
                        _ if named && total.is_some() => {}
                        Value::Number(n) if named => {
                            *sum = Some(sum.unwrap_or(0) + n.as_u64().unwrap_or(0));
                        }
                        Value::Object(o) if named => *sum = Some(sum.unwrap_or(0) + object_sum(o)),
                        _ => walk(x, sum),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, sum)),
            _ => {}
        }
    }
    let mut sum = None;
    walk(v, &mut sum);
    sum
}

#[test]
fn drop_counters_reads_numbers_and_per_reason_objects() {
    let v: serde_json::Value = serde_json::from_str(
        r#"{"tunnels":[{"drops":{"malformed":3,"replay":4},"peers":[{"rx_dropped":5}]}]}"#,
    )
    .expect("json");
    assert_eq!(drop_counters(&v), Some(12));
    let v: serde_json::Value =
        serde_json::from_str(r#"{"drops":{"total":7,"replay":7}}"#).expect("json");
    assert_eq!(drop_counters(&v), Some(7));
    let v = serde_json::json!({"tunnels": [{"drops_total": 9, "drops": {"replay": 9}}]});
    assert_eq!(drop_counters(&v), Some(9));
    assert_eq!(drop_counters(&serde_json::json!({"peers": []})), None);
}

/// Datagrams sent that were neither data nor keepalives to a peer (cookie replies, mostly):
/// `io.udp_tx_datagrams` minus the peers' `tx_packets`, summed over tunnels; 0 if absent.
fn cookie_replies(v: &serde_json::Value) -> u64 {
    let tunnels = v["tunnels"].as_array().cloned().unwrap_or_default();
    tunnels
        .iter()
        .map(|t| {
            let udp = t["io"]["udp_tx_datagrams"].as_u64().unwrap_or(0);
            let peers: u64 = t["peers"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["tx_packets"].as_u64()).sum())
                .unwrap_or(0);
            udp.saturating_sub(peers)
        })
        .sum()
}

#[test]
fn harness_works_with_wireguard_go_as_the_client() {
    if !can_run("harness_works_with_wireguard_go_as_the_client") {
        return;
    }
    let topo = Topology::new("hw").expect("topology");
    let mut client = Client::wireguard_go(&topo).expect("wireguard-go client");
    wait_for_tunnel(&topo, &mut client, Duration::from_secs(20));
    topo.ping_from_client(V6, 2, 2).expect("ping v6");
    download_and_check(&topo, V4, &client);
    client.stop();
}

#[test]
fn ping_and_20mb_download_over_ipv4_and_ipv6() {
    if !can_run("ping_and_20mb_download_over_ipv4_and_ipv6") {
        return;
    }
    let topo = Topology::new("dl").expect("topology");
    let mut client = connect(&topo);
    topo.ping_from_client(V4, 3, 2).expect("ping lan host v4");
    topo.ping_from_client(V6, 3, 2).expect("ping lan host v6");
    for addr in [V4, V6] {
        let t = Instant::now();
        download_and_check(&topo, addr, &client);
        eprintln!("20 MB over http://{addr} in {:?}", t.elapsed());
    }
    let status = status_json(&topo, &client);
    let text = status.to_string();
    assert!(
        reference_run() || text.contains(&topo.gateway_public),
        "status --json does not name the peer {}: {text}",
        topo.gateway_public
    );
    disconnect(&mut client);
}

#[test]
fn traffic_resumes_after_the_gateway_restarts() {
    if !can_run("traffic_resumes_after_the_gateway_restarts") {
        return;
    }
    let mut topo = Topology::new("rs").expect("topology");
    let mut client = connect(&topo);
    topo.kill_wireguard_go();
    // Traffic while the gateway is down: the client must not give up.
    assert!(
        topo.ping_from_client(V4, 2, 1).is_err(),
        "ping through a dead gateway"
    );
    topo.start_wireguard_go().expect("restart wireguard-go");
    let t = Instant::now();
    let limit = Duration::from_secs(60);
    while topo.ping_from_client(V4, 1, 1).is_err() {
        assert!(client.is_running(), "client exited: {}", client.log_text());
        assert!(
            t.elapsed() < limit,
            "no traffic {limit:?} after the gateway restarted; client log:\n{}\n{}",
            client.log_text(),
            context(&topo)
        );
    }
    eprintln!("traffic resumed {:?} after the restart", t.elapsed());
    download_and_check(&topo, V6, &client);
    disconnect(&mut client);
}

#[test]
fn download_survives_the_client_changing_its_address() {
    if !can_run("download_survives_the_client_changing_its_address") {
        return;
    }
    let topo = Topology::new("rm").expect("topology");
    let mut client = connect(&topo);
    let progress = Progress::default();
    // About 5 s at 4 MB/s, so the move happens mid-transfer.
    let dl = download(
        &topo.client_ns,
        V4,
        progress.clone(),
        Some(4 << 20),
        DOWNLOAD_TIMEOUT,
    );
    assert!(
        netns::wait_until(Duration::from_secs(30), || progress.load(Ordering::Relaxed)
            > (netns::BLOB_LEN / 4) as u64),
        "download did not reach 25 %: {} bytes",
        progress.load(Ordering::Relaxed)
    );
    topo.roam_client().expect("move the client's outer address");
    let at = progress.load(Ordering::Relaxed);
    let body = dl.join().expect("download thread").unwrap_or_else(|e| {
        panic!(
            "{e}\nclient log:\n{}\n{}",
            client.log_text(),
            context(&topo)
        )
    });
    check_blob(&body).expect("download across the move");
    assert!(
        at < netns::BLOB_LEN as u64,
        "the move happened after the transfer"
    );
    let dump = topo.gateway_wg_dump();
    let roamed = format!("{CLIENT_ROAM_V4}:{CLIENT_LISTEN_PORT}");
    assert!(
        dump.contains(&roamed),
        "the gateway did not learn the client's new endpoint {roamed}:\n{dump}"
    );
    assert!(!dump.contains(&format!("{CLIENT_OUTER_V4}:")), "{dump}");
    disconnect(&mut client);
}

#[test]
fn download_completes_with_3_percent_loss_and_20ms_delay() {
    if !can_run("download_completes_with_3_percent_loss_and_20ms_delay") {
        return;
    }
    let topo = Topology::new("ls").expect("topology");
    // This machine's kernel has no sch_netem, so `tc … netem loss 3% delay 20ms` is replaced by
    // a relay in the gateway ns that does the same to every datagram, both ways.
    let relay_addr = SocketAddr::new(IpAddr::V4(GATEWAY_OUTER_V4), GATEWAY_LISTEN_PORT + 1);
    let relay = ImpairedRelay::start(
        &topo.gateway_ns,
        relay_addr,
        SocketAddr::new(IpAddr::V4(GATEWAY_OUTER_V4), GATEWAY_LISTEN_PORT),
        0.03,
        Duration::from_millis(20),
    )
    .expect("start the lossy relay");
    topo.set_client_endpoint(relay_addr).expect("endpoint");
    let mut client = connect(&topo);
    let t = Instant::now();
    download_and_check(&topo, V4, &client);
    let (fwd, lost) = (
        relay.forwarded.load(Ordering::Relaxed),
        relay.dropped.load(Ordering::Relaxed),
    );
    eprintln!(
        "20 MB with 3 % loss and 20 ms each way in {:?}: relay forwarded {fwd}, dropped {lost}",
        t.elapsed()
    );
    assert!(
        lost > 0,
        "the relay dropped nothing: the test tested nothing"
    );
    disconnect(&mut client);
}

/// Well-formed handshake initiations for the client's public key from keys it doesn't know:
/// they pass the MAC1 check and reach the Noise handshake, where they must be refused.
fn unknown_key_initiations(client_public: &str, n: usize) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    use boringtun::noise::{Tunn, TunnResult};
    use boringtun::x25519::{PublicKey, StaticSecret};
    let raw = base64::engine::general_purpose::STANDARD
        .decode(client_public)
        .expect("client public key is base64");
    let peer: [u8; 32] = raw.try_into().expect("32-byte key");
    let mut rng = XorShift(0x1234_5678_9abc_def1 ^ u64::from(std::process::id()));
    (0..n)
        .map(|i| {
            let mut secret = [0u8; 32];
            rng.fill(&mut secret);
            let mut tunn = Tunn::new(
                StaticSecret::from(secret),
                PublicKey::from(peer),
                None,
                None,
                u32::try_from(i).unwrap_or(0),
                None,
            );
            let mut buf = vec![0u8; 256];
            match tunn.format_handshake_initiation(&mut buf, true) {
                TunnResult::WriteToNetwork(p) => p.to_vec(),
                _ => panic!("boringtun did not format an initiation"),
            }
        })
        .collect()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            let r = self.next().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The i-th hostile datagram: random bytes, truncated or garbage handshake messages, data
/// messages with random receiver indexes, oversized data, replays of valid-MAC1 initiations
/// from unknown keys, and replays of what the gateway really sent the client (its handshake
/// response and data messages, whose counters the client has already seen).
fn hostile(i: usize, rng: &mut XorShift, initiations: &[Vec<u8>], captured: &[Vec<u8>]) -> Vec<u8> {
    let with_type = |t: u8, len: usize, rng: &mut XorShift| {
        let mut p = vec![0u8; len];
        rng.fill(&mut p);
        if len >= 4 {
            p[..4].copy_from_slice(&[t, 0, 0, 0]);
        }
        p
    };
    match i % 9 {
        8 if !captured.is_empty() => captured[rng.below(captured.len())].clone(),
        0 => with_type(rng.next() as u8, 1 + rng.below(1400), rng),
        1 => with_type(1, 4 + rng.below(144), rng), // truncated initiation
        2 => with_type(1, 148, rng),                // initiation with a bad MAC1
        3 => with_type(2, 92, rng),                 // response to nothing
        4 => with_type(3, 64, rng),                 // cookie reply to nothing
        5 => with_type(4, 32 + rng.below(1400), rng), // data, random receiver index
        6 => initiations[rng.below(initiations.len())].clone(), // replayed initiation
        7 => with_type(4, 1500 + rng.below(2500), rng), // oversized data (fragmented)
        _ => with_type(rng.next() as u8, rng.below(32), rng), // tiny
    }
}

#[test]
fn hostile_datagrams_do_not_disturb_a_download() {
    if !can_run("hostile_datagrams_do_not_disturb_a_download") {
        return;
    }
    const COUNT: usize = 100_000;
    let topo = Topology::new("ho").expect("topology");
    // The client talks to the gateway through a relay (no loss, no delay) that records what the
    // gateway sends, for replays.
    let relay_addr = SocketAddr::new(IpAddr::V4(GATEWAY_OUTER_V4), GATEWAY_LISTEN_PORT + 1);
    let relay = ImpairedRelay::start(
        &topo.gateway_ns,
        relay_addr,
        SocketAddr::new(IpAddr::V4(GATEWAY_OUTER_V4), GATEWAY_LISTEN_PORT),
        0.0,
        Duration::ZERO,
    )
    .expect("start the relay");
    topo.set_client_endpoint(relay_addr).expect("endpoint");
    let mut client = connect(&topo);
    // Some data from the gateway to replay: pings and their replies.
    topo.ping_from_client(V4, 5, 2).expect("ping");
    let captured = relay.captured.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(
        captured.iter().any(|p| p.first() == Some(&2)),
        "the relay did not see the gateway's handshake response"
    );
    assert!(
        captured.iter().any(|p| p.first() == Some(&4)),
        "the relay did not see data from the gateway"
    );
    let before = status_json(&topo, &client);
    let udp_before = Topology::udp_counters(&topo.client_ns).expect("udp counters");
    let initiations = unknown_key_initiations(&topo.client_public, 16);

    let progress = Progress::default();
    let dl = download(
        &topo.client_ns,
        V4,
        progress.clone(),
        Some(5 << 20),
        DOWNLOAD_TIMEOUT,
    );
    let target = SocketAddr::new(IpAddr::V4(CLIENT_OUTER_V4), CLIENT_LISTEN_PORT);
    let sender = netns::spawn_in_netns(&topo.gateway_ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let (mut sent, mut cookie_eligible) = (0u64, 0u64);
        for i in 0..COUNT {
            let p = hostile(i, &mut rng, &initiations, &captured);
            if sock.send_to(&p, target).is_ok() {
                sent += 1;
                // Handshake messages with a valid MAC1 may be answered with a cookie reply
                // (WireGuard's answer under load) instead of being dropped.
                if initiations.contains(&p) || (p.first() == Some(&2) && captured.contains(&p)) {
                    cookie_eligible += 1;
                }
            }
            // ~50,000 datagrams/s: a flood, but one the kernel can queue.
            if i % 500 == 499 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok((sent, cookie_eligible))
    });
    let (sent, cookie_eligible) = sender
        .join()
        .expect("sender thread")
        .expect("send hostile datagrams");
    let body = dl.join().expect("download thread").unwrap_or_else(|e| {
        panic!(
            "{e}\nclient log:\n{}\n{}",
            client.log_text(),
            context(&topo)
        )
    });
    check_blob(&body).expect("download during the flood");
    assert!(client.is_running(), "client died: {}", client.log_text());
    topo.ping_from_client(V6, 2, 2)
        .expect("ping v6 after the flood");

    let after = status_json(&topo, &client);
    let udp_after = Topology::udp_counters(&topo.client_ns).expect("udp counters");
    let delta = |name: &str| {
        let get = |v: &[(String, u64)]| v.iter().find(|(n, _)| n == name).map_or(0, |(_, x)| *x);
        get(&udp_after).saturating_sub(get(&udp_before))
    };
    let kernel_dropped = delta("RcvbufErrors");
    eprintln!(
        "sent {sent} hostile datagrams; the kernel dropped {kernel_dropped} (receive buffer full)"
    );
    let text = after.to_string();
    let relay_text = relay_addr.to_string();
    assert!(
        reference_run() || !text.contains("\"endpoint\"") || text.contains(&relay_text),
        "the client's peer endpoint moved away from {relay_text} during the flood: {after}"
    );
    match (drop_counters(&before), drop_counters(&after)) {
        (Some(b), Some(a)) => {
            let counted = a.saturating_sub(b);
            let delivered = sent.saturating_sub(kernel_dropped);
            let answered = cookie_replies(&after).saturating_sub(cookie_replies(&before));
            eprintln!(
                "gatehouse counted {counted} dropped of {delivered} delivered; about {answered} \
                 answered with a cookie reply ({cookie_eligible} were valid-MAC1 handshakes)"
            );
            assert!(
                counted + cookie_eligible >= delivered,
                "drop counters rose by {counted}, but {delivered} hostile datagrams reached the \
                 socket and only {cookie_eligible} of them could be answered with a cookie \
                 reply; status before: {before}\nafter: {after}"
            );
        }
        _ => eprintln!("note: gatehouse status --json has no drop counter: {after}"),
    }
    disconnect(&mut client);
}

#[test]
fn exit_restores_routes_rules_addresses_and_resolv_conf() {
    if !can_run("exit_restores_routes_rules_addresses_and_resolv_conf") {
        return;
    }
    let topo = Topology::new("rv").expect("topology");
    let before = topo.client_snapshot().expect("snapshot before");
    let mut client = connect(&topo);
    let during = topo.client_snapshot().expect("snapshot while connected");
    assert!(
        during.contains(&format!("{CLIENT_TUNNEL_V4}/32")),
        "no tunnel address while connected:\n{during}"
    );
    let resolv = std::fs::read_to_string(topo.client_resolv_conf()).unwrap_or_default();
    assert!(
        reference_run() || resolv.contains(&CLIENT_DNS.to_string()),
        "the .conf's DNS {CLIENT_DNS} is not in the namespace's /etc/resolv.conf:\n{resolv}"
    );
    disconnect(&mut client);
    let after = topo.client_snapshot().expect("snapshot after");
    assert_eq!(
        before, after,
        "the client namespace differs after gatehouse exited (left: before, right: after)"
    );
    // Nothing of the tunnel is left in the namespace either (a second run could start clean).
    let links = ns_run(&topo.client_ns, "ip", &["-o", "link"]).expect("ip link");
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&topo.client_if));
}
