//! AWS, live: the HTTP driver around [`gatehouse_vpc::aws`] (which owns the calls, the paging
//! and the mapping to the model).
//!
//! * Credentials ([`credentials`]): `--profile`, the environment, `~/.aws/credentials` and
//!   `~/.aws/config` profiles (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`),
//!   `credential_process`; never in `Debug`, logs or errors.
//! * Regions: `--region` (several), else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the
//!   profile's `region`.
//! * Endpoints, as the AWS CLI resolves them: `AWS_ENDPOINT_URL_EC2` /
//!   `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2` / `_RDS` / `_ELASTICACHE` / `_EKS`, else `AWS_ENDPOINT_URL`, else the profile's
//!   `services` section, else its `endpoint_url`, else the public endpoint; all of them off with
//!   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or the profile's
//!   `ignore_configured_endpoint_urls`).
//! * Requests: query API POSTs (EC2, ELBv2, RDS, ElastiCache) and REST GETs (EKS) signed with SigV4 (the `aws-sigv4` crate, not the SDK), blocking
//!   `reqwest` over rustls, connect and per-request timeouts, no redirects, bounded bodies.
//!   5xx and throttling answers are retried twice (200 ms, then 400 ms); timeouts are not.
//!   [`import`] blocks: async callers run it on a blocking thread (`spawn_blocking`).

pub mod config;
pub mod credentials;

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use gatehouse_vpc::aws::{
    self as sans_io, AwsError, Options, Request, Response, Service, Transport,
};
use gatehouse_vpc::Topology;

pub use crate::Timeouts;
pub use config::{ConfigError, Env, Profile};
pub use credentials::{Credentials, CredentialsError};

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`, in order; empty: from the environment or the profile.
    pub regions: Vec<String>,
    /// Items per page (`None`: the importer's default).
    pub page_size: Option<u32>,
    /// Timeouts.
    pub timeouts: Timeouts,
}

/// Why a live import failed. Never holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No credentials, or unusable ones.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// A shared config file could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No region given anywhere.
    #[error("no AWS region: give --region, or set AWS_REGION / AWS_DEFAULT_REGION, or `region` in profile {profile:?}")]
    NoRegion {
        /// The profile looked at.
        profile: String,
    },
    /// A region name that cannot be one.
    #[error("invalid AWS region {0:?} (expected letters, digits and '-', like eu-west-1)")]
    BadRegion(String),
    /// A configured endpoint is not an http(s) URL.
    #[error("{origin}: endpoint {url:?}: {why}")]
    Endpoint {
        /// Where it was configured (`AWS_ENDPOINT_URL_EC2`, a profile…).
        origin: String,
        /// The URL.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The API could not be read (transport, HTTP status, bad body).
    #[error(transparent)]
    Api(#[from] AwsError),
}

/// A successful import.
#[derive(Debug, Clone)]
pub struct LiveImport {
    /// The snapshot store's source name ([`source_name`]).
    pub source: String,
    /// The profile used.
    pub profile: String,
    /// Where the credentials came from (`environment`, `profile dev`…), never their value.
    pub credentials_source: String,
    /// The regions read.
    pub regions: Vec<String>,
    /// The EC2 and ELBv2 endpoints of each region.
    pub endpoints: Vec<(String, String, String)>,
    /// Everything found.
    pub topology: Topology,
    /// Objects not mapped whole.
    pub warnings: Vec<String>,
    /// Requests sent.
    pub requests: usize,
}

/// The snapshot store's source name: `aws:<profile>:<regions, sorted, comma-separated>`.
pub fn source_name(profile: &str, regions: &[String]) -> String {
    let mut r = regions.to_vec();
    r.sort();
    r.dedup();
    format!("aws:{profile}:{}", r.join(","))
}

/// The regions to read: `flags`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the
/// profile's `region`; deduplicated, in order.
pub fn regions(env: &Env, profile: &Profile, flags: &[String]) -> Result<Vec<String>, LiveError> {
    let list: Vec<String> = if !flags.is_empty() {
        flags
            .iter()
            .flat_map(|f| f.split(','))
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect()
    } else if let Some(r) = env
        .var("AWS_REGION")
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .or_else(|| profile.get("region"))
    {
        vec![r.trim().to_string()]
    } else {
        Vec::new()
    };
    let mut out: Vec<String> = Vec::new();
    for r in list {
        let ok = r.len() <= 32
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && r.starts_with(|c: char| c.is_ascii_lowercase());
        if !ok {
            return Err(LiveError::BadRegion(r));
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err(LiveError::NoRegion {
            profile: profile.name.clone(),
        });
    }
    Ok(out)
}

/// The endpoint of `service` in `region`, resolved as the AWS CLI does.
pub fn endpoint(
    env: &Env,
    profile: &Profile,
    service: Service,
    region: &str,
) -> Result<String, LiveError> {
    let truthy = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let ignore = truthy(env.var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        || truthy(profile.get("ignore_configured_endpoint_urls"));
    if ignore {
        return Ok(service.default_endpoint(region));
    }
    let specific = format!("AWS_ENDPOINT_URL_{}", service.env_id());
    let sub_key = format!("{}.endpoint_url", service.env_id().to_ascii_lowercase());
    let profile_origin = format!("profile {}", profile.name);
    let candidates = [
        (specific.clone(), env.var(&specific).map(str::to_string)),
        (
            "AWS_ENDPOINT_URL".to_string(),
            env.var("AWS_ENDPOINT_URL").map(str::to_string),
        ),
        (
            format!("{profile_origin} (services section)"),
            profile.services.get(&sub_key).cloned(),
        ),
        (
            profile_origin.clone(),
            profile.get("endpoint_url").map(str::to_string),
        ),
    ];
    for (origin, url) in candidates {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            continue;
        };
        let url = url.trim().to_string();
        let parsed = reqwest::Url::parse(&url).map_err(|e| LiveError::Endpoint {
            origin: origin.clone(),
            url: url.clone(),
            why: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(LiveError::Endpoint {
                origin,
                url,
                why: "expected an http:// or https:// URL with a host".into(),
            });
        }
        return Ok(url);
    }
    Ok(service.default_endpoint(region))
}

/// The blocking HTTP transport: signs each request with SigV4 and POSTs it.
pub struct HttpTransport {
    client: reqwest::blocking::Client,
    credentials: Credentials,
    env: Env,
    profile: Profile,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport signing with `credentials`, resolving endpoints from `env` and `profile`.
    pub fn new(
        credentials: Credentials,
        env: Env,
        profile: Profile,
        timeouts: Timeouts,
    ) -> Result<HttpTransport, LiveError> {
        let client = crate::client(timeouts).map_err(LiveError::Client)?;
        Ok(HttpTransport {
            client,
            credentials,
            env,
            profile,
        })
    }

    fn url(&self, req: &Request) -> Result<reqwest::Url, String> {
        let base = endpoint(&self.env, &self.profile, req.service, &req.region)
            .map_err(|e| e.to_string())?;
        let url = reqwest::Url::parse(&base).map_err(|e| format!("endpoint {base:?}: {e}"))?;
        Ok(request_url(url, &req.path_and_query()))
    }
}

impl Transport for HttpTransport {
    fn wait(&mut self, d: Duration) {
        std::thread::sleep(d);
    }

    fn send(&mut self, req: &Request) -> Result<Response, String> {
        let url = self.url(req)?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(format!("endpoint {url} has no host")),
        };
        let body = req.body();
        let identity = aws_credential_types::Credentials::new(
            self.credentials.access_key_id.clone(),
            self.credentials.secret_access_key().to_string(),
            self.credentials.session_token().map(str::to_string),
            None,
            "gatehouse",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&req.region)
            .name(req.service.signing_name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let mut headers = vec![("host", host.as_str())];
        if let Some(ct) = req.content_type() {
            headers.push(("content-type", ct));
        }
        let signable = SignableRequest::new(
            req.method(),
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        let mut builder = match req.method() {
            "GET" => self.client.get(url.clone()),
            _ => self.client.post(url.clone()),
        }
        .header(reqwest::header::HOST, host.as_str());
        if let Some(ct) = req.content_type() {
            builder = builder.header(reqwest::header::CONTENT_TYPE, ct);
        }
        for (name, value) in instructions.headers() {
            let mut v = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("the signer produced an invalid {name} header"))?;
            if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("x-amz-security-token")
            {
                v.set_sensitive(true);
            }
            builder = builder.header(name, v);
        }
        if !body.is_empty() {
            builder = builder.body(body);
        }
        let r = builder.send().map_err(|e| crate::describe(&e))?;
        let status = r.status().as_u16();
        let bytes = crate::read_body(r).map_err(|e| format!("{url}: {e}"))?;
        tracing::debug!(action = req.action, region = %req.region, status, "aws request");
        Ok(Response {
            status,
            body: bytes,
        })
    }
}

/// The URL of a request: the endpoint with `path_and_query` (`/` for a query API,
/// `/clusters/NAME?…` for EKS) after the endpoint's own path, if it has one.
fn request_url(mut url: reqwest::Url, path_and_query: &str) -> reqwest::Url {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let joined = format!("{}{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(query);
    url
}

/// What an import will read: the profile (name and keys) and the regions. Cheap (no request);
/// the CLI names the snapshot source with it before importing.
#[derive(Debug, Clone)]
pub struct Target {
    /// The profile in use (`--profile`, `AWS_PROFILE` or `default`).
    pub profile: Profile,
    /// The regions.
    pub regions: Vec<String>,
}

impl Target {
    /// Resolves the profile and the regions of `settings` in `env`.
    pub fn resolve(settings: &Settings, env: &Env) -> Result<Target, LiveError> {
        let name = credentials::profile_name(env, settings.profile.as_deref());
        let profile = Profile::load(env, &name)?;
        let regions = regions(env, &profile, &settings.regions)?;
        Ok(Target { profile, regions })
    }

    /// The snapshot store's source name ([`source_name`]).
    pub fn source(&self) -> String {
        source_name(&self.profile.name, &self.regions)
    }
}

/// Imports the regions `settings` and `env` name, with the credentials they give.
pub fn import(settings: &Settings, env: &Env) -> Result<LiveImport, LiveError> {
    let Target { profile, regions } = Target::resolve(settings, env)?;
    let profile_name = profile.name.clone();
    let mut endpoints = Vec::new();
    for r in &regions {
        endpoints.push((
            r.clone(),
            endpoint(env, &profile, Service::Ec2, r)?,
            endpoint(env, &profile, Service::Elbv2, r)?,
        ));
    }
    let creds = credentials::resolve(env, settings.profile.as_deref())?;
    let credentials_source = creds.source.clone();
    let mut transport = HttpTransport::new(creds, env.clone(), profile, settings.timeouts)?;
    let opts = Options {
        page_size: settings
            .page_size
            .unwrap_or(gatehouse_vpc::aws::DEFAULT_PAGE_SIZE),
        ..Options::default()
    };
    let got = sans_io::import(&regions, &mut transport, opts)?;
    Ok(LiveImport {
        source: source_name(&profile_name, &regions),
        profile: profile_name,
        credentials_source,
        regions,
        endpoints,
        topology: got.topology,
        warnings: got.warnings,
        requests: got.requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(keys: &[(&str, &str)], services: &[(&str, &str)]) -> Profile {
        Profile {
            name: "dev".into(),
            keys: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            services: services
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            found: true,
            files: vec![],
        }
    }

    #[test]
    fn endpoints_resolve_like_the_aws_cli() {
        let p = profile(
            &[("endpoint_url", "http://profile:1")],
            &[("ec2.endpoint_url", "http://services-ec2:2")],
        );
        let env = Env::new(
            [
                ("AWS_ENDPOINT_URL", "http://global:3"),
                ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://elb:4"),
            ],
            None,
        );
        assert_eq!(
            endpoint(&env, &p, Service::Elbv2, "eu-west-1").unwrap(),
            "http://elb:4"
        );
        assert_eq!(
            endpoint(&env, &p, Service::Ec2, "eu-west-1").unwrap(),
            "http://global:3"
        );
        let none = Env::default();
        assert_eq!(
            endpoint(&none, &p, Service::Ec2, "eu-west-1").unwrap(),
            "http://services-ec2:2"
        );
        assert_eq!(
            endpoint(&none, &p, Service::Elbv2, "eu-west-1").unwrap(),
            "http://profile:1"
        );
        let ignore = Env::new(
            [
                ("AWS_ENDPOINT_URL", "http://global:3"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ],
            None,
        );
        assert_eq!(
            endpoint(&ignore, &p, Service::Ec2, "eu-west-1").unwrap(),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        let bad = Env::new([("AWS_ENDPOINT_URL_EC2", "ftp://x")], None);
        let e = endpoint(&bad, &p, Service::Ec2, "eu-west-1")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("AWS_ENDPOINT_URL_EC2: endpoint \"ftp://x\""),
            "{e}"
        );
    }

    #[test]
    fn new_services_resolve_and_eks_gets_a_path() {
        let p = profile(&[], &[("eks.endpoint_url", "http://services-eks:3/base/")]);
        let env = Env::new([("AWS_ENDPOINT_URL_RDS", "http://rds-only:4")], None);
        assert_eq!(
            endpoint(&env, &p, Service::Rds, "eu-west-1").unwrap(),
            "http://rds-only:4"
        );
        assert_eq!(
            endpoint(&env, &p, Service::Eks, "eu-west-1").unwrap(),
            "http://services-eks:3/base/"
        );
        let none = Env::new::<[(&str, &str); 0], _, _>([], None);
        let q = profile(&[], &[]);
        assert_eq!(
            endpoint(&none, &q, Service::Elasticache, "cn-north-1").unwrap(),
            "https://elasticache.cn-north-1.amazonaws.com.cn"
        );
        let url =
            |base: &str, pq: &str| request_url(reqwest::Url::parse(base).unwrap(), pq).to_string();
        assert_eq!(
            url("http://services-eks:3/base/", "/clusters/a b?maxResults=5"),
            "http://services-eks:3/base/clusters/a%20b?maxResults=5"
        );
        assert_eq!(
            url("https://eks.eu-west-1.amazonaws.com", "/clusters"),
            "https://eks.eu-west-1.amazonaws.com/clusters"
        );
        assert_eq!(url("http://127.0.0.1:5000", "/"), "http://127.0.0.1:5000/");
        let req = Request {
            service: Service::Eks,
            region: "eu-west-1".into(),
            action: "DescribeCluster",
            params: vec![("name".into(), "platform".into())],
        };
        assert_eq!((req.method(), req.content_type()), ("GET", None));
        assert_eq!(req.path_and_query(), "/clusters/platform");
        assert_eq!(req.body(), "");
    }

    #[test]
    fn regions_from_flags_environment_or_profile() {
        let p = profile(&[("region", "ap-south-1")], &[]);
        let env = Env::new(
            [
                ("AWS_REGION", "eu-west-2"),
                ("AWS_DEFAULT_REGION", "eu-west-3"),
            ],
            None,
        );
        let flags = vec!["us-east-1".to_string(), "eu-west-1,us-east-1".to_string()];
        assert_eq!(
            regions(&env, &p, &flags).unwrap(),
            ["us-east-1", "eu-west-1"]
        );
        assert_eq!(regions(&env, &p, &[]).unwrap(), ["eu-west-2"]);
        let env = Env::new([("AWS_DEFAULT_REGION", "eu-west-3")], None);
        assert_eq!(regions(&env, &p, &[]).unwrap(), ["eu-west-3"]);
        assert_eq!(regions(&Env::default(), &p, &[]).unwrap(), ["ap-south-1"]);
        let e = regions(&Env::default(), &profile(&[], &[]), &[]).unwrap_err();
        assert!(e.to_string().starts_with("no AWS region"), "{e}");
        assert!(regions(&Env::default(), &p, &["../x".into()]).is_err());
        assert_eq!(
            source_name("dev", &["us-east-1".into(), "eu-west-1".into()]),
            "aws:dev:eu-west-1,us-east-1"
        );
    }

    #[test]
    fn a_refused_connection_is_a_clear_transport_error_without_secrets() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = Env::new(
            [
                ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
                ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".into()),
                ("AWS_SECRET_ACCESS_KEY", "sup3rs3cret".into()),
                ("AWS_SESSION_TOKEN", "s3ssion".into()),
            ],
            None,
        );
        let settings = Settings {
            regions: vec!["eu-west-1".into()],
            ..Settings::default()
        };
        let e = import(&settings, &env).unwrap_err().to_string();
        assert!(
            e.starts_with("EC2 DescribeVpcs in eu-west-1: cannot connect"),
            "{e}"
        );
        for secret in ["AKIATESTKEY", "sup3rs3cret", "s3ssion"] {
            assert!(!e.contains(secret), "{e}");
        }
    }
}
