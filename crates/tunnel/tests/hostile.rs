//! Hostile and garbage input: every datagram or packet that is not legitimate is dropped and
//! counted, nothing panics, and the tunnel keeps working. Runs in both clock modes.

mod support;

use gatehouse_tunnel::{DropReason, TunOutcome, UdpOutcome};
use proptest::prelude::*;
use support::*;

/// A pair with a live session, plus one data datagram A -> B and the initiation that started it.
fn live_pair(seed: u64) -> (Net, Datagram, Datagram) {
    let (mut net, _, _) = pair(seed);
    handshake(&mut net);
    let init = net
        .sent
        .iter()
        .find(|d| d.kind() == 1)
        .cloned()
        .expect("initiation");
    net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", b"sample"));
    let data = net.wire.pop_front().expect("data");
    assert_eq!(net.deliver(B, &data), "tun");
    (net, data, init)
}

fn still_works(net: &mut Net) {
    let before = net.nodes[B].tun.len();
    let p = ipv4("10.0.0.1", "10.0.0.2", b"still alive");
    assert_eq!(net.send_ip(A, &p), "send");
    net.run();
    assert_eq!(net.nodes[B].tun.len(), before + 1);
    assert_eq!(net.nodes[B].tun.last(), Some(&p));
}

fn deliver_to_b(net: &mut Net, bytes: Vec<u8>) -> &'static str {
    let d = Datagram {
        from: addr("203.0.113.1:4444"),
        to: addr("192.0.2.2:51820"),
        bytes,
    };
    net.deliver(B, &d)
}

#[test]
fn random_bytes_are_dropped_as_malformed() {
    let (mut net, _, _) = live_pair(41);
    let mut rng = support::Rng::new(41);
    let before = net.nodes[B]
        .tunnel
        .drop_counters()
        .get(DropReason::Malformed);
    for _ in 0..2000 {
        let len = rng.below(300);
        let mut bytes = rng.bytes(len);
        // Keep the type byte out of 1..=4 so these are all unknown types or bad lengths.
        if let Some(b) = bytes.first_mut() {
            *b = 5 + (*b % 200);
        }
        assert_eq!(deliver_to_b(&mut net, bytes), "dropped");
    }
    let dc = net.nodes[B].tunnel.drop_counters();
    assert_eq!(dc.get(DropReason::Malformed) - before, 2000);
    still_works(&mut net);
}

#[test]
fn junk_with_valid_headers_is_dropped_by_reason() {
    let (mut net, data, _) = live_pair(42);
    let mut rng = support::Rng::new(42);
    let b_index = [data.bytes[4], data.bytes[5], data.bytes[6], data.bytes[7]];
    let mut with_header = |kind: u8, len: usize, receiver: Option<[u8; 4]>| {
        let mut b = rng.bytes(len);
        b[..4].copy_from_slice(&[kind, 0, 0, 0]);
        if let Some(r) = receiver {
            let at = if kind == 2 { 8 } else { 4 };
            b[at..at + 4].copy_from_slice(&r);
        }
        b
    };
    // Wrong length for the type, and non-zero reserved bytes.
    assert_eq!(deliver_to_b(&mut net, with_header(1, 147, None)), "dropped");
    assert_eq!(deliver_to_b(&mut net, with_header(2, 93, None)), "dropped");
    let mut reserved = with_header(4, 64, Some(b_index));
    reserved[1] = 1;
    assert_eq!(deliver_to_b(&mut net, reserved), "dropped");
    // Handshake messages with garbage MACs.
    for _ in 0..50 {
        assert_eq!(deliver_to_b(&mut net, with_header(1, 148, None)), "dropped");
        assert_eq!(
            deliver_to_b(&mut net, with_header(2, 92, Some(b_index))),
            "dropped"
        );
    }
    // Cookie reply and data naming B's real session, with garbage inside.
    for _ in 0..50 {
        assert_eq!(
            deliver_to_b(&mut net, with_header(3, 64, Some(b_index))),
            "dropped"
        );
        assert_eq!(
            deliver_to_b(&mut net, with_header(4, 100, Some(b_index))),
            "dropped"
        );
    }
    // Indices that name no peer at all.
    for _ in 0..50 {
        assert_eq!(
            deliver_to_b(&mut net, with_header(4, 80, Some([0, 0, 0, 0x40]))),
            "dropped"
        );
    }
    let dc = net.nodes[B].tunnel.drop_counters();
    assert_eq!(dc.get(DropReason::Malformed), 3);
    assert_eq!(dc.get(DropReason::InvalidMac), 100);
    assert_eq!(
        dc.get(DropReason::HandshakeFailed),
        50,
        "cookie replies that do not open"
    );
    assert_eq!(dc.get(DropReason::DecryptFailed), 50);
    assert_eq!(dc.get(DropReason::UnknownPeer), 50);
    assert_eq!(dc.total(), 253);
    assert!(net.nodes[B].tun.len() == 2, "nothing reached the TUN");
    still_works(&mut net);
}

#[test]
fn replayed_and_truncated_handshakes_and_replayed_data_are_dropped() {
    let (mut net, data, init) = live_pair(43);
    let handshakes = net.handshakes(B);
    assert_eq!(deliver_to_b(&mut net, init.bytes.clone()), "dropped");
    assert_eq!(
        deliver_to_b(&mut net, init.bytes[..147].to_vec()),
        "dropped"
    );
    let mut long = init.bytes.clone();
    long.push(0);
    assert_eq!(deliver_to_b(&mut net, long), "dropped");
    assert_eq!(deliver_to_b(&mut net, data.bytes.clone()), "dropped");
    assert_eq!(deliver_to_b(&mut net, data.bytes[..40].to_vec()), "dropped");
    assert_eq!(deliver_to_b(&mut net, data.bytes[..31].to_vec()), "dropped");
    // A fresh datagram cut short fails its tag (and does not burn its counter).
    net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", b"fresh"));
    let fresh = net.wire.pop_front().expect("data");
    assert_eq!(
        deliver_to_b(&mut net, fresh.bytes[..fresh.bytes.len() - 1].to_vec()),
        "dropped"
    );
    assert_eq!(net.deliver(B, &fresh), "tun");
    let dc = net.nodes[B].tunnel.drop_counters();
    assert_eq!(dc.get(DropReason::HandshakeReplay), 1);
    assert_eq!(
        dc.get(DropReason::Replay),
        2,
        "the replay and its truncation"
    );
    assert_eq!(dc.get(DropReason::Malformed), 3);
    assert_eq!(
        dc.get(DropReason::DecryptFailed),
        1,
        "truncated fresh data fails its tag"
    );
    assert_eq!(net.handshakes(B), handshakes, "a replay is not a handshake");
    let st = net.nodes[B].tunnel.stats().next().expect("peer");
    assert_eq!(
        st.endpoint,
        Some(addr("192.0.2.1:51820")),
        "replays do not move the endpoint"
    );
    still_works(&mut net);
}

#[test]
fn initiation_from_a_stranger_is_dropped_as_unknown_peer() {
    let (mut net, _, _) = live_pair(44);
    let stranger = keys(99);
    let b = keys(2);
    let s = net.add(
        "stranger",
        &stranger,
        "203.0.113.5:51820",
        vec![peer(&b, &["10.0.0.2/32"], Some("192.0.2.2:51820"))],
    );
    net.send_ip(s, &ipv4("10.9.0.1", "10.0.0.2", b"let me in"));
    net.run();
    assert_eq!(
        net.nodes[B]
            .tunnel
            .drop_counters()
            .get(DropReason::UnknownPeer),
        1
    );
    assert_eq!(net.handshakes(s), 0);
    still_works(&mut net);
}

#[test]
fn a_peer_cannot_use_another_peers_session_index() {
    // Three nodes: H knows B and C. C sends H data under B's receiver index: it cannot decrypt.
    let h = keys(10);
    let (b, c) = (keys(11), keys(12));
    let mut net = Net::new(45);
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
        vec![peer(&h, &["0.0.0.0/0"], Some("192.0.2.10:51820"))],
    );
    net.add(
        "c",
        &c,
        "192.0.2.12:51820",
        vec![peer(&h, &["0.0.0.0/0"], Some("192.0.2.10:51820"))],
    );
    net.send_ip(1, &ipv4("10.0.0.11", "10.0.0.10", b"b"));
    net.send_ip(2, &ipv4("10.0.0.12", "10.0.0.10", b"c"));
    net.run();
    assert_eq!(net.nodes[0].tun.len(), 2);
    let from_b = net
        .sent
        .iter()
        .rev()
        .find(|d| d.from == addr("192.0.2.11:51820") && d.kind() == 4)
        .cloned();
    let from_c = net
        .sent
        .iter()
        .rev()
        .find(|d| d.from == addr("192.0.2.12:51820") && d.kind() == 4)
        .cloned();
    let (from_b, mut from_c) = (from_b.expect("b data"), from_c.expect("c data"));
    from_c.bytes[4..8].copy_from_slice(&from_b.bytes[4..8]);
    from_c.bytes[8..16].copy_from_slice(&[0xff; 8]);
    assert_eq!(net.deliver(0, &from_c), "dropped");
    assert_eq!(
        net.nodes[0]
            .tunnel
            .drop_counters()
            .get(DropReason::DecryptFailed),
        1
    );
}

#[test]
fn flipping_any_bit_of_a_data_datagram_gets_it_dropped() {
    let (mut net, _, _) = live_pair(46);
    net.send_ip(A, &ipv4("10.0.0.1", "10.0.0.2", &[0x42; 64]));
    let d = net.wire.pop_front().expect("data");
    for bit in 0..d.bytes.len() * 8 {
        let mut bytes = d.bytes.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(deliver_to_b(&mut net, bytes), "dropped", "bit {bit}");
    }
    // The untouched one still goes through.
    assert_eq!(net.deliver(B, &d), "tun");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_panic_or_reach_the_tun(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        kind in 0u8..6,
        keep_type in any::<bool>(),
        port in any::<u16>(),
    ) {
        let (mut net, data, _) = live_pair(47);
        let mut bytes = bytes;
        if keep_type && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(&[kind, 0, 0, 0]);
            bytes[4..8].copy_from_slice(&data.bytes[4..8]);
        }
        let from = std::net::SocketAddr::from(([203, 0, 113, 7], port));
        let before = net.nodes[B].tunnel.drop_counters().total();
        let mut out = [0u8; BUF];
        let outcome = net.nodes[B].tunnel.handle_udp_datagram(from, &bytes, &mut out, now());
        let dropped = matches!(outcome, UdpOutcome::Dropped(_));
        prop_assert!(dropped, "{:?}", outcome);
        prop_assert_eq!(net.nodes[B].tunnel.drop_counters().total(), before + 1);
    }

    #[test]
    fn arbitrary_tun_packets_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..1500),
        version in prop_oneof![Just(0x45u8), Just(0x60u8), any::<u8>()],
        out_len in prop_oneof![Just(BUF), 0usize..300],
    ) {
        let (mut net, _, _) = live_pair(48);
        let mut bytes = bytes;
        if let Some(b) = bytes.first_mut() {
            *b = version;
        }
        let mut out = vec![0u8; out_len];
        let before = net.nodes[A].tunnel.drop_counters().total();
        match net.nodes[A].tunnel.handle_tun_packet(&bytes, &mut out, now()) {
            TunOutcome::Send { datagram, .. } => {
                prop_assert_eq!(datagram.len(), bytes.len() + 32);
                prop_assert_eq!(datagram[0], 4);
            }
            TunOutcome::Queued => prop_assert!(false, "a live session never queues"),
            TunOutcome::Dropped(_) => {
                prop_assert_eq!(net.nodes[A].tunnel.drop_counters().total(), before + 1);
            }
        }
    }
}
