//! The streaming reader: visitors and seeds that walk a state file (`resources` → `instances`
//! → `attributes`) or `terraform show -json` output (`values` → modules → `resources` →
//! `values`) and hand each resource instance's attributes to its row, one at a time.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{decoder, Builder, StateFormat};

/// The root object of either format.
pub(super) struct RootVisitor<'a>(pub(super) &'a mut Builder);

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
    managed: bool,
}

impl Elem for Instances<'_> {
    fn visit<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<(), D::Error> {
        InstanceSeed {
            b: &mut *self.b,
            ty: self.ty,
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
                    Some(t) => map.next_value_seed(SeqOf(&mut Instances {
                        b: &mut *b,
                        ty: t,
                        managed,
                    }))?,
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
            SeqOf(&mut Instances {
                b: &mut *b,
                ty: &t,
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
                    managed: self.managed,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            // Legacy `attributes_flat` or nothing at all: nothing the model can use.
            self.b.skipped(self.ty);
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
            AttrsSeed { b, ty: &t, managed }
                .deserialize(v)
                .map_err(de::Error::custom)?;
        } else if !seen {
            b.skipped(&t);
        }
        Ok(())
    }
}

/// The attributes of one resource instance, read by the row of its type; an instance of a type
/// no row reads is skipped without being kept.
struct AttrsSeed<'a> {
    b: &'a mut Builder,
    ty: &'a str,
    managed: bool,
}

impl<'de> DeserializeSeed<'de> for AttrsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let Some(decode) = decoder::<D>(self.ty) else {
            IgnoredAny::deserialize(d)?;
            self.b.skipped(self.ty);
            return Ok(());
        };
        decode(d, self.b, self.managed)?;
        self.b.imported(self.ty, self.managed);
        Ok(())
    }
}
