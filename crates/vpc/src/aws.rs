//! AWS API importer, sans-IO: EC2 `Describe*` (VPCs, subnets, instances, security groups, route
//! tables, internet, NAT, VPN and transit gateways with their attachments and route tables,
//! network ACLs, peerings), ELBv2 (load balancers, listeners, target groups and their targets),
//! RDS (DB instances and clusters), ElastiCache (cache clusters and replication groups) and EKS
//! (clusters), one region at a time, following `NextToken` (EC2), `NextMarker` (ELBv2),
//! `Marker` (RDS, ElastiCache) and `nextToken` (EKS) with a caller-chosen page size.
//!
//! The caller's [`Transport`] sends each [`Request`] (it resolves the endpoint, signs with SigV4
//! and speaks HTTP: `gatehouse-cloud` does), so the paging and the mapping are tested against
//! canned answers here and against moto end to end.
//!
//! The EC2 and ELBv2 answers of the objects Terraform state files also hold are mapped to the
//! attributes the Terraform AWS provider writes and handed to [`crate::tfstate`]'s importer, so
//! an object reads the same from a state file and from the live API (names from the `Name` tag,
//! routes and their targets, security group rules, main route tables, public subnets, hosts'
//! VPCs) with one mapping, not two. Network ACLs, transit and VPN gateways and the managed
//! services (submodules [`nacl`], [`transit`], [`rds`], [`elasticache`], [`eks`]) map straight
//! to the model.
//!
//! The calls of VPCs, subnets, instances, security groups, route tables, gateways, peerings and
//! load balancers must succeed. The others are optional: one the account may not call or the
//! endpoint does not offer (HTTP 403, 404 or 501, `AccessDenied`, `UnauthorizedOperation`,
//! `OptInRequired`, `InvalidAction`…) leaves a warning naming the call, and the rest imports.

use std::time::Duration;

use crate::model::{RouteTarget, Topology};
use crate::tfstate;

mod ec2;
pub mod eks;
pub mod elasticache;
mod elb;
mod error;
pub mod nacl;
pub mod rds;
mod reader;
pub mod transit;
mod xml;

pub use error::AwsError;
use reader::Reader;

/// The page size used when the caller does not choose one (the EC2 maximum for most calls).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// Pages followed per call before giving up (a loop on the server side).
pub const MAX_PAGES: usize = 10_000;

/// The AWS services read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// EC2 (query API version 2016-11-15).
    Ec2,
    /// Elastic Load Balancing v2 (query API version 2015-12-01).
    Elbv2,
    /// RDS (query API version 2014-10-31).
    Rds,
    /// ElastiCache (query API version 2015-02-02).
    Elasticache,
    /// EKS (REST API with JSON answers: `GET /clusters`, `GET /clusters/{name}`).
    Eks,
}

impl Service {
    /// Every service, in the order an import calls them.
    pub const ALL: [Service; 5] = [
        Service::Ec2,
        Service::Elbv2,
        Service::Rds,
        Service::Elasticache,
        Service::Eks,
    ];

    /// The SigV4 signing name (`ec2`, `elasticloadbalancing`, `rds`, `elasticache`, `eks`).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Elbv2 => "elasticloadbalancing",
            Service::Rds => "rds",
            Service::Elasticache => "elasticache",
            Service::Eks => "eks",
        }
    }

    /// The query API version (empty for EKS, a REST API).
    pub fn version(self) -> &'static str {
        match self {
            Service::Ec2 => "2016-11-15",
            Service::Elbv2 => "2015-12-01",
            Service::Rds => "2014-10-31",
            Service::Elasticache => "2015-02-02",
            Service::Eks => "",
        }
    }

    /// The service id as the AWS CLI spells it in `AWS_ENDPOINT_URL_<ID>` and in a config
    /// file's `services` section (`EC2` / `ec2`, `ELASTIC_LOAD_BALANCING_V2` /
    /// `elastic_load_balancing_v2`, `RDS`, `ELASTICACHE`, `EKS`).
    pub fn env_id(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Elbv2 => "ELASTIC_LOAD_BALANCING_V2",
            Service::Rds => "RDS",
            Service::Elasticache => "ELASTICACHE",
            Service::Eks => "EKS",
        }
    }

    /// The public endpoint in `region`.
    pub fn default_endpoint(self, region: &str) -> String {
        let host = self.signing_name();
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
            Service::Rds => "RDS",
            Service::Elasticache => "ElastiCache",
            Service::Eks => "EKS",
        }
    }

    /// Whether it is a REST API with JSON answers (EKS) rather than a query API with XML ones.
    pub fn is_rest(self) -> bool {
        matches!(self, Service::Eks)
    }
}

/// One API call. A query API call (EC2, ELBv2, RDS, ElastiCache) is POSTed as a form to `/` of
/// the service's endpoint in `region`; a REST call (EKS) is a GET of [`Request::path_and_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which service.
    pub service: Service,
    /// Which region.
    pub region: String,
    /// The action (`DescribeVpcs`, `ListClusters`…).
    pub action: &'static str,
    /// Parameters besides `Action` and `Version`, in order. For EKS, `name` is the cluster name
    /// in the path and the others are query parameters.
    pub params: Vec<(String, String)>,
}

impl Request {
    /// The HTTP method: `POST` for a query API, `GET` for EKS.
    pub fn method(&self) -> &'static str {
        if self.service.is_rest() {
            "GET"
        } else {
            "POST"
        }
    }

    /// The path and query to request, relative to the endpoint: `/` for a query API,
    /// `/clusters[/NAME][?maxResults=…&nextToken=…]` for EKS.
    pub fn path_and_query(&self) -> String {
        if !self.service.is_rest() {
            return "/".into();
        }
        let mut path = "/clusters".to_string();
        let mut query = Vec::new();
        for (k, v) in &self.params {
            if k == "name" {
                path.push('/');
                path.push_str(&encode(v));
            } else {
                query.push(format!("{}={}", encode(k), encode(v)));
            }
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        path
    }

    /// The `Content-Type` of the body, `None` when there is no body (EKS).
    pub fn content_type(&self) -> Option<&'static str> {
        (!self.service.is_rest()).then_some("application/x-www-form-urlencoded; charset=utf-8")
    }

    /// The form body: `Action=…&Version=…&…`, percent-encoded as SigV4 expects; empty for EKS.
    pub fn body(&self) -> String {
        if self.service.is_rest() {
            return String::new();
        }
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
    let mut r = Reader::new(region, transport, opts);
    use Service::{Ec2, Elbv2};
    r.pages(Ec2, "DescribeVpcs", vec![], 1000, ec2::vpcs)?;
    r.pages(Ec2, "DescribeSubnets", vec![], 1000, ec2::subnets)?;
    r.pages(Ec2, "DescribeInstances", vec![], 1000, ec2::instances)?;
    r.pages(
        Ec2,
        "DescribeSecurityGroups",
        vec![],
        1000,
        ec2::security_groups,
    )?;
    r.pages(Ec2, "DescribeRouteTables", vec![], 100, ec2::route_tables)?;
    r.pages(Ec2, "DescribeInternetGateways", vec![], 1000, ec2::igws)?;
    r.pages(Ec2, "DescribeNatGateways", vec![], 1000, ec2::nats)?;
    r.pages(
        Ec2,
        "DescribeVpcPeeringConnections",
        vec![],
        1000,
        ec2::peerings,
    )?;
    r.pages(
        Elbv2,
        "DescribeLoadBalancers",
        vec![],
        400,
        elb::load_balancers,
    )?;
    r.pages(
        Elbv2,
        "DescribeTargetGroups",
        vec![],
        400,
        elb::target_groups,
    )?;
    let lbs = std::mem::take(&mut r.out.lb_arns);
    for arn in lbs {
        let p = vec![("LoadBalancerArn".to_string(), arn)];
        r.pages(Elbv2, "DescribeListeners", p, 400, elb::listeners)?;
    }
    let tgs = std::mem::take(&mut r.out.tg_arns);
    for arn in tgs {
        r.out.tg_pending = Some(arn.clone());
        let p = vec![("TargetGroupArn".to_string(), arn)];
        r.pages(Elbv2, "DescribeTargetHealth", p, 0, elb::targets)?;
    }
    // The optional calls: a refusal is a warning.
    nacl::read(&mut r)?;
    transit::read(&mut r)?;
    rds::read(&mut r)?;
    elasticache::read(&mut r)?;
    eks::read(&mut r)?;

    let requests = r.requests;
    let mut out = r.out;
    let state = out.state();
    let label = format!("aws:{region}");
    let (mut topology, report) =
        tfstate::import_str(&state, &label).map_err(|e| AwsError::Mapping {
            region: region.to_string(),
            message: e.to_string(),
        })?;
    out.warnings.extend(report.warnings);
    out.finish(&mut topology);
    Ok(Import {
        topology,
        warnings: out.warnings,
        requests,
    })
}

/// Marks the routes of VPC route tables to a transit gateway (`tgw-…`, which the state
/// importer keeps as "other") as [`RouteTarget::TransitGateway`].
fn transit_targets(t: &mut Topology) {
    for rt in &mut t.route_tables {
        for r in &mut rt.routes {
            if let RouteTarget::Other(id) = &r.target {
                if id.starts_with("tgw-") {
                    r.target = RouteTarget::TransitGateway(id.clone());
                }
            }
        }
    }
}

/// The `Code` and `Message` of an AWS error body: EC2's `<Response><Errors><Error>`, the other
/// query APIs' `<ErrorResponse><Error>`, and EKS's JSON (`{"message": …}`, the code in `__type`
/// or `code`); empty when the body says nothing usable.
pub fn error_of(body: &str) -> (String, String) {
    if body.trim_start().starts_with('{') {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
            return (String::new(), String::new());
        };
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| v.get(*n).and_then(|x| x.as_str()))
                .map(|t| t.trim().chars().take(500).collect::<String>())
                .unwrap_or_default()
        };
        // `__type` may be `namespace#Code`.
        let code = field(&["__type", "code", "Code"]);
        let code = code.rsplit('#').next().unwrap_or_default().to_string();
        return (code, field(&["message", "Message"]));
    }
    let Ok(doc) = roxmltree::Document::parse(body) else {
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

#[cfg(test)]
mod tests;
