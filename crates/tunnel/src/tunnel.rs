//! The tunnel state machine: peers, routing, timers, roaming, stats and events.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Packet, Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use zeroize::Zeroize;

use crate::config::KeyHex;
use crate::packet::{self, IpHeader};
use crate::{
    ConfigError, DropCounters, DropReason, Endpoint, Event, Instant, PeerError, PeerKey, PeerStats,
    RoutingTable, TunnelConfig, MIN_BUFFER_LEN, OVERHEAD, QUEUE_CAPACITY, RERESOLVE_AFTER, TICK,
};

/// Handshake messages per second (all peers together) accepted before the tunnel asks for
/// cookies. Handshake initiations are checked twice (once to find the peer, once by the peer's
/// `Tunn`), so they count double against this limit.
const HANDSHAKE_RATE_LIMIT: u64 = 100;

/// Peers are addressed by the upper 24 bits of boringtun's session index.
const MAX_PEERS: usize = 1 << 24;

/// Events beyond this many unpolled ones push out the oldest.
const MAX_EVENTS: usize = 1024;

/// Control datagrams (handshake initiations, keepalives) waiting per peer.
const CONTROL_SLOTS: usize = 2;

/// What [`Tunnel::handle_tun_packet`] did with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum TunOutcome<'a> {
    /// Send `datagram` (inside the caller's buffer) to `dst`.
    Send {
        /// Destination: the peer's endpoint.
        dst: SocketAddr,
        /// The encrypted WireGuard data message.
        datagram: &'a [u8],
    },
    /// The packet waits (at most [`QUEUE_CAPACITY`] per peer) for a handshake, or behind packets
    /// that still wait; the handshake initiation, then the packets in order, come out of
    /// [`Tunnel::poll_transmit`].
    Queued,
    /// The packet was dropped (and counted).
    Dropped(DropReason),
}

/// What [`Tunnel::handle_udp_datagram`] made of a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum UdpOutcome<'a> {
    /// Write this decrypted IP packet (inside the caller's buffer) to the TUN device. Its source
    /// address has been checked against the sending peer's AllowedIPs.
    TunPacket(&'a [u8]),
    /// Send this datagram (handshake response, cookie reply, keepalive) to `dst`.
    Reply {
        /// Destination.
        dst: SocketAddr,
        /// The datagram, inside the caller's buffer.
        datagram: &'a [u8],
    },
    /// Valid, nothing to deliver (keepalive, cookie accepted).
    Nothing,
    /// The datagram was dropped (and counted).
    Dropped(DropReason),
}

/// A small fixed-size datagram (handshake initiation, keepalive) waiting to be sent.
#[derive(Clone, Copy)]
struct Control {
    buf: [u8; MIN_BUFFER_LEN],
    len: usize,
}

struct Peer {
    key: PeerKey,
    tunn: Tunn,
    endpoint: Option<SocketAddr>,
    /// Host name and port when the endpoint is configured as a name.
    name: Option<(String, u16)>,
    /// IP packets waiting for a session, oldest first.
    queue: VecDeque<Vec<u8>>,
    /// Recycled packet buffers, so the queue does not allocate in steady state.
    spare: Vec<Vec<u8>>,
    /// Control datagrams waiting for `poll_transmit`, oldest first.
    control: VecDeque<Control>,
    /// boringtun may hold packets of its own (keepalives queued while no session): drain them
    /// with `decapsulate(&[])` after a handshake.
    drain_tunn: bool,
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
    last_handshake: Option<Instant>,
    attempts: u32,
    attempts_total: u64,
    /// Since when a handshake has been wanted without completing (drives re-resolution).
    wanted_since: Option<Instant>,
    /// An `Event::Error` was already reported for the current handshake attempt.
    error_reported: bool,
    /// `Event::PeerStale` was reported and no handshake has been attempted since.
    stale: bool,
    /// We answered the peer's initiation; the handshake completes when its first data
    /// (keepalive) message arrives.
    confirm_pending: bool,
}

impl Peer {
    fn has_session(&self) -> bool {
        self.tunn.time_since_last_handshake().is_some()
    }

    fn push_control(&mut self, datagram: &[u8]) {
        let len = datagram.len().min(MIN_BUFFER_LEN);
        let mut c = Control {
            buf: [0; MIN_BUFFER_LEN],
            len,
        };
        c.buf[..len].copy_from_slice(&datagram[..len]);
        if self.control.len() >= CONTROL_SLOTS {
            self.control.pop_front();
        }
        self.control.push_back(c);
    }

    /// Records a handshake initiation we produced.
    fn initiated(&mut self, now: Instant) {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts_total = self.attempts_total.saturating_add(1);
        self.error_reported = false;
        self.stale = false;
        self.wanted_since.get_or_insert(now);
    }

    /// Queues `packet`; returns true if the oldest packet had to be dropped.
    fn enqueue(&mut self, packet: &[u8]) -> bool {
        let mut dropped = false;
        let mut buf = if self.queue.len() >= QUEUE_CAPACITY {
            dropped = true;
            self.queue.pop_front().unwrap_or_default()
        } else {
            self.spare.pop().unwrap_or_default()
        };
        buf.clear();
        buf.extend_from_slice(packet);
        self.queue.push_back(buf);
        dropped
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < QUEUE_CAPACITY {
            self.spare.push(buf);
        }
    }

    /// Starts a handshake unless one is in progress; the initiation goes to the control queue.
    fn start_handshake(&mut self, scratch: &mut [u8; MIN_BUFFER_LEN], now: Instant) {
        if let TunnResult::WriteToNetwork(init) =
            self.tunn.format_handshake_initiation(scratch, false)
        {
            let init: &[u8] = init;
            let mut c = Control {
                buf: [0; MIN_BUFFER_LEN],
                len: init.len().min(MIN_BUFFER_LEN),
            };
            c.buf[..c.len].copy_from_slice(&init[..c.len]);
            if self.control.len() >= CONTROL_SLOTS {
                self.control.pop_front();
            }
            self.control.push_back(c);
            self.initiated(now);
        }
    }
}

/// A WireGuard interface's state: several peers, cryptokey routing, timers. Sans-IO: see the
/// crate documentation for the driver loop.
pub struct Tunnel {
    secret: StaticSecret,
    public: PublicKey,
    rate_limiter: Arc<RateLimiter>,
    peers: Vec<Peer>,
    by_key: HashMap<PeerKey, usize>,
    routes: RoutingTable,
    events: VecDeque<Event>,
    drops: DropCounters,
    next_tick: Instant,
    /// Where `poll_transmit` starts looking, so one busy peer cannot starve the others.
    cursor: usize,
    scratch: [u8; MIN_BUFFER_LEN],
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("public_key", &KeyHex(self.public.as_bytes()))
            .field("peers", &self.peers.len())
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

fn drop_reason(err: &WireGuardError, is_data: bool) -> DropReason {
    use WireGuardError as E;
    match err {
        E::DestinationBufferTooSmall => DropReason::BufferTooSmall,
        E::IncorrectPacketLength | E::WrongPacketType => DropReason::Malformed,
        E::InvalidPacket if is_data => DropReason::InvalidInnerPacket,
        E::InvalidPacket => DropReason::Malformed,
        E::InvalidMac => DropReason::InvalidMac,
        E::WrongIndex | E::NoCurrentSession | E::ConnectionExpired => {
            if is_data {
                DropReason::NoSession
            } else {
                DropReason::HandshakeFailed
            }
        }
        E::InvalidAeadTag if is_data => DropReason::DecryptFailed,
        E::InvalidCounter | E::DuplicateCounter => DropReason::Replay,
        E::WrongTai64nTimestamp | E::InvalidTai64nTimestamp => DropReason::HandshakeReplay,
        E::UnderLoad => DropReason::UnderLoad,
        _ => DropReason::HandshakeFailed,
    }
}

impl Tunnel {
    /// Builds the tunnel: one boringtun `Tunn` per peer, the routing table, and a
    /// [`Event::ResolveEndpoint`] for every peer whose endpoint is a host name. The private key
    /// in `config` is wiped.
    pub fn new(mut config: TunnelConfig, now: Instant) -> Result<Tunnel, ConfigError> {
        let secret = StaticSecret::from(config.private_key);
        config.private_key.zeroize();
        let public = PublicKey::from(&secret);

        if config.peers.len() > MAX_PEERS {
            return Err(ConfigError::TooManyPeers {
                count: config.peers.len(),
                max: MAX_PEERS,
            });
        }

        let rate_limiter = Arc::new(RateLimiter::new(&public, HANDSHAKE_RATE_LIMIT));
        let mut by_key = HashMap::with_capacity(config.peers.len());
        let mut routes = RoutingTable::new();
        let mut peers = Vec::with_capacity(config.peers.len());
        let mut events = VecDeque::new();

        for (index, pc) in config.peers.iter_mut().enumerate() {
            if pc.public_key == *public.as_bytes() {
                return Err(ConfigError::OwnKey {
                    index,
                    key: KeyHex(&pc.public_key).to_string(),
                });
            }
            if let Some(first) = by_key.insert(pc.public_key, index) {
                return Err(ConfigError::DuplicatePeer {
                    first,
                    second: index,
                    key: KeyHex(&pc.public_key).to_string(),
                });
            }
            for net in &pc.allowed_ips {
                let net = net.trunc();
                if let Some(first) = routes.insert(net, index) {
                    return Err(ConfigError::DuplicateAllowedIp {
                        net,
                        first,
                        second: index,
                    });
                }
            }
            let keepalive = pc.persistent_keepalive.filter(|k| *k > 0);
            let psk = pc.preshared_key;
            if let Some(k) = pc.preshared_key.as_mut() {
                k.zeroize();
            }
            // `index < MAX_PEERS` (checked above) so it fits the 24 bits boringtun keeps.
            let tunn = Tunn::new(
                secret.clone(),
                PublicKey::from(pc.public_key),
                psk,
                keepalive,
                index as u32,
                Some(rate_limiter.clone()),
            );
            let (endpoint, name) = match &pc.endpoint {
                Some(Endpoint::Addr(a)) => (Some(*a), None),
                Some(Endpoint::Name { host, port }) => {
                    events.push_back(Event::ResolveEndpoint {
                        peer: pc.public_key,
                        host: host.clone(),
                        port: *port,
                    });
                    (None, Some((host.clone(), *port)))
                }
                None => (None, None),
            };
            peers.push(Peer {
                key: pc.public_key,
                tunn,
                endpoint,
                name,
                queue: VecDeque::new(),
                spare: Vec::new(),
                control: VecDeque::with_capacity(CONTROL_SLOTS),
                drain_tunn: false,
                rx_bytes: 0,
                tx_bytes: 0,
                rx_packets: 0,
                tx_packets: 0,
                last_handshake: None,
                attempts: 0,
                attempts_total: 0,
                wanted_since: None,
                error_reported: false,
                stale: false,
                confirm_pending: false,
            });
        }

        Ok(Tunnel {
            secret,
            public,
            rate_limiter,
            peers,
            by_key,
            routes,
            events,
            drops: DropCounters::default(),
            next_tick: now,
            cursor: 0,
            scratch: [0; MIN_BUFFER_LEN],
        })
    }

    /// Our public key.
    pub fn public_key(&self) -> PeerKey {
        *self.public.as_bytes()
    }

    /// The routing table (AllowedIPs of all peers; slots are peer positions in the config).
    pub fn routes(&self) -> &RoutingTable {
        &self.routes
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn drop_with<T>(&mut self, reason: DropReason, value: T) -> T {
        self.drops.add(reason);
        value
    }

    /// A packet read from the TUN device: route it by destination (longest-prefix match over
    /// all peers' AllowedIPs) and encrypt it into `out` (at least `packet.len() + OVERHEAD` and
    /// [`MIN_BUFFER_LEN`] bytes). Without a session the packet is queued and a handshake started.
    pub fn handle_tun_packet<'a>(
        &mut self,
        packet: &[u8],
        out: &'a mut [u8],
        now: Instant,
    ) -> TunOutcome<'a> {
        let Some(header) = IpHeader::parse(packet) else {
            return self.drop_with(DropReason::NotIp, TunOutcome::Dropped(DropReason::NotIp));
        };
        let Some(slot) = self.routes.lookup(header.dst) else {
            return self.drop_with(
                DropReason::NoRoute,
                TunOutcome::Dropped(DropReason::NoRoute),
            );
        };
        if out.len() < packet.len() + OVERHEAD || out.len() < MIN_BUFFER_LEN {
            return self.drop_with(
                DropReason::BufferTooSmall,
                TunOutcome::Dropped(DropReason::BufferTooSmall),
            );
        }
        let Some(peer) = self.peers.get_mut(slot) else {
            return self.drop_with(
                DropReason::NoRoute,
                TunOutcome::Dropped(DropReason::NoRoute),
            );
        };

        let Some(dst) = peer.endpoint else {
            if peer.name.is_some() {
                // Waiting for the driver to resolve the name: keep the packet.
                peer.wanted_since.get_or_insert(now);
                if peer.enqueue(packet) {
                    self.drops.add(DropReason::QueueFull);
                }
                return TunOutcome::Queued;
            }
            return self.drop_with(
                DropReason::NoEndpoint,
                TunOutcome::Dropped(DropReason::NoEndpoint),
            );
        };

        if peer.has_session() && peer.queue.is_empty() {
            match peer.tunn.encapsulate(packet, out) {
                TunnResult::WriteToNetwork(datagram) => {
                    let datagram: &'a [u8] = datagram;
                    peer.tx_bytes += datagram.len() as u64;
                    if packet::msg_type(datagram) == packet::MSG_DATA {
                        peer.tx_packets += 1;
                        return TunOutcome::Send { dst, datagram };
                    }
                    // Not expected with a session, but boringtun queued the packet and
                    // produced an initiation: hold the initiation, drain boringtun later.
                    peer.tx_bytes -= datagram.len() as u64;
                    peer.push_control(datagram);
                    peer.initiated(now);
                    peer.drain_tunn = true;
                    return TunOutcome::Queued;
                }
                TunnResult::Err(e) => {
                    let reason = drop_reason(&e, true);
                    return self.drop_with(reason, TunOutcome::Dropped(reason));
                }
                TunnResult::Done
                | TunnResult::WriteToTunnelV4(..)
                | TunnResult::WriteToTunnelV6(..) => {
                    peer.drain_tunn = true;
                    return TunOutcome::Queued;
                }
            }
        }

        if peer.enqueue(packet) {
            self.drops.add(DropReason::QueueFull);
        }
        if !peer.has_session() {
            peer.start_handshake(&mut self.scratch, now);
        }
        TunOutcome::Queued
    }

    /// A datagram received on the UDP socket from `from`. `out` must hold at least
    /// `datagram.len()` and [`MIN_BUFFER_LEN`] bytes.
    pub fn handle_udp_datagram<'a>(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        out: &'a mut [u8],
        now: Instant,
    ) -> UdpOutcome<'a> {
        if out.len() < datagram.len() || out.len() < MIN_BUFFER_LEN {
            return self.drop_with(
                DropReason::BufferTooSmall,
                UdpOutcome::Dropped(DropReason::BufferTooSmall),
            );
        }
        let parsed = match Tunn::parse_incoming_packet(datagram) {
            Ok(p) => p,
            Err(_) => {
                return self.drop_with(
                    DropReason::Malformed,
                    UdpOutcome::Dropped(DropReason::Malformed),
                )
            }
        };
        let kind = packet::msg_type(datagram);

        let slot = match parsed {
            Packet::HandshakeInit(_) => {
                // Check MAC1 (and the load / cookie) before spending a DH on finding the peer.
                let mut cookie = [0u8; 64];
                let verified =
                    self.rate_limiter
                        .verify_packet(Some(from.ip()), datagram, &mut cookie);
                let init = match verified {
                    Ok(Packet::HandshakeInit(init)) => init,
                    Ok(_) => {
                        return self.drop_with(
                            DropReason::Malformed,
                            UdpOutcome::Dropped(DropReason::Malformed),
                        )
                    }
                    Err(TunnResult::WriteToNetwork(c)) => {
                        let n = c.len();
                        out[..n].copy_from_slice(c);
                        return UdpOutcome::Reply {
                            dst: from,
                            datagram: &out[..n],
                        };
                    }
                    Err(TunnResult::Err(e)) => {
                        let reason = drop_reason(&e, false);
                        return self.drop_with(reason, UdpOutcome::Dropped(reason));
                    }
                    Err(_) => {
                        return self.drop_with(
                            DropReason::HandshakeFailed,
                            UdpOutcome::Dropped(DropReason::HandshakeFailed),
                        )
                    }
                };
                match parse_handshake_anon(&self.secret, &self.public, &init) {
                    Ok(half) => match self.by_key.get(&half.peer_static_public) {
                        Some(slot) => *slot,
                        None => {
                            return self.drop_with(
                                DropReason::UnknownPeer,
                                UdpOutcome::Dropped(DropReason::UnknownPeer),
                            )
                        }
                    },
                    Err(e) => {
                        let reason = drop_reason(&e, false);
                        return self.drop_with(reason, UdpOutcome::Dropped(reason));
                    }
                }
            }
            Packet::HandshakeResponse(p) => (p.receiver_idx >> 8) as usize,
            Packet::PacketCookieReply(p) => (p.receiver_idx >> 8) as usize,
            Packet::PacketData(p) => (p.receiver_idx >> 8) as usize,
        };
        if slot >= self.peers.len() {
            return self.drop_with(
                DropReason::UnknownPeer,
                UdpOutcome::Dropped(DropReason::UnknownPeer),
            );
        }

        let result = self.peers[slot]
            .tunn
            .decapsulate(Some(from.ip()), datagram, out);
        let is_data = kind == packet::MSG_DATA;
        match result {
            TunnResult::Err(e) => {
                let reason = drop_reason(&e, is_data);
                self.drops.add(reason);
                if kind == packet::MSG_HANDSHAKE_RESP
                    && reason == DropReason::HandshakeFailed
                    && !self.peers[slot].error_reported
                {
                    self.peers[slot].error_reported = true;
                    let peer = self.peers[slot].key;
                    self.push_event(Event::Error {
                        peer,
                        error: PeerError::HandshakeRejected,
                    });
                }
                UdpOutcome::Dropped(reason)
            }
            TunnResult::WriteToNetwork(reply) => {
                let reply: &'a [u8] = reply;
                let reply_kind = packet::msg_type(reply);
                if reply_kind == packet::MSG_COOKIE_REPLY {
                    // Under load: the peer must retry with a cookie. Not authenticated yet.
                    return UdpOutcome::Reply {
                        dst: from,
                        datagram: reply,
                    };
                }
                // The datagram authenticated (a handshake message we answered).
                self.authenticated(slot, from, datagram.len());
                if kind == packet::MSG_HANDSHAKE_INIT && reply_kind == packet::MSG_HANDSHAKE_RESP {
                    // Responder: confirmed by the initiator's first data message.
                    self.peers[slot].confirm_pending = true;
                } else if kind == packet::MSG_HANDSHAKE_RESP && reply_kind == packet::MSG_DATA {
                    self.handshake_completed(slot, now);
                }
                let peer = &mut self.peers[slot];
                peer.drain_tunn = true;
                peer.tx_bytes += reply.len() as u64;
                UdpOutcome::Reply {
                    dst: from,
                    datagram: reply,
                }
            }
            TunnResult::WriteToTunnelV4(inner, src) => {
                let inner: &'a [u8] = inner;
                self.confirm(slot, now);
                self.deliver(slot, from, datagram.len(), inner, src.into())
            }
            TunnResult::WriteToTunnelV6(inner, src) => {
                let inner: &'a [u8] = inner;
                self.confirm(slot, now);
                self.deliver(slot, from, datagram.len(), inner, src.into())
            }
            TunnResult::Done => {
                if is_data {
                    // A keepalive: authenticated. For a responder it also confirms the session.
                    self.authenticated(slot, from, datagram.len());
                    self.confirm(slot, now);
                }
                UdpOutcome::Nothing
            }
        }
    }

    fn deliver<'a>(
        &mut self,
        slot: usize,
        from: SocketAddr,
        wire_len: usize,
        inner: &'a [u8],
        src: std::net::IpAddr,
    ) -> UdpOutcome<'a> {
        // Authenticated by its AEAD tag: the peer is real even if the inner source is not
        // allowed, so roaming and counters apply.
        self.authenticated(slot, from, wire_len);
        if self.routes.lookup(src) != Some(slot) {
            return self.drop_with(
                DropReason::SourceNotAllowed,
                UdpOutcome::Dropped(DropReason::SourceNotAllowed),
            );
        }
        self.peers[slot].rx_packets += 1;
        UdpOutcome::TunPacket(inner)
    }

    /// A datagram from `from` authenticated as peer `slot`: count it and follow its address.
    fn authenticated(&mut self, slot: usize, from: SocketAddr, wire_len: usize) {
        let peer = &mut self.peers[slot];
        peer.rx_bytes += wire_len as u64;
        if peer.endpoint != Some(from) {
            let old = peer.endpoint.replace(from);
            let key = peer.key;
            self.push_event(Event::EndpointChanged {
                peer: key,
                from: old,
                to: from,
            });
        }
    }

    /// Authenticated data arrived: completes a handshake we answered as responder.
    fn confirm(&mut self, slot: usize, now: Instant) {
        if self.peers[slot].confirm_pending {
            self.handshake_completed(slot, now);
        }
    }

    fn handshake_completed(&mut self, slot: usize, now: Instant) {
        let peer = &mut self.peers[slot];
        peer.confirm_pending = false;
        peer.last_handshake = Some(now);
        peer.attempts = 0;
        peer.wanted_since = None;
        peer.error_reported = false;
        peer.stale = false;
        peer.drain_tunn = true;
        let key = peer.key;
        self.push_event(Event::HandshakeCompleted { peer: key });
    }

    /// Runs boringtun's timers for every peer (handshake retransmission, rekey, keepalive,
    /// persistent keepalive, session expiry) and this crate's own (re-resolution). Resulting
    /// datagrams come out of [`Tunnel::poll_transmit`], events out of [`Tunnel::poll_event`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rate_limiter.reset_count();
        for slot in 0..self.peers.len() {
            let peer = &mut self.peers[slot];
            let mut expired = false;
            match peer.tunn.update_timers(&mut self.scratch) {
                TunnResult::WriteToNetwork(datagram) => {
                    let datagram: &[u8] = datagram;
                    let init = packet::msg_type(datagram) == packet::MSG_HANDSHAKE_INIT;
                    peer.push_control(datagram);
                    if init {
                        peer.initiated(now);
                        // boringtun queues the keepalive that triggered it, if any.
                        peer.drain_tunn = true;
                    }
                }
                // Only a peer we tried to reach can go stale; an idle, never-used peer's
                // `Tunn` also "expires" (no keys for 3 × REJECT_AFTER_TIME) and says nothing.
                TunnResult::Err(WireGuardError::ConnectionExpired) => {
                    expired = !peer.stale
                        && (peer.attempts_total > 0
                            || peer.last_handshake.is_some()
                            || peer.confirm_pending);
                    peer.stale |= expired;
                }
                _ => {}
            }
            if expired {
                peer.wanted_since = None;
                let dropped = peer.queue.len();
                while let Some(buf) = peer.queue.pop_front() {
                    peer.recycle(buf);
                }
                peer.control.clear();
                let key = peer.key;
                for _ in 0..dropped {
                    self.drops.add(DropReason::HandshakeTimeout);
                }
                self.push_event(Event::PeerStale { peer: key });
            }
            let peer = &mut self.peers[slot];
            if let (Some((host, port)), Some(since)) = (&peer.name, peer.wanted_since) {
                if now.saturating_duration_since(since) >= RERESOLVE_AFTER {
                    peer.wanted_since = Some(now);
                    let event = Event::ResolveEndpoint {
                        peer: peer.key,
                        host: host.clone(),
                        port: *port,
                    };
                    self.push_event(event);
                }
            }
        }
        self.next_tick = now + TICK;
    }

    /// The next datagram to send, written into `out` (at least [`MIN_BUFFER_LEN`] bytes, and
    /// `MTU + OVERHEAD` for queued data): handshake initiations, keepalives, then packets that
    /// waited for a handshake. Call until `None` after every `handle_*` call.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let n = self.peers.len();
        for i in 0..n {
            let slot = (self.cursor + i) % n;
            if let Some(found) = self.transmit_one(slot, out) {
                // Next call starts with the next peer: a long queue cannot starve the others.
                self.cursor = (slot + 1) % n;
                return Some(found);
            }
        }
        None
    }

    fn transmit_one(&mut self, slot: usize, out: &mut [u8]) -> Option<(SocketAddr, usize)> {
        // 1. Control datagrams.
        while let Some(c) = self.peers[slot].control.pop_front() {
            let Some(dst) = self.peers[slot].endpoint else {
                self.drops.add(DropReason::NoEndpoint);
                let peer = &mut self.peers[slot];
                if !peer.error_reported && peer.name.is_none() {
                    peer.error_reported = true;
                    let key = peer.key;
                    self.push_event(Event::Error {
                        peer: key,
                        error: PeerError::NoEndpoint,
                    });
                }
                continue;
            };
            let Some(dst_buf) = out.get_mut(..c.len) else {
                self.drops.add(DropReason::BufferTooSmall);
                continue;
            };
            dst_buf.copy_from_slice(&c.buf[..c.len]);
            self.peers[slot].tx_bytes += c.len as u64;
            return Some((dst, c.len));
        }

        // 2. Packets that waited for the session.
        loop {
            let peer = &mut self.peers[slot];
            let dst = peer.endpoint?;
            if peer.queue.is_empty() || !peer.has_session() {
                break;
            }
            let buf = peer.queue.pop_front()?;
            if out.len() < buf.len() + OVERHEAD || out.len() < MIN_BUFFER_LEN {
                peer.recycle(buf);
                self.drops.add(DropReason::BufferTooSmall);
                continue;
            }
            let result = peer.tunn.encapsulate(&buf, out);
            let sent = match result {
                TunnResult::WriteToNetwork(d) => {
                    let len = d.len();
                    let data = packet::msg_type(d) == packet::MSG_DATA;
                    Some((len, data))
                }
                _ => None,
            };
            peer.recycle(buf);
            match sent {
                Some((len, data)) => {
                    peer.tx_bytes += len as u64;
                    if data {
                        peer.tx_packets += 1;
                    }
                    return Some((dst, len));
                }
                None => {
                    peer.drain_tunn = true;
                    break;
                }
            }
        }

        // 3. Whatever boringtun queued itself.
        let peer = &mut self.peers[slot];
        if peer.drain_tunn {
            if out.len() < MIN_BUFFER_LEN {
                return None;
            }
            match peer.tunn.decapsulate(None, &[], out) {
                TunnResult::WriteToNetwork(d) => {
                    let len = d.len();
                    let Some(dst) = peer.endpoint else {
                        self.drops.add(DropReason::NoEndpoint);
                        return None;
                    };
                    peer.tx_bytes += len as u64;
                    return Some((dst, len));
                }
                _ => peer.drain_tunn = false,
            }
        }
        None
    }

    /// The next event, oldest first. At most 1024 are kept; older ones are discarded.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Tunnel::handle_timeout`] should next be called ([`TICK`] after the last call).
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }

    /// Sets `peer`'s endpoint (the driver's answer to [`Event::ResolveEndpoint`], or any
    /// explicit move). Emits [`Event::EndpointChanged`] if it changed, and starts the handshake
    /// if packets are waiting. Returns false if `peer` is unknown.
    pub fn set_endpoint(&mut self, peer: &PeerKey, addr: SocketAddr) -> bool {
        let Some(&slot) = self.by_key.get(peer) else {
            return false;
        };
        let p = &mut self.peers[slot];
        if p.endpoint != Some(addr) {
            let old = p.endpoint.replace(addr);
            self.push_event(Event::EndpointChanged {
                peer: *peer,
                from: old,
                to: addr,
            });
        }
        let p = &mut self.peers[slot];
        if !p.queue.is_empty() && !p.has_session() {
            let since = p.wanted_since;
            p.start_handshake(&mut self.scratch, since.unwrap_or(self.next_tick));
        }
        true
    }

    /// A snapshot of every peer's counters, in configuration order.
    pub fn stats(&self) -> impl Iterator<Item = PeerStats> + '_ {
        self.peers.iter().map(|p| PeerStats {
            public_key: p.key,
            endpoint: p.endpoint,
            rx_bytes: p.rx_bytes,
            tx_bytes: p.tx_bytes,
            rx_packets: p.rx_packets,
            tx_packets: p.tx_packets,
            last_handshake: p.last_handshake,
            session_age: p.tunn.time_since_last_handshake(),
            handshake_attempts: p.attempts,
            handshake_attempts_total: p.attempts_total,
            queued: p.queue.len(),
        })
    }

    /// Drops so far, by reason.
    pub fn drop_counters(&self) -> &DropCounters {
        &self.drops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Tunnel>();
    }

    #[test]
    fn every_wireguard_error_maps_to_a_reason() {
        use WireGuardError as E;
        let cases = [
            (
                E::DestinationBufferTooSmall,
                false,
                DropReason::BufferTooSmall,
            ),
            (E::IncorrectPacketLength, false, DropReason::Malformed),
            (E::InvalidPacket, true, DropReason::InvalidInnerPacket),
            (E::InvalidPacket, false, DropReason::Malformed),
            (E::InvalidMac, false, DropReason::InvalidMac),
            (E::NoCurrentSession, true, DropReason::NoSession),
            (E::WrongIndex, false, DropReason::HandshakeFailed),
            (E::InvalidAeadTag, true, DropReason::DecryptFailed),
            (E::InvalidAeadTag, false, DropReason::HandshakeFailed),
            (E::DuplicateCounter, true, DropReason::Replay),
            (E::InvalidCounter, true, DropReason::Replay),
            (E::WrongTai64nTimestamp, false, DropReason::HandshakeReplay),
            (E::UnderLoad, false, DropReason::UnderLoad),
            (E::WrongKey, false, DropReason::HandshakeFailed),
        ];
        for (err, is_data, want) in cases {
            assert_eq!(drop_reason(&err, is_data), want, "{err:?} data={is_data}");
        }
    }
}
