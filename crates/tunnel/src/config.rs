//! Tunnel configuration: raw keys and networks, no file format.

use std::fmt;
use std::net::SocketAddr;

use ipnet::IpNet;

use crate::PeerKey;

/// Everything a [`crate::Tunnel`] needs: our private key and the peers.
#[derive(Clone)]
pub struct TunnelConfig {
    /// Our X25519 private key.
    pub private_key: [u8; 32],
    /// The peers, in configuration order (error messages name them by position and key).
    pub peers: Vec<PeerConfig>,
}

impl fmt::Debug for TunnelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelConfig")
            .field("private_key", &"<redacted>")
            .field("peers", &self.peers)
            .finish()
    }
}

/// One peer.
#[derive(Clone)]
pub struct PeerConfig {
    /// The peer's X25519 public key.
    pub public_key: PeerKey,
    /// Optional preshared key mixed into the handshake.
    pub preshared_key: Option<[u8; 32]>,
    /// Networks routed to this peer and accepted as inner source addresses from it.
    pub allowed_ips: Vec<IpNet>,
    /// Where to send to; `None` for a peer that must contact us first (its endpoint is then
    /// learned from its authenticated datagrams).
    pub endpoint: Option<Endpoint>,
    /// Send a keepalive every this many seconds (0 or `None`: off).
    pub persistent_keepalive: Option<u16>,
}

impl fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerConfig")
            .field("public_key", &KeyHex(&self.public_key))
            .field(
                "preshared_key",
                &self.preshared_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allowed_ips", &self.allowed_ips)
            .field("endpoint", &self.endpoint)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .finish()
    }
}

/// Where a peer is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A socket address, used as is.
    Addr(SocketAddr),
    /// A host name the driver resolves when asked ([`crate::Event::ResolveEndpoint`]) and answers
    /// with [`crate::Tunnel::set_endpoint`].
    Name {
        /// Host name (or an address literal the driver may parse).
        host: String,
        /// UDP port.
        port: u16,
    },
}

/// Why a [`TunnelConfig`] was refused. Peers are named by their position (0-based) in
/// [`TunnelConfig::peers`] and the first bytes of their public key; no secret appears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Two peers have the same public key.
    #[error("peer #{second} ({key}) has the same public key as peer #{first}")]
    DuplicatePeer {
        /// Position of the first peer with this key.
        first: usize,
        /// Position of the repeated peer.
        second: usize,
        /// Short hex form of the public key.
        key: String,
    },
    /// A peer's public key is our own public key.
    #[error("peer #{index} ({key}) has our own public key")]
    OwnKey {
        /// Position of the peer.
        index: usize,
        /// Short hex form of the public key.
        key: String,
    },
    /// The same network appears in the AllowedIPs of two peers (or twice in one).
    #[error("AllowedIPs {net} of peer #{second} is already routed to peer #{first}")]
    DuplicateAllowedIp {
        /// The network (normalised to its prefix).
        net: IpNet,
        /// Position of the peer that listed it first.
        first: usize,
        /// Position of the peer that listed it again.
        second: usize,
    },
    /// More peers than session indices can address (2^24).
    #[error("too many peers: {count} (at most {max})")]
    TooManyPeers {
        /// Number of peers configured.
        count: usize,
        /// Maximum supported.
        max: usize,
    },
}

/// Short, non-secret hex rendering of a public key (first 4 bytes), for errors and Debug.
pub(crate) struct KeyHex<'a>(pub(crate) &'a [u8; 32]);

impl fmt::Debug for KeyHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for KeyHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}
