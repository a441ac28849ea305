//! Lenient attribute value types: providers and Terraform versions disagree on null vs `[]` vs
//! `""`, and on numbers vs strings, so a row's attribute struct is made of these.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// A string, or nothing for null, "" and non-strings that carry no id.
#[derive(Debug, Default, Clone)]
pub(super) struct S(pub(super) Option<String>);

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
pub(super) struct N(pub(super) Option<i64>);

impl N {
    /// The number as a port, if it is one.
    pub(super) fn port(self) -> Option<u16> {
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
pub(super) struct L(pub(super) Vec<String>);

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
pub(super) struct Blocks<T>(pub(super) Vec<T>);

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
pub(super) struct Tags(pub(super) BTreeMap<String, String>);

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

/// A boolean given as a boolean or `"true"`/`"false"`; anything else is none.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct B(pub(super) Option<bool>);

impl<'de> Deserialize<'de> for B {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<B, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = B;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<B, E> {
                Ok(B(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<B, E> {
                Ok(B(match v.trim().to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                }))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<B, E> {
                Ok(B(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<B, E> {
                Ok(B(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<B, E> {
                Ok(B(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<B, E> {
                Ok(B(None))
            }
        }
        d.deserialize_any(V)
    }
}
