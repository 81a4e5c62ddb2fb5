//! Reading a caller's credential and origin from request headers, for every face.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::Caller;
use crate::domain::{ClientInfo, Networks};
use crate::service::{Directory, ServiceError};

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The proxies (load balancers) whose requests name the client in
/// `X-Forwarded-For`. From any other peer the header is ignored, so that a client
/// cannot choose the address it is counted and audited under.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(Networks);

impl TrustedProxies {
    /// Addresses and networks, comma-separated: `10.0.0.0/8, 192.0.2.1, fd00::/8`.
    pub fn parse(list: &str) -> Result<Self, String> {
        Networks::parse(list).map(Self)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.contains(address)
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not a trusted proxy (each proxy
    /// appends the address it received the request from, so addresses further left
    /// were written by whoever sent the request and prove nothing).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.trusts(peer) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in forwarded.iter().rev() {
            let Some(address) = parse_hop(hop) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`[v6]:port` too).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The address a request came from, as [`TrustedProxies`] decided it.
#[derive(Debug, Clone, Copy)]
struct ClientAddress(IpAddr);

/// Whether a trusted proxy says the client reached it over TLS
/// (`X-Forwarded-Proto: https`); from any other peer the header proves nothing.
#[derive(Debug, Clone, Copy)]
struct ForwardedOverTls(bool);

/// Middleware that decides each request's client address once, for every face.
pub async fn resolve_client_address(
    proxies: std::sync::Arc<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = proxies.client_address(peer.ip(), request.headers());
        let over_tls = proxies.trusts(peer.ip())
            && request
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        request.extensions_mut().insert(ClientAddress(client));
        request.extensions_mut().insert(ForwardedOverTls(over_tls));
    }
    next.run(request).await
}

/// Where the request came from: the client's address (see [`TrustedProxies`]) and
/// the User-Agent (cut to 512 characters), for the audit log and sign-in limits.
pub fn client_info(parts: &Parts) -> ClientInfo {
    let address = parts
        .extensions
        .get::<ClientAddress>()
        .map(|ClientAddress(address)| address.to_string());
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    ClientInfo {
        address,
        user_agent,
    }
}

/// Whether the client reached Roster over TLS: Roster itself serves plain HTTP, so
/// only through a trusted proxy that says so.
pub fn over_tls(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<ForwardedOverTls>()
        .is_some_and(|ForwardedOverTls(tls)| *tls)
}

/// Authenticates `token` and builds the caller.
pub async fn authenticate(
    directory: &Directory,
    parts: &Parts,
    token: Option<&str>,
) -> Result<Caller, ServiceError> {
    let token = token.ok_or(ServiceError::Unauthorized)?;
    let principal = directory.authenticate(token).await?;
    Ok(Caller {
        principal,
        client: client_info(parts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let spoofed = forwarded(&["198.51.100.66, 203.0.113.7"]);
        // From an untrusted peer the header means nothing.
        assert_eq!(
            proxies.client_address(ip("203.0.113.99"), &spoofed),
            ip("203.0.113.99")
        );
        // From a proxy: the nearest untrusted hop, never what the client wrote further left.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &spoofed),
            ip("203.0.113.7")
        );
        let chained = forwarded(&["198.51.100.66", "203.0.113.7, 10.9.9.9", "192.0.2.1"]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &chained),
            ip("203.0.113.7")
        );
        let ported = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &ported),
            ip("2001:db8::1")
        );
        // Garbage stops the walk at the last good hop.
        let garbage = forwarded(&["203.0.113.7, nonsense"]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &garbage),
            ip("10.1.2.3")
        );
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }
}
