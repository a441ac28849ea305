//! The Gatehouse service (the privileged daemon): whether it answers, its tunnels, a session
//! with it.

use std::path::Path;
use std::time::Duration;

use gatehouse_session::{DaemonClient, Session, SessionError, StatusReport};

use crate::settings::ServiceInfo;

/// How long the service may take to answer the handshake of a status probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A session with the service at `socket`.
pub fn session(socket: &Path) -> Session {
    Session::Daemon {
        socket: socket.to_path_buf(),
    }
}

/// Whether the Gatehouse service answers on `socket`.
pub async fn info(socket: &Path) -> ServiceInfo {
    let probe = tokio::time::timeout(PROBE_TIMEOUT, DaemonClient::connect(socket));
    let socket = socket.display().to_string();
    let (available, detail) = match probe.await {
        Ok(Ok(_)) => (
            true,
            format!(
                "The Gatehouse service answers at {socket}: connections get a network \
                 interface of their own."
            ),
        ),
        Ok(Err(SessionError::Unreachable { .. })) => (
            false,
            format!(
                "The Gatehouse service is not running at {socket}: connections run in the \
                 app without root, through a SOCKS5/HTTP proxy on 127.0.0.1."
            ),
        ),
        Ok(Err(e)) => (
            false,
            format!("The Gatehouse service at {socket} refused: {e}."),
        ),
        Err(_) => (
            false,
            format!("The Gatehouse service at {socket} did not answer in time."),
        ),
    };
    ServiceInfo {
        available,
        socket,
        detail,
    }
}

/// The service's tunnels (none when it does not answer in time).
pub async fn status(socket: &Path) -> Option<StatusReport> {
    match tokio::time::timeout(PROBE_TIMEOUT, session(socket).status()).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!("service status: {e}");
            None
        }
        Err(_) => None,
    }
}
