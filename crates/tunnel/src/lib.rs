//! Sans-IO WireGuard core.
//!
//! [`Tunnel`] is a state machine: a thin driver feeds it bytes (packets read from the TUN device,
//! datagrams received on the UDP socket) and time, and takes bytes back out of caller-provided
//! buffers. It owns no socket, no thread and no runtime.
//!
//! * one [`boringtun::noise::Tunn`] per peer, all sharing one [`boringtun::noise::rate_limiter::RateLimiter`]
//!   (cookie replies when under load);
//! * cryptokey routing: outgoing packets go to the peer whose AllowedIPs hold the longest prefix
//!   matching the destination (IPv4 and IPv6); incoming packets are dropped unless their inner
//!   source routes back to the very peer that sent them;
//! * a handshake is started by the first packet to a peer; packets wait in a bounded per-peer
//!   queue ([`QUEUE_CAPACITY`], oldest dropped and counted) and leave through
//!   [`Tunnel::poll_transmit`] once the session exists;
//! * rekey, keepalive and persistent keepalive come from boringtun's timers, driven by
//!   [`Tunnel::handle_timeout`];
//! * roaming: a peer's endpoint follows its authenticated datagrams ([`Event::EndpointChanged`]);
//! * endpoints given as host names are resolved by the driver on request
//!   ([`Event::ResolveEndpoint`], answered with [`Tunnel::set_endpoint`]).
//!
//! # Driver loop
//!
//! ```text
//! loop {
//!     wait for: TUN readable | UDP readable | tunnel.poll_timeout()
//!     TUN packet     -> tunnel.handle_tun_packet(pkt, &mut buf, now)      -> send datagram?
//!     UDP datagram   -> tunnel.handle_udp_datagram(from, dg, &mut buf, now) -> write TUN? reply?
//!     deadline       -> tunnel.handle_timeout(now)
//!     then drain:       while let Some((dst, n)) = tunnel.poll_transmit(&mut buf) { send }
//!                       while let Some(ev) = tunnel.poll_event() { report }
//! }
//! ```
//!
//! # Buffers
//!
//! Every output buffer must be at least [`MIN_BUFFER_LEN`] bytes and at least the input length
//! plus [`OVERHEAD`] (for `handle_tun_packet`) or the input length (for `handle_udp_datagram`).
//! A buffer of `MTU + OVERHEAD` (and >= [`MIN_BUFFER_LEN`]) is always enough. Too small a buffer
//! drops the packet ([`DropReason::BufferTooSmall`]); it never panics.
//!
//! # Clock
//!
//! [`Instant`] is `std::time::Instant`, or `mock_instant::Instant` with the `mock-clock` feature
//! (boringtun's timers then follow the same fake clock, advanced with
//! `mock_instant::MockClock::advance`; the clock is thread-local, so tests can run in parallel).
//! boringtun reads its clock itself; the `now` arguments drive this crate's own bookkeeping
//! (handshake age, re-resolution, [`Tunnel::poll_timeout`]) and must come from the same clock.
//!
//! # Rules worth knowing
//!
//! * Duplicate AllowedIPs (the same prefix on two peers) are a [`ConfigError`], not a silent move.
//! * Re-resolution: a [`Endpoint::Name`] peer gets [`Event::ResolveEndpoint`] at start, and again
//!   whenever a handshake has been wanted for [`RERESOLVE_AFTER`] (15 s, three REKEY_TIMEOUT
//!   retries) without completing; the period restarts at each request.
//! * [`Event::PeerStale`] comes once when boringtun gives up (90 s of unanswered handshakes, or
//!   no new keys for 540 s) on a peer that was used; its waiting packets are dropped
//!   ([`DropReason::HandshakeTimeout`]). Persistent keepalive stops until a packet restarts it.
//! * The shared rate limiter allows 100 handshake messages per second before answering with
//!   cookies; initiations count twice (once to find the peer, once in its `Tunn`).
//!
//! # Tests
//!
//! `cargo test -p gatehouse-tunnel` (real clock: everything that needs no time) and
//! `cargo test -p gatehouse-tunnel --features mock-clock` (adds the timer tests).

mod config;
mod event;
mod packet;
mod route;
mod stats;
mod tunnel;

pub use config::{ConfigError, Endpoint, PeerConfig, TunnelConfig};
pub use event::{Event, PeerError};
pub use route::RoutingTable;
pub use stats::{DropCounters, DropReason, PeerStats};
pub use tunnel::{TunOutcome, Tunnel, UdpOutcome};

/// The clock type used by the tunnel: `std::time::Instant`, or `mock_instant::Instant` when the
/// `mock-clock` feature is enabled (tests only).
#[cfg(not(feature = "mock-clock"))]
pub use std::time::Instant;

/// The clock type used by the tunnel: `std::time::Instant`, or `mock_instant::Instant` when the
/// `mock-clock` feature is enabled (tests only).
#[cfg(feature = "mock-clock")]
pub use mock_instant::Instant;

/// The fake clock (only with the `mock-clock` feature): `MockClock::advance(d)` moves time for
/// this thread, for both this crate and boringtun.
#[cfg(feature = "mock-clock")]
pub use mock_instant::MockClock;

/// A peer's identity: its 32-byte X25519 public key.
pub type PeerKey = [u8; 32];

/// Bytes a data message adds to the IP packet it carries (header 16 + AEAD tag 16).
pub const OVERHEAD: usize = 32;

/// The smallest output buffer accepted by any call (the size of a handshake initiation).
pub const MIN_BUFFER_LEN: usize = 148;

/// How many packets may wait per peer for a handshake; when full, the oldest is dropped and
/// counted as [`DropReason::QueueFull`].
pub const QUEUE_CAPACITY: usize = 64;

/// How often [`Tunnel::handle_timeout`] wants to run (boringtun's timer granularity).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// A host-name endpoint is re-resolved ([`Event::ResolveEndpoint`]) when a handshake has been
/// wanted for this long without completing (three REKEY_TIMEOUT retransmissions), and again every
/// such period while it keeps failing.
pub const RERESOLVE_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// A handshake is considered stale (no longer proving the peer alive) after this long
/// (boringtun's REJECT_AFTER_TIME).
pub const REJECT_AFTER_TIME: std::time::Duration = std::time::Duration::from_secs(180);
