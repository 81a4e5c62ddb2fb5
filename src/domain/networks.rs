//! Lists of IP addresses and networks that settings name: the proxies trusted for
//! `X-Forwarded-For`, the private networks webhooks may reach.

use std::net::IpAddr;

use ipnet::IpNet;

/// Addresses and networks; an address is a network of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    /// Addresses and networks, comma-separated: `10.0.0.0/8, 192.0.2.1, fd00::/8`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an IP address or network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `address` is in one of the networks.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// Written as the comma-separated list it is parsed from.
impl serde::Serialize for Networks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        serializer.serialize_str(&list.join(","))
    }
}

/// Read from a comma-separated list (flag, environment) or an array (TOML file).
impl<'de> serde::Deserialize<'de> for Networks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Listed {
            Text(String),
            Array(Vec<String>),
        }
        let text = match Listed::deserialize(deserializer)? {
            Listed::Text(text) => text,
            Listed::Array(entries) => entries.join(","),
        };
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
