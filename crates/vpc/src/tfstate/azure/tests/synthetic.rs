//! Small hand-written states: standalone rules and routes, associations, resource order,
//! hostile values, data sources.

use super::*;

/// A VNet with two subnets (one only inline), an NSG with a standalone rule and subnet and NIC
/// associations, a VM whose NIC comes after it, and a route table.
fn network() -> Vec<String> {
    let vnet = format!("{SUB}/virtualNetworks/vnet1");
    vec![
        res(
            "azurerm_linux_virtual_machine",
            &format!(
                r#"{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/nva","name":"nva","location":"westeurope",
                "network_interface_ids":["{SUB}/networkInterfaces/NIC1"]}}"#
            ),
        ),
        res(
            "azurerm_virtual_network",
            &format!(
                r#"{{"id":"{vnet}","name":"vnet1","location":"westeurope","address_space":["10.1.0.0/16"],
                "subnet":[{{"id":"{vnet}/subnets/a","name":"a","address_prefix":"10.1.1.0/24","security_group":""}},
                          {{"id":"{vnet}/subnets/b","name":"b","address_prefix":"10.1.2.0/24","security_group":"{SUB}/networkSecurityGroups/nsg1"}}]}}"#
            ),
        ),
        // Lower-case resource group in the id: matched by VNet name and resource group.
        res(
            "azurerm_subnet",
            r#"{"id":"/subscriptions/s/resourcegroups/RG/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/a","name":"a",
                "resource_group_name":"rg","virtual_network_name":"vnet1","address_prefixes":["10.1.1.0/24"]}"#,
        ),
        res(
            "azurerm_network_security_group",
            &format!(
                r#"{{"id":"{SUB}/networkSecurityGroups/nsg1","name":"nsg1","security_rule":[]}}"#
            ),
        ),
        res(
            "azurerm_network_security_rule",
            r#"{"id":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/other/securityRules/web",
                "name":"web","network_security_group_name":"nsg1","resource_group_name":"rg","priority":200,"direction":"Inbound",
                "access":"Deny","protocol":"Tcp","source_port_range":"*","destination_port_range":"","destination_port_ranges":["80","8000-8080"],
                "source_address_prefix":"","source_address_prefixes":["Internet","192.0.2.0/24"],"destination_address_prefix":"10.1.1.0/24"}"#,
        ),
        res(
            "azurerm_network_security_rule",
            &format!(
                r#"{{"id":"{SUB}/networkSecurityGroups/NSG1/securityRules/out","name":"out","priority":300,"direction":"Outbound",
                "access":"Allow","protocol":"Udp","destination_port_range":"53","source_address_prefix":"*","destination_address_prefix":"168.63.129.16"}}"#
            ),
        ),
        res(
            "azurerm_subnet_network_security_group_association",
            &format!(
                r#"{{"subnet_id":"{vnet}/subnets/A","network_security_group_id":"{SUB}/networkSecurityGroups/nsg1"}}"#
            ),
        ),
        res(
            "azurerm_network_interface_security_group_association",
            &format!(
                r#"{{"network_interface_id":"{SUB}/networkInterfaces/nic1","network_security_group_id":"{SUB}/networkSecurityGroups/nsg1"}}"#
            ),
        ),
        res(
            "azurerm_network_interface",
            &format!(
                r#"{{"id":"{SUB}/networkInterfaces/nic1","ip_forwarding_enabled":true,"ip_configuration":[
                {{"name":"second","primary":false,"private_ip_address":"10.1.2.5","subnet_id":"{vnet}/subnets/b"}},
                {{"name":"main","primary":true,"private_ip_address":"10.1.1.4","subnet_id":"{vnet}/subnets/a","public_ip_address_id":"{SUB}/publicIPAddresses/pip"}}]}}"#
            ),
        ),
        res(
            "azurerm_public_ip",
            &format!(r#"{{"id":"{SUB}/publicIPAddresses/pip","ip_address":"203.0.113.9"}}"#),
        ),
        res(
            "azurerm_route_table",
            &format!(
                r#"{{"id":"{SUB}/routeTables/rt","name":"rt","subnets":["{vnet}/subnets/a"],"route":[
                {{"name":"default","address_prefix":"0.0.0.0/0","next_hop_type":"VirtualAppliance","next_hop_in_ip_address":"10.1.1.4"}},
                {{"name":"local","address_prefix":"10.1.0.0/16","next_hop_type":"VnetLocal","next_hop_in_ip_address":""}}]}}"#
            ),
        ),
        res(
            "azurerm_route",
            r#"{"name":"onprem","route_table_name":"rt","resource_group_name":"rg","address_prefix":"192.168.0.0/16","next_hop_type":"VirtualNetworkGateway"}"#,
        ),
        res(
            "azurerm_route",
            &format!(
                r#"{{"id":"{SUB}/routeTables/rt/routes/web","address_prefix":"198.51.100.0/24","next_hop_type":"Internet"}}"#
            ),
        ),
        res(
            "azurerm_route",
            &format!(
                r#"{{"id":"{SUB}/routeTables/rt/routes/drop","address_prefix":"100.64.0.0/10","next_hop_type":"None"}}"#
            ),
        ),
        res(
            "azurerm_route",
            &format!(
                r#"{{"id":"{SUB}/routeTables/rt/routes/fw","address_prefix":"172.16.0.0/12","next_hop_type":"VirtualAppliance","next_hop_in_ip_address":"10.9.9.9"}}"#
            ),
        ),
        res(
            "azurerm_subnet_route_table_association",
            &format!(
                r#"{{"subnet_id":"{vnet}/subnets/b","route_table_id":"{SUB}/routeTables/RT"}}"#
            ),
        ),
        res(
            "azurerm_virtual_network_gateway",
            &format!(
                r#"{{"id":"{SUB}/virtualNetworkGateways/gw","name":"gw","ip_configuration":[{{"subnet_id":"{vnet}/subnets/GatewaySubnet"}}]}}"#
            ),
        ),
    ]
}

#[test]
fn standalone_rules_associations_and_routes() {
    let (t, r) = import(&network());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let vnet = format!("{SUB}/virtualNetworks/vnet1");
    let a = "/subscriptions/s/resourcegroups/RG/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/a";
    let b = format!("{vnet}/subnets/b");
    // The standalone subnet replaces the inline one (ids compared ignoring case); b stays inline.
    assert_eq!(t.subnets.len(), 2);
    assert_eq!(t.subnet(a).unwrap().vpc.as_deref(), Some(&*vnet));
    assert_eq!(
        t.subnet(&b).unwrap().cidr,
        Some("10.1.2.0/24".parse().unwrap())
    );

    let h = t.find_host("nva").unwrap();
    assert_eq!(h.private_ips, vec![ip("10.1.1.4"), ip("10.1.2.5")]);
    assert_eq!(h.subnet.as_deref(), Some(a));
    assert_eq!(h.subnets, vec![a.to_string(), b.clone()]);
    assert_eq!(h.public_ip, Some(ip("203.0.113.9")));
    assert_eq!(h.source_dest_check, Some(false));
    assert_eq!(h.interfaces, vec![format!("{SUB}/networkInterfaces/nic1")]);
    let nsg_id = format!("{SUB}/networkSecurityGroups/nsg1");
    assert_eq!(h.security_groups, vec![nsg_id.clone()]);

    let f = t.firewall(&nsg_id).unwrap();
    assert_eq!(f.vpc.as_deref(), Some(&*vnet));
    assert_eq!(
        f.applies_to,
        AppliesTo::Subnets {
            ids: vec![b.clone(), a.to_string()]
        }
    );
    // Two port ranges: two rules; then the outbound one; then the six defaults.
    assert_eq!(f.rules.len(), 9);
    let web: Vec<&Rule> = f
        .rules
        .iter()
        .filter(|r| r.description.as_deref() == Some("web"))
        .collect();
    assert_eq!(web.len(), 2);
    assert_eq!(web[0].action, Action::Deny);
    assert_eq!(web[0].ports, Some(PortRange { from: 80, to: 80 }));
    assert_eq!(
        web[1].ports,
        Some(PortRange {
            from: 8000,
            to: 8080
        })
    );
    assert_eq!(web[0].peers, vec![tag("Internet"), cidr("192.0.2.0/24")]);
    assert_eq!(web[0].targets, vec![cidr("10.1.1.0/24")]);
    let out = rule(f, "out");
    assert_eq!(
        (out.direction, out.protocol.clone()),
        (Direction::Egress, Protocol::Udp)
    );
    assert_eq!(out.peers, vec![cidr("168.63.129.16/32")]);
    assert!(out.targets.is_empty());

    let rt = &t.route_tables[0];
    assert_eq!(rt.vpc.as_deref(), Some(&*vnet));
    assert_eq!(rt.subnets, vec![a.to_string(), b.clone()]);
    assert!(!rt.main);
    let target = |dest: &str| {
        let d = dest.parse().unwrap();
        rt.routes
            .iter()
            .find(|r| r.destination == d)
            .map(|r| r.target.clone())
            .unwrap()
    };
    assert_eq!(target("0.0.0.0/0"), RouteTarget::Instance(h.id.clone()));
    assert_eq!(target("10.1.0.0/16"), RouteTarget::Local);
    assert_eq!(
        target("192.168.0.0/16"),
        RouteTarget::Gateway(format!("{SUB}/virtualNetworkGateways/gw"))
    );
    assert_eq!(
        target("198.51.100.0/24"),
        RouteTarget::Gateway("Internet".into())
    );
    assert_eq!(target("100.64.0.0/10"), RouteTarget::Blackhole);
    assert_eq!(
        target("172.16.0.0/12"),
        RouteTarget::Other("10.9.9.9".into())
    );
    assert_eq!(
        t.route_table_for_subnet(&b).map(|(t, _)| t.id.as_str()),
        Some(rt.id.as_str())
    );
    assert_eq!(t.gateways[0].vpc.as_deref(), Some(&*vnet));
}

#[test]
fn resource_order_does_not_matter() {
    let mut rs = network();
    rs.reverse();
    let (t, r) = import(&rs);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let (forward, _) = import(&network());
    assert_eq!(t.hosts, forward.hosts);
    assert_eq!(t.firewalls[0].rules, forward.firewalls[0].rules);
    assert_eq!(t.route_tables[0].routes.len(), 6);
}

#[test]
fn load_balancer_peering_and_services() {
    let vnet = format!("{SUB}/virtualNetworks/vnet1");
    let (t, r) = import(&[
        res(
            "azurerm_virtual_network",
            &format!(r#"{{"id":"{vnet}","name":"vnet1","address_space":["10.1.0.0/16"]}}"#),
        ),
        res(
            "azurerm_subnet",
            &format!(
                r#"{{"id":"{vnet}/subnets/a","name":"a","address_prefixes":["10.1.1.0/24"]}}"#
            ),
        ),
        res(
            "azurerm_lb",
            &format!(
                r#"{{"id":"{SUB}/loadBalancers/ilb","name":"ilb","frontend_ip_configuration":[{{"private_ip_address":"10.1.1.100","subnet_id":"{vnet}/subnets/a","public_ip_address_id":""}}]}}"#
            ),
        ),
        res(
            "azurerm_lb_rule",
            &format!(
                r#"{{"loadbalancer_id":"{SUB}/loadBalancers/ilb","protocol":"Tcp","frontend_port":443,"backend_port":8443}}"#
            ),
        ),
        res(
            "azurerm_network_interface_backend_address_pool_association",
            &format!(
                r#"{{"network_interface_id":"{SUB}/networkInterfaces/n","backend_address_pool_id":"{SUB}/loadBalancers/ilb/backendAddressPools/pool"}}"#
            ),
        ),
        res(
            "azurerm_network_interface",
            &format!(
                r#"{{"id":"{SUB}/networkInterfaces/n","ip_configuration":[{{"private_ip_address":"10.1.1.7","subnet_id":"{vnet}/subnets/a"}}]}}"#
            ),
        ),
        res(
            "azurerm_windows_virtual_machine",
            &format!(
                r#"{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/w","name":"w","network_interface_ids":["{SUB}/networkInterfaces/n"]}}"#
            ),
        ),
        res(
            "azurerm_virtual_network_peering",
            r#"{"id":"/p/peering1","name":"to-hub","virtual_network_name":"vnet1","resource_group_name":"rg","remote_virtual_network_id":"/subscriptions/s/resourceGroups/hub/providers/Microsoft.Network/virtualNetworks/hub"}"#,
        ),
        res(
            "azurerm_postgresql_flexible_server",
            &format!(
                r#"{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg","name":"pg","fqdn":"pg.postgres.database.azure.com","version":"16","delegated_subnet_id":"{vnet}/subnets/A"}}"#
            ),
        ),
        res(
            "azurerm_redis_cache",
            &format!(
                r#"{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/Redis/cache","name":"cache","hostname":"cache.redis.cache.windows.net","port":6379,"ssl_port":6380,"non_ssl_port_enabled":true,"subnet_id":"{vnet}/subnets/a","private_static_ip_address":"10.1.1.50"}}"#
            ),
        ),
        res(
            "azurerm_kubernetes_cluster",
            &format!(
                r#"{{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks","name":"aks","fqdn":"aks.hcp.westeurope.azmk8s.io","private_fqdn":"","kubernetes_version":"1.30","default_node_pool":[{{"vnet_subnet_id":"{vnet}/subnets/a"}}]}}"#
            ),
        ),
    ]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let lb = &t.load_balancers[0];
    assert_eq!((lb.ip, lb.internal), (Some(ip("10.1.1.100")), Some(true)));
    assert_eq!(lb.vpc.as_deref(), Some(&*vnet));
    assert_eq!(lb.listeners[0].port, 443);
    assert_eq!(lb.listeners[0].target_port, Some(8443));
    assert_eq!(
        lb.targets,
        vec![
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/w"
                .to_string()
        ]
    );
    let p = &t.peerings[0];
    assert_eq!(p.vpc, vnet);
    assert!(p.peer_vpc.ends_with("/hub"));

    let pg = t.find_host("pg.postgres.database.azure.com").unwrap();
    assert_eq!(pg.service.as_ref().unwrap().kind, ServiceKind::Postgres);
    assert_eq!(pg.service.as_ref().unwrap().port(), Some(5432));
    assert_eq!(pg.subnet.as_deref(), Some(&*format!("{vnet}/subnets/a")));
    assert_eq!(pg.vpc.as_deref(), Some(&*vnet));
    let redis = t.find_host("10.1.1.50").unwrap();
    assert_eq!(redis.service.as_ref().unwrap().ports, vec![6380, 6379]);
    let aks = t.find_host("aks").unwrap().service.as_ref().unwrap();
    assert_eq!(aks.kind, ServiceKind::Kubernetes);
    assert_eq!(
        aks.endpoint.as_deref(),
        Some("aks.hcp.westeurope.azmk8s.io")
    );
    assert_eq!(t.counts().services, 3);
}

#[test]
fn hostile_values_warn() {
    let (t, r) = import(&[
        res(
            "azurerm_virtual_network",
            r#"{"id":"/v","name":"v","address_space":["10.0.0.0/33"]}"#,
        ),
        res(
            "azurerm_network_security_group",
            &format!(
                r#"{{"id":"{SUB}/networkSecurityGroups/n","name":"n","security_rule":[
            {{"name":"dir","priority":100,"direction":"Sideways","access":"Allow","protocol":"Tcp","destination_port_range":"22","source_address_prefix":"*","destination_address_prefix":"*"}},
            {{"name":"acc","priority":101,"direction":"Inbound","access":"Maybe","protocol":"Tcp","destination_port_range":"22","source_address_prefix":"*","destination_address_prefix":"*"}},
            {{"name":"port","priority":102,"direction":"Inbound","access":"Allow","protocol":"Tcp","destination_port_range":"99999","source_address_prefix":"*","destination_address_prefix":"*"}},
            {{"name":"prefix","priority":103,"direction":"Inbound","access":"Allow","protocol":"Tcp","destination_port_range":"22","source_address_prefix":"10.0.0.300/24","destination_address_prefix":"*"}},
            {{"name":"prio","priority":"high","direction":"Inbound","access":"Allow","protocol":"Tcp","destination_port_range":"22","source_address_prefix":"*","destination_address_prefix":"*"}},
            {{"name":"dup","priority":104,"direction":"Inbound","access":"Allow","protocol":"*","destination_port_range":"*","source_address_prefix":"VIRTUAL_NETWORK","destination_address_prefix":"*"}},
            {{"name":"dup2","priority":104,"direction":"Inbound","access":"Allow","protocol":"Icmp","destination_port_range":"*","source_address_prefix":"*","destination_address_prefix":"*"}}]}}"#
            ),
        ),
        res(
            "azurerm_network_security_rule",
            r#"{"name":"lost","network_security_group_name":"nope","resource_group_name":"rg","priority":100,"direction":"Inbound","access":"Allow","source_address_prefix":"*"}"#,
        ),
        res(
            "azurerm_network_security_rule",
            r#"{"name":"orphan","priority":100}"#,
        ),
        res(
            "azurerm_subnet_network_security_group_association",
            r#"{"subnet_id":"/s","network_security_group_id":"/nope"}"#,
        ),
        res(
            "azurerm_network_interface_security_group_association",
            &format!(
                r#"{{"network_interface_id":"/nic","network_security_group_id":"{SUB}/networkSecurityGroups/n"}}"#
            ),
        ),
        res(
            "azurerm_linux_virtual_machine",
            r#"{"id":"/vm","name":"vm","network_interface_ids":["/missing-nic"],"private_ip_address":"not-an-ip"}"#,
        ),
        res(
            "azurerm_route",
            r#"{"name":"r","route_table_name":"nope","address_prefix":"10.0.0.0/8","next_hop_type":"Teleport"}"#,
        ),
        res(
            "azurerm_route",
            r#"{"id":"/rt/routes/tag","address_prefix":"AzureCloud","next_hop_type":"Internet"}"#,
        ),
        res("azurerm_subnet", r#"{"name":"no-id"}"#),
    ]);
    let has = |s: &str| r.warnings.iter().any(|w| w.contains(s));
    for needle in [
        "\"10.0.0.0/33\" is not a CIDR",
        "direction Some(\"Sideways\")",
        "access Some(\"Maybe\")",
        "bad port range \"99999\"",
        "\"10.0.0.300/24\" is neither an address prefix nor a service tag",
        "rule \"prio\": no usable priority",
        "same priority 104",
        "nope\" (resource group Some(\"rg\")): the security group is not in the state",
        "an azurerm_network_security_rule without a security group",
        "security group /nope is not in the state",
        "network interface /nic belongs to no virtual machine",
        "/vm: network interface /missing-nic is not in the state",
        "\"not-an-ip\" is not an IP address",
        "unknown next hop type \"Teleport\"",
        "the route table is not in the state",
        "service tag \"AzureCloud\"",
        "an azurerm_subnet without an id",
    ] {
        assert!(
            has(needle),
            "no warning with {needle:?} in {:#?}",
            r.warnings
        );
    }
    let f = &t.firewalls[0];
    // The two rules with priority 104 (legacy tag spelling normalized) and the defaults.
    assert_eq!(f.rules.len(), 8, "{:?}", f.rules);
    assert_eq!(rule(f, "dup").peers, vec![tag("VirtualNetwork")]);
    assert_eq!(rule(f, "dup").protocol, Protocol::All);
    assert_eq!(rule(f, "dup2").ports, None);
}

/// A failed import leaves nothing behind for the next one on the same thread.
#[test]
fn failed_import_does_not_leak() {
    let nic = res(
        "azurerm_network_interface",
        r#"{"id":"/nic","ip_configuration":[{"private_ip_address":"10.0.0.9"}]}"#,
    );
    let cut = state(&nic);
    assert!(import_str(&cut[..cut.len() - 3], "cut").is_err());
    let (t, r) = import(&[res(
        "azurerm_virtual_machine",
        r#"{"id":"/vm","name":"vm","network_interface_ids":["/nic"]}"#,
    )]);
    assert!(t.hosts[0].private_ips.is_empty());
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
}

#[test]
fn data_source_nic_does_not_replace_managed() {
    let managed = res(
        "azurerm_network_interface",
        r#"{"id":"/nic","ip_configuration":[{"private_ip_address":"10.0.0.9"}]}"#,
    );
    let data = r#"{"mode":"data","type":"azurerm_network_interface","name":"d","instances":[{"attributes":{"id":"/NIC","private_ip_addresses":["10.0.0.1"]}}]}"#.to_string();
    let vm = res(
        "azurerm_linux_virtual_machine",
        r#"{"id":"/vm","name":"vm","network_interface_ids":["/nic"]}"#,
    );
    let (t, r) = import(&[managed, data, vm]);
    assert_eq!(t.hosts[0].private_ips, vec![ip("10.0.0.9")]);
    assert_eq!(r.data_sources, 1);
}
