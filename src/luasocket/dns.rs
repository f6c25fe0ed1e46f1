//! LuaSocket's `socket.dns`: `toip`, `tohostname`, `gethostname`,
//! `getaddrinfo`, `getnameinfo`, with LuaSocket's results and error words.
//!
//! Lookups are async: the resolver (`getaddrinfo`/`getnameinfo`, which
//! block) runs on Tokio's blocking pool, so a slow DNS server never stalls
//! the loop, and a [`Thread::cancel`](crate::Thread::cancel) ends the wait
//! with `"cancelled"`. A literal IP address needs no resolver at all in
//! `toip` and `getaddrinfo`.
//!
//! | Lua | Rust |
//! | --- | --- |
//! | `socket.dns.toip(address)` | [`toip`]`(address).await -> (IpAddr, Resolved)` |
//! | `socket.dns.tohostname(address)` | [`tohostname`]`(address).await -> (String, Resolved)` |
//! | `socket.dns.gethostname()` | [`gethostname`]`()` |
//! | `socket.dns.getaddrinfo(address)` | [`getaddrinfo`]`(address).await -> Vec<ResolvedAddr>` |
//! | `socket.dns.getnameinfo(host, serv)` | [`getnameinfo`]`(host, serv).await -> (Vec<String>, Option<String>)` |
//!
//! # Errors
//!
//! A failed lookup is an `Err` of kind [`ErrorKind::Lookup`] whose
//! [`name()`](Error::name) is LuaSocket's own text: `"host not found"` for
//! `toip`/`tohostname` (the `h_errno` words), `"host or service not
//! provided, or not known"`, `"service not supported for socket type"`,
//! `"temporary failure in name resolution"`, ... for
//! `getaddrinfo`/`getnameinfo` (LuaSocket's `gai` words). The resolver's own
//! message follows in `Display`. A system error (`EAI_SYSTEM`) is that OS
//! error, normalized as everywhere in sockloop.
//!
//! # Examples
//!
//! ```
//! # sockloop::run(async {
//! use sockloop::luasocket::dns;
//!
//! let (ip, resolved) = dns::toip("127.0.0.1").await?; // no resolver
//! assert_eq!(ip.to_string(), "127.0.0.1");
//! assert_eq!(resolved.ip, [ip]);
//!
//! let (ip, _) = dns::toip("localhost").await?; // the resolver, off the loop
//! assert!(ip.is_loopback());
//! # Ok::<(), sockloop::Error>(())
//! # }).unwrap();
//! ```

use std::net::{IpAddr, SocketAddr};

use dns_lookup::{LookupError, LookupErrorKind};

use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::Family;

/// What `toip` and `tohostname` return after the address or name: LuaSocket's
/// `resolved4` table `{name = ..., alias = {...}, ip = {...}}`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use std::net::{IpAddr, Ipv4Addr};
/// use sockloop::luasocket::dns::{self, Resolved};
///
/// // local ip, resolved = socket.dns.toip("127.0.0.1")
/// let (_, resolved) = dns::toip("127.0.0.1").await?; // a literal: no resolver
/// let want = Resolved {
///     name: "127.0.0.1".to_string(),
///     alias: Vec::new(),
///     ip: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
/// };
/// assert_eq!(resolved, want);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical name (`resolved.name`); for a literal address given
    /// to `toip`, the address as given.
    pub name: String,
    /// Other names (`resolved.alias`): always empty, since `getaddrinfo`,
    /// which sockloop uses instead of the obsolete `gethostbyname`, does
    /// not report aliases. LuaSocket notes the list can be empty.
    pub alias: Vec<String>,
    /// The addresses (`resolved.ip`), in the resolver's order, without
    /// repeats.
    pub ip: Vec<IpAddr>,
}

/// One entry of what [`getaddrinfo`] returns: LuaSocket's `resolved6[i]`,
/// `{family = "inet" | "inet6", addr = "..."}`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use std::net::{IpAddr, Ipv6Addr};
/// use sockloop::luasocket::dns::{self, ResolvedAddr};
/// use sockloop::Family;
///
/// let list = dns::getaddrinfo("::1").await?;
/// assert_eq!(list, [ResolvedAddr { family: Family::Inet6, addr: IpAddr::V6(Ipv6Addr::LOCALHOST) }]);
/// // LuaSocket's strings: {family = "inet6", addr = "::1"}
/// assert_eq!((list[0].family.to_string(), list[0].addr.to_string()), ("inet6".into(), "::1".into()));
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedAddr {
    /// `"inet"` or `"inet6"` (`Display` gives LuaSocket's string).
    pub family: Family,
    /// The address (`Display` gives LuaSocket's numeric text).
    pub addr: IpAddr,
}

/// Which of LuaSocket's error vocabularies a call uses.
#[derive(Clone, Copy)]
enum Words {
    /// `socket_hoststrerror`: `toip`, `tohostname`.
    Host,
    /// `socket_gaistrerror`: `getaddrinfo`, `getnameinfo`.
    Gai,
}

/// A resolver failure in LuaSocket's words; the resolver's own message is
/// kept for `Display`.
fn lookup_error(e: LookupError, words: Words) -> Error {
    use LookupErrorKind as K;
    let kind = e.kind();
    let io = std::io::Error::from(e);
    if matches!(kind, K::System | K::IO) {
        return Error::from(io);
    }
    let text = match (words, kind) {
        (Words::Host, K::NoName) => "host not found",
        (Words::Host, K::NoData) => "No address associated with name",
        (Words::Host, K::Again) => "Host name lookup failure",
        (Words::Host, K::Fail) => "Unknown server error",
        (_, K::Again) => "temporary failure in name resolution",
        (_, K::Badflags) => "invalid value for ai_flags",
        (_, K::Fail) => "non-recoverable failure in name resolution",
        (_, K::Family) => "ai_family not supported",
        (_, K::Memory) => "memory allocation failure",
        (_, K::NoName) => "host or service not provided, or not known",
        (_, K::Service) => "service not supported for socket type",
        (_, K::Socktype) => "ai_socktype not supported",
        _ => {
            // No LuaSocket word: the resolver's own text, as LuaSocket's
            // `gai_strerror` fallback.
            let t = io.to_string();
            let t = t
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&t)
                .to_string();
            return Error::with_message(ErrorKind::Lookup, t);
        }
    };
    Error::with_message(ErrorKind::Lookup, text).context(io)
}

/// Runs a blocking resolver call on Tokio's blocking pool; a cancel of the
/// current sockloop thread ends the wait.
async fn off_loop<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::with_message(
            ErrorKind::NotInThread,
            "a socket.dns lookup needs a running loop (a sockloop thread or a Tokio task)",
        ));
    }
    let job = tokio::task::spawn_blocking(f);
    let waited = async {
        job.await
            .map_err(|e| Error::with_message(ErrorKind::Other, format!("lookup task failed: {e}")))
    };
    Deadline::run(None, waited).await?
}

/// `getaddrinfo(host, serv)` for stream sockets (LuaSocket's hints),
/// `family` only if given; `canon` asks for the canonical name.
fn forward(
    host: Option<&str>,
    serv: Option<&str>,
    family: Option<Family>,
    canon: bool,
    words: Words,
) -> Result<Vec<dns_lookup::AddrInfo>> {
    let hints = dns_lookup::AddrInfoHints {
        flags: if canon { libc::AI_CANONNAME } else { 0 },
        address: match family {
            Some(Family::Inet) => libc::AF_INET,
            Some(Family::Inet6) => libc::AF_INET6,
            _ => libc::AF_UNSPEC,
        },
        socktype: libc::SOCK_STREAM,
        protocol: 0,
    };
    let iter =
        dns_lookup::getaddrinfo(host, serv, Some(hints)).map_err(|e| lookup_error(e, words))?;
    let mut out = Vec::new();
    for item in iter {
        out.push(item.map_err(Error::from)?);
    }
    Ok(out)
}

/// The `resolved4` table of a forward lookup of `host`.
fn resolved(host: &str, list: &[dns_lookup::AddrInfo]) -> Resolved {
    let name = list
        .iter()
        .find_map(|a| a.canonname.clone())
        .unwrap_or_else(|| host.to_string());
    let mut ip: Vec<IpAddr> = Vec::new();
    for a in list {
        if !ip.contains(&a.sockaddr.ip()) {
            ip.push(a.sockaddr.ip());
        }
    }
    Resolved {
        name,
        alias: Vec::new(),
        ip,
    }
}

/// An IPv4 forward lookup of `host` with the canonical name, in the `Host`
/// words; at least one address.
async fn lookup_v4(host: &str) -> Result<Resolved> {
    let host = host.to_string();
    off_loop(move || {
        let list = forward(Some(&host), None, Some(Family::Inet), true, Words::Host)?;
        let r = resolved(&host, &list);
        if r.ip.is_empty() {
            return Err(Error::with_message(ErrorKind::Lookup, "host not found"));
        }
        Ok(r)
    })
    .await
}

/// `socket.dns.toip(address)`: the first IPv4 address of `address`, and
/// everything the resolver said about it ([`Resolved`]).
///
/// A literal address (IPv4, or IPv6 — which LuaSocket's IPv4-only `toip`
/// rejects) is returned as it is, with `name` the literal, without asking
/// the resolver (LuaSocket asks it for the literal's host name and fails
/// when there is none). A name is looked up off the loop.
///
/// # Errors
///
/// `"host not found"` (kind [`ErrorKind::Lookup`]) when the name does not
/// exist or has no IPv4 address, `"Host name lookup failure"` when the DNS
/// server did not answer; `"cancelled"`; `"not_in_thread"` outside a loop
/// (for a name only).
///
/// # Cancel safety
///
/// Cancel safe: the lookup finishes in the background and its answer is
/// dropped.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::dns;
/// // host = socket.dns.toip(host)
/// let (host, _) = dns::toip("localhost").await?;
/// assert_eq!(host.to_string(), "127.0.0.1");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn toip(address: &str) -> Result<(IpAddr, Resolved)> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        let r = Resolved {
            name: address.to_string(),
            alias: Vec::new(),
            ip: vec![ip],
        };
        return Ok((ip, r));
    }
    let r = lookup_v4(address).await?;
    Ok((r.ip[0], r))
}

/// `socket.dns.tohostname(address)`: the canonical host name of
/// `address` (an IP address: a reverse lookup; a name: its canonical
/// name), and everything the resolver said ([`Resolved`]).
///
/// # Errors
///
/// `"host not found"` when the address has no name or the name does not
/// exist; as [`toip`] otherwise.
///
/// # Cancel safety
///
/// As [`toip`].
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::dns;
/// let (name, resolved) = dns::tohostname("127.0.0.1").await?;
/// assert!(!name.is_empty());
/// assert_eq!(resolved.ip[0].to_string(), "127.0.0.1");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn tohostname(address: &str) -> Result<(String, Resolved)> {
    let Ok(ip) = address.parse::<IpAddr>() else {
        let r = lookup_v4(address).await?;
        return Ok((r.name.clone(), r));
    };
    let name = off_loop(move || {
        dns_lookup::getnameinfo(&SocketAddr::new(ip, 0), libc::NI_NAMEREQD)
            .map(|(host, _)| host)
            .map_err(|e| lookup_error(e, Words::Host))
    })
    .await?;
    let r = Resolved {
        name: name.clone(),
        alias: Vec::new(),
        ip: vec![ip],
    };
    Ok((name, r))
}

/// `socket.dns.gethostname()`: this machine's host name. Not async: it
/// asks the kernel, not the resolver.
///
/// # Errors
///
/// An OS error; `"invalid_data"`-like `Other` for a name that is not
/// UTF-8.
///
/// # Examples
///
/// ```
/// let name = sockloop::luasocket::dns::gethostname()?;
/// assert!(!name.is_empty());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn gethostname() -> Result<String> {
    Ok(dns_lookup::get_hostname()?)
}

/// `socket.dns.getaddrinfo(address)`: every address of `address`, IPv4
/// and IPv6, as LuaSocket's `resolved6` list of `{family, addr}`
/// ([`ResolvedAddr`]), in the resolver's order. A literal address is
/// returned as it is, without the resolver.
///
/// # Errors
///
/// `"host or service not provided, or not known"` (kind
/// [`ErrorKind::Lookup`]), `"temporary failure in name resolution"`, ...;
/// `"cancelled"`; `"not_in_thread"` outside a loop (for a name only).
///
/// # Cancel safety
///
/// As [`toip`].
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::dns;
/// let list = dns::getaddrinfo("::1").await?;
/// assert_eq!(list[0].family.to_string(), "inet6");
/// assert_eq!(list[0].addr.to_string(), "::1");
/// let e = dns::getaddrinfo("no-such-host.invalid").await.unwrap_err();
/// assert_eq!(e.kind(), sockloop::ErrorKind::Lookup);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn getaddrinfo(address: &str) -> Result<Vec<ResolvedAddr>> {
    let entry = |addr: IpAddr| ResolvedAddr {
        family: match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        },
        addr,
    };
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(vec![entry(ip)]);
    }
    let host = address.to_string();
    let list = off_loop(move || forward(Some(&host), None, None, false, Words::Gai)).await?;
    Ok(list.iter().map(|a| entry(a.sockaddr.ip())).collect())
}

/// `socket.dns.getnameinfo(host, serv)`: looks `host` and `serv` up, then
/// each address back: the host names (one per address, numeric where an
/// address has no name; empty when `host` is `None`) and the service name
/// of `serv` (`None` when `serv` is `None`).
///
/// # Errors
///
/// `"invalid_argument"` when both are `None` (LuaSocket raises);
/// `"host or service not provided, or not known"`, `"service not
/// supported for socket type"` (an unknown service name), ...;
/// `"cancelled"`; `"not_in_thread"` outside a loop.
///
/// # Cancel safety
///
/// As [`toip`].
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::dns;
/// let (names, service) = dns::getnameinfo(Some("127.0.0.1"), Some("80")).await?;
/// assert_eq!(names.len(), 1);
/// assert!(service.is_some()); // "http" where /etc/services lists it
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn getnameinfo(
    host: Option<&str>,
    serv: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    if host.is_none() && serv.is_none() {
        return Err(Error::with_message(
            ErrorKind::InvalidArgument,
            "getnameinfo: host and serv cannot be both nil",
        ));
    }
    let host = host.map(str::to_string);
    let serv = serv.map(str::to_string);
    off_loop(move || {
        let list = forward(host.as_deref(), serv.as_deref(), None, false, Words::Gai)?;
        let mut names = Vec::new();
        let mut service = None;
        for a in &list {
            let (h, s) =
                dns_lookup::getnameinfo(&a.sockaddr, 0).map_err(|e| lookup_error(e, Words::Gai))?;
            if host.is_some() {
                names.push(h);
            }
            if serv.is_some() {
                service = Some(s);
            }
        }
        Ok((names, service))
    })
    .await
}
