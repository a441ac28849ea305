//! The one session API of Gatehouse: connect a profile, disconnect it, read the status, follow
//! the events. The CLI uses it now, the desktop app later; both never care where the tunnels
//! run:
//!
//! - [`Session::Daemon`]: the privileged service (`gatehouse daemon`) over its Unix socket,
//!   for unprivileged callers ([`client`]);
//! - [`Session::InProcess`]: the tunnels run in this process ([`engine`]), for root and for a
//!   no-root mode.
//!
//! Each profile's connection follows the state machine of [`machine`]; what the host gets is
//! recorded beforehand in the [`journal`]; the opt-in kill switch is in [`killswitch`].

pub mod client;
pub mod convert;
pub mod engine;
pub mod hub;
pub mod journal;
pub mod killswitch;
pub mod machine;

use std::path::{Path, PathBuf};

pub use client::{DaemonClient, DaemonEvents};
pub use engine::{Engine, EngineOptions, Recovery};
pub use gatehouse_ipc::{
    ConnectRequest, ConnectionState, ErrorKind, ErrorReply, Event, EventFrame, StatusReport,
    TunnelStatus,
};
pub use hub::Subscription;

/// The environment variable that names the daemon's socket (what the CLI's `--socket` reads).
pub const SOCKET_ENV: &str = "GATEHOUSE_SOCKET";

/// The daemon's socket: `$GATEHOUSE_SOCKET` when set, else [`gatehouse_ipc::DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(gatehouse_ipc::DEFAULT_SOCKET))
}

/// Why a session call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No daemon answers on the socket (not running, or a stale socket file).
    #[error("cannot reach the Gatehouse service at {}: {source}", socket.display())]
    Unreachable {
        /// The socket path.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The request was refused or failed; the message says why (and, for access, how to get
    /// it).
    #[error("{0}")]
    Refused(ErrorReply),
    /// A message could not be read or written.
    #[error("talking to the Gatehouse service: {0}")]
    Frame(#[from] gatehouse_ipc::FrameError),
    /// The daemon did not answer in time.
    #[error("the Gatehouse service did not answer in time")]
    Timeout,
    /// The daemon closed the connection.
    #[error("the Gatehouse service closed the connection")]
    Closed,
    /// The daemon answered something that does not fit the request.
    #[error("unexpected answer from the Gatehouse service: {0}")]
    Unexpected(String),
}

impl SessionError {
    /// The error category when the daemon (or engine) refused the request.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            SessionError::Refused(e) => Some(e.kind),
            _ => None,
        }
    }
}

/// Where the tunnels run.
#[derive(Clone)]
pub enum Session {
    /// In the daemon, reached over its socket (one connection per call).
    Daemon {
        /// The socket path.
        socket: PathBuf,
    },
    /// In this process.
    InProcess(Engine),
}

/// An event stream of either back end.
#[derive(Debug)]
pub enum Events {
    /// From the daemon.
    Daemon(DaemonEvents),
    /// From the in-process engine.
    InProcess(Subscription),
}

impl Events {
    /// The next event; `Ok(None)` at the end of the stream.
    pub async fn recv(&mut self) -> Result<Option<EventFrame>, SessionError> {
        match self {
            Events::Daemon(d) => d.recv().await,
            Events::InProcess(s) => match s.recv().await {
                Some(f) => Ok(Some(f)),
                None if s.overflowed() => Err(SessionError::Refused(ErrorReply::new(
                    ErrorKind::TooSlow,
                    "events were not read fast enough; subscription dropped",
                ))),
                None => Ok(None),
            },
        }
    }
}

/// Queue length of an in-process subscription.
const EVENT_QUEUE: usize = 1024;

impl Session {
    /// A session with the daemon at `socket`, checked by a handshake.
    pub async fn daemon(socket: &Path) -> Result<Session, SessionError> {
        DaemonClient::connect(socket).await?;
        Ok(Session::Daemon {
            socket: socket.to_path_buf(),
        })
    }

    /// A session running tunnels in this process, its journal under `state_dir`; a journal
    /// left by a crash is undone first.
    pub async fn in_process(state_dir: &Path) -> Result<Session, SessionError> {
        let engine = Engine::new(EngineOptions::new(state_dir.to_path_buf()))
            .map_err(SessionError::Refused)?;
        let rec = engine.recover().await;
        for f in rec.failures {
            tracing::warn!("journal recovery: {f}");
        }
        Ok(Session::InProcess(engine))
    }

    /// Brings a profile up; returns its interface.
    pub async fn connect(&self, req: ConnectRequest) -> Result<String, SessionError> {
        match self {
            Session::Daemon { socket } => {
                let mut c = DaemonClient::connect(socket).await?;
                match c.request(gatehouse_ipc::Request::Connect(req)).await? {
                    gatehouse_ipc::Response::Connected { interface, .. } => Ok(interface),
                    other => Err(SessionError::Unexpected(format!("{other:?}"))),
                }
            }
            Session::InProcess(e) => e.connect(req).await.map_err(SessionError::Refused),
        }
    }

    /// Brings a profile down.
    pub async fn disconnect(&self, name: &str) -> Result<(), SessionError> {
        match self {
            Session::Daemon { socket } => {
                let mut c = DaemonClient::connect(socket).await?;
                match c
                    .request(gatehouse_ipc::Request::Disconnect {
                        name: name.to_owned(),
                    })
                    .await?
                {
                    gatehouse_ipc::Response::Disconnected { .. } => Ok(()),
                    other => Err(SessionError::Unexpected(format!("{other:?}"))),
                }
            }
            Session::InProcess(e) => e.disconnect(name).await.map_err(SessionError::Refused),
        }
    }

    /// The running tunnels.
    pub async fn status(&self) -> Result<StatusReport, SessionError> {
        match self {
            Session::Daemon { socket } => {
                let mut c = DaemonClient::connect(socket).await?;
                match c.request(gatehouse_ipc::Request::Status).await? {
                    gatehouse_ipc::Response::Status(s) => Ok(s),
                    other => Err(SessionError::Unexpected(format!("{other:?}"))),
                }
            }
            Session::InProcess(e) => Ok(e.status()),
        }
    }

    /// Follows state changes, stats and log lines from now on.
    pub async fn subscribe(&self) -> Result<Events, SessionError> {
        match self {
            Session::Daemon { socket } => {
                let c = DaemonClient::connect(socket).await?;
                Ok(Events::Daemon(c.subscribe().await?))
            }
            Session::InProcess(e) => Ok(Events::InProcess(e.subscribe(EVENT_QUEUE))),
        }
    }
}
