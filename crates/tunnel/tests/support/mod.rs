//! In-memory network of tunnel cores: nodes with UDP addresses, a wire with seeded loss and
//! reordering, and helpers to build IP packets and configs. Time is whatever
//! `gatehouse_tunnel::Instant` is: real, or the fake clock with `--features mock-clock`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use boringtun::x25519::{PublicKey, StaticSecret};
use gatehouse_tunnel::{
    Endpoint, Event, Instant, PeerConfig, TunOutcome, Tunnel, TunnelConfig, UdpOutcome,
};

/// A key pair derived from a seed (deterministic).
#[derive(Clone, Copy)]
pub struct Keys {
    pub secret: [u8; 32],
    pub public: [u8; 32],
}

pub fn keys(seed: u8) -> Keys {
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(7) ^ 0x5a;
    }
    let s = StaticSecret::from(secret);
    Keys {
        secret,
        public: PublicKey::from(&s).to_bytes(),
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test ip address")
}

pub fn peer(keys: &Keys, allowed: &[&str], endpoint: Option<&str>) -> PeerConfig {
    PeerConfig {
        public_key: keys.public,
        preshared_key: None,
        allowed_ips: allowed
            .iter()
            .map(|n| n.parse().expect("test network"))
            .collect(),
        endpoint: endpoint.map(|e| Endpoint::Addr(addr(e))),
        persistent_keepalive: None,
    }
}

pub fn now() -> Instant {
    Instant::now()
}

/// An IPv4 packet (UDP protocol number, no checksum) with a correct total length.
pub fn ipv4(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!("ipv4() needs v4 addresses");
    };
    let total = 20 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&s.octets());
    p[16..20].copy_from_slice(&d.octets());
    p[20..].copy_from_slice(payload);
    p
}

/// An IPv6 packet (UDP next header) with a correct payload length.
pub fn ipv6(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (ip(src), ip(dst)) else {
        panic!("ipv6() needs v6 addresses");
    };
    let mut p = vec![0u8; 40 + payload.len()];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&s.octets());
    p[24..40].copy_from_slice(&d.octets());
    p[40..].copy_from_slice(payload);
    p
}

/// Deterministic xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[derive(Clone, Debug)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Datagram {
    pub fn kind(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }
}

pub struct Node {
    pub name: &'static str,
    pub tunnel: Tunnel,
    /// Current source address of this node's datagrams.
    pub addr: SocketAddr,
    /// Every address this node receives on (old ones stay, as after a NAT rebinding).
    pub listen: Vec<SocketAddr>,
    /// Packets the core delivered to the TUN.
    pub tun: Vec<Vec<u8>>,
    pub events: Vec<Event>,
}

/// Nodes plus the wire between them.
pub struct Net {
    pub nodes: Vec<Node>,
    pub wire: VecDeque<Datagram>,
    /// Every datagram put on the wire (before loss), in order.
    pub sent: Vec<Datagram>,
    /// Datagrams lost (by loss, `drop_next`, or no receiver).
    pub lost: Vec<Datagram>,
    pub loss_percent: u64,
    pub reorder_percent: u64,
    /// Drop the next N datagrams put on the wire.
    pub drop_next: usize,
    /// Drop every datagram for which this returns true.
    pub blackhole: Option<fn(&Datagram) -> bool>,
    pub rng: Rng,
}

pub const BUF: usize = 2048;

impl Net {
    pub fn new(seed: u64) -> Net {
        Net {
            nodes: Vec::new(),
            wire: VecDeque::new(),
            sent: Vec::new(),
            lost: Vec::new(),
            loss_percent: 0,
            reorder_percent: 0,
            drop_next: 0,
            blackhole: None,
            rng: Rng::new(seed),
        }
    }

    /// Adds a node listening on `at`; returns its index. Start-up events are collected.
    pub fn add(
        &mut self,
        name: &'static str,
        keys: &Keys,
        at: &str,
        peers: Vec<PeerConfig>,
    ) -> usize {
        let tunnel = Tunnel::new(
            TunnelConfig {
                private_key: keys.secret,
                peers,
            },
            now(),
        )
        .expect("valid test config");
        let a = addr(at);
        self.nodes.push(Node {
            name,
            tunnel,
            addr: a,
            listen: vec![a],
            tun: Vec::new(),
            events: Vec::new(),
        });
        let i = self.nodes.len() - 1;
        self.drain(i);
        i
    }

    pub fn put(&mut self, d: Datagram) {
        self.sent.push(d.clone());
        if self.drop_next > 0 {
            self.drop_next -= 1;
            self.lost.push(d);
            return;
        }
        if self.blackhole.is_some_and(|f| f(&d)) || self.rng.chance(self.loss_percent) {
            self.lost.push(d);
            return;
        }
        if !self.wire.is_empty() && self.rng.chance(self.reorder_percent) {
            let at = self.wire.len() - self.rng.below(self.wire.len().min(4));
            self.wire.insert(at.saturating_sub(1), d);
        } else {
            self.wire.push_back(d);
        }
    }

    /// Moves whatever the node wants to send onto the wire, and its events into `events`.
    pub fn drain(&mut self, i: usize) {
        let mut buf = [0u8; BUF];
        while let Some((to, n)) = self.nodes[i].tunnel.poll_transmit(&mut buf) {
            let d = Datagram {
                from: self.nodes[i].addr,
                to,
                bytes: buf[..n].to_vec(),
            };
            self.put(d);
        }
        while let Some(e) = self.nodes[i].tunnel.poll_event() {
            self.nodes[i].events.push(e);
        }
    }

    /// Hands an IP packet to node `i` as if read from its TUN. Returns a short outcome name.
    pub fn send_ip(&mut self, i: usize, packet: &[u8]) -> &'static str {
        let mut buf = [0u8; BUF];
        let from = self.nodes[i].addr;
        let outcome = match self.nodes[i]
            .tunnel
            .handle_tun_packet(packet, &mut buf, now())
        {
            TunOutcome::Send { dst, datagram } => {
                let d = Datagram {
                    from,
                    to: dst,
                    bytes: datagram.to_vec(),
                };
                self.put(d);
                "send"
            }
            TunOutcome::Queued => "queued",
            TunOutcome::Dropped(_) => "dropped",
        };
        self.drain(i);
        outcome
    }

    /// Delivers one datagram from the wire. Returns false when the wire is empty.
    pub fn step(&mut self) -> bool {
        let Some(d) = self.wire.pop_front() else {
            return false;
        };
        let Some(i) = self.nodes.iter().position(|n| n.listen.contains(&d.to)) else {
            self.lost.push(d);
            return true;
        };
        self.deliver(i, &d);
        true
    }

    /// Feeds `d` to node `i` and handles the outcome; returns it as a short name.
    pub fn deliver(&mut self, i: usize, d: &Datagram) -> &'static str {
        let mut buf = [0u8; BUF];
        let me = self.nodes[i].addr;
        let name = match self.nodes[i]
            .tunnel
            .handle_udp_datagram(d.from, &d.bytes, &mut buf, now())
        {
            UdpOutcome::TunPacket(p) => {
                let p = p.to_vec();
                self.nodes[i].tun.push(p);
                "tun"
            }
            UdpOutcome::Reply { dst, datagram } => {
                let r = Datagram {
                    from: me,
                    to: dst,
                    bytes: datagram.to_vec(),
                };
                self.put(r);
                "reply"
            }
            UdpOutcome::Nothing => "nothing",
            UdpOutcome::Dropped(_) => "dropped",
        };
        self.drain(i);
        name
    }

    /// Delivers until the wire is empty (bounded, to catch ping-pong loops).
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the wire never went quiet");
    }

    /// Runs every node's timers at the current time, then the wire.
    pub fn timers(&mut self) {
        for i in 0..self.nodes.len() {
            self.nodes[i].tunnel.handle_timeout(now());
            self.drain(i);
        }
        self.run();
    }

    /// Advances the fake clock by `total` in 250 ms ticks, running timers and the wire.
    #[cfg(feature = "mock-clock")]
    pub fn advance(&mut self, total: Duration) {
        let tick = gatehouse_tunnel::TICK;
        let mut done = Duration::ZERO;
        while done < total {
            gatehouse_tunnel::MockClock::advance(tick);
            done += tick;
            self.timers();
        }
    }

    /// Events of node `i` that match `f`.
    pub fn count_events(&self, i: usize, f: impl Fn(&Event) -> bool) -> usize {
        self.nodes[i].events.iter().filter(|e| f(e)).count()
    }

    pub fn handshakes(&self, i: usize) -> usize {
        self.count_events(i, |e| matches!(e, Event::HandshakeCompleted { .. }))
    }
}

/// Two nodes, A (10.0.0.1, fd00::1, listening on 192.0.2.1:51820) and B (10.0.0.2, fd00::2,
/// 192.0.2.2:51820), each routing the other's /32 and /128; both know each other's endpoint.
pub fn pair(seed: u64) -> (Net, Keys, Keys) {
    let a = keys(1);
    let b = keys(2);
    let mut net = Net::new(seed);
    net.add(
        "a",
        &a,
        "192.0.2.1:51820",
        vec![peer(
            &b,
            &["10.0.0.2/32", "fd00::2/128"],
            Some("192.0.2.2:51820"),
        )],
    );
    net.add(
        "b",
        &b,
        "192.0.2.2:51820",
        vec![peer(
            &a,
            &["10.0.0.1/32", "fd00::1/128"],
            Some("192.0.2.1:51820"),
        )],
    );
    (net, a, b)
}

pub const A: usize = 0;
pub const B: usize = 1;

/// Completes a handshake A -> B by sending one packet; returns it.
pub fn handshake(net: &mut Net) -> Vec<u8> {
    let p = ipv4("10.0.0.1", "10.0.0.2", b"hello");
    assert_eq!(net.send_ip(A, &p), "queued");
    net.run();
    assert_eq!(net.handshakes(A), 1, "A completed the handshake");
    assert_eq!(net.handshakes(B), 1, "B completed the handshake");
    p
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
