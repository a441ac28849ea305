#!/usr/bin/env python3
"""Seeds a moto server with a small AWS topology (boto3) and prints what it holds, as JSON.

Usage: seed_moto.py ENDPOINT_URL PRIMARY_REGION SECONDARY_REGION

PRIMARY_REGION gets a VPC with a public and a private subnet, an internet gateway, a NAT
gateway, two route tables, security groups referencing each other, nine instances (more than one
page at MaxResults=5) and an internet-facing ALB with a target group and a listener.
SECONDARY_REGION gets a small VPC with one subnet and one instance.

Objects AWS (and moto) create on their own are listed apart under "implicit": each region's
default VPC with its subnets, security group and main route table, and each seeded VPC's default
security group and main route table. The test expects exactly seeded + implicit.
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
    out = {"vpcs": [], "subnets": [], "security_groups": [], "route_tables": [], "igws": []}
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
            {"id": rt_priv, "name": "private", "subnets": [priv], "default_route": ["nat", nat_id]},
        ],
        "security_groups": {"lb": sg_lb, "web": sg_web, "db": sg_db},
        "hosts": hosts,
        "load_balancers": [{
            "arn": lb["LoadBalancerArn"], "name": "prod-alb", "subnets": [pub, priv],
            "security_groups": [sg_lb], "listener_port": 80, "target_group": tg["TargetGroupArn"],
        }],
        "target_groups": [{"arn": tg["TargetGroupArn"], "name": "web", "port": 8080, "targets": webs}],
        "implicit": implicit(ec2, [vpc]),
    }


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
        "implicit": implicit(ec2, [vpc]),
    }


print(json.dumps({PRIMARY: seed_primary(PRIMARY), SECONDARY: seed_secondary(SECONDARY)}, indent=1))
