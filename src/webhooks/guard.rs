//! Which addresses a webhook may be delivered to: public ones, and those in the
//! networks the operator allows. Names are resolved here and only the addresses
//! allowed are handed to the connection, so a name cannot resolve to a permitted
//! address when checked and to another when connected (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use crate::domain::Networks;

/// The networks whose addresses a delivery may reach besides the public ones.
#[derive(Debug, Clone, Default)]
pub struct AllowedNetworks(Arc<Networks>);

impl AllowedNetworks {
    pub fn new(networks: Networks) -> Self {
        Self(Arc::new(networks))
    }

    /// Whether a delivery may connect to `address`.
    pub fn allows(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        is_public(address) || self.0.contains(address)
    }
}

/// Whether `address` is reachable on the internet: not loopback, private, link-local,
/// shared (carrier-grade NAT), unspecified, multicast, broadcast, or reserved for
/// documentation or benchmarks.
fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && v6.segments()[1] == 0x0db8))
}

/// Resolves names for the delivery client, keeping only the addresses allowed.
pub(super) struct GuardedResolver {
    pub allowed: AllowedNetworks,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = (found.iter().copied())
                .filter(|address| allowed.allows(address.ip()))
                .collect();
            if kept.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} has no address").into()
                } else {
                    format!("{host} resolves only to addresses deliveries may not reach").into()
                };
                return Err(refused);
            }
            let addresses: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_and_allowed_networks_are_reached() {
        let none = AllowedNetworks::default();
        for public in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(none.allows(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!none.allows(private.parse().unwrap()), "{private}");
        }
        let loopback = AllowedNetworks::new(Networks::parse("127.0.0.1").unwrap());
        assert!(loopback.allows("127.0.0.1".parse().unwrap()));
        assert!(loopback.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!loopback.allows("127.0.0.2".parse().unwrap()));
    }
}
