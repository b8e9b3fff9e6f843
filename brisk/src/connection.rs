//! Who is on the other end of a request: the client's address and the
//! scheme, as the server saw them, corrected by a trusted proxy's headers.
//!
//! The server ([`serve`](crate::serve)) makes a [`ConnectionInfo`] for
//! every request; handlers ask for it as a parameter (FastAPI's
//! `request.client` and `request.url.scheme`), and the access log prints
//! its client. Tower layers, router layers, mounted apps and exception
//! handlers find it in the request's extensions; an operation with none of
//! those around it gets it handed over directly (an extension map costs
//! three allocations per request). Behind a proxy listed in `--forwarded-allow-ips`, the
//! `X-Forwarded-For` / `X-Forwarded-Proto` (or RFC 7239 `Forwarded`)
//! headers replace the proxy's own address and scheme, as uvicorn's
//! `--proxy-headers` does.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The scheme a request was made with.
///
/// ```
/// assert_eq!(brisk::connection::Scheme::Https.as_str(), "https");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The client and scheme of one request, as a handler parameter.
///
/// `client_host()` is the peer's IP address, or, when the connection comes
/// from a trusted proxy, the client it forwarded for (which may be any
/// token the proxy wrote, such as RFC 7239's `_hidden`; hence a string, as
/// FastAPI's `request.client.host`).
///
/// ```
/// use brisk::prelude::*;
/// use brisk::connection::ConnectionInfo;
///
/// #[get("/whoami")]
/// async fn whoami(conn: ConnectionInfo) -> Json<Value> {
///     Json(json!({"client": conn.client_host(), "scheme": conn.scheme().as_str()}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![whoami]));
/// let body: Value = client.get("/whoami").send().json();
/// assert_eq!(body["scheme"], "http");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    peer: SocketAddr,
    forwarded_client: Option<(Box<str>, u16)>,
    scheme: Scheme,
}

impl ConnectionInfo {
    /// A direct connection from `peer`.
    ///
    /// ```
    /// use brisk::connection::{ConnectionInfo, Scheme};
    /// let c = ConnectionInfo::new("10.0.0.7:4242".parse().unwrap(), Scheme::Https);
    /// assert_eq!(c.client_host(), "10.0.0.7");
    /// assert_eq!(c.client_port(), 4242);
    /// ```
    pub fn new(peer: SocketAddr, scheme: Scheme) -> Self {
        ConnectionInfo {
            peer,
            forwarded_client: None,
            scheme,
        }
    }

    /// What a request carries when no server put it there (the
    /// [`TestClient`](crate::TestClient)): `127.0.0.1:50000` over HTTP.
    pub(crate) fn in_process() -> Self {
        ConnectionInfo::new(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000),
            Scheme::Http,
        )
    }

    /// The same connection, with the client a trusted proxy forwarded for.
    ///
    /// ```
    /// use brisk::connection::{ConnectionInfo, Scheme};
    /// let c = ConnectionInfo::new("127.0.0.1:5000".parse().unwrap(), Scheme::Http)
    ///     .forwarded_for("203.0.113.9", 0);
    /// assert_eq!(c.client_host(), "203.0.113.9");
    /// assert_eq!(c.peer().port(), 5000);
    /// ```
    pub fn forwarded_for(mut self, host: &str, port: u16) -> Self {
        self.forwarded_client = Some((host.into(), port));
        self
    }

    /// The same connection, with the scheme a trusted proxy reported.
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The socket's peer: the client itself, or the proxy in front of it.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The client's host: the forwarded one behind a trusted proxy, else
    /// the peer's IP address.
    pub fn client_host(&self) -> Cow<'_, str> {
        match &self.forwarded_client {
            Some((host, _)) => Cow::Borrowed(host),
            None => Cow::Owned(self.peer.ip().to_string()),
        }
    }

    /// The client's port (0 when a proxy forwarded only a host).
    pub fn client_port(&self) -> u16 {
        match &self.forwarded_client {
            Some((_, port)) => *port,
            None => self.peer.port(),
        }
    }

    /// The client's IP address, when the host is one.
    pub fn client_ip(&self) -> Option<IpAddr> {
        match &self.forwarded_client {
            Some((host, _)) => host.parse().ok(),
            None => Some(self.peer.ip()),
        }
    }

    /// Whether a trusted proxy's headers named the client.
    pub fn is_forwarded(&self) -> bool {
        self.forwarded_client.is_some()
    }

    /// `http` or `https`: the connection's own, or a trusted proxy's.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

impl ConnectionInfo {
    /// `host:port`, as [`Display`](std::fmt::Display) writes it, appended
    /// to an access line: for an IPv4 client, bytes straight into the line,
    /// where going through the formatter (a dynamic call per piece) was a
    /// quarter of the line's cost.
    pub(crate) fn push_client(&self, out: &mut Vec<u8>) {
        match (&self.forwarded_client, self.peer) {
            (None, SocketAddr::V4(peer)) => {
                let _ = write_v4(peer, |piece| {
                    out.extend_from_slice(piece.as_bytes());
                    Ok(())
                });
            }
            _ => {
                use std::io::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

/// `a.b.c.d:port`, piece by piece: the general formatter for a socket
/// address is slower, and this runs once per access line.
fn write_v4(
    peer: std::net::SocketAddrV4,
    mut put: impl FnMut(&str) -> std::fmt::Result,
) -> std::fmt::Result {
    let mut digits = itoa::Buffer::new();
    for (i, octet) in peer.ip().octets().into_iter().enumerate() {
        if i > 0 {
            put(".")?;
        }
        put(digits.format(octet))?;
    }
    put(":")?;
    put(digits.format(peer.port()))
}

impl std::fmt::Display for ConnectionInfo {
    /// `host:port`, as the access log prints the client.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.forwarded_client, self.peer) {
            (Some((host, port)), _) => write!(f, "{host}:{port}"),
            (None, SocketAddr::V4(peer)) => write_v4(peer, |piece| f.write_str(piece)),
            (None, peer) => write!(f, "{peer}"),
        }
    }
}
