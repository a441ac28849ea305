#!/usr/bin/env python3
"""Seeds a moto server with a small AWS topology (boto3) and prints what it holds, as JSON.

Usage: seed_moto.py ENDPOINT_URL PRIMARY_REGION SECONDARY_REGION

PRIMARY_REGION gets a VPC with a public and a private subnet, an internet gateway, a NAT
gateway, two route tables, security groups referencing each other, nine instances (more than one
page at MaxResults=5) and an internet-facing ALB with a target group and a listener.
PRIMARY_REGION also gets a network ACL with deny rules on the private subnet, a transit
gateway with the VPC attached and a blackhole route, a VPN gateway, an RDS instance and an
Aurora cluster in a DB subnet group, an ElastiCache cluster and replication group, and an EKS
cluster. SECONDARY_REGION gets a small VPC with one subnet and one instance.

Objects AWS (and moto) create on their own are listed apart under "implicit": each region's
default VPC with its subnets, security group and main route table, and each seeded VPC's default
security group, main route table and default network ACL. The test expects exactly seeded + implicit.
"""

import json
import sys

import boto3

ENDPOINT, PRIMARY, SECONDARY = sys.argv[1], sys.argv[2], sys.argv[3]


def client(service, region):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIDSEED",
        aws_secret_access_key="seed-secret",
    )


def tag(name, **extra):
    tags = [{"Key": "Name", "Value": name}]
    tags += [{"Key": k, "Value": v} for k, v in extra.items()]
    return tags


def spec(kind, name, **extra):
    return [{"ResourceType": kind, "Tags": tag(name, **extra)}]


def implicit(ec2, vpc_ids):
    """What AWS created without being asked: default VPCs and their parts, per-VPC defaults."""
    out = {
        "vpcs": [], "subnets": [], "security_groups": [], "route_tables": [], "igws": [],
        "network_acls": [],
    }
    for v in ec2.describe_vpcs()["Vpcs"]:
        if v["IsDefault"]:
            out["vpcs"].append({"id": v["VpcId"], "cidr": v["CidrBlock"], "default": True})
            vpc_ids = vpc_ids + [v["VpcId"]]
            subnets = ec2.describe_subnets(
                Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}]
            )["Subnets"]
            out["subnets"] += [
                {"id": s["SubnetId"], "cidr": s["CidrBlock"], "vpc": v["VpcId"]} for s in subnets
            ]
            igws = ec2.describe_internet_gateways(
                Filters=[{"Name": "attachment.vpc-id", "Values": [v["VpcId"]]}]
            )["InternetGateways"]
            out["igws"] += [g["InternetGatewayId"] for g in igws]
    for vid in vpc_ids:
        sgs = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vid]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        out["security_groups"] += [g["GroupId"] for g in sgs]
        rts = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [vid]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
        out["route_tables"] += [{"id": r["RouteTableId"], "vpc": vid} for r in rts]
        acls = ec2.describe_network_acls(
            Filters=[
                {"Name": "vpc-id", "Values": [vid]},
                {"Name": "default", "Values": ["true"]},
            ]
        )["NetworkAcls"]
        out["network_acls"] += [
            {"id": a["NetworkAclId"], "vpc": vid,
             "subnets": sorted(x["SubnetId"] for x in a["Associations"])}
            for a in acls
        ]
    return out


def seed_primary(region):
    ec2 = client("ec2", region)
    elb = client("elbv2", region)
    vpc = ec2.create_vpc(
        CidrBlock="10.20.0.0/16", TagSpecifications=spec("vpc", "gatehouse-prod", env="prod")
    )["Vpc"]["VpcId"]
    pub = ec2.create_subnet(
        VpcId=vpc,
        CidrBlock="10.20.1.0/24",
        AvailabilityZone=region + "a",
        TagSpecifications=spec("subnet", "public-a"),
    )["Subnet"]["SubnetId"]
    priv = ec2.create_subnet(
        VpcId=vpc,
        CidrBlock="10.20.2.0/24",
        AvailabilityZone=region + "b",
        TagSpecifications=spec("subnet", "private-b"),
    )["Subnet"]["SubnetId"]

    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway", "prod-igw"))[
        "InternetGateway"
    ]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(
        SubnetId=pub,
        AllocationId=eip["AllocationId"],
        TagSpecifications=spec("natgateway", "prod-nat"),
    )["NatGateway"]
    nat_id = nat["NatGatewayId"]

    rt_pub = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table", "public"))[
        "RouteTable"
    ]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_pub, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt_pub, SubnetId=pub)
    rt_priv = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table", "private"))[
        "RouteTable"
    ]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_priv, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    ec2.associate_route_table(RouteTableId=rt_priv, SubnetId=priv)

    def sg(name, desc):
        return ec2.create_security_group(
            GroupName=name, Description=desc, VpcId=vpc, TagSpecifications=spec("security-group", name)
        )["GroupId"]

    sg_lb, sg_web, sg_db = sg("lb", "load balancer"), sg("web", "web servers"), sg("db", "database")
    ec2.authorize_security_group_ingress(
        GroupId=sg_lb,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}]},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=sg_web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
             "UserIdGroupPairs": [{"GroupId": sg_lb}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.8.0.0/24", "Description": "vpn"}]},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=sg_db,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": sg_web}, {"GroupId": sg_db}]},
        ],
    )

    def run(name, subnet, groups, ip, role):
        i = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=subnet,
            SecurityGroupIds=groups,
            PrivateIpAddress=ip,
            TagSpecifications=spec("instance", name, role=role),
        )["Instances"][0]
        return {
            "id": i["InstanceId"], "name": name, "subnet": subnet, "ip": i["PrivateIpAddress"],
            "security_groups": groups, "role": role,
        }

    hosts = [run("bastion", pub, [sg_web], "10.20.1.10", "bastion")]
    hosts += [run(f"web-{n}", priv, [sg_web], f"10.20.2.{10 + n}", "web") for n in range(1, 8)]
    hosts.append(run("db", priv, [sg_db], "10.20.2.50", "db"))

    lb = elb.create_load_balancer(
        Name="prod-alb", Subnets=[pub, priv], SecurityGroups=[sg_lb],
        Scheme="internet-facing", Type="application",
    )["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="web", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]
    webs = [h["id"] for h in hosts if h["role"] == "web"]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in webs])
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    # A network ACL on the private subnet: SSH from the VPN denied in, and the replies to the
    # public subnet's ephemeral ports denied out; everything else allowed.
    acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=spec("network-acl", "private-acl"))[
        "NetworkAcl"
    ]["NetworkAclId"]
    acl_rules = [
        (100, "6", "deny", False, "10.8.0.0/24", (22, 22)),
        (200, "-1", "allow", False, "0.0.0.0/0", None),
        (100, "6", "deny", True, "10.20.1.0/24", (1024, 65535)),
        (200, "-1", "allow", True, "0.0.0.0/0", None),
    ]
    for number, proto, action, egress, cidr, ports in acl_rules:
        extra = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
        ec2.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=number, Protocol=proto, RuleAction=action,
            Egress=egress, CidrBlock=cidr, **extra,
        )
    assoc = [
        a for n in ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [priv]}]
        )["NetworkAcls"] for a in n["Associations"] if a["SubnetId"] == priv
    ][0]
    ec2.replace_network_acl_association(AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=acl)

    # A transit gateway with the VPC attached in the private subnet, a blackhole route in its
    # default table, and a route to it from the private route table; a VPN gateway.
    tgw = ec2.create_transit_gateway(
        Description="hub", TagSpecifications=spec("transit-gateway", "prod-hub")
    )["TransitGateway"]
    tgw_id = tgw["TransitGatewayId"]
    tgw_rt = ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])["TransitGateways"][0][
        "Options"
    ]["AssociationDefaultRouteTableId"]
    att = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id, VpcId=vpc, SubnetIds=[priv]
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    ec2.create_transit_gateway_route(
        DestinationCidrBlock="10.66.0.0/16", TransitGatewayRouteTableId=tgw_rt, Blackhole=True
    )
    ec2.create_route(RouteTableId=rt_priv, DestinationCidrBlock="10.99.0.0/16", TransitGatewayId=tgw_id)
    vgw = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=spec("vpn-gateway", "prod-vgw"))[
        "VpnGateway"
    ]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc, VpnGatewayId=vgw)

    return {
        "vpcs": [{"id": vpc, "cidr": "10.20.0.0/16", "name": "gatehouse-prod"}],
        "subnets": [
            {"id": pub, "cidr": "10.20.1.0/24", "name": "public-a", "public": True, "vpc": vpc},
            {"id": priv, "cidr": "10.20.2.0/24", "name": "private-b", "public": False, "vpc": vpc},
        ],
        "igws": [igw],
        "nats": [{"id": nat_id, "subnet": pub, "public_ip": eip["PublicIp"]}],
        "route_tables": [
            {"id": rt_pub, "name": "public", "subnets": [pub], "default_route": ["gateway", igw]},
            {"id": rt_priv, "name": "private", "subnets": [priv], "default_route": ["nat", nat_id],
             "transit_routes": [["10.99.0.0/16", tgw_id]]},
        ],
        "network_acls": [{
            "id": acl, "name": "private-acl", "vpc": vpc, "subnets": [priv],
            "rules": [list(r[:5]) + [list(r[5]) if r[5] else None] for r in acl_rules],
        }],
        "transit_gateways": [{
            "id": tgw_id, "name": "prod-hub", "route_table": tgw_rt,
            "attachments": [{"id": att, "vpc": vpc, "subnets": [priv], "kind": "vpc"}],
            "blackholes": ["10.66.0.0/16"],
        }],
        "vpn_gateways": [{"id": vgw, "name": "prod-vgw", "vpc": vpc}],
        "services": services(region, vpc, pub, priv, sg_web, sg_db),
        "security_groups": {"lb": sg_lb, "web": sg_web, "db": sg_db},
        "hosts": hosts,
        "load_balancers": [{
            "arn": lb["LoadBalancerArn"], "name": "prod-alb", "subnets": [pub, priv],
            "security_groups": [sg_lb], "listener_port": 80, "target_group": tg["TargetGroupArn"],
        }],
        "target_groups": [{"arn": tg["TargetGroupArn"], "name": "web", "port": 8080, "targets": webs}],
        "implicit": implicit(ec2, [vpc]),
    }


def services(region, vpc, pub, priv, sg_web, sg_db):
    """An RDS instance and an Aurora cluster in a DB subnet group, an ElastiCache cluster and a
    replication group, an EKS cluster; each as the APIs describe it afterwards (what the
    importer must show)."""
    rds = client("rds", region)
    cache = client("elasticache", region)
    eks = client("eks", region)
    rds.create_db_subnet_group(
        DBSubnetGroupName="prod-db", DBSubnetGroupDescription="databases", SubnetIds=[pub, priv]
    )
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        EngineVersion="15.4", DBSubnetGroupName="prod-db", VpcSecurityGroupIds=[sg_db],
        AvailabilityZone=region + "b", MasterUsername="orders", MasterUserPassword="not-a-secret-0",
        AllocatedStorage=20,
    )
    rds.create_db_cluster(
        DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql", EngineVersion="15.4",
        DBSubnetGroupName="prod-db", VpcSecurityGroupIds=[sg_db], MasterUsername="orders",
        MasterUserPassword="not-a-secret-0",
    )
    cache.create_cache_subnet_group(
        CacheSubnetGroupName="prod-cache", CacheSubnetGroupDescription="caches", SubnetIds=[priv]
    )
    cache.create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", CacheNodeType="cache.t3.micro",
        NumCacheNodes=1, CacheSubnetGroupName="prod-cache", SecurityGroupIds=[sg_db],
    )
    cache.create_replication_group(
        ReplicationGroupId="carts", ReplicationGroupDescription="carts", Engine="redis",
        CacheNodeType="cache.t3.micro", CacheSubnetGroupName="prod-cache",
        SecurityGroupIds=[sg_db],
    )
    eks.create_cluster(
        name="platform", roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": [priv, pub], "securityGroupIds": [sg_web]},
    )

    out = []
    db = rds.describe_db_instances(DBInstanceIdentifier="orders-db")["DBInstances"][0]
    out.append({
        "id": db["DBInstanceArn"], "name": "orders-db", "kind": "postgres", "engine": db["Engine"],
        "version": db.get("EngineVersion"), "endpoint": db["Endpoint"]["Address"],
        "port": db["Endpoint"]["Port"], "vpc": vpc, "subnets": [priv, pub],
        "security_groups": [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]],
        "state": db["DBInstanceStatus"],
    })
    cl = rds.describe_db_clusters(DBClusterIdentifier="orders-aurora")["DBClusters"][0]
    out.append({
        "id": cl["DBClusterArn"], "name": "orders-aurora", "kind": "postgres",
        "engine": cl["Engine"], "version": cl.get("EngineVersion"), "endpoint": cl["Endpoint"],
        "port": cl["Port"], "vpc": vpc, "subnets": [pub, priv],
        "security_groups": [g["VpcSecurityGroupId"] for g in cl["VpcSecurityGroups"]],
        "state": cl["Status"],
    })
    cc = cache.describe_cache_clusters(CacheClusterId="sessions", ShowCacheNodeInfo=True)[
        "CacheClusters"
    ][0]
    nodes = [n["Endpoint"] for n in cc.get("CacheNodes", []) if "Endpoint" in n]
    out.append({
        "id": cc["ARN"], "name": "sessions", "kind": "redis", "engine": cc["Engine"],
        "version": cc.get("EngineVersion"),
        "endpoint": nodes[0]["Address"] if nodes else None,
        "port": nodes[0]["Port"] if nodes else 6379, "vpc": vpc, "subnets": [priv],
        "security_groups": [g["SecurityGroupId"] for g in cc.get("SecurityGroups", [])],
        "state": cc["CacheClusterStatus"],
    })
    rg = cache.describe_replication_groups(ReplicationGroupId="carts")["ReplicationGroups"][0]
    members = cache.describe_cache_clusters()["CacheClusters"]
    members = [c for c in members if c.get("ReplicationGroupId") == "carts"]
    primary = rg["NodeGroups"][0]["PrimaryEndpoint"]
    out.append({
        "id": rg["ARN"], "name": "carts", "kind": "redis", "engine": rg.get("Engine", "redis"),
        "version": members[0].get("EngineVersion") if members else None,
        "endpoint": primary["Address"], "port": primary["Port"],
        "vpc": vpc if members else None, "subnets": [priv] if members else [],
        "security_groups": [
            g["SecurityGroupId"] for c in members for g in c.get("SecurityGroups", [])
        ],
        "state": rg["Status"],
    })
    k = eks.describe_cluster(name="platform")["cluster"]
    out.append({
        "id": k["arn"], "name": "platform", "kind": "kubernetes", "engine": "kubernetes",
        "version": k["version"], "endpoint": k["endpoint"].split("://")[1].rstrip("/"),
        "port": 443, "vpc": vpc, "subnets": [priv, pub],
        "security_groups": k["resourcesVpcConfig"]["securityGroupIds"]
        + ([k["resourcesVpcConfig"]["clusterSecurityGroupId"]]
           if k["resourcesVpcConfig"].get("clusterSecurityGroupId") else []),
        "state": k["status"],
    })
    return out


def seed_secondary(region):
    ec2 = client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16", TagSpecifications=spec("vpc", "gatehouse-dr"))[
        "Vpc"
    ]["VpcId"]
    sub = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.30.1.0/24", AvailabilityZone=region + "a",
        TagSpecifications=spec("subnet", "dr-a"),
    )["Subnet"]["SubnetId"]
    i = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=sub,
        PrivateIpAddress="10.30.1.5", TagSpecifications=spec("instance", "dr-standby", role="dr"),
    )["Instances"][0]
    groups = [g["GroupId"] for g in i["SecurityGroups"]]
    return {
        "vpcs": [{"id": vpc, "cidr": "10.30.0.0/16", "name": "gatehouse-dr"}],
        "subnets": [{"id": sub, "cidr": "10.30.1.0/24", "name": "dr-a", "public": False, "vpc": vpc}],
        "igws": [], "nats": [], "route_tables": [], "security_groups": {},
        "hosts": [{"id": i["InstanceId"], "name": "dr-standby", "subnet": sub,
                   "ip": i["PrivateIpAddress"], "security_groups": groups, "role": "dr"}],
        "load_balancers": [], "target_groups": [],
        "network_acls": [], "transit_gateways": [], "vpn_gateways": [], "services": [],
        "implicit": implicit(ec2, [vpc]),
    }


print(json.dumps({PRIMARY: seed_primary(PRIMARY), SECONDARY: seed_secondary(SECONDARY)}, indent=1))
