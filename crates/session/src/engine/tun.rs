//! The TUN driver of the engine: the device, the host changes (addresses, routes, DNS, the kill
//! switch), journaled before they are made, undone at the end or by the next engine's
//! [`recover`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use gatehouse_device::{Device, DeviceConfig, TunDevice};
use gatehouse_ipc::{ConnectRequest, ErrorKind, ErrorReply};
use gatehouse_profile::Config;
use gatehouse_tunnel::Tunnel;

use super::{err, host, Recovery};
use crate::convert;
use crate::journal::{Entry, Journal, Phase};
use crate::killswitch::{self, KillSwitch};

/// What a TUN bring-up needs of the engine.
pub(super) struct Context<'a> {
    pub journal: &'a Journal,
    pub state_dir: &'a Path,
    /// The engine's own interfaces (left out of the network-change watch).
    pub ours: &'a Mutex<HashSet<String>>,
    /// Logs a warning for this profile.
    pub warn: &'a (dyn Fn(String) + Sync),
}

/// A TUN connection that is up: what its teardown needs.
pub(super) struct Up {
    pub device: Device,
    pub applied: gatehouse_os::Applied,
    pub interface: String,
    pub kill_switch: bool,
    /// The line announcing it ("gh0 up (1 peer), MTU 1420").
    pub summary: String,
}

fn mark_ours(ours: &Mutex<HashSet<String>>, interface: &str, mine: bool) {
    if let Ok(mut set) = ours.lock() {
        if mine {
            set.insert(interface.to_owned());
        } else {
            set.remove(interface);
        }
    }
}

impl Context<'_> {
    /// Creates the device, journals and applies the host changes, starts the driver.
    pub async fn bring_up(
        &self,
        name: &str,
        req: &ConnectRequest,
        config: &Config,
        tunnel: Tunnel,
    ) -> Result<Up, ErrorReply> {
        let mtu = config
            .interface
            .mtu
            .unwrap_or(gatehouse_device::DEFAULT_MTU);
        let wanted = req
            .interface
            .clone()
            .unwrap_or_else(|| host::interface_for(name));
        let tun = TunDevice::create(Some(&wanted), mtu).map_err(|e| {
            let mut message = format!("{name}: {e}");
            if let gatehouse_device::DeviceError::TunCreate { source, .. } = &e {
                if source.kind() == std::io::ErrorKind::PermissionDenied {
                    message.push_str(
                        "\na TUN connection needs root (CAP_NET_ADMIN) to create the interface \
                         and its routes: run it with sudo, or use the Gatehouse service",
                    );
                }
            }
            err(ErrorKind::Failed, message)
        })?;
        let interface = tun.name().to_owned();
        mark_ours(self.ours, &interface, true);
        let result = self.bring_up_on(name, req, config, tunnel, tun, mtu).await;
        if result.is_err() {
            mark_ours(self.ours, &interface, false);
        }
        result
    }

    async fn bring_up_on(
        &self,
        name: &str,
        req: &ConnectRequest,
        config: &Config,
        tunnel: Tunnel,
        tun: TunDevice,
        mtu: u16,
    ) -> Result<Up, ErrorReply> {
        let interface = tun.name().to_owned();
        let (endpoints, warnings) = host::resolve_endpoints(config).await;
        for w in warnings {
            (self.warn)(w);
        }
        let mut host = convert::host_config(
            config,
            &interface,
            endpoints.iter().map(|a| a.ip()).collect(),
        )?;
        host.endpoints.dedup();
        let journal = self.journal;
        // Journal first, then the change.
        journal
            .write(&Entry::planned(name, &host, req.kill_switch))
            .map_err(|e| err(ErrorKind::Failed, e.to_string()))?;
        let fail = |message: String| err(ErrorKind::Failed, format!("{name}: {message}"));
        if req.kill_switch {
            let ks = KillSwitch {
                interface: interface.clone(),
                endpoints: endpoints.clone(),
                dns: convert::dns_servers(config),
            };
            if let Err(e) = ks.install(self.state_dir).await {
                let _ = journal.remove(&interface);
                return Err(fail(e.to_string()));
            }
        }
        let options = gatehouse_os::ApplyOptions {
            state_dir: Some(self.state_dir.to_path_buf()),
            ..Default::default()
        };
        let applied = match gatehouse_os::apply(&host, &options).await {
            Ok(a) => a,
            Err(e) => {
                if req.kill_switch {
                    let _ = killswitch::remove().await;
                }
                let _ = journal.remove(&interface);
                return Err(fail(format!("cannot configure {interface}: {e}")));
            }
        };
        let entry = Entry {
            phase: Phase::Applied {
                applied: applied.clone(),
            },
            ..Entry::planned(name, &host, req.kill_switch)
        };
        if let Err(e) = journal.write(&entry) {
            (self.warn)(e.to_string());
        }
        let device_cfg = DeviceConfig {
            listen_port: config.interface.listen_port,
            fwmark: applied.fwmark().or(config.interface.fwmark),
        };
        let device = match Device::start(tun, tunnel, device_cfg) {
            Ok(d) => d,
            Err(e) => {
                undo(
                    &applied,
                    &interface,
                    req.kill_switch,
                    self.journal,
                    self.warn,
                )
                .await;
                return Err(fail(format!("cannot start the tunnel: {e}")));
            }
        };
        let peers = config.peers.len();
        let summary = format!(
            "{interface} up ({peers} peer{}), MTU {}",
            if peers == 1 { "" } else { "s" },
            host.mtu.unwrap_or(u32::from(mtu))
        );
        Ok(Up {
            device,
            applied,
            interface,
            kill_switch: req.kill_switch,
            summary,
        })
    }
}

/// Undoes the host changes of `applied`, the kill switch, then the journal entry.
async fn undo(
    applied: &gatehouse_os::Applied,
    interface: &str,
    kill_switch: bool,
    journal: &Journal,
    warn: &(dyn Fn(String) + Sync),
) {
    if let Err(e) = applied.revert().await {
        warn(format!("some host changes could not be undone: {e}"));
    }
    if kill_switch {
        if let Err(e) = killswitch::remove().await {
            warn(e.to_string());
        }
    }
    if let Err(e) = journal.remove(interface) {
        warn(e.to_string());
    }
}

/// Stops the driver and undoes everything the connection changed.
pub(super) async fn tear_down(
    up: Up,
    journal: &Journal,
    ours: &Mutex<HashSet<String>>,
    warn: &(dyn Fn(String) + Sync),
) {
    up.device.shutdown().await;
    undo(&up.applied, &up.interface, up.kill_switch, journal, warn).await;
    mark_ours(ours, &up.interface, false);
}

/// Undoes the entries of processes that are gone (in this network namespace), then deletes
/// them; entries of live processes, or of other namespaces, are kept.
pub(super) async fn recover(journal: &Journal) -> Recovery {
    let mut rec = Recovery::default();
    let entries = match journal.entries() {
        Ok(e) => e,
        Err(e) => {
            rec.failures.push(e.to_string());
            return rec;
        }
    };
    for (_, entry) in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                rec.failures.push(e.to_string());
                continue;
            }
        };
        if entry.owner.as_ref().is_some_and(|o| !o.may_recover()) {
            rec.kept.push(entry.name);
            continue;
        }
        tracing::warn!(profile = %entry.name, interface = %entry.interface,
            "undoing host changes left by a previous run");
        if let Err(e) = revert_actions(&entry.undo_actions()).await {
            rec.failures.push(format!("{}: {e}", entry.name));
        }
        if entry.kill_switch {
            if let Err(e) = killswitch::remove().await {
                rec.failures.push(format!("{}: {e}", entry.name));
            }
        }
        if let Err(e) = journal.remove(&entry.interface) {
            rec.failures.push(e.to_string());
        }
        rec.replayed.push(entry.name);
    }
    rec
}

async fn revert_actions(actions: &[gatehouse_os::UndoAction]) -> Result<(), String> {
    let applied = gatehouse_os::Applied {
        interface: String::new(),
        mtu: 0,
        plan: gatehouse_os::Plan::compute(&empty_host(""), |_| false),
        actions: actions.to_vec(),
    };
    applied.revert().await.map_err(|e| e.to_string())
}

/// A host configuration that changes nothing on `interface`.
pub(super) fn empty_host(interface: &str) -> gatehouse_os::HostConfig {
    gatehouse_os::HostConfig {
        interface: interface.to_owned(),
        addresses: Vec::new(),
        mtu: None,
        allowed_ips: Vec::new(),
        table: gatehouse_os::Table::Off,
        fwmark: None,
        endpoints: Vec::new(),
        dns: gatehouse_os::DnsConfig::default(),
    }
}
