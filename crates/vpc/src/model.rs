//! The provider-neutral topology model.
//!
//! Every object has the provider's own id (`vpc-…`, a DigitalOcean UUID, a GCP resource path) and
//! refers to others by those ids, so a topology serializes to plain JSON and two snapshots can be
//! compared object by object. Providers fill what they have: a DigitalOcean VPC has no subnets or
//! route tables, a GCP firewall applies by network and target tags, an AWS security group by
//! membership.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Which cloud an object comes from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// DigitalOcean.
    Digitalocean,
    /// Google Cloud.
    Gcp,
    /// Anything else (hand-written topologies, the demo lab).
    #[default]
    Other,
}

/// Everything known about one or more VPCs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// Virtual networks.
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    /// Subnets (AWS subnets, GCP subnetworks).
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// Machines (instances, droplets, VMs) and managed services (databases, caches, cluster
    /// APIs), the latter with [`Host::service`] set.
    #[serde(default)]
    pub hosts: Vec<Host>,
    /// Load balancers with their listeners and targets.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    /// AWS target groups (what a listener forwards to).
    #[serde(default)]
    pub target_groups: Vec<TargetGroup>,
    /// Internet, NAT, VPN and transit gateways.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
    /// Route tables with their subnet associations.
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
    /// Security groups and firewalls.
    #[serde(default)]
    pub firewalls: Vec<Firewall>,
    /// VPC peerings.
    #[serde(default)]
    pub peerings: Vec<Peering>,
}

/// How many objects of each kind a topology holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// VPCs.
    pub vpcs: usize,
    /// Subnets.
    pub subnets: usize,
    /// Hosts.
    pub hosts: usize,
    /// Load balancers.
    pub load_balancers: usize,
    /// Target groups.
    pub target_groups: usize,
    /// Gateways.
    pub gateways: usize,
    /// Route tables.
    pub route_tables: usize,
    /// Routes in all route tables.
    pub routes: usize,
    /// Security groups and firewalls.
    pub firewalls: usize,
    /// Rules in all firewalls.
    pub rules: usize,
    /// Peerings.
    pub peerings: usize,
    /// Hosts that are managed services (databases, caches, cluster APIs…).
    #[serde(default)]
    pub services: usize,
    /// Gateway attachments (transit gateway VPC/VPN attachments).
    #[serde(default)]
    pub attachments: usize,
}

impl Topology {
    /// How many objects of each kind this topology holds.
    pub fn counts(&self) -> Counts {
        Counts {
            vpcs: self.vpcs.len(),
            subnets: self.subnets.len(),
            hosts: self.hosts.len(),
            load_balancers: self.load_balancers.len(),
            target_groups: self.target_groups.len(),
            gateways: self.gateways.len(),
            route_tables: self.route_tables.len(),
            routes: self.route_tables.iter().map(|t| t.routes.len()).sum(),
            firewalls: self.firewalls.len(),
            rules: self.firewalls.iter().map(|f| f.rules.len()).sum(),
            peerings: self.peerings.len(),
            services: self.hosts.iter().filter(|h| h.service.is_some()).count(),
            attachments: self.gateways.iter().map(|g| g.attachments.len()).sum(),
        }
    }

    /// The VPC with this id.
    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }

    /// The subnet with this id.
    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    /// The host with this id.
    pub fn host(&self, id: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.id == id)
    }

    /// The firewall or security group with this id.
    pub fn firewall(&self, id: &str) -> Option<&Firewall> {
        self.firewalls.iter().find(|f| f.id == id)
    }

    /// The route table that governs a subnet: its explicit association, else its VPC's main
    /// table. The flag tells whether the main-table fallback was used.
    pub fn route_table_for_subnet(&self, subnet_id: &str) -> Option<(&RouteTable, bool)> {
        if let Some(t) = self
            .route_tables
            .iter()
            .find(|t| t.subnets.iter().any(|s| s == subnet_id))
        {
            return Some((t, false));
        }
        let vpc = self.subnet(subnet_id)?.vpc.as_deref()?;
        self.main_route_table(vpc).map(|t| (t, true))
    }

    /// The main route table of a VPC.
    pub fn main_route_table(&self, vpc_id: &str) -> Option<&RouteTable> {
        if let Some(id) = self.vpc(vpc_id).and_then(|v| v.main_route_table.as_deref()) {
            if let Some(t) = self.route_tables.iter().find(|t| t.id == id) {
                return Some(t);
            }
        }
        self.route_tables
            .iter()
            .find(|t| t.main && t.vpc.as_deref() == Some(vpc_id))
    }

    /// A host by id, name, a managed service's endpoint name, or one of its IP addresses.
    pub fn find_host(&self, key: &str) -> Option<&Host> {
        if let Some(h) = self.hosts.iter().find(|h| h.id == key || h.name == key) {
            return Some(h);
        }
        if let Some(h) = self.hosts.iter().find(|h| {
            h.service
                .as_ref()
                .and_then(|s| s.endpoint.as_deref())
                .is_some_and(|e| e.eq_ignore_ascii_case(key))
        }) {
            return Some(h);
        }
        let ip: IpAddr = key.parse().ok()?;
        self.hosts
            .iter()
            .find(|h| h.private_ips.contains(&ip) || h.public_ip == Some(ip))
    }
}

/// A virtual network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    /// Provider id.
    pub id: String,
    /// Display name (the `Name` tag, or the provider's name).
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// Region, when known.
    #[serde(default)]
    pub region: Option<String>,
    /// Address ranges.
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    /// The main route table (used by subnets without an explicit association).
    #[serde(default)]
    pub main_route_table: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Referenced by other objects but not described by the source (a droplet in the account's
    /// default VPC, a data source left out): only its id is known.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub placeholder: bool,
}

/// A subnet of a VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The VPC it belongs to.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Address range.
    #[serde(default)]
    pub cidr: Option<IpNet>,
    /// Availability zone.
    #[serde(default)]
    pub zone: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Whether it is public: its route table sends 0.0.0.0/0 to an internet gateway (or, with no
    /// route table known, instances get public IPs on launch). `None` when nothing tells.
    #[serde(default)]
    pub public: Option<bool>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A machine (an EC2 instance, a droplet, a GCE or Azure VM) or a managed service that answers on
/// private addresses (an RDS database, an ElastiCache cluster, a Kubernetes API endpoint…).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// The VPC it is in.
    #[serde(default)]
    pub vpc: Option<String>,
    /// The subnet it is in.
    #[serde(default)]
    pub subnet: Option<String>,
    /// Availability zone or region.
    #[serde(default)]
    pub zone: Option<String>,
    /// Private addresses, primary first.
    #[serde(default)]
    pub private_ips: Vec<IpAddr>,
    /// Public address.
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// Key/value tags (AWS tags, GCP labels).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Plain tags that firewalls select on (DigitalOcean tags, GCP network tags).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Security groups it is a member of (ids, or names where the state only has names).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Provider state (`running`, `stopped`, `active`, `off`, `RUNNING`…).
    #[serde(default)]
    pub state: Option<String>,
    /// Whether the provider drops packets not addressed from/to the host itself (AWS
    /// source/dest check; GCP's `can_ip_forward` is its negation). `None` when unknown.
    #[serde(default)]
    pub source_dest_check: Option<bool>,
    /// Network interface ids (a route may target an interface).
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Every subnet it may be placed in, `subnet` first, when there are several (a DB subnet
    /// group, a cluster's subnets); empty when `subnet` says it all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// What a managed service offers (kind, engine, endpoint, ports); `None` for a machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ManagedService>,
}

/// What kind of managed service a host is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// PostgreSQL (RDS, Aurora PostgreSQL, Cloud SQL, Azure flexible server, DO).
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// Microsoft SQL Server.
    Sqlserver,
    /// Oracle.
    Oracle,
    /// Redis or Valkey.
    Redis,
    /// Memcached.
    Memcached,
    /// MongoDB or DocumentDB.
    Mongodb,
    /// A Kubernetes API server (EKS, GKE, AKS, DOKS).
    Kubernetes,
    /// OpenSearch / Elasticsearch.
    Opensearch,
    /// Kafka (MSK, DO Kafka).
    Kafka,
    /// A message broker (Amazon MQ: ActiveMQ, RabbitMQ).
    Mq,
    /// Anything else.
    #[default]
    Other,
}

impl ServiceKind {
    /// The kind a provider's engine name means (`aurora-postgresql`, `POSTGRES_15`, `pg`,
    /// `mysql`, `redis`, `valkey`, `docdb`…).
    pub fn from_engine(engine: &str) -> ServiceKind {
        let e = engine.to_ascii_lowercase();
        let has = |p: &str| e.contains(p);
        if has("postgres") || e == "pg" {
            ServiceKind::Postgres
        } else if has("mysql") || has("mariadb") {
            ServiceKind::Mysql
        } else if has("sqlserver") || has("mssql") {
            ServiceKind::Sqlserver
        } else if has("oracle") {
            ServiceKind::Oracle
        } else if has("redis") || has("valkey") {
            ServiceKind::Redis
        } else if has("memcache") {
            ServiceKind::Memcached
        } else if has("mongo") || has("docdb") || has("documentdb") {
            ServiceKind::Mongodb
        } else if has("kafka") {
            ServiceKind::Kafka
        } else if has("opensearch") || has("elasticsearch") {
            ServiceKind::Opensearch
        } else if has("activemq") || has("rabbitmq") {
            ServiceKind::Mq
        } else if has("kubernetes") || e == "k8s" {
            ServiceKind::Kubernetes
        } else {
            ServiceKind::Other
        }
    }

    /// The port it answers on unless configured otherwise.
    pub fn default_port(self) -> Option<u16> {
        Some(match self {
            ServiceKind::Postgres => 5432,
            ServiceKind::Mysql => 3306,
            ServiceKind::Sqlserver => 1433,
            ServiceKind::Oracle => 1521,
            ServiceKind::Redis => 6379,
            ServiceKind::Memcached => 11211,
            ServiceKind::Mongodb => 27017,
            ServiceKind::Kubernetes | ServiceKind::Opensearch => 443,
            ServiceKind::Kafka => 9092,
            ServiceKind::Mq => 5671,
            ServiceKind::Other => return None,
        })
    }

    /// How to call it in a sentence (`PostgreSQL`, `Redis`, `Kubernetes API`).
    pub fn label(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "PostgreSQL",
            ServiceKind::Mysql => "MySQL",
            ServiceKind::Sqlserver => "SQL Server",
            ServiceKind::Oracle => "Oracle",
            ServiceKind::Redis => "Redis",
            ServiceKind::Memcached => "Memcached",
            ServiceKind::Mongodb => "MongoDB",
            ServiceKind::Kubernetes => "Kubernetes API",
            ServiceKind::Opensearch => "OpenSearch",
            ServiceKind::Kafka => "Kafka",
            ServiceKind::Mq => "message broker",
            ServiceKind::Other => "service",
        }
    }
}

/// What a managed service offers: its kind, engine, the name clients connect to and its ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedService {
    /// Kind.
    pub kind: ServiceKind,
    /// The provider's engine name (`aurora-postgresql`, `redis`, `MYSQL_8_0`…).
    #[serde(default)]
    pub engine: Option<String>,
    /// Engine version.
    #[serde(default)]
    pub version: Option<String>,
    /// The DNS name clients connect to (an RDS endpoint address, a private host name).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Ports it answers on, main port first.
    #[serde(default)]
    pub ports: Vec<u16>,
}

impl ManagedService {
    /// A service of `kind` from its engine name, with its default port when `port` is `None`.
    pub fn of_engine(
        engine: Option<&str>,
        version: Option<String>,
        endpoint: Option<String>,
        port: Option<u16>,
    ) -> ManagedService {
        let kind = engine.map(ServiceKind::from_engine).unwrap_or_default();
        ManagedService {
            kind,
            engine: engine.map(str::to_string),
            version,
            endpoint,
            ports: port.or(kind.default_port()).into_iter().collect(),
        }
    }

    /// The main port.
    pub fn port(&self) -> Option<u16> {
        self.ports.first().copied()
    }

    /// What it is in words: the kind and version (`PostgreSQL 15`).
    pub fn what(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.kind.label()),
            None => self.kind.label().to_owned(),
        }
    }
}

/// The tag of a host that stands for a group of machines whose addresses the source does not
/// hold (an auto scaling group, a node group, a Beanstalk environment); its value says what
/// kind of group.
pub const GROUP_TAG: &str = "gatehouse:group";

/// The tags of a host that stands for a group of machines of kind `what` ([`GROUP_TAG`]).
pub fn group_tags(what: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(GROUP_TAG.to_string(), what.to_string())])
}

impl Host {
    /// Whether it stands for a group of machines ([`GROUP_TAG`]).
    pub fn is_group(&self) -> bool {
        self.tags.contains_key(GROUP_TAG)
    }

    /// The primary private address.
    pub fn primary_ip(&self) -> Option<IpAddr> {
        self.private_ips.first().copied()
    }

    /// Whether the provider says it is not running (stopped, terminated, off…).
    pub fn is_stopped(&self) -> bool {
        matches!(
            self.state
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some(
                "stopped"
                    | "stopping"
                    | "terminated"
                    | "shutting-down"
                    | "off"
                    | "archive"
                    | "terminating"
                    | "suspended"
            )
        )
    }
}

/// A listener of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// Port it listens on.
    pub port: u16,
    /// Protocol (`http`, `https`, `tcp`…).
    pub protocol: String,
    /// Port on the targets, when it is fixed here (DigitalOcean).
    #[serde(default)]
    pub target_port: Option<u16>,
    /// Target group it forwards to (AWS).
    #[serde(default)]
    pub target_group: Option<String>,
}

/// A load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// Provider id (an ARN on AWS).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// The VPC it is in.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Subnets it has nodes in.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// Internal (private) or internet-facing. `None` when unknown.
    #[serde(default)]
    pub internal: Option<bool>,
    /// Kind (`application`, `network`, `REGIONAL`…).
    #[serde(default)]
    pub kind: Option<String>,
    /// Address, when it has a fixed one.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// DNS name.
    #[serde(default)]
    pub dns_name: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Listeners.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Hosts it forwards to directly (DigitalOcean droplet ids).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Tag whose hosts it forwards to (DigitalOcean `droplet_tag`).
    #[serde(default)]
    pub target_tag: Option<String>,
    /// Security groups.
    #[serde(default)]
    pub security_groups: Vec<String>,
}

/// An AWS target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroup {
    /// ARN.
    pub id: String,
    /// Name.
    pub name: String,
    /// The VPC it is in.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Port on the targets.
    #[serde(default)]
    pub port: Option<u16>,
    /// Protocol.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Registered targets (instance ids or IPs).
    #[serde(default)]
    pub targets: Vec<String>,
}

/// What kind of gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// Internet gateway.
    Internet,
    /// NAT gateway.
    Nat,
    /// Virtual private gateway / VPN gateway / VPN host.
    Vpn,
    /// Transit gateway: a hub VPCs and VPNs attach to, with route tables of its own.
    Transit,
}

/// One attachment of a transit gateway: a VPC (in some of its subnets), a VPN, a peering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Provider id (`tgw-attach-…`).
    pub id: String,
    /// The VPC attached, for a VPC attachment.
    #[serde(default)]
    pub vpc: Option<String>,
    /// The subnets the attachment has interfaces in.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// The gateway route table it is associated with (`None`: the gateway's default table).
    #[serde(default)]
    pub route_table: Option<String>,
    /// Kind of resource attached (`vpc`, `vpn`, `peering`…).
    #[serde(default)]
    pub kind: Option<String>,
}

/// A gateway of a VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gateway {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: GatewayKind,
    /// The VPC it serves.
    #[serde(default)]
    pub vpc: Option<String>,
    /// The subnet it sits in (NAT gateways).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Private address.
    #[serde(default)]
    pub private_ip: Option<IpAddr>,
    /// Public address.
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// What is attached to it (transit gateways).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RouteTarget {
    /// Inside the VPC.
    Local,
    /// An internet or virtual private gateway.
    Gateway(String),
    /// A NAT gateway.
    Nat(String),
    /// An instance (a VPN or NAT host).
    Instance(String),
    /// A network interface (of a VPN or NAT host).
    Interface(String),
    /// A VPC peering.
    Peering(String),
    /// A transit gateway (from a VPC's route table).
    TransitGateway(String),
    /// A transit gateway attachment (from a transit gateway's route table).
    Attachment(String),
    /// Dropped (a blackhole route).
    Blackhole,
    /// Anything else (endpoint, carrier gateway…), by id.
    Other(String),
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix.
    pub destination: IpNet,
    /// Where it goes.
    pub target: RouteTarget,
}

/// A route table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The VPC it belongs to.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Whether it is the VPC's main table.
    #[serde(default)]
    pub main: bool,
    /// Routes (besides the implicit local route for the VPC's CIDRs).
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Subnets explicitly associated with it.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// The transit gateway it belongs to, for a transit gateway route table (then `vpc` is
    /// `None` and routes target attachments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

impl RouteTable {
    /// The most specific route for `ip` (longest prefix), if any.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.destination.contains(&ip))
            .max_by_key(|r| r.destination.prefix_len())
    }
}

/// What kind of rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallKind {
    /// AWS security group: stateful, allow only, applies to its members.
    SecurityGroup,
    /// DigitalOcean cloud firewall: allow only, applies to droplets and tags.
    Digitalocean,
    /// GCP VPC firewall rule: allow or deny with priorities, applies by network and target tags.
    Gcp,
    /// AWS network ACL: stateless, numbered allow/deny rules (first match by `priority`, the
    /// rule number), applies to subnets ([`AppliesTo::Subnets`]) in both directions.
    NetworkAcl,
    /// Azure network security group: stateful, allow/deny by priority (lowest first) including
    /// the default rules, applies to subnets and to network interfaces (hosts list it in their
    /// `security_groups`).
    Nsg,
}

/// Which hosts a firewall applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum AppliesTo {
    /// Hosts that list it in their `security_groups`.
    Membership,
    /// These hosts and the hosts with these labels.
    Hosts {
        /// Host ids.
        #[serde(default)]
        ids: Vec<String>,
        /// Labels.
        #[serde(default)]
        labels: Vec<String>,
    },
    /// Hosts of the firewall's VPC with any of these labels (every host when empty).
    Network {
        /// Target labels.
        #[serde(default)]
        target_labels: Vec<String>,
    },
    /// Hosts in these subnets (network ACLs; Azure NSGs associated with subnets).
    Subnets {
        /// Subnet ids.
        #[serde(default)]
        ids: Vec<String>,
    },
}

/// Direction of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Traffic to the host.
    Ingress,
    /// Traffic from the host.
    Egress,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Admit matching traffic.
    Allow,
    /// Drop matching traffic (GCP).
    Deny,
}

/// IP protocol of a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Every protocol.
    All,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (v4 or v6).
    Icmp,
    /// Another protocol, by name or number.
    Other(String),
}

impl Protocol {
    /// Reads the spellings providers use: `-1`, `all`, `tcp`, `6`, `icmpv6`….
    pub fn parse(s: &str) -> Protocol {
        match s.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" | "" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" | "icmpv6" | "58" => Protocol::Icmp,
            other => Protocol::Other(other.to_string()),
        }
    }

    /// Whether a rule with this protocol matches traffic of protocol `p`.
    pub fn matches(&self, p: &Protocol) -> bool {
        matches!(self, Protocol::All) || self == p
    }

    /// Whether ports mean anything for this protocol.
    pub fn has_ports(&self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub from: u16,
    /// Last port.
    pub to: u16,
}

impl PortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }

    /// Reads `22`, `1000-2000`, `all`/`` (every port → `None`).
    pub fn parse(s: &str) -> Result<Option<PortRange>, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("all") {
            return Ok(None);
        }
        let bad = || format!("bad port range {s:?}");
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s, s),
        };
        let from: u16 = a.parse().map_err(|_| bad())?;
        let to: u16 = b.parse().map_err(|_| bad())?;
        if from > to {
            return Err(bad());
        }
        if from == 0 && to == 65535 {
            return Ok(None);
        }
        Ok(Some(PortRange { from, to }))
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// Who a rule admits (ingress: the source; egress: the destination).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Peer {
    /// An address range.
    Cidr(IpNet),
    /// Members of a security group (by id or name).
    Group(String),
    /// Members of the rule's own security group.
    SelfGroup,
    /// Hosts with this label.
    Label(String),
    /// A host, by id.
    Host(String),
    /// A load balancer, by id.
    LoadBalancer(String),
    /// A provider's named address group (Azure service tags: `VirtualNetwork`, `Internet`,
    /// `AzureLoadBalancer`…).
    ServiceTag(String),
}

/// One rule of a firewall.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// Ingress or egress.
    pub direction: Direction,
    /// Allow or deny.
    pub action: Action,
    /// Priority: lower wins (GCP); 0 where there is no ordering.
    #[serde(default)]
    pub priority: u32,
    /// Protocol.
    pub protocol: Protocol,
    /// Ports (`None`: every port).
    #[serde(default)]
    pub ports: Option<PortRange>,
    /// Who it matches; empty matches nobody.
    #[serde(default)]
    pub peers: Vec<Peer>,
    /// Which of the firewall's hosts it is about (Azure NSG destination prefixes of an inbound
    /// rule, source prefixes of an outbound one); empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Peer>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

impl Rule {
    /// Whether this rule's protocol and ports cover `proto`/`port`.
    pub fn covers(&self, proto: &Protocol, port: Option<u16>) -> bool {
        if !self.protocol.matches(proto) {
            return false;
        }
        match (self.ports, port) {
            (None, _) => true,
            (Some(_), None) => !proto.has_ports(),
            (Some(r), Some(p)) => !self.protocol.has_ports() || r.contains(p),
        }
    }
}

/// A security group or firewall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firewall {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: FirewallKind,
    /// The VPC it belongs to.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Which hosts it applies to.
    pub applies_to: AppliesTo,
    /// Rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A peering between two VPCs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peering {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Requester VPC.
    pub vpc: String,
    /// Accepter VPC.
    pub peer_vpc: String,
    /// Status, when known.
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(
            PortRange::parse("22"),
            Ok(Some(PortRange { from: 22, to: 22 }))
        );
        assert_eq!(
            PortRange::parse(" 1000-2000 "),
            Ok(Some(PortRange {
                from: 1000,
                to: 2000
            }))
        );
        assert_eq!(PortRange::parse(""), Ok(None));
        assert_eq!(PortRange::parse("all"), Ok(None));
        assert_eq!(PortRange::parse("0-65535"), Ok(None));
        assert!(PortRange::parse("9-1").is_err());
        assert!(PortRange::parse("x").is_err());
        assert!(PortRange::parse("70000").is_err());
    }

    #[test]
    fn protocols() {
        assert_eq!(Protocol::parse("-1"), Protocol::All);
        assert_eq!(Protocol::parse("TCP"), Protocol::Tcp);
        assert_eq!(Protocol::parse("6"), Protocol::Tcp);
        assert_eq!(Protocol::parse("esp"), Protocol::Other("esp".into()));
        assert!(Protocol::All.matches(&Protocol::Udp));
        assert!(!Protocol::Tcp.matches(&Protocol::Udp));
    }

    #[test]
    fn rule_covers_ports() {
        let r = Rule {
            direction: Direction::Ingress,
            action: Action::Allow,
            priority: 0,
            protocol: Protocol::Tcp,
            ports: Some(PortRange { from: 80, to: 81 }),
            peers: vec![],
            description: None,
            targets: Vec::new(),
        };
        assert!(r.covers(&Protocol::Tcp, Some(80)));
        assert!(!r.covers(&Protocol::Tcp, Some(82)));
        assert!(!r.covers(&Protocol::Udp, Some(80)));
    }

    #[test]
    fn route_lookup_longest_prefix() {
        let t = RouteTable {
            id: "rtb".into(),
            name: "rtb".into(),
            vpc: None,
            main: true,
            routes: vec![
                Route {
                    destination: "0.0.0.0/0".parse().unwrap(),
                    target: RouteTarget::Gateway("igw".into()),
                },
                Route {
                    destination: "10.8.0.0/24".parse().unwrap(),
                    target: RouteTarget::Instance("i-vpn".into()),
                },
            ],
            subnets: vec![],
            gateway: None,
        };
        let r = t.lookup("10.8.0.2".parse().unwrap()).unwrap();
        assert_eq!(r.target, RouteTarget::Instance("i-vpn".into()));
        let r = t.lookup("1.1.1.1".parse().unwrap()).unwrap();
        assert_eq!(r.target, RouteTarget::Gateway("igw".into()));
    }

    #[test]
    fn json_round_trip() {
        let mut t = Topology::default();
        t.firewalls.push(Firewall {
            id: "sg-1".into(),
            name: "web".into(),
            kind: FirewallKind::SecurityGroup,
            vpc: Some("vpc-1".into()),
            applies_to: AppliesTo::Membership,
            rules: vec![Rule {
                direction: Direction::Ingress,
                action: Action::Allow,
                priority: 0,
                protocol: Protocol::Other("esp".into()),
                ports: None,
                peers: vec![Peer::Cidr("10.0.0.0/8".parse().unwrap()), Peer::SelfGroup],
                description: None,
                targets: Vec::new(),
            }],
        });
        let s = serde_json::to_string(&t).unwrap();
        let back: Topology = serde_json::from_str(&s).unwrap();
        assert_eq!(back, t);
    }
}
