//! The request, response and event enums.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The protocol version this crate speaks. A peer with another version is refused with an
/// error naming both.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: the protocol version the client speaks.
    Hello {
        /// [`PROTOCOL_VERSION`] of the client.
        version: u32,
        /// Free text for logs (e.g. `gatehouse-cli 0.1.0`).
        client: String,
    },
    /// A request; the daemon answers with a [`ServerMessage::Response`] of the same `id`.
    Request {
        /// Chosen by the client; echoed in the response.
        id: u64,
        /// What is asked.
        request: Request,
    },
}

/// What a client may ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Bring a profile up.
    Connect(ConnectRequest),
    /// Bring a profile down.
    Disconnect {
        /// The profile name given at connect.
        name: String,
    },
    /// The running tunnels.
    Status,
    /// Start receiving [`ServerMessage::Event`]s on this connection.
    Subscribe,
}

/// Bring up `name` from `config` with `secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// The profile name (unique among running tunnels).
    pub name: String,
    /// The profile's wg-quick text without `PrivateKey` / `PresharedKey` lines. Hook commands
    /// (`PostUp` …) in it are never run by the daemon.
    pub config: String,
    /// The keys, read by the client from the user's keyring (or the `.conf` file).
    pub secrets: Secrets,
    /// Block all traffic outside the tunnel while connecting and connected (full-tunnel
    /// profiles only).
    #[serde(default)]
    pub kill_switch: bool,
    /// The interface name asked for (`gatehouse up --name`); `None`: the profile name when it
    /// is a free, valid interface name, else `gh%d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

/// The keys of one connect. `Debug` shows no key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    /// The interface's private key.
    pub private_key: KeyBytes,
    /// The preshared key of each peer, in the order of the `[Peer]` sections.
    #[serde(default)]
    pub preshared_keys: Vec<Option<KeyBytes>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("private_key", &self.private_key)
            .field("preshared_keys", &self.preshared_keys.len())
            .finish()
    }
}

/// 32 key bytes: base64 on the wire, zeroed on drop, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeyBytes(pub [u8; 32]);

impl KeyBytes {
    /// The raw bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for KeyBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = STANDARD.encode(self.0);
        let r = s.serialize_str(&text);
        text.zeroize();
        r
    }
}

impl<'de> Deserialize<'de> for KeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut text = String::deserialize(d)?;
        let decoded = STANDARD.decode(text.as_bytes());
        text.zeroize();
        let mut bytes = decoded.map_err(|_| serde::de::Error::custom("a key is not base64"))?;
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom("a key is not 32 bytes"));
        bytes.zeroize();
        key.map(KeyBytes)
    }
}

/// What the daemon sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a matching [`ClientMessage::Hello`].
    Welcome {
        /// [`PROTOCOL_VERSION`] of the daemon.
        version: u32,
        /// The daemon's program version, for display.
        daemon: String,
    },
    /// The answer to the request with the same `id`.
    Response {
        /// The request's id.
        id: u64,
        /// The answer.
        response: Response,
    },
    /// An event of a subscription.
    Event(EventFrame),
    /// A fatal error: the daemon closes the connection after sending it.
    Error(ErrorReply),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// The profile is up (the handshake may still be under way: see its state).
    Connected {
        /// The profile name.
        name: String,
        /// The interface created for it.
        interface: String,
    },
    /// The profile is down and every host change undone.
    Disconnected {
        /// The profile name.
        name: String,
    },
    /// The running tunnels.
    Status(StatusReport),
    /// Events follow on this connection.
    Subscribed,
    /// The request failed; the connection stays usable.
    Error(ErrorReply),
}

/// Why something failed, for programs, and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// The category.
    pub kind: ErrorKind,
    /// A message for the user (never holds a key).
    pub message: String,
}

impl ErrorReply {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ErrorReply {
        ErrorReply {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Categories of [`ErrorReply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The peers speak different protocol versions.
    Version,
    /// The caller is not root nor in the `gatehouse` group.
    PermissionDenied,
    /// A frame that is not a valid message, or too large.
    Protocol,
    /// The request is invalid (bad profile text, missing key…).
    BadRequest,
    /// No tunnel of that name.
    NotFound,
    /// A tunnel of that name is already running.
    AlreadyConnected,
    /// The profile's routes overlap those of a running tunnel.
    RouteConflict,
    /// Bringing the tunnel up or down failed.
    Failed,
    /// The client did not read its events fast enough and is dropped.
    TooSlow,
}

/// The running tunnels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// One entry per tunnel, by name.
    pub tunnels: Vec<TunnelStatus>,
}

/// One running tunnel. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelStatus {
    /// The profile name.
    pub name: String,
    /// The interface.
    pub interface: String,
    /// Where the connection stands.
    pub state: ConnectionState,
    /// Whether the kill switch is on.
    pub kill_switch: bool,
    /// The interface's public key (base64).
    pub public_key: String,
    /// The UDP port listened on.
    pub listen_port: u16,
    /// Seconds since connect.
    pub uptime_secs: u64,
    /// The peers.
    pub peers: Vec<PeerStatus>,
}

/// One peer of a [`TunnelStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Public key (base64).
    pub public_key: String,
    /// Current endpoint.
    pub endpoint: Option<String>,
    /// Allowed IPs.
    pub allowed_ips: Vec<String>,
    /// Seconds since the last handshake; `None`: never.
    pub latest_handshake_secs: Option<u64>,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// The state of one profile's connection, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not running.
    Disconnected,
    /// Up, no handshake yet.
    Connecting,
    /// A handshake is fresh.
    Connected,
    /// The tunnel may not work: see the reason. Leaves by itself when a handshake completes.
    Stale {
        /// Why.
        reason: StaleReason,
    },
    /// Failed; the tunnel is being or has been torn down.
    Error {
        /// What failed.
        message: String,
    },
    /// Being torn down.
    Disconnecting,
}

impl ConnectionState {
    /// A short name (`connected`, `stale` …).
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Stale { .. } => "stale",
            ConnectionState::Error { .. } => "error",
            ConnectionState::Disconnecting => "disconnecting",
        }
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionState::Stale { reason } => write!(f, "stale ({reason})"),
            ConnectionState::Error { message } => write!(f, "error: {message}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Why a connection is [`ConnectionState::Stale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleReason {
    /// Traffic was sent but no handshake completed for too long.
    NoHandshake,
    /// The machine was suspended and resumed.
    Resumed,
    /// The network changed (link or address).
    NetworkChanged,
}

impl std::fmt::Display for StaleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StaleReason::NoHandshake => "no handshake for too long",
            StaleReason::Resumed => "after suspend",
            StaleReason::NetworkChanged => "the network changed",
        })
    }
}

/// An event with its sequence number in the subscription (1, 2, 3 …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFrame {
    /// Position in this subscription, from 1, without gaps.
    pub seq: u64,
    /// What happened.
    pub event: Event,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A profile's connection changed state.
    State {
        /// The profile.
        name: String,
        /// The new state.
        state: ConnectionState,
    },
    /// Counters of a connected profile (about once a second).
    Stats {
        /// The profile.
        name: String,
        /// Bytes received, all peers.
        rx_bytes: u64,
        /// Bytes sent, all peers.
        tx_bytes: u64,
        /// Seconds since the most recent handshake of any peer.
        latest_handshake_secs: Option<u64>,
    },
    /// A log line for the user.
    Log {
        /// The profile it is about, if any.
        name: Option<String>,
        /// Severity.
        level: LogLevel,
        /// The text (never holds a key).
        message: String,
    },
}

/// Severity of an [`Event::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Informational.
    Info,
    /// Something the user may want to act on.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect() -> ConnectRequest {
        ConnectRequest {
            name: "home".into(),
            config: "[Interface]\nAddress = 10.0.0.2/32\n".into(),
            secrets: Secrets {
                private_key: KeyBytes([7; 32]),
                preshared_keys: vec![None, Some(KeyBytes([9; 32]))],
            },
            kill_switch: true,
            interface: None,
        }
    }

    #[test]
    fn debug_never_shows_keys() {
        let req = ClientMessage::Request {
            id: 1,
            request: Request::Connect(connect()),
        };
        let text = format!("{req:?}");
        assert!(text.contains("<redacted>"));
        let b64 = STANDARD.encode([7u8; 32]);
        assert!(!text.contains(&b64));
        assert!(!text.contains("7, 7, 7"));
        let psk = STANDARD.encode([9u8; 32]);
        assert!(!text.contains(&psk));
    }

    #[test]
    fn messages_round_trip_through_json() {
        let msgs = vec![
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                client: "x".into(),
            },
            ClientMessage::Request {
                id: 2,
                request: Request::Connect(connect()),
            },
            ClientMessage::Request {
                id: 3,
                request: Request::Disconnect { name: "a".into() },
            },
            ClientMessage::Request {
                id: 4,
                request: Request::Subscribe,
            },
        ];
        for m in msgs {
            let json = serde_json::to_string(&m).expect("serialize");
            let back: ClientMessage = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, m);
        }
        let server = vec![
            ServerMessage::Welcome {
                version: 1,
                daemon: "0.1.0".into(),
            },
            ServerMessage::Event(EventFrame {
                seq: 9,
                event: Event::State {
                    name: "home".into(),
                    state: ConnectionState::Stale {
                        reason: StaleReason::Resumed,
                    },
                },
            }),
            ServerMessage::Response {
                id: 1,
                response: Response::Error(ErrorReply::new(ErrorKind::RouteConflict, "x")),
            },
        ];
        for m in server {
            let json = serde_json::to_string(&m).expect("serialize");
            let back: ServerMessage = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, m);
        }
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let json = r#"{"private_key":"c2hvcnQ=","preshared_keys":[]}"#;
        let err = serde_json::from_str::<Secrets>(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not 32 bytes"));
        assert!(!err.contains("c2hvcnQ"));
        let err = serde_json::from_str::<Secrets>(r#"{"private_key":"%%%"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not base64"));
    }
}
