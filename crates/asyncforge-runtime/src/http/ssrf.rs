//! The SSRF guard: webhook URLs come from outside (callback registrations), so a sender must
//! not become a way to reach the services next to it.
//!
//! Refused unless allowed ([`AddressPolicy`]): loopback (`127.0.0.0/8`, `::1`), private
//! networks (RFC 1918, IPv6 ULA `fc00::/7`), shared address space / CGNAT (`100.64.0.0/10`),
//! link-local (`169.254.0.0/16`, `fe80::/10`), cloud metadata endpoints (`169.254.169.254`,
//! `fd00:ec2::254`), the unspecified addresses (`0.0.0.0/8`, `::`), multicast, broadcast and
//! the other special-purpose IPv4 blocks (benchmarking, documentation, `240.0.0.0/4`). IPv4
//! addresses embedded in IPv6 (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
//! `2002::/16`) are judged as the IPv4 address they reach.
//!
//! The check happens where the connection is made: the sender's HTTP client resolves names
//! through a guarded resolver, which refuses a name if any of its addresses is refused and
//! otherwise hands exactly the addresses it checked to the connector. There is no second
//! lookup, so a DNS answer that changes between check and connect (DNS rebinding) changes
//! nothing. URLs whose host is an IP literal are checked the same way before the
//! request (the client does not resolve literals). Redirects are never followed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and IPv6 ULA (`fc00::/7`).
    Private,
    /// Shared address space / carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Cloud instance metadata (`169.254.169.254`, `fd00:ec2::254`).
    Metadata,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Other special-purpose blocks: IETF protocol assignments (`192.0.0.0/24`),
    /// documentation, benchmarking (`198.18.0.0/15`), reserved (`240.0.0.0/4`), and the IPv6
    /// documentation and discard prefixes.
    Reserved,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Category::Loopback => "loopback",
            Category::Private => "private",
            Category::SharedCgnat => "shared (CGNAT)",
            Category::LinkLocal => "link-local",
            Category::Metadata => "cloud metadata",
            Category::Unspecified => "unspecified",
            Category::Multicast => "multicast",
            Category::Broadcast => "broadcast",
            Category::Reserved => "reserved",
        })
    }
}

/// Which non-public addresses a sender may reach. The default allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Allow loopback addresses (tests, a receiver on the same host).
    pub allow_loopback: bool,
    /// Allow private networks (RFC 1918, ULA, CGNAT): for receivers inside your own network.
    pub allow_private: bool,
    /// Individual addresses allowed whatever their category.
    pub allow: Vec<IpAddr>,
}

impl AddressPolicy {
    /// Public addresses only.
    pub fn public_only() -> Self {
        AddressPolicy::default()
    }

    /// Public and loopback addresses (what tests use).
    pub fn allow_loopback() -> Self {
        AddressPolicy {
            allow_loopback: true,
            ..AddressPolicy::default()
        }
    }

    /// Checks one address.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let ip = canonical(ip);
        if self.allow.iter().any(|a| canonical(*a) == ip) {
            return Ok(());
        }
        let Some(category) = classify(ip) else {
            return Ok(());
        };
        let allowed = match category {
            Category::Loopback => self.allow_loopback,
            Category::Private | Category::SharedCgnat => self.allow_private,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Refused::Address { ip, category })
        }
    }
}

/// A refused destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The address is not allowed.
    #[error("refusing to connect to {ip}: {category} address")]
    Address {
        /// The address.
        ip: IpAddr,
        /// Its category.
        category: Category,
    },
    /// The URL is not `http` or `https`, has no host, or carries credentials.
    #[error("refusing URL: {0}")]
    Url(String),
    /// The name did not resolve.
    #[error("cannot resolve `{0}`")]
    Unresolved(String),
}

/// The IPv4 address an IPv6 address reaches, if it embeds one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible (deprecated) `::a.b.c.d`, but not `::` and `::1`.
    if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
        return Some(tail);
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(tail);
    }
    // 6to4 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// The category of a non-public address; `None` for a public one.
pub(crate) fn classify(ip: IpAddr) -> Option<Category> {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Category> {
    let [a, b, c, _] = ip.octets();
    Some(if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Category::Metadata
    } else if a == 0 {
        Category::Unspecified
    } else if a == 127 {
        Category::Loopback
    } else if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) {
        Category::Private
    } else if a == 100 && (64..=127).contains(&b) {
        Category::SharedCgnat
    } else if a == 169 && b == 254 {
        Category::LinkLocal
    } else if ip.is_broadcast() {
        Category::Broadcast
    } else if (224..=239).contains(&a) {
        Category::Multicast
    } else if a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (18..=19).contains(&b))
    {
        Category::Reserved
    } else {
        return None;
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Category> {
    let s = ip.segments();
    Some(
        if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
            Category::Metadata
        } else if ip.is_unspecified() {
            Category::Unspecified
        } else if ip.is_loopback() {
            Category::Loopback
        } else if s[0] & 0xfe00 == 0xfc00 {
            Category::Private
        } else if s[0] & 0xffc0 == 0xfe80 {
            Category::LinkLocal
        } else if s[0] & 0xff00 == 0xff00 {
            Category::Multicast
        } else if (s[0] == 0x2001 && s[1] == 0x0db8)
            || (s[0] == 0x0100 && s[1..4].iter().all(|x| *x == 0))
            || s[0] & 0xffc0 == 0xfec0
        {
            // Documentation, discard-only, deprecated site-local.
            Category::Reserved
        } else {
            return None;
        },
    )
}

/// Checks a URL before a request: scheme `http`/`https`, a host, no credentials, and — when
/// the host is an IP literal — the address. Host names are checked when they are resolved.
pub(crate) fn check_url_host(url: &reqwest::Url, policy: &AddressPolicy) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Url(format!(
            "scheme `{}` is not http(s)",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Url("credentials in the URL".into()));
    }
    match url_ip(url) {
        Ok(Some(ip)) => policy.check(ip),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The URL's host as an IP address when it is a literal (`Ok(None)` for a name).
fn url_ip(url: &reqwest::Url) -> Result<Option<IpAddr>, Refused> {
    let host = url
        .host_str()
        .ok_or_else(|| Refused::Url("no host".into()))?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(bare.parse::<IpAddr>().ok())
}

/// Resolves `host` and checks every address; returns the addresses when all are allowed.
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    policy: &AddressPolicy,
) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Refused::Unresolved(host.to_owned()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused::Unresolved(host.to_owned()));
    }
    for a in &addrs {
        policy.check(a.ip())?;
    }
    Ok(addrs)
}

/// Checks a whole URL now: its form, and the addresses its host resolves to. Use it to refuse
/// a callback registration early; the connection itself is checked again by the sender.
pub(crate) async fn check_url(url: &reqwest::Url, policy: &AddressPolicy) -> Result<(), Refused> {
    check_url_host(url, policy)?;
    if url_ip(url)?.is_none() {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        resolve_checked(host, port, policy).await?;
    }
    Ok(())
}

/// A DNS resolver for the sender's HTTP client that refuses names reaching disallowed
/// addresses and returns exactly the addresses it checked.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: AddressPolicy) -> Self {
        GuardedResolver {
            policy: Arc::new(policy),
        }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match resolve_checked(&host, 0, &policy).await {
                Ok(addrs) => {
                    let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
                    Ok(it)
                }
                Err(refused) => {
                    tracing::warn!(%host, %refused, "webhook destination refused");
                    Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

/// Finds a [`Refused`] in an error's source chain (how a refusal surfaces through the HTTP
/// client).
pub(crate) fn find_refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        depth += 1;
        if depth > 32 {
            break;
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn categories() {
        let cases = [
            ("127.0.0.1", Some(Category::Loopback)),
            ("127.255.0.9", Some(Category::Loopback)),
            ("::1", Some(Category::Loopback)),
            ("10.1.2.3", Some(Category::Private)),
            ("172.16.0.1", Some(Category::Private)),
            ("172.31.255.255", Some(Category::Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Category::Private)),
            ("fd12::1", Some(Category::Private)),
            ("100.64.0.1", Some(Category::SharedCgnat)),
            ("100.128.0.1", None),
            ("169.254.1.1", Some(Category::LinkLocal)),
            ("fe80::1", Some(Category::LinkLocal)),
            ("169.254.169.254", Some(Category::Metadata)),
            ("fd00:ec2::254", Some(Category::Metadata)),
            ("0.0.0.0", Some(Category::Unspecified)),
            ("::", Some(Category::Unspecified)),
            ("224.0.0.1", Some(Category::Multicast)),
            ("ff02::1", Some(Category::Multicast)),
            ("255.255.255.255", Some(Category::Broadcast)),
            ("240.0.0.1", Some(Category::Reserved)),
            ("2001:db8::1", Some(Category::Reserved)),
            ("::ffff:127.0.0.1", Some(Category::Loopback)),
            ("::ffff:169.254.169.254", Some(Category::Metadata)),
            ("::10.0.0.1", Some(Category::Private)),
            ("64:ff9b::a00:1", Some(Category::Private)),
            ("2002:c0a8:0101::1", Some(Category::Private)),
            ("93.184.215.14", None),
            ("2606:4700::1111", None),
        ];
        for (a, want) in cases {
            assert_eq!(classify(ip(a)), want, "{a}");
        }
    }

    #[test]
    fn policy_allows_what_it_names() {
        let p = AddressPolicy::allow_loopback();
        assert!(p.check(ip("127.0.0.1")).is_ok());
        assert!(p.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(p.check(ip("10.0.0.1")).is_err());
        let p = AddressPolicy {
            allow_private: true,
            ..AddressPolicy::default()
        };
        assert!(p.check(ip("10.0.0.1")).is_ok());
        assert!(
            p.check(ip("169.254.169.254")).is_err(),
            "metadata needs an explicit allow"
        );
        let p = AddressPolicy {
            allow: vec![ip("169.254.169.254")],
            ..AddressPolicy::default()
        };
        assert!(p.check(ip("169.254.169.254")).is_ok());
    }

    #[test]
    fn url_checks() {
        let p = AddressPolicy::default();
        let u = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(check_url_host(&u("https://example.com/x"), &p).is_ok());
        assert!(check_url_host(&u("ftp://example.com/x"), &p).is_err());
        assert!(check_url_host(&u("http://user:pw@example.com/"), &p).is_err());
        assert!(check_url_host(&u("http://127.0.0.1/"), &p).is_err());
        // The WHATWG URL parser normalizes other spellings of IPv4 literals.
        assert!(check_url_host(&u("http://2130706433/"), &p).is_err());
        assert!(check_url_host(&u("http://0x7f.1/"), &p).is_err());
        assert!(check_url_host(&u("http://[::ffff:7f00:1]/"), &p).is_err());
    }
}
