//! The calls themselves: retries, paging, refusals of optional calls, and what the answers
//! left for the mapping.

use std::collections::{BTreeMap, HashSet};

use roxmltree::{Document, Node};
use serde_json::{json, Value};

use super::xml::{child, text_of};
use super::{
    eks, elasticache, error_of, nacl, rds, transit, transit_targets, AwsError, Options, Request,
    Service, Transport, MAX_PAGES, THROTTLING,
};
use crate::model::Topology;

/// What the answers gave: Terraform-provider attributes by resource type (EC2, ELBv2) and the
/// model objects the other calls map to directly.
#[derive(Default)]
pub(super) struct Resources {
    by_type: BTreeMap<&'static str, Vec<Value>>,
    pub(super) lb_arns: Vec<String>,
    pub(super) tg_arns: Vec<String>,
    /// The target group whose `DescribeTargetHealth` is being read (the answer does not name it).
    pub(super) tg_pending: Option<String>,
    pub(super) warnings: Vec<String>,
    pub(super) nacl: nacl::Found,
    pub(super) transit: transit::Found,
    pub(super) rds: rds::Found,
    pub(super) cache: elasticache::Found,
    pub(super) eks: eks::Found,
}

impl Resources {
    pub(super) fn push(&mut self, ty: &'static str, attrs: Value) {
        self.by_type.entry(ty).or_default().push(attrs);
    }

    /// A Terraform state v4 document holding every object.
    pub(super) fn state(&mut self) -> String {
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

    /// Adds the directly mapped objects to `t` (the state importer's topology) and ties them
    /// to it: default network ACLs get their VPC's unassociated subnets, managed services the
    /// VPC of their subnets, VPC routes to a transit gateway their kind.
    pub(super) fn finish(&mut self, t: &mut Topology) {
        transit_targets(t);
        let w = &mut self.warnings;
        std::mem::take(&mut self.nacl).finish(t, w);
        std::mem::take(&mut self.transit).finish(t, w);
        std::mem::take(&mut self.rds).finish(t, w);
        std::mem::take(&mut self.cache).finish(t, w);
        std::mem::take(&mut self.eks).finish(t, w);
    }
}

/// Reads one page of a query API answer (its result element) into `Resources`.
pub(super) type Handler = fn(Node<'_, '_>, &str, &mut Resources);

/// The calls of one region.
pub(super) struct Reader<'a> {
    pub(super) region: &'a str,
    transport: &'a mut dyn Transport,
    pub(super) opts: Options,
    pub(super) requests: usize,
    pub(super) out: Resources,
}

impl<'a> Reader<'a> {
    pub(super) fn new(region: &'a str, transport: &'a mut dyn Transport, opts: Options) -> Self {
        Reader {
            region,
            transport,
            opts,
            requests: 0,
            out: Resources::default(),
        }
    }

    /// Sends `req`, retrying a 5xx or a throttling answer; the body of a 2xx answer.
    fn send(&mut self, req: &Request) -> Result<String, AwsError> {
        let (service, action, region) = (req.service, req.action, req.region.clone());
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.requests += 1;
            let resp = self
                .transport
                .send(req)
                .map_err(|message| AwsError::Transport {
                    service,
                    action,
                    region: region.clone(),
                    message,
                })?;
            if (200..300).contains(&resp.status) {
                return Ok(String::from_utf8_lossy(&resp.body).into_owned());
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
        }
    }

    /// Calls `action` until the answer has no next-page token, handing each page's result
    /// element to `handle`. `max` is the call's largest page size (0: the call has no paging).
    pub(super) fn pages(
        &mut self,
        service: Service,
        action: &'static str,
        params: Vec<(String, String)>,
        max: u32,
        handle: Handler,
    ) -> Result<(), AwsError> {
        let region = self.region.to_string();
        let (size_param, token_param, token_tag, min) = match service {
            Service::Ec2 => ("MaxResults", "NextToken", "nextToken", 5),
            Service::Elbv2 => ("PageSize", "Marker", "NextMarker", 1),
            Service::Rds | Service::Elasticache => ("MaxRecords", "Marker", "Marker", 20),
            Service::Eks => ("maxResults", "nextToken", "nextToken", 1),
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
            let text = self.send(&req)?;
            let body_err = |message: String| AwsError::Body {
                service,
                action,
                region: region.clone(),
                message,
            };
            let doc = Document::parse(&text).map_err(|e| body_err(format!("not XML: {e}")))?;
            let root = doc.root_element();
            if !root.tag_name().name().starts_with(action) {
                return Err(body_err(format!(
                    "expected <{action}Response>, got <{}>",
                    root.tag_name().name()
                )));
            }
            // The query APIs but EC2 wrap the answer in <ActionResult>.
            let body = match service {
                Service::Ec2 => root,
                _ => child(root, &format!("{action}Result")).unwrap_or(root),
            };
            handle(body, &region, &mut self.out);
            let next = text_of(body, token_tag).filter(|t| !t.is_empty());
            token = self.next_token(service, action, token_tag, next, max, &mut seen)?;
            if token.is_none() {
                return Ok(());
            }
        }
        Err(self.too_many_pages(service, action))
    }

    /// A JSON call (EKS), paged by `nextToken` when `max` > 0; each page's answer goes to
    /// `handle`.
    pub(super) fn json_pages(
        &mut self,
        service: Service,
        action: &'static str,
        params: Vec<(String, String)>,
        max: u32,
        handle: fn(&Value, &mut Resources),
    ) -> Result<(), AwsError> {
        let region = self.region.to_string();
        let mut seen: HashSet<String> = HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p = params.clone();
            if max > 0 {
                p.push((
                    "maxResults".to_string(),
                    self.opts.page_size.clamp(1, max).to_string(),
                ));
            }
            if let Some(t) = &token {
                p.push(("nextToken".to_string(), t.clone()));
            }
            let req = Request {
                service,
                region: region.clone(),
                action,
                params: p,
            };
            let text = self.send(&req)?;
            let v: Value = serde_json::from_str(&text).map_err(|e| AwsError::Body {
                service,
                action,
                region: region.clone(),
                message: format!("not JSON: {e}"),
            })?;
            if !v.is_object() {
                return Err(AwsError::Body {
                    service,
                    action,
                    region,
                    message: "expected a JSON object".into(),
                });
            }
            handle(&v, &mut self.out);
            let next = v
                .get("nextToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            token = self.next_token(service, action, "nextToken", next, max, &mut seen)?;
            if token.is_none() {
                return Ok(());
            }
        }
        Err(self.too_many_pages(service, action))
    }

    /// The token of the next page, `None` when this was the last one.
    fn next_token(
        &self,
        service: Service,
        action: &'static str,
        tag: &str,
        next: Option<String>,
        max: u32,
        seen: &mut HashSet<String>,
    ) -> Result<Option<String>, AwsError> {
        let paging = |message: String| AwsError::Paging {
            service,
            action,
            region: self.region.to_string(),
            message,
        };
        match next {
            None => Ok(None),
            Some(t) if max == 0 => {
                Err(paging(format!("unexpected {tag} {t:?} on an unpaged call")))
            }
            Some(t) => {
                if !seen.insert(t.clone()) {
                    return Err(paging(format!("the same {tag} came back twice")));
                }
                Ok(Some(t))
            }
        }
    }

    fn too_many_pages(&self, service: Service, action: &'static str) -> AwsError {
        AwsError::Paging {
            service,
            action,
            region: self.region.to_string(),
            message: format!("more than {MAX_PAGES} pages, stopping"),
        }
    }

    /// An optional call's outcome: `true` when it succeeded; `false`, with a warning naming
    /// the call and `what` is missing for it, when AWS refused it ([`AwsError::refused`]);
    /// any other error stays one.
    pub(super) fn optional(
        &mut self,
        res: Result<(), AwsError>,
        what: &str,
    ) -> Result<bool, AwsError> {
        match res {
            Ok(()) => Ok(true),
            Err(e) if e.refused() => {
                self.out.warnings.push(format!("{e}; {what} not imported"));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
