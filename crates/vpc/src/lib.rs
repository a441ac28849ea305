//! VPC topology for Gatehouse: what is on the other side of the tunnel, and why it answers or not.
//!
//! * [`model`]: the provider-neutral [`Topology`] (VPCs, subnets, hosts, load balancers, gateways,
//!   route tables, firewalls/security groups, peerings), serde-friendly (JSON for `--json` and
//!   snapshots).
//! * [`tfstate`]: imports Terraform state v4 files and `terraform show -json` output, streaming,
//!   with `line:column` errors.
//! * [`reach`]: reachability of a host and port from the active profile, with explanation codes
//!   and one plain sentence per verdict.
//! * [`aws`]: the AWS API importer (EC2 and ELBv2, NextToken paging; sans-IO).
//! * [`digitalocean`]: the DigitalOcean API importer (paging, 429/5xx retries; sans-IO).
//! * [`layout`]: a deterministic nested layout (region → VPC → subnet → hosts) for the UI.
//! * [`snapshot`]: timestamped snapshots and the diff of two of them.
//! * [`store`]: the last good snapshot of each live source, saved atomically.
//! * [`synth`]: synthetic states for tests and benchmarks.
//!
//! This crate depends on nothing else of Gatehouse: the caller hands it plain addresses and
//! prefixes (the tunnel's addresses, the peers' AllowedIPs, the host's local routes).

pub mod aws;
pub mod digitalocean;
pub mod layout;
pub mod model;
pub mod probe;
pub mod reach;
pub mod snapshot;
pub mod store;
pub mod synth;
pub mod tfstate;

pub use model::Topology;
