//! Who the client is (S-TLS-3): the TCP peer, unless the peer is a configured proxy, in which
//! case the right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
//! A client that is not a trusted proxy cannot choose its address by sending the header.

use postroute_app::Refusal;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::problem::ApiError;

/// The client's address as the edge decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Believes `X-Forwarded-For` from peers inside `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(Arc::new(networks))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// The client address for a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.contains(ip) => client = ip,
                Some(ip) => return ip,
                // Garbage from the hop we trust last: that hop is the best we know.
                None => return client,
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: a bare address, `1.2.3.4:port` or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>().ok().map(|address| address.ip().to_canonical())
}

/// Middleware: records the [`ClientIp`] of every request for handlers, limits and logs.
pub async fn resolve_client_ip(
    State(proxies): State<TrustedProxies>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = proxies.client_ip(peer.ip(), request.headers());
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| {
            ApiError(Refusal::Internal(anyhow::anyhow!(
                "client address middleware is not installed"
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()])
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    // proves S-TLS-3
    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        let spoofed = headers(&["1.2.3.4"]);
        assert_eq!(proxies().client_ip(ip("203.0.113.9"), &spoofed), ip("203.0.113.9"));
        assert_eq!(TrustedProxies::default().client_ip(ip("10.0.0.1"), &spoofed), ip("10.0.0.1"));
    }

    // proves S-TLS-3
    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let chain = headers(&["6.6.6.6, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.2"), &chain), ip("198.51.100.7"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        assert_eq!(
            proxies().client_ip(ip("10.0.0.2"), &headers(&["198.51.100.7:4431"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies().client_ip(ip("10.0.0.2"), &headers(&["[2001:db8::1]:80"])),
            ip("2001:db8::1")
        );
        assert_eq!(
            proxies().client_ip(ip("::ffff:10.0.0.2"), &headers(&["192.0.2.1"])),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn garbage_or_an_all_proxy_chain_stops_at_the_last_trusted_hop() {
        assert_eq!(
            proxies().client_ip(ip("10.0.0.2"), &headers(&["1.1.1.1, nonsense"])),
            ip("10.0.0.2")
        );
        assert_eq!(proxies().client_ip(ip("10.0.0.2"), &headers(&["10.9.9.9"])), ip("10.9.9.9"));
        assert_eq!(proxies().client_ip(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
    }
}
