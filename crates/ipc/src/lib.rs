//! The typed messages between the Gatehouse daemon and its clients (CLI, desktop app), and how
//! they travel on the Unix socket.
//!
//! # Wire format
//!
//! Each message is one frame: a big-endian `u32` length, then that many bytes of JSON (one
//! [`ClientMessage`] or [`ServerMessage`]). A length above [`MAX_FRAME`] is an error before
//! anything is allocated ([`FrameError::TooLarge`]); the peer is sent an error and dropped.
//!
//! # Conversation
//!
//! ```text
//! client                                  daemon
//! Hello { version }                  →
//!                                    ←    Welcome { version }           (or Error, then close)
//! Request { id, Connect | Disconnect | Status | Subscribe }  →
//!                                    ←    Response { id, … }
//!                                    ←    Event { seq, … }              (after Subscribe)
//! ```
//!
//! Every [`EventFrame`] of one subscription carries a sequence number starting at 1 and
//! increasing by one, so a client sees at once whether it lost or reordered anything. A client
//! too slow to read its events is dropped rather than allowed to hold the daemon back.
//!
//! # Secrets
//!
//! A [`ConnectRequest`] carries the profile's wg-quick text *without* keys plus the private and
//! preshared keys as [`KeyBytes`]: zeroed on drop, shown as `<redacted>` by `Debug`, never in
//! an error message.

mod frame;
mod message;

pub use frame::{encode, read_frame, write_frame, FrameBuf, FrameError, HEADER_LEN, MAX_FRAME};
pub use message::{
    ClientMessage, ConnectRequest, ConnectionState, ErrorKind, ErrorReply, Event, EventFrame,
    KeyBytes, LogLevel, PeerStatus, Request, Response, Secrets, ServerMessage, StaleReason,
    StatusReport, TunnelStatus, PROTOCOL_VERSION,
};

/// The default socket path of the daemon.
pub const DEFAULT_SOCKET: &str = "/run/gatehouse/gatehouse.sock";

/// The group whose members may talk to the daemon (besides root).
pub const GROUP: &str = "gatehouse";

/// What a caller who may not use the daemon is told (`group` is normally [`GROUP`]).
pub fn access_hint(socket: &str, group: &str) -> String {
    format!(
        "only root and members of the group `{group}` may use the Gatehouse service at {socket}; \
         to get access run `sudo usermod -aG {group} $USER`, then log out and in again (the new \
         group applies to new login sessions)"
    )
}
