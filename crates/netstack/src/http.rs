//! HTTP proxy requests: sans-IO parsing of a request head (CONNECT, or an absolute-URI request
//! to forward) and the rewritten head sent to the origin server.

use crate::target::Target;

/// The largest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyRequest {
    /// `CONNECT host:port`: a tunnel; answer 200 and relay bytes.
    Connect {
        /// Destination.
        target: Target,
    },
    /// `GET http://host/path` (any method): forward with `head` as the new request head.
    Forward {
        /// Destination (port 80 unless given).
        target: Target,
        /// The request head for the origin server: origin-form target, hop-by-hop and proxy
        /// headers removed, `Connection: close` added.
        head: Vec<u8>,
    },
}

/// Why a request head is refused, with the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not a parseable HTTP/1.x request head.
    #[error("malformed HTTP request")]
    Malformed,
    /// The head is longer than [`MAX_HEAD`].
    #[error("request head too large")]
    TooLarge,
    /// A non-CONNECT request whose target is not an absolute `http://` URI (e.g. origin-form,
    /// or `https://` without CONNECT).
    #[error("only CONNECT and absolute http:// URIs can be proxied")]
    NotProxyRequest,
    /// The host or port in the request is not valid.
    #[error("invalid host or port in the request")]
    BadTarget,
}

impl HttpError {
    /// The HTTP status line to answer with.
    pub fn status(self) -> &'static str {
        match self {
            HttpError::TooLarge => "431 Request Header Fields Too Large",
            HttpError::Malformed | HttpError::BadTarget | HttpError::NotProxyRequest => {
                "400 Bad Request"
            }
        }
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)`: the head has not fully arrived.
/// On success, also returns the head's length (the body, if any, follows it).
pub fn parse_request(buf: &[u8]) -> Result<Option<(ProxyRequest, usize)>, HttpError> {
    let Some(end) = find_head_end(buf) else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::TooLarge);
        }
        // Something that cannot start a request line is refused at once.
        if let Some(&b) = buf.first() {
            if !b.is_ascii_uppercase() {
                return Err(HttpError::Malformed);
            }
        }
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(HttpError::TooLarge);
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Malformed)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(HttpError::Malformed)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed);
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
        || !(version == "HTTP/1.1" || version == "HTTP/1.0")
    {
        return Err(HttpError::Malformed);
    }
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or(HttpError::Malformed)?;
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(HttpError::Malformed);
        }
        headers.push((name, value.trim()));
    }
    if method == "CONNECT" {
        let target = Target::parse_authority(uri, None).map_err(|_| HttpError::BadTarget)?;
        return Ok(Some((ProxyRequest::Connect { target }, end)));
    }
    let rest = strip_prefix_ignore_case(uri, "http://").ok_or(HttpError::NotProxyRequest)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(HttpError::BadTarget);
    }
    let target = Target::parse_authority(authority, Some(80)).map_err(|_| HttpError::BadTarget)?;
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let mut out = Vec::with_capacity(end + 32);
    out.extend_from_slice(format!("{method} {path} {version}\r\n").as_bytes());
    let mut has_host = false;
    for (name, value) in &headers {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "proxy-connection"
            | "proxy-authorization"
            | "connection"
            | "keep-alive"
            | "te"
            | "upgrade" => continue,
            "host" => has_host = true,
            _ => {}
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !has_host {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(Some((ProxyRequest::Forward { target, head: out }, end)))
}

/// An error response with a text body; `Connection: close`.
pub fn error_response(status: &str, text: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}\n",
        text.len() + 1
    )
    .into_bytes()
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Position just after the blank line ending the head (`\r\n\r\n` or `\n\n`).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let scan = &buf[..buf.len().min(MAX_HEAD + 4)];
    for i in 0..scan.len() {
        if scan[i] == b'\n' {
            if scan.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if scan.get(i + 1) == Some(&b'\r') && scan.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect() {
        let r = parse_request(b"CONNECT web-1.internal:443 HTTP/1.1\r\nHost: x\r\n\r\nBODY");
        assert_eq!(
            r,
            Ok(Some((
                ProxyRequest::Connect {
                    target: Target::Name("web-1.internal".into(), 443)
                },
                48
            )))
        );
        assert_eq!(
            parse_request(b"CONNECT [fd00::1]:22 HTTP/1.1\r\n\r\n").map(|r| r.map(|x| x.0)),
            Ok(Some(ProxyRequest::Connect {
                target: Target::Addr("[fd00::1]:22".parse().expect("a"))
            }))
        );
        assert_eq!(
            parse_request(b"CONNECT host HTTP/1.1\r\n\r\n"),
            Err(HttpError::BadTarget)
        );
    }

    #[test]
    fn forward_rewrites_head() {
        let req = b"GET http://192.168.1.20:8080/app?x=1 HTTP/1.1\r\nHost: 192.168.1.20:8080\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n";
        let Ok(Some((ProxyRequest::Forward { target, head }, n))) = parse_request(req) else {
            panic!("forward expected");
        };
        assert_eq!(n, req.len());
        assert_eq!(
            target,
            Target::Addr("192.168.1.20:8080".parse().expect("a"))
        );
        assert_eq!(
            String::from_utf8_lossy(&head),
            "GET /app?x=1 HTTP/1.1\r\nHost: 192.168.1.20:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let Ok(Some((ProxyRequest::Forward { target, head }, _))) =
            parse_request(b"POST HTTP://Pi.Lan?q HTTP/1.0\n\n")
        else {
            panic!("forward expected");
        };
        assert_eq!(target, Target::Name("pi.lan".into(), 80));
        assert_eq!(
            String::from_utf8_lossy(&head),
            "POST /?q HTTP/1.0\r\nHost: Pi.Lan\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn garbage() {
        assert_eq!(parse_request(b"GET http://a/ HTTP/1.1\r\n"), Ok(None));
        assert_eq!(parse_request(b""), Ok(None));
        assert_eq!(parse_request(&[5, 1, 0]), Err(HttpError::Malformed));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::NotProxyRequest)
        );
        assert_eq!(
            parse_request(b"GET https://a/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::NotProxyRequest)
        );
        assert_eq!(
            parse_request(b"GET http://u@a/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::BadTarget)
        );
        assert_eq!(
            parse_request(b"GET http://a/ HTTP/2\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_request(b"get http://a/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_request(b"GET  http://a/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_request(b"GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_request(b"GET http://a/ HTTP/1.1\r\nX: \xff\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_request(b"GET http://a:99999/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::BadTarget)
        );
        let mut big = b"GET http://a/ HTTP/1.1\r\n".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse_request(&big), Err(HttpError::TooLarge));
        assert_eq!(
            HttpError::TooLarge.status(),
            "431 Request Header Fields Too Large"
        );
        let r = error_response("503 Service Unavailable", "too many connections");
        assert!(r.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(r.ends_with(b"\r\n\r\ntoo many connections\n"));
    }
}
