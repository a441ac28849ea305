//! The TUN + UDP driver around the sans-IO tunnel core ([`gatehouse_tunnel::Tunnel`]).
//!
//! ```text
//! TunDevice::create(name, mtu)      the interface (then gatehouse-os configures it)
//! Device::start(tun, tunnel, cfg)   UDP socket + two data threads + one tokio control task
//! device.subscribe() / .stats()     events (handshakes, endpoints, fatal errors) and counters
//! device.shutdown().await           stops and joins everything
//! ```
//!
//! # Speed
//!
//! The driver only moves bytes; where the time goes is system calls and crypto. So:
//!
//! * each direction has its own OS thread (`gh-encrypt`: TUN → UDP, `gh-decrypt`: UDP → TUN),
//!   sharing the core behind one mutex that is taken once per *batch*, never across a system
//!   call: the two directions' system calls overlap each other and the other direction's crypto;
//! * the encrypt side reads every waiting TUN packet (up to [`BATCH`]) before taking the lock and
//!   sends the result with UDP GSO: one `sendmsg` per run of equal-sized datagrams to one peer
//!   (up to 64, see `batch`);
//! * the decrypt side receives with `recvmmsg` (32 messages) and UDP GRO when the kernel
//!   coalesces;
//! * TUN offloads (`IFF_VNET_HDR` + `TUNSETOFFLOAD` TSO4/TSO6/CSUM): the kernel's TCP stack hands
//!   over 64 KiB super-packets that the encrypt side segments itself, and the decrypt side
//!   coalesces in-order TCP segments of a batch into super-packets before writing them (GRO),
//!   so both kernels' TCP paths see a few large packets instead of many small ones (`offload`;
//!   `GATEHOUSE_TUN_OFFLOAD=0` turns this off for comparisons);
//! * socket buffers of [`SOCKET_BUFFER`] bytes (`SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` as root), the
//!   first cure for the receive-buffer overflows that bound userspace WireGuard on Linux.
//!
//! # Robustness
//!
//! Nothing that arrives from the network or the TUN device can panic the driver: the core drops
//! and counts what it does not like, send errors are counted and logged (rate limited), and a
//! TUN or socket failure that cannot be retried stops the device with a
//! [`DeviceEvent::Stopped`] instead of a panic.

mod batch;
mod driver;
mod error;
mod offload;
mod sys;
mod tun;
mod udp;

pub use driver::{Device, DeviceConfig, DeviceEvent, DeviceHandle, DeviceStats, IoCounters, BATCH};
pub use error::DeviceError;
pub use tun::{valid_interface_name, TunDevice, DEFAULT_MTU};
pub use udp::SOCKET_BUFFER;
