//! What AWS resources of one import gather for each other, resolved once every resource is in,
//! and a lenient boolean.
//!
//! A DB instance names its subnet group, a network ACL association names its ACL, a transit
//! gateway propagation names an attachment: either side may come first in the file. Each family
//! of resources gathers what it learns into one value of its own type ([`Deferred`]); the first
//! resource of the family registers a single [`Builder::later`] fix-up that resolves the whole
//! value, so the result does not depend on the order of the resources.
//!
//! The value lives in an `Rc` owned by that fix-up; a thread-local table keyed by the builder's
//! address (which does not move while resources are read) and the value's type holds a weak
//! reference to it, so resources read after the first find it. When the builder is dropped (the
//! import finished or failed), the fix-up and the value go with it and the weak reference dies:
//! a later import never sees stale values. (A typed slot on the builder would replace this
//! table.)

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::super::builder::Builder;
use crate::model::Topology;

/// A family's gathered cross references.
pub(super) trait Deferred: Default + 'static {
    /// Applies what was gathered to the topology; returns warnings.
    fn resolve(self, t: &mut Topology) -> Vec<String>;
}

type Slot = (usize, TypeId, Weak<dyn Any>);

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the family value `T` of the import `b` is building (created, with its fix-up,
/// on first use).
pub(super) fn gather<T: Deferred>(b: &mut Builder, f: impl FnOnce(&mut T)) {
    let key = (b as *const Builder as usize, TypeId::of::<T>());
    let found = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|(_, _, w)| w.strong_count() > 0);
        s.iter()
            .find(|(a, t, _)| (*a, *t) == key)
            .and_then(|(_, _, w)| w.upgrade())
    });
    let rc = match found.and_then(|a| a.downcast::<RefCell<T>>().ok()) {
        Some(rc) => rc,
        None => {
            let rc = Rc::new(RefCell::new(T::default()));
            let any: Rc<dyn Any> = rc.clone();
            SLOTS.with(|s| s.borrow_mut().push((key.0, key.1, Rc::downgrade(&any))));
            let held = rc.clone();
            b.later(move |t| held.take().resolve(t));
            rc
        }
    };
    f(&mut rc.borrow_mut());
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
