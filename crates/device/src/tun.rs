//! The TUN interface: created with the `tun` crate, read and written without blocking.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::DeviceError;

/// Default MTU of a WireGuard interface (wg-quick's fallback).
pub const DEFAULT_MTU: u16 = 1420;

/// A layer-3 TUN interface owned by this process; it disappears when dropped.
///
/// Creation needs `CAP_NET_ADMIN`. The interface gets its MTU and is brought up; addresses and
/// routes are the business of `gatehouse-os`.
pub struct TunDevice {
    dev: tun::Device,
    name: String,
    mtu: u16,
    /// Every read and write carries a `virtio_net_hdr` (`IFF_VNET_HDR`).
    vnet: bool,
    /// The kernel may hand us TCP super-packets (TSO) and partial checksums.
    offload: bool,
}

impl std::fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunDevice")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .finish()
    }
}

/// Checks an interface name the way the kernel does (`dev_valid_name`), more strictly: 1 to 15
/// bytes of `[A-Za-z0-9_=+.-]`, optionally one `%d` that the kernel replaces with a number.
pub fn valid_interface_name(name: &str) -> bool {
    let rest = name.replacen("%d", "", 1);
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_=+.-".contains(&b))
}

impl TunDevice {
    /// Creates the interface `name` (the kernel picks a name when `None`), sets its MTU and
    /// brings it up, with TCP segmentation offload when the kernel supports it (see
    /// [`TunDevice::create_with`]).
    pub fn create(name: Option<&str>, mtu: u16) -> Result<Self, DeviceError> {
        let offload = std::env::var_os("GATEHOUSE_TUN_OFFLOAD").is_none_or(|v| v != "0");
        Self::create_with(name, mtu, offload)
    }

    /// [`TunDevice::create`], choosing whether to ask for offloads: with `offload`, the kernel
    /// hands over TCP super-packets of up to 64 KiB that the driver segments itself, which
    /// saves most TUN reads and much of the kernel's per-packet work.
    pub fn create_with(name: Option<&str>, mtu: u16, offload: bool) -> Result<Self, DeviceError> {
        if let Some(n) = name {
            if !valid_interface_name(n) {
                return Err(DeviceError::InvalidName(n.to_owned()));
            }
        }
        let err = |source: io::Error| DeviceError::TunCreate {
            name: name.map(str::to_owned),
            source,
        };
        let mut config = tun::Configuration::default();
        if let Some(n) = name {
            config.tun_name(n);
        }
        config.mtu(mtu).up();
        config.platform_config(|p| {
            p.vnet_hdr(offload);
        });
        let dev = tun::create(&config).map_err(|e| err(e.into()))?;
        dev.set_nonblock().map_err(err)?;
        let name = tun::AbstractDevice::tun_name(&dev).map_err(|e| err(e.into()))?;
        let vnet = offload;
        let offload = offload && {
            match crate::sys::tun_set_offload(dev.as_raw_fd()) {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!("no TUN offloads on {name}: {e}");
                    false
                }
            }
        };
        Ok(TunDevice {
            dev,
            name,
            mtu,
            vnet,
            offload,
        })
    }

    /// True when reads and writes carry a `virtio_net_hdr`.
    pub(crate) fn vnet(&self) -> bool {
        self.vnet
    }

    /// True when TCP segmentation offload is on.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// The interface name given by the kernel.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MTU set on the interface.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Reads one packet (with its `virtio_net_hdr` when [`TunDevice::vnet`]); `WouldBlock`
    /// when none is waiting.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::sys::read(self.dev.as_raw_fd(), buf)
    }

    /// Writes one packet (with its `virtio_net_hdr` when [`TunDevice::vnet`]).
    pub(crate) fn send(&self, packet: &[u8]) -> io::Result<usize> {
        crate::sys::write(self.dev.as_raw_fd(), packet)
    }

    /// Waits until a packet can be read, at most `timeout`.
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        crate::sys::wait_fd(self.dev.as_raw_fd(), libc::POLLIN, timeout)
    }

    /// Waits until the device can take a packet, at most `timeout`.
    pub(crate) fn wait_writable(&self, timeout: Duration) -> io::Result<bool> {
        crate::sys::wait_fd(self.dev.as_raw_fd(), libc::POLLOUT, timeout)
    }

    #[allow(dead_code)]
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(valid_interface_name("wg0"));
        assert!(valid_interface_name("gh%d"));
        assert!(valid_interface_name("home-vpc.1"));
        assert!(valid_interface_name("abcdefghijklmno"));
        assert!(!valid_interface_name("abcdefghijklmnop"));
        assert!(!valid_interface_name(""));
        assert!(!valid_interface_name("a/b"));
        assert!(!valid_interface_name("a b"));
        assert!(!valid_interface_name(".."));
        assert!(!valid_interface_name("x%d%d"));
    }

    #[test]
    fn create_without_privileges_is_an_error_not_a_panic() {
        // As root this really creates an interface; otherwise it must fail cleanly.
        match TunDevice::create(Some("ghtest%d"), DEFAULT_MTU) {
            Ok(dev) => {
                assert!(dev.name().starts_with("ghtest"));
                assert_eq!(dev.mtu(), DEFAULT_MTU);
            }
            Err(e) => assert!(matches!(e, DeviceError::TunCreate { .. }), "{e}"),
        }
        assert!(matches!(
            TunDevice::create(Some("bad name"), DEFAULT_MTU),
            Err(DeviceError::InvalidName(_))
        ));
    }
}
