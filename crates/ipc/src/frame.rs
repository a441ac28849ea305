//! Length-prefixed frames: `u32` big-endian length, then the JSON body.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest body accepted (1 MiB). A status report of many tunnels is a few KiB.
pub const MAX_FRAME: u32 = 1 << 20;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// A frame that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than [`MAX_FRAME`]; nothing was allocated.
    #[error("frame of {len} bytes announced, more than the limit of {MAX_FRAME} bytes")]
    TooLarge {
        /// The announced length.
        len: u64,
    },
    /// The stream ended inside a frame.
    #[error("connection closed inside a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced (header included).
        expected: usize,
    },
    /// The body is not the JSON of the expected message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Reading or writing the socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// The frame (prefix and body) of `msg`.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; HEADER_LEN];
    serde_json::to_writer(&mut out, msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = out.len() - HEADER_LEN;
    let len32 = u32::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_FRAME)
        .ok_or(FrameError::TooLarge { len: len as u64 })?;
    out[..HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(out)
}

fn check_len(header: [u8; HEADER_LEN]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
        });
    }
    Ok(len as usize)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    // serde_json's messages name line and column, never the input itself: safe for secrets.
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Reads one frame and parses it. `Ok(None)` when the stream ends cleanly between frames.
/// The body buffer is zeroed after parsing (it may hold keys).
pub async fn read_frame<R, T>(reader: &mut R) -> Result<Option<T>, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = reader.read(&mut header[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(FrameError::Truncated {
                got,
                expected: HEADER_LEN,
            });
        }
        got += n;
    }
    let len = check_len(header)?;
    let mut body = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = reader.read(&mut body[filled..]).await?;
        if n == 0 {
            zeroize::Zeroize::zeroize(&mut body);
            return Err(FrameError::Truncated {
                got: HEADER_LEN + filled,
                expected: HEADER_LEN + len,
            });
        }
        filled += n;
    }
    let parsed = parse(&body);
    zeroize::Zeroize::zeroize(&mut body);
    parsed.map(Some)
}

/// Writes one message as a frame and flushes. The encoded buffer is zeroed afterwards.
pub async fn write_frame<W, T>(writer: &mut W, msg: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let mut bytes = encode(msg)?;
    let result = async {
        writer.write_all(&bytes).await?;
        writer.flush().await
    }
    .await;
    zeroize::Zeroize::zeroize(&mut bytes);
    result.map_err(FrameError::Io)
}

/// A sans-IO frame decoder: feed it bytes as they come, take whole frames out.
#[derive(Debug, Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
}

impl FrameBuf {
    /// An empty decoder.
    pub fn new() -> FrameBuf {
        FrameBuf::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not make a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, parsed; `Ok(None)` when more bytes are needed. An oversize prefix
    /// is reported as soon as the 4 header bytes are in, before the body arrives.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[..HEADER_LEN]);
        let len = check_len(header)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let mut frame: Vec<u8> = self.buf.drain(..HEADER_LEN + len).collect();
        let parsed = parse(&frame[HEADER_LEN..]);
        zeroize::Zeroize::zeroize(&mut frame);
        parsed.map(Some)
    }

    /// Call at end of stream: an error when a partial frame is left.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let expected = if self.buf.len() >= HEADER_LEN {
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(&self.buf[..HEADER_LEN]);
            HEADER_LEN + check_len(header)?
        } else {
            HEADER_LEN
        };
        Err(FrameError::Truncated {
            got: self.buf.len(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, Request, PROTOCOL_VERSION};

    fn hello() -> ClientMessage {
        ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            client: "test".into(),
        }
    }

    #[test]
    fn frames_round_trip_byte_by_byte() {
        let a = encode(&hello()).expect("encode");
        let b = encode(&ClientMessage::Request {
            id: 7,
            request: Request::Status,
        })
        .expect("encode");
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let mut dec = FrameBuf::new();
        let mut got: Vec<ClientMessage> = Vec::new();
        for byte in &all {
            dec.push(std::slice::from_ref(byte));
            while let Some(m) = dec.next_frame().expect("valid") {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(
            matches!(got[0], ClientMessage::Hello { version, .. } if version == PROTOCOL_VERSION)
        );
        assert!(matches!(
            got[1],
            ClientMessage::Request {
                id: 7,
                request: Request::Status
            }
        ));
        assert!(dec.finish().is_ok());
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn oversize_prefix_fails_before_the_body() {
        let mut dec = FrameBuf::new();
        dec.push(&u32::MAX.to_be_bytes());
        let err = dec.next_frame::<ClientMessage>().err();
        assert!(matches!(err, Some(FrameError::TooLarge { len }) if len == u64::from(u32::MAX)));
        let mut dec = FrameBuf::new();
        dec.push(&(MAX_FRAME + 1).to_be_bytes());
        assert!(dec.next_frame::<ClientMessage>().is_err());
    }

    #[test]
    fn garbage_body_is_malformed_not_a_panic() {
        for body in [
            &b"\xff\xfe\x00garbage"[..],
            b"{}",
            b"[1,2,3]",
            b"{\"type\":\"request\",\"id\":1,\"request\":{\"type\":\"nope\"}}",
            b"",
        ] {
            let mut frame = (body.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(body);
            let mut dec = FrameBuf::new();
            dec.push(&frame);
            assert!(
                matches!(
                    dec.next_frame::<ClientMessage>(),
                    Err(FrameError::Malformed(_))
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn truncation_is_reported() {
        let frame = encode(&hello()).expect("encode");
        for cut in [1, 3, 4, frame.len() - 1] {
            let mut dec = FrameBuf::new();
            dec.push(&frame[..cut]);
            assert!(matches!(dec.next_frame::<ClientMessage>(), Ok(None)));
            assert!(matches!(dec.finish(), Err(FrameError::Truncated { .. })));
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn async_reader_handles_eof_truncation_and_oversize() {
        runtime().block_on(async {
            let frame = encode(&hello()).expect("encode");
            // Clean end between frames.
            let mut r: &[u8] = &frame;
            let m: Option<ClientMessage> = read_frame(&mut r).await.expect("frame");
            assert!(m.is_some());
            let m: Option<ClientMessage> = read_frame(&mut r).await.expect("eof");
            assert!(m.is_none());
            // Cut inside the header and inside the body.
            for cut in [2, frame.len() - 3] {
                let mut r: &[u8] = &frame[..cut];
                let e = read_frame::<_, ClientMessage>(&mut r).await.err();
                assert!(matches!(e, Some(FrameError::Truncated { .. })), "{cut}");
            }
            // A 4 GiB prefix: refused without allocating or waiting for the body.
            let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff, b'{'];
            let e = read_frame::<_, ClientMessage>(&mut r).await.err();
            assert!(matches!(e, Some(FrameError::TooLarge { .. })));
        });
    }

    #[test]
    fn async_writer_writes_what_the_reader_reads() {
        runtime().block_on(async {
            let mut out = Vec::new();
            write_frame(&mut out, &hello()).await.expect("write");
            let mut r: &[u8] = &out;
            let m: Option<ClientMessage> = read_frame(&mut r).await.expect("read");
            assert!(matches!(m, Some(ClientMessage::Hello { .. })));
        });
    }
}
