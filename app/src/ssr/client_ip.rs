//! The client address of a request, for the login throttle and the audit log: the peer, or, when
//! the peer is a configured trusted proxy, the address that proxy (and any trusted proxy before
//! it) names in `X-Forwarded-For` or `Forwarded`. Headers from anyone else are ignored: a client
//! cannot pick the address it is throttled under.
use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// The client's address given the TCP peer, the request headers and the trusted proxies.
/// Walks the forwarded chain from the nearest hop outwards and stops at the first address that
/// is not a trusted proxy; an unreadable hop ends the walk at the last address known good.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_hops(headers).iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            None => return client,
        }
    }
    client
}

/// The hops of `X-Forwarded-For` (every instance, in order), or else of `Forwarded`'s `for=`
/// parameters; `None` for a hop that is not an address (`unknown`, an obfuscated name, junk).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| {
            v.to_str().map(|s| s.split(',').map(parse_hop).collect()).unwrap_or_else(|_| vec![None])
        })
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all(http::header::FORWARDED)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s
                .split(',')
                .filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then(|| parse_hop(value))
                    })
                })
                .collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One hop: an address, maybe quoted, bracketed (IPv6) or with a port.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).and_then(|r| r.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    /// (case, TCP peer, headers, the client address wanted)
    type Case = (&'static str, IpAddr, &'static [(&'static str, &'static str)], &'static str);

    #[test]
    fn the_client_is_the_first_untrusted_hop_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "192.0.2.9".parse().unwrap();
        let cases: [Case; 12] = [
            (
                "no proxy configured for the peer",
                stranger,
                &[("x-forwarded-for", "203.0.113.5")],
                "192.0.2.9",
            ),
            ("trusted peer, one hop", proxy, &[("x-forwarded-for", "203.0.113.5")], "203.0.113.5"),
            (
                "a spoofed left part is not believed",
                proxy,
                &[("x-forwarded-for", "1.2.3.4, 203.0.113.5")],
                "203.0.113.5",
            ),
            (
                "through two trusted proxies",
                proxy,
                &[("x-forwarded-for", "203.0.113.5, 10.1.2.3")],
                "203.0.113.5",
            ),
            (
                "several header lines in order",
                proxy,
                &[("x-forwarded-for", "203.0.113.5"), ("x-forwarded-for", "10.1.2.3")],
                "203.0.113.5",
            ),
            ("with a port", proxy, &[("x-forwarded-for", "203.0.113.5:4711")], "203.0.113.5"),
            (
                "ipv6 in brackets with a port",
                proxy,
                &[("x-forwarded-for", "[2001:db8::1]:443")],
                "2001:db8::1",
            ),
            ("junk stops at the proxy", proxy, &[("x-forwarded-for", "not-an-ip")], "127.0.0.1"),
            ("no header: the proxy itself", proxy, &[], "127.0.0.1"),
            (
                "Forwarded for=",
                proxy,
                &[("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")],
                "192.0.2.60",
            ),
            (
                "Forwarded quoted ipv6",
                proxy,
                &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")],
                "2001:db8:cafe::17",
            ),
            ("Forwarded unknown", proxy, &[("forwarded", "for=unknown")], "127.0.0.1"),
        ];
        for (case, peer, pairs, want) in cases {
            assert_eq!(client_ip(peer, &headers(pairs), &trusted).to_string(), want, "{case}");
        }
        assert_eq!(
            client_ip(proxy, &headers(&[("x-forwarded-for", "203.0.113.5")]), &[]),
            proxy,
            "none trusted"
        );
    }
}
