//! Two and three tunnel cores exchanging packets in memory. No time passes in these tests, so
//! they run with the real clock and with `--features mock-clock` alike.

mod support;

use gatehouse_tunnel::{
    ConfigError, DropReason, Endpoint, Event, TunOutcome, Tunnel, TunnelConfig, UdpOutcome,
    QUEUE_CAPACITY,
};
use support::*;

#[test]
fn handshake_then_data_both_ways_v4_and_v6() {
    let (mut net, a, b) = pair(1);
    let first = handshake(&mut net);
    // The packet that triggered the handshake arrives once the session exists.
    assert_eq!(net.nodes[B].tun, vec![first]);

    let v4 = ipv4("10.0.0.2", "10.0.0.1", b"pong v4");
    assert_eq!(net.send_ip(B, &v4), "send", "B has a session: sent at once");
    let v6 = ipv6("fd00::1", "fd00::2", b"ping v6");
    assert_eq!(net.send_ip(A, &v6), "send");
    let v6b = ipv6("fd00::2", "fd00::1", b"pong v6");
    assert_eq!(net.send_ip(B, &v6b), "send");
    net.run();
    assert_eq!(net.nodes[A].tun, vec![v4, v6b]);
    assert_eq!(net.nodes[B].tun.len(), 2);
    assert_eq!(net.nodes[B].tun[1], v6);

    let sa: Vec<_> = net.nodes[A].tunnel.stats().collect();
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].public_key, b.public);
    assert_eq!(sa[0].tx_packets, 2);
    assert_eq!(sa[0].rx_packets, 2);
    assert!(sa[0].tx_bytes > 0 && sa[0].rx_bytes > 0);
    assert!(sa[0].last_handshake.is_some());
    assert!(sa[0].session_age.is_some());
    assert_eq!(
        sa[0].handshake_attempts, 0,
        "reset by the completed handshake"
    );
    assert_eq!(sa[0].handshake_attempts_total, 1);
    let sb: Vec<_> = net.nodes[B].tunnel.stats().collect();
    assert_eq!(sb[0].public_key, a.public);
    assert_eq!(sb[0].endpoint, Some(addr("192.0.2.1:51820")));
    assert_eq!(net.nodes[A].tunnel.drop_counters().total(), 0);
    assert_eq!(net.nodes[B].tunnel.drop_counters().total(), 0);
}

#[test]
fn first_packet_queues_and_the_initiation_comes_from_poll_transmit() {
    let (mut net, _, _) = pair(2);
    let mut out = [0u8; BUF];
    let p = ipv4("10.0.0.1", "10.0.0.2", b"x");
    let outcome = net.nodes[A].tunnel.handle_tun_packet(&p, &mut out, now());
    assert_eq!(outcome, TunOutcome::Queued);
    let (dst, n) = net.nodes[A]
        .tunnel
        .poll_transmit(&mut out)
        .expect("initiation");
    assert_eq!(dst, addr("192.0.2.2:51820"));
    assert_eq!((out[0], n), (1, 148), "a handshake initiation");
    assert_eq!(net.nodes[A].tunnel.poll_transmit(&mut out), None);
    // A second packet does not start a second handshake.
    assert_eq!(
        net.nodes[A].tunnel.handle_tun_packet(&p, &mut out, now()),
        TunOutcome::Queued
    );
    assert_eq!(net.nodes[A].tunnel.poll_transmit(&mut out), None);
    let st = net.nodes[A].tunnel.stats().next().expect("one peer");
    assert_eq!((st.queued, st.handshake_attempts), (2, 1));
}

#[test]
fn waiting_queue_is_bounded_and_keeps_the_newest_in_order() {
    let (mut net, _, _) = pair(3);
    let total = QUEUE_CAPACITY + 36;
    let packets: Vec<_> = (0..total)
        .map(|i| ipv4("10.0.0.1", "10.0.0.2", &(i as u32).to_be_bytes()))
        .collect();
    // Hold the initiation back until every packet is queued.
    net.drop_next = 1;
    for p in &packets {
        assert_eq!(net.send_ip(A, p), "queued");
    }
    let dc = net.nodes[A].tunnel.drop_counters();
    assert_eq!(dc.get(DropReason::QueueFull), 36);
    assert_eq!(
        net.nodes[A].tunnel.stats().next().map(|s| s.queued),
        Some(QUEUE_CAPACITY)
    );
    // Re-send the lost initiation by hand (the timer would after REKEY_TIMEOUT).
    let lost = net.lost.pop().expect("the held initiation");
    net.put(lost);
    net.run();
    assert_eq!(
        net.nodes[B].tun,
        packets[36..].to_vec(),
        "oldest dropped, order kept"
    );
}

#[test]
fn outgoing_without_route_or_not_ip_is_dropped_and_counted() {
    let (mut net, _, _) = pair(4);
    assert_eq!(
        net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.3", b"x")),
        "dropped"
    );
    assert_eq!(net.send_ip(A, &ipv6("fd00::1", "fd00::3", b"x")), "dropped");
    assert_eq!(net.send_ip(A, b"\x45tiny"), "dropped");
    assert_eq!(net.send_ip(A, &[]), "dropped");
    let mut small = [0u8; 100];
    let p = ipv4("10.0.0.1", "10.0.0.2", &[0; 60]);
    assert_eq!(
        net.nodes[A].tunnel.handle_tun_packet(&p, &mut small, now()),
        TunOutcome::Dropped(DropReason::BufferTooSmall)
    );
    let dc = net.nodes[A].tunnel.drop_counters();
    assert_eq!(dc.get(DropReason::NoRoute), 2);
    assert_eq!(dc.get(DropReason::NotIp), 2);
    assert_eq!(dc.get(DropReason::BufferTooSmall), 1);
    assert!(net.wire.is_empty());
}

#[test]
fn incoming_source_outside_the_peers_allowed_ips_is_dropped() {
    // B may send anything to A (B routes 0.0.0.0/0 to A) but A only accepts 10.0.0.2 from B.
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(5);
    net.add(
        "a",
        &a,
        "192.0.2.1:51820",
        vec![peer(&b, &["10.0.0.2/32"], Some("192.0.2.2:51820"))],
    );
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(&a, &["0.0.0.0/0", "::/0"], Some("192.0.2.1:51820"))],
    );
    handshake(&mut net);
    assert_eq!(
        net.send_ip(B, &ipv4("10.9.9.9", "10.0.0.1", b"spoofed")),
        "send"
    );
    assert_eq!(
        net.send_ip(B, &ipv6("fd00::2", "fd00::1", b"not allowed v6")),
        "send"
    );
    let good = ipv4("10.0.0.2", "10.0.0.1", b"ok");
    assert_eq!(net.send_ip(B, &good), "send");
    net.run();
    assert_eq!(net.nodes[A].tun, vec![good]);
    assert_eq!(
        net.nodes[A]
            .tunnel
            .drop_counters()
            .get(DropReason::SourceNotAllowed),
        2
    );
}

#[test]
fn several_peers_longest_prefix_routing_and_source_checks() {
    // Hub H with three peers: B has 10.0.0.0/8, C has 10.1.0.0/16 and fd00:c::/32, D has the
    // default routes. Each spoke routes everything to H.
    let h = keys(10);
    let (b, c, d) = (keys(11), keys(12), keys(13));
    let mut net = Net::new(6);
    net.add(
        "h",
        &h,
        "192.0.2.10:51820",
        vec![
            peer(&b, &["10.0.0.0/8"], Some("192.0.2.11:51820")),
            peer(
                &c,
                &["10.1.0.0/16", "fd00:c::/32"],
                Some("192.0.2.12:51820"),
            ),
            peer(&d, &["0.0.0.0/0", "::/0"], Some("192.0.2.13:51820")),
        ],
    );
    for (name, k, at) in [
        ("b", &b, "192.0.2.11:51820"),
        ("c", &c, "192.0.2.12:51820"),
        ("d", &d, "192.0.2.13:51820"),
    ] {
        net.add(
            name,
            k,
            at,
            vec![peer(&h, &["0.0.0.0/0", "::/0"], Some("192.0.2.10:51820"))],
        );
    }
    let to_b = ipv4("192.168.0.1", "10.2.3.4", b"b");
    let to_c = ipv4("192.168.0.1", "10.1.2.3", b"c");
    let to_c6 = ipv6("fd00:1::1", "fd00:c:1::5", b"c6");
    let to_d = ipv4("192.168.0.1", "8.8.8.8", b"d");
    let to_d6 = ipv6("fd00:1::1", "2001:db8::1", b"d6");
    for p in [&to_b, &to_c, &to_c6, &to_d, &to_d6] {
        net.send_ip(0, p);
    }
    net.run();
    assert_eq!(net.nodes[1].tun, vec![to_b]);
    assert_eq!(net.nodes[2].tun, vec![to_c, to_c6]);
    assert_eq!(net.nodes[3].tun, vec![to_d, to_d6]);
    assert_eq!(net.handshakes(0), 3);

    // B may not use C's more specific range, D may use anything not more specific elsewhere.
    net.send_ip(1, &ipv4("10.1.0.9", "192.168.0.1", b"b as c"));
    net.send_ip(1, &ipv4("10.200.0.9", "192.168.0.1", b"b ok"));
    net.send_ip(3, &ipv4("10.5.0.1", "192.168.0.1", b"d as b"));
    net.send_ip(3, &ipv4("1.1.1.1", "192.168.0.1", b"d ok"));
    net.run();
    let got: Vec<&[u8]> = net.nodes[0].tun.iter().map(|p| &p[20..]).collect();
    assert_eq!(got, vec![&b"b ok"[..], &b"d ok"[..]]);
    assert_eq!(
        net.nodes[0]
            .tunnel
            .drop_counters()
            .get(DropReason::SourceNotAllowed),
        2
    );
}

#[test]
fn roaming_endpoint_follows_authenticated_datagrams() {
    let (mut net, _, b) = pair(7);
    handshake(&mut net);
    net.nodes[A].events.clear();
    // B's NAT rebinds: its datagrams now come from a new address (and it receives there).
    let new = addr("198.51.100.7:40000");
    net.nodes[B].addr = new;
    net.nodes[B].listen.push(new);
    let up = ipv4("10.0.0.2", "10.0.0.1", b"from new address");
    assert_eq!(net.send_ip(B, &up), "send");
    net.run();
    assert_eq!(net.nodes[A].tun.last(), Some(&up));
    assert_eq!(
        net.nodes[A].events,
        vec![Event::EndpointChanged {
            peer: b.public,
            from: Some(addr("192.0.2.2:51820")),
            to: new
        }]
    );
    let sent_before = net.sent.len();
    let down = ipv4("10.0.0.1", "10.0.0.2", b"reply");
    assert_eq!(net.send_ip(A, &down), "send");
    assert_eq!(
        net.sent[sent_before].to, new,
        "replies go to the new address"
    );
    net.run();
    assert_eq!(net.nodes[B].tun.last(), Some(&down));

    // A forged datagram from a third address does not move the endpoint.
    let forged = Datagram {
        from: addr("203.0.113.66:1"),
        to: addr("192.0.2.1:51820"),
        bytes: net.sent[sent_before].bytes.clone(),
    };
    assert_eq!(net.deliver(A, &forged), "dropped");
    let st = net.nodes[A].tunnel.stats().next().expect("peer");
    assert_eq!(st.endpoint, Some(new));
}

#[test]
fn peer_without_endpoint_is_learned_from_its_handshake() {
    // A server-style config: A does not know B's endpoint; B initiates.
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(8);
    net.add(
        "a",
        &a,
        "192.0.2.1:51820",
        vec![peer(&b, &["10.0.0.2/32"], None)],
    );
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(&a, &["10.0.0.1/32"], Some("192.0.2.1:51820"))],
    );
    assert_eq!(
        net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", b"x")),
        "dropped"
    );
    assert_eq!(
        net.nodes[A]
            .tunnel
            .drop_counters()
            .get(DropReason::NoEndpoint),
        1
    );
    let up = ipv4("10.0.0.2", "10.0.0.1", b"hi");
    assert_eq!(net.send_ip(B, &up), "queued");
    net.run();
    assert_eq!(net.nodes[A].tun, vec![up]);
    assert!(net.nodes[A].events.contains(&Event::EndpointChanged {
        peer: b.public,
        from: None,
        to: addr("192.0.2.2:51820")
    }));
    let down = ipv4("10.0.0.1", "10.0.0.2", b"back");
    assert_eq!(net.send_ip(A, &down), "send");
    net.run();
    assert_eq!(net.nodes[B].tun, vec![down]);
}

#[test]
fn name_endpoint_asks_to_resolve_and_queues_until_answered() {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(9);
    let mut pb = peer(&b, &["10.0.0.2/32"], None);
    pb.endpoint = Some(Endpoint::Name {
        host: "peer.example".into(),
        port: 51820,
    });
    net.add("a", &a, "192.0.2.1:51820", vec![pb]);
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(&a, &["10.0.0.1/32"], None)],
    );
    assert_eq!(
        net.nodes[A].events,
        vec![Event::ResolveEndpoint {
            peer: b.public,
            host: "peer.example".into(),
            port: 51820
        }]
    );
    let p = ipv4("10.0.0.1", "10.0.0.2", b"early");
    assert_eq!(net.send_ip(A, &p), "queued");
    assert!(net.wire.is_empty(), "nowhere to send the initiation yet");
    assert!(net.nodes[A]
        .tunnel
        .set_endpoint(&b.public, addr("192.0.2.2:51820")));
    assert!(!net.nodes[A]
        .tunnel
        .set_endpoint(&[9; 32], addr("192.0.2.2:51820")));
    net.drain(A);
    net.run();
    assert_eq!(net.nodes[B].tun, vec![p]);
    assert_eq!(net.handshakes(A), 1);
}

#[test]
fn wrong_preshared_key_is_reported_and_never_completes() {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(10);
    let mut pa = peer(&b, &["10.0.0.2/32"], Some("192.0.2.2:51820"));
    pa.preshared_key = Some([1; 32]);
    let mut pb = peer(&a, &["10.0.0.1/32"], Some("192.0.2.1:51820"));
    pb.preshared_key = Some([2; 32]);
    net.add("a", &a, "192.0.2.1:51820", vec![pa]);
    net.add("b", &b, "192.0.2.2:51820", vec![pb]);
    net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", b"x"));
    net.run();
    assert_eq!(net.handshakes(A) + net.handshakes(B), 0);
    assert!(net.nodes[A].events.contains(&Event::Error {
        peer: b.public,
        error: gatehouse_tunnel::PeerError::HandshakeRejected
    }));
    assert!(net.nodes[B].tun.is_empty());
}

#[test]
fn config_errors_name_the_peers() {
    let a = keys(1);
    let b = keys(2);
    let cfg = |peers| TunnelConfig {
        private_key: a.secret,
        peers,
    };
    let err = Tunnel::new(cfg(vec![peer(&b, &[], None), peer(&b, &[], None)]), now())
        .expect_err("duplicate peer");
    assert!(
        matches!(
            err,
            ConfigError::DuplicatePeer {
                first: 0,
                second: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = Tunnel::new(cfg(vec![peer(&a, &[], None)]), now()).expect_err("own key");
    assert!(matches!(err, ConfigError::OwnKey { index: 0, .. }), "{err}");
    let c = keys(3);
    let err = Tunnel::new(
        cfg(vec![
            peer(&b, &["10.0.0.0/24"], None),
            peer(&c, &["10.0.0.9/24"], None),
        ]),
        now(),
    )
    .expect_err("duplicate allowed ip");
    assert_eq!(
        err.to_string(),
        "AllowedIPs 10.0.0.0/24 of peer #1 is already routed to peer #0"
    );
    // Debug output never shows secrets.
    let mut p = peer(&b, &[], None);
    p.preshared_key = Some([0xAB; 32]);
    let text = format!("{:?}", cfg(vec![p]));
    assert!(
        !text.contains("171") && text.contains("<redacted>"),
        "{text}"
    );
}

#[test]
fn small_udp_output_buffer_is_refused_without_panic() {
    let (mut net, _, _) = pair(11);
    handshake(&mut net);
    net.send_ip(B, &ipv4("10.0.0.2", "10.0.0.1", &[7; 400]));
    let d = net.wire.pop_front().expect("data datagram");
    let mut small = [0u8; 200];
    let outcome = net.nodes[A]
        .tunnel
        .handle_udp_datagram(d.from, &d.bytes, &mut small, now());
    assert_eq!(outcome, UdpOutcome::Dropped(DropReason::BufferTooSmall));
    // The same datagram still decrypts with a big enough buffer (nothing was consumed).
    assert_eq!(net.deliver(A, &d), "tun");
}

#[test]
fn poll_timeout_follows_handle_timeout() {
    let (mut net, _, _) = pair(12);
    let t = now();
    net.nodes[A].tunnel.handle_timeout(t);
    assert_eq!(
        net.nodes[A].tunnel.poll_timeout(),
        Some(t + gatehouse_tunnel::TICK)
    );
}

#[test]
fn queued_packets_of_several_peers_are_interleaved_by_poll_transmit() {
    // Hub with two peers, both with 5 packets waiting: poll_transmit alternates between them.
    let h = keys(10);
    let (b, c) = (keys(11), keys(12));
    let mut net = Net::new(13);
    net.add(
        "h",
        &h,
        "192.0.2.10:51820",
        vec![
            peer(&b, &["10.0.0.11/32"], Some("192.0.2.11:51820")),
            peer(&c, &["10.0.0.12/32"], Some("192.0.2.12:51820")),
        ],
    );
    net.add(
        "b",
        &b,
        "192.0.2.11:51820",
        vec![peer(&h, &["0.0.0.0/0"], None)],
    );
    net.add(
        "c",
        &c,
        "192.0.2.12:51820",
        vec![peer(&h, &["0.0.0.0/0"], None)],
    );
    net.drop_next = 2; // hold both initiations
    for i in 0..5u8 {
        net.send_ip(0, &ipv4("10.0.0.10", "10.0.0.11", &[i]));
        net.send_ip(0, &ipv4("10.0.0.10", "10.0.0.12", &[i]));
    }
    let inits: Vec<_> = net.lost.drain(..).collect();
    assert_eq!(inits.len(), 2);
    // Let both handshakes complete without draining the hub in between.
    for d in inits {
        let to = if d.to == addr("192.0.2.11:51820") {
            1
        } else {
            2
        };
        let mut out = [0u8; BUF];
        let UdpOutcome::Reply { datagram, .. } =
            net.nodes[to]
                .tunnel
                .handle_udp_datagram(d.from, &d.bytes, &mut out, now())
        else {
            panic!("handshake response expected");
        };
        let resp = datagram.to_vec();
        let mut out = [0u8; BUF];
        let outcome = net.nodes[0]
            .tunnel
            .handle_udp_datagram(d.to, &resp, &mut out, now());
        assert!(
            matches!(outcome, UdpOutcome::Reply { .. }),
            "keepalive back"
        );
    }
    let mut out = [0u8; BUF];
    let mut order = Vec::new();
    while let Some((dst, _)) = net.nodes[0].tunnel.poll_transmit(&mut out) {
        order.push(dst.ip().to_string());
    }
    assert_eq!(order.len(), 10);
    for pair in order.chunks(2) {
        assert_ne!(pair[0], pair[1], "alternating: {order:?}");
    }
}
