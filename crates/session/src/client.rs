//! The daemon back end: a client of `gatehouse daemon` over its Unix socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_ipc::{
    read_frame, write_frame, ClientMessage, ErrorKind, EventFrame, Request, Response,
    ServerMessage, PROTOCOL_VERSION,
};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::SessionError;

/// How long the daemon may take to answer the handshake or a quick request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connect or disconnect may take (DNS, netlink, nft).
const SLOW_TIMEOUT: Duration = Duration::from_secs(60);

/// One connection to the daemon.
#[derive(Debug)]
pub struct DaemonClient {
    socket: PathBuf,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    next_id: u64,
}

impl DaemonClient {
    /// Connects to `socket` and does the version handshake.
    pub async fn connect(socket: &Path) -> Result<DaemonClient, SessionError> {
        let stream = UnixStream::connect(socket).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                SessionError::Refused(gatehouse_ipc::ErrorReply::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "permission denied on {}: {}",
                        socket.display(),
                        gatehouse_ipc::access_hint(
                            &socket.display().to_string(),
                            gatehouse_ipc::GROUP
                        )
                    ),
                ))
            } else {
                SessionError::Unreachable {
                    socket: socket.to_path_buf(),
                    source: e,
                }
            }
        })?;
        let (read, write) = stream.into_split();
        let mut client = DaemonClient {
            socket: socket.to_path_buf(),
            read,
            write,
            next_id: 1,
        };
        let sent = write_frame(
            &mut client.write,
            &ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                client: format!("gatehouse-session {}", env!("CARGO_PKG_VERSION")),
            },
        )
        .await;
        // A daemon that refuses us may answer and close before reading the hello: read its
        // answer even when the write failed.
        let answer = client.read_message(TIMEOUT).await;
        let answer = match (sent, answer) {
            (_, Ok(m)) => m,
            (Err(e), Err(_)) => return Err(e.into()),
            (Ok(()), Err(e)) => return Err(e),
        };
        match answer {
            ServerMessage::Welcome { version, .. } if version == PROTOCOL_VERSION => Ok(client),
            ServerMessage::Welcome { version, daemon } => {
                Err(SessionError::Refused(gatehouse_ipc::ErrorReply::new(
                    ErrorKind::Version,
                    format!(
                        "the daemon ({daemon}) speaks protocol version {version}, this client \
                         speaks {PROTOCOL_VERSION}"
                    ),
                )))
            }
            ServerMessage::Error(e) => Err(SessionError::Refused(e)),
            other => Err(SessionError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn read_message(&mut self, timeout: Duration) -> Result<ServerMessage, SessionError> {
        match tokio::time::timeout(timeout, read_frame::<_, ServerMessage>(&mut self.read)).await {
            Err(_) => Err(SessionError::Timeout),
            Ok(Ok(Some(m))) => Ok(m),
            Ok(Ok(None)) => Err(SessionError::Closed),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Sends `request` and waits for its response (events arriving meanwhile are dropped: use a
    /// separate connection for subscriptions, see [`DaemonClient::subscribe`]).
    pub async fn request(&mut self, request: Request) -> Result<Response, SessionError> {
        let id = self.next_id;
        self.next_id += 1;
        let timeout = match request {
            Request::Connect(_) | Request::Disconnect { .. } => SLOW_TIMEOUT,
            _ => TIMEOUT,
        };
        write_frame(&mut self.write, &ClientMessage::Request { id, request }).await?;
        loop {
            match self.read_message(timeout).await? {
                ServerMessage::Response { id: got, response } if got == id => {
                    return match response {
                        Response::Error(e) => Err(SessionError::Refused(e)),
                        r => Ok(r),
                    }
                }
                ServerMessage::Error(e) => return Err(SessionError::Refused(e)),
                _ => continue,
            }
        }
    }

    /// Turns this connection into an event stream.
    pub async fn subscribe(mut self) -> Result<DaemonEvents, SessionError> {
        match self.request(Request::Subscribe).await? {
            Response::Subscribed => Ok(DaemonEvents { client: self }),
            other => Err(SessionError::Unexpected(format!("{other:?}"))),
        }
    }
}

/// Events from the daemon.
#[derive(Debug)]
pub struct DaemonEvents {
    client: DaemonClient,
}

impl DaemonEvents {
    /// The next event; `Ok(None)` when the daemon closed the stream.
    pub async fn recv(&mut self) -> Result<Option<EventFrame>, SessionError> {
        loop {
            match read_frame::<_, ServerMessage>(&mut self.client.read).await? {
                Some(ServerMessage::Event(f)) => return Ok(Some(f)),
                Some(ServerMessage::Error(e)) => return Err(SessionError::Refused(e)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}
