//! DigitalOcean API importer, sans-IO: `/v2/vpcs`, `/v2/droplets`, `/v2/load_balancers` and
//! `/v2/firewalls`, following `links.pages.next`, retrying 429 (after `Retry-After`) and 5xx a
//! bounded number of times. The HTTP client is the caller's [`Transport`] (the token and TLS
//! live there), so the paging and mapping are tested against a local server.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::model::*;

/// The public API base.
pub const DEFAULT_API_URL: &str = "https://api.digitalocean.com";

/// One HTTP response, as the importer needs it.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Retry-After` in seconds, when present.
    pub retry_after: Option<u64>,
    /// Body.
    pub body: Vec<u8>,
}

/// Performs GET requests (adds the token, speaks TLS).
pub trait Transport {
    /// GETs `url`; `Err` for a transport failure (connection refused, timeout…).
    fn get(&mut self, url: &str) -> Result<Response, String>;
}

/// How often to retry 429 and 5xx answers, and how long to wait when no `Retry-After` says.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries per request.
    pub max_retries: u32,
    /// Wait before the first retry of a 5xx (doubled each time).
    pub backoff: Duration,
    /// Longest wait honoured from `Retry-After`.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Why the import failed.
#[derive(Debug, thiserror::Error)]
pub enum DoError {
    /// The request could not be made.
    #[error("GET {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The API answered with an error status (after retries for 429/5xx).
    #[error("GET {url}: HTTP {status}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The API's `message`, when it sent one.
        message: String,
    },
    /// The body is not the expected JSON.
    #[error("GET {url}: unexpected response at line {line} column {column}: {message}")]
    Body {
        /// The URL.
        url: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Pages kept coming.
    #[error("GET {url}: more than {max} pages, stopping")]
    TooManyPages {
        /// The last URL.
        url: String,
        /// The cap.
        max: usize,
    },
}

const MAX_PAGES: usize = 1000;

/// Imports the account's VPCs, droplets, load balancers and firewalls from `base`
/// (`https://api.digitalocean.com`, or a test server). `sleep` waits between retries.
pub fn import(
    base: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Topology, DoError> {
    let base = base.trim_end_matches('/');
    let mut t = Topology::default();
    for kind in ["vpcs", "droplets", "load_balancers", "firewalls"] {
        let mut url = format!("{base}/v2/{kind}?per_page=200");
        let mut pages = 0;
        loop {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(DoError::TooManyPages {
                    url,
                    max: MAX_PAGES,
                });
            }
            let body = fetch(&url, transport, policy, sleep)?;
            let next = add_page(kind, &body, &mut t).map_err(|e| DoError::Body {
                url: url.clone(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
            match next {
                Some(n) => url = rebase(base, &n),
                None => break,
            }
        }
    }
    Ok(t)
}

/// Keeps a `next` link on the configured base (the API writes its public host in links).
fn rebase(base: &str, next: &str) -> String {
    match next.find("/v2/") {
        Some(i) => format!("{base}{}", &next[i..]),
        None => next.to_string(),
    }
}

fn fetch(
    url: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Vec<u8>, DoError> {
    let mut attempt = 0;
    loop {
        let r = transport.get(url).map_err(|message| DoError::Transport {
            url: url.to_string(),
            message,
        })?;
        if (200..300).contains(&r.status) {
            return Ok(r.body);
        }
        let retryable = r.status == 429 || (500..600).contains(&r.status);
        if retryable && attempt < policy.max_retries {
            let wait = match r.retry_after {
                Some(s) => Duration::from_secs(s).min(policy.max_wait),
                None => policy.backoff * 2u32.saturating_pow(attempt),
            };
            sleep(wait);
            attempt += 1;
            continue;
        }
        #[derive(Deserialize)]
        struct ApiError {
            #[serde(default)]
            message: String,
        }
        let message = serde_json::from_slice::<ApiError>(&r.body)
            .map(|e| e.message)
            .unwrap_or_default();
        return Err(DoError::Status {
            url: url.to_string(),
            status: r.status,
            message,
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Links {
    pages: Option<Pages>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pages {
    next: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Region {
    Slug(String),
    Object { slug: String },
}

impl Region {
    fn slug(self) -> String {
        match self {
            Region::Slug(s) | Region::Object { slug: s } => s,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Num(u64),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s.clone(),
        }
    }
}

#[derive(Deserialize)]
struct ApiVpc {
    id: String,
    #[serde(default)]
    name: String,
    region: Option<Region>,
    ip_range: Option<String>,
}

#[derive(Deserialize)]
struct ApiNet {
    ip_address: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiNetworks {
    v4: Vec<ApiNet>,
    v6: Vec<ApiNet>,
}

#[derive(Deserialize)]
struct ApiDroplet {
    id: Id,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    networks: ApiNetworks,
    region: Option<Region>,
    #[serde(default)]
    tags: Vec<String>,
    vpc_uuid: Option<String>,
}

#[derive(Deserialize)]
struct ApiForward {
    entry_protocol: String,
    entry_port: u16,
    target_port: Option<u16>,
}

#[derive(Deserialize)]
struct ApiLb {
    id: String,
    #[serde(default)]
    name: String,
    ip: Option<String>,
    region: Option<Region>,
    #[serde(default)]
    forwarding_rules: Vec<ApiForward>,
    #[serde(default)]
    droplet_ids: Vec<u64>,
    tag: Option<String>,
    vpc_uuid: Option<String>,
    network: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiEnds {
    addresses: Vec<String>,
    droplet_ids: Vec<u64>,
    tags: Vec<String>,
    load_balancer_uids: Vec<String>,
}

#[derive(Deserialize)]
struct ApiFwRule {
    protocol: String,
    #[serde(default)]
    ports: String,
    #[serde(default)]
    sources: ApiEnds,
    #[serde(default)]
    destinations: ApiEnds,
}

#[derive(Deserialize)]
struct ApiFirewall {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    inbound_rules: Vec<ApiFwRule>,
    #[serde(default)]
    outbound_rules: Vec<ApiFwRule>,
    #[serde(default)]
    droplet_ids: Vec<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct PageOf<T> {
    #[serde(
        alias = "vpcs",
        alias = "droplets",
        alias = "load_balancers",
        alias = "firewalls"
    )]
    items: Vec<T>,
    #[serde(default)]
    links: Links,
}

fn next_of(l: Links) -> Option<String> {
    l.pages.and_then(|p| p.next).filter(|n| !n.is_empty())
}

/// Adds one page of `kind` to `t`; returns the next page's URL.
fn add_page(
    kind: &str,
    body: &[u8],
    t: &mut Topology,
) -> Result<Option<String>, serde_json::Error> {
    Ok(match kind {
        "vpcs" => {
            let p: PageOf<ApiVpc> = serde_json::from_slice(body)?;
            for v in p.items {
                t.vpcs.push(Vpc {
                    name: if v.name.is_empty() {
                        v.id.clone()
                    } else {
                        v.name
                    },
                    id: v.id,
                    provider: Provider::Digitalocean,
                    region: v.region.map(Region::slug),
                    cidrs: v
                        .ip_range
                        .and_then(|r| r.parse().ok())
                        .into_iter()
                        .collect(),
                    main_route_table: None,
                    tags: BTreeMap::new(),
                    placeholder: false,
                });
            }
            next_of(p.links)
        }
        "droplets" => {
            let p: PageOf<ApiDroplet> = serde_json::from_slice(body)?;
            for d in p.items {
                let id = d.id.text();
                let addr = |kind: &str| -> Vec<IpAddr> {
                    d.networks
                        .v4
                        .iter()
                        .chain(&d.networks.v6)
                        .filter(|n| n.kind == kind)
                        .filter_map(|n| n.ip_address.parse().ok())
                        .collect()
                };
                t.hosts.push(Host {
                    name: if d.name.is_empty() {
                        id.clone()
                    } else {
                        d.name.clone()
                    },
                    private_ips: addr("private"),
                    public_ip: addr("public").into_iter().next(),
                    id,
                    provider: Provider::Digitalocean,
                    vpc: d.vpc_uuid,
                    subnet: None,
                    zone: d.region.map(Region::slug),
                    tags: BTreeMap::new(),
                    labels: d.tags,
                    security_groups: Vec::new(),
                    state: d.status,
                    source_dest_check: None,
                    interfaces: Vec::new(),
                    service: None,
                    subnets: Vec::new(),
                });
            }
            next_of(p.links)
        }
        "load_balancers" => {
            let p: PageOf<ApiLb> = serde_json::from_slice(body)?;
            for l in p.items {
                t.load_balancers.push(LoadBalancer {
                    name: if l.name.is_empty() {
                        l.id.clone()
                    } else {
                        l.name
                    },
                    id: l.id,
                    provider: Provider::Digitalocean,
                    vpc: l.vpc_uuid,
                    subnets: Vec::new(),
                    internal: Some(l.network.as_deref() == Some("INTERNAL")),
                    kind: l.kind,
                    ip: l.ip.and_then(|i| i.parse().ok()),
                    dns_name: None,
                    region: l.region.map(Region::slug),
                    listeners: l
                        .forwarding_rules
                        .into_iter()
                        .map(|f| Listener {
                            port: f.entry_port,
                            protocol: f.entry_protocol.to_ascii_lowercase(),
                            target_port: f.target_port,
                            target_group: None,
                        })
                        .collect(),
                    targets: l.droplet_ids.iter().map(|d| d.to_string()).collect(),
                    target_tag: l.tag.filter(|t| !t.is_empty()),
                    security_groups: Vec::new(),
                });
            }
            next_of(p.links)
        }
        _ => {
            let p: PageOf<ApiFirewall> = serde_json::from_slice(body)?;
            for f in p.items {
                let mut rules = Vec::new();
                for (dir, list) in [
                    (Direction::Ingress, f.inbound_rules),
                    (Direction::Egress, f.outbound_rules),
                ] {
                    for r in list {
                        let ends = if dir == Direction::Ingress {
                            r.sources
                        } else {
                            r.destinations
                        };
                        let protocol = Protocol::parse(&r.protocol);
                        let ports = if protocol.has_ports() {
                            match PortRange::parse(&r.ports) {
                                Ok(p) => p,
                                Err(_) => continue,
                            }
                        } else {
                            None
                        };
                        let mut peers: Vec<Peer> = ends
                            .addresses
                            .iter()
                            .filter_map(|a| {
                                a.parse::<ipnet::IpNet>()
                                    .ok()
                                    .or_else(|| a.parse::<IpAddr>().ok().map(Into::into))
                            })
                            .map(Peer::Cidr)
                            .collect();
                        peers.extend(ends.droplet_ids.iter().map(|d| Peer::Host(d.to_string())));
                        peers.extend(ends.tags.into_iter().map(Peer::Label));
                        peers.extend(ends.load_balancer_uids.into_iter().map(Peer::LoadBalancer));
                        rules.push(Rule {
                            direction: dir,
                            action: Action::Allow,
                            priority: 0,
                            protocol,
                            ports,
                            peers,
                            description: None,
                            targets: Vec::new(),
                        });
                    }
                }
                t.firewalls.push(Firewall {
                    name: if f.name.is_empty() {
                        f.id.clone()
                    } else {
                        f.name
                    },
                    id: f.id,
                    kind: FirewallKind::Digitalocean,
                    vpc: None,
                    applies_to: AppliesTo::Hosts {
                        ids: f.droplet_ids.iter().map(|d| d.to_string()).collect(),
                        labels: f.tags,
                    },
                    rules,
                });
            }
            next_of(p.links)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/corpus/digitalocean")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn corpus_pages_map_to_the_model() {
        let mut t = Topology::default();
        assert_eq!(
            add_page("vpcs", &corpus("vpcs_list.json"), &mut t).unwrap(),
            None
        );
        assert_eq!(
            add_page("droplets", &corpus("droplets_list.json"), &mut t).unwrap(),
            None
        );
        add_page("droplets", &corpus("droplets_list_tagged.json"), &mut t).unwrap();
        add_page("droplets", &corpus("droplets_list_gpus.json"), &mut t).unwrap();
        add_page(
            "load_balancers",
            &corpus("load_balancers_list.json"),
            &mut t,
        )
        .unwrap();
        assert_eq!(t.vpcs.len(), 3);
        assert_eq!(t.hosts.len(), 6);
        assert_eq!(t.load_balancers.len(), 2);
        let h = &t.hosts[0];
        assert_eq!(h.id, "3164444");
        assert_eq!(
            h.private_ips,
            vec!["10.128.192.124".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(h.public_ip, Some("192.241.165.154".parse().unwrap()));
        assert_eq!(h.zone.as_deref(), Some("nyc3"));
        assert_eq!(h.labels, vec!["web".to_string(), "env:prod".to_string()]);
        let lb = &t.load_balancers[0];
        assert_eq!(lb.listeners.len(), 2);
        assert_eq!(
            lb.targets,
            vec!["3164444".to_string(), "3164445".to_string()]
        );
        assert_eq!(
            t.vpcs[0].cidrs,
            vec!["10.10.10.0/24".parse::<ipnet::IpNet>().unwrap()]
        );
    }

    #[test]
    fn firewall_page() {
        let body = br#"{"firewalls":[{"id":"fw-1","name":"web","droplet_ids":[8043964],"tags":["web"],
            "inbound_rules":[{"protocol":"tcp","ports":"80","sources":{"load_balancer_uids":["lb-1"]}},
                             {"protocol":"tcp","ports":"22","sources":{"tags":["gateway"],"addresses":["18.0.0.0/8"]}},
                             {"protocol":"icmp","sources":{"addresses":["0.0.0.0/0"]}}],
            "outbound_rules":[{"protocol":"tcp","ports":"all","destinations":{"addresses":["0.0.0.0/0","::/0"]}}]}],
            "links":{"pages":{"next":"https://api.digitalocean.com/v2/firewalls?page=2"}},"meta":{"total":2}}"#;
        let mut t = Topology::default();
        let next = add_page("firewalls", body, &mut t).unwrap();
        assert_eq!(
            next.as_deref(),
            Some("https://api.digitalocean.com/v2/firewalls?page=2")
        );
        assert_eq!(
            rebase("http://127.0.0.1:9", next.as_deref().unwrap()),
            "http://127.0.0.1:9/v2/firewalls?page=2"
        );
        let f = &t.firewalls[0];
        assert_eq!(f.rules.len(), 4);
        assert_eq!(
            f.rules[1].peers,
            vec![
                Peer::Cidr("18.0.0.0/8".parse().unwrap()),
                Peer::Label("gateway".into())
            ]
        );
        assert_eq!(f.rules[3].ports, None);
    }

    #[test]
    fn malformed_body_has_a_position() {
        let mut t = Topology::default();
        let e = add_page("vpcs", b"{\"vpcs\": [", &mut t).unwrap_err();
        assert_eq!(e.line(), 1);
    }
}
