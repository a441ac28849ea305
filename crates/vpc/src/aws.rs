//! AWS API importer, sans-IO: EC2 `Describe*` (VPCs, subnets, instances, security groups, route
//! tables, internet and NAT gateways, peerings) and ELBv2 (load balancers, listeners, target
//! groups and their targets), one region at a time, following `NextToken` (EC2) and
//! `NextMarker` (ELBv2) with a caller-chosen page size.
//!
//! The caller's [`Transport`] sends each [`Request`] (it resolves the endpoint, signs with SigV4
//! and speaks HTTP: `gatehouse-cloud` does), so the paging and the mapping are tested against
//! canned answers here and against moto end to end.
//!
//! The XML answers are mapped to the attributes the Terraform AWS provider writes for the same
//! objects and handed to [`crate::tfstate`]'s importer, so an object reads the same from a state
//! file and from the live API (names from the `Name` tag, routes and their targets, security
//! group rules, main route tables, public subnets, hosts' VPCs) with one mapping, not two.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use roxmltree::{Document, Node};
use serde_json::{json, Map, Value};

use crate::model::Topology;
use crate::tfstate;

/// The page size used when the caller does not choose one (the EC2 maximum for most calls).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// Pages followed per call before giving up (a loop on the server side).
pub const MAX_PAGES: usize = 10_000;

/// The two AWS services read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// EC2 (query API version 2016-11-15).
    Ec2,
    /// Elastic Load Balancing v2 (query API version 2015-12-01).
    Elbv2,
}

impl Service {
    /// The SigV4 signing name (`ec2`, `elasticloadbalancing`).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Elbv2 => "elasticloadbalancing",
        }
    }

    /// The query API version.
    pub fn version(self) -> &'static str {
        match self {
            Service::Ec2 => "2016-11-15",
            Service::Elbv2 => "2015-12-01",
        }
    }

    /// The service id as the AWS CLI spells it in `AWS_ENDPOINT_URL_<ID>` and in a config
    /// file's `services` section (`EC2` / `ec2`, `ELASTIC_LOAD_BALANCING_V2` /
    /// `elastic_load_balancing_v2`).
    pub fn env_id(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Elbv2 => "ELASTIC_LOAD_BALANCING_V2",
        }
    }

    /// The public endpoint in `region`.
    pub fn default_endpoint(self, region: &str) -> String {
        let host = match self {
            Service::Ec2 => "ec2",
            Service::Elbv2 => "elasticloadbalancing",
        };
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{host}.{region}.{suffix}")
    }

    /// A short name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Elbv2 => "ELBv2",
        }
    }
}

/// One query API call: POSTed as a form to the service's endpoint in `region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which service.
    pub service: Service,
    /// Which region.
    pub region: String,
    /// The action (`DescribeVpcs`…).
    pub action: &'static str,
    /// Parameters besides `Action` and `Version`, in order.
    pub params: Vec<(String, String)>,
}

impl Request {
    /// The form body: `Action=…&Version=…&…`, percent-encoded as SigV4 expects.
    pub fn body(&self) -> String {
        let mut out = format!("Action={}&Version={}", self.action, self.service.version());
        for (k, v) in &self.params {
            out.push('&');
            out.push_str(&encode(k));
            out.push('=');
            out.push_str(&encode(v));
        }
        out
    }
}

/// Percent-encodes everything but the unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// Sends requests (resolves the endpoint, signs, speaks HTTP).
pub trait Transport {
    /// Sends `req`; `Err` for a transport failure (connection refused, timeout…), in words
    /// that never contain credentials.
    fn send(&mut self, req: &Request) -> Result<Response, String>;

    /// Waits `d` before a retry (the driver sleeps; tests record it).
    fn wait(&mut self, d: Duration);
}

/// Why an import failed. No variant ever holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The request could not be made or answered (connection refused, timeout…).
    #[error("{} {action} in {region}: {message}", .service.label())]
    Transport {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What failed.
        message: String,
    },
    /// AWS answered with an error status (after the retries of a transient one).
    #[error("{} {action} in {region}: HTTP {status}{}{}{}", .service.label(),
        if .code.is_empty() { String::new() } else { format!(" {}", .code) },
        if .message.is_empty() { String::new() } else { format!(": {}", .message) },
        if *.attempts > 1 { format!(" ({} attempts)", .attempts) } else { String::new() })]
    Status {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// The HTTP status.
        status: u16,
        /// The AWS error code (`AuthFailure`, `UnauthorizedOperation`…), when sent.
        code: String,
        /// The AWS error message, when sent.
        message: String,
        /// Attempts made (more than one for a retried 5xx or throttling error).
        attempts: u32,
    },
    /// The body is not the expected XML.
    #[error("{} {action} in {region}: unexpected response: {message}", .service.label())]
    Body {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What is wrong (with line:column for XML syntax errors).
        message: String,
    },
    /// Pages kept coming, or a page token came back twice.
    #[error("{} {action} in {region}: {message}", .service.label())]
    Paging {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What went wrong.
        message: String,
    },
    /// The mapped attributes were refused by the state importer (a bug, reported plainly).
    #[error("mapping the answers of {region}: {message}")]
    Mapping {
        /// The region.
        region: String,
        /// What failed.
        message: String,
    },
}

impl AwsError {
    /// The HTTP status, when AWS answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            AwsError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How to read.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Items per page (`MaxResults` / `PageSize`), clamped to each call's limits.
    pub page_size: u32,
    /// Extra attempts of a request answered with a 5xx or a throttling error (as the AWS SDKs'
    /// standard mode: 3 attempts in all). Transport failures (timeouts) are not retried.
    pub retries: u32,
    /// Wait before the first retry, doubled each time.
    pub backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: DEFAULT_PAGE_SIZE,
            retries: 2,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Error codes AWS uses for throttling (retried like a 5xx).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
];

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Import {
    /// Everything found, all regions together.
    pub topology: Topology,
    /// Objects that could not be mapped whole, in words.
    pub warnings: Vec<String>,
    /// Requests sent (pages included).
    pub requests: usize,
}

/// Imports `regions` one after the other; the first error stops it (nothing partial is
/// returned).
pub fn import(
    regions: &[String],
    transport: &mut dyn Transport,
    opts: Options,
) -> Result<Import, AwsError> {
    let mut all = Import {
        topology: Topology::default(),
        warnings: Vec::new(),
        requests: 0,
    };
    for region in regions {
        let one = import_region(region, transport, opts)?;
        let t = &mut all.topology;
        let o = one.topology;
        t.vpcs.extend(o.vpcs);
        t.subnets.extend(o.subnets);
        t.hosts.extend(o.hosts);
        t.load_balancers.extend(o.load_balancers);
        t.target_groups.extend(o.target_groups);
        t.gateways.extend(o.gateways);
        t.route_tables.extend(o.route_tables);
        t.firewalls.extend(o.firewalls);
        t.peerings.extend(o.peerings);
        all.warnings.extend(one.warnings);
        all.requests += one.requests;
    }
    Ok(all)
}

/// Imports one region.
pub fn import_region(
    region: &str,
    transport: &mut dyn Transport,
    opts: Options,
) -> Result<Import, AwsError> {
    let mut r = Reader {
        region,
        transport,
        opts,
        requests: 0,
        out: Resources::default(),
    };
    use Service::{Ec2, Elbv2};
    r.pages(Ec2, "DescribeVpcs", vec![], 1000, vpcs)?;
    r.pages(Ec2, "DescribeSubnets", vec![], 1000, subnets)?;
    r.pages(Ec2, "DescribeInstances", vec![], 1000, instances)?;
    r.pages(Ec2, "DescribeSecurityGroups", vec![], 1000, security_groups)?;
    r.pages(Ec2, "DescribeRouteTables", vec![], 100, route_tables)?;
    r.pages(Ec2, "DescribeInternetGateways", vec![], 1000, igws)?;
    r.pages(Ec2, "DescribeNatGateways", vec![], 1000, nats)?;
    r.pages(Ec2, "DescribeVpcPeeringConnections", vec![], 1000, peerings)?;
    r.pages(Elbv2, "DescribeLoadBalancers", vec![], 400, load_balancers)?;
    r.pages(Elbv2, "DescribeTargetGroups", vec![], 400, target_groups)?;
    let lbs = std::mem::take(&mut r.out.lb_arns);
    for arn in lbs {
        let p = vec![("LoadBalancerArn".to_string(), arn)];
        r.pages(Elbv2, "DescribeListeners", p, 400, listeners)?;
    }
    let tgs = std::mem::take(&mut r.out.tg_arns);
    for arn in tgs {
        r.out.tg_pending = Some(arn.clone());
        let p = vec![("TargetGroupArn".to_string(), arn)];
        r.pages(Elbv2, "DescribeTargetHealth", p, 0, targets)?;
    }

    let requests = r.requests;
    let mut out = r.out;
    let state = out.state();
    let label = format!("aws:{region}");
    let (topology, report) =
        tfstate::import_str(&state, &label).map_err(|e| AwsError::Mapping {
            region: region.to_string(),
            message: e.to_string(),
        })?;
    out.warnings.extend(report.warnings);
    Ok(Import {
        topology,
        warnings: out.warnings,
        requests,
    })
}

/// Terraform-provider attributes of the objects read so far, by resource type.
#[derive(Default)]
struct Resources {
    by_type: BTreeMap<&'static str, Vec<Value>>,
    lb_arns: Vec<String>,
    tg_arns: Vec<String>,
    /// The target group whose `DescribeTargetHealth` is being read (the answer does not name it).
    tg_pending: Option<String>,
    warnings: Vec<String>,
}

impl Resources {
    fn push(&mut self, ty: &'static str, attrs: Value) {
        self.by_type.entry(ty).or_default().push(attrs);
    }

    /// A Terraform state v4 document holding every object.
    fn state(&mut self) -> String {
        let resources: Vec<Value> = std::mem::take(&mut self.by_type)
            .into_iter()
            .map(|(ty, list)| {
                json!({
                    "mode": "managed",
                    "type": ty,
                    "name": "live",
                    "instances": list.into_iter().map(|a| json!({"attributes": a})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"version": 4, "resources": resources}).to_string()
    }
}

type Handler = fn(Node<'_, '_>, &str, &mut Resources);

struct Reader<'a> {
    region: &'a str,
    transport: &'a mut dyn Transport,
    opts: Options,
    requests: usize,
    out: Resources,
}

impl Reader<'_> {
    /// Calls `action` until the answer has no next-page token, handing each page's root to
    /// `handle`. `max` is the call's largest page size (0: the call has no paging).
    fn pages(
        &mut self,
        service: Service,
        action: &'static str,
        params: Vec<(String, String)>,
        max: u32,
        handle: Handler,
    ) -> Result<(), AwsError> {
        let region = self.region.to_string();
        let (size_param, token_param, token_tag) = match service {
            Service::Ec2 => ("MaxResults", "NextToken", "nextToken"),
            Service::Elbv2 => ("PageSize", "Marker", "NextMarker"),
        };
        let min = match service {
            Service::Ec2 => 5,
            Service::Elbv2 => 1,
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p = params.clone();
            if max > 0 {
                p.push((
                    size_param.to_string(),
                    self.opts.page_size.clamp(min, max).to_string(),
                ));
            }
            if let Some(t) = &token {
                p.push((token_param.to_string(), t.clone()));
            }
            let req = Request {
                service,
                region: region.clone(),
                action,
                params: p,
            };
            let mut attempts = 0;
            let resp = loop {
                attempts += 1;
                self.requests += 1;
                let resp = self
                    .transport
                    .send(&req)
                    .map_err(|message| AwsError::Transport {
                        service,
                        action,
                        region: region.clone(),
                        message,
                    })?;
                if (200..300).contains(&resp.status) {
                    break resp;
                }
                let (code, message) = error_of(&String::from_utf8_lossy(&resp.body));
                let transient = resp.status >= 500 || THROTTLING.contains(&code.as_str());
                if transient && attempts <= self.opts.retries {
                    let wait = self.opts.backoff * 2u32.saturating_pow(attempts - 1);
                    self.transport.wait(wait);
                    continue;
                }
                return Err(AwsError::Status {
                    service,
                    action,
                    region,
                    status: resp.status,
                    code,
                    message,
                    attempts,
                });
            };
            let text = String::from_utf8_lossy(&resp.body);
            let doc = Document::parse(&text).map_err(|e| AwsError::Body {
                service,
                action,
                region: region.clone(),
                message: format!("not XML: {e}"),
            })?;
            let root = doc.root_element();
            if !root.tag_name().name().starts_with(action) {
                return Err(AwsError::Body {
                    service,
                    action,
                    region,
                    message: format!(
                        "expected <{action}Response>, got <{}>",
                        root.tag_name().name()
                    ),
                });
            }
            // ELBv2 wraps the answer in <ActionResult>.
            let body = match service {
                Service::Ec2 => root,
                Service::Elbv2 => child(root, &format!("{action}Result")).unwrap_or(root),
            };
            handle(body, &region, &mut self.out);
            match text_of(body, token_tag).filter(|t| !t.is_empty()) {
                None => return Ok(()),
                Some(t) if max == 0 => {
                    return Err(AwsError::Paging {
                        service,
                        action,
                        region,
                        message: format!("unexpected {token_tag} {t:?} on an unpaged call"),
                    })
                }
                Some(t) => {
                    if !seen.insert(t.clone()) {
                        return Err(AwsError::Paging {
                            service,
                            action,
                            region,
                            message: format!("the same {token_tag} came back twice"),
                        });
                    }
                    token = Some(t);
                }
            }
        }
        Err(AwsError::Paging {
            service,
            action,
            region,
            message: format!("more than {MAX_PAGES} pages, stopping"),
        })
    }
}

/// The `Code` and `Message` of an AWS error body (EC2's `<Response><Errors><Error>` and ELBv2's
/// `<ErrorResponse><Error>` alike); empty when the body says nothing usable.
pub fn error_of(body: &str) -> (String, String) {
    let Ok(doc) = Document::parse(body) else {
        return (String::new(), String::new());
    };
    let find = |name: &str| {
        doc.descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(|t| t.trim().chars().take(500).collect::<String>())
            .unwrap_or_default()
    };
    (find("Code"), find("Message"))
}

// ---------------------------------------------------------------------------------------------
// XML helpers
// ---------------------------------------------------------------------------------------------

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// The `<item>` (EC2) or `<member>` (ELBv2) children of `n`'s child `set`.
fn items<'a, 'i>(n: Node<'a, 'i>, set: &str) -> Vec<Node<'a, 'i>> {
    match child(n, set) {
        Some(s) => s
            .children()
            .filter(|c| c.is_element() && matches!(c.tag_name().name(), "item" | "member"))
            .collect(),
        None => Vec::new(),
    }
}

/// `Value::String` of a child's text, `Null` when absent or empty.
fn s(n: Node<'_, '_>, name: &str) -> Value {
    match text_of(n, name) {
        Some(t) if !t.is_empty() => Value::String(t),
        _ => Value::Null,
    }
}

fn b(n: Node<'_, '_>, name: &str) -> Value {
    match text_of(n, name).as_deref() {
        Some("true") => Value::Bool(true),
        Some("false") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// `tagSet` as a JSON object.
fn tags(n: Node<'_, '_>) -> Value {
    let mut m = Map::new();
    for t in items(n, "tagSet") {
        if let Some(k) = text_of(t, "key") {
            m.insert(k, Value::String(text_of(t, "value").unwrap_or_default()));
        }
    }
    Value::Object(m)
}

/// The texts of a set's items (`<SecurityGroups><member>sg-1</member>…`), or of one child of
/// each item (`<groupSet><item><groupId>`).
fn texts(n: Node<'_, '_>, set: &str, field: Option<&str>) -> Vec<Value> {
    items(n, set)
        .into_iter()
        .filter_map(|i| match field {
            Some(f) => text_of(i, f),
            None => i.text().map(|t| t.trim().to_string()),
        })
        .filter(|t| !t.is_empty())
        .map(Value::String)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers: one page of one call → Terraform-provider attributes
// ---------------------------------------------------------------------------------------------

fn vpcs(root: Node<'_, '_>, region: &str, out: &mut Resources) {
    for v in items(root, "vpcSet") {
        let id = s(v, "vpcId");
        let arn = match (&id, text_of(v, "ownerId")) {
            (Value::String(id), Some(owner)) => {
                Value::String(format!("arn:aws:ec2:{region}:{owner}:vpc/{id}"))
            }
            (Value::String(id), None) => Value::String(format!("arn:aws:ec2:{region}::vpc/{id}")),
            _ => Value::Null,
        };
        let v6 = items(v, "ipv6CidrBlockAssociationSet")
            .into_iter()
            .find_map(|a| text_of(a, "ipv6CidrBlock"));
        out.push(
            "aws_vpc",
            json!({
                "id": id,
                "arn": arn,
                "cidr_block": s(v, "cidrBlock"),
                "ipv6_cidr_block": v6,
                "tags": tags(v),
            }),
        );
    }
}

fn subnets(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for n in items(root, "subnetSet") {
        out.push(
            "aws_subnet",
            json!({
                "id": s(n, "subnetId"),
                "arn": s(n, "subnetArn"),
                "vpc_id": s(n, "vpcId"),
                "cidr_block": s(n, "cidrBlock"),
                "availability_zone": s(n, "availabilityZone"),
                "map_public_ip_on_launch": b(n, "mapPublicIpOnLaunch"),
                "tags": tags(n),
            }),
        );
    }
}

fn instances(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for r in items(root, "reservationSet") {
        for i in items(r, "instancesSet") {
            let state = child(i, "instanceState")
                .and_then(|st| text_of(st, "name"))
                .unwrap_or_default();
            if state == "terminated" {
                continue;
            }
            let primary_ip = text_of(i, "privateIpAddress").unwrap_or_default();
            let mut secondary: Vec<Value> = Vec::new();
            let mut enis: Vec<(u32, String)> = Vec::new();
            for e in items(i, "networkInterfaceSet") {
                let Some(id) = text_of(e, "networkInterfaceId") else {
                    continue;
                };
                let index = child(e, "attachment")
                    .and_then(|a| text_of(a, "deviceIndex"))
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(u32::MAX);
                enis.push((index, id));
                for a in items(e, "privateIpAddressesSet") {
                    if let Some(ip) = text_of(a, "privateIpAddress") {
                        let v = Value::String(ip.clone());
                        if ip != primary_ip && !secondary.contains(&v) {
                            secondary.push(v);
                        }
                    }
                }
            }
            enis.sort();
            let primary_eni = enis.iter().find(|(i, _)| *i == 0).map(|(_, id)| id.clone());
            let blocks: Vec<Value> = enis
                .iter()
                .map(|(_, id)| json!({"network_interface_id": id}))
                .collect();
            out.push(
                "aws_instance",
                json!({
                    "id": s(i, "instanceId"),
                    "subnet_id": s(i, "subnetId"),
                    "private_ip": s(i, "privateIpAddress"),
                    "secondary_private_ips": secondary,
                    "public_ip": s(i, "ipAddress"),
                    "tags": tags(i),
                    "vpc_security_group_ids": texts(i, "groupSet", Some("groupId")),
                    "instance_state": state,
                    "source_dest_check": b(i, "sourceDestCheck"),
                    "availability_zone": child(i, "placement").map(|p| s(p, "availabilityZone")).unwrap_or(Value::Null),
                    "primary_network_interface_id": primary_eni,
                    "network_interface": blocks,
                }),
            );
        }
    }
}

fn security_groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "securityGroupInfo") {
        let Some(id) = text_of(g, "groupId") else {
            out.warnings
                .push("a security group without an id was skipped".into());
            continue;
        };
        out.push(
            "aws_security_group",
            json!({
                "id": id,
                "name": s(g, "groupName"),
                "vpc_id": s(g, "vpcId"),
                "tags": tags(g),
            }),
        );
        for (set, ty) in [
            ("ipPermissions", "aws_vpc_security_group_ingress_rule"),
            ("ipPermissionsEgress", "aws_vpc_security_group_egress_rule"),
        ] {
            for p in items(g, set) {
                // One rule per source, as AWS lists security group rules.
                let base = |extra: Value| {
                    let mut m = Map::new();
                    m.insert("security_group_id".into(), Value::String(id.clone()));
                    m.insert("ip_protocol".into(), s(p, "ipProtocol"));
                    m.insert("from_port".into(), s(p, "fromPort"));
                    m.insert("to_port".into(), s(p, "toPort"));
                    if let Value::Object(e) = extra {
                        m.extend(e);
                    }
                    Value::Object(m)
                };
                for r in items(p, "ipRanges") {
                    out.push(
                        ty,
                        base(json!({"cidr_ipv4": s(r, "cidrIp"), "description": s(r, "description")})),
                    );
                }
                for r in items(p, "ipv6Ranges") {
                    out.push(
                        ty,
                        base(json!({"cidr_ipv6": s(r, "cidrIpv6"), "description": s(r, "description")})),
                    );
                }
                for r in items(p, "groups") {
                    out.push(
                        ty,
                        base(json!({"referenced_security_group_id": s(r, "groupId"), "description": s(r, "description")})),
                    );
                }
                let lists = items(p, "prefixListIds").len();
                if lists > 0 {
                    out.warnings.push(format!(
                        "{id}: {lists} rule source(s) by prefix list are not shown"
                    ));
                }
            }
        }
    }
}

fn route_tables(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for t in items(root, "routeTableSet") {
        let id = s(t, "routeTableId");
        let vpc = s(t, "vpcId");
        let mut routes = Vec::new();
        for r in items(t, "routeSet") {
            if text_of(r, "gatewayId").as_deref() == Some("local") {
                continue; // The implicit local route: not part of the model.
            }
            routes.push(json!({
                "destination_cidr_block": s(r, "destinationCidrBlock"),
                "destination_ipv6_cidr_block": s(r, "destinationIpv6CidrBlock"),
                "gateway_id": s(r, "gatewayId"),
                "nat_gateway_id": s(r, "natGatewayId"),
                "instance_id": s(r, "instanceId"),
                "network_interface_id": s(r, "networkInterfaceId"),
                "vpc_peering_connection_id": s(r, "vpcPeeringConnectionId"),
                "transit_gateway_id": s(r, "transitGatewayId"),
                "egress_only_gateway_id": s(r, "egressOnlyInternetGatewayId"),
                "local_gateway_id": s(r, "localGatewayId"),
                "carrier_gateway_id": s(r, "carrierGatewayId"),
            }));
        }
        for a in items(t, "associationSet") {
            if text_of(a, "main").as_deref() == Some("true") {
                out.push(
                    "aws_main_route_table_association",
                    json!({"vpc_id": vpc, "route_table_id": id}),
                );
            } else if let Some(subnet) = text_of(a, "subnetId") {
                out.push(
                    "aws_route_table_association",
                    json!({"route_table_id": id, "subnet_id": subnet}),
                );
            }
        }
        out.push(
            "aws_route_table",
            json!({"id": id, "vpc_id": vpc, "route": routes, "tags": tags(t)}),
        );
    }
}

fn igws(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "internetGatewaySet") {
        let vpc = items(g, "attachmentSet")
            .into_iter()
            .find_map(|a| text_of(a, "vpcId"));
        out.push(
            "aws_internet_gateway",
            json!({"id": s(g, "internetGatewayId"), "vpc_id": vpc, "tags": tags(g)}),
        );
    }
}

fn nats(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for g in items(root, "natGatewaySet") {
        if matches!(text_of(g, "state").as_deref(), Some("deleted" | "failed")) {
            continue;
        }
        let addr = items(g, "natGatewayAddressSet").into_iter().next();
        out.push(
            "aws_nat_gateway",
            json!({
                "id": s(g, "natGatewayId"),
                "subnet_id": s(g, "subnetId"),
                "private_ip": addr.map(|a| s(a, "privateIp")),
                "public_ip": addr.map(|a| s(a, "publicIp")),
                "tags": tags(g),
            }),
        );
    }
}

fn peerings(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for p in items(root, "vpcPeeringConnectionSet") {
        let status = child(p, "status").and_then(|st| text_of(st, "code"));
        if matches!(
            status.as_deref(),
            Some("deleted" | "rejected" | "failed" | "expired")
        ) {
            continue;
        }
        out.push(
            "aws_vpc_peering_connection",
            json!({
                "id": s(p, "vpcPeeringConnectionId"),
                "vpc_id": child(p, "requesterVpcInfo").map(|v| s(v, "vpcId")),
                "peer_vpc_id": child(p, "accepterVpcInfo").map(|v| s(v, "vpcId")),
                "accept_status": status,
                "tags": tags(p),
            }),
        );
    }
}

fn load_balancers(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for lb in items(root, "LoadBalancers") {
        let Some(arn) = text_of(lb, "LoadBalancerArn") else {
            out.warnings
                .push("a load balancer without an ARN was skipped".into());
            continue;
        };
        let zones = items(lb, "AvailabilityZones");
        let mapping: Vec<Value> = zones
            .iter()
            .flat_map(|z| items(*z, "LoadBalancerAddresses"))
            .map(|a| json!({"private_ipv4_address": s(a, "PrivateIPv4Address")}))
            .collect();
        out.lb_arns.push(arn.clone());
        out.push(
            "aws_lb",
            json!({
                "arn": arn,
                "name": s(lb, "LoadBalancerName"),
                "internal": text_of(lb, "Scheme").map(|sc| sc == "internal"),
                "load_balancer_type": s(lb, "Type"),
                "subnets": zones.iter().filter_map(|z| text_of(*z, "SubnetId")).collect::<Vec<_>>(),
                "security_groups": texts(lb, "SecurityGroups", None),
                "dns_name": s(lb, "DNSName"),
                "vpc_id": s(lb, "VpcId"),
                "subnet_mapping": mapping,
            }),
        );
    }
}

fn target_groups(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for tg in items(root, "TargetGroups") {
        let Some(arn) = text_of(tg, "TargetGroupArn") else {
            out.warnings
                .push("a target group without an ARN was skipped".into());
            continue;
        };
        out.tg_arns.push(arn.clone());
        out.push(
            "aws_lb_target_group",
            json!({
                "arn": arn,
                "name": s(tg, "TargetGroupName"),
                "port": s(tg, "Port"),
                "protocol": s(tg, "Protocol"),
                "vpc_id": s(tg, "VpcId"),
            }),
        );
    }
}

fn listeners(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    for l in items(root, "Listeners") {
        let actions: Vec<Value> = items(l, "DefaultActions")
            .into_iter()
            .map(|a| {
                let forward: Vec<Value> = child(a, "ForwardConfig")
                    .map(|f| {
                        items(f, "TargetGroups")
                            .into_iter()
                            .map(|t| json!({"arn": s(t, "TargetGroupArn")}))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "target_group_arn": s(a, "TargetGroupArn"),
                    "forward": [{"target_group": forward}],
                })
            })
            .collect();
        out.push(
            "aws_lb_listener",
            json!({
                "load_balancer_arn": s(l, "LoadBalancerArn"),
                "port": s(l, "Port"),
                "protocol": s(l, "Protocol"),
                "default_action": actions,
            }),
        );
    }
}

fn targets(root: Node<'_, '_>, _region: &str, out: &mut Resources) {
    // The answer does not name its target group: the request did (`tg_pending`).
    let Some(tg) = out.tg_pending.clone() else {
        return;
    };
    for d in items(root, "TargetHealthDescriptions") {
        if let Some(id) = child(d, "Target").and_then(|t| text_of(t, "Id")) {
            out.push(
                "aws_lb_target_group_attachment",
                json!({"target_group_arn": tg, "target_id": id}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    /// Canned answers by action and page token; an action without one gets an empty answer.
    struct Canned {
        pages: Vec<(&'static str, Option<&'static str>, u16, String)>,
        sent: Vec<Request>,
        waits: Vec<Duration>,
    }

    impl Transport for Canned {
        fn wait(&mut self, d: Duration) {
            self.waits.push(d);
        }

        fn send(&mut self, req: &Request) -> Result<Response, String> {
            self.sent.push(req.clone());
            let token = req
                .params
                .iter()
                .find(|(k, _)| k == "NextToken" || k == "Marker")
                .map(|(_, v)| v.as_str());
            for (action, t, status, body) in &self.pages {
                if *action == req.action && *t == token {
                    return Ok(Response {
                        status: *status,
                        body: body.clone().into_bytes(),
                    });
                }
            }
            let body = match req.service {
                Service::Ec2 => format!("<{0}Response></{0}Response>", req.action),
                Service::Elbv2 => format!(
                    "<{0}Response><{0}Result></{0}Result></{0}Response>",
                    req.action
                ),
            };
            Ok(Response {
                status: 200,
                body: body.into_bytes(),
            })
        }
    }

    fn canned(pages: Vec<(&'static str, Option<&'static str>, u16, String)>) -> Canned {
        Canned {
            pages,
            sent: Vec::new(),
            waits: Vec::new(),
        }
    }

    fn ec2(action: &str, inner: &str) -> String {
        format!(
            r#"<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{action}Response>"#
        )
    }

    fn elb(action: &str, inner: &str) -> String {
        format!(
            r#"<{action}Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><{action}Result>{inner}</{action}Result></{action}Response>"#
        )
    }

    fn instance(id: &str, ip: &str) -> String {
        format!(
            "<item><instanceId>{id}</instanceId><instanceState><code>16</code><name>running</name></instanceState>\
             <privateIpAddress>{ip}</privateIpAddress><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId>\
             <placement><availabilityZone>eu-west-1a</availabilityZone></placement>\
             <groupSet><item><groupId>sg-web</groupId><groupName>web</groupName></item></groupSet>\
             <sourceDestCheck>true</sourceDestCheck>\
             <networkInterfaceSet><item><networkInterfaceId>eni-{id}</networkInterfaceId><attachment><deviceIndex>0</deviceIndex></attachment>\
             <privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress><primary>true</primary></item></privateIpAddressesSet></item></networkInterfaceSet>\
             <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
        )
    }

    #[test]
    fn next_token_is_followed_with_a_clamped_page_size() {
        let page = |ids: &[(&str, &str)], next: Option<&str>| {
            let items: String = ids.iter().map(|(i, ip)| instance(i, ip)).collect();
            let next = next
                .map(|n| format!("<nextToken>{n}</nextToken>"))
                .unwrap_or_default();
            ec2(
                "DescribeInstances",
                &format!("<reservationSet><item><instancesSet>{items}</instancesSet></item></reservationSet>{next}"),
            )
        };
        let mut t = canned(vec![
            (
                "DescribeInstances",
                None,
                200,
                page(&[("i-1", "10.0.1.1"), ("i-2", "10.0.1.2")], Some("p2")),
            ),
            (
                "DescribeInstances",
                Some("p2"),
                200,
                page(&[("i-3", "10.0.1.3")], Some("p3")),
            ),
            (
                "DescribeInstances",
                Some("p3"),
                200,
                page(&[("i-4", "10.0.1.4")], None),
            ),
        ]);
        let opts = Options {
            page_size: 2,
            ..Options::default()
        };
        let r = import_region("eu-west-1", &mut t, opts).unwrap();
        let ids: Vec<&str> = r.topology.hosts.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["i-1", "i-2", "i-3", "i-4"]);
        let calls: Vec<&Request> = t
            .sent
            .iter()
            .filter(|r| r.action == "DescribeInstances")
            .collect();
        assert_eq!(calls.len(), 3);
        assert!(
            calls[0].body().contains("MaxResults=5"),
            "{}",
            calls[0].body()
        );
        assert!(
            calls[2].body().ends_with("NextToken=p3"),
            "{}",
            calls[2].body()
        );
        let h = &r.topology.hosts[0];
        assert_eq!(h.name, "i-1-name");
        assert_eq!(
            h.private_ips,
            ["10.0.1.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(h.security_groups, ["sg-web"]);
        assert_eq!(h.interfaces, ["eni-i-1"]);
        assert_eq!(h.zone.as_deref(), Some("eu-west-1a"));
        assert_eq!(r.requests, t.sent.len());
    }

    #[test]
    fn a_region_maps_to_the_model() {
        let mut t = canned(vec![
            ("DescribeVpcs", None, 200, ec2("DescribeVpcs",
                "<vpcSet><item><vpcId>vpc-1</vpcId><ownerId>123456789012</ownerId><cidrBlock>10.0.0.0/16</cidrBlock>\
                 <isDefault>false</isDefault><tagSet><item><key>Name</key><value>prod</value></item></tagSet></item></vpcSet>")),
            ("DescribeSubnets", None, 200, ec2("DescribeSubnets",
                "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock>\
                 <availabilityZone>eu-west-1a</availabilityZone><mapPublicIpOnLaunch>false</mapPublicIpOnLaunch></item>\
                 <item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.2.0/24</cidrBlock>\
                 <availabilityZone>eu-west-1b</availabilityZone></item></subnetSet>")),
            ("DescribeInstances", None, 200, ec2("DescribeInstances",
                &format!("<reservationSet><item><instancesSet>{}</instancesSet></item></reservationSet>", instance("i-1", "10.0.2.10")))),
            ("DescribeSecurityGroups", None, 200, ec2("DescribeSecurityGroups",
                "<securityGroupInfo><item><groupId>sg-web</groupId><groupName>web</groupName><vpcId>vpc-1</vpcId>\
                 <ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>\
                 <groups><item><groupId>sg-lb</groupId></item><item><groupId>sg-web</groupId></item></groups>\
                 <ipRanges><item><cidrIp>10.8.0.0/24</cidrIp><description>vpn</description></item></ipRanges></item></ipPermissions>\
                 <ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>\
                 </item></securityGroupInfo>")),
            ("DescribeRouteTables", None, 200, ec2("DescribeRouteTables",
                "<routeTableSet><item><routeTableId>rtb-main</routeTableId><vpcId>vpc-1</vpcId>\
                 <routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId></item>\
                 <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId></item></routeSet>\
                 <associationSet><item><main>true</main><routeTableId>rtb-main</routeTableId></item></associationSet></item>\
                 <item><routeTableId>rtb-pub</routeTableId><vpcId>vpc-1</vpcId>\
                 <routeSet><item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-1</gatewayId></item></routeSet>\
                 <associationSet><item><main>false</main><subnetId>subnet-a</subnetId></item></associationSet></item></routeTableSet>")),
            ("DescribeInternetGateways", None, 200, ec2("DescribeInternetGateways",
                "<internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId><attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item></attachmentSet></item></internetGatewaySet>")),
            ("DescribeNatGateways", None, 200, ec2("DescribeNatGateways",
                "<natGatewaySet><item><natGatewayId>nat-1</natGatewayId><subnetId>subnet-a</subnetId><state>available</state>\
                 <natGatewayAddressSet><item><privateIp>10.0.1.5</privateIp><publicIp>198.51.100.7</publicIp></item></natGatewayAddressSet></item>\
                 <item><natGatewayId>nat-old</natGatewayId><state>deleted</state></item></natGatewaySet>")),
            ("DescribeLoadBalancers", None, 200, elb("DescribeLoadBalancers",
                "<LoadBalancers><member><LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/web/1</LoadBalancerArn>\
                 <LoadBalancerName>web</LoadBalancerName><Scheme>internet-facing</Scheme><Type>application</Type><VpcId>vpc-1</VpcId>\
                 <DNSName>web-1.eu-west-1.elb.amazonaws.com</DNSName><SecurityGroups><member>sg-lb</member></SecurityGroups>\
                 <AvailabilityZones><member><SubnetId>subnet-a</SubnetId><ZoneName>eu-west-1a</ZoneName></member></AvailabilityZones></member></LoadBalancers>")),
            ("DescribeTargetGroups", None, 200, elb("DescribeTargetGroups",
                "<TargetGroups><member><TargetGroupArn>arn:tg/web</TargetGroupArn><TargetGroupName>web</TargetGroupName>\
                 <Protocol>HTTP</Protocol><Port>8080</Port><VpcId>vpc-1</VpcId></member></TargetGroups>")),
            ("DescribeListeners", None, 200, elb("DescribeListeners",
                "<Listeners><member><LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/web/1</LoadBalancerArn>\
                 <Port>443</Port><Protocol>HTTPS</Protocol><DefaultActions><member><Type>forward</Type><TargetGroupArn>arn:tg/web</TargetGroupArn></member></DefaultActions></member></Listeners>")),
            ("DescribeTargetHealth", None, 200, elb("DescribeTargetHealth",
                "<TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>8080</Port></Target></member></TargetHealthDescriptions>")),
        ]);
        let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
        let topo = r.topology;
        let c = topo.counts();
        assert_eq!(
            (
                c.vpcs,
                c.subnets,
                c.hosts,
                c.load_balancers,
                c.target_groups,
                c.gateways,
                c.route_tables,
                c.routes,
                c.firewalls,
                c.rules
            ),
            (1, 2, 1, 1, 1, 2, 2, 2, 1, 4),
            "{r:?}",
            r = r.warnings
        );
        let vpc = &topo.vpcs[0];
        assert_eq!(
            (vpc.name.as_str(), vpc.region.as_deref()),
            ("prod", Some("eu-west-1"))
        );
        assert_eq!(vpc.main_route_table.as_deref(), Some("rtb-main"));
        let pubs: Vec<_> = topo
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.public))
            .collect();
        assert_eq!(pubs, [("subnet-a", Some(true)), ("subnet-b", Some(false))]);
        assert_eq!(topo.hosts[0].vpc.as_deref(), Some("vpc-1"));
        let sg = &topo.firewalls[0];
        let peers: Vec<&Peer> = sg.rules.iter().flat_map(|r| &r.peers).collect();
        assert!(peers.contains(&&Peer::Group("sg-lb".into())), "{peers:?}");
        assert!(peers.contains(&&Peer::SelfGroup), "{peers:?}");
        assert!(peers.contains(&&Peer::Cidr("10.8.0.0/24".parse().unwrap())));
        let vpn = sg
            .rules
            .iter()
            .find(|r| r.description.as_deref() == Some("vpn"))
            .unwrap();
        assert_eq!(vpn.ports, Some(PortRange { from: 443, to: 443 }));
        let nat = topo.gateways.iter().find(|g| g.id == "nat-1").unwrap();
        assert_eq!(nat.vpc.as_deref(), Some("vpc-1"));
        assert_eq!(nat.public_ip, Some("198.51.100.7".parse().unwrap()));
        let lb = &topo.load_balancers[0];
        assert_eq!(lb.internal, Some(false));
        assert_eq!(lb.region.as_deref(), Some("eu-west-1"));
        assert_eq!(lb.listeners[0].port, 443);
        assert_eq!(lb.listeners[0].target_group.as_deref(), Some("arn:tg/web"));
        assert_eq!(topo.target_groups[0].targets, ["i-1"]);
        assert_eq!(topo.target_groups[0].port, Some(8080));
    }

    #[test]
    fn errors_name_the_call_and_keep_aws_words() {
        let mut t = canned(vec![(
            "DescribeVpcs",
            None,
            403,
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>x</RequestID></Response>".into(),
        )]);
        let e = import_region("eu-west-1", &mut t, Options::default()).unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert_eq!(
            e.to_string(),
            "EC2 DescribeVpcs in eu-west-1: HTTP 403 AuthFailure: AWS was not able to validate the provided access credentials"
        );

        let mut t = canned(vec![("DescribeLoadBalancers", None, 500, "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>boom</Message></Error></ErrorResponse>".into())]);
        let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ELBv2 DescribeLoadBalancers in us-east-1: HTTP 500 InternalFailure: boom (3 attempts)"
        );
        assert_eq!(
            t.waits,
            [Duration::from_millis(200), Duration::from_millis(400)]
        );
        // 403 above was not retried.

        let mut t = canned(vec![(
            "DescribeSubnets",
            None,
            502,
            "<html>bad gateway".into(),
        )]);
        let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "EC2 DescribeSubnets in us-east-1: HTTP 502 (3 attempts)"
        );
        let no_retry = Options {
            retries: 0,
            ..Options::default()
        };
        let e = import_region("us-east-1", &mut t, no_retry).unwrap_err();
        assert_eq!(e.to_string(), "EC2 DescribeSubnets in us-east-1: HTTP 502");

        let mut t = canned(vec![(
            "DescribeVpcs",
            None,
            200,
            "<DescribeVpcsResponse><vpcSet>".into(),
        )]);
        let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
        assert!(matches!(e, AwsError::Body { .. }), "{e}");
        assert!(e.to_string().contains("1:"), "{e}");

        let mut t = canned(vec![("DescribeVpcs", None, 200, "<Other/>".into())]);
        let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
        assert!(
            e.to_string().contains("expected <DescribeVpcsResponse>"),
            "{e}"
        );

        let looped = ec2("DescribeVpcs", "<vpcSet/><nextToken>same</nextToken>");
        let mut t = canned(vec![
            ("DescribeVpcs", None, 200, looped.clone()),
            ("DescribeVpcs", Some("same"), 200, looped),
        ]);
        let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
        assert!(e.to_string().contains("came back twice"), "{e}");

        struct Down;
        impl Transport for Down {
            fn send(&mut self, _: &Request) -> Result<Response, String> {
                Err("timed out".into())
            }
            fn wait(&mut self, _: Duration) {
                panic!("transport failures are not retried");
            }
        }
        let e = import(&["ap-south-1".into()], &mut Down, Options::default()).unwrap_err();
        assert_eq!(e.to_string(), "EC2 DescribeVpcs in ap-south-1: timed out");
    }

    #[test]
    fn bodies_are_percent_encoded() {
        let r = Request {
            service: Service::Elbv2,
            region: "eu-west-1".into(),
            action: "DescribeListeners",
            params: vec![("LoadBalancerArn".into(), "arn:aws:x/a b+c".into())],
        };
        assert_eq!(
            r.body(),
            "Action=DescribeListeners&Version=2015-12-01&LoadBalancerArn=arn%3Aaws%3Ax%2Fa%20b%2Bc"
        );
        assert_eq!(
            Service::Ec2.default_endpoint("cn-north-1"),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            Service::Elbv2.default_endpoint("eu-west-1"),
            "https://elasticloadbalancing.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn throttling_is_retried_then_succeeds() {
        struct Flaky {
            inner: Canned,
            throttled: usize,
        }
        impl Transport for Flaky {
            fn send(&mut self, req: &Request) -> Result<Response, String> {
                if req.action == "DescribeVpcs" && self.throttled < 2 {
                    self.throttled += 1;
                    return Ok(Response {
                        status: 400,
                        body: b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>".to_vec(),
                    });
                }
                self.inner.send(req)
            }
            fn wait(&mut self, d: Duration) {
                self.inner.wait(d);
            }
        }
        let mut t = Flaky {
            inner: canned(vec![(
                "DescribeVpcs",
                None,
                200,
                ec2(
                    "DescribeVpcs",
                    "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet>",
                ),
            )]),
            throttled: 0,
        };
        let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
        assert_eq!(r.topology.vpcs[0].id, "vpc-1");
        assert_eq!(t.inner.waits.len(), 2);
        // 10 calls of an empty region, plus the two throttled attempts.
        assert_eq!(r.requests, 12);
    }
}
