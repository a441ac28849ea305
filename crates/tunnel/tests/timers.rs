//! Time-driven behaviour with the fake clock: retries, rekey, keepalives, loss and reordering,
//! re-resolution, staleness, cookies under load.
//!
//! Run with `cargo test -p gatehouse-tunnel --features mock-clock`. The clock is thread-local
//! (mock_instant 0.3 without `sync`), so these tests run in parallel safely; each starts at its
//! own thread's time zero.
#![cfg(feature = "mock-clock")]

mod support;

use std::time::Duration;

use gatehouse_tunnel::{DropReason, Endpoint, Event, Tunnel, TunnelConfig, UdpOutcome};
use support::*;

fn data_from(net: &Net, from: std::net::SocketAddr) -> impl Iterator<Item = &Datagram> {
    net.sent
        .iter()
        .filter(move |d| d.from == from && d.kind() == 4)
}

fn keepalives_from(net: &Net, from: std::net::SocketAddr) -> usize {
    data_from(net, from).filter(|d| d.bytes.len() == 32).count()
}

#[test]
fn lost_initiation_is_retried_after_rekey_timeout() {
    let (mut net, _, _) = pair(21);
    net.drop_next = 1;
    let p = ipv4("10.0.0.1", "10.0.0.2", b"patience");
    assert_eq!(net.send_ip(A, &p), "queued");
    net.run();
    net.advance(secs(4));
    assert_eq!(net.handshakes(A), 0);
    assert!(net.nodes[B].tun.is_empty());
    net.advance(Duration::from_millis(1500));
    assert_eq!(
        net.handshakes(A),
        1,
        "second initiation after REKEY_TIMEOUT (5 s)"
    );
    assert_eq!(net.nodes[B].tun, vec![p]);
    let st = net.nodes[A].tunnel.stats().next().expect("peer");
    assert_eq!(st.handshake_attempts_total, 2);
    assert_eq!(st.handshake_attempts, 0);
}

#[test]
fn rekey_after_rekey_after_time_keeps_data_flowing() {
    let (mut net, _, _) = pair(22);
    handshake(&mut net);
    let mut sent_ab = 1;
    let mut sent_ba = 0;
    for s in 0..130u32 {
        net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", &s.to_be_bytes()));
        net.send_ip(B, &ipv4("10.0.0.2", "10.0.0.1", &s.to_be_bytes()));
        sent_ab += 1;
        sent_ba += 1;
        net.run();
        net.advance(secs(1));
    }
    assert!(
        net.handshakes(A) >= 2,
        "rekeyed: {} handshakes",
        net.handshakes(A)
    );
    assert!(net.handshakes(B) >= 2);
    assert_eq!(net.nodes[B].tun.len(), sent_ab);
    assert_eq!(net.nodes[A].tun.len(), sent_ba);
    let st = net.nodes[A].tunnel.stats().next().expect("peer");
    assert!(
        st.session_age.expect("session") < secs(20),
        "{:?}",
        st.session_age
    );
    assert_eq!(net.nodes[A].tunnel.drop_counters().total(), 0);
    assert_eq!(net.nodes[B].tunnel.drop_counters().total(), 0);
}

#[test]
fn passive_keepalive_after_receiving_without_replying() {
    let (mut net, _, _) = pair(23);
    // B last sent at t=0 (its handshake response).
    handshake(&mut net);
    net.advance(secs(1));
    // A sends at t=1; B receives and has nothing to say back.
    net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", b"one way"));
    net.run();
    let b_addr = net.nodes[B].addr;
    assert_eq!(keepalives_from(&net, b_addr), 0);
    net.advance(secs(8));
    assert_eq!(keepalives_from(&net, b_addr), 0);
    net.advance(secs(2));
    assert_eq!(
        keepalives_from(&net, b_addr),
        1,
        "KEEPALIVE_TIMEOUT (10 s) after B's last send, having received since"
    );
    net.advance(secs(30));
    assert_eq!(
        keepalives_from(&net, b_addr),
        1,
        "only one per received burst"
    );
}

#[test]
fn persistent_keepalive_starts_the_session_and_repeats() {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(24);
    let mut pb = peer(&b, &["10.0.0.2/32"], Some("192.0.2.2:51820"));
    pb.persistent_keepalive = Some(25);
    net.add("a", &a, "192.0.2.1:51820", vec![pb]);
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(&a, &["10.0.0.1/32"], None)],
    );
    net.advance(secs(24));
    assert!(net.sent.is_empty());
    net.advance(secs(2));
    assert_eq!(
        net.handshakes(A),
        1,
        "persistent keepalive with no session handshakes"
    );
    assert_eq!(net.handshakes(B), 1);
    let a_addr = net.nodes[A].addr;
    let at_26 = keepalives_from(&net, a_addr);
    net.advance(secs(100));
    let more = keepalives_from(&net, a_addr) - at_26;
    assert!(
        (3..=5).contains(&more),
        "{more} keepalives in 100 s at 25 s interval"
    );
    // B learned A's endpoint from the handshake and saw the keepalives.
    let sb = net.nodes[B].tunnel.stats().next().expect("peer");
    assert_eq!(sb.endpoint, Some(a_addr));
    assert_eq!(sb.rx_packets, 0, "keepalives are not packets");
    assert!(sb.rx_bytes >= 148 + 32 * more as u64);
}

#[test]
fn lossy_reordering_network_delivers_each_packet_at_most_once() {
    for seed in [31u64, 32, 33] {
        let (mut net, _, _) = pair(seed);
        net.loss_percent = 10;
        net.reorder_percent = 30;
        let mut id = 0u32;
        for _ in 0..240 {
            for _ in 0..2 {
                id += 1;
                net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", &id.to_be_bytes()));
                id += 1;
                net.send_ip(B, &ipv4("10.0.0.2", "10.0.0.1", &id.to_be_bytes()));
            }
            net.advance(Duration::from_millis(250));
        }
        for (node, parity) in [(B, 1u32), (A, 0u32)] {
            let ids: Vec<u32> = net.nodes[node]
                .tun
                .iter()
                .map(|p| u32::from_be_bytes([p[20], p[21], p[22], p[23]]))
                .collect();
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                ids.len(),
                "seed {seed}: a packet was delivered twice"
            );
            assert!(
                ids.iter().all(|i| i % 2 == parity && *i <= id),
                "seed {seed}: unknown packet"
            );
            // 480 sent per direction; 10 % lost on the wire, some while handshaking.
            assert!(
                ids.len() >= 360,
                "seed {seed}: only {} of 480 delivered",
                ids.len()
            );
            let dc = net.nodes[node].tunnel.drop_counters();
            assert_eq!(dc.get(DropReason::DecryptFailed), 0, "seed {seed}");
            assert_eq!(
                dc.get(DropReason::Replay),
                0,
                "seed {seed}: reordering is within the window"
            );
        }
        assert!(
            net.lost.len() > 50,
            "seed {seed}: the network did lose datagrams"
        );
    }
}

#[test]
fn name_endpoint_is_resolved_again_when_handshakes_keep_failing() {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(25);
    let mut pb = peer(&b, &["10.0.0.2/32"], None);
    pb.endpoint = Some(Endpoint::Name {
        host: "vpn.example".into(),
        port: 51820,
    });
    net.add("a", &a, "192.0.2.1:51820", vec![pb]);
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(&a, &["10.0.0.1/32"], None)],
    );
    let resolves = |net: &Net| net.count_events(A, |e| matches!(e, Event::ResolveEndpoint { .. }));
    assert_eq!(resolves(&net), 1, "asked at start");
    // The first answer is stale: nobody listens there.
    net.nodes[A]
        .tunnel
        .set_endpoint(&b.public, addr("192.0.2.99:51820"));
    let p = ipv4("10.0.0.1", "10.0.0.2", b"via the right address");
    assert_eq!(net.send_ip(A, &p), "queued");
    net.run();
    net.advance(secs(14));
    assert_eq!(resolves(&net), 1);
    net.advance(secs(2));
    assert_eq!(
        resolves(&net),
        2,
        "asked again after 15 s of failing handshakes"
    );
    assert_eq!(
        net.nodes[A]
            .events
            .iter()
            .rev()
            .find(|e| matches!(e, Event::ResolveEndpoint { .. })),
        Some(&Event::ResolveEndpoint {
            peer: b.public,
            host: "vpn.example".into(),
            port: 51820
        })
    );
    net.nodes[A]
        .tunnel
        .set_endpoint(&b.public, addr("192.0.2.2:51820"));
    net.advance(secs(6));
    assert_eq!(net.handshakes(A), 1);
    assert_eq!(net.nodes[B].tun, vec![p]);
    net.advance(secs(60));
    assert_eq!(
        resolves(&net),
        2,
        "no more requests once the handshake works"
    );
}

#[test]
fn unanswered_peer_goes_stale_and_drops_its_queue() {
    let (mut net, _, b) = pair(26);
    net.blackhole = Some(|d| d.to == addr("192.0.2.2:51820"));
    for i in 0..3u8 {
        net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", &[i]));
    }
    net.advance(secs(89));
    assert_eq!(
        net.count_events(A, |e| matches!(e, Event::PeerStale { .. })),
        0
    );
    let st = net.nodes[A].tunnel.stats().next().expect("peer");
    assert!(
        st.handshake_attempts >= 17,
        "retried every 5 s: {}",
        st.handshake_attempts
    );
    assert_eq!(st.queued, 3);
    net.advance(secs(2));
    assert_eq!(
        net.nodes[A]
            .events
            .iter()
            .filter(|e| matches!(e, Event::PeerStale { .. }))
            .collect::<Vec<_>>(),
        vec![&Event::PeerStale { peer: b.public }]
    );
    assert_eq!(
        net.nodes[A]
            .tunnel
            .drop_counters()
            .get(DropReason::HandshakeTimeout),
        3
    );
    let sent = net.sent.len();
    net.advance(secs(30));
    assert_eq!(net.sent.len(), sent, "quiet while stale");
    assert_eq!(
        net.count_events(A, |e| matches!(e, Event::PeerStale { .. })),
        1
    );
    // A new packet starts over, and works once the path is back.
    net.blackhole = None;
    let p = ipv4("10.0.0.1", "10.0.0.2", b"again");
    assert_eq!(net.send_ip(A, &p), "queued");
    net.run();
    assert_eq!(net.handshakes(A), 1);
    assert_eq!(net.nodes[B].tun, vec![p]);
}

#[test]
fn session_expires_without_traffic_and_a_new_packet_rehandshakes() {
    let (mut net, _, _) = pair(27);
    handshake(&mut net);
    net.advance(secs(200)); // > REJECT_AFTER_TIME (180 s)
    let st = net.nodes[A].tunnel.stats().next().expect("peer");
    assert_eq!(st.session_age, None, "keys dropped after REJECT_AFTER_TIME");
    let p = ipv4("10.0.0.1", "10.0.0.2", b"later");
    assert_eq!(net.send_ip(A, &p), "queued");
    net.run();
    assert_eq!(net.handshakes(A), 2);
    assert_eq!(net.nodes[B].tun.last(), Some(&p));
}

#[test]
fn under_load_the_responder_answers_with_cookies_and_the_initiator_gets_through() {
    let (mut net, a, b) = pair(28);
    // Capture a real initiation from a throwaway twin of A (same key) to use as load.
    let mut twin = Tunnel::new(
        TunnelConfig {
            private_key: a.secret,
            peers: vec![peer(&b, &["10.0.0.2/32"], Some("192.0.2.2:51820"))],
        },
        now(),
    )
    .expect("twin");
    let mut buf = [0u8; BUF];
    let _ = twin.handle_tun_packet(&ipv4("10.0.0.1", "10.0.0.2", b"x"), &mut buf, now());
    let (_, n) = twin.poll_transmit(&mut buf).expect("initiation");
    let load = buf[..n].to_vec();
    let flood = |net: &mut Net| {
        let mut out = [0u8; BUF];
        let mut cookies = 0;
        for _ in 0..300 {
            if let UdpOutcome::Reply { datagram, .. } = net.nodes[B].tunnel.handle_udp_datagram(
                addr("203.0.113.9:9"),
                &load,
                &mut out,
                now(),
            ) {
                cookies += usize::from(datagram[0] == 3);
            }
        }
        cookies
    };
    assert!(
        flood(&mut net) > 100,
        "cookie replies once over the rate limit"
    );
    // A's initiation now draws a cookie reply, not a session.
    let p = ipv4("10.0.0.1", "10.0.0.2", b"through the cookie");
    net.send_ip(A, &p);
    net.run();
    assert_eq!(net.handshakes(A), 0);
    assert!(net
        .sent
        .iter()
        .any(|d| d.from == net.nodes[B].addr && d.kind() == 3));
    // Still under load when A retries (5 s later): its MAC2 now carries the cookie.
    for _ in 0..20 {
        gatehouse_tunnel::MockClock::advance(Duration::from_millis(250));
        net.timers();
        if net.handshakes(A) > 0 {
            break;
        }
        flood(&mut net);
    }
    assert_eq!(net.handshakes(A), 1);
    assert_eq!(net.nodes[B].tun, vec![p]);
}

#[test]
fn idle_never_used_peer_does_not_go_stale() {
    let (mut net, _, _) = pair(29);
    net.advance(secs(600)); // beyond 3 × REJECT_AFTER_TIME
    assert!(net.sent.is_empty());
    assert_eq!(
        net.count_events(A, |e| matches!(e, Event::PeerStale { .. })),
        0
    );
    // And it still connects on demand.
    handshake(&mut net);
}

#[test]
fn peer_without_endpoint_reports_once_per_attempt_that_it_cannot_send() {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(30);
    let mut pb = peer(&b, &["10.0.0.2/32"], None);
    pb.persistent_keepalive = Some(5);
    net.add("a", &a, "192.0.2.1:51820", vec![pb]);
    net.advance(secs(12));
    assert!(net.sent.is_empty());
    let errors = net.count_events(A, |e| {
        *e == Event::Error {
            peer: b.public,
            error: gatehouse_tunnel::PeerError::NoEndpoint,
        }
    });
    assert_eq!(errors, 2, "one per initiation that had nowhere to go");
    assert_eq!(
        net.nodes[A]
            .tunnel
            .drop_counters()
            .get(DropReason::NoEndpoint),
        2
    );
}
