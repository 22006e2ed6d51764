//! Which address a request comes from: the socket's peer, or, when the peer is a proxy the
//! operator trusts (`http.trusted_proxies`), the nearest address in `X-Forwarded-For` that
//! is not one of those proxies. A client cannot choose its address by sending the header
//! itself: only hops added by trusted proxies are read.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The request's client address.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut nearest = peer;
    for hop in forwarded.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>() else {
            // An unreadable hop: what lies beyond it cannot be trusted.
            return nearest;
        };
        nearest = address;
        if !is_trusted(&address) {
            return address;
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    #[test]
    fn only_hops_added_by_trusted_proxies_are_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // Behind the proxy: the address it saw.
        assert_eq!(
            client_address(proxy, &headers("198.51.100.7"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A forged first hop is left of the address the proxy added.
        assert_eq!(
            client_address(proxy, &headers("1.2.3.4, 198.51.100.7, 10.0.0.3"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Straight from the internet, the header is the client's own word: ignored.
        assert_eq!(
            client_address(stranger, &headers("1.2.3.4"), &trusted),
            stranger
        );
        // No proxies trusted: always the peer.
        assert_eq!(client_address(proxy, &headers("1.2.3.4"), &[]), proxy);
        // Garbage stops the walk at the last address a trusted proxy vouched for.
        assert_eq!(
            client_address(proxy, &headers("1.2.3.4, not-an-ip"), &trusted),
            proxy
        );
    }
}
