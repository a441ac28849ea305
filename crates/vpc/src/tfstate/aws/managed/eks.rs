//! EKS: the cluster's API endpoint as a Kubernetes service host, node groups as hosts (a group
//! of machines, no service) with the cluster's security group.

use serde::Deserialize;

use super::super::super::builder::Builder;
use super::super::super::values::{Blocks, Tags, L, S};
use super::super::super::Resource;
use super::{add_service, host_port, service_id, Family, Ties};
use crate::model::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct VpcConfig {
    vpc_id: S,
    subnet_ids: L,
    security_group_ids: L,
    cluster_security_group_id: S,
}

/// `aws_eks_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsEksCluster {
    id: S,
    arn: S,
    name: S,
    endpoint: S,
    status: S,
    version: S,
    vpc_config: Blocks<VpcConfig>,
    tags: Tags,
}

impl Resource for AwsEksCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.name.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_eks_cluster");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let vc = self.vpc_config.0.into_iter().next().unwrap_or_default();
        let mut groups: Vec<String> = vc.cluster_security_group_id.0.clone().into_iter().collect();
        for g in vc.security_group_ids.0 {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let endpoint = self.endpoint.0.map(|e| host_port(&e));
        let port = endpoint.as_ref().and_then(|e| e.1).unwrap_or(443);
        let service = ManagedService {
            kind: ServiceKind::Kubernetes,
            engine: Some("eks".into()),
            version: self.version.0,
            endpoint: endpoint.map(|e| e.0),
            ports: vec![port],
        };
        let h = Host {
            id,
            name,
            provider: Provider::Aws,
            vpc: vc.vpc_id.0,
            tags: self.tags.0,
            security_groups: groups,
            state: self.status.0,
            subnets: vc.subnet_ids.0,
            service: Some(service),
            ..Default::default()
        };
        // Managed node groups run in the cluster security group EKS creates.
        let member_groups = vc.cluster_security_group_id.0.map(|g| vec![g]);
        let ties = Ties {
            cluster: Some((Family::Eks, member_groups)),
            ..Ties::default()
        };
        add_service(b, managed, h, ties);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeGroupResources {
    remote_access_security_group_id: S,
}

/// `aws_eks_node_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsEksNodeGroup {
    id: S,
    arn: S,
    cluster_name: S,
    node_group_name: S,
    subnet_ids: L,
    status: S,
    resources: Blocks<NodeGroupResources>,
    tags: Tags,
}

impl Resource for AwsEksNodeGroup {
    fn add(self, b: &mut Builder, managed: bool) {
        // The id is `CLUSTER:NODEGROUP`.
        let (id_cluster, id_group) = match self.id.0.as_deref().and_then(|i| i.split_once(':')) {
            Some((c, g)) => (Some(c.to_string()), Some(g.to_string())),
            None => (None, None),
        };
        let cluster = self.cluster_name.0.or(id_cluster);
        let group = self.node_group_name.0.or(id_group);
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_eks_node_group");
        };
        let name = match (&cluster, &group) {
            (Some(c), Some(g)) => format!("{c}/{g}"),
            (None, Some(g)) => g.clone(),
            _ => id.clone(),
        };
        let mut tags = self.tags.0;
        tags.insert(GROUP_TAG.into(), "EKS node group".into());
        let mut h = Host {
            id,
            name,
            provider: Provider::Aws,
            tags,
            state: self.status.0,
            subnets: self.subnet_ids.0,
            ..Default::default()
        };
        let remote: Vec<String> = self
            .resources
            .0
            .into_iter()
            .filter_map(|r| r.remote_access_security_group_id.0)
            .collect();
        let ties = Ties {
            member: cluster.map(|c| (Family::Eks, c)),
            ..Ties::default()
        };
        if !remote.is_empty() {
            // The cluster's group is added ahead of the remote access group once resolved.
            h.security_groups = remote;
        }
        add_service(b, managed, h, ties);
    }
}
