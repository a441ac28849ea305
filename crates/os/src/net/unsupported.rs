//! Operating systems without an implementation yet: every operation reports
//! [`OsError::Unsupported`].

use super::{NetUndo, Plan};
use crate::snapshot::{AddressEntry, RouteEntry, RuleEntry};
use crate::{HostConfig, OsError, UndoAction};

/// No network implementation on this OS.
pub(crate) struct Network;

impl Network {
    pub(crate) fn open() -> Result<Network, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn plan(&self, _: &HostConfig) -> Result<Plan, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn apply(
        &self,
        _: &HostConfig,
        _: &Plan,
        _: &mut Vec<UndoAction>,
    ) -> Result<u32, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn undo(&self, _: &NetUndo) -> Result<(), OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn addresses(&self) -> Result<Vec<AddressEntry>, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn route_entries(&self) -> Result<Vec<RouteEntry>, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn rule_entries(&self) -> Result<Vec<RuleEntry>, OsError> {
        Err(OsError::Unsupported)
    }
}
