//! OpenSearch / Elasticsearch domains, Amazon MQ brokers and MSK (Kafka) clusters.

use serde::Deserialize;

use super::super::super::builder::Builder;
use super::super::super::values::{Blocks, Tags, L, S};
use super::super::super::Resource;
use super::{add_service, host_port, service_host, service_id, Ties};
use crate::model::*;

#[derive(Deserialize, Default)]
#[serde(default)]
struct VpcOptions {
    vpc_id: S,
    subnet_ids: L,
    security_group_ids: L,
}

/// `aws_opensearch_domain`, `aws_elasticsearch_domain`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsOpensearchDomain {
    id: S,
    arn: S,
    domain_name: S,
    endpoint: S,
    engine_version: S,
    elasticsearch_version: S,
    vpc_options: Blocks<VpcOptions>,
    tags: Tags,
}

impl Resource for AwsOpensearchDomain {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.domain_name.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_opensearch_domain");
        };
        let name = name.unwrap_or_else(|| id.clone());
        // `OpenSearch_2.11`, `Elasticsearch_7.10`, or a bare Elasticsearch version.
        let (engine, version) = match (self.engine_version.0, self.elasticsearch_version.0) {
            (Some(v), _) => match v.split_once('_') {
                Some((e, v)) => (e.to_ascii_lowercase(), Some(v.to_string())),
                None => ("opensearch".to_string(), Some(v)),
            },
            (None, v) => ("elasticsearch".to_string(), v),
        };
        let endpoint = self.endpoint.0.map(|e| host_port(&e).0);
        let service = ManagedService {
            kind: ServiceKind::Opensearch,
            engine: Some(engine),
            version,
            endpoint,
            ports: vec![443],
        };
        let vo = self.vpc_options.0.into_iter().next().unwrap_or_default();
        let mut h = service_host(id, name, self.tags, service);
        h.vpc = vo.vpc_id.0;
        h.subnets = vo.subnet_ids.0;
        h.security_groups = vo.security_group_ids.0;
        add_service(b, managed, h, Ties::default());
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MqInstance {
    ip_address: S,
    endpoints: L,
}

/// `aws_mq_broker`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsMqBroker {
    id: S,
    arn: S,
    broker_name: S,
    engine_type: S,
    engine_version: S,
    subnet_ids: L,
    security_groups: L,
    instances: Blocks<MqInstance>,
    tags: Tags,
}

impl Resource for AwsMqBroker {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.broker_name.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_mq_broker");
        };
        let name = name.unwrap_or_else(|| id.clone());
        let mut endpoint = None;
        let mut ports = Vec::new();
        let mut private_ips = Vec::new();
        for i in self.instances.0 {
            private_ips.extend(b.ip(&i.ip_address.0, &id));
            for e in i.endpoints.0 {
                let (host, port) = host_port(&e);
                endpoint.get_or_insert(host);
                if let Some(p) = port.filter(|p| !ports.contains(p)) {
                    ports.push(p);
                }
            }
        }
        let mut service = ManagedService::of_engine(
            self.engine_type.0.as_deref(),
            self.engine_version.0,
            endpoint,
            ports.first().copied(),
        );
        if !ports.is_empty() {
            service.ports = ports;
        }
        let mut h = service_host(id, name, self.tags, service);
        h.private_ips = private_ips;
        h.subnets = self.subnet_ids.0;
        h.security_groups = self.security_groups.0;
        add_service(b, managed, h, Ties::default());
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BrokerNodeGroup {
    client_subnets: L,
    security_groups: L,
}

/// `aws_msk_cluster`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(in super::super) struct AwsMskCluster {
    id: S,
    arn: S,
    cluster_name: S,
    kafka_version: S,
    broker_node_group_info: Blocks<BrokerNodeGroup>,
    bootstrap_brokers_tls: S,
    bootstrap_brokers: S,
    bootstrap_brokers_sasl_iam: S,
    bootstrap_brokers_sasl_scram: S,
    state: S,
    tags: Tags,
}

impl Resource for AwsMskCluster {
    fn add(self, b: &mut Builder, managed: bool) {
        let name = self.cluster_name.0.or(self.id.0.clone());
        let Some(id) = service_id(self.arn, self.id) else {
            return b.missing_id("aws_msk_cluster");
        };
        let name = name.unwrap_or_else(|| id.clone());
        // `b-1.x.kafka.eu-west-1.amazonaws.com:9094,b-2.…`: the first broker is the endpoint,
        // every listener's port is offered.
        let mut endpoint = None;
        let mut ports = Vec::new();
        for list in [
            self.bootstrap_brokers_tls.0,
            self.bootstrap_brokers.0,
            self.bootstrap_brokers_sasl_iam.0,
            self.bootstrap_brokers_sasl_scram.0,
        ]
        .into_iter()
        .flatten()
        {
            for broker in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (host, port) = host_port(broker);
                endpoint.get_or_insert(host);
                if let Some(p) = port.filter(|p| !ports.contains(p)) {
                    ports.push(p);
                }
            }
        }
        let mut service =
            ManagedService::of_engine(Some("kafka"), self.kafka_version.0, endpoint, None);
        if !ports.is_empty() {
            service.ports = ports;
        }
        let bg = self
            .broker_node_group_info
            .0
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut h = service_host(id, name, self.tags, service);
        h.subnets = bg.client_subnets.0;
        h.security_groups = bg.security_groups.0;
        h.state = self.state.0;
        add_service(b, managed, h, Ties::default());
    }
}
