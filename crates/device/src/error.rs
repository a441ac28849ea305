//! Errors of the device driver.

use std::io;

/// Why the device could not be created, or why it stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Creating or configuring the TUN interface failed (not root? `/dev/net/tun` missing?).
    #[error("cannot create TUN interface {}: {source}", name.as_deref().unwrap_or("(kernel-chosen name)"))]
    TunCreate {
        /// The interface name asked for (`None`: let the kernel pick one).
        name: Option<String>,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The interface name is unusable (empty, longer than 15 bytes, or contains `/`, spaces…).
    #[error("invalid interface name {0:?}: 1 to 15 characters out of [A-Za-z0-9_=+.-]")]
    InvalidName(String),
    /// Binding or configuring the UDP socket failed.
    #[error("cannot set up the UDP socket on port {port}: {source}")]
    UdpSocket {
        /// The port asked for (0: any).
        port: u16,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// Reading from or writing to the TUN interface failed for good (the interface was deleted?).
    #[error("TUN interface {name}: {source}")]
    TunIo {
        /// The interface.
        name: String,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// Receiving on the UDP socket failed for good.
    #[error("UDP socket: {0}")]
    UdpIo(#[source] io::Error),
    /// A driver thread could not be started.
    #[error("cannot start a driver thread: {0}")]
    Thread(#[source] io::Error),
}
