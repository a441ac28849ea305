//! No-root networking for Gatehouse: the WireGuard tunnel core plus a userspace TCP/IP stack
//! (smoltcp), so TCP and UDP reach the private network with no TUN device and no root.
//!
//! * [`PacketDevice`]: a smoltcp [`phy::Device`](smoltcp::phy::Device) over two bounded
//!   in-memory packet queues (IP packets in, IP packets out). Used by this crate's driver and by
//!   the demo lab's in-process gateway.

mod device;

pub use device::{PacketDevice, PacketDeviceStats};
