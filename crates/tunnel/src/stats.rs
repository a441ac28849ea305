//! Counters: per-peer statistics and drops by reason.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{Instant, PeerKey};

/// Why a packet or datagram was dropped. Every drop is counted in [`DropCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// From the TUN: not an IPv4/IPv6 packet (or shorter than its header).
    NotIp,
    /// From the TUN: no peer's AllowedIPs hold the destination.
    NoRoute,
    /// The peer has no endpoint (none configured, not yet resolved, not yet learned).
    NoEndpoint,
    /// The oldest packet waiting for a handshake was pushed out of the full queue
    /// ([`crate::QUEUE_CAPACITY`]).
    QueueFull,
    /// The caller's output buffer is too small (see the crate docs, Buffers).
    BufferTooSmall,
    /// From the network: too short, unknown message type or wrong length for its type.
    Malformed,
    /// From the network: handshake message whose MAC1 does not verify (not for us).
    InvalidMac,
    /// From the network: handshake initiation from a key that is not one of our peers, or a
    /// message whose receiver index names no peer of ours.
    UnknownPeer,
    /// From the network: data for a session we do not have (expired, never existed).
    NoSession,
    /// From the network: data that fails authentication (AEAD tag).
    DecryptFailed,
    /// From the network: data with a counter already seen or too old (replay window).
    Replay,
    /// From the network: a handshake initiation whose timestamp is not newer than the last one
    /// (replayed initiation).
    HandshakeReplay,
    /// From the network: a handshake message that fails (wrong key, unexpected response, bad
    /// cookie...).
    HandshakeFailed,
    /// From the network: handshake dropped because we are under load and no valid cookie MAC2
    /// could be checked.
    UnderLoad,
    /// From the network: the decrypted packet's source is not in the sending peer's AllowedIPs.
    SourceNotAllowed,
    /// From the network: the decrypted payload is not a valid IPv4/IPv6 packet.
    InvalidInnerPacket,
    /// Packets waiting for a handshake were discarded because the handshake gave up
    /// (REKEY_ATTEMPT_TIME) and the peer went stale.
    HandshakeTimeout,
}

impl DropReason {
    /// Every reason, in a stable order (index of [`DropCounters`]).
    pub const ALL: [DropReason; 17] = [
        DropReason::NotIp,
        DropReason::NoRoute,
        DropReason::NoEndpoint,
        DropReason::QueueFull,
        DropReason::BufferTooSmall,
        DropReason::Malformed,
        DropReason::InvalidMac,
        DropReason::UnknownPeer,
        DropReason::NoSession,
        DropReason::DecryptFailed,
        DropReason::Replay,
        DropReason::HandshakeReplay,
        DropReason::HandshakeFailed,
        DropReason::UnderLoad,
        DropReason::SourceNotAllowed,
        DropReason::InvalidInnerPacket,
        DropReason::HandshakeTimeout,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// A short stable name (for logs and metrics).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::NotIp => "not_ip",
            DropReason::NoRoute => "no_route",
            DropReason::NoEndpoint => "no_endpoint",
            DropReason::QueueFull => "queue_full",
            DropReason::BufferTooSmall => "buffer_too_small",
            DropReason::Malformed => "malformed",
            DropReason::InvalidMac => "invalid_mac",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::NoSession => "no_session",
            DropReason::DecryptFailed => "decrypt_failed",
            DropReason::Replay => "replay",
            DropReason::HandshakeReplay => "handshake_replay",
            DropReason::HandshakeFailed => "handshake_failed",
            DropReason::UnderLoad => "under_load",
            DropReason::SourceNotAllowed => "source_not_allowed",
            DropReason::InvalidInnerPacket => "invalid_inner_packet",
            DropReason::HandshakeTimeout => "handshake_timeout",
        }
    }
}

/// Dropped packets and datagrams, by [`DropReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::ALL.len()],
}

impl DropCounters {
    /// How many were dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.index()]
    }

    /// Total drops, all reasons.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(reason, count)` for every reason (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }

    pub(crate) fn add(&mut self, reason: DropReason) {
        let c = &mut self.counts[reason.index()];
        *c = c.saturating_add(1);
    }
}

/// A snapshot of one peer's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    /// The peer's public key.
    pub public_key: PeerKey,
    /// Where datagrams to the peer currently go.
    pub endpoint: Option<SocketAddr>,
    /// Bytes of authenticated datagrams received from the peer (WireGuard messages, all types).
    pub rx_bytes: u64,
    /// Bytes of datagrams produced for the peer (WireGuard messages, all types).
    pub tx_bytes: u64,
    /// IP packets received from the peer and delivered (keepalives not counted).
    pub rx_packets: u64,
    /// IP packets encrypted to the peer (keepalives not counted).
    pub tx_packets: u64,
    /// When the last handshake completed, if ever.
    pub last_handshake: Option<Instant>,
    /// How long ago the current session's handshake completed, per boringtun (`None`: no
    /// usable session).
    pub session_age: Option<Duration>,
    /// Handshake initiations sent since the last completed handshake (0 when fresh).
    pub handshake_attempts: u32,
    /// Handshake initiations sent since the tunnel started.
    pub handshake_attempts_total: u64,
    /// Packets waiting for a handshake.
    pub queued: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_own_counter_and_have_unique_names() {
        let mut c = DropCounters::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
            for _ in 0..=i {
                c.add(*r);
            }
        }
        for (i, (r, n)) in c.iter().enumerate() {
            assert_eq!(n, i as u64 + 1, "{r:?}");
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
        let n = DropReason::ALL.len() as u64;
        assert_eq!(c.total(), n * (n + 1) / 2);
    }
}
