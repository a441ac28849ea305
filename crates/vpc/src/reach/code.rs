//! The explanation codes of reachability findings.

use serde::{Deserialize, Serialize};

/// Explanation codes, one per kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// No profile was given: the tunnel step is not checked.
    NoProfile,
    /// A peer's AllowedIPs carry the address.
    TunnelPeer,
    /// No peer's AllowedIPs include the address.
    TunnelNoPeer,
    /// A local route (home LAN…) is more specific than the tunnel's and takes the traffic.
    TunnelShadowed,
    /// The tunnel carries only some of the subnets a managed service without a known address
    /// may answer in.
    TunnelPartial,
    /// The name or address is not in the topology.
    HostNotFound,
    /// The host has no private address in the topology.
    NoAddress,
    /// A managed service without a known address is checked as anywhere in its subnets.
    AddressBySubnet,
    /// The provider says the host is not running.
    HostStopped,
    /// The VPN host could not be identified.
    VpnHostUnknown,
    /// The target is the VPN host itself: no forwarding needed.
    VpnHostItself,
    /// The VPN host NATs: traffic arrives from its address and replies come back to it.
    VpnNat,
    /// The subnet's route table returns the tunnel's addresses through the VPN host.
    ReturnRoute,
    /// The subnet has no explicit route table association: the VPC's main table applies.
    MainTableFallback,
    /// The route table sends replies for the tunnel's addresses elsewhere (or nowhere).
    NoReturnRoute,
    /// No route table is known for the subnet, or the provider has none in the model.
    ReturnPathUnknown,
    /// The VPN host forwards without NAT but drops forwarded packets (source/dest check on).
    SourceDestCheck,
    /// The target is in another VPC than the VPN host, with no peering.
    OtherVpc,
    /// The target is in another VPC reached through a peering (routes both ways, or route
    /// tables unknown).
    Peered,
    /// A peering connects the VPCs but the VPN host's route table does not send the target's
    /// address into it.
    PeeringNoRoute,
    /// A transit gateway carries the traffic to the target's VPC and the replies back.
    TransitGateway,
    /// A transit gateway route table lacks the route (or blackholes it) in one direction.
    TransitNoRoute,
    /// The transit gateway, its route tables or attachments are not in the topology.
    TransitUnknown,
    /// A route sends the traffic to a virtual private gateway (a site-to-site VPN).
    VpnGateway,
    /// A route sends the traffic somewhere reachability does not follow (an endpoint, a
    /// carrier gateway…).
    RouteNotFollowed,
    /// The network ACLs on the way admit the traffic and its replies.
    NaclAdmits,
    /// The target subnet's network ACL does not admit the traffic in.
    NaclDeniesIn,
    /// The target subnet's network ACL does not let the replies out on the ephemeral ports.
    NaclDeniesReply,
    /// The VPN host subnet's network ACL does not let the traffic out.
    NaclDeniesOut,
    /// The VPN host subnet's network ACL does not let the replies back in.
    NaclDeniesReplyIn,
    /// A rule admits the traffic.
    RuleAdmits,
    /// No rule of the host's security groups / firewalls admits the traffic.
    NoRuleAdmits,
    /// A deny rule (GCP) matches first.
    RuleDenies,
    /// The Azure network security groups on the way admit the traffic.
    NsgAdmits,
    /// An Azure network security group rule denies the traffic.
    NsgDenies,
    /// No rule of an Azure network security group admits the traffic before its default
    /// DenyAllInBound / DenyAllOutBound rule (65500).
    NsgDefaultDeny,
    /// No firewall applies to the host and the provider admits by default (DigitalOcean).
    NoFirewall,
    /// No firewall rule matches and the provider denies by default (GCP implied deny).
    ImpliedDeny,
    /// A security group the host is in is not in the topology.
    FirewallUnknown,
    /// The VPN host's own egress rules do not let the forwarded traffic out.
    EgressBlocked,
    /// The last probe got an answer.
    ProbeOpen,
    /// The last probe got no answer.
    ProbeClosed,
}

impl Code {
    /// Every code, for listings and documentation.
    pub const ALL: [Code; 42] = [
        Code::NoProfile,
        Code::TunnelPeer,
        Code::TunnelNoPeer,
        Code::TunnelShadowed,
        Code::TunnelPartial,
        Code::HostNotFound,
        Code::NoAddress,
        Code::AddressBySubnet,
        Code::HostStopped,
        Code::VpnHostUnknown,
        Code::VpnHostItself,
        Code::VpnNat,
        Code::ReturnRoute,
        Code::MainTableFallback,
        Code::NoReturnRoute,
        Code::ReturnPathUnknown,
        Code::SourceDestCheck,
        Code::OtherVpc,
        Code::Peered,
        Code::PeeringNoRoute,
        Code::TransitGateway,
        Code::TransitNoRoute,
        Code::TransitUnknown,
        Code::VpnGateway,
        Code::RouteNotFollowed,
        Code::NaclAdmits,
        Code::NaclDeniesIn,
        Code::NaclDeniesReply,
        Code::NaclDeniesOut,
        Code::NaclDeniesReplyIn,
        Code::RuleAdmits,
        Code::NoRuleAdmits,
        Code::RuleDenies,
        Code::NsgAdmits,
        Code::NsgDenies,
        Code::NsgDefaultDeny,
        Code::NoFirewall,
        Code::ImpliedDeny,
        Code::FirewallUnknown,
        Code::EgressBlocked,
        Code::ProbeOpen,
        Code::ProbeClosed,
    ];

    /// The code as it appears in JSON (`tunnel-shadowed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Code::NoProfile => "no-profile",
            Code::TunnelPeer => "tunnel-peer",
            Code::TunnelNoPeer => "tunnel-no-peer",
            Code::TunnelShadowed => "tunnel-shadowed",
            Code::TunnelPartial => "tunnel-partial",
            Code::HostNotFound => "host-not-found",
            Code::NoAddress => "no-address",
            Code::AddressBySubnet => "address-by-subnet",
            Code::HostStopped => "host-stopped",
            Code::VpnHostUnknown => "vpn-host-unknown",
            Code::VpnHostItself => "vpn-host-itself",
            Code::VpnNat => "vpn-nat",
            Code::ReturnRoute => "return-route",
            Code::MainTableFallback => "main-table-fallback",
            Code::NoReturnRoute => "no-return-route",
            Code::ReturnPathUnknown => "return-path-unknown",
            Code::SourceDestCheck => "source-dest-check",
            Code::OtherVpc => "other-vpc",
            Code::Peered => "peered",
            Code::PeeringNoRoute => "peering-no-route",
            Code::TransitGateway => "transit-gateway",
            Code::TransitNoRoute => "transit-no-route",
            Code::TransitUnknown => "transit-unknown",
            Code::VpnGateway => "vpn-gateway",
            Code::RouteNotFollowed => "route-not-followed",
            Code::NaclAdmits => "nacl-admits",
            Code::NaclDeniesIn => "nacl-denies-in",
            Code::NaclDeniesReply => "nacl-denies-reply",
            Code::NaclDeniesOut => "nacl-denies-out",
            Code::NaclDeniesReplyIn => "nacl-denies-reply-in",
            Code::RuleAdmits => "rule-admits",
            Code::NoRuleAdmits => "no-rule-admits",
            Code::RuleDenies => "rule-denies",
            Code::NsgAdmits => "nsg-admits",
            Code::NsgDenies => "nsg-denies",
            Code::NsgDefaultDeny => "nsg-default-deny",
            Code::NoFirewall => "no-firewall",
            Code::ImpliedDeny => "implied-deny",
            Code::FirewallUnknown => "firewall-unknown",
            Code::EgressBlocked => "egress-blocked",
            Code::ProbeOpen => "probe-open",
            Code::ProbeClosed => "probe-closed",
        }
    }
}

/// The step of the way from the laptop to a host that a finding is about, in path order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// The tunnel: does the profile carry the address?
    Tunnel,
    /// The VPN host or gateway the tunnel ends on, and how it forwards.
    VpnHost,
    /// Route tables, peerings and transit gateways, both ways.
    Route,
    /// The subnet's network ACL.
    NetworkAcl,
    /// The host's security groups, firewall or NSG.
    SecurityGroup,
    /// The host and port themselves (its address, its state, the last probe).
    Host,
}

impl Hop {
    /// Every hop, in path order.
    pub const ALL: [Hop; 6] = [
        Hop::Tunnel,
        Hop::VpnHost,
        Hop::Route,
        Hop::NetworkAcl,
        Hop::SecurityGroup,
        Hop::Host,
    ];

    /// The hop as it appears in JSON (`security_group`).
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Tunnel => "tunnel",
            Hop::VpnHost => "vpn_host",
            Hop::Route => "route",
            Hop::NetworkAcl => "network_acl",
            Hop::SecurityGroup => "security_group",
            Hop::Host => "host",
        }
    }
}

impl Code {
    /// The hop of the path this code is about.
    pub fn hop(self) -> Hop {
        use Code::*;
        match self {
            NoProfile | TunnelPeer | TunnelNoPeer | TunnelShadowed | TunnelPartial => Hop::Tunnel,
            VpnHostUnknown | VpnHostItself | VpnNat | SourceDestCheck => Hop::VpnHost,
            ReturnRoute | MainTableFallback | NoReturnRoute | ReturnPathUnknown | OtherVpc
            | Peered | PeeringNoRoute | TransitGateway | TransitNoRoute | TransitUnknown
            | VpnGateway | RouteNotFollowed => Hop::Route,
            NaclAdmits | NaclDeniesIn | NaclDeniesReply | NaclDeniesOut | NaclDeniesReplyIn => {
                Hop::NetworkAcl
            }
            RuleAdmits | NoRuleAdmits | RuleDenies | NsgAdmits | NsgDenies | NsgDefaultDeny
            | NoFirewall | ImpliedDeny | FirewallUnknown | EgressBlocked => Hop::SecurityGroup,
            HostNotFound | NoAddress | AddressBySubnet | HostStopped | ProbeOpen | ProbeClosed => {
                Hop::Host
            }
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
