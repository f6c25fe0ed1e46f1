//! Address lists ([`AddrInfo`], [`AddrEntry`]), lookup hints and the
//! resolver: [`addr`], [`addr_with`], [`addr_async`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use super::port::{check_host, check_unix_path};
use super::{invalid, Family, Port, Protocol, SockAddr, SockType};
use crate::error::{Error, ErrorKind, Result};

// ===== AddrInfo =====

/// One result of a lookup (sock's `ai` node). `Display` gives its address
/// (`ai:tostring()`).
///
/// # Examples
///
/// ```
/// use sockloop::{Family, Protocol, SockType};
///
/// let ai = sockloop::addr("127.0.0.1", 8080)?;
/// let tcp = ai.iter().find(|e| e.socktype() == SockType::Tcp).unwrap();
/// assert_eq!(tcp.family(), Family::Inet);
/// assert_eq!(tcp.protocol(), Protocol::Tcp);
/// assert_eq!(tcp.to_string(), "127.0.0.1:8080");
/// # Ok::<(), sockloop::Error>(())
/// ```
#[doc(alias = "ai")]
#[doc(alias = "tostring")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrEntry {
    socktype: SockType,
    protocol: Protocol,
    name: Option<String>,
    pub(super) addr: SockAddr,
}

crate::thread::plain_outputs!(AddrEntry);

impl AddrEntry {
    pub(super) fn new(socktype: SockType, addr: SockAddr) -> AddrEntry {
        let protocol = match (addr.family(), socktype) {
            (Family::Unix, _) => Protocol::Ip,
            (_, SockType::Tcp) => Protocol::Tcp,
            (_, SockType::Udp) => Protocol::Udp,
            (_, SockType::Raw) => Protocol::Ip,
        };
        AddrEntry {
            socktype,
            protocol,
            name: None,
            addr,
        }
    }

    /// The socket type (`ai:type()`; `type` is a Rust keyword).
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("::1", 53)?;
    /// let kinds: Vec<String> = ai.iter().map(|e| e.socktype().to_string()).collect();
    /// assert!(kinds.contains(&"udp".to_string()));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "type")]
    pub fn socktype(&self) -> SockType {
        self.socktype
    }

    /// The address family (`ai:family()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("::1", 53)?;
    /// assert!(ai.iter().all(|e| e.family() == sockloop::Family::Inet6));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn family(&self) -> Family {
        self.addr.family()
    }

    /// The protocol (`ai:protocol()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Hints, Protocol, SockType};
    /// let hints = Hints { socktype: Some(SockType::Udp), ..Hints::default() };
    /// let ai = sockloop::addr_with("127.0.0.1", 53, &hints)?;
    /// assert_eq!(ai.first().unwrap().protocol(), Protocol::Udp);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The canonical name, where the lookup asked for it
    /// ([`Flags::canonname`]) (`ai:name()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("127.0.0.1", 80)?;
    /// assert_eq!(ai.first().unwrap().name(), None); // not asked for
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The socket address (`ai.addr`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("127.0.0.1", 80)?;
    /// let sa = ai.first().unwrap().addr();
    /// assert_eq!((sa.ip().to_string(), sa.port()), ("127.0.0.1".to_string(), 80));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn addr(&self) -> SockAddr {
        self.addr.clone()
    }
}

impl fmt::Display for AddrEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

/// The result of a lookup: a list of [`AddrEntry`] (sock's `ai` list).
///
/// # Examples
///
/// ```
/// let ai = sockloop::addr("127.0.0.1", 80).unwrap();
/// for e in &ai {
///     assert_eq!(e.addr().to_string(), "127.0.0.1:80");
/// }
/// ```
#[doc(alias = "free")]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddrInfo {
    pub(super) entries: Vec<AddrEntry>,
}

crate::thread::plain_outputs!(AddrInfo);

impl AddrInfo {
    /// The entries, in resolver order (`ai:addrs()`, `ai:next()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("*", 0)?; // all interfaces: 0.0.0.0 and [::]
    /// let ips: Vec<String> = ai.iter().map(|e| e.addr().ip().to_string()).collect();
    /// assert!(ips.contains(&"0.0.0.0".to_string()) && ips.contains(&"::".to_string()));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "addrs")]
    #[doc(alias = "next")]
    pub fn iter(&self) -> std::slice::Iter<'_, AddrEntry> {
        self.entries.iter()
    }

    /// The number of entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Hints, SockType};
    /// let hints = Hints { socktype: Some(SockType::Tcp), ..Hints::default() };
    /// assert_eq!(sockloop::addr_with("127.0.0.1", 80, &hints)?.len(), 1);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are no entries.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(sockloop::AddrInfo::default().is_empty());
    /// assert!(!sockloop::addr("127.0.0.1", 80)?.is_empty());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry.
    ///
    /// # Examples
    ///
    /// ```
    /// let ai = sockloop::addr("127.0.0.1", 80)?;
    /// assert_eq!(ai.first().unwrap().addr().port(), 80);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn first(&self) -> Option<&AddrEntry> {
        self.entries.first()
    }
}

impl IntoIterator for AddrInfo {
    type Item = AddrEntry;
    type IntoIter = std::vec::IntoIter<AddrEntry>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a AddrInfo {
    type Item = &'a AddrEntry;
    type IntoIter = std::slice::Iter<'a, AddrEntry>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl fmt::Display for AddrInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

// ===== Hints =====

/// `getaddrinfo` flags (sock.lua's `flags` argument).
///
/// # Examples
///
/// ```
/// use sockloop::{Flags, Hints};
/// let hints = Hints { flags: Flags { numerichost: true, ..Flags::default() }, ..Hints::default() };
/// assert!(sockloop::addr_with("127.0.0.1", 80, &hints).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `AI_PASSIVE`: addresses for binding (host `"*"` gives the wildcard).
    pub passive: bool,
    /// `AI_CANONNAME`: fill in [`AddrEntry::name`].
    pub canonname: bool,
    /// `AI_NUMERICHOST`: the host must be a literal address.
    pub numerichost: bool,
    /// `AI_NUMERICSERV`: the port must be a number.
    pub numericserv: bool,
    /// `AI_ALL`: with `v4mapped`, IPv6 and mapped IPv4 addresses.
    pub all: bool,
    /// `AI_V4MAPPED`: IPv4 addresses as IPv4-mapped IPv6 when none found.
    pub v4mapped: bool,
    /// `AI_ADDRCONFIG`: only families configured on this host.
    pub addrconfig: bool,
}

impl Flags {
    fn to_c(self) -> i32 {
        // glibc's AI_* values.
        let mut v = 0;
        for (on, bit) in [
            (self.passive, 0x1),
            (self.canonname, 0x2),
            (self.numerichost, 0x4),
            (self.v4mapped, 0x8),
            (self.all, 0x10),
            (self.addrconfig, 0x20),
            (self.numericserv, 0x400),
        ] {
            if on {
                v |= bit;
            }
        }
        v
    }
}

/// What to look up (sock.lua's `type`, `family`, `protocol`, `flags`).
///
/// # Examples
///
/// ```
/// use sockloop::{Family, Hints, SockType};
/// let hints = Hints { socktype: Some(SockType::Tcp), family: Some(Family::Inet), ..Hints::default() };
/// let ai = sockloop::addr_with("127.0.0.1", 80, &hints).unwrap();
/// assert_eq!(ai.len(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hints {
    /// Only this socket type (`None`: all).
    pub socktype: Option<SockType>,
    /// Only this family (`None`: all).
    pub family: Option<Family>,
    /// Only this protocol (`None`: all).
    pub protocol: Option<Protocol>,
    /// `getaddrinfo` flags.
    pub flags: Flags,
}

// ===== lookup =====

/// Looks up `host` and `port` for all socket types and families
/// (`sock.addr(host, port)`). Blocks like `getaddrinfo` for names; literal
/// addresses and `"*"` (all interfaces) are parsed without the resolver.
///
/// `host` is a hostname, an IP literal (IPv6 optionally in brackets) or
/// `"*"` (all interfaces: `0.0.0.0` and `[::]`); `port` a number, a port
/// string (digits, 0–65535) or a service name (see [`Port::parse`]).
///
/// # Errors
///
/// * A name or service that does not resolve: an error of kind
///   [`ErrorKind::Lookup`] whose name is the resolver's own text
///   (`gai_strerror`: `"Name or service not known"`,
///   `"Servname not supported for ai_socktype"`, ...), as sock.lua returns.
/// * `"invalid_address"`, with a message naming the bad part: an empty
///   host, a host with whitespace or a NUL byte, a port string out of
///   0–65535, empty, or signed (never wrapped to another port), a
///   malformed bracketed IPv6 literal, or no address of the hinted family.
///
/// # Examples
///
/// ```
/// let ai = sockloop::addr("::1", 443).unwrap();
/// assert!(ai.iter().all(|e| e.addr().to_string() == "[::1]:443"));
/// let e = sockloop::addr("127.0.0.1", "99999").unwrap_err();
/// assert_eq!(e.name(), "invalid_address");
/// assert!(e.to_string().contains("99999"));
/// ```
pub fn addr(host: &str, port: impl Into<Port>) -> Result<AddrInfo> {
    addr_with(host, port, &Hints::default())
}

/// [`addr`] with hints: socket type, family, protocol and flags
/// (`sock.addr(host, port, type, family, protocol, flags)`).
///
/// # Errors
///
/// As [`addr`]; also `"invalid_address"` when no address of the hinted
/// family exists for a literal.
///
/// # Examples
///
/// ```
/// use sockloop::{Family, Hints};
/// let v6 = Hints { family: Some(Family::Inet6), ..Hints::default() };
/// assert!(sockloop::addr_with("::1", 80, &v6).is_ok());
/// let e = sockloop::addr_with("127.0.0.1", 80, &v6).unwrap_err();
/// assert_eq!(e.name(), "invalid_address");
/// ```
pub fn addr_with(host: &str, port: impl Into<Port>, hints: &Hints) -> Result<AddrInfo> {
    match literal(host, &port.into(), hints)? {
        Parsed::Done(ai) => Ok(ai),
        Parsed::Lookup(host, port) => getaddrinfo(host.as_deref(), &port, hints),
    }
}

/// [`addr_with`] without blocking the loop: names are resolved on Tokio's
/// blocking pool (`spawn_blocking`); literal addresses need no runtime
/// work at all. Needs a Tokio runtime only when a name is looked up.
///
/// # Errors
///
/// As [`addr`]; `"not_in_thread"` if a name must be looked up outside a
/// Tokio runtime.
///
/// # Cancel safety
///
/// Dropping the future abandons the lookup (the blocking call finishes in
/// the background and its result is discarded).
///
/// # Send
///
/// `Send`: it can run in a `tokio::spawn` task.
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let ai = sockloop::addr_async("127.0.0.1", "80", &sockloop::Hints::default()).await?;
///     assert_eq!(ai.first().unwrap().addr().port(), 80);
///     Ok::<(), sockloop::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn addr_async(host: &str, port: impl Into<Port>, hints: &Hints) -> Result<AddrInfo> {
    match literal(host, &port.into(), hints)? {
        Parsed::Done(ai) => Ok(ai),
        Parsed::Lookup(host, port) => lookup_blocking_pool(host, port, *hints).await,
    }
}

async fn lookup_blocking_pool(host: Option<String>, port: Port, hints: Hints) -> Result<AddrInfo> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::with_message(
            ErrorKind::NotInThread,
            "a name lookup without blocking needs a running loop",
        ));
    }
    let job = tokio::task::spawn_blocking(move || getaddrinfo(host.as_deref(), &port, &hints));
    match job.await {
        Ok(r) => r,
        Err(e) => Err(Error::with_message(
            ErrorKind::Other,
            format!("lookup task failed: {e}"),
        )),
    }
}

enum Parsed {
    Done(AddrInfo),
    Lookup(Option<String>, Port),
}

/// Parses literal hosts and `"*"`; anything else needs the resolver.
fn literal(host: &str, port: &Port, hints: &Hints) -> Result<Parsed> {
    if hints.family == Some(Family::Unix) {
        if host.is_empty() {
            return Err(invalid("unix socket path \"\" is empty".to_string()));
        }
        check_unix_path(Path::new(host))?;
        let st = hints.socktype.unwrap_or(SockType::Tcp);
        return Ok(Parsed::Done(AddrInfo {
            entries: vec![AddrEntry::new(st, SockAddr::unix(host))],
        }));
    }
    check_host(host)?;
    let port = &port.checked()?;
    let ips: Vec<IpAddr> = if host == "*" {
        vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ]
    } else if let Some(inner) = host.strip_prefix('[') {
        let v6 = inner
            .strip_suffix(']')
            .and_then(|s| s.parse::<Ipv6Addr>().ok())
            .ok_or_else(|| invalid(format!("{host:?} port {port}")))?;
        vec![IpAddr::V6(v6)]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else if hints.flags.numerichost {
        return Err(invalid(format!("{host:?} (not a numeric host)")));
    } else {
        return Ok(Parsed::Lookup(Some(host.to_string()), port.clone()));
    };
    let num = match port {
        Port::Number(n) => *n,
        Port::Service(_) => {
            let h = if host == "*" {
                None
            } else {
                Some(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                )
            };
            return Ok(Parsed::Lookup(h, port.clone()));
        }
    };
    let types = match hints.socktype {
        Some(t) => vec![t],
        None => vec![SockType::Tcp, SockType::Udp, SockType::Raw],
    };
    let mut entries = Vec::new();
    for ip in ips {
        if hints.family.is_some_and(|f| f != Family::of_ip(&ip)) {
            continue;
        }
        for &t in &types {
            let mut e = AddrEntry::new(t, SockAddr::from(SocketAddr::new(ip, num)));
            if let Some(p) = hints.protocol {
                e.protocol = p;
            }
            if hints.flags.canonname {
                e.name = Some(host.to_string());
            }
            entries.push(e);
        }
    }
    if entries.is_empty() {
        return Err(invalid(format!(
            "{host} port {port} (not of family {})",
            hints.family.map_or("any", Family::as_str)
        )));
    }
    Ok(Parsed::Done(AddrInfo { entries }))
}

fn getaddrinfo(host: Option<&str>, port: &Port, hints: &Hints) -> Result<AddrInfo> {
    let mut flags = hints.flags;
    if host.is_none() {
        flags.passive = true;
    }
    let c_hints = dns_lookup::AddrInfoHints {
        flags: flags.to_c(),
        address: match hints.family {
            Some(f) => i32::from(f.to_domain()),
            None => 0,
        },
        socktype: hints.socktype.map_or(0, SockType::to_c),
        protocol: hints.protocol.map_or(0, Protocol::number),
    };
    let service = port.to_string();
    let shown = host.unwrap_or("*");
    let context = || format!("looking up {shown} port {service}");
    let iter = dns_lookup::getaddrinfo(host, Some(&service), Some(c_hints))
        .map_err(|e| gai_error(e).context(context()))?;
    let mut entries = Vec::new();
    for item in iter {
        let ai = item.map_err(|e| Error::from(e).context(context()))?;
        let mut e = AddrEntry::new(SockType::from_c(ai.socktype), SockAddr::from(ai.sockaddr));
        if let Some(p) = Protocol::from_number(ai.protocol) {
            e.protocol = p;
        }
        e.name = ai.canonname;
        entries.push(e);
    }
    if entries.is_empty() {
        return Err(Error::with_message(ErrorKind::Lookup, "no address found").context(context()));
    }
    Ok(AddrInfo { entries })
}

/// A resolver failure as sock.lua reports it: the name is `gai_strerror`'s
/// text (`"Name or service not known"`), without the prefix
/// `dns_lookup` adds. `EAI_SYSTEM` carries an errno: that OS error.
fn gai_error(e: dns_lookup::LookupError) -> Error {
    use dns_lookup::LookupErrorKind as K;
    let system = matches!(e.kind(), K::System | K::IO);
    let io = std::io::Error::from(e);
    if system {
        return Error::from(io);
    }
    let text = io.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    Error::with_message(ErrorKind::Lookup, text.to_string())
}
