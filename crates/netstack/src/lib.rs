//! No-root networking for Gatehouse: the WireGuard tunnel core plus a userspace TCP/IP stack
//! (smoltcp), so TCP and UDP reach the private network with no TUN device and no root.
//!
//! * [`Netstack`]: started from a profile ([`gatehouse_profile::Config`] with its keys), it
//!   serves on 127.0.0.1 a SOCKS5 proxy (CONNECT to IPv4, IPv6 and names resolved through the
//!   profile's DNS server inside the tunnel; UDP ASSOCIATE), an HTTP proxy (CONNECT and absolute-URI
//!   requests), and TCP/UDP port forwards, opened at start or on demand
//!   ([`Netstack::open_forward`]).
//! * [`PacketDevice`]: a smoltcp [`phy::Device`](smoltcp::phy::Device) over two bounded
//!   in-memory packet queues (IP packets in, IP packets out). Used by this crate's core and by
//!   the demo lab's in-process gateway.
//! * [`socks`] and [`http`]: sans-IO parsers of the proxy protocols.
//!
//! # How it runs
//!
//! One core task owns the UDP socket to the peers, the [`gatehouse_tunnel::Tunnel`], the smoltcp
//! interface and its sockets. Each client connection is a task that relays between its local
//! `TcpStream` and bounded channels of byte chunks to the core. Back-pressure is end to end: a
//! slow local reader fills its channel, then its smoltcp receive buffer, whose TCP window closes
//! for that connection only; a slow peer fills the smoltcp send buffer and the channel, and the
//! relay stops reading from the local client.
//!
//! Limits: at most [`NetstackOptions::max_connections`] clients (past it: SOCKS5 reply 0x01,
//! HTTP 503, both with the reason), a handshake timeout for proxy requests, an idle timeout for
//! connections, and a budget for smoltcp buffers (large windows, up to 1 MiB, when few
//! connections are open; smaller ones as they add up).

mod bridge;
mod device;
mod dns;
pub mod http;
mod netstack;
pub mod socks;
mod stack;
mod target;

pub use device::{PacketDevice, PacketDeviceStats, RxToken, TxToken};
pub use dns::ResolveError;
pub use netstack::{
    tunnel_config, ForwardInfo, ForwardSpec, ForwardSpecError, Netstack, NetstackError,
    NetstackOptions, NetstackStats, NoPrivateKey, Protocol, DEFAULT_MTU,
};
pub use stack::{ConnectError, TcpPipe};
pub use target::{Target, TargetError};
