//! The Gatehouse demo lab: a userspace WireGuard gateway in the same process, with virtual
//! private hosts behind it and the matching VPC topology, so a new user sees the whole product
//! with no VPN of their own.
//!
//! ```text
//! Lab::start(LabOptions)      UDP socket (127.0.0.1:ephemeral by default), fresh keys
//! lab.profile()               the client profile: Address 10.100.0.2/32, DNS 10.20.2.53,
//!                             AllowedIPs 10.20.0.0/16 + 192.168.1.0/24, Endpoint = the socket
//! lab.stats()                 handshakes, delivered / blocked packets, connections
//! TOPOLOGY_TFSTATE            the VPC as Terraform state v4 (what the VPC importer reads)
//! ```
//!
//! Inside, one thread runs the tunnel core (responder, one peer: the client), a firewall that
//! applies the VPC's security groups ([`rules`]), and one smoltcp interface in any-IP mode on a
//! [`gatehouse_netstack::PacketDevice`] where every host's services listen ([`hosts`]). Packets
//! the interface sends to the VPN pool go into the tunnel; packets to another lab host (the load
//! balancer's connections to the web servers) loop back through the firewall.
//!
//! The address plan, the services and the rules are in [`plan`]; the protocol servers
//! ([`http`], [`resp`], [`pg`], [`dns`], [`ssh`], [`mysql`], and HTTPS through rustls in [`tls`])
//! are sans-IO and never panic on hostile input.

pub mod dns;
mod gateway;
pub mod hosts;
pub mod http;
pub mod icmp;
pub mod mysql;
pub mod pg;
pub mod plan;
pub mod resp;
pub mod rules;
pub mod ssh;
pub mod tls;
pub mod topology;

pub use gateway::{client_profile, Lab, LabError, LabOptions, LabStats};
pub use topology::TOPOLOGY_TFSTATE;
