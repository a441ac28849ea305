//! The socket server.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_ipc::{
    read_frame, write_frame, ClientMessage, ErrorKind, ErrorReply, FrameError, Request, Response,
    ServerMessage, PROTOCOL_VERSION,
};
use gatehouse_session::{Engine, EngineOptions};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::access::{groups_of_pid, Access};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The socket path (`/run/gatehouse/gatehouse.sock`).
    pub socket: PathBuf,
    /// Journal and backups (`/var/lib/gatehouse`).
    pub state_dir: PathBuf,
    /// The group allowed besides root (`gatehouse`).
    pub group: String,
    /// Messages queued for one client before it counts as not reading.
    pub client_queue: usize,
    /// Events queued for one subscription before it counts as not reading.
    pub event_queue: usize,
    /// How long one write to a client may block.
    pub write_timeout: Duration,
    /// How long a new client has to say hello.
    pub hello_timeout: Duration,
    /// Timing of the connection state machine (Stale after 180 s by default).
    pub machine: gatehouse_session::machine::MachineConfig,
}

impl DaemonOptions {
    /// The defaults for `socket` and `state_dir`.
    pub fn new(socket: PathBuf, state_dir: PathBuf) -> DaemonOptions {
        DaemonOptions {
            socket,
            state_dir,
            group: gatehouse_ipc::GROUP.to_owned(),
            client_queue: 256,
            event_queue: 1024,
            write_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(10),
            machine: gatehouse_session::machine::MachineConfig::default(),
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon answers on the socket.
    #[error("another gatehouse daemon is already serving {}", .0.display())]
    AlreadyRunning(PathBuf),
    /// A file or directory could not be set up.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The engine could not start (state directory).
    #[error("{0}")]
    Engine(ErrorReply),
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DaemonError + 'a {
    move |source| DaemonError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

struct Shared {
    engine: Engine,
    access: Access,
    opts: DaemonOptions,
    clients: AtomicU64,
}

/// Serves until `shutdown` completes, then disconnects every tunnel and removes the socket.
/// A journal left by a previous run is undone before the socket opens.
pub async fn run(
    opts: DaemonOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let socket = opts.socket.clone();
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .map_err(io_err("cannot set the mode of", dir))?;
        }
    }
    if socket.exists() {
        if UnixStream::connect(&socket).await.is_ok() {
            return Err(DaemonError::AlreadyRunning(socket));
        }
        std::fs::remove_file(&socket).map_err(io_err("cannot remove the stale socket", &socket))?;
    }
    std::fs::create_dir_all(&opts.state_dir).map_err(io_err("cannot create", &opts.state_dir))?;
    std::fs::set_permissions(&opts.state_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io_err("cannot set the mode of", &opts.state_dir))?;
    let engine = Engine::new(EngineOptions {
        machine: opts.machine,
        ..EngineOptions::new(opts.state_dir.clone())
    })
    .map_err(DaemonError::Engine)?;
    let rec = engine.recover().await;
    for name in &rec.replayed {
        tracing::warn!(profile = %name, "undid the host changes of a tunnel left by a previous run");
    }
    for name in &rec.kept {
        tracing::info!(profile = %name, "a tunnel of another running process (a foreground `gatehouse up`) is left as it is");
    }
    for f in &rec.failures {
        tracing::error!("journal recovery: {f}");
    }

    let listener = UnixListener::bind(&socket).map_err(io_err("cannot listen on", &socket))?;
    let access = Access::for_group(&opts.group);
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))
        .map_err(io_err("cannot set the mode of", &socket))?;
    if let Some(gid) = access.gid {
        std::os::unix::fs::chown(&socket, None, Some(gid))
            .map_err(io_err("cannot give the group the socket", &socket))?;
    } else {
        tracing::warn!(group = %opts.group, "the group does not exist: only root may connect \
            (`gatehouse service install` creates it)");
    }
    tracing::info!(socket = %socket.display(), "gatehouse daemon listening");

    let shared = Arc::new(Shared {
        engine: engine.clone(),
        access,
        opts,
        clients: AtomicU64::new(0),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let sh = Arc::clone(&shared);
                    tasks.spawn(async move { serve(sh, stream).await });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("shutting down: disconnecting every tunnel");
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    tasks.abort_all();
    engine.shutdown().await;
    Ok(())
}

async fn send_error_and_close(mut write: OwnedWriteHalf, reply: ErrorReply, timeout: Duration) {
    let _ = tokio::time::timeout(
        timeout,
        write_frame(&mut write, &ServerMessage::Error(reply)),
    )
    .await;
    let _ = tokio::time::timeout(timeout, tokio::io::AsyncWriteExt::shutdown(&mut write)).await;
}

fn frame_reply(e: &FrameError) -> ErrorReply {
    ErrorReply::new(ErrorKind::Protocol, format!("{e}; closing the connection"))
}

async fn serve(shared: Arc<Shared>, stream: UnixStream) {
    let n = shared.clients.fetch_add(1, Ordering::Relaxed) + 1;
    let cred = stream.peer_cred().ok();
    let (uid, gid, pid) = cred
        .map(|c| (c.uid(), c.gid(), c.pid().unwrap_or(0)))
        .unwrap_or((u32::MAX, u32::MAX, 0));
    let (mut read, write) = stream.into_split();
    let timeout = shared.opts.write_timeout;
    let groups = groups_of_pid(pid);
    if cred.is_none() || !shared.access.allows(uid, gid, groups.as_deref()) {
        tracing::info!(client = n, uid, pid, "refused: not root nor in the group");
        // Take the hello first (briefly), so the client is reading when the answer comes
        // rather than writing into a closed socket.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            read_frame::<_, ClientMessage>(&mut read),
        )
        .await;
        let socket = shared.opts.socket.display().to_string();
        let reply = ErrorReply::new(
            ErrorKind::PermissionDenied,
            format!(
                "permission denied for uid {uid}: {}",
                gatehouse_ipc::access_hint(&socket, &shared.access.group)
            ),
        );
        send_error_and_close(write, reply, timeout).await;
        return;
    }

    // Handshake.
    let hello = tokio::time::timeout(
        shared.opts.hello_timeout,
        read_frame::<_, ClientMessage>(&mut read),
    )
    .await;
    match hello {
        Ok(Ok(Some(ClientMessage::Hello { version, client }))) if version == PROTOCOL_VERSION => {
            tracing::debug!(client = n, uid, pid, %client, "client connected");
        }
        Ok(Ok(Some(ClientMessage::Hello { version, .. }))) => {
            let reply = ErrorReply::new(
                ErrorKind::Version,
                format!(
                    "the client speaks protocol version {version}, this daemon speaks version \
                     {PROTOCOL_VERSION}: use a gatehouse of the same release"
                ),
            );
            send_error_and_close(write, reply, timeout).await;
            return;
        }
        Ok(Ok(Some(ClientMessage::Request { .. }))) => {
            let reply = ErrorReply::new(
                ErrorKind::Protocol,
                format!("the first message must be hello (protocol version {PROTOCOL_VERSION})"),
            );
            send_error_and_close(write, reply, timeout).await;
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::info!(client = n, uid, pid, "dropped: {e}");
            send_error_and_close(write, frame_reply(&e), timeout).await;
            return;
        }
        Err(_) => {
            let reply = ErrorReply::new(ErrorKind::Protocol, "no hello in time");
            send_error_and_close(write, reply, timeout).await;
            return;
        }
    }

    // The writer task owns the socket's write half; everything else goes through `out`.
    let (out, mut out_rx) = mpsc::channel::<ServerMessage>(shared.opts.client_queue);
    let writer = tokio::spawn(async move {
        let mut write = write;
        while let Some(msg) = out_rx.recv().await {
            let last = matches!(msg, ServerMessage::Error(_));
            match tokio::time::timeout(timeout, write_frame(&mut write, &msg)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
            if last {
                break;
            }
        }
        let _ = tokio::time::timeout(timeout, tokio::io::AsyncWriteExt::shutdown(&mut write)).await;
    });
    let _ = out.try_send(ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        daemon: format!("gatehouse {}", env!("CARGO_PKG_VERSION")),
    });

    let mut forwarder: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let msg = match read_frame::<_, ClientMessage>(&mut read).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                tracing::info!(client = n, uid, pid, "dropped: {e}");
                let _ = out.try_send(ServerMessage::Error(frame_reply(&e)));
                break;
            }
        };
        let (id, request) = match msg {
            ClientMessage::Request { id, request } => (id, request),
            ClientMessage::Hello { .. } => {
                let _ = out.try_send(ServerMessage::Error(ErrorReply::new(
                    ErrorKind::Protocol,
                    "hello sent twice; closing the connection",
                )));
                break;
            }
        };
        let response = match request {
            Request::Connect(req) => {
                tracing::info!(client = n, uid, pid, profile = %req.name,
                    kill_switch = req.kill_switch, "connect");
                match shared.engine.connect(req.clone()).await {
                    Ok(interface) => Response::Connected {
                        name: req.name.clone(),
                        interface,
                    },
                    Err(e) => Response::Error(e),
                }
            }
            Request::Disconnect { name } => {
                tracing::info!(client = n, uid, pid, profile = %name, "disconnect");
                match shared.engine.disconnect(&name).await {
                    Ok(()) => Response::Disconnected { name },
                    Err(e) => Response::Error(e),
                }
            }
            Request::Status => Response::Status(shared.engine.status()),
            Request::Subscribe => {
                if forwarder.is_some() {
                    Response::Error(ErrorReply::new(ErrorKind::BadRequest, "already subscribed"))
                } else {
                    let mut sub = shared.engine.subscribe(shared.opts.event_queue);
                    let out2 = out.clone();
                    // Queue the response before the first event can.
                    if out
                        .try_send(ServerMessage::Response {
                            id,
                            response: Response::Subscribed,
                        })
                        .is_err()
                    {
                        break;
                    }
                    forwarder = Some(tokio::spawn(async move {
                        while let Some(frame) = sub.recv().await {
                            if out2.send(ServerMessage::Event(frame)).await.is_err() {
                                return;
                            }
                        }
                        if sub.overflowed() {
                            let _ = out2.try_send(ServerMessage::Error(ErrorReply::new(
                                ErrorKind::TooSlow,
                                "events were not read fast enough; closing the connection",
                            )));
                        }
                    }));
                    continue;
                }
            }
        };
        match out.try_send(ServerMessage::Response { id, response }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(client = n, uid, pid, "dropped: not reading its responses");
                break;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    if let Some(f) = forwarder {
        f.abort();
    }
    drop(out);
    // Let queued messages (an error) go out, within the write timeout.
    let _ = tokio::time::timeout(timeout, writer).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_session::{DaemonClient, SessionError};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The daemon on a temporary socket, allowing this process's own group (so the test runs
    /// without root); no tunnel is started.
    #[test]
    fn serves_status_and_refuses_bad_frames_and_versions() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let group = nix::unistd::Group::from_gid(nix::unistd::getegid())
            .ok()
            .flatten()
            .map(|g| g.name)
            .unwrap_or_else(|| "root".into());
        let socket = dir.path().join("run").join("gh.sock");
        let opts = DaemonOptions {
            group,
            ..DaemonOptions::new(socket.clone(), dir.path().join("state"))
        };
        rt.block_on(async move {
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(run(opts, async move {
                let _ = stop_rx.await;
            }));
            let mut up = false;
            for _ in 0..100 {
                if socket.exists() {
                    up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(up, "no socket");
            let mode = std::fs::metadata(&socket)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o660);

            // A good client.
            let mut c = DaemonClient::connect(&socket)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            match c.request(Request::Status).await {
                Ok(Response::Status(s)) => assert!(s.tunnels.is_empty()),
                other => panic!("{other:?}"),
            }
            let e = c
                .request(Request::Disconnect {
                    name: "nope".into(),
                })
                .await
                .err();
            assert!(matches!(&e, Some(SessionError::Refused(r)) if r.kind == ErrorKind::NotFound));

            // Oversize prefix: an error frame, then the end.
            let mut raw = UnixStream::connect(&socket)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            raw.write_all(&[0xff, 0xff, 0xff, 0xff])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let msg: Option<ServerMessage> = read_frame(&mut raw).await.unwrap_or(None);
            assert!(
                matches!(msg, Some(ServerMessage::Error(ref r)) if r.kind == ErrorKind::Protocol)
            );
            let mut rest = Vec::new();
            let _ = raw.read_to_end(&mut rest).await;
            assert!(rest.is_empty());

            // Wrong version.
            let mut raw = UnixStream::connect(&socket)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            write_frame(
                &mut raw,
                &ClientMessage::Hello {
                    version: PROTOCOL_VERSION + 1,
                    client: "t".into(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let msg: Option<ServerMessage> = read_frame(&mut raw).await.unwrap_or(None);
            match msg {
                Some(ServerMessage::Error(r)) => {
                    assert_eq!(r.kind, ErrorKind::Version);
                    assert!(r.message.contains(&(PROTOCOL_VERSION + 1).to_string()));
                }
                other => panic!("{other:?}"),
            }

            // The good client is still served.
            assert!(matches!(
                c.request(Request::Status).await,
                Ok(Response::Status(_))
            ));
            let _ = stop_tx.send(());
            let r = server.await;
            assert!(matches!(r, Ok(Ok(()))));
            assert!(!socket.exists(), "socket left behind");
        });
    }
}
