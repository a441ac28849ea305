//! EKS: clusters (`GET /clusters`, then `GET /clusters/{name}` each) → managed-service hosts of
//! kind [`ServiceKind::Kubernetes`]: the API endpoint's host name on port 443, the cluster's
//! subnets, its security groups and the cluster security group. Optional: a refusal is a
//! warning.

use serde_json::Value;

use super::rds::{service_host, vpc_from_subnet};
use super::reader::{Reader, Resources};
use super::{AwsError, Service};
use crate::model::*;

/// What the EKS calls gave.
#[derive(Debug, Default)]
pub struct Found {
    names: Vec<String>,
    hosts: Vec<Host>,
}

/// Reads the region's clusters.
pub(super) fn read(r: &mut Reader<'_>) -> Result<(), AwsError> {
    let res = r.json_pages(Service::Eks, "ListClusters", vec![], 100, list);
    if !r.optional(res, "EKS clusters")? {
        return Ok(());
    }
    let names = std::mem::take(&mut r.out.eks.names);
    for name in names {
        let p = vec![("name".to_string(), name.clone())];
        let res = r.json_pages(Service::Eks, "DescribeCluster", p, 0, cluster);
        r.optional(res, &format!("EKS cluster {name}"))?;
    }
    Ok(())
}

fn list(v: &Value, out: &mut Resources) {
    for n in v
        .get("clusters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match n.as_str() {
            Some(n) if !n.is_empty() => out.eks.names.push(n.to_string()),
            _ => out
                .warnings
                .push(format!("EKS ListClusters: a cluster name {n} was skipped")),
        }
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The host name of an endpoint URL (`https://ABC.gr7.eu-west-1.eks.amazonaws.com/`).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    host.rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
        .to_string()
}

fn cluster(v: &Value, out: &mut Resources) {
    let Some(c) = v.get("cluster").filter(|c| c.is_object()) else {
        out.warnings
            .push("EKS DescribeCluster: an answer without a cluster was skipped".into());
        return;
    };
    let Some(name) = str_of(c, "name") else {
        out.warnings
            .push("EKS DescribeCluster: a cluster without a name was skipped".into());
        return;
    };
    let endpoint = str_of(c, "endpoint").map(|e| host_of(&e));
    let service = ManagedService::of_engine(
        Some("kubernetes"),
        str_of(c, "version"),
        endpoint,
        Some(443),
    );
    let empty = Value::Null;
    let cfg = c.get("resourcesVpcConfig").unwrap_or(&empty);
    let mut sgs = strs(cfg, "securityGroupIds");
    if let Some(g) = str_of(cfg, "clusterSecurityGroupId") {
        if !sgs.contains(&g) {
            sgs.push(g);
        }
    }
    let mut h = service_host(
        str_of(c, "arn").unwrap_or_else(|| name.clone()),
        name,
        service,
        sgs,
        str_of(c, "status"),
    );
    h.vpc = str_of(cfg, "vpcId");
    let subnets = strs(cfg, "subnetIds");
    h.subnet = subnets.first().cloned();
    if subnets.len() > 1 {
        h.subnets = subnets;
    }
    if let Some(tags) = c.get("tags").and_then(Value::as_object) {
        for (k, v) in tags {
            h.tags
                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    out.eks.hosts.push(h);
}

impl Found {
    /// Adds the clusters to `t`.
    pub(super) fn finish(self, t: &mut Topology, _warnings: &mut [String]) {
        for mut h in self.hosts {
            vpc_from_subnet(&mut h, t);
            t.hosts.push(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{canned, ec2};
    use super::super::{import_region, Options, Request};
    use super::*;

    #[test]
    fn clusters_are_listed_then_described() {
        let mut t = canned(vec![
            ("DescribeSubnets", None, 200, ec2("DescribeSubnets",
                "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock></item></subnetSet>")),
            ("ListClusters", None, 200, r#"{"clusters": ["platform", "edge"], "nextToken": "p2"}"#.into()),
            ("ListClusters", Some("p2"), 200, r#"{"clusters": ["gone"]}"#.into()),
            ("DescribeCluster", None, 200, r#"{"cluster": {"name": "platform",
                "arn": "arn:aws:eks:eu-west-1:1:cluster/platform", "version": "1.29", "status": "ACTIVE",
                "endpoint": "https://ABC123.gr7.eu-west-1.eks.amazonaws.com",
                "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-extra"],
                  "clusterSecurityGroupId": "sg-cluster", "vpcId": "vpc-1"},
                "tags": {"team": "infra"}}}"#.into()),
        ]);
        // Each DescribeCluster answers the same canned body but the third: refused (gone).
        let mut seen = 0;
        t.hook = Some(Box::new(move |req: &Request| {
            if req.action != "DescribeCluster" {
                return None;
            }
            seen += 1;
            let name = req.params[0].1.clone();
            match name.as_str() {
                "edge" => Some((
                    200,
                    format!(
                        r#"{{"cluster": {{"name": "edge", "endpoint": "https://EDGE.yl4.eu-west-1.eks.amazonaws.com:443/",
                    "resourcesVpcConfig": {{"subnetIds": ["subnet-a"], "securityGroupIds": []}}}}, "n": {seen}}}"#
                    ),
                )),
                "gone" => Some((
                    404,
                    r#"{"message": "No cluster found for name: gone."}"#.into(),
                )),
                _ => None,
            }
        }));
        let opts = Options {
            page_size: 2,
            ..Options::default()
        };
        let r = import_region("eu-west-1", &mut t, opts).unwrap();
        let paths: Vec<String> = t
            .sent
            .iter()
            .filter(|q| q.service == Service::Eks)
            .map(|q| format!("{} {}", q.method(), q.path_and_query()))
            .collect();
        assert_eq!(
            paths,
            [
                "GET /clusters?maxResults=2",
                "GET /clusters?maxResults=2&nextToken=p2",
                "GET /clusters/platform",
                "GET /clusters/edge",
                "GET /clusters/gone",
            ]
        );
        let h = r.topology.find_host("platform").unwrap();
        assert_eq!(h.id, "arn:aws:eks:eu-west-1:1:cluster/platform");
        let s = h.service.as_ref().unwrap();
        assert_eq!(s.kind, ServiceKind::Kubernetes);
        assert_eq!(
            s.endpoint.as_deref(),
            Some("ABC123.gr7.eu-west-1.eks.amazonaws.com")
        );
        assert_eq!((s.port(), s.version.as_deref()), (Some(443), Some("1.29")));
        assert_eq!(h.subnet.as_deref(), Some("subnet-a"));
        assert_eq!(h.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!(h.security_groups, ["sg-extra", "sg-cluster"]);
        assert_eq!(h.state.as_deref(), Some("ACTIVE"));
        assert_eq!(h.tags.get("team").map(String::as_str), Some("infra"));
        // No vpcId: the subnet's VPC.
        let e = r
            .topology
            .find_host("EDGE.yl4.eu-west-1.eks.amazonaws.com")
            .unwrap();
        assert_eq!((e.id.as_str(), e.vpc.as_deref()), ("edge", Some("vpc-1")));
        assert!(e.subnets.is_empty());
        assert_eq!(
            r.warnings,
            ["EKS DescribeCluster in eu-west-1: HTTP 404: No cluster found for name: gone.; EKS cluster gone not imported"]
        );
    }

    #[test]
    fn endpoint_host_names() {
        assert_eq!(
            host_of("https://a.b.eks.amazonaws.com/"),
            "a.b.eks.amazonaws.com"
        );
        assert_eq!(host_of("https://a.b:443/x"), "a.b");
        assert_eq!(host_of("a.b"), "a.b");
    }
}
