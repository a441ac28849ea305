//! Scans: what a scan of a connection's network covers (the demo's VPC and home LAN, or the
//! last map opened), running it through `gatehouse_probe` with its progress, and keeping each
//! connection's last results (the map's probes, the Services rows, `gatehouse reach`'s last
//! probes).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gatehouse_lab::plan;
use gatehouse_netstack::Netstack;
use gatehouse_probe::{Dialer, Timeouts};
use gatehouse_vpc::model::Protocol;
use gatehouse_vpc::probe::targets::COMMON_PORTS;
use gatehouse_vpc::probe::{reach_probes, Limits, ProbeResult, Target as ProbeTarget};
use gatehouse_vpc::reach::{Analyzer, Tunnel, VpnHint};
use gatehouse_vpc::Topology;

use crate::demo::DEMO;
use crate::logs::Log;
use crate::maps::demo::{demo_home, demo_topology, home_hint};
use crate::maps::verdict_of;
use crate::services::service_views;
use crate::views::{err, AppError, ScanProgress, ServiceView};

/// Service scans: probes in flight at most.
pub const SCAN_CONCURRENCY: usize = 64;
/// Service scans: probe starts per second to one address at most.
const SCAN_RATE_PER_HOST: f64 = 20.0;
/// Service scans: connect timeout (the exchange after connecting gets as long).
const SCAN_TIMEOUT: Duration = Duration::from_millis(1500);

/// What a scan covers: a topology (its hosts on the ports their rules name) and, for the demo,
/// the home LAN beside it (its hosts on the common ports).
pub struct ScanScope {
    /// The VPC topology.
    pub topo: Topology,
    /// A LAN analysed on its own (the demo's home LAN).
    pub lan: Option<(Topology, VpnHint)>,
    /// Whether this is the demo network (its DNS names are known).
    pub demo: bool,
}

impl ScanScope {
    /// The demo network: its VPC and its home LAN.
    pub fn demo() -> Result<ScanScope, AppError> {
        Ok(ScanScope {
            topo: demo_topology()?,
            lan: Some((demo_home()?, home_hint())),
            demo: true,
        })
    }

    /// A topology the user opened.
    pub fn of(topo: Topology) -> ScanScope {
        ScanScope {
            topo,
            lan: None,
            demo: false,
        }
    }

    /// The probes to run.
    pub fn targets(&self) -> Vec<ProbeTarget> {
        let mut out = gatehouse_probe::topology_targets(&self.topo, None);
        if let Some((lan, _)) = &self.lan {
            out.extend(gatehouse_probe::topology_targets(lan, Some(COMMON_PORTS)));
        }
        gatehouse_vpc::probe::targets::dedup(out)
    }

    /// The Services rows of a scan through `connection` (whose profile gives `tunnel`), its
    /// verdicts completed by the scan's own probes.
    pub fn views(
        &self,
        connection: &str,
        results: &[ProbeResult],
        tunnel: Option<&Tunnel>,
        socks: Option<SocketAddr>,
    ) -> Vec<ServiceView> {
        let hint = VpnHint::default();
        let probes = reach_probes(results, &self.topo);
        let main = Analyzer::new(&self.topo, tunnel, &hint, &probes);
        let lan_probes = self
            .lan
            .as_ref()
            .map(|(t, _)| reach_probes(results, t))
            .unwrap_or_default();
        let lan = self
            .lan
            .as_ref()
            .map(|(t, h)| Analyzer::new(t, tunnel, h, &lan_probes));
        let verdict = |t: &ProbeTarget| {
            let key = t.ip.to_string();
            let analyzer = match &lan {
                Some(a) if a.find_target(&key).is_some() => a,
                _ => &main,
            };
            verdict_of(&analyzer.check_key(&key, Protocol::Tcp, t.port))
        };
        let demo = self.demo;
        let dns_name = move |ip: IpAddr| match ip {
            IpAddr::V4(v4) if demo => plan::host_by_ip(v4).map(|h| h.fqdn.to_owned()),
            _ => None,
        };
        service_views(connection, results, socks, &dns_name, &verdict)
    }
}

/// A finished scan of one connection's network.
struct Scanned {
    /// Every probe (the map's reach probes).
    results: Vec<ProbeResult>,
    /// The open ports as Services rows.
    services: Vec<ServiceView>,
}

/// Marks the scan finished if its future is dropped before the end.
struct ScanGuard<'a>(&'a Mutex<ScanProgress>);

impl Drop for ScanGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.0.lock() {
            if p.running {
                p.running = false;
                p.error = Some("the scan was cancelled".into());
            }
        }
    }
}

/// The last map's topology, each connection's last scan, the running scan's progress.
#[derive(Default)]
pub struct Scans {
    /// The topology of the last map the user opened (file, AWS, DigitalOcean) and its label:
    /// what a scan of a connection other than the demo probes.
    topology: Mutex<Option<(String, Topology)>>,
    /// Each connection's last scan.
    done: Mutex<BTreeMap<String, Scanned>>,
    /// The managed services the last maps declare (the demo's, and the last one opened), by
    /// map: rows before any scan.
    declared: Mutex<BTreeMap<String, Vec<ServiceView>>>,
    progress: Mutex<ScanProgress>,
}

/// Whether two rows are the same service (a scanned row confirms a declared one).
fn same_service(a: &ServiceView, b: &ServiceView) -> bool {
    let names = |v: &ServiceView| {
        [v.host.as_str(), v.fqdn.as_str(), v.ip.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    let nb = names(b);
    a.port == b.port && names(a).iter().any(|n| nb.contains(n))
}

impl Scans {
    /// Keeps the topology of the map the user opened (from `label`) for the next scan.
    pub fn keep_topology(&self, label: String, topo: Topology) {
        if let Ok(mut t) = self.topology.lock() {
            *t = Some((label, topo));
        }
    }

    /// Every probe of `connection`'s last scan.
    pub fn probes(&self, connection: &str) -> Vec<ProbeResult> {
        self.done
            .lock()
            .ok()
            .and_then(|d| d.get(connection).map(|s| s.results.clone()))
            .unwrap_or_default()
    }

    /// Keeps the managed services a map declares (`map`: `demo` or `opened`), replacing that
    /// map's earlier rows.
    pub fn keep_declared(&self, map: &str, rows: Vec<ServiceView>) {
        if let Ok(mut d) = self.declared.lock() {
            d.insert(map.to_owned(), rows);
        }
    }

    /// The services found by the last scan of each of the `running` connections, then the
    /// managed services the maps declare that no scan has confirmed yet.
    pub fn services(&self, running: &[String]) -> Vec<ServiceView> {
        let mut rows: Vec<ServiceView> = match self.done.lock() {
            Ok(done) => done
                .iter()
                .filter(|(name, _)| running.contains(name))
                .flat_map(|(_, s)| s.services.iter().cloned())
                .collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(declared) = self.declared.lock() {
            for row in declared.values().flatten() {
                if !rows.iter().any(|r| same_service(r, row)) {
                    rows.push(row.clone());
                }
            }
        }
        rows
    }

    /// The service `host` (its name, DNS name or address) `:port` a scan found, or a map
    /// declares, and the connection it is reached through.
    pub fn find(&self, host: &str, port: u16) -> Option<(String, ServiceView)> {
        let matches = |v: &ServiceView| {
            (v.host == host || v.ip == host || v.fqdn.eq_ignore_ascii_case(host)) && v.port == port
        };
        let scanned = self.done.lock().ok().and_then(|done| {
            done.iter().find_map(|(conn, s)| {
                s.services
                    .iter()
                    .find(|v| matches(v))
                    .map(|v| (conn.clone(), v.clone()))
            })
        });
        scanned.or_else(|| {
            let declared = self.declared.lock().ok()?;
            declared
                .values()
                .flatten()
                .find(|v| matches(v))
                .map(|v| (v.connection.clone(), v.clone()))
        })
    }

    /// The running scan's progress, or the last scan's figures.
    pub fn progress(&self) -> ScanProgress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn set_progress(&self, f: impl FnOnce(&mut ScanProgress)) {
        if let Ok(mut p) = self.progress.lock() {
            f(&mut p);
        }
    }

    /// What a scan of `name` covers: the demo network, or the last map opened.
    fn scope(&self, name: &str) -> Result<ScanScope, AppError> {
        if name == DEMO {
            return ScanScope::demo();
        }
        let topology = self.topology.lock().map_err(err)?;
        match &*topology {
            Some((_, t)) => Ok(ScanScope::of(t.clone())),
            None => Err(AppError::new(format!(
                "Open {name}'s map first (a Terraform state, AWS or DigitalOcean): \
                 the scan probes its hosts."
            ))),
        }
    }

    /// Scans `name`'s network: the demo's VPC and home LAN for the demo, else the topology of
    /// the last map opened (hosts on the ports their rules name). Probes go through the
    /// connection's userspace stack (`netstack`, no-root) or the OS's sockets (service mode);
    /// `tunnel` is its profile's reach. The open ports come back as Services rows; every result
    /// is kept as the map's probes.
    pub async fn scan(
        &self,
        name: &str,
        netstack: Option<Arc<Netstack>>,
        tunnel: Option<Tunnel>,
        log: &Log,
    ) -> Result<Vec<ServiceView>, AppError> {
        let name = name.to_owned();
        let (dialer, socks) = match netstack {
            Some(ns) => {
                let socks = ns.socks_addr();
                (Dialer::Tunnel(ns), socks)
            }
            None => (Dialer::Os, None),
        };
        let scope = self.scope(&name)?;
        let targets = scope.targets();
        if targets.is_empty() {
            return Err(AppError::new(
                "The map has no host with an address to probe.",
            ));
        }
        let total = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        {
            let mut p = self.progress.lock().map_err(err)?;
            if p.running {
                return Err(AppError::new("A scan is already running."));
            }
            *p = ScanProgress {
                running: true,
                connection: Some(name.clone()),
                total,
                concurrency: SCAN_CONCURRENCY as u32,
                ..ScanProgress::default()
            };
        }
        let _guard = ScanGuard(&self.progress);
        log.add(
            "info",
            Some(&name),
            format!("scanning {total} ports (concurrency {SCAN_CONCURRENCY})"),
        );
        let began = Instant::now();
        let limits = Limits {
            concurrency: SCAN_CONCURRENCY,
            per_host_per_s: SCAN_RATE_PER_HOST,
            timeout: Duration::ZERO,
        };
        let report = gatehouse_probe::scan(
            &dialer,
            targets,
            limits,
            Timeouts::both(SCAN_TIMEOUT),
            |done, _| {
                let elapsed = began.elapsed().as_millis() as f64;
                self.set_progress(|p| {
                    p.done = u32::try_from(done).unwrap_or(u32::MAX);
                    p.elapsed_ms = elapsed;
                });
            },
        )
        .await;
        let services = scope.views(&name, &report.results, tunnel.as_ref(), socks);
        let secs = report.elapsed.as_secs_f64();
        self.set_progress(|p| {
            p.running = false;
            p.done = u32::try_from(report.results.len()).unwrap_or(u32::MAX);
            p.found = u32::try_from(services.len()).unwrap_or(u32::MAX);
            p.elapsed_ms = report.elapsed.as_millis() as f64;
            p.peak_in_flight = u32::try_from(report.peak_in_flight).unwrap_or(u32::MAX);
        });
        log.add(
            "info",
            Some(&name),
            format!(
                "scan: {} open of {} probed in {secs:.1} s (peak {} in flight)",
                services.len(),
                report.results.len(),
                report.peak_in_flight
            ),
        );
        if name != DEMO {
            // The user's own network: `gatehouse reach` takes these as its last probes too.
            match gatehouse_vpc::store::SnapshotStore::open_default() {
                Ok(store) => keep_probes(&store, &name, &dialer, &report.results),
                Err(e) => {
                    tracing::warn!(connection = %name, "the scan's results are not kept: {e}")
                }
            }
        }
        if let Ok(mut done) = self.done.lock() {
            done.insert(
                name,
                Scanned {
                    results: report.results,
                    services: services.clone(),
                },
            );
        }
        Ok(services)
    }
}

/// Keeps a scan's results where `gatehouse reach` reads its last probes; a failure is logged.
fn keep_probes(
    store: &gatehouse_vpc::store::SnapshotStore,
    name: &str,
    dialer: &Dialer,
    results: &[gatehouse_vpc::probe::ProbeResult],
) {
    let log = gatehouse_vpc::store::ProbeLog {
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        path: match dialer {
            Dialer::Os => "os",
            Dialer::Tunnel(_) => "no-root",
        }
        .to_owned(),
        results: results.to_vec(),
    };
    if let Err(e) = store.save_probes(&log) {
        tracing::warn!(
            connection = name,
            "the scan's results are not kept for reach: {e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_profile;
    use crate::maps::{demo_map, tunnel_of};
    use crate::services::tests::open;
    use crate::views::Verdict;
    use gatehouse_vpc::probe::fingerprint::Fingerprint;

    #[test]
    fn a_scan_of_your_own_network_is_kept_for_reach() {
        use gatehouse_vpc::probe::{Outcome, ProbeResult, Target};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = gatehouse_vpc::store::SnapshotStore::open(dir.path());
        let results = vec![ProbeResult {
            target: Target {
                ip: "10.20.1.10".parse().expect("ip"),
                port: 5432,
                name: None,
            },
            outcome: Outcome::Refused,
            elapsed_ms: 3,
        }];
        keep_probes(&store, "work", &Dialer::Os, &results);
        let log = store.latest_probes().expect("read").expect("kept");
        assert_eq!(log.path, "os");
        assert_eq!(log.results, results);
    }

    /// The demo's scope: its VPC hosts on their rules' ports, the home LAN on the common
    /// ports; an open probe makes the verdict reachable with `probe-open`.
    #[test]
    fn demo_scope_targets_and_probe_verdicts() {
        let scope = ScanScope::demo().expect("scope");
        let t = scope.targets();
        let has = |n: &str, p: u16| {
            t.iter()
                .any(|x| x.name.as_deref() == Some(n) && x.port == p)
        };
        assert!(
            has("web-1", 80) && has("db", 5432) && has("pi", 8080) && has("nas", 3306),
            "{t:?}"
        );
        let profile = demo_profile(None);
        let tunnel = tunnel_of(&profile, "demo");
        let results = vec![open(
            [10, 20, 1, 20],
            "cache",
            6379,
            Fingerprint::Redis {
                auth_required: false,
            },
        )];
        let rows = scope.views("demo", &results, Some(&tunnel), None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].verdict, Verdict::Reachable);
        let m = demo_map(&profile, true, &results).expect("map");
        let cache = m.hosts.iter().find(|h| h.name == "cache").expect("cache");
        assert!(
            cache.codes.iter().any(|c| c == "probe-open"),
            "{:?}",
            cache.codes
        );
    }
}
