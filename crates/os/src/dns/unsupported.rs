//! Operating systems without an implementation yet: every operation reports
//! [`OsError::Unsupported`].

use super::{DnsConfig, DnsMethod, DnsUndo};
use crate::{ApplyOptions, OsError};

/// No DNS implementation on this OS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dns;

impl Dns {
    pub(crate) async fn choose(_: DnsMethod) -> Dns {
        Dns
    }
    pub(crate) async fn apply(
        self,
        _: &str,
        _: &DnsConfig,
        _: &ApplyOptions,
    ) -> Result<Option<DnsUndo>, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn undo(_: &DnsUndo) -> Result<(), OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) fn resolv_conf_content() -> Result<Option<String>, OsError> {
        Err(OsError::Unsupported)
    }
    pub(crate) async fn resolved_state() -> Option<String> {
        None
    }
}
