//! Address lookup (sock's `sock.addr`, `ai:*`, `sa:*`, `ip:*`): [`addr`],
//! [`addr_with`], [`addr_async`], [`AddrInfo`], [`SockAddr`], [`Hints`],
//! [`ToAddr`].
//!
//! Literal addresses (`"127.0.0.1"`, `"::1"`, `"[::1]"`, `"*"`) are parsed
//! here without the resolver; only real names go to `getaddrinfo`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

// ===== enums =====

/// A socket type, with sock.lua's names (`"tcp"`, `"udp"`, `"raw"`).
///
/// # Examples
///
/// ```
/// use sockloop::SockType;
/// assert_eq!("udp".parse::<SockType>().unwrap(), SockType::Udp);
/// assert_eq!(SockType::Tcp.to_string(), "tcp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `"tcp"`: `SOCK_STREAM`.
    Tcp,
    /// `"udp"`: `SOCK_DGRAM`.
    Udp,
    /// `"raw"`: `SOCK_RAW`.
    Raw,
}

/// An address family, with sock.lua's names (`"inet"`, `"inet6"`, `"unix"`).
///
/// # Examples
///
/// ```
/// use sockloop::Family;
/// assert_eq!("inet6".parse::<Family>().unwrap(), Family::Inet6);
/// assert_eq!(Family::Unix.to_string(), "unix");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `"inet"`: IPv4.
    Inet,
    /// `"inet6"`: IPv6.
    Inet6,
    /// `"unix"`: Unix-domain sockets (the address is a path).
    Unix,
}

/// An IP protocol, with sock.lua's names (`"ip"`, `"ipv6"`, `"tcp"`,
/// `"udp"`, `"raw"`, `"icmp"`, `"igmp"`, `"icmpv6"`).
///
/// # Examples
///
/// ```
/// use sockloop::Protocol;
/// assert_eq!("icmp".parse::<Protocol>().unwrap(), Protocol::Icmp);
/// assert_eq!(Protocol::Icmpv6.to_string(), "icmpv6");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `"ip"`: protocol 0, the default for the socket type.
    Ip,
    /// `"ipv6"`: protocol 41.
    Ipv6,
    /// `"tcp"`: protocol 6.
    Tcp,
    /// `"udp"`: protocol 17.
    Udp,
    /// `"raw"`: protocol 255.
    Raw,
    /// `"icmp"`: protocol 1.
    Icmp,
    /// `"igmp"`: protocol 2.
    Igmp,
    /// `"icmpv6"`: protocol 58.
    Icmpv6,
}

macro_rules! names {
    ($ty:ident, $what:literal, $($v:ident = $s:literal),+ $(,)?) => {
        impl $ty {
            /// The Lua name.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            /// Parses the Lua name.
            ///
            /// # Errors
            ///
            /// `"invalid_argument"` for an unknown name.
            fn from_str(s: &str) -> Result<$ty> {
                match s {
                    $($s => Ok($ty::$v),)+
                    _ => Err(Error::with_message(
                        ErrorKind::InvalidArgument,
                        format!(concat!("unknown ", $what, " {:?}"), s),
                    )),
                }
            }
        }
    };
}

names!(
    SockType,
    "socket type",
    Tcp = "tcp",
    Udp = "udp",
    Raw = "raw"
);
names!(
    Family,
    "address family",
    Inet = "inet",
    Inet6 = "inet6",
    Unix = "unix"
);
names!(
    Protocol,
    "protocol",
    Ip = "ip",
    Ipv6 = "ipv6",
    Tcp = "tcp",
    Udp = "udp",
    Raw = "raw",
    Icmp = "icmp",
    Igmp = "igmp",
    Icmpv6 = "icmpv6",
);

impl SockType {
    fn to_c(self) -> i32 {
        i32::from(match self {
            SockType::Tcp => socket2::Type::STREAM,
            SockType::Udp => socket2::Type::DGRAM,
            SockType::Raw => socket2::Type::RAW,
        })
    }

    fn from_c(v: i32) -> SockType {
        if v == i32::from(socket2::Type::DGRAM) {
            SockType::Udp
        } else if v == i32::from(socket2::Type::RAW) {
            SockType::Raw
        } else {
            SockType::Tcp
        }
    }
}

impl Family {
    pub(crate) fn to_domain(self) -> socket2::Domain {
        match self {
            Family::Inet => socket2::Domain::IPV4,
            Family::Inet6 => socket2::Domain::IPV6,
            Family::Unix => socket2::Domain::UNIX,
        }
    }

    fn of_ip(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

impl Protocol {
    /// The IANA protocol number.
    pub fn number(self) -> i32 {
        match self {
            Protocol::Ip => 0,
            Protocol::Icmp => 1,
            Protocol::Igmp => 2,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Ipv6 => 41,
            Protocol::Icmpv6 => 58,
            Protocol::Raw => 255,
        }
    }

    /// The protocol with IANA number `n`, if sockloop names it.
    pub fn from_number(n: i32) -> Option<Protocol> {
        [
            Protocol::Ip,
            Protocol::Icmp,
            Protocol::Igmp,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Ipv6,
            Protocol::Icmpv6,
            Protocol::Raw,
        ]
        .into_iter()
        .find(|p| p.number() == n)
    }

    pub(crate) fn to_socket2(self) -> socket2::Protocol {
        socket2::Protocol::from(self.number())
    }

    pub(crate) fn from_socket2(p: socket2::Protocol) -> Option<Protocol> {
        Protocol::from_number(i32::from(p))
    }
}

// ===== SockAddr =====

/// A socket address: an IP address and port, or a Unix-domain path
/// (sock's `sa`).
///
/// `Display` gives `"ip:port"` with IPv6 in brackets (`"[::1]:80"`), or
/// the path for Unix addresses.
///
/// # Examples
///
/// ```
/// use sockloop::{Family, SockAddr};
/// let sa = SockAddr::from("[::1]:8080".parse::<std::net::SocketAddr>().unwrap());
/// assert_eq!(sa.family(), Family::Inet6);
/// assert_eq!(sa.port(), 8080);
/// assert_eq!(sa.to_string(), "[::1]:8080");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SockAddr {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    Ip(SocketAddr),
    Unix(PathBuf),
}

impl SockAddr {
    /// A Unix-domain address.
    pub fn unix(path: impl Into<PathBuf>) -> SockAddr {
        SockAddr {
            repr: Repr::Unix(path.into()),
        }
    }

    /// The address family.
    pub fn family(&self) -> Family {
        match &self.repr {
            Repr::Ip(sa) => Family::of_ip(&sa.ip()),
            Repr::Unix(_) => Family::Unix,
        }
    }

    /// The port (0 for Unix addresses).
    pub fn port(&self) -> u16 {
        match &self.repr {
            Repr::Ip(sa) => sa.port(),
            Repr::Unix(_) => 0,
        }
    }

    /// The IP address (sock's `sa:addr()`). For a Unix address, which has
    /// none, it is `0.0.0.0`; use [`path`](SockAddr::path) there.
    pub fn ip(&self) -> IpAddr {
        match &self.repr {
            Repr::Ip(sa) => sa.ip(),
            Repr::Unix(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// The IP address and port, `None` for a Unix address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.repr {
            Repr::Ip(sa) => Some(*sa),
            Repr::Unix(_) => None,
        }
    }

    /// The path of a Unix address, `None` for IP addresses.
    pub fn path(&self) -> Option<&Path> {
        match &self.repr {
            Repr::Ip(_) => None,
            Repr::Unix(p) => Some(p),
        }
    }

    pub(crate) fn to_socket2(&self) -> Result<socket2::SockAddr> {
        match &self.repr {
            Repr::Ip(sa) => Ok(socket2::SockAddr::from(*sa)),
            Repr::Unix(p) => {
                check_unix_path(p)?;
                socket2::SockAddr::unix(p)
                    .map_err(|e| invalid(format!("unix socket path {}: {e}", p.display())))
            }
        }
    }

    pub(crate) fn from_socket2(sa: &socket2::SockAddr) -> Option<SockAddr> {
        if let Some(s) = sa.as_socket() {
            return Some(SockAddr::from(s));
        }
        if sa.is_unix() {
            let p = sa.as_pathname().map(Path::to_path_buf).unwrap_or_default();
            return Some(SockAddr::unix(p));
        }
        None
    }

    pub(crate) fn from_rustix(sa: rustix::net::SocketAddrAny) -> Option<SockAddr> {
        match sa.address_family() {
            rustix::net::AddressFamily::UNIX => {
                let u = rustix::net::SocketAddrUnix::try_from(sa).ok()?;
                let p = u
                    .path_bytes()
                    .map(|b| {
                        use std::os::unix::ffi::OsStrExt;
                        PathBuf::from(std::ffi::OsStr::from_bytes(b))
                    })
                    .unwrap_or_default();
                Some(SockAddr::unix(p))
            }
            _ => SocketAddr::try_from(sa).ok().map(SockAddr::from),
        }
    }

    fn is_any(&self) -> bool {
        matches!(&self.repr, Repr::Ip(sa) if sa.ip().is_unspecified() && sa.port() == 0)
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(sa: SocketAddr) -> SockAddr {
        SockAddr { repr: Repr::Ip(sa) }
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Ip(sa) => write!(f, "{sa}"),
            Repr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

// ===== IpAddr extension =====

/// sock's `ip:tobinary()` for std's IP addresses (re-exported as
/// `sockloop::IpAddr`).
///
/// # Examples
///
/// ```
/// use sockloop::IpAddrExt;
/// let ip: sockloop::IpAddr = "127.0.0.1".parse().unwrap();
/// let (bytes, len) = ip.tobinary();
/// assert_eq!(&bytes[..len], &[127, 0, 0, 1]);
/// ```
pub trait IpAddrExt {
    /// The address in network byte order in a 16-byte buffer and its
    /// length (4 for IPv4, 16 for IPv6).
    fn tobinary(&self) -> ([u8; 16], usize);
}

impl IpAddrExt for IpAddr {
    fn tobinary(&self) -> ([u8; 16], usize) {
        let mut out = [0u8; 16];
        match self {
            IpAddr::V4(a) => {
                out[..4].copy_from_slice(&a.octets());
                (out, 4)
            }
            IpAddr::V6(a) => (a.octets(), 16),
        }
    }
}

// ===== AddrInfo =====

/// One result of a lookup (sock's `ai` node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrEntry {
    socktype: SockType,
    protocol: Protocol,
    name: Option<String>,
    addr: SockAddr,
}

impl AddrEntry {
    fn new(socktype: SockType, addr: SockAddr) -> AddrEntry {
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

    /// The socket type (`ai:type()`).
    pub fn socktype(&self) -> SockType {
        self.socktype
    }

    /// The address family (`ai:family()`).
    pub fn family(&self) -> Family {
        self.addr.family()
    }

    /// The protocol (`ai:protocol()`).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The canonical name, where the lookup asked for it
    /// ([`Flags::canonname`]) (`ai:name()`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The socket address (`ai.addr`).
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddrInfo {
    entries: Vec<AddrEntry>,
}

impl AddrInfo {
    /// The entries, in resolver order.
    pub fn iter(&self) -> std::slice::Iter<'_, AddrEntry> {
        self.entries.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry.
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

// ===== ports =====

/// A port: a number or a service name (`"http"`).
///
/// Every port string (`addr_with(host, "8080", ..)`, `("h", "80")`,
/// `"host:port"`) goes through one parser, [`Port::parse`] (also
/// `str::parse::<Port>()`): decimal digits are a port number and must be
/// in 0–65535; anything else is a service name from `/etc/services`.
/// `From<&str>` keeps a string it cannot parse as a [`Port::Service`], and
/// the lookup that uses it then fails with the parser's error.
///
/// # Examples
///
/// ```
/// use sockloop::Port;
/// assert_eq!(Port::parse("8080").unwrap(), Port::Number(8080));
/// assert_eq!(Port::parse("http").unwrap(), Port::Service("http".into()));
/// assert_eq!(Port::parse("99999").unwrap_err().name(), "invalid_address");
/// assert_eq!(Port::parse("").unwrap_err().name(), "invalid_address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    /// A port number (0 = any).
    Number(u16),
    /// A service name from `/etc/services`.
    Service(String),
}

impl Port {
    /// Parses a port string: decimal digits are a number in 0–65535
    /// (leading zeros allowed), anything else a service name.
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, with a message naming the port, for an empty
    /// string, a number above 65535, and a string that is neither a number
    /// nor a possible service name (a sign, whitespace or a NUL byte;
    /// `getaddrinfo` would read `"-1"` or `" 80"` as a number and wrap it).
    pub fn parse(s: &str) -> Result<Port> {
        let bad = |why: &str| invalid(format!("port {s:?} {why}"));
        if s.is_empty() {
            return Err(bad("is empty (use 0 for any port)"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u16>()
                .map(Port::Number)
                .map_err(|_| bad("is out of range (0-65535)"));
        }
        if s.starts_with(['+', '-']) || s.contains(|c: char| c.is_whitespace() || c == '\0') {
            return Err(bad("is neither a number nor a service name"));
        }
        Ok(Port::Service(s.to_string()))
    }

    /// The port checked by [`Port::parse`] (a `Service` holding a number
    /// becomes a `Number`).
    fn checked(&self) -> Result<Port> {
        match self {
            Port::Number(n) => Ok(Port::Number(*n)),
            Port::Service(s) => Port::parse(s),
        }
    }
}

impl FromStr for Port {
    type Err = Error;
    /// [`Port::parse`].
    fn from_str(s: &str) -> Result<Port> {
        Port::parse(s)
    }
}

impl From<u16> for Port {
    fn from(p: u16) -> Port {
        Port::Number(p)
    }
}

impl From<&str> for Port {
    /// [`Port::parse`]; a string it rejects is kept as a `Service`, which
    /// the lookup rejects with the same error.
    fn from(s: &str) -> Port {
        Port::parse(s).unwrap_or_else(|_| Port::Service(s.to_string()))
    }
}

impl From<String> for Port {
    fn from(s: String) -> Port {
        Port::from(s.as_str())
    }
}

impl From<&String> for Port {
    fn from(s: &String) -> Port {
        Port::from(s.as_str())
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Service(s) => f.write_str(s),
        }
    }
}

// ===== hosts and paths =====

/// Checks a host string: a hostname, an IP literal (IPv6 optionally in
/// brackets) or `"*"`. The one host check of every lookup.
fn check_host(host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(invalid(
            "host \"\" is empty (use \"*\" for all interfaces)".to_string(),
        ));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '\0') {
        return Err(invalid(format!("host {host:?} (whitespace or a NUL byte)")));
    }
    Ok(())
}

/// The longest Unix socket path: `sun_path` holds it with its closing NUL.
#[cfg(any(target_os = "linux", target_os = "android"))]
const UNIX_PATH_MAX: usize = 107;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const UNIX_PATH_MAX: usize = 103;

/// Checks a Unix socket path: no NUL byte (the kernel would stop there),
/// and short enough for `sun_path`. Every path bound, connected or sent
/// to goes through here.
fn check_unix_path(p: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    if let Some(at) = b.iter().position(|&c| c == 0) {
        return Err(invalid(format!(
            "unix socket path {p:?}: a NUL byte at offset {at}"
        )));
    }
    if b.len() > UNIX_PATH_MAX {
        return Err(invalid(format!(
            "unix socket path {p:?}: {} bytes, sun_path holds at most {UNIX_PATH_MAX}",
            b.len()
        )));
    }
    Ok(())
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

/// [`addr`] with hints: socket type, family, protocol and flags.
///
/// # Errors
///
/// As [`addr`].
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

fn invalid(what: impl fmt::Display) -> Error {
    Error::with_message(ErrorKind::InvalidAddress, format!("invalid address {what}"))
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

// ===== ToAddr =====

/// An address request made by [`ToAddr`]: already resolved, or a host and
/// port still to look up. Opaque; sockets resolve it with their own
/// type and family as hints.
#[derive(Debug, Clone)]
pub struct AddrRequest {
    inner: Req,
}

#[derive(Debug, Clone)]
enum Req {
    Resolved(AddrInfo),
    HostPort(String, Port),
    Path(PathBuf),
}

impl AddrRequest {
    fn resolved(ai: AddrInfo) -> AddrRequest {
        AddrRequest {
            inner: Req::Resolved(ai),
        }
    }

    fn sockaddr(sa: SockAddr) -> AddrRequest {
        let st = SockType::Tcp;
        AddrRequest::resolved(AddrInfo {
            entries: vec![AddrEntry::new(st, sa)],
        })
    }

    /// Resolves synchronously (getaddrinfo for names) and picks the
    /// addresses that fit `hints.family`.
    pub(crate) fn resolve(self, hints: &Hints) -> Result<Vec<SockAddr>> {
        let ai = match self.inner {
            Req::Resolved(ai) => ai,
            Req::HostPort(h, p) => addr_with(&h, p, hints)?,
            Req::Path(p) => return path_fits(p, hints),
        };
        fits(ai, hints)
    }

    /// As [`resolve`](AddrRequest::resolve), with names resolved on the
    /// blocking pool.
    pub(crate) async fn resolve_async(self, hints: &Hints) -> Result<Vec<SockAddr>> {
        let ai = match self.inner {
            Req::Resolved(ai) => ai,
            Req::HostPort(h, p) => addr_async(&h, p, hints).await?,
            Req::Path(p) => return path_fits(p, hints),
        };
        fits(ai, hints)
    }
}

fn path_fits(p: PathBuf, hints: &Hints) -> Result<Vec<SockAddr>> {
    check_unix_path(&p)?;
    if hints.family.is_some_and(|f| f != Family::Unix) {
        return Err(invalid(format!(
            "{} (a path, for a {} socket)",
            p.display(),
            hints.family.map_or("any", Family::as_str)
        )));
    }
    Ok(vec![SockAddr::unix(p)])
}

fn fits(ai: AddrInfo, hints: &Hints) -> Result<Vec<SockAddr>> {
    let shown = ai.to_string();
    let mut out: Vec<SockAddr> = Vec::new();
    for e in ai {
        if hints.family.is_some_and(|f| f != e.family()) {
            continue;
        }
        if !out.contains(&e.addr) {
            out.push(e.addr);
        }
    }
    if out.is_empty() {
        return Err(invalid(format!(
            "{shown} (no {} address)",
            hints.family.map_or("any", Family::as_str)
        )));
    }
    Ok(out)
}

/// Anything that names a socket address: `(&str, u16)`, `(&str, &str)`
/// (service name), `(IpAddr, u16)`, `SocketAddr`, `&SockAddr`,
/// `&AddrInfo`, `"ip:port"` strings, and paths (`&Path`, `PathBuf`) for
/// Unix sockets. Host `"*"` means all interfaces, port 0 any port. An
/// already resolved address passes through unchanged.
///
/// Host and port strings are checked as by [`addr`] (one port parser,
/// [`Port::parse`]), and Unix paths for a NUL byte and their length (at
/// most 107 bytes on Linux): a bad one is `"invalid_address"` naming it,
/// before the socket is touched.
///
/// # Examples
///
/// ```
/// let s = sockloop::tcp()?;
/// assert_eq!(s.bind("127.0.0.1:99999").unwrap_err().name(), "invalid_address");
/// assert_eq!(s.bind(("", 80)).unwrap_err().name(), "invalid_address");
/// assert_eq!(s.local_addr()?.port(), 0); // nothing was bound
/// s.bind("127.0.0.1:0")?;
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait ToAddr {
    /// The address request; names are resolved later, by the socket, with
    /// its own type and family as hints.
    ///
    /// # Errors
    ///
    /// `"invalid_address"` for an address that cannot be parsed.
    fn to_addr(&self) -> Result<AddrRequest>;
}

impl<T: ToAddr + ?Sized> ToAddr for &T {
    fn to_addr(&self) -> Result<AddrRequest> {
        (**self).to_addr()
    }
}

/// A host and port still to look up; both are checked here already, so
/// a bad one fails before the socket is touched.
fn host_port(h: &str, p: Port) -> Result<AddrRequest> {
    check_host(h)?;
    let p = p.checked()?;
    Ok(AddrRequest {
        inner: Req::HostPort(h.to_string(), p),
    })
}

impl ToAddr for (&str, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        host_port(self.0, Port::Number(self.1))
    }
}

impl ToAddr for (&str, &str) {
    fn to_addr(&self) -> Result<AddrRequest> {
        host_port(self.0, Port::parse(self.1)?)
    }
}

impl ToAddr for (String, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        host_port(&self.0, Port::Number(self.1))
    }
}

impl ToAddr for (&String, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        host_port(self.0, Port::Number(self.1))
    }
}

impl ToAddr for (String, String) {
    fn to_addr(&self) -> Result<AddrRequest> {
        host_port(&self.0, Port::parse(&self.1)?)
    }
}

impl ToAddr for (IpAddr, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        Ok(AddrRequest::sockaddr(SockAddr::from(SocketAddr::new(
            self.0, self.1,
        ))))
    }
}

impl ToAddr for (Ipv4Addr, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        (IpAddr::V4(self.0), self.1).to_addr()
    }
}

impl ToAddr for (Ipv6Addr, u16) {
    fn to_addr(&self) -> Result<AddrRequest> {
        (IpAddr::V6(self.0), self.1).to_addr()
    }
}

impl ToAddr for SocketAddr {
    fn to_addr(&self) -> Result<AddrRequest> {
        Ok(AddrRequest::sockaddr(SockAddr::from(*self)))
    }
}

impl ToAddr for SocketAddrV4 {
    fn to_addr(&self) -> Result<AddrRequest> {
        SocketAddr::V4(*self).to_addr()
    }
}

impl ToAddr for SocketAddrV6 {
    fn to_addr(&self) -> Result<AddrRequest> {
        SocketAddr::V6(*self).to_addr()
    }
}

impl ToAddr for SockAddr {
    fn to_addr(&self) -> Result<AddrRequest> {
        match &self.repr {
            Repr::Unix(p) => Ok(AddrRequest {
                inner: Req::Path(p.clone()),
            }),
            Repr::Ip(_) => Ok(AddrRequest::sockaddr(self.clone())),
        }
    }
}

impl ToAddr for AddrInfo {
    fn to_addr(&self) -> Result<AddrRequest> {
        Ok(AddrRequest::resolved(self.clone()))
    }
}

impl ToAddr for AddrEntry {
    fn to_addr(&self) -> Result<AddrRequest> {
        self.addr.to_addr()
    }
}

/// `"ip:port"`, `"[v6]:port"`, `"host:port"`; a string with a `/` and no
/// port is a Unix socket path. The host and the port are checked as in
/// [`addr`] (an empty host or port, a port over 65535:
/// `"invalid_address"` naming it).
impl ToAddr for str {
    fn to_addr(&self) -> Result<AddrRequest> {
        if let Ok(sa) = self.parse::<SocketAddr>() {
            return sa.to_addr();
        }
        if self.contains('/') {
            return Ok(AddrRequest {
                inner: Req::Path(PathBuf::from(self)),
            });
        }
        let (h, p) = split_host_port(self).ok_or_else(|| {
            invalid(format!(
                "{self:?} (expected \"host:port\", \"[v6]:port\" or a path)"
            ))
        })?;
        host_port(h, Port::parse(p)?)
    }
}

/// `"host:port"` -> `("host", "port")`, `"[v6]:port"` -> `("v6", "port")`;
/// `None` without a port separator (or for a bare IPv6 address).
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        return Some((h, p.strip_prefix(':')?));
    }
    let (h, p) = s.rsplit_once(':')?;
    (!h.contains(':')).then_some((h, p))
}

impl ToAddr for String {
    fn to_addr(&self) -> Result<AddrRequest> {
        self.as_str().to_addr()
    }
}

impl ToAddr for Path {
    fn to_addr(&self) -> Result<AddrRequest> {
        Ok(AddrRequest {
            inner: Req::Path(self.to_path_buf()),
        })
    }
}

impl ToAddr for PathBuf {
    fn to_addr(&self) -> Result<AddrRequest> {
        self.as_path().to_addr()
    }
}

/// `true` for `("*", 0)`-like addresses (UDP connect: back to unfiltered).
pub(crate) fn is_any(addrs: &[SockAddr]) -> bool {
    addrs.first().is_some_and(SockAddr::is_any)
}
