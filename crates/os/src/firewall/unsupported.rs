//! Operating systems without an implementation yet: every operation reports
//! [`OsError::Unsupported`].

use super::{FirewallSpec, FirewallUndo};
use crate::OsError;

/// No packet filter implementation on this OS.
pub(crate) struct Firewall;

impl Firewall {
    pub(crate) async fn apply(_: &str, _: &FirewallSpec) -> Result<Option<FirewallUndo>, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn undo(_: &FirewallUndo) -> Result<(), OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn tables() -> Option<Vec<String>> {
        None
    }
}
