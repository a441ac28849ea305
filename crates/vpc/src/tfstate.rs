//! Terraform state importer: state files (format version 4: `terraform.tfstate`, modules,
//! `count`/`for_each` index keys) and `terraform show -json` output.
//!
//! The file is read as a stream: resources are turned into model objects one instance at a time,
//! and attribute values the model does not use are skipped without being kept, so memory grows
//! with the topology, not with the file (a 200 MB state file with large attributes imports in a
//! few megabytes). Resource types the model does not know are counted and skipped. Errors carry
//! the `line:column` where the input went wrong, and version 3 states (Terraform 0.11 and older)
//! are refused with a message that tells how to upgrade them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::*;

/// Which Terraform format a file was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFormat {
    /// A state file, format version 4.
    StateV4,
    /// `terraform show -json` output.
    ShowJson,
}

/// What an import read and what it skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The file's format.
    pub format: StateFormat,
    /// The Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Resource instances imported, by resource type (managed and data sources).
    pub imported: BTreeMap<String, usize>,
    /// How many of the imported instances were data sources.
    pub data_sources: usize,
    /// Resource instances of types the model does not use, by type.
    pub skipped: BTreeMap<String, usize>,
    /// Values that could not be used (a malformed CIDR, an unknown reference…), at most 100.
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Total imported resource instances.
    pub fn imported_total(&self) -> usize {
        self.imported.values().sum()
    }

    /// Total skipped resource instances.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not valid JSON or not shaped like a Terraform state.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// A state in a format version older than 4.
    #[error(
        "{path}: Terraform state format version {version} (written by Terraform 0.11 or older) \
         is not supported; upgrade it with Terraform 0.12 or newer (`terraform init` then \
         `terraform apply -refresh-only`), or import `terraform show -json` output"
    )]
    LegacyState {
        /// The file.
        path: String,
        /// The version found.
        version: u64,
    },
    /// A JSON document that is neither a state file nor `terraform show -json` output.
    #[error("{path}: not a Terraform state: {reason}")]
    NotAState {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
}

/// Files up to this size are read whole and parsed from memory (about twice as fast); larger
/// ones are streamed, so memory stays bounded whatever the file's size.
pub const IN_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// Imports a state file or `terraform show -json` output from disk.
pub fn import_file(path: &Path) -> Result<(Topology, ImportReport), ImportError> {
    let label = path.display().to_string();
    let io = |source| ImportError::Io {
        path: label.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len <= IN_MEMORY_LIMIT {
        let mut bytes = Vec::with_capacity(len as usize);
        let mut file = file;
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        return run(&mut de, &label);
    }
    import_reader(std::io::BufReader::with_capacity(256 * 1024, file), &label)
}

/// Imports from a string (`label` names it in errors).
pub fn import_str(text: &str, label: &str) -> Result<(Topology, ImportReport), ImportError> {
    let mut de = serde_json::Deserializer::from_str(text);
    run(&mut de, label)
}

/// Imports from a reader, streaming (`label` names it in errors). Wrap files in a `BufReader`.
pub fn import_reader<R: Read>(
    reader: R,
    label: &str,
) -> Result<(Topology, ImportReport), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    run(&mut de, label)
}

fn run<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    label: &str,
) -> Result<(Topology, ImportReport), ImportError> {
    let mut b = Builder::default();
    let res = (&mut *de)
        .deserialize_map(RootVisitor(&mut b))
        .and_then(|()| de.end());
    if let Err(e) = res {
        if let Some(version) = b.legacy {
            return Err(ImportError::LegacyState {
                path: label.to_string(),
                version,
            });
        }
        if e.is_io() {
            return Err(ImportError::Io {
                path: label.to_string(),
                source: std::io::Error::other(e.to_string()),
            });
        }
        let full = e.to_string();
        let text = match full.rfind(" at line ") {
            Some(i) => &full[..i],
            None => full.as_str(),
        };
        let message = match e.classify() {
            serde_json::error::Category::Eof => {
                format!("the input ends early (truncated file?): {text}")
            }
            serde_json::error::Category::Syntax => format!("invalid JSON: {text}"),
            _ => text.to_string(),
        };
        return Err(ImportError::Parse {
            path: label.to_string(),
            line: e.line(),
            column: e.column(),
            message,
        });
    }
    let Some(format) = b.format else {
        return Err(ImportError::NotAState {
            path: label.to_string(),
            reason: "it has neither \"version\" (state file) nor \"format_version\" \
                     (terraform show -json)"
                .into(),
        });
    };
    let terraform_version = b.terraform_version.take();
    let (topology, mut report) = b.finish();
    report.format = format;
    report.terraform_version = terraform_version;
    Ok((topology, report))
}

// ---------------------------------------------------------------------------------------------
// Streaming visitors
// ---------------------------------------------------------------------------------------------

struct RootVisitor<'a>(&'a mut Builder);

impl<'de> Visitor<'de> for RootVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Terraform state (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => {
                    let v: u64 = map.next_value()?;
                    if v < 4 {
                        b.legacy = Some(v);
                        return Err(de::Error::custom(format!("state version {v}")));
                    }
                    if v > 4 {
                        return Err(de::Error::custom(format!(
                            "Terraform state format version {v} is not supported (only 4)"
                        )));
                    }
                    b.format = Some(StateFormat::StateV4);
                }
                "format_version" => {
                    let _: String = map.next_value()?;
                    b.format = Some(StateFormat::ShowJson);
                }
                "terraform_version" => {
                    b.terraform_version = map.next_value::<Option<String>>()?;
                }
                "modules" if b.format.is_none() => {
                    b.legacy = Some(3);
                    return Err(de::Error::custom("state version 3"));
                }
                "resources" => map.next_value_seed(SeqOf(&mut Resources(&mut *b)))?,
                "values" => map.next_value_seed(ValuesSeed(&mut *b))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Something that reads one element of a sequence, again and again.
trait Elem {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error>;
}

/// A sequence (or null) whose elements are each read by `E`.
struct SeqOf<'a, E>(&'a mut E);

impl<'de, E: Elem> DeserializeSeed<'de> for SeqOf<'_, E> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, E: Elem> Visitor<'de> for SeqOf<'_, E> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_unit<E2: de::Error>(self) -> Result<(), E2> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ElemSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct ElemSeed<'a, E>(&'a mut E);

impl<'de, E: Elem> DeserializeSeed<'de> for ElemSeed<'_, E> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.visit(d)
    }
}

struct Resources<'a>(&'a mut Builder);

impl Elem for Resources<'_> {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        ResourceSeed(&mut *self.0).deserialize(d)
    }
}

struct Instances<'a> {
    b: &'a mut Builder,
    ty: &'a str,
    kind: Option<Kind>,
    managed: bool,
}

impl Elem for Instances<'_> {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        InstanceSeed {
            b: &mut *self.b,
            ty: self.ty,
            kind: self.kind,
            managed: self.managed,
        }
        .deserialize(d)
    }
}

struct ShowResources<'a>(&'a mut Builder);

impl Elem for ShowResources<'_> {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        ShowResourceSeed(&mut *self.0).deserialize(d)
    }
}

struct Modules<'a>(&'a mut Builder);

impl Elem for Modules<'_> {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        ModuleSeed(&mut *self.0).deserialize(d)
    }
}

fn parse_mode(s: &str) -> bool {
    s != "data"
}

/// One entry of a v4 state's `resources`.
struct ResourceSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut ty: Option<String> = None;
        let mut managed = true;
        let mut buffered: Option<serde_json::Value> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => ty = Some(map.next_value()?),
                "mode" => managed = parse_mode(&map.next_value::<String>()?),
                "instances" => match &ty {
                    Some(t) => {
                        let kind = Kind::of(t);
                        map.next_value_seed(SeqOf(&mut Instances {
                            b: &mut *b,
                            ty: t,
                            kind,
                            managed,
                        }))?
                    }
                    None => buffered = Some(map.next_value()?),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(v) = buffered {
            let Some(t) = ty else {
                return Err(de::Error::custom("a resource without \"type\""));
            };
            let kind = Kind::of(&t);
            SeqOf(&mut Instances {
                b: &mut *b,
                ty: &t,
                kind,
                managed,
            })
            .deserialize(v)
            .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// One instance of a v4 resource: only `attributes` matters.
struct InstanceSeed<'a> {
    b: &'a mut Builder,
    ty: &'a str,
    kind: Option<Kind>,
    managed: bool,
}

impl<'de> DeserializeSeed<'de> for InstanceSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InstanceSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource instance object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "attributes" && !seen {
                seen = true;
                map.next_value_seed(AttrsSeed {
                    b: &mut *self.b,
                    ty: self.ty,
                    kind: self.kind,
                    managed: self.managed,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            // Legacy `attributes_flat` or nothing at all: nothing the model can use.
            *self
                .b
                .report
                .skipped
                .entry(self.ty.to_string())
                .or_default() += 1;
        }
        Ok(())
    }
}

/// `values` of `terraform show -json`.
struct ValuesSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for ValuesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a \"values\" object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "root_module" {
                map.next_value_seed(ModuleSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A module of `terraform show -json` (`root_module` or one of `child_modules`).
struct ModuleSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for ModuleSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ModuleSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a module object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resources" => map.next_value_seed(SeqOf(&mut ShowResources(&mut *b)))?,
                "child_modules" => map.next_value_seed(SeqOf(&mut Modules(&mut *b)))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A resource instance of `terraform show -json`: `type`, `mode` and `values`.
struct ShowResourceSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for ShowResourceSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ShowResourceSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut ty: Option<String> = None;
        let mut managed = true;
        let mut buffered: Option<serde_json::Value> = None;
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => ty = Some(map.next_value()?),
                "mode" => managed = parse_mode(&map.next_value::<String>()?),
                "values" if !seen => {
                    seen = true;
                    match &ty {
                        Some(t) => map.next_value_seed(AttrsSeed {
                            b: &mut *b,
                            ty: t,
                            kind: Kind::of(t),
                            managed,
                        })?,
                        None => buffered = Some(map.next_value()?),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(t) = ty else {
            return Err(de::Error::custom("a resource without \"type\""));
        };
        if let Some(v) = buffered {
            AttrsSeed {
                b,
                ty: &t,
                kind: Kind::of(&t),
                managed,
            }
            .deserialize(v)
            .map_err(de::Error::custom)?;
        } else if !seen {
            *b.report.skipped.entry(t).or_default() += 1;
        }
        Ok(())
    }
}

/// The attributes of one resource instance, read into the typed struct of its kind.
struct AttrsSeed<'a> {
    b: &'a mut Builder,
    ty: &'a str,
    kind: Option<Kind>,
    managed: bool,
}

impl<'de> DeserializeSeed<'de> for AttrsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let b = self.b;
        let Some(kind) = self.kind else {
            IgnoredAny::deserialize(d)?;
            *b.report.skipped.entry(self.ty.to_string()).or_default() += 1;
            return Ok(());
        };
        let m = self.managed;
        match kind {
            Kind::AwsVpc => b.aws_vpc(AwsVpc::deserialize(d)?, m),
            Kind::AwsSubnet => b.aws_subnet(AwsSubnet::deserialize(d)?, m),
            Kind::AwsInstance => b.aws_instance(AwsInstance::deserialize(d)?, m),
            Kind::AwsLb => b.aws_lb(AwsLb::deserialize(d)?, m),
            Kind::AwsTargetGroup => b.aws_target_group(AwsTargetGroup::deserialize(d)?, m),
            Kind::AwsListener => b.aws_listener(AwsListener::deserialize(d)?),
            Kind::AwsTgAttachment => b.aws_tg_attachment(AwsTgAttachment::deserialize(d)?),
            Kind::AwsRouteTable => b.aws_route_table(AwsRouteTable::deserialize(d)?, false, m),
            Kind::AwsDefaultRouteTable => {
                b.aws_route_table(AwsRouteTable::deserialize(d)?, true, m)
            }
            Kind::AwsRoute => b.aws_route(AwsRouteEntry::deserialize(d)?),
            Kind::AwsRtAssoc => b.aws_rt_assoc(AwsRtAssoc::deserialize(d)?),
            Kind::AwsMainRtAssoc => b.aws_main_rt_assoc(AwsMainRtAssoc::deserialize(d)?),
            Kind::AwsSg => b.aws_sg(AwsSg::deserialize(d)?, m),
            Kind::AwsSgRule => b.aws_sg_rule(AwsSgRule::deserialize(d)?),
            Kind::AwsSgIngress => b.aws_sg_vpc_rule(AwsSgVpcRule::deserialize(d)?, true),
            Kind::AwsSgEgress => b.aws_sg_vpc_rule(AwsSgVpcRule::deserialize(d)?, false),
            Kind::AwsNat => b.aws_nat(AwsNat::deserialize(d)?, m),
            Kind::AwsIgw => b.aws_igw(AwsIgw::deserialize(d)?, m),
            Kind::AwsPeering => b.aws_peering(AwsPeering::deserialize(d)?, m),
            Kind::DoVpc => b.do_vpc(DoVpc::deserialize(d)?, m),
            Kind::DoDroplet => b.do_droplet(DoDroplet::deserialize(d)?, m),
            Kind::DoLb => b.do_lb(DoLb::deserialize(d)?, m),
            Kind::DoFirewall => b.do_firewall(DoFirewall::deserialize(d)?, m),
            Kind::GcpNetwork => b.gcp_network(GcpNetwork::deserialize(d)?, m),
            Kind::GcpSubnetwork => b.gcp_subnetwork(GcpSubnetwork::deserialize(d)?, m),
            Kind::GcpInstance => b.gcp_instance(GcpInstance::deserialize(d)?, m),
            Kind::GcpFirewall => b.gcp_firewall(GcpFirewall::deserialize(d)?, m),
        }
        *b.report.imported.entry(self.ty.to_string()).or_default() += 1;
        if !m {
            b.report.data_sources += 1;
        }
        Ok(())
    }
}

/// The resource types the model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AwsVpc,
    AwsSubnet,
    AwsInstance,
    AwsLb,
    AwsTargetGroup,
    AwsListener,
    AwsTgAttachment,
    AwsRouteTable,
    AwsDefaultRouteTable,
    AwsRoute,
    AwsRtAssoc,
    AwsMainRtAssoc,
    AwsSg,
    AwsSgRule,
    AwsSgIngress,
    AwsSgEgress,
    AwsNat,
    AwsIgw,
    AwsPeering,
    DoVpc,
    DoDroplet,
    DoLb,
    DoFirewall,
    GcpNetwork,
    GcpSubnetwork,
    GcpInstance,
    GcpFirewall,
}

impl Kind {
    fn of(ty: &str) -> Option<Kind> {
        Some(match ty {
            "aws_vpc" | "aws_default_vpc" => Kind::AwsVpc,
            "aws_subnet" | "aws_default_subnet" => Kind::AwsSubnet,
            "aws_instance" => Kind::AwsInstance,
            "aws_lb" | "aws_alb" => Kind::AwsLb,
            "aws_lb_target_group" | "aws_alb_target_group" => Kind::AwsTargetGroup,
            "aws_lb_listener" | "aws_alb_listener" => Kind::AwsListener,
            "aws_lb_target_group_attachment" | "aws_alb_target_group_attachment" => {
                Kind::AwsTgAttachment
            }
            "aws_route_table" => Kind::AwsRouteTable,
            "aws_default_route_table" => Kind::AwsDefaultRouteTable,
            "aws_route" => Kind::AwsRoute,
            "aws_route_table_association" => Kind::AwsRtAssoc,
            "aws_main_route_table_association" => Kind::AwsMainRtAssoc,
            "aws_security_group" | "aws_default_security_group" => Kind::AwsSg,
            "aws_security_group_rule" => Kind::AwsSgRule,
            "aws_vpc_security_group_ingress_rule" => Kind::AwsSgIngress,
            "aws_vpc_security_group_egress_rule" => Kind::AwsSgEgress,
            "aws_nat_gateway" => Kind::AwsNat,
            "aws_internet_gateway" => Kind::AwsIgw,
            "aws_vpc_peering_connection" => Kind::AwsPeering,
            "digitalocean_vpc" => Kind::DoVpc,
            "digitalocean_droplet" => Kind::DoDroplet,
            "digitalocean_loadbalancer" => Kind::DoLb,
            "digitalocean_firewall" => Kind::DoFirewall,
            "google_compute_network" => Kind::GcpNetwork,
            "google_compute_subnetwork" => Kind::GcpSubnetwork,
            "google_compute_instance" => Kind::GcpInstance,
            "google_compute_firewall" => Kind::GcpFirewall,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient value types (providers and Terraform versions disagree on null vs [] vs "", numbers
// vs strings)
// ---------------------------------------------------------------------------------------------

/// A string, or nothing for null, "" and non-strings that carry no id.
#[derive(Debug, Default, Clone)]
struct S(Option<String>);

impl<'de> Deserialize<'de> for S {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<S, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = S;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<S, E> {
                Ok(S((!v.is_empty()).then(|| v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<S, E> {
                Ok(S((!v.is_empty()).then_some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<S, E> {
                Ok(S(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<S, E> {
                Ok(S(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<S, E> {
                Ok(S(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<S, E> {
                Ok(S(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<S, E> {
                Ok(S(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number given as a number or a numeric string; anything else is none.
#[derive(Debug, Default, Clone, Copy)]
struct N(Option<i64>);

impl N {
    fn port(self) -> Option<u16> {
        self.0.and_then(|v| u16::try_from(v).ok())
    }
}

impl<'de> Deserialize<'de> for N {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<N, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = N;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<N, E> {
                Ok(N(v.trim().parse().ok()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<N, E> {
                Ok(N(i64::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<N, E> {
                Ok(N(Some(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<N, E> {
                Ok(N((v.fract() == 0.0 && v.abs() < 1e15).then_some(v as i64)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<N, E> {
                Ok(N(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<N, E> {
                Ok(N(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of ids (strings or numbers); null is empty, empty strings are dropped.
#[derive(Debug, Default, Clone)]
struct L(Vec<String>);

impl<'de> Deserialize<'de> for L {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<L, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = L;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<L, E> {
                Ok(L(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<L, E> {
                Ok(L(if v.is_empty() {
                    Vec::new()
                } else {
                    vec![v.to_string()]
                }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<L, A::Error> {
                let mut out = Vec::new();
                while let Some(S(s)) = seq.next_element::<S>()? {
                    out.extend(s);
                }
                Ok(L(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of nested blocks; null is empty.
#[derive(Debug, Clone)]
struct Blocks<T>(Vec<T>);

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Blocks<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Blocks(
            Option::<Vec<T>>::deserialize(d)?.unwrap_or_default(),
        ))
    }
}

/// Key/value tags; null is empty, null values become "".
#[derive(Debug, Default, Clone)]
struct Tags(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
        let m = Option::<BTreeMap<String, S>>::deserialize(d)?.unwrap_or_default();
        Ok(Tags(
            m.into_iter()
                .map(|(k, v)| (k, v.0.unwrap_or_default()))
                .collect(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute structs, one per resource type (unknown attributes are skipped by serde)
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsVpc {
    id: S,
    arn: S,
    cidr_block: S,
    ipv6_cidr_block: S,
    main_route_table_id: S,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSubnet {
    id: S,
    arn: S,
    vpc_id: S,
    cidr_block: S,
    availability_zone: S,
    map_public_ip_on_launch: Option<bool>,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EniRef {
    network_interface_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsInstance {
    id: S,
    subnet_id: S,
    private_ip: S,
    secondary_private_ips: L,
    public_ip: S,
    tags: Tags,
    vpc_security_group_ids: L,
    security_groups: L,
    instance_state: S,
    source_dest_check: Option<bool>,
    availability_zone: S,
    primary_network_interface_id: S,
    network_interface: Blocks<EniRef>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SubnetMapping {
    private_ipv4_address: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsLb {
    subnet_mapping: Blocks<SubnetMapping>,
    id: S,
    arn: S,
    name: S,
    internal: Option<bool>,
    load_balancer_type: S,
    subnets: L,
    security_groups: L,
    dns_name: S,
    vpc_id: S,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsTargetGroup {
    id: S,
    arn: S,
    name: S,
    port: N,
    protocol: S,
    vpc_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TgRef {
    arn: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Forward {
    target_group: Blocks<TgRef>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LbAction {
    target_group_arn: S,
    forward: Blocks<Forward>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsListener {
    load_balancer_arn: S,
    port: N,
    protocol: S,
    default_action: Blocks<LbAction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsTgAttachment {
    target_group_arn: S,
    target_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsRouteEntry {
    route_table_id: S,
    cidr_block: S,
    ipv6_cidr_block: S,
    destination_cidr_block: S,
    destination_ipv6_cidr_block: S,
    gateway_id: S,
    nat_gateway_id: S,
    instance_id: S,
    network_interface_id: S,
    vpc_peering_connection_id: S,
    transit_gateway_id: S,
    egress_only_gateway_id: S,
    vpc_endpoint_id: S,
    local_gateway_id: S,
    carrier_gateway_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsRouteTable {
    id: S,
    vpc_id: S,
    route: Blocks<AwsRouteEntry>,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsRtAssoc {
    route_table_id: S,
    subnet_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsMainRtAssoc {
    vpc_id: S,
    route_table_id: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSgInline {
    from_port: N,
    to_port: N,
    protocol: S,
    cidr_blocks: L,
    ipv6_cidr_blocks: L,
    security_groups: L,
    #[serde(rename = "self")]
    self_: Option<bool>,
    description: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSg {
    id: S,
    name: S,
    vpc_id: S,
    tags: Tags,
    ingress: Blocks<AwsSgInline>,
    egress: Blocks<AwsSgInline>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSgRule {
    #[serde(rename = "type")]
    type_: S,
    security_group_id: S,
    from_port: N,
    to_port: N,
    protocol: S,
    cidr_blocks: L,
    ipv6_cidr_blocks: L,
    source_security_group_id: S,
    #[serde(rename = "self")]
    self_: Option<bool>,
    description: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsSgVpcRule {
    security_group_id: S,
    cidr_ipv4: S,
    cidr_ipv6: S,
    referenced_security_group_id: S,
    from_port: N,
    to_port: N,
    ip_protocol: S,
    description: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsNat {
    id: S,
    subnet_id: S,
    private_ip: S,
    public_ip: S,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsIgw {
    id: S,
    vpc_id: S,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsPeering {
    id: S,
    vpc_id: S,
    peer_vpc_id: S,
    accept_status: S,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoVpc {
    id: S,
    name: S,
    region: S,
    ip_range: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoDroplet {
    id: S,
    name: S,
    region: S,
    ipv4_address: S,
    ipv4_address_private: S,
    vpc_uuid: S,
    tags: L,
    status: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoForwardingRule {
    entry_port: N,
    entry_protocol: S,
    target_port: N,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoLb {
    id: S,
    name: S,
    region: S,
    ip: S,
    vpc_uuid: S,
    network: S,
    #[serde(rename = "type")]
    type_: S,
    forwarding_rule: Blocks<DoForwardingRule>,
    droplet_ids: L,
    droplet_tag: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoRule {
    protocol: S,
    port_range: S,
    source_addresses: L,
    source_droplet_ids: L,
    source_tags: L,
    source_load_balancer_uids: L,
    destination_addresses: L,
    destination_droplet_ids: L,
    destination_tags: L,
    destination_load_balancer_uids: L,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoFirewall {
    id: S,
    name: S,
    droplet_ids: L,
    tags: L,
    inbound_rule: Blocks<DoRule>,
    outbound_rule: Blocks<DoRule>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpNetwork {
    id: S,
    name: S,
    self_link: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpSubnetwork {
    id: S,
    name: S,
    self_link: S,
    network: S,
    ip_cidr_range: S,
    region: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpAccessConfig {
    nat_ip: S,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpNic {
    network: S,
    subnetwork: S,
    network_ip: S,
    access_config: Blocks<GcpAccessConfig>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpInstance {
    id: S,
    self_link: S,
    name: S,
    zone: S,
    network_interface: Blocks<GcpNic>,
    tags: L,
    labels: Tags,
    current_status: S,
    can_ip_forward: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpAllow {
    protocol: S,
    ports: L,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GcpFirewall {
    id: S,
    name: S,
    self_link: S,
    network: S,
    direction: S,
    priority: N,
    source_ranges: L,
    source_tags: L,
    destination_ranges: L,
    target_tags: L,
    allow: Blocks<GcpAllow>,
    deny: Blocks<GcpAllow>,
    disabled: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Builder: model objects as they stream in, cross references resolved at the end
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Coll {
    Vpc,
    Subnet,
    Host,
    Lb,
    Tg,
    Gateway,
    RouteTable,
    Firewall,
    Peering,
}

struct Builder {
    topo: Topology,
    report: ImportReport,
    format: Option<StateFormat>,
    terraform_version: Option<String>,
    legacy: Option<u64>,
    /// (collection, id) → (index, managed).
    index: HashMap<(Coll, String), (usize, bool)>,
    sg_rules: Vec<(String, Rule)>,
    routes: Vec<(String, Route)>,
    assocs: Vec<(String, String)>,
    main_assocs: Vec<(String, String)>,
    listeners: Vec<(String, Listener)>,
    tg_attachments: Vec<(String, String)>,
    subnet_public_hint: HashMap<String, bool>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            topo: Topology::default(),
            report: ImportReport {
                format: StateFormat::StateV4,
                terraform_version: None,
                imported: BTreeMap::new(),
                data_sources: 0,
                skipped: BTreeMap::new(),
                warnings: Vec::new(),
            },
            format: None,
            terraform_version: None,
            legacy: None,
            index: HashMap::new(),
            sg_rules: Vec::new(),
            routes: Vec::new(),
            assocs: Vec::new(),
            main_assocs: Vec::new(),
            listeners: Vec::new(),
            tg_attachments: Vec::new(),
            subnet_public_hint: HashMap::new(),
        }
    }
}

const MAX_WARNINGS: usize = 100;

fn name_or(tags: &BTreeMap<String, String>, fallback: &str) -> String {
    tags.get("Name")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// Region from an ARN (`arn:aws:ec2:eu-west-2:…`).
fn arn_region(arn: &Option<String>) -> Option<String> {
    arn.as_deref()?
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// Region of an availability zone (`eu-west-2a` → `eu-west-2`).
fn zone_region(zone: &str) -> String {
    zone.trim_end_matches(|c: char| c.is_ascii_lowercase() && c != '-')
        .to_string()
}

/// A GCP reference with the API prefix removed, so self links and ids compare equal.
fn gcp_ref(s: &str) -> String {
    for marker in ["/compute/v1/", "/compute/beta/", "/compute/alpha/"] {
        if let Some(i) = s.find(marker) {
            return s[i + marker.len()..].to_string();
        }
    }
    s.to_string()
}

/// The last path segment of a GCP reference (`…/zones/us-east4-b` → `us-east4-b`).
fn last_segment(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

impl Builder {
    fn warn(&mut self, msg: String) {
        if self.report.warnings.len() < MAX_WARNINGS {
            self.report.warnings.push(msg);
        }
    }

    fn net(&mut self, s: &str, what: &str) -> Option<IpNet> {
        match s.parse::<IpNet>() {
            Ok(n) => Some(n),
            Err(_) => match s.parse::<IpAddr>() {
                Ok(a) => Some(IpNet::from(a)),
                Err(_) => {
                    self.warn(format!("{what}: {s:?} is not a CIDR"));
                    None
                }
            },
        }
    }

    fn ip(&mut self, s: &Option<String>, what: &str) -> Option<IpAddr> {
        let s = s.as_deref()?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.warn(format!("{what}: {s:?} is not an IP address"));
                None
            }
        }
    }

    /// Adds or replaces an object: a managed resource replaces a data source with the same id, a
    /// data source never replaces anything.
    fn upsert<T>(
        index: &mut HashMap<(Coll, String), (usize, bool)>,
        list: &mut Vec<T>,
        coll: Coll,
        id: String,
        item: T,
        managed: bool,
    ) {
        match index.entry((coll, id)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (i, was_managed) = e.get_mut();
                if managed && !*was_managed {
                    list[*i] = item;
                    *was_managed = true;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((list.len(), managed));
                list.push(item);
            }
        }
    }

    fn missing_id(&mut self, ty: &str) {
        self.warn(format!("an {ty} without an id was skipped"));
    }

    fn aws_vpc(&mut self, a: AwsVpc, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_vpc");
        };
        let mut cidrs = Vec::new();
        for c in [a.cidr_block.0, a.ipv6_cidr_block.0].into_iter().flatten() {
            cidrs.extend(self.net(&c, &id));
        }
        let v = Vpc {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            provider: Provider::Aws,
            region: arn_region(&a.arn.0),
            cidrs,
            main_route_table: a.main_route_table_id.0,
            tags: a.tags.0,
            placeholder: false,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.vpcs,
            Coll::Vpc,
            id,
            v,
            managed,
        );
    }

    fn aws_subnet(&mut self, a: AwsSubnet, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_subnet");
        };
        let cidr = match &a.cidr_block.0 {
            Some(c) => self.net(c, &id),
            None => None,
        };
        if let Some(p) = a.map_public_ip_on_launch {
            self.subnet_public_hint.insert(id.clone(), p);
        }
        let region =
            arn_region(&a.arn.0).or_else(|| a.availability_zone.0.as_deref().map(zone_region));
        let s = Subnet {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            vpc: a.vpc_id.0,
            cidr,
            zone: a.availability_zone.0,
            region,
            public: None,
            tags: a.tags.0,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.subnets,
            Coll::Subnet,
            id,
            s,
            managed,
        );
    }

    fn aws_instance(&mut self, a: AwsInstance, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_instance");
        };
        let mut private_ips = Vec::new();
        private_ips.extend(self.ip(&a.private_ip.0, &id));
        for s in &a.secondary_private_ips.0 {
            private_ips.extend(self.ip(&Some(s.clone()), &id));
        }
        let public_ip = self.ip(&a.public_ip.0, &id);
        let mut security_groups = a.vpc_security_group_ids.0;
        for g in a.security_groups.0 {
            if !security_groups.contains(&g) {
                security_groups.push(g);
            }
        }
        let mut interfaces: Vec<String> = a.primary_network_interface_id.0.into_iter().collect();
        for n in a.network_interface.0 {
            if let Some(e) = n.network_interface_id.0 {
                if !interfaces.contains(&e) {
                    interfaces.push(e);
                }
            }
        }
        let h = Host {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            provider: Provider::Aws,
            vpc: None,
            subnet: a.subnet_id.0,
            zone: a.availability_zone.0,
            private_ips,
            public_ip,
            tags: a.tags.0,
            labels: Vec::new(),
            security_groups,
            state: a.instance_state.0,
            source_dest_check: a.source_dest_check,
            interfaces,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.hosts,
            Coll::Host,
            id,
            h,
            managed,
        );
    }

    fn aws_lb(&mut self, a: AwsLb, managed: bool) {
        let Some(id) = a.arn.0.or(a.id.0) else {
            return self.missing_id("aws_lb");
        };
        let mut ip = None;
        for m in &a.subnet_mapping.0 {
            if ip.is_none() {
                ip = self.ip(&m.private_ipv4_address.0, &id);
            }
        }
        let lb = LoadBalancer {
            name: a.name.0.unwrap_or_else(|| name_or(&a.tags.0, &id)),
            region: arn_region(&Some(id.clone())),
            id: id.clone(),
            provider: Provider::Aws,
            vpc: a.vpc_id.0,
            subnets: a.subnets.0,
            internal: a.internal,
            kind: a.load_balancer_type.0,
            ip,
            dns_name: a.dns_name.0,
            listeners: Vec::new(),
            targets: Vec::new(),
            target_tag: None,
            security_groups: a.security_groups.0,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.load_balancers,
            Coll::Lb,
            id,
            lb,
            managed,
        );
    }

    fn aws_target_group(&mut self, a: AwsTargetGroup, managed: bool) {
        let Some(id) = a.arn.0.or(a.id.0) else {
            return self.missing_id("aws_lb_target_group");
        };
        let tg = TargetGroup {
            name: a.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            vpc: a.vpc_id.0,
            port: a.port.port(),
            protocol: a.protocol.0,
            targets: Vec::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.target_groups,
            Coll::Tg,
            id,
            tg,
            managed,
        );
    }

    fn aws_listener(&mut self, a: AwsListener) {
        let (Some(lb), Some(port)) = (a.load_balancer_arn.0, a.port.port()) else {
            return self
                .warn("an aws_lb_listener without a load balancer or port was skipped".into());
        };
        let target_group = a.default_action.0.into_iter().find_map(|act| {
            act.target_group_arn.0.or_else(|| {
                act.forward
                    .0
                    .into_iter()
                    .flat_map(|f| f.target_group.0)
                    .find_map(|t| t.arn.0)
            })
        });
        self.listeners.push((
            lb,
            Listener {
                port,
                protocol: a.protocol.0.unwrap_or_default().to_ascii_lowercase(),
                target_port: None,
                target_group,
            },
        ));
    }

    fn aws_tg_attachment(&mut self, a: AwsTgAttachment) {
        if let (Some(tg), Some(t)) = (a.target_group_arn.0, a.target_id.0) {
            self.tg_attachments.push((tg, t));
        }
    }

    fn route_of(&mut self, r: AwsRouteEntry) -> Option<Route> {
        let dest = r
            .destination_cidr_block
            .0
            .or(r.cidr_block.0)
            .or(r.destination_ipv6_cidr_block.0)
            .or(r.ipv6_cidr_block.0)?;
        let destination = self.net(&dest, "route")?;
        let target = if let Some(g) = r.nat_gateway_id.0 {
            RouteTarget::Nat(g)
        } else if let Some(i) = r.instance_id.0 {
            RouteTarget::Instance(i)
        } else if let Some(n) = r.network_interface_id.0 {
            RouteTarget::Interface(n)
        } else if let Some(p) = r.vpc_peering_connection_id.0 {
            RouteTarget::Peering(p)
        } else if let Some(g) = r.gateway_id.0 {
            if g == "local" {
                RouteTarget::Local
            } else if g.starts_with("nat-") {
                RouteTarget::Nat(g)
            } else {
                RouteTarget::Gateway(g)
            }
        } else if let Some(o) = r
            .transit_gateway_id
            .0
            .or(r.egress_only_gateway_id.0)
            .or(r.vpc_endpoint_id.0)
            .or(r.local_gateway_id.0)
            .or(r.carrier_gateway_id.0)
        {
            RouteTarget::Other(o)
        } else {
            return None;
        };
        Some(Route {
            destination,
            target,
        })
    }

    fn aws_route_table(&mut self, a: AwsRouteTable, main: bool, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_route_table");
        };
        let mut routes = Vec::new();
        for r in a.route.0 {
            routes.extend(self.route_of(r));
        }
        let t = RouteTable {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            vpc: a.vpc_id.0,
            main,
            routes,
            subnets: Vec::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.route_tables,
            Coll::RouteTable,
            id,
            t,
            managed,
        );
    }

    fn aws_route(&mut self, a: AwsRouteEntry) {
        let Some(rt) = a.route_table_id.0.clone() else {
            return self.warn("an aws_route without a route table was skipped".into());
        };
        if let Some(r) = self.route_of(a) {
            self.routes.push((rt, r));
        }
    }

    fn aws_rt_assoc(&mut self, a: AwsRtAssoc) {
        // Gateway associations (edge routing) have no subnet: nothing for the model.
        if let (Some(rt), Some(s)) = (a.route_table_id.0, a.subnet_id.0) {
            self.assocs.push((rt, s));
        }
    }

    fn aws_main_rt_assoc(&mut self, a: AwsMainRtAssoc) {
        if let (Some(v), Some(rt)) = (a.vpc_id.0, a.route_table_id.0) {
            self.main_assocs.push((v, rt));
        }
    }

    fn sg_rule(
        &mut self,
        direction: Direction,
        protocol: &Option<String>,
        from: N,
        to: N,
        peers: Vec<Peer>,
        description: Option<String>,
    ) -> Rule {
        let protocol = Protocol::parse(protocol.as_deref().unwrap_or("-1"));
        let ports = if protocol.has_ports() {
            match (from.port(), to.port()) {
                (Some(0), Some(65535)) | (None, None) => None,
                (Some(f), Some(t)) if f <= t => Some(PortRange { from: f, to: t }),
                (Some(f), None) => Some(PortRange { from: f, to: f }),
                _ => None,
            }
        } else {
            None
        };
        Rule {
            direction,
            action: Action::Allow,
            priority: 0,
            protocol,
            ports,
            peers,
            description,
        }
    }

    fn cidr_peers(&mut self, v4: &[String], v6: &[String], what: &str) -> Vec<Peer> {
        let mut peers = Vec::new();
        for c in v4.iter().chain(v6) {
            peers.extend(self.net(c, what).map(Peer::Cidr));
        }
        peers
    }

    fn aws_sg(&mut self, a: AwsSg, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_security_group");
        };
        let mut rules = Vec::new();
        for (dir, list) in [
            (Direction::Ingress, a.ingress.0),
            (Direction::Egress, a.egress.0),
        ] {
            for r in list {
                let mut peers = self.cidr_peers(&r.cidr_blocks.0, &r.ipv6_cidr_blocks.0, &id);
                peers.extend(r.security_groups.0.into_iter().map(Peer::Group));
                if r.self_ == Some(true) {
                    peers.push(Peer::SelfGroup);
                }
                let rule = self.sg_rule(
                    dir,
                    &r.protocol.0,
                    r.from_port,
                    r.to_port,
                    peers,
                    r.description.0,
                );
                rules.push(rule);
            }
        }
        let f = Firewall {
            name: a.name.0.unwrap_or_else(|| name_or(&a.tags.0, &id)),
            id: id.clone(),
            kind: FirewallKind::SecurityGroup,
            vpc: a.vpc_id.0,
            applies_to: AppliesTo::Membership,
            rules,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.firewalls,
            Coll::Firewall,
            id,
            f,
            managed,
        );
    }

    fn aws_sg_rule(&mut self, a: AwsSgRule) {
        let Some(sg) = a.security_group_id.0 else {
            return self
                .warn("an aws_security_group_rule without a security group was skipped".into());
        };
        let dir = match a.type_.0.as_deref() {
            Some("egress") => Direction::Egress,
            _ => Direction::Ingress,
        };
        let mut peers = self.cidr_peers(&a.cidr_blocks.0, &a.ipv6_cidr_blocks.0, &sg);
        peers.extend(a.source_security_group_id.0.map(Peer::Group));
        if a.self_ == Some(true) {
            peers.push(Peer::SelfGroup);
        }
        let rule = self.sg_rule(
            dir,
            &a.protocol.0,
            a.from_port,
            a.to_port,
            peers,
            a.description.0,
        );
        self.sg_rules.push((sg, rule));
    }

    fn aws_sg_vpc_rule(&mut self, a: AwsSgVpcRule, ingress: bool) {
        let Some(sg) = a.security_group_id.0 else {
            return self.warn(
                "an aws_vpc_security_group_*_rule without a security group was skipped".into(),
            );
        };
        let dir = if ingress {
            Direction::Ingress
        } else {
            Direction::Egress
        };
        let v4: Vec<String> = a.cidr_ipv4.0.into_iter().collect();
        let v6: Vec<String> = a.cidr_ipv6.0.into_iter().collect();
        let mut peers = self.cidr_peers(&v4, &v6, &sg);
        if let Some(g) = a.referenced_security_group_id.0 {
            peers.push(if g == sg {
                Peer::SelfGroup
            } else {
                Peer::Group(g)
            });
        }
        let rule = self.sg_rule(
            dir,
            &a.ip_protocol.0,
            a.from_port,
            a.to_port,
            peers,
            a.description.0,
        );
        self.sg_rules.push((sg, rule));
    }

    fn aws_nat(&mut self, a: AwsNat, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_nat_gateway");
        };
        let private_ip = self.ip(&a.private_ip.0, &id);
        let public_ip = self.ip(&a.public_ip.0, &id);
        let g = Gateway {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            kind: GatewayKind::Nat,
            vpc: None,
            subnet: a.subnet_id.0,
            private_ip,
            public_ip,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.gateways,
            Coll::Gateway,
            id,
            g,
            managed,
        );
    }

    fn aws_igw(&mut self, a: AwsIgw, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("aws_internet_gateway");
        };
        let g = Gateway {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            kind: GatewayKind::Internet,
            vpc: a.vpc_id.0,
            subnet: None,
            private_ip: None,
            public_ip: None,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.gateways,
            Coll::Gateway,
            id,
            g,
            managed,
        );
    }

    fn aws_peering(&mut self, a: AwsPeering, managed: bool) {
        let (Some(id), Some(vpc), Some(peer_vpc)) = (a.id.0, a.vpc_id.0, a.peer_vpc_id.0) else {
            return self.missing_id("aws_vpc_peering_connection");
        };
        let p = Peering {
            name: name_or(&a.tags.0, &id),
            id: id.clone(),
            vpc,
            peer_vpc,
            status: a.accept_status.0,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.peerings,
            Coll::Peering,
            id,
            p,
            managed,
        );
    }

    fn do_vpc(&mut self, a: DoVpc, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("digitalocean_vpc");
        };
        let cidrs = match &a.ip_range.0 {
            Some(r) => self.net(r, &id).into_iter().collect(),
            None => Vec::new(),
        };
        let v = Vpc {
            name: a.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            region: a.region.0,
            cidrs,
            main_route_table: None,
            tags: BTreeMap::new(),
            placeholder: false,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.vpcs,
            Coll::Vpc,
            id,
            v,
            managed,
        );
    }

    fn do_droplet(&mut self, a: DoDroplet, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("digitalocean_droplet");
        };
        let private_ips = self
            .ip(&a.ipv4_address_private.0, &id)
            .into_iter()
            .collect();
        let public_ip = self.ip(&a.ipv4_address.0, &id);
        let h = Host {
            name: a.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            vpc: a.vpc_uuid.0,
            subnet: None,
            zone: a.region.0,
            private_ips,
            public_ip,
            tags: BTreeMap::new(),
            labels: a.tags.0,
            security_groups: Vec::new(),
            state: a.status.0,
            source_dest_check: None,
            interfaces: Vec::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.hosts,
            Coll::Host,
            id,
            h,
            managed,
        );
    }

    fn do_lb(&mut self, a: DoLb, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("digitalocean_loadbalancer");
        };
        let ip = self.ip(&a.ip.0, &id);
        let listeners = a
            .forwarding_rule
            .0
            .into_iter()
            .filter_map(|r| {
                Some(Listener {
                    port: r.entry_port.port()?,
                    protocol: r.entry_protocol.0.unwrap_or_default().to_ascii_lowercase(),
                    target_port: r.target_port.port(),
                    target_group: None,
                })
            })
            .collect();
        let lb = LoadBalancer {
            name: a.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            provider: Provider::Digitalocean,
            vpc: a.vpc_uuid.0,
            subnets: Vec::new(),
            internal: Some(a.network.0.as_deref() == Some("INTERNAL")),
            kind: a.type_.0,
            ip,
            dns_name: None,
            region: a.region.0,
            listeners,
            targets: a.droplet_ids.0,
            target_tag: a.droplet_tag.0,
            security_groups: Vec::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.load_balancers,
            Coll::Lb,
            id,
            lb,
            managed,
        );
    }

    fn do_rules(&mut self, list: Vec<DoRule>, direction: Direction, id: &str) -> Vec<Rule> {
        let mut rules = Vec::new();
        for r in list {
            let protocol = Protocol::parse(r.protocol.0.as_deref().unwrap_or("all"));
            let ports = if protocol.has_ports() {
                match PortRange::parse(r.port_range.0.as_deref().unwrap_or("")) {
                    Ok(p) => p,
                    Err(e) => {
                        self.warn(format!("{id}: {e}; rule skipped"));
                        continue;
                    }
                }
            } else {
                None
            };
            let (addrs, droplets, tags, lbs) = match direction {
                Direction::Ingress => (
                    r.source_addresses.0,
                    r.source_droplet_ids.0,
                    r.source_tags.0,
                    r.source_load_balancer_uids.0,
                ),
                Direction::Egress => (
                    r.destination_addresses.0,
                    r.destination_droplet_ids.0,
                    r.destination_tags.0,
                    r.destination_load_balancer_uids.0,
                ),
            };
            let mut peers = self.cidr_peers(&addrs, &[], id);
            peers.extend(droplets.into_iter().map(Peer::Host));
            peers.extend(tags.into_iter().map(Peer::Label));
            peers.extend(lbs.into_iter().map(Peer::LoadBalancer));
            rules.push(Rule {
                direction,
                action: Action::Allow,
                priority: 0,
                protocol,
                ports,
                peers,
                description: None,
            });
        }
        rules
    }

    fn do_firewall(&mut self, a: DoFirewall, managed: bool) {
        let Some(id) = a.id.0 else {
            return self.missing_id("digitalocean_firewall");
        };
        let mut rules = self.do_rules(a.inbound_rule.0, Direction::Ingress, &id);
        rules.extend(self.do_rules(a.outbound_rule.0, Direction::Egress, &id));
        let f = Firewall {
            name: a.name.0.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            kind: FirewallKind::Digitalocean,
            vpc: None,
            applies_to: AppliesTo::Hosts {
                ids: a.droplet_ids.0,
                labels: a.tags.0,
            },
            rules,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.firewalls,
            Coll::Firewall,
            id,
            f,
            managed,
        );
    }

    fn gcp_network(&mut self, a: GcpNetwork, managed: bool) {
        let Some(id) = a.self_link.0.or(a.id.0).map(|s| gcp_ref(&s)) else {
            return self.missing_id("google_compute_network");
        };
        let v = Vpc {
            name: a.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            provider: Provider::Gcp,
            region: None,
            cidrs: Vec::new(),
            main_route_table: None,
            tags: BTreeMap::new(),
            placeholder: false,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.vpcs,
            Coll::Vpc,
            id,
            v,
            managed,
        );
    }

    fn gcp_subnetwork(&mut self, a: GcpSubnetwork, managed: bool) {
        let Some(id) = a.self_link.0.or(a.id.0).map(|s| gcp_ref(&s)) else {
            return self.missing_id("google_compute_subnetwork");
        };
        let cidr = match &a.ip_cidr_range.0 {
            Some(c) => self.net(c, &id),
            None => None,
        };
        let s = Subnet {
            name: a.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            vpc: a.network.0.map(|n| gcp_ref(&n)),
            cidr,
            zone: None,
            region: a.region.0.map(|r| last_segment(&r)),
            public: None,
            tags: BTreeMap::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.subnets,
            Coll::Subnet,
            id,
            s,
            managed,
        );
    }

    fn gcp_instance(&mut self, a: GcpInstance, managed: bool) {
        let Some(id) = a.self_link.0.or(a.id.0).map(|s| gcp_ref(&s)) else {
            return self.missing_id("google_compute_instance");
        };
        let mut private_ips = Vec::new();
        let mut public_ip = None;
        let mut vpc = None;
        let mut subnet = None;
        for (i, nic) in a.network_interface.0.into_iter().enumerate() {
            private_ips.extend(self.ip(&nic.network_ip.0, &id));
            for ac in &nic.access_config.0 {
                if public_ip.is_none() {
                    public_ip = self.ip(&ac.nat_ip.0, &id);
                }
            }
            if i == 0 {
                vpc = nic.network.0.map(|n| gcp_ref(&n));
                subnet = nic.subnetwork.0.map(|n| gcp_ref(&n));
            }
        }
        let h = Host {
            name: a.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            provider: Provider::Gcp,
            vpc,
            subnet,
            zone: a.zone.0.map(|z| last_segment(&z)),
            private_ips,
            public_ip,
            tags: a.labels.0,
            labels: a.tags.0,
            security_groups: Vec::new(),
            state: a.current_status.0,
            source_dest_check: a.can_ip_forward.map(|f| !f),
            interfaces: Vec::new(),
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.hosts,
            Coll::Host,
            id,
            h,
            managed,
        );
    }

    fn gcp_firewall(&mut self, a: GcpFirewall, managed: bool) {
        let Some(id) = a.self_link.0.or(a.id.0).map(|s| gcp_ref(&s)) else {
            return self.missing_id("google_compute_firewall");
        };
        let direction = match a.direction.0.as_deref() {
            Some("EGRESS") => Direction::Egress,
            _ => Direction::Ingress,
        };
        let priority = a
            .priority
            .0
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(1000);
        let mut peers = match direction {
            Direction::Ingress => self.cidr_peers(&a.source_ranges.0, &[], &id),
            Direction::Egress => self.cidr_peers(&a.destination_ranges.0, &[], &id),
        };
        if direction == Direction::Ingress {
            peers.extend(a.source_tags.0.iter().cloned().map(Peer::Label));
        }
        if direction == Direction::Egress && peers.is_empty() {
            // An egress rule without destination ranges applies to every destination.
            peers.push(Peer::Cidr(IpNet::V4(ipnet::Ipv4Net::default())));
        }
        let mut rules = Vec::new();
        if a.disabled != Some(true) {
            for (action, list) in [(Action::Allow, a.allow.0), (Action::Deny, a.deny.0)] {
                for entry in list {
                    let protocol = Protocol::parse(entry.protocol.0.as_deref().unwrap_or("all"));
                    let mut ranges: Vec<Option<PortRange>> = Vec::new();
                    for p in &entry.ports.0 {
                        match PortRange::parse(p) {
                            Ok(r) => ranges.push(r),
                            Err(e) => self.warn(format!("{id}: {e}")),
                        }
                    }
                    if ranges.is_empty() {
                        ranges.push(None);
                    }
                    for ports in ranges {
                        rules.push(Rule {
                            direction,
                            action,
                            priority,
                            protocol: protocol.clone(),
                            ports,
                            peers: peers.clone(),
                            description: None,
                        });
                    }
                }
            }
        }
        let f = Firewall {
            name: a.name.0.unwrap_or_else(|| last_segment(&id)),
            id: id.clone(),
            kind: FirewallKind::Gcp,
            vpc: a.network.0.map(|n| gcp_ref(&n)),
            applies_to: AppliesTo::Network {
                target_labels: a.target_tags.0,
            },
            rules,
        };
        Self::upsert(
            &mut self.index,
            &mut self.topo.firewalls,
            Coll::Firewall,
            id,
            f,
            managed,
        );
    }

    /// Resolves cross references and returns the topology.
    fn finish(mut self) -> (Topology, ImportReport) {
        let mut t = std::mem::take(&mut self.topo);
        let pos = |list: &[String], id: &str| list.iter().position(|x| x == id);

        // Standalone security group rules.
        let fw_ids: Vec<String> = t.firewalls.iter().map(|f| f.id.clone()).collect();
        for (sg, rule) in std::mem::take(&mut self.sg_rules) {
            let i = match pos(&fw_ids, &sg) {
                Some(i) => i,
                None => {
                    self.warn(format!(
                        "rule for security group {sg}, which is not in the state"
                    ));
                    continue;
                }
            };
            let rules = &mut t.firewalls[i].rules;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }

        // Standalone routes and associations.
        let rt_ids: Vec<String> = t.route_tables.iter().map(|r| r.id.clone()).collect();
        for (rt, route) in std::mem::take(&mut self.routes) {
            match pos(&rt_ids, &rt) {
                Some(i) => {
                    let routes = &mut t.route_tables[i].routes;
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                }
                None => self.warn(format!(
                    "route for route table {rt}, which is not in the state"
                )),
            }
        }
        for (rt, subnet) in std::mem::take(&mut self.assocs) {
            match pos(&rt_ids, &rt) {
                Some(i) => {
                    let subnets = &mut t.route_tables[i].subnets;
                    if !subnets.contains(&subnet) {
                        subnets.push(subnet);
                    }
                }
                None => self.warn(format!(
                    "association of {subnet} with route table {rt}, which is not in the state"
                )),
            }
        }
        for (vpc, rt) in std::mem::take(&mut self.main_assocs) {
            if let Some(i) = pos(&rt_ids, &rt) {
                t.route_tables[i].main = true;
            }
            if let Some(v) = t.vpcs.iter_mut().find(|v| v.id == vpc) {
                v.main_route_table = Some(rt);
            }
        }
        for v in &mut t.vpcs {
            if let Some(m) = &v.main_route_table {
                if let Some(i) = pos(&rt_ids, m) {
                    t.route_tables[i].main = true;
                }
            }
        }
        for rt in &t.route_tables {
            if let (true, Some(vpc)) = (rt.main, &rt.vpc) {
                if let Some(v) = t.vpcs.iter_mut().find(|v| &v.id == vpc) {
                    if v.main_route_table.is_none() {
                        v.main_route_table = Some(rt.id.clone());
                    }
                }
            }
        }

        // VPCs of hosts, NAT gateways and load balancers from their subnets.
        let subnet_vpc: HashMap<String, String> = t
            .subnets
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.vpc.clone()?)))
            .collect();
        for h in &mut t.hosts {
            if h.vpc.is_none() {
                h.vpc = h.subnet.as_ref().and_then(|s| subnet_vpc.get(s)).cloned();
            }
        }
        for g in &mut t.gateways {
            if g.vpc.is_none() {
                g.vpc = g.subnet.as_ref().and_then(|s| subnet_vpc.get(s)).cloned();
            }
        }
        for lb in &mut t.load_balancers {
            if lb.vpc.is_none() {
                lb.vpc = lb.subnets.iter().find_map(|s| subnet_vpc.get(s)).cloned();
            }
        }

        // VPCs referenced but not described.
        let mut known: std::collections::HashSet<String> =
            t.vpcs.iter().map(|v| v.id.clone()).collect();
        let refs: Vec<(String, Provider, Option<String>)> = t
            .hosts
            .iter()
            .map(|h| (h.vpc.clone(), h.provider, h.zone.clone()))
            .chain(
                t.load_balancers
                    .iter()
                    .map(|l| (l.vpc.clone(), l.provider, l.region.clone())),
            )
            .chain(
                t.subnets
                    .iter()
                    .map(|s| (s.vpc.clone(), Provider::Other, s.region.clone())),
            )
            .filter_map(|(v, p, r)| Some((v?, p, r)))
            .collect();
        for (id, provider, zone) in refs {
            if known.insert(id.clone()) {
                t.vpcs.push(Vpc {
                    name: id.clone(),
                    id,
                    provider,
                    region: zone.map(|z| match provider {
                        Provider::Aws => zone_region(&z),
                        _ => z,
                    }),
                    cidrs: Vec::new(),
                    main_route_table: None,
                    tags: BTreeMap::new(),
                    placeholder: true,
                });
            }
        }

        // Security groups named instead of referenced by id (default VPC, EC2-Classic style).
        let sg_names: HashMap<(Option<String>, String), String> = t
            .firewalls
            .iter()
            .filter(|f| f.kind == FirewallKind::SecurityGroup)
            .map(|f| ((f.vpc.clone(), f.name.clone()), f.id.clone()))
            .collect();
        for h in &mut t.hosts {
            let mut groups: Vec<String> = Vec::with_capacity(h.security_groups.len());
            for g in std::mem::take(&mut h.security_groups) {
                let id = if fw_ids.contains(&g) {
                    g
                } else {
                    sg_names
                        .get(&(h.vpc.clone(), g.clone()))
                        .cloned()
                        .unwrap_or(g)
                };
                if !groups.contains(&id) {
                    groups.push(id);
                }
            }
            h.security_groups = groups;
        }

        // Listeners and target group members.
        for (lb, listener) in std::mem::take(&mut self.listeners) {
            match t.load_balancers.iter_mut().find(|l| l.id == lb) {
                Some(l) => l.listeners.push(listener),
                None => self.warn(format!("listener of {lb}, which is not in the state")),
            }
        }
        for (tg, target) in std::mem::take(&mut self.tg_attachments) {
            if let Some(g) = t.target_groups.iter_mut().find(|g| g.id == tg) {
                if !g.targets.contains(&target) {
                    g.targets.push(target);
                }
            }
        }

        // Public subnets: a default route to an internet gateway.
        let publics: Vec<Option<bool>> = t
            .subnets
            .iter()
            .map(|s| match t.route_table_for_subnet(&s.id) {
                Some((rt, _)) => Some(rt.routes.iter().any(|r| {
                    r.destination.prefix_len() == 0
                        && matches!(&r.target, RouteTarget::Gateway(g) if g.starts_with("igw-"))
                })),
                None => self.subnet_public_hint.get(&s.id).copied(),
            })
            .collect();
        for (s, p) in t.subnets.iter_mut().zip(publics) {
            s.public = p;
        }

        (t, self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(resources: &str) -> String {
        format!(
            r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{resources}]}}"#
        )
    }

    #[test]
    fn modules_and_index_keys() {
        let s = state(
            r#"{"module":"module.vpc","mode":"managed","type":"aws_subnet","name":"s","instances":[
                {"index_key":0,"attributes":{"id":"subnet-a","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24","availability_zone":"eu-west-2a"}},
                {"index_key":1,"attributes":{"id":"subnet-b","vpc_id":"vpc-1","cidr_block":"10.0.2.0/24"}}]},
               {"module":"module.x[\"a\"]","mode":"managed","type":"aws_vpc","name":"v","instances":[
                {"index_key":"a","attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"main"}}}]}"#,
        );
        let (t, r) = import_str(&s, "t").unwrap();
        assert_eq!(t.subnets.len(), 2);
        assert_eq!(t.subnets[0].region.as_deref(), Some("eu-west-2"));
        assert_eq!(t.vpcs[0].name, "main");
        assert_eq!(r.imported_total(), 3);
        assert_eq!(r.format, StateFormat::StateV4);
    }

    #[test]
    fn instances_before_type_are_buffered() {
        let s = state(
            r#"{"instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16"}}],"mode":"managed","type":"aws_vpc","name":"v"}"#,
        );
        let (t, _) = import_str(&s, "t").unwrap();
        assert_eq!(t.vpcs.len(), 1);
    }

    #[test]
    fn unknown_types_are_counted() {
        let s = state(
            r#"{"mode":"managed","type":"aws_s3_bucket","name":"b","instances":[{"attributes":{"id":"x","deep":{"a":[1,2,{"b":null}]}}},{"attributes":{}}]},
               {"mode":"data","type":"aws_ami","name":"a","instances":[{"attributes":{"id":"ami"}}]}"#,
        );
        let (t, r) = import_str(&s, "t").unwrap();
        assert_eq!(t, Topology::default());
        assert_eq!(r.skipped.get("aws_s3_bucket"), Some(&2));
        assert_eq!(r.skipped.get("aws_ami"), Some(&1));
    }

    #[test]
    fn data_source_does_not_replace_managed() {
        let s = state(
            r#"{"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"managed"}}}]},
               {"mode":"data","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"data"}}}]}"#,
        );
        let (t, r) = import_str(&s, "t").unwrap();
        assert_eq!(t.vpcs.len(), 1);
        assert_eq!(t.vpcs[0].name, "managed");
        assert_eq!(r.data_sources, 1);
    }

    #[test]
    fn standalone_rules_routes_and_associations() {
        let s = state(
            r#"{"mode":"managed","type":"aws_security_group","name":"db","instances":[{"attributes":{"id":"sg-db","name":"db","vpc_id":"vpc-1","ingress":null,"egress":[]}}]},
               {"mode":"managed","type":"aws_security_group_rule","name":"r","instances":[{"attributes":{"type":"ingress","security_group_id":"sg-db","from_port":5432,"to_port":5432,"protocol":"tcp","source_security_group_id":"sg-app","cidr_blocks":null}}]},
               {"mode":"managed","type":"aws_vpc_security_group_ingress_rule","name":"r2","instances":[{"attributes":{"security_group_id":"sg-db","referenced_security_group_id":"sg-db","ip_protocol":"-1","from_port":null,"to_port":null}}]},
               {"mode":"managed","type":"aws_route_table","name":"rt","instances":[{"attributes":{"id":"rtb-1","vpc_id":"vpc-1","route":[{"cidr_block":"0.0.0.0/0","gateway_id":"igw-1"}]}}]},
               {"mode":"managed","type":"aws_route","name":"r","instances":[{"attributes":{"route_table_id":"rtb-1","destination_cidr_block":"10.8.0.0/24","network_interface_id":"eni-1"}}]},
               {"mode":"managed","type":"aws_route_table_association","name":"a","instances":[{"attributes":{"route_table_id":"rtb-1","subnet_id":"subnet-1"}}]},
               {"mode":"managed","type":"aws_main_route_table_association","name":"m","instances":[{"attributes":{"route_table_id":"rtb-1","vpc_id":"vpc-1"}}]},
               {"mode":"managed","type":"aws_subnet","name":"s","instances":[{"attributes":{"id":"subnet-1","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24"}}]}"#,
        );
        let (t, r) = import_str(&s, "t").unwrap();
        let sg = t.firewall("sg-db").unwrap();
        assert_eq!(sg.rules.len(), 2);
        assert_eq!(sg.rules[0].peers, vec![Peer::Group("sg-app".into())]);
        assert_eq!(
            sg.rules[0].ports,
            Some(PortRange {
                from: 5432,
                to: 5432
            })
        );
        assert_eq!(sg.rules[1].peers, vec![Peer::SelfGroup]);
        assert_eq!(sg.rules[1].protocol, Protocol::All);
        let rt = &t.route_tables[0];
        assert_eq!(rt.routes.len(), 2);
        assert!(rt.main);
        assert_eq!(rt.subnets, vec!["subnet-1".to_string()]);
        assert_eq!(t.subnets[0].public, Some(true));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn show_json_nested_modules() {
        let s = r#"{"format_version":"1.0","terraform_version":"1.3.9","values":{"root_module":{
            "resources":[{"address":"aws_vpc.v","mode":"managed","type":"aws_vpc","name":"v","values":{"id":"vpc-1","cidr_block":"10.0.0.0/16"}}],
            "child_modules":[{"address":"module.a","resources":[
                {"address":"module.a.aws_subnet.s[0]","mode":"managed","type":"aws_subnet","name":"s","index":0,"values":{"id":"subnet-1","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24"}}],
              "child_modules":[{"address":"module.a.module.b","resources":[
                {"address":"module.a.module.b.aws_instance.i","mode":"managed","type":"aws_instance","name":"i","values":{"id":"i-1","subnet_id":"subnet-1","private_ip":"10.0.1.5","source_dest_check":false}}]}]}]}}}"#;
        let (t, r) = import_str(s, "t").unwrap();
        assert_eq!(r.format, StateFormat::ShowJson);
        assert_eq!(t.hosts[0].vpc.as_deref(), Some("vpc-1"));
        assert_eq!(t.hosts[0].source_dest_check, Some(false));
        assert_eq!(r.imported_total(), 3);
    }

    #[test]
    fn v3_is_refused_clearly() {
        let e = import_str(r#"{"version":3,"modules":[]}"#, "old.tfstate").unwrap_err();
        assert!(
            matches!(e, ImportError::LegacyState { version: 3, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("version 3"));
        let e = import_str(r#"{"modules":[],"version":3}"#, "old.tfstate").unwrap_err();
        assert!(matches!(e, ImportError::LegacyState { .. }), "{e}");
    }

    #[test]
    fn errors_have_positions() {
        let e = import_str(
            "{\"version\":4,\n\"resources\":[{\"type\":\"aws_vpc\",",
            "cut",
        )
        .unwrap_err();
        match &e {
            ImportError::Parse { line, message, .. } => {
                assert_eq!(*line, 2);
                assert!(message.contains("truncated"), "{message}");
            }
            other => panic!("{other}"),
        }
        let e = import_str("{\"version\":4,\"resources\":[}", "bad").unwrap_err();
        assert!(e.to_string().starts_with("bad:1:"), "{e}");
        let e = import_str("[1,2]", "arr").unwrap_err();
        assert!(e.to_string().contains("Terraform state"), "{e}");
        let e = import_str("{\"a\":1}", "obj").unwrap_err();
        assert!(matches!(e, ImportError::NotAState { .. }), "{e}");
        let e = import_str("{\"version\":4} trailing", "t").unwrap_err();
        assert!(matches!(e, ImportError::Parse { .. }), "{e}");
        let e = import_str(
            &state(
                r#"{"mode":"managed","type":"aws_vpc","instances":[{"attributes":{"tags":[1]}}]}"#,
            ),
            "shape",
        )
        .unwrap_err();
        assert!(matches!(e, ImportError::Parse { .. }), "{e}");
    }

    #[test]
    fn lenient_values() {
        let s = state(
            r#"{"mode":"managed","type":"digitalocean_firewall","name":"f","instances":[{"attributes":{"id":"fw","name":"web","droplet_ids":[123,"456"],"tags":null,
                "inbound_rule":[{"protocol":"tcp","port_range":"8000-8080","source_addresses":["0.0.0.0/0","bogus"],"source_tags":["app"]},{"protocol":"tcp","port_range":"x"}],"outbound_rule":null}}]},
               {"mode":"managed","type":"aws_lb_target_group","name":"tg","instances":[{"attributes":{"arn":"arn:tg","port":"80"}}]}"#,
        );
        let (t, r) = import_str(&s, "t").unwrap();
        let f = &t.firewalls[0];
        assert_eq!(
            f.applies_to,
            AppliesTo::Hosts {
                ids: vec!["123".into(), "456".into()],
                labels: vec![]
            }
        );
        assert_eq!(f.rules.len(), 1);
        assert_eq!(f.rules[0].peers.len(), 2);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert_eq!(t.target_groups[0].port, Some(80));
    }

    #[test]
    fn gcp_references_match() {
        let s = state(
            r#"{"mode":"managed","type":"google_compute_network","name":"n","instances":[{"attributes":{"id":"projects/p/global/networks/net","name":"net","self_link":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net"}}]},
               {"mode":"managed","type":"google_compute_instance","name":"i","instances":[{"attributes":{"id":"projects/p/zones/z/instances/vm","name":"vm","zone":"us-east4-b","tags":["web"],"can_ip_forward":true,
                  "network_interface":[{"network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net","network_ip":"10.0.0.2","access_config":[{"nat_ip":"34.1.2.3"}]}]}}]},
               {"mode":"managed","type":"google_compute_firewall","name":"f","instances":[{"attributes":{"id":"projects/p/global/firewalls/fw","name":"fw","network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net","direction":"INGRESS","priority":900,
                  "allow":[{"protocol":"tcp","ports":["22","80-81"]}],"deny":[],"source_ranges":["10.8.0.0/24"],"target_tags":["web"]}}]}"#,
        );
        let (t, _) = import_str(&s, "t").unwrap();
        assert_eq!(t.hosts[0].vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
        assert_eq!(t.hosts[0].source_dest_check, Some(false));
        assert_eq!(t.firewalls[0].vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
        assert_eq!(t.firewalls[0].rules.len(), 2);
        assert_eq!(t.firewalls[0].rules[0].priority, 900);
    }
}
