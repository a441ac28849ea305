//! The lab's HTTP servers: one request per connection (`Connection: close`), pages per host.

use crate::plan::Host;

/// Requests whose head is longer than this get `431` and the connection closes.
pub const MAX_HEAD: usize = 16 * 1024;

/// An HTTP/1.x request head, as far as the lab cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method (`GET`, `HEAD`…).
    pub method: String,
    /// Request target (path, or absolute URI from a proxy).
    pub target: String,
}

/// What [`parse_head`] found in the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// The head is not complete yet.
    Incomplete,
    /// A complete, well-formed request line.
    Request(Request),
    /// Not HTTP, or too long: answer with this status code and close.
    Bad(u16),
}

/// Parses the request head in `buf` (the bytes received so far). Never panics.
pub fn parse_head(buf: &[u8]) -> Head {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Head::Bad(431);
        }
        // A client that sends only "\n" line ends is answered once the blank line arrives.
        if let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            return request_line(&buf[..end]);
        }
        return Head::Incomplete;
    };
    if end > MAX_HEAD {
        return Head::Bad(431);
    }
    request_line(&buf[..end])
}

fn request_line(head: &[u8]) -> Head {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Head::Bad(400);
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Bad(400);
    };
    if !version.starts_with("HTTP/1.")
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || target.is_empty()
    {
        return Head::Bad(400);
    }
    Head::Request(Request {
        method: method.to_owned(),
        target: target.to_owned(),
    })
}

/// The path of a request target (an absolute URI's path, without the query).
fn path_of(target: &str) -> &str {
    let rest = match target.find("://") {
        Some(i) => {
            let after = &target[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => target,
    };
    rest.split(['?', '#']).next().unwrap_or("/")
}

/// A complete response (head and body) to `request` from `host`.
pub fn respond(host: &Host, request: &Request) -> Vec<u8> {
    let path = path_of(&request.target);
    if request.method != "GET" && request.method != "HEAD" {
        return response(405, "text/plain", b"method not allowed\n", request);
    }
    let page = page(host, path);
    match page {
        Some((ctype, body)) => response(200, ctype, body.as_bytes(), request),
        None => response(404, "text/plain", b"not found\n", request),
    }
}

/// A response for a bad request (`status` from [`Head::Bad`]).
pub fn respond_bad(status: u16) -> Vec<u8> {
    let req = Request {
        method: "GET".into(),
        target: "/".into(),
    };
    response(status, "text/plain", reason(status).as_bytes(), &req)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "Error",
    }
}

fn response(status: u16, ctype: &str, body: &[u8], request: &Request) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nServer: gatehouse-lab\r\nContent-Type: {ctype}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    if request.method != "HEAD" {
        out.extend_from_slice(body);
    }
    out
}

fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )
}

fn page(host: &Host, path: &str) -> Option<(&'static str, String)> {
    let ip = host.ip;
    let name = host.name;
    let text = match (name, path) {
        ("router", "/") => html(
            "Home router - admin",
            "<p>Administration of the home router 192.168.1.1.</p>\n\
             <form method=\"post\" action=\"/login\"><input name=\"password\" type=\"password\">\
             <button>Log in</button></form>",
        ),
        ("pi", "/") => html(
            "Raspberry Pi - home dashboard",
            "<p>Temperature 21.5 C, humidity 48 %. Served by the raspberry pi at \
             192.168.1.20:8080.</p>",
        ),
        ("pi", "/api/status") => {
            return Some((
                "application/json",
                "{\"host\":\"pi\",\"temperature_c\":21.5,\"humidity\":48}\n".to_owned(),
            ))
        }
        ("nas", "/") => html(
            "NAS - file station",
            "<p>Shares: photos, backups. SMB on 192.168.1.30:445.</p>",
        ),
        ("web-1" | "web-2", "/") => html(
            &format!("{name} - Gatehouse demo shop"),
            &format!("<p>Hello from {name} ({ip}), behind the load balancer lb.internal.</p>"),
        ),
        ("web-1" | "web-2", "/health") => return Some(("text/plain", "ok\n".to_owned())),
        _ => return None,
    };
    Some(("text/html; charset=utf-8", text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::host_by_name;

    fn get(host: &str, target: &str) -> String {
        let req = Request {
            method: "GET".into(),
            target: target.into(),
        };
        String::from_utf8(respond(host_by_name(host).expect("host"), &req)).expect("utf-8")
    }

    #[test]
    fn pages_have_titles_and_lengths() {
        let r = get("web-1", "/");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("<title>web-1 - Gatehouse demo shop</title>"));
        let (head, body) = r.split_once("\r\n\r\n").expect("head");
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(get("web-2", "http://web-2.internal/?x=1").contains("Hello from web-2"));
        assert!(get("pi", "/").contains("Raspberry Pi"));
        assert!(get("pi", "/api/status").contains("\"temperature_c\""));
        assert!(get("router", "/").contains("<title>Home router - admin</title>"));
        assert!(get("nas", "/nope").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn head_parsing() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x"), Head::Incomplete);
        assert_eq!(
            parse_head(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
            Head::Request(Request {
                method: "GET".into(),
                target: "/a".into()
            })
        );
        assert_eq!(parse_head(b"\x16\x03\x01 hello\r\n\r\n"), Head::Bad(400));
        assert_eq!(parse_head(b"GET /\r\n\r\n"), Head::Bad(400));
        assert_eq!(parse_head(&vec![b'a'; MAX_HEAD + 1]), Head::Bad(431));
        assert!(respond_bad(400).starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        // Arbitrary bytes never panic.
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = parse_head(&junk);
        }
    }
}
