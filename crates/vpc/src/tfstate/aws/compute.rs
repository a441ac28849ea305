//! AWS compute that is not a single `aws_instance`: auto scaling groups and Elastic Beanstalk
//! environments (groups of machines whose addresses the state does not hold, placed in
//! subnets with security groups), launch templates (the security groups a group's machines get),
//! network interfaces and elastic IPs (addresses of hosts described elsewhere).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, Tags, L, N, S};
use super::super::Resource;
use super::{arn_region, name_or};
use crate::model::*;

/// The tag naming an auto scaling group's launch template or configuration (ids and names).
const TEMPLATE_TAG: &str = "gatehouse:launch-template";

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateRef {
    id: S,
    name: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsgTag {
    key: S,
    value: S,
}

/// `aws_autoscaling_group`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsAsg {
    id: S,
    arn: S,
    name: S,
    vpc_zone_identifier: L,
    availability_zones: L,
    min_size: N,
    max_size: N,
    desired_capacity: N,
    launch_template: Blocks<TemplateRef>,
    launch_configuration: S,
    target_group_arns: L,
    tag: Blocks<AsgTag>,
}

impl Resource for AwsAsg {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self
            .arn
            .0
            .clone()
            .or(self.id.0.clone())
            .or(self.name.0.clone())
        else {
            return b.missing_id("aws_autoscaling_group");
        };
        let mut tags: BTreeMap<String, String> = self
            .tag
            .0
            .into_iter()
            .filter_map(|t| Some((t.key.0?, t.value.0.unwrap_or_default())))
            .collect();
        tags.insert(GROUP_TAG.into(), "auto scaling group".into());
        let size = |n: N| n.0.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        tags.insert(
            "gatehouse:capacity".into(),
            format!(
                "{}–{} (desired {})",
                size(self.min_size),
                size(self.max_size),
                size(self.desired_capacity)
            ),
        );
        let name = self
            .name
            .0
            .clone()
            .or(self.id.0.clone())
            .unwrap_or_else(|| id.clone());
        let template: Vec<String> = self
            .launch_template
            .0
            .into_iter()
            .flat_map(|t| [t.id.0, t.name.0])
            .flatten()
            .chain(self.launch_configuration.0)
            .collect();
        if !template.is_empty() {
            tags.insert(TEMPLATE_TAG.into(), template.join(","));
        }
        let subnets = self.vpc_zone_identifier.0;
        let h = Host {
            name,
            id: id.clone(),
            provider: Provider::Aws,
            subnet: subnets.first().cloned(),
            subnets: if subnets.len() > 1 {
                subnets
            } else {
                Vec::new()
            },
            zone: self
                .availability_zones
                .0
                .first()
                .cloned()
                .or_else(|| arn_region(&Some(id.clone()))),
            tags,
            ..Default::default()
        };
        b.add(h, managed);
        // Its machines are the targets of its target groups; they get the launch template's
        // security groups (added by the template, which finds the group by this tag).
        let tgs = self.target_group_arns.0;
        b.later(move |t| {
            for g in t.target_groups.iter_mut().filter(|g| tgs.contains(&g.id)) {
                if !g.targets.contains(&id) {
                    g.targets.push(id.clone());
                }
            }
            Vec::new()
        });
    }
}

/// `aws_launch_template`, `aws_launch_configuration`: only the security groups its machines
/// get, by template id and name.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsLaunchTemplate {
    id: S,
    name: S,
    vpc_security_group_ids: L,
    security_groups: L,
}

impl Resource for AwsLaunchTemplate {
    fn add(self, b: &mut Builder, _managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_launch_template");
        };
        let mut groups = self.vpc_security_group_ids.0;
        groups.extend(self.security_groups.0);
        let keys: Vec<String> = std::iter::once(id).chain(self.name.0).collect();
        b.later(move |t| {
            let uses = |h: &Host| {
                h.tags
                    .get(TEMPLATE_TAG)
                    .is_some_and(|v| v.split(',').any(|k| keys.iter().any(|x| x == k)))
            };
            for h in t.hosts.iter_mut().filter(|h| uses(h)) {
                for g in &groups {
                    if !h.security_groups.contains(g) {
                        h.security_groups.push(g.clone());
                    }
                }
            }
            Vec::new()
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Setting {
    namespace: S,
    name: S,
    value: S,
}

/// `aws_elastic_beanstalk_environment`: its machines as a host group, its load balancer.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsBeanstalkEnv {
    id: S,
    arn: S,
    name: S,
    application: S,
    cname: S,
    endpoint_url: S,
    instances: L,
    load_balancers: L,
    setting: Blocks<Setting>,
    all_settings: Blocks<Setting>,
    tags: Tags,
}

impl Resource for AwsBeanstalkEnv {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.arn.0.clone().or(self.id.0.clone()) else {
            return b.missing_id("aws_elastic_beanstalk_environment");
        };
        // `setting` is what the configuration says, `all_settings` what AWS reports: the first
        // non-empty value of a (namespace, name) wins.
        let settings: Vec<Setting> = self
            .setting
            .0
            .into_iter()
            .chain(self.all_settings.0)
            .collect();
        let get = |ns: &str, name: &str| {
            settings
                .iter()
                .filter(|s| {
                    s.namespace.0.as_deref() == Some(ns) && s.name.0.as_deref() == Some(name)
                })
                .find_map(|s| s.value.0.clone().filter(|v| !v.is_empty()))
        };
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        let vpc = get("aws:ec2:vpc", "VPCId");
        let subnets = list(get("aws:ec2:vpc", "Subnets"));
        let groups = list(get("aws:autoscaling:launchconfiguration", "SecurityGroups"));
        let name = self
            .name
            .0
            .clone()
            .unwrap_or_else(|| name_or(&self.tags.0, &id));
        let mut tags = self.tags.0;
        tags.insert(GROUP_TAG.into(), "elastic beanstalk environment".into());
        if let Some(app) = self.application.0 {
            tags.insert("gatehouse:application".into(), app);
        }
        if !self.instances.0.is_empty() {
            tags.insert("gatehouse:instances".into(), self.instances.0.join(", "));
        }
        if let Some(c) = self.cname.0 {
            tags.insert("gatehouse:cname".into(), c);
        }
        let h = Host {
            name: name.clone(),
            id: id.clone(),
            provider: Provider::Aws,
            vpc: vpc.clone(),
            subnet: subnets.first().cloned(),
            subnets: if subnets.len() > 1 {
                subnets
            } else {
                Vec::new()
            },
            zone: arn_region(&Some(id.clone())),
            tags,
            security_groups: groups,
            ..Default::default()
        };
        b.add(h, managed);
        // Its load balancer, unless the state describes it as an `aws_lb`.
        let Some(lb_id) = self.load_balancers.0.first().cloned() else {
            return;
        };
        let mut listeners = Vec::new();
        for s in &settings {
            let ns = s.namespace.0.as_deref().unwrap_or("");
            let Some(port) = ns
                .strip_prefix("aws:elbv2:listener:")
                .and_then(|p| p.parse::<u16>().ok())
            else {
                continue;
            };
            if s.name.0.as_deref() == Some("Protocol")
                && !listeners.iter().any(|l: &Listener| l.port == port)
            {
                listeners.push(Listener {
                    port,
                    protocol: s.value.0.clone().unwrap_or_default().to_ascii_lowercase(),
                    target_port: None,
                    target_group: None,
                });
            }
        }
        let lb = LoadBalancer {
            id: lb_id.clone(),
            name: format!("{name} load balancer"),
            provider: Provider::Aws,
            vpc,
            subnets: list(get("aws:ec2:vpc", "ELBSubnets")),
            internal: get("aws:ec2:vpc", "ELBScheme").map(|s| s == "internal"),
            kind: get("aws:elasticbeanstalk:environment", "LoadBalancerType"),
            ip: None,
            dns_name: self.endpoint_url.0,
            region: arn_region(&Some(lb_id)),
            listeners,
            targets: vec![id],
            target_tag: None,
            security_groups: list(get("aws:elbv2:loadbalancer", "SecurityGroups")),
        };
        b.later(move |t| {
            if !t.load_balancers.iter().any(|l| l.id == lb.id) {
                t.load_balancers.push(lb);
            }
            Vec::new()
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EniAttachment {
    instance: S,
}

/// `aws_network_interface`: its addresses and groups go to the instance it is attached to.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsEni {
    id: S,
    subnet_id: S,
    private_ip: S,
    private_ips: L,
    security_groups: L,
    source_dest_check: Option<bool>,
    attachment: Blocks<EniAttachment>,
}

impl Resource for AwsEni {
    fn add(self, b: &mut Builder, _managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("aws_network_interface");
        };
        let mut ips: Vec<IpAddr> = Vec::new();
        for s in self.private_ip.0.into_iter().chain(self.private_ips.0) {
            if let Some(a) = b.ip(&Some(s), &id) {
                if !ips.contains(&a) {
                    ips.push(a);
                }
            }
        }
        let instance = self.attachment.0.into_iter().find_map(|a| a.instance.0);
        let (groups, subnet, check) = (
            self.security_groups.0,
            self.subnet_id.0,
            self.source_dest_check,
        );
        b.later(move |t| {
            // The instance it is attached to, or the one that names it as an interface.
            let host = t
                .hosts
                .iter_mut()
                .find(|h| instance.as_deref() == Some(h.id.as_str()) || h.interfaces.contains(&id));
            let Some(h) = host else {
                return Vec::new();
            };
            if !h.interfaces.contains(&id) {
                h.interfaces.push(id);
            }
            for a in ips {
                if !h.private_ips.contains(&a) {
                    h.private_ips.push(a);
                }
            }
            for g in groups {
                if !h.security_groups.contains(&g) {
                    h.security_groups.push(g);
                }
            }
            if h.subnet.is_none() {
                h.subnet = subnet;
            }
            if h.source_dest_check.is_none() {
                h.source_dest_check = check;
            }
            Vec::new()
        });
    }
}

/// `aws_eip`: the public address of the instance, interface or NAT gateway it is associated with.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AwsEip {
    id: S,
    allocation_id: S,
    public_ip: S,
    instance: S,
    network_interface: S,
    private_ip: S,
}

impl Resource for AwsEip {
    fn add(self, b: &mut Builder, _managed: bool) {
        let Some(id) = self.allocation_id.0.or(self.id.0) else {
            return b.missing_id("aws_eip");
        };
        let Some(public) = b.ip(&self.public_ip.0, &id) else {
            return;
        };
        let private = b.ip(&self.private_ip.0, &id);
        let (instance, eni) = (self.instance.0, self.network_interface.0);
        b.later(move |t| {
            let host = t.hosts.iter_mut().find(|h| {
                instance.as_deref() == Some(h.id.as_str())
                    || eni.as_ref().is_some_and(|e| h.interfaces.contains(e))
                    || private.is_some_and(|p| h.private_ips.contains(&p))
            });
            if let Some(h) = host {
                h.public_ip.get_or_insert(public);
            } else if let Some(g) = t
                .gateways
                .iter_mut()
                .find(|g| private.is_some() && g.private_ip == private)
            {
                g.public_ip.get_or_insert(public);
            }
            Vec::new()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfstate::{import_file, import_str};

    fn corpus(name: &str) -> Topology {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/tfstate")
            .join(name);
        import_file(&p).unwrap().0
    }

    #[test]
    fn auto_scaling_groups_are_host_groups_with_the_template_groups() {
        let t = corpus("02-aws-three-tier-alb-asg-rds.tfstate");
        let asg = t.find_host("asg-backend-west").unwrap();
        assert_eq!(asg.vpc.as_deref(), Some("vpc-0b1d642b8418e17f6"));
        assert_eq!(
            asg.subnets,
            ["subnet-083437c36ad02d226", "subnet-0f9aacfc923d032d7"]
        );
        assert_eq!(asg.subnet.as_deref(), Some("subnet-083437c36ad02d226"));
        assert_eq!(asg.security_groups, ["sg-09337232f6eca372d"]);
        assert!(asg.private_ips.is_empty());
        assert_eq!(asg.tags[GROUP_TAG], "auto scaling group");
        assert_eq!(asg.tags["gatehouse:capacity"], "1–1 (desired 1)");
        let tg = t
            .target_groups
            .iter()
            .find(|g| g.id.contains("tg-backend-dr"))
            .unwrap();
        assert!(tg.targets.contains(&asg.id), "{:?}", tg.targets);
    }

    #[test]
    fn beanstalk_environments_are_host_groups() {
        let t = corpus("13-aws-rds-mysql-beanstalk-modules-vpc.tfstate");
        let env = t.find_host("swapapp-web-dev").unwrap();
        assert_eq!(env.vpc.as_deref(), Some("vpc-0533d729fb264d44d"));
        assert_eq!(
            env.subnets,
            ["subnet-062776531c62e12fc", "subnet-09f54e0ed920064a3"]
        );
        assert_eq!(env.security_groups, ["sg-04b55c125ed6ac35f"]);
        assert_eq!(env.tags["gatehouse:instances"], "i-0020ccff39888ffc9");
        // Its load balancer is the state's own aws_lb, not a second one.
        assert_eq!(t.load_balancers.len(), 1);
    }

    #[test]
    fn interfaces_and_elastic_ips_land_on_their_instance() {
        let t = corpus("01-aws-vpc-nat-instance-bigip.tfstate");
        let h = t.find_host("ob1-mybigip").unwrap();
        assert_eq!(h.public_ip, Some("18.132.218.33".parse().unwrap()));
        assert!(h.interfaces.iter().any(|i| i == "eni-077e014af6a5513d0"));
        assert!(h.private_ips.contains(&"10.0.1.10".parse().unwrap()));
    }

    #[test]
    fn an_environment_without_settings_and_a_bad_eip_do_not_break_the_import() {
        let state = r#"{"version":4,"resources":[
          {"mode":"managed","type":"aws_elastic_beanstalk_environment","name":"e","instances":[
            {"attributes":{"id":"e-1","name":"bare","load_balancers":["lb-x"]}}]},
          {"mode":"managed","type":"aws_eip","name":"ip","instances":[
            {"attributes":{"id":"eipalloc-1","public_ip":"not-an-ip","instance":"i-404"}}]},
          {"mode":"managed","type":"aws_autoscaling_group","name":"g","instances":[
            {"attributes":{"name":"lonely","min_size":"x"}}]}]}"#;
        let (t, r) = import_str(state, "t.tfstate").unwrap();
        let env = t.find_host("bare").unwrap();
        assert!(env.subnets.is_empty() && env.subnet.is_none());
        assert_eq!(t.load_balancers[0].id, "lb-x");
        assert!(t.find_host("lonely").is_some());
        assert!(
            r.warnings.iter().any(|w| w.contains("not-an-ip")),
            "{:?}",
            r.warnings
        );
        // A setting list of the wrong type is a parse error naming the line, not a panic.
        let broken = state.replace(r#""name":"bare","#, r#""name":"bare","setting":"oops","#);
        let e = import_str(&broken, "t.tfstate").unwrap_err().to_string();
        assert!(e.contains("t.tfstate") && e.contains('3'), "{e}");
    }
}
