//! Moving bytes between a local [`TcpStream`] and a [`TcpPipe`] into the tunnel.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stack::{TcpPipe, CHUNK};

/// First read size; doubled (up to [`CHUNK`]) each time a read fills the buffer, so idle or
/// chatty connections keep small buffers and bulk transfers get large ones.
const FIRST_READ: usize = 4 * 1024;

/// Relays until both directions ended. `initial` is sent first (bytes the client sent after
/// its proxy request, or a rewritten request head).
pub(crate) async fn relay(stream: TcpStream, pipe: TcpPipe, initial: Vec<u8>) {
    let TcpPipe { tx, mut rx, notify } = pipe;
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let up_notify = notify.clone();
    let up = async move {
        if !initial.is_empty() {
            if tx.send(initial).await.is_err() {
                return;
            }
            up_notify.notify_one();
        }
        let mut size = FIRST_READ;
        let mut buf = vec![0u8; size];
        loop {
            let read = tokio::select! {
                r = rd.read(&mut buf) => r,
                // The connection ended on the tunnel side (reset, idle timeout): stop reading.
                _ = tx.closed() => return,
            };
            match read {
                Ok(0) => {
                    // Orderly end: FIN into the tunnel.
                    let _ = tx.send(Vec::new()).await;
                    up_notify.notify_one();
                    return;
                }
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    if n == size && size < CHUNK {
                        size *= 2;
                        buf = vec![0u8; size];
                    }
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                    up_notify.notify_one();
                }
                // Reset by the client: dropping `tx` without an end marker aborts.
                Err(_) => return,
            }
        }
    };
    let down = async move {
        while let Some(chunk) = rx.recv().await {
            notify.notify_one();
            if wr.write_all(&chunk).await.is_err() {
                // Dropping `rx` tells the core nobody reads: it aborts the connection.
                return;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), wr.shutdown()).await;
    };
    tokio::join!(up, down);
}
