//! `--proxy-headers` and `--forwarded-allow-ips`, with uvicorn's semantics.
//!
//! Only when the connection's peer is trusted (an address or network in
//! `--forwarded-allow-ips`, default `127.0.0.1`; `*` trusts every peer):
//!
//! * `X-Forwarded-Proto: https|http|wss|ws` sets the request's scheme;
//! * `X-Forwarded-For: client, proxy1, proxy2` sets the client to the first
//!   address, walking from the right (the nearest proxy), that is not itself
//!   trusted; if every one is trusted, the leftmost. Repeated headers count
//!   as one comma-separated list;
//! * without those, RFC 7239 `Forwarded: for=...;proto=...` is read the same
//!   way (uvicorn ignores it; nginx and most cloud load balancers send the
//!   `X-Forwarded-*` pair, others only `Forwarded`).
//!
//! A client that talks to brisk directly cannot spoof its address this way:
//! its own address is not trusted, so its headers are ignored.

use std::net::IpAddr;

use http::header::FORWARDED;
use http::{HeaderMap, HeaderName};

use crate::connection::{ConnectionInfo, Scheme};

// Parsed once: looking a header up by `&str` parses the name every time,
// and these are looked up on every request from a trusted peer.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The peers whose forwarding headers are believed.
#[derive(Debug, Clone)]
pub(crate) struct TrustedProxies {
    everyone: bool,
    addresses: Vec<IpAddr>,
    networks: Vec<(IpAddr, u8)>,
    /// Entries that are not IP addresses (matched as written, like uvicorn's
    /// literals, e.g. a forwarded `unix:` or obfuscated name).
    literals: Vec<String>,
}

impl TrustedProxies {
    /// Parses a comma-separated list: addresses, CIDR networks, literals, or `*`.
    ///
    /// Invalid networks are kept as literals (and so match nothing real),
    /// as uvicorn does.
    pub(crate) fn parse(list: &str) -> Self {
        let mut trusted = TrustedProxies {
            everyone: false,
            addresses: Vec::new(),
            networks: Vec::new(),
            literals: Vec::new(),
        };
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                trusted.everyone = true;
            } else if let Some((addr, bits)) = item.split_once('/') {
                match (addr.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Ok(ip), Ok(bits)) if bits <= max_prefix(ip) => {
                        trusted.networks.push((ip, bits));
                    }
                    _ => trusted.literals.push(item.to_owned()),
                }
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                trusted.addresses.push(ip);
            } else {
                trusted.literals.push(item.to_owned());
            }
        }
        trusted
    }

    fn trusts_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.everyone
            || self.addresses.iter().any(|a| a.to_canonical() == ip)
            || self
                .networks
                .iter()
                .any(|&(net, bits)| in_network(ip, net, bits))
    }

    fn trusts_host(&self, host: &str) -> bool {
        if self.everyone {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => self.trusts_ip(ip),
            Err(_) => self.literals.iter().any(|l| l == host),
        }
    }

    /// The request's connection as the app should see it: the peer's, or
    /// what a trusted proxy's headers say.
    pub(crate) fn resolve(&self, direct: ConnectionInfo, headers: &HeaderMap) -> ConnectionInfo {
        if !self.trusts_ip(direct.peer().ip()) || !mentions_forwarding(headers) {
            return direct;
        }
        let proto = headers
            .get(&X_FORWARDED_PROTO)
            .and_then(|v| v.to_str().ok());
        let mut forwarded_for = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .peekable();
        let (proto, clients): (Option<String>, Vec<String>) =
            if proto.is_some() || forwarded_for.peek().is_some() {
                let clients = forwarded_for
                    .flat_map(|v| v.split(','))
                    .map(|s| s.trim().to_owned())
                    .collect();
                (proto.map(|p| p.trim().to_owned()), clients)
            } else if headers.contains_key(FORWARDED) {
                rfc7239(headers)
            } else {
                return direct;
            };
        let mut info = direct;
        if let Some(scheme) = proto.as_deref().and_then(scheme_of) {
            info = info.with_scheme(scheme);
        }
        if let Some((host, port)) = self.client_of(&clients) {
            info = info.forwarded_for(&host, port);
        }
        info
    }

    /// uvicorn's `get_trusted_client_address`: from the right, the first
    /// entry that is not a trusted proxy; if all are, the leftmost.
    fn client_of(&self, list: &[String]) -> Option<(String, u16)> {
        let first = list.first()?;
        if self.everyone {
            return usable(host_and_port(first));
        }
        for entry in list.iter().rev() {
            let (host, port) = host_and_port(entry);
            if !self.trusts_host(&host) {
                return usable((host, port));
            }
        }
        usable(host_and_port(first))
    }
}

/// Whether any of the forwarding headers is there: one pass over the
/// names, where nearly every request has none of them. Three lookups by
/// name hash each name first and cost, on a small request, about 3 % of
/// its instructions (callgrind, bench/tools/instructions_per_request.sh);
/// comparing a handful of names is a fraction of that.
fn mentions_forwarding(headers: &HeaderMap) -> bool {
    headers
        .keys()
        .any(|name| *name == X_FORWARDED_FOR || *name == X_FORWARDED_PROTO || *name == FORWARDED)
}

/// An empty host says nothing; the client is left as it was.
fn usable((host, port): (String, u16)) -> Option<(String, u16)> {
    (!host.is_empty()).then_some((host, port))
}

fn scheme_of(proto: &str) -> Option<Scheme> {
    match proto.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some(Scheme::Https),
        "http" | "ws" => Some(Scheme::Http),
        _ => None,
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// uvicorn's `_parse_host_port`: a bare address, `v4:port`, or
/// `[v6]:port`; anything else is the host as written, port 0.
fn host_and_port(value: &str) -> (String, u16) {
    if let Some(rest) = value.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return (value.to_owned(), 0);
        };
        let host = &rest[..end];
        let after = &rest[end + 1..];
        if after.is_empty() {
            return (host.to_owned(), 0);
        }
        return match after.strip_prefix(':') {
            Some(port) => (host.to_owned(), port.parse().unwrap_or(0)),
            None => (value.to_owned(), 0),
        };
    }
    if value.matches(':').count() == 1 {
        let (host, port) = value.rsplit_once(':').expect("one colon");
        return match port.parse() {
            Ok(port) => (host.to_owned(), port),
            Err(_) => (value.to_owned(), 0),
        };
    }
    (value.to_owned(), 0)
}

/// The `proto` of the nearest element and every element's `for`, from RFC
/// 7239 `Forwarded` headers (`for=192.0.2.60;proto=https, for="[2001:db8::1]:80"`).
fn rfc7239(headers: &HeaderMap) -> (Option<String>, Vec<String>) {
    let mut proto = None;
    let mut clients = Vec::new();
    let elements = headers
        .get_all(FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for element in elements {
        let mut element_for = None;
        for pair in element.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "for" => element_for = Some(value.to_owned()),
                "proto" => proto = Some(value.to_owned()),
                _ => {}
            }
        }
        clients.push(element_for.unwrap_or_default());
    }
    (proto, clients)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(peer: &str) -> ConnectionInfo {
        ConnectionInfo::new(peer.parse().unwrap(), Scheme::Http)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted = TrustedProxies::parse("127.0.0.1");
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let via_proxy = trusted.resolve(conn("127.0.0.1:4000"), &h);
        assert_eq!(via_proxy.client_host(), "203.0.113.9");
        assert_eq!(via_proxy.client_port(), 0);
        assert_eq!(via_proxy.scheme(), Scheme::Https);
        let direct = trusted.resolve(conn("198.51.100.1:4000"), &h);
        assert_eq!(direct.client_host(), "198.51.100.1");
        assert_eq!(direct.scheme(), Scheme::Http);
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8");
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.1.2.3"),
        ]);
        let info = trusted.resolve(conn("127.0.0.1:1"), &h);
        assert_eq!(info.client_host(), "203.0.113.9");
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 10.9.9.9")]);
        assert_eq!(
            trusted.resolve(conn("127.0.0.1:1"), &h).client_host(),
            "10.0.0.5"
        );
        // Everyone trusted: the leftmost, with its port.
        let all = TrustedProxies::parse("*");
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:8443, 5.6.7.8")]);
        let info = all.resolve(conn("192.0.2.1:1"), &h);
        assert_eq!(info.client_host(), "2001:db8::1");
        assert_eq!(info.client_port(), 8443);
    }

    #[test]
    fn rfc7239_forwarded_is_read_too() {
        let trusted = TrustedProxies::parse("127.0.0.1");
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=https;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#,
        )]);
        let info = trusted.resolve(conn("127.0.0.1:1"), &h);
        assert_eq!(info.client_host(), "2001:db8:cafe::17");
        assert_eq!(info.client_port(), 4711);
        assert_eq!(info.scheme(), Scheme::Https);
    }

    #[test]
    fn junk_leaves_the_connection_as_it_was() {
        let trusted = TrustedProxies::parse("127.0.0.1, not-an-ip/99");
        let h = headers(&[("x-forwarded-for", ""), ("x-forwarded-proto", "gopher")]);
        let info = trusted.resolve(conn("127.0.0.1:7"), &h);
        assert_eq!(info.client_host(), "127.0.0.1");
        assert_eq!(info.scheme(), Scheme::Http);
        assert_eq!(trusted.literals, vec!["not-an-ip/99".to_owned()]);
    }
}
