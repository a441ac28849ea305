//! Why an import failed, and which failures of an optional call are refusals.

use super::Service;

/// Why an import failed. No variant ever holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The request could not be made or answered (connection refused, timeout…).
    #[error("{} {action} in {region}: {message}", .service.label())]
    Transport {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What failed.
        message: String,
    },
    /// AWS answered with an error status (after the retries of a transient one).
    #[error("{} {action} in {region}: HTTP {status}{}{}{}", .service.label(),
        if .code.is_empty() { String::new() } else { format!(" {}", .code) },
        if .message.is_empty() { String::new() } else { format!(": {}", .message) },
        if *.attempts > 1 { format!(" ({} attempts)", .attempts) } else { String::new() })]
    Status {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// The HTTP status.
        status: u16,
        /// The AWS error code (`AuthFailure`, `UnauthorizedOperation`…), when sent.
        code: String,
        /// The AWS error message, when sent.
        message: String,
        /// Attempts made (more than one for a retried 5xx or throttling error).
        attempts: u32,
    },
    /// The body is not the expected XML (JSON for EKS).
    #[error("{} {action} in {region}: unexpected response: {message}", .service.label())]
    Body {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What is wrong (with line:column for XML syntax errors).
        message: String,
    },
    /// Pages kept coming, or a page token came back twice.
    #[error("{} {action} in {region}: {message}", .service.label())]
    Paging {
        /// The service.
        service: Service,
        /// The action.
        action: &'static str,
        /// The region.
        region: String,
        /// What went wrong.
        message: String,
    },
    /// The mapped attributes were refused by the state importer (a bug, reported plainly).
    #[error("mapping the answers of {region}: {message}")]
    Mapping {
        /// The region.
        region: String,
        /// What failed.
        message: String,
    },
}

impl AwsError {
    /// The HTTP status, when AWS answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            AwsError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether AWS refused the call itself rather than failed: the caller may not make it
    /// (HTTP 403, `AccessDenied`, `UnauthorizedOperation`), the service is not offered there
    /// (404, 501, `OptInRequired`, `InvalidAction`, `UnsupportedOperation`…). An optional call
    /// so refused is a warning; a 5xx, a timeout or a bad answer stays an error.
    pub fn refused(&self) -> bool {
        const CODES: &[&str] = &[
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "UnauthorizedException",
            "OptInRequired",
            "InvalidAction",
            "UnsupportedOperation",
            "UnknownOperationException",
            "NotImplemented",
        ];
        match self {
            AwsError::Status { status, code, .. } => {
                matches!(status, 403 | 404 | 501) || CODES.contains(&code.as_str())
            }
            _ => false,
        }
    }
}
