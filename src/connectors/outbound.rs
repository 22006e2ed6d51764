//! The outbound rule: the one place that decides where pulse-etl may connect for a tenant
//! (source APIs, embedding endpoints). Only public addresses are reached unless the operator
//! allows a network (`sources.allow_networks`). Names are checked after resolution, by the
//! resolver the HTTP clients connect through, so DNS rebinding and numeric spellings
//! (`2130706433`, `0x7f.1`, `::ffff:127.0.0.1`) meet the same rule as a literal `127.0.0.1`.
//! Redirects are followed only on the same scheme, host and port, and answers are read up to
//! a size limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// The default limit on one answer's body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 << 20;

/// Redirects followed at most for one request (each on the same origin).
const MAX_REDIRECTS: usize = 5;

/// Why a connection or an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error(
        "{host} is refused by the outbound rule: {address} is a {kind} address \
         (an operator may allow its network with sources.allow_networks)"
    )]
    Refused {
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
    #[error("{host} resolves to no address")]
    Unresolved { host: String },
    #[error("{url} is not a valid http(s) URL")]
    BadUrl { url: String },
    #[error(
        "the redirect to {to} was not followed: redirects are followed only on the same \
         scheme, host and port"
    )]
    Redirect { to: String },
    #[error("the answer is larger than {limit} bytes (sources.max_response_bytes)")]
    TooLarge { limit: usize },
}

/// Where outbound requests may go and how much of an answer is read.
#[derive(Debug, Clone)]
pub struct Outbound {
    rule: Arc<Rule>,
}

#[derive(Debug)]
struct Rule {
    allowed: Vec<IpNet>,
    max_response_bytes: usize,
}

impl Default for Outbound {
    /// Public addresses only, answers up to [`DEFAULT_MAX_RESPONSE_BYTES`].
    fn default() -> Self {
        Outbound::new(Vec::new(), DEFAULT_MAX_RESPONSE_BYTES)
    }
}

impl Outbound {
    /// Public addresses and the `allowed` networks; answers up to `max_response_bytes`.
    pub fn new(allowed: Vec<IpNet>, max_response_bytes: usize) -> Self {
        Outbound {
            rule: Arc::new(Rule {
                allowed,
                max_response_bytes,
            }),
        }
    }

    /// The same rule with `network` allowed too (the demo's own simulator on loopback).
    pub fn also_allowing(&self, network: IpNet) -> Self {
        let mut allowed = self.rule.allowed.clone();
        allowed.push(network);
        Outbound::new(allowed, self.rule.max_response_bytes)
    }

    /// The largest answer body read.
    pub fn max_response_bytes(&self) -> usize {
        self.rule.max_response_bytes
    }

    /// Whether `address` may be connected to; the kind of address it is when not.
    pub fn permits(&self, address: IpAddr) -> Result<(), &'static str> {
        let canonical = canonical(address);
        let allowed = self
            .rule
            .allowed
            .iter()
            .any(|net| net.contains(&address) || net.contains(&canonical));
        match non_public_kind(canonical) {
            Some(kind) if !allowed => Err(kind),
            _ => Ok(()),
        }
    }

    /// Checks a URL before it is asked: an http(s) URL whose host, when it is an address
    /// literal (in any spelling the URL standard reads), is permitted. Names are checked
    /// when they resolve.
    pub fn check_url(&self, text: &str) -> Result<url::Url, OutboundError> {
        let bad = || OutboundError::BadUrl { url: text.into() };
        let url = url::Url::parse(text).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad());
        }
        let address = match url.host().ok_or_else(bad)? {
            url::Host::Ipv4(v4) => IpAddr::V4(v4),
            url::Host::Ipv6(v6) => IpAddr::V6(v6),
            url::Host::Domain(_) => return Ok(url),
        };
        self.permits(address)
            .map_err(|kind| OutboundError::Refused {
                host: url.host_str().unwrap_or_default().to_owned(),
                address,
                kind,
            })?;
        Ok(url)
    }

    /// An HTTP client builder that resolves names through this rule, follows redirects only
    /// on the same origin, ignores proxy settings from the environment (a proxy would
    /// connect where the rule cannot see) and gives up after `timeout`.
    pub fn client_builder(&self, timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                outbound: self.clone(),
            }))
            .redirect(same_origin_redirects(self.clone()))
            .user_agent(concat!("pulse-etl/", env!("CARGO_PKG_VERSION")))
    }

    /// Reads an answer's body up to the limit, stopping as soon as it is passed.
    pub async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
        let limit = self.rule.max_response_bytes;
        let too_large = BodyError::Refused(OutboundError::TooLarge { limit });
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why an answer's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Refused(OutboundError),
    #[error("reading the body: {0}")]
    Transport(reqwest::Error),
}

/// The outbound rule's refusal somewhere in an error's chain (a connection the resolver or
/// the redirect policy refused), if that is why it failed.
pub fn refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a OutboundError> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<OutboundError>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

/// Follows a redirect only to the first request's scheme, host and port.
fn same_origin_redirects(outbound: Outbound) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            let to = attempt.url().to_string();
            return attempt.error(OutboundError::Redirect { to });
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.stop();
        }
        match outbound.check_url(attempt.url().as_str()) {
            Ok(_) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// Resolves names with the system resolver and keeps only the addresses the rule permits.
struct GuardedResolver {
    outbound: Outbound,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let outbound = self.outbound.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let permitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match outbound.permits(addr.ip()) {
                    Ok(()) => true,
                    Err(kind) => {
                        refused.get_or_insert((addr.ip(), kind));
                        false
                    }
                })
                .collect();
            if permitted.is_empty() {
                let error = match refused {
                    Some((address, kind)) => OutboundError::Refused {
                        host,
                        address,
                        kind,
                    },
                    None => OutboundError::Unresolved { host },
                };
                return Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible, NAT64's
/// well-known prefix, 6to4), else the address itself: the rule judges what is reached.
fn canonical(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else {
        return address;
    };
    let segments = v6.segments();
    let octets = v6.octets();
    let tail = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    // ::a.b.c.d (deprecated IPv4-compatible), not :: and ::1 themselves.
    if segments[..6].iter().all(|&s| s == 0) && segments[6] != 0 {
        return IpAddr::V4(tail);
    }
    // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64).
    if segments[0] == 0x64 && segments[1] == 0xff9b {
        return IpAddr::V4(tail);
    }
    // 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD.
    if segments[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    address
}

/// The kind of a non-public address (none for a public one).
fn non_public_kind(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = v4.octets();
    Some(match (a, b, c) {
        _ if v4.is_unspecified() || a == 0 => "unspecified",
        _ if v4.is_loopback() => "loopback",
        _ if v4.is_private() => "private",
        _ if v4.is_link_local() => "link-local",
        (100, 64..=127, _) => "carrier-grade NAT",
        _ if v4.is_multicast() => "multicast",
        _ if v4.is_broadcast() || a >= 240 => "reserved",
        (192, 0, 0) | (198, 18..=19, _) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    })
}

fn v6_kind(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    Some(match first {
        _ if v6.is_unspecified() => "unspecified",
        _ if v6.is_loopback() => "loopback",
        _ if first & 0xfe00 == 0xfc00 => "unique local",
        _ if first & 0xffc0 == 0xfe80 => "link-local",
        _ if first & 0xffc0 == 0xfec0 => "site-local",
        _ if v6.is_multicast() => "multicast",
        0x2001 if v6.segments()[1] == 0x0db8 => "documentation",
        0x0100 if v6.segments()[1..4] == [0, 0, 0] => "reserved",
        // Everything outside 2000::/3 is unassigned or special.
        _ if first & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(outbound: &Outbound, url: &str) -> bool {
        matches!(outbound.check_url(url), Err(OutboundError::Refused { .. }))
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_refused() {
        let public_only = Outbound::default();
        for url in [
            "http://127.0.0.1:5432",
            "http://2130706433:8081",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]:8080/metrics",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[::]/",
        ] {
            assert!(refused(&public_only, url), "{url} must be refused");
        }
        for url in [
            "https://api.github.com",
            "https://acme.atlassian.net",
            "http://8.8.8.8/",
            "http://[2606:4700::1111]/",
            "http://localhost:1/",
        ] {
            assert!(
                public_only.check_url(url).is_ok(),
                "{url} passes the literal check"
            );
        }
    }

    #[test]
    fn allowed_networks_open_exactly_themselves() {
        let outbound = Outbound::new(
            vec![
                "10.20.0.0/16".parse().unwrap(),
                "127.0.0.1/32".parse().unwrap(),
            ],
            1024,
        );
        assert!(outbound.check_url("http://10.20.3.4/").is_ok());
        assert!(outbound.check_url("http://127.0.0.1:8089/").is_ok());
        assert!(outbound.check_url("http://[::ffff:127.0.0.1]/").is_ok());
        assert!(refused(&outbound, "http://10.21.0.1/"));
        assert!(refused(&outbound, "http://127.0.0.2/"));
        assert!(refused(&outbound, "http://169.254.169.254/"));
    }

    #[test]
    fn only_http_urls_pass() {
        for url in ["ftp://example.com", "file:///etc/passwd", "not a url"] {
            assert!(matches!(
                Outbound::default().check_url(url),
                Err(OutboundError::BadUrl { .. })
            ));
        }
    }

    #[tokio::test]
    async fn names_are_judged_by_the_addresses_they_resolve_to() {
        use reqwest::dns::Resolve;
        let resolve = |outbound: Outbound, name: &str| {
            let resolver = GuardedResolver { outbound };
            resolver.resolve(name.parse().unwrap())
        };
        let refused = match resolve(Outbound::default(), "localhost").await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        let refusal = refusal(refused.as_ref()).expect("the rule's own refusal");
        assert!(
            matches!(
                refusal,
                OutboundError::Refused {
                    kind: "loopback",
                    ..
                }
            ),
            "{refusal}"
        );
        let loopback = Outbound::new(
            vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            1,
        );
        let kept: Vec<SocketAddr> = resolve(loopback, "localhost").await.unwrap().collect();
        assert!(!kept.is_empty() && kept.iter().all(|addr| addr.ip().is_loopback()));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
            prop_oneof![
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(127, b, c, d)),
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(10, b, c, d)),
                (16u8..32, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(172, b, c, d)),
                any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(192, 168, c, d)),
                any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(169, 254, c, d)),
                (64u8..128, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(100, b, c, d)),
                (224u8..=255, any::<[u8; 3]>())
                    .prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d)),
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(0, b, c, d)),
            ]
        }

        /// Every way the URL standard lets an IPv4 address be written as a host.
        fn spellings(v4: Ipv4Addr) -> Vec<String> {
            let n = u32::from(v4);
            let [a, b, c, d] = v4.octets();
            vec![
                v4.to_string(),
                n.to_string(),
                format!("0x{n:x}"),
                format!("0{n:o}"),
                format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
                format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
                format!(
                    "{a}.{}",
                    (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)
                ),
                format!("{a}.{b}.{}", (u32::from(c) << 8) | u32::from(d)),
                format!("[::ffff:{v4}]"),
                format!("[::ffff:{:x}:{:x}]", n >> 16, n & 0xffff),
                format!("[64:ff9b::{v4}]"),
                format!("[2002:{:x}:{:x}::1]", n >> 16, n & 0xffff),
            ]
        }

        proptest! {
            #[test]
            fn every_spelling_of_an_internal_address_is_refused(v4 in internal_v4()) {
                let outbound = Outbound::default();
                for host in spellings(v4) {
                    let url = format!("http://{host}:8080/x");
                    prop_assert!(refused(&outbound, &url), "{} ({}) passed", url, v4);
                }
            }

            #[test]
            fn every_spelling_of_an_allowed_address_passes(v4 in internal_v4()) {
                let outbound = Outbound::new(vec![IpNet::from(IpAddr::V4(v4))], 1);
                for host in spellings(v4) {
                    let url = format!("http://{host}/");
                    prop_assert!(outbound.check_url(&url).is_ok(), "{} refused", url);
                }
            }

            #[test]
            fn public_addresses_pass(v4 in (1u8..10, any::<[u8; 3]>())
                .prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d)))
            {
                let url = format!("http://{v4}/");
                prop_assert!(Outbound::default().check_url(&url).is_ok(), "{} refused", url);
            }

            #[test]
            fn private_ipv6_ranges_are_refused(low in any::<u128>()) {
                let outbound = Outbound::default();
                for prefix in [0xfc00u128, 0xfd00, 0xfe80, 0xff00] {
                    let v6 = Ipv6Addr::from((prefix << 112) | (low >> 16));
                    let url = format!("http://[{v6}]/");
                    prop_assert!(refused(&outbound, &url), "{} passed", url);
                }
            }
        }
    }
}
