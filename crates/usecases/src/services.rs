//! The private services a map declares (managed databases, caches, cluster APIs: rows as soon
//! as the map is opened) and those a scan found: their Services rows (kind, what the prober saw
//! or the map says, the command to copy), and opening one (a local forward through the no-root
//! stack, or the private address or endpoint name as it is in service mode).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_netstack::{Netstack, Target};
use gatehouse_vpc::model::ServiceKind;
use gatehouse_vpc::probe::fingerprint::Fingerprint;
use gatehouse_vpc::probe::{Outcome, ProbeResult, Target as ProbeTarget};
use gatehouse_vpc::Topology;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::demo::{demo_target, DEMO};
use crate::logs::Log;
use crate::views::{AppError, MapView, OpenedService, ServiceView, Verdict};

/// The kind a Services row shows (`http`, `https`, `ssh`, `redis`, `postgres`, `mysql`, `tcp`
/// for an open port of no known protocol) and what the prober saw, in one line.
pub fn describe(fp: &Fingerprint) -> (&'static str, String) {
    match fp {
        Fingerprint::Http { status, title, .. } => (
            "http",
            match title {
                Some(t) => format!("HTTP {status} · {t}"),
                None => format!("HTTP {status}"),
            },
        ),
        Fingerprint::Tls {
            version,
            cipher,
            alert,
        } => (
            "https",
            match (version, cipher, alert) {
                (Some(v), Some(c), _) => format!("{v} · {c}"),
                (Some(v), None, _) => v.clone(),
                (None, _, Some(a)) => format!("TLS · alert {a}"),
                (None, _, None) => "TLS".to_owned(),
            },
        ),
        Fingerprint::Ssh { banner } => ("ssh", format!("SSH · {banner}")),
        Fingerprint::Redis { auth_required } => (
            "redis",
            if *auth_required {
                "Redis · password required".to_owned()
            } else {
                "Redis · PONG".to_owned()
            },
        ),
        Fingerprint::Postgres { ssl, error } => (
            "postgres",
            match (ssl, error) {
                (_, Some(e)) => format!("PostgreSQL · error: {e}"),
                (Some(true), None) => "PostgreSQL · TLS offered".to_owned(),
                (Some(false), None) => "PostgreSQL · no TLS".to_owned(),
                (None, None) => "PostgreSQL".to_owned(),
            },
        ),
        Fingerprint::Mysql { version, error } => (
            "mysql",
            match (version, error) {
                (Some(v), _) => format!("MySQL · {v}"),
                (None, Some(e)) => format!("MySQL · error: {e}"),
                (None, None) => "MySQL".to_owned(),
            },
        ),
        Fingerprint::Silent => ("tcp", "open · says nothing first".to_owned()),
        Fingerprint::Unknown { bytes, preview } => ("tcp", format!("open · {bytes} B: {preview}")),
    }
}

/// The command that reaches a service of `kind` at `host:port` (through the SOCKS proxy
/// `socks` for curl in no-root mode).
pub fn service_command(kind: &str, host: &str, port: u16, socks: Option<SocketAddr>) -> String {
    let proxy = socks
        .map(|a| format!("--proxy socks5h://{a} "))
        .unwrap_or_default();
    match kind {
        "http" => format!("curl {proxy}http://{host}:{port}/"),
        "https" => format!("curl -k {proxy}https://{host}:{port}/"),
        "postgres" => format!("psql \"host={host} port={port} user=postgres\""),
        "redis" => format!("redis-cli -h {host} -p {port}"),
        "ssh" => format!("ssh -p {port} {host}"),
        "mysql" => format!("mysql -h {host} -P {port}"),
        "kubernetes" => format!("kubectl --server https://{host}:{port} get nodes"),
        "mongodb" => format!("mongosh \"mongodb://{host}:{port}/\""),
        "memcached" | "kafka" | "tcp" => format!("nc {host} {port}"),
        _ => format!("nc {host} {port}"),
    }
}

/// The Services rows of a scan's open ports, in the scan's order. `dns_name` gives an
/// address's name inside the tunnel (the commands use it, else the address); `verdict` the
/// reachability of a probed port.
pub fn service_views(
    connection: &str,
    results: &[ProbeResult],
    socks: Option<SocketAddr>,
    dns_name: &dyn Fn(IpAddr) -> Option<String>,
    verdict: &dyn Fn(&ProbeTarget) -> Verdict,
) -> Vec<ServiceView> {
    results
        .iter()
        .filter_map(|r| {
            let Outcome::Open { fingerprint } = &r.outcome else {
                return None;
            };
            let t = &r.target;
            let (kind, detail) = describe(fingerprint);
            let ip = t.ip.to_string();
            let fqdn = dns_name(t.ip);
            let reach_as = fqdn.clone().unwrap_or_else(|| match t.ip {
                IpAddr::V6(_) => format!("[{ip}]"),
                IpAddr::V4(_) => ip.clone(),
            });
            Some(ServiceView {
                connection: connection.to_owned(),
                host: t.name.clone().unwrap_or_else(|| ip.clone()),
                fqdn: fqdn.unwrap_or_else(|| ip.clone()),
                ip,
                port: t.port,
                kind: kind.to_owned(),
                detail,
                verdict: verdict(t),
                command: service_command(kind, &reach_as, t.port, socks),
            })
        })
        .collect()
}

/// The Services row kind of a managed service (`postgres`, `mysql`, `redis`, `kubernetes`…).
pub fn managed_kind(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Postgres => "postgres",
        ServiceKind::Mysql => "mysql",
        ServiceKind::Redis => "redis",
        ServiceKind::Kubernetes => "kubernetes",
        ServiceKind::Mongodb => "mongodb",
        ServiceKind::Opensearch => "https",
        ServiceKind::Memcached => "memcached",
        ServiceKind::Kafka => "kafka",
        _ => "tcp",
    }
}

/// The Services rows of the managed services `topo` declares (databases, caches, cluster
/// APIs), before any scan: endpoint name, port, engine, with the verdict `map` drew for the
/// host, reached through `connection` (empty: none is up).
pub fn declared_views(connection: &str, topo: &Topology, map: &MapView) -> Vec<ServiceView> {
    let mut rows = Vec::new();
    for h in &topo.hosts {
        let Some(svc) = &h.service else { continue };
        let drawn = map.hosts.iter().find(|m| m.id == h.id);
        let ip = h.primary_ip().map(|a| a.to_string()).unwrap_or_default();
        let fqdn = svc.endpoint.clone().unwrap_or_else(|| ip.clone());
        if fqdn.is_empty() {
            continue; // neither a name nor an address to reach it by
        }
        let reach_as = if fqdn.contains(':') {
            format!("[{fqdn}]")
        } else {
            fqdn.clone()
        };
        let kind = managed_kind(svc.kind);
        let what = match (&svc.version, &svc.engine) {
            (Some(v), _) => format!("{} {v}", svc.kind.label()),
            (None, Some(e)) => format!("{} ({e})", svc.kind.label()),
            (None, None) => svc.kind.label().to_owned(),
        };
        for &port in &svc.ports {
            rows.push(ServiceView {
                connection: connection.to_owned(),
                host: h.name.clone(),
                fqdn: fqdn.clone(),
                ip: ip.clone(),
                port,
                kind: kind.to_owned(),
                detail: format!("{what} · from the map, not scanned yet"),
                verdict: drawn.map(|m| m.verdict).unwrap_or(Verdict::Unknown),
                command: service_command(kind, &reach_as, port, None),
            });
        }
    }
    rows
}

/// A service to open: where it listens, its name, whether it speaks HTTP, the connection it is
/// reached through.
#[derive(Debug, Clone)]
pub struct Place {
    /// Its private address (`None`: only its endpoint name is known; the tunnel's DNS
    /// resolves it).
    pub addr: Option<SocketAddr>,
    /// Its DNS name (or address).
    pub name: String,
    /// Its port.
    pub port: u16,
    /// A web server: its front page is fetched.
    pub http: bool,
    /// The connection that found it (the demo's for a demo service).
    pub connection: String,
    /// Not found by a scan: a service of the demo lab.
    pub demo: bool,
}

fn not_found(host: &str, port: u16) -> AppError {
    AppError::new(format!(
        "no service {host}:{port} found: open its map or scan first"
    ))
}

/// Where the service `host:port` is: the row the last scans found (`found`, with the
/// connection that found it), else the demo lab's service of that name.
pub fn locate(
    host: &str,
    port: u16,
    found: Option<(String, ServiceView)>,
) -> Result<Place, AppError> {
    match found {
        Some((connection, v)) => {
            let addr = match v.ip.as_str() {
                "" => None,
                ip => Some(SocketAddr::new(
                    ip.parse::<IpAddr>()
                        .map_err(|_| AppError::new(format!("{ip}: not an address")))?,
                    port,
                )),
            };
            if connection.is_empty() {
                return Err(AppError::new(format!(
                    "{host}:{port} is on the map, but no connection is up: connect the profile \
                     that reaches it first"
                )));
            }
            Ok(Place {
                addr,
                name: v.fqdn,
                port,
                http: v.kind == "http",
                connection,
                demo: false,
            })
        }
        None => {
            let target = demo_target(host, port).ok_or_else(|| not_found(host, port))?;
            Ok(Place {
                addr: Some(target.addr),
                name: target.host.to_owned(),
                port,
                http: target.http,
                connection: DEMO.to_owned(),
                demo: true,
            })
        }
    }
}

/// Opens the service `host:port` at `place`: in no-root mode (`netstack`: its connection's
/// userspace stack) a local forward, in service mode (`in_service`) its private address as it
/// is; for a web server, also fetches the start of its front page.
pub async fn open(
    host: &str,
    place: Place,
    netstack: Option<Arc<Netstack>>,
    in_service: bool,
    log: &Log,
) -> Result<OpenedService, AppError> {
    let Place {
        addr,
        name,
        port,
        http,
        connection,
        demo,
    } = place;
    if demo && netstack.is_none() {
        return Err(not_found(host, port));
    }
    let local = match netstack {
        Some(ns) => {
            // An endpoint name is resolved by the connection's DNS, inside the tunnel.
            let target = match addr {
                Some(a) => Target::Addr(a),
                None => Target::Name(name.clone(), port),
            };
            let local = ns
                .open_forward(target)
                .await
                .map_err(|e| AppError::new(format!("cannot open a forward to {name}: {e}")))?;
            log.add(
                "info",
                Some(&connection),
                format!("forward {local} → {name}:{port}"),
            );
            local
        }
        None if !in_service => {
            return Err(AppError::new(format!("{connection} is not connected")));
        }
        // Service mode: the tunnel routes the private address itself (and the OS resolves an
        // endpoint name through the tunnel's DNS).
        None => match addr {
            Some(a) => a,
            None => {
                return Ok(OpenedService {
                    local: format!("{name}:{port}"),
                    url: None,
                    preview: None,
                })
            }
        },
    };
    if !http {
        return Ok(OpenedService {
            local: local.to_string(),
            url: None,
            preview: None,
        });
    }
    let preview = http_preview(local, &name)
        .await
        .map_err(|e| AppError::new(format!("{name}:{port} did not answer: {e}")))?;
    Ok(OpenedService {
        local: local.to_string(),
        url: Some(format!("http://{local}/")),
        preview: Some(preview),
    })
}

/// `GET /` through a local forward; the first 4 KiB of the answer's body.
async fn http_preview(local: SocketAddr, host: &str) -> std::io::Result<String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(local).await?;
        s.write_all(
            format!("GET / HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.take(64 * 1024).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(15), fetch)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or(&text);
    Ok(body.chars().take(4096).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn open(
        ip: [u8; 4],
        name: &str,
        port: u16,
        fingerprint: Fingerprint,
    ) -> ProbeResult {
        ProbeResult {
            target: ProbeTarget {
                ip: IpAddr::from(ip),
                port,
                name: Some(name.to_owned()),
            },
            outcome: Outcome::Open { fingerprint },
            elapsed_ms: 3,
        }
    }

    /// Every fingerprint kind becomes a row: its kind, its detail and its command; closed
    /// ports none.
    #[test]
    fn scan_results_become_service_rows() {
        let results = vec![
            open(
                [10, 20, 1, 11],
                "web-1",
                80,
                Fingerprint::Http {
                    status: 200,
                    title: Some("Welcome to web-1".into()),
                    server: None,
                },
            ),
            open(
                [192, 168, 1, 1],
                "router",
                443,
                Fingerprint::Tls {
                    version: Some("TLS 1.3".into()),
                    cipher: Some("TLS_AES_128_GCM_SHA256".into()),
                    alert: None,
                },
            ),
            open(
                [192, 168, 1, 20],
                "pi",
                22,
                Fingerprint::Ssh {
                    banner: "SSH-2.0-OpenSSH_9.2p1".into(),
                },
            ),
            open(
                [10, 20, 2, 21],
                "cache",
                6379,
                Fingerprint::Redis {
                    auth_required: false,
                },
            ),
            open(
                [10, 20, 3, 31],
                "db",
                5432,
                Fingerprint::Postgres {
                    ssl: Some(false),
                    error: None,
                },
            ),
            open(
                [192, 168, 1, 30],
                "nas",
                3306,
                Fingerprint::Mysql {
                    version: Some("8.0.36".into()),
                    error: None,
                },
            ),
            open([192, 168, 1, 30], "nas", 445, Fingerprint::Silent),
            open(
                [192, 168, 1, 30],
                "nas",
                9000,
                Fingerprint::Unknown {
                    bytes: 2,
                    preview: "hi".into(),
                },
            ),
            ProbeResult {
                target: ProbeTarget {
                    ip: IpAddr::from([10, 20, 3, 32]),
                    port: 5432,
                    name: Some("db-replica".into()),
                },
                outcome: Outcome::Timeout,
                elapsed_ms: 1500,
            },
        ];
        let socks: SocketAddr = "127.0.0.1:1080".parse().expect("addr");
        let names =
            |ip: IpAddr| (ip == IpAddr::from([10, 20, 1, 11])).then(|| "web-1.internal".to_owned());
        let rows = service_views("demo", &results, Some(socks), &names, &|_| {
            Verdict::Reachable
        });
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.host.as_str(), r.kind.as_str(), r.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("web-1", "http", "HTTP 200 · Welcome to web-1"),
                ("router", "https", "TLS 1.3 · TLS_AES_128_GCM_SHA256"),
                ("pi", "ssh", "SSH · SSH-2.0-OpenSSH_9.2p1"),
                ("cache", "redis", "Redis · PONG"),
                ("db", "postgres", "PostgreSQL · no TLS"),
                ("nas", "mysql", "MySQL · 8.0.36"),
                ("nas", "tcp", "open · says nothing first"),
                ("nas", "tcp", "open · 2 B: hi"),
            ]
        );
        let cmd = |i: usize| rows[i].command.as_str();
        assert_eq!(
            cmd(0),
            "curl --proxy socks5h://127.0.0.1:1080 http://web-1.internal:80/"
        );
        assert_eq!(rows[0].fqdn, "web-1.internal");
        assert_eq!(
            cmd(1),
            "curl -k --proxy socks5h://127.0.0.1:1080 https://192.168.1.1:443/"
        );
        assert_eq!(cmd(2), "ssh -p 22 192.168.1.20");
        assert_eq!(cmd(3), "redis-cli -h 10.20.2.21 -p 6379");
        assert_eq!(cmd(4), "psql \"host=10.20.3.31 port=5432 user=postgres\"");
        assert_eq!(cmd(5), "mysql -h 192.168.1.30 -P 3306");
        assert_eq!(cmd(6), "nc 192.168.1.30 445");
        assert!(rows
            .iter()
            .all(|r| r.connection == "demo" && r.verdict == Verdict::Reachable));
        // The other details: a password, TLS offered, errors, alerts.
        let d = |f: Fingerprint| describe(&f).1;
        assert_eq!(
            d(Fingerprint::Redis {
                auth_required: true
            }),
            "Redis · password required"
        );
        assert_eq!(
            d(Fingerprint::Postgres {
                ssl: Some(true),
                error: None
            }),
            "PostgreSQL · TLS offered"
        );
        assert_eq!(
            d(Fingerprint::Mysql {
                version: None,
                error: Some("Host is not allowed".into())
            }),
            "MySQL · error: Host is not allowed"
        );
        assert_eq!(
            d(Fingerprint::Tls {
                version: None,
                cipher: None,
                alert: Some(40)
            }),
            "TLS · alert 40"
        );
        assert_eq!(
            d(Fingerprint::Http {
                status: 404,
                title: None,
                server: None
            }),
            "HTTP 404"
        );
        // Without the proxy (service mode), curl goes straight; an IPv6 address in brackets.
        let v6 = open(
            [0; 4],
            "x",
            80,
            Fingerprint::Http {
                status: 200,
                title: None,
                server: None,
            },
        );
        let mut v6 = v6;
        v6.target.ip = "fd00::5".parse().expect("v6");
        let rows = service_views("work", &[v6], None, &|_| None, &|_| Verdict::Unknown);
        assert_eq!(rows[0].command, "curl http://[fd00::5]:80/");
        assert_eq!(rows[0].host, "x");
    }
}
