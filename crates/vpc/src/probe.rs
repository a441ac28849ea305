//! The prober's sans-IO part: which hosts and ports ([`targets`]), in what order and how fast
//! ([`schedule`]), what to send to each port and what the answer means ([`fingerprint`], with a
//! minimal TLS ClientHello in [`tls`]), and how results feed reachability
//! ([`reach_probes`] → [`crate::reach::Probe`]).
//!
//! A driver (the `gatehouse-probe` crate) owns the sockets: it connects, sends
//! [`Plan::request`]'s bytes (after waiting [`Plan::banner_wait`] for services that speak first),
//! reads until [`fingerprint::is_complete`] or the peer closes, and records an [`Outcome`].

pub mod fingerprint;
pub mod schedule;
pub mod targets;
pub mod tls;

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use fingerprint::{Fingerprint, Request};
pub use schedule::{Limits, Scheduler, Start};
pub use targets::{Target, TargetSpec, COMMON_PORTS};

use crate::model::Topology;
use crate::reach;

/// How to talk to one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// How long to wait for a banner before sending [`Plan::request`] (zero: send at once).
    pub banner_wait: Duration,
    /// What to send (after the banner wait, if no banner came).
    pub request: Request,
}

/// Ports whose services speak first (SSH, FTP, SMTP, POP3, IMAP, MySQL, VNC…).
const SERVER_FIRST: &[u16] = &[21, 22, 23, 25, 110, 143, 587, 2222, 3306, 5900];
/// Ports that usually speak TLS from the first byte.
const TLS_PORTS: &[u16] = &[443, 465, 636, 853, 993, 995, 5986, 6443, 8443, 9443];
/// Ports that usually speak HTTP.
const HTTP_PORTS: &[u16] = &[
    80, 81, 3000, 5000, 5601, 8000, 8008, 8080, 8081, 8088, 8888, 9000, 9090, 9200,
];

/// The plan for `port`: wait for the banner of server-first services, send a ClientHello to
/// TLS ports, PING to Redis, an SSLRequest to PostgreSQL, a GET to web ports; on other ports
/// wait briefly for a banner, then send a GET.
pub fn plan(port: u16) -> Plan {
    let now = |request| Plan {
        banner_wait: Duration::ZERO,
        request,
    };
    if SERVER_FIRST.contains(&port) {
        Plan {
            banner_wait: Duration::from_millis(2000),
            request: Request::Http,
        }
    } else if TLS_PORTS.contains(&port) {
        now(Request::TlsHello)
    } else if port == 6379 {
        now(Request::RedisPing)
    } else if port == 5432 {
        now(Request::PgSslRequest)
    } else if HTTP_PORTS.contains(&port) {
        now(Request::Http)
    } else {
        Plan {
            banner_wait: Duration::from_millis(300),
            request: Request::Http,
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// The port accepted the connection.
    Open {
        /// What answered.
        fingerprint: Fingerprint,
    },
    /// The host answered with a reset: it is there, nothing listens on the port.
    Refused,
    /// No answer before the deadline (a dropped packet: a firewall, or no such host).
    Timeout,
    /// No route: the address is outside the tunnel's AllowedIPs (or the host's routes).
    Unreachable,
    /// Another local error (too many open files…).
    Error {
        /// What went wrong.
        message: String,
    },
}

impl Outcome {
    /// `open`, `refused`, `timeout`, `unreachable`, `error`.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Open { .. } => "open",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::Error { .. } => "error",
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// What was probed.
    #[serde(flatten)]
    pub target: Target,
    /// What it found.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// The topology host (or load balancer) id that has `ip`.
pub fn host_id(topo: &Topology, ip: IpAddr) -> Option<&str> {
    topo.hosts
        .iter()
        .find(|h| h.private_ips.contains(&ip) || h.public_ip == Some(ip))
        .map(|h| h.id.as_str())
        .or_else(|| {
            topo.load_balancers
                .iter()
                .find(|l| l.ip == Some(ip))
                .map(|l| l.id.as_str())
        })
}

/// The results as reachability probes for `topo`'s hosts: open when the port accepted the
/// connection, closed when it refused, timed out or had no route. Addresses the topology does
/// not hold, and local errors, are left out.
pub fn reach_probes(results: &[ProbeResult], topo: &Topology) -> Vec<reach::Probe> {
    results
        .iter()
        .filter_map(|r| {
            let open = match r.outcome {
                Outcome::Open { .. } => true,
                Outcome::Refused | Outcome::Timeout | Outcome::Unreachable => false,
                Outcome::Error { .. } => return None,
            };
            Some(reach::Probe {
                host: host_id(topo, r.target.ip)?.to_string(),
                port: r.target.port,
                open,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Host;

    #[test]
    fn plans_by_port() {
        assert_eq!(plan(22).request, Request::Http);
        assert!(plan(22).banner_wait >= Duration::from_secs(1));
        assert_eq!(plan(3306).banner_wait, plan(22).banner_wait);
        assert_eq!(
            plan(443),
            Plan {
                banner_wait: Duration::ZERO,
                request: Request::TlsHello
            }
        );
        assert_eq!(plan(6379).request, Request::RedisPing);
        assert_eq!(plan(5432).request, Request::PgSslRequest);
        assert_eq!(
            plan(8080),
            Plan {
                banner_wait: Duration::ZERO,
                request: Request::Http
            }
        );
        let other = plan(12345);
        assert_eq!(other.request, Request::Http);
        assert!(other.banner_wait > Duration::ZERO && other.banner_wait < plan(22).banner_wait);
    }

    fn host(id: &str, ip: &str) -> Host {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "provider": "aws", "private_ips": [ip]
        }))
        .expect("host")
    }

    #[test]
    fn results_become_reach_probes_of_topology_hosts() {
        let topo = Topology {
            hosts: vec![host("i-db", "10.20.2.30"), host("i-rep", "10.20.2.31")],
            ..Topology::default()
        };
        let r = |ip: &str, port, outcome| ProbeResult {
            target: Target {
                ip: ip.parse().unwrap(),
                port,
                name: None,
            },
            outcome,
            elapsed_ms: 3,
        };
        let results = [
            r(
                "10.20.2.30",
                5432,
                Outcome::Open {
                    fingerprint: Fingerprint::Postgres {
                        ssl: Some(false),
                        error: None,
                    },
                },
            ),
            r("10.20.2.31", 5432, Outcome::Timeout),
            r("10.20.2.31", 22, Outcome::Refused),
            r("10.20.9.9", 80, Outcome::Timeout),
            r(
                "10.20.2.30",
                80,
                Outcome::Error {
                    message: "EMFILE".into(),
                },
            ),
        ];
        let probes = reach_probes(&results, &topo);
        assert_eq!(
            probes,
            vec![
                reach::Probe {
                    host: "i-db".into(),
                    port: 5432,
                    open: true
                },
                reach::Probe {
                    host: "i-rep".into(),
                    port: 5432,
                    open: false
                },
                reach::Probe {
                    host: "i-rep".into(),
                    port: 22,
                    open: false
                },
            ]
        );
        // JSON shape: target fields flattened, outcome tagged by state and kind.
        let v = serde_json::to_value(&results[0]).unwrap();
        assert_eq!(v["ip"], "10.20.2.30");
        assert_eq!(v["outcome"]["state"], "open");
        assert_eq!(v["outcome"]["fingerprint"]["kind"], "postgres");
        assert_eq!(results[1].outcome.state(), "timeout");
    }
}
