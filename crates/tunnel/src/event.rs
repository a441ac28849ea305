//! Events the tunnel reports to its driver.

use std::net::SocketAddr;

use crate::PeerKey;

/// Something the driver should know (or act upon). Drained with [`crate::Tunnel::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A handshake with `peer` completed: as initiator when its response was accepted, as
    /// responder when the first data (or keepalive) message after our response authenticated
    /// (the initiator sends one at once), so both sides report only keys proven to work.
    HandshakeCompleted {
        /// The peer.
        peer: PeerKey,
    },
    /// boringtun gave up on `peer`: no handshake succeeded for REKEY_ATTEMPT_TIME (90 s) of
    /// retries, or no new keys for 3 × REJECT_AFTER_TIME. Queued packets were dropped. A new
    /// packet to the peer starts over.
    PeerStale {
        /// The peer.
        peer: PeerKey,
    },
    /// The peer's endpoint moved (roaming, or first learned): replies now go to `to`.
    EndpointChanged {
        /// The peer.
        peer: PeerKey,
        /// The previous endpoint, if any.
        from: Option<SocketAddr>,
        /// The new endpoint.
        to: SocketAddr,
    },
    /// Please resolve `host:port` and call [`crate::Tunnel::set_endpoint`]. Emitted at start for
    /// every [`crate::Endpoint::Name`] peer, and again whenever a handshake with such a peer has
    /// been wanted for [`crate::RERESOLVE_AFTER`] without completing.
    ResolveEndpoint {
        /// The peer.
        peer: PeerKey,
        /// Host name to resolve.
        host: String,
        /// UDP port.
        port: u16,
    },
    /// Something went wrong with `peer` that a user may need to know (at most once per
    /// handshake attempt).
    Error {
        /// The peer.
        peer: PeerKey,
        /// What went wrong.
        error: PeerError,
    },
}

/// A per-peer problem reported through [`Event::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer answered our handshake but the answer did not verify (wrong key or preshared
    /// key on one side).
    #[error("handshake response from the peer was rejected (key or preshared key mismatch?)")]
    HandshakeRejected,
    /// A handshake is wanted but the peer has no endpoint to send it to.
    #[error("the peer has no endpoint (not configured, or its host name is not resolved yet)")]
    NoEndpoint,
}
