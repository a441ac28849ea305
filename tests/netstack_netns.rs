//! End-to-end: the no-root client (`gatehouse-noroot`, the `Netstack` API of
//! `gatehouse-netstack`) against Debian's wireguard-go as the gateway, in network namespaces.
//!
//! The client runs in the client ns as the unprivileged user `nobody` (no TUN, no
//! capabilities); curl and raw sockets in the same ns go through its SOCKS5 and HTTP proxies
//! and forwards to the lan host behind wireguard-go, which serves a 20 MB file over HTTP and
//! (in these tests) names through a DNS responder at the profile's `DNS` address.
//!
//! Needs root for the namespaces. Without root the tests print a skip notice and pass, unless
//! `GATEHOUSE_E2E_REQUIRE=1`, where they fail. The binary is `$GATEHOUSE_NOROOT_BIN`, else
//! `gatehouse-noroot` beside the test executable's directory
//! (`cargo build -p gatehouse-netstack --bins` first).

use gatehouse_e2e::netns::{self, check_blob, ip, spawn_in_netns, Topology};
use gatehouse_e2e::netstack::{
    curl, read_to_close, socks_connect, DnsResponder, NoRoot, SocksTarget, NOBODY,
};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const LAN_V4: IpAddr = IpAddr::V4(netns::LAN_HOST_V4);
const LAN_V6: IpAddr = IpAddr::V6(netns::LAN_HOST_V6);
const NAME: &str = "web.e2e.example";

/// Root and the tools of these tests (see `gatehouse_e2e::can_run`).
fn can_run(test: &str) -> bool {
    gatehouse_e2e::can_run(test, true, &["ip", "wg", "wireguard-go", "curl", "setpriv"])
}

/// The topology plus a DNS responder at the profile's DNS address in the lan ns.
fn setup(tag: &str) -> (Topology, DnsResponder) {
    let topo = Topology::new(tag).expect("topology");
    let dns_ip = format!("{}/24", netns::CLIENT_DNS);
    ip(&["-n", &topo.lan_ns, "addr", "add", &dns_ip, "dev", "to-gw"]).expect("dns address");
    let mut names = HashMap::new();
    names.insert(NAME.to_owned(), vec![LAN_V4, LAN_V6]);
    names.insert("v6only.e2e.example".to_owned(), vec![LAN_V6]);
    let dns = DnsResponder::start(&topo.lan_ns, IpAddr::V4(netns::CLIENT_DNS), names)
        .expect("dns responder");
    (topo, dns)
}

fn blob_via(ns: &str, args: &[&str], what: &str, client: &NoRoot) {
    let (code, body, err) = curl(ns, args);
    assert_eq!(
        code,
        0,
        "{what}: curl failed: {err}\nclient log:\n{}",
        client.log_text()
    );
    check_blob(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[test]
fn proxies_and_forwards_fetch_intact_as_nobody() {
    if !can_run("proxies_and_forwards_fetch_intact_as_nobody") {
        return;
    }
    let (topo, _dns) = setup("np");
    let fwd = format!("0={}:{}", netns::LAN_HOST_V4, netns::HTTP_PORT);
    let udp_fwd = format!("udp/0={}:53", netns::CLIENT_DNS);
    let client = NoRoot::start(
        &topo.client_ns,
        &topo.client_conf,
        &topo.dir,
        &[
            "--socks",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--forward",
            &fwd,
            "--forward",
            &udp_fwd,
        ],
    )
    .expect("client starts");
    assert_eq!(
        client.uid(),
        Some(NOBODY),
        "the client must run unprivileged"
    );
    let socks = client.socks.expect("socks address").to_string();
    let http = client.http.expect("http address").to_string();
    let (fwd_local, _) = client.forwards.first().cloned().expect("forward");
    let (udp_local, _) = client.forwards.get(1).cloned().expect("udp forward");
    let c = &topo.client_ns;
    let port = netns::HTTP_PORT;

    // SOCKS5, the name resolved through the profile's DNS inside the tunnel.
    blob_via(
        c,
        &[
            "--socks5-hostname",
            &socks,
            &format!("http://{NAME}:{port}/blob"),
        ],
        "socks5 by name",
        &client,
    );
    // SOCKS5 with an IPv4 address, and an IPv6 address (curl resolves nothing here).
    blob_via(
        c,
        &["--socks5", &socks, &format!("http://{LAN_V4}:{port}/blob")],
        "socks5 by IPv4",
        &client,
    );
    blob_via(
        c,
        &[
            "--socks5",
            &socks,
            &format!("http://[{LAN_V6}]:{port}/blob"),
        ],
        "socks5 by IPv6",
        &client,
    );
    blob_via(
        c,
        &[
            "--socks5-hostname",
            &socks,
            &format!("http://v6only.e2e.example:{port}/blob"),
        ],
        "socks5 by name, AAAA only",
        &client,
    );
    // HTTP proxy: plain absolute-URI GET, and CONNECT.
    blob_via(
        c,
        &[
            "--proxy",
            &format!("http://{http}"),
            &format!("http://{NAME}:{port}/blob"),
        ],
        "http proxy GET",
        &client,
    );
    blob_via(
        c,
        &[
            "--proxytunnel",
            "--proxy",
            &format!("http://{http}"),
            &format!("http://{LAN_V4}:{port}/blob"),
        ],
        "http proxy CONNECT",
        &client,
    );
    // The TCP forward.
    blob_via(
        c,
        &[&format!("http://{fwd_local}/blob")],
        "tcp forward",
        &client,
    );

    // The UDP forward: a DNS query to the lan's DNS server, the answer back.
    let answer = spawn_in_netns(c, move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in NAME.split('.') {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut buf = [0u8; 512];
        for _ in 0..5 {
            sock.send_to(&query, udp_local).map_err(|e| e.to_string())?;
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                return Ok(buf[..n].to_vec());
            }
        }
        Err("no answer through the UDP forward".to_owned())
    })
    .join()
    .expect("thread")
    .expect("dns through the udp forward");
    assert_eq!(&answer[..2], &[0x12, 0x34], "answer to our query");
    assert!(
        answer.ends_with(&[10, 203, 0, 2]),
        "A record of {NAME}: {answer:?}"
    );

    // SOCKS5 UDP ASSOCIATE: the same query through the proxy's UDP relay.
    let socks_addr = client.socks.expect("socks address");
    let answer = spawn_in_netns(c, move || {
        let mut ctl = TcpStream::connect(socks_addr).map_err(|e| e.to_string())?;
        ctl.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        ctl.write_all(&[5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
            .map_err(|e| e.to_string())?;
        let mut r = [0u8; 12];
        std::io::Read::read_exact(&mut ctl, &mut r).map_err(|e| format!("reply: {e}"))?;
        if r[..4] != [5, 0, 5, 0] || r[5] != 1 {
            return Err(format!("UDP ASSOCIATE reply {r:?}"));
        }
        let relay =
            SocketAddr::from(([r[6], r[7], r[8], r[9]], u16::from_be_bytes([r[10], r[11]])));
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        let mut dg = vec![0, 0, 0, 1];
        dg.extend_from_slice(&netns::CLIENT_DNS.octets());
        dg.extend_from_slice(&53u16.to_be_bytes());
        dg.extend_from_slice(&[0x56, 0x78, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in NAME.split('.') {
            dg.push(label.len() as u8);
            dg.extend_from_slice(label.as_bytes());
        }
        dg.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut buf = [0u8; 600];
        for _ in 0..5 {
            sock.send_to(&dg, relay).map_err(|e| e.to_string())?;
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                return Ok(buf[..n].to_vec());
            }
        }
        Err("no answer through UDP ASSOCIATE".to_owned())
    })
    .join()
    .expect("thread")
    .expect("dns through socks5 udp associate");
    let dns = netns::CLIENT_DNS.octets();
    assert_eq!(
        &answer[..10],
        &[0, 0, 0, 1, dns[0], dns[1], dns[2], dns[3], 0, 53],
        "header names the DNS server"
    );
    assert_eq!(&answer[10..12], &[0x56, 0x78], "answer to our query");
    assert!(answer.ends_with(&[10, 203, 0, 2]), "A record: {answer:?}");

    // Clear errors: an unknown name, a refused port, an address outside AllowedIPs.
    let (code, _, err) = curl(
        c,
        &[
            "--socks5-hostname",
            &socks,
            &format!("http://nope.e2e.example:{port}/"),
        ],
    );
    assert_ne!(code, 0, "unknown name must fail");
    assert!(
        err.contains("SOCKS") || err.contains("socks"),
        "curl said: {err}"
    );
    let (code, body, _) = curl(
        c,
        &[
            "--proxy",
            &format!("http://{http}"),
            &format!("http://{LAN_V4}:9/"),
        ],
    );
    assert_eq!(code, 0, "the proxy answers with a status");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("refused"), "body: {body}");
    let (_, out, _) = curl(
        c,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--proxy",
            &format!("http://{http}"),
            "http://192.0.2.1/",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "502",
        "outside AllowedIPs → 502"
    );
}

/// Opens `n` SOCKS5 connections to the lan HTTP server from the client ns and returns them.
fn open_many(ns: &str, socks: SocketAddr, n: usize) -> Vec<TcpStream> {
    spawn_in_netns(ns, move || {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let mut s = TcpStream::connect_timeout(&socks, Duration::from_secs(10))
                .map_err(|e| format!("connect #{i}: {e}"))?;
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(|e| e.to_string())?;
            let code = socks_connect(
                &mut s,
                SocksTarget::Addr(SocketAddr::new(LAN_V4, netns::HTTP_PORT)),
            )?;
            if code != 0 {
                return Err(format!("connection #{i}: SOCKS reply {code}"));
            }
            v.push(s);
        }
        Ok(v)
    })
    .join()
    .expect("thread")
    .expect("1000 connections")
}

#[test]
fn thousand_connections_garbage_half_open_and_idle() {
    if !can_run("thousand_connections_garbage_half_open_and_idle") {
        return;
    }
    let (topo, _dns) = setup("nl");
    let mut client = NoRoot::start(
        &topo.client_ns,
        &topo.client_conf,
        &topo.dir,
        &[
            "--socks",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--max-connections",
            "1100",
            "--idle-timeout",
            "15",
            "--handshake-timeout",
            "3",
        ],
    )
    .expect("client starts");
    let socks = client.socks.expect("socks");
    let http = client.http.expect("http");
    let c = topo.client_ns.clone();
    let idle_rss = client.rss_kib().expect("rss");

    // 1,000 concurrent proxied connections, all established.
    let t0 = Instant::now();
    let mut conns = open_many(&c, socks, 1000);
    eprintln!("1000 SOCKS connections in {:?}", t0.elapsed());

    // Garbage and half-open clients meanwhile.
    let garbage = spawn_in_netns(&c, move || {
        let mut results = Vec::new();
        let cases: [&[u8]; 6] = [
            b"GET / HTTP/1.1\r\n\r\n",
            &[4, 1, 0, 80, 10, 0, 0, 1, 0],
            &[5, 1, 2],
            &[5, 1, 0, 5, 9, 0, 1, 1, 2, 3, 4, 0, 80],
            &[5, 1, 0, 5, 1, 0, 7, 1, 2],
            &[0xff; 300],
        ];
        for case in cases {
            let mut s = TcpStream::connect(socks).map_err(|e| e.to_string())?;
            let _ = s.write_all(case);
            let (reply, closed) = read_to_close(&mut s, Duration::from_secs(5));
            results.push((case.to_vec(), reply, closed));
        }
        // Half-open: connect, say nothing; must be closed after the handshake timeout.
        let mut idle = TcpStream::connect(socks).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let (_, closed) = read_to_close(&mut idle, Duration::from_secs(10));
        Ok((results, closed, t.elapsed()))
    });

    // Others unaffected: a full download through the proxy while all that is open.
    let socks_s = socks.to_string();
    let (code, body, err) = curl(
        &c,
        &[
            "--socks5-hostname",
            &socks_s,
            &format!("http://{NAME}:{}/blob", netns::HTTP_PORT),
        ],
    );
    assert_eq!(
        code,
        0,
        "download beside 1000 connections: {err}\n{}",
        client.log_text()
    );
    check_blob(&body).expect("blob intact beside 1000 connections");

    let (results, half_open_closed, half_open_after) =
        garbage.join().expect("thread").expect("garbage clients");
    for (case, reply, closed) in &results {
        assert!(closed, "garbage {case:?} left open (reply {reply:?})");
        // Either closed without reply, or a proper SOCKS5 refusal.
        assert!(
            reply.is_empty()
                || reply == &[5, 0xFF]
                || (reply.len() >= 4 && reply[..2] == [5, 0] && reply[2] == 5),
            "garbage {case:?}: unexpected reply {reply:?}"
        );
    }
    assert!(half_open_closed, "half-open client not closed");
    assert!(
        half_open_after < Duration::from_secs(8),
        "half-open closed after {half_open_after:?}"
    );

    // Each of the 1000 still works: one request each, a 404 back.
    let busy_rss = client.rss_kib().expect("rss");
    let answered = spawn_in_netns(&c, move || {
        let mut ok = 0;
        for s in conns.iter_mut() {
            if s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
                .is_ok()
            {
                let (reply, _) = read_to_close(s, Duration::from_secs(20));
                if reply.starts_with(b"HTTP/1.1 404") {
                    ok += 1;
                }
            }
        }
        Ok(ok)
    })
    .join()
    .expect("thread")
    .expect("requests");
    assert_eq!(answered, 1000, "every connection answered");

    // Past the cap: 1100 clients max. Hold 1100 idle SOCKS connections, then one more.
    let held = open_many(&c, socks, 1100);
    let (code, _, err) = curl(
        &c,
        &[
            "--socks5",
            &socks_s,
            &format!("http://{LAN_V4}:{}/blob", netns::HTTP_PORT),
        ],
    );
    assert_ne!(code, 0, "past the cap must fail");
    assert!(
        err.contains("SOCKS") || err.contains("socks"),
        "curl said: {err}"
    );
    let (_, body, _) = curl(
        &c,
        &[
            "--proxy",
            &format!("http://{http}"),
            &format!("http://{LAN_V4}:{}/", netns::HTTP_PORT),
        ],
    );
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("too many connections"),
        "HTTP past the cap: {body}"
    );

    // Idle: after the idle timeout the held connections are closed by the client.
    let closed = spawn_in_netns(&c, move || {
        let mut held = held;
        let mut closed = 0;
        for s in held.iter_mut() {
            let (_, c) = read_to_close(s, Duration::from_secs(40));
            if c {
                closed += 1;
            }
        }
        Ok(closed)
    })
    .join()
    .expect("thread")
    .expect("idle");
    assert_eq!(closed, 1100, "idle connections closed");
    let after_rss = client.rss_kib().expect("rss");
    eprintln!("RSS: idle {idle_rss} KiB, 1000 connections {busy_rss} KiB, after {after_rss} KiB");
    assert!(
        busy_rss < 128 * 1024,
        "RSS under 1000 connections: {busy_rss} KiB"
    );
    assert!(client.is_running(), "client still running");
    // And it still serves.
    let (code, body, err) = curl(
        &c,
        &[
            "--socks5-hostname",
            &socks_s,
            &format!("http://{NAME}:{}/blob", netns::HTTP_PORT),
        ],
    );
    assert_eq!(code, 0, "download after the load: {err}");
    check_blob(&body).expect("blob intact after the load");
}
