//! [`ToAddr`]: everything a socket call accepts as an address, and the
//! [`AddrRequest`] it turns into.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};

use super::port::{check_host, check_unix_path};
use super::sockaddr::Repr;
use super::{
    addr_async, addr_with, invalid, AddrEntry, AddrInfo, Family, Hints, Port, SockAddr, SockType,
};
use crate::error::Result;

// ===== ToAddr =====

/// An address request made by [`ToAddr`]: already resolved, or a host and
/// port still to look up. Opaque; sockets resolve it with their own
/// type and family as hints.
///
/// # Examples
///
/// ```
/// use sockloop::ToAddr;
/// let req = ("127.0.0.1", 8080).to_addr()?; // checked; a name would not be resolved yet
/// assert!(format!("{req:?}").contains("8080"));
/// # Ok::<(), sockloop::Error>(())
/// ```
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
/// Host and port strings are checked as by [`addr`](crate::addr()) (one port parser,
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
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::ToAddr;
    /// assert!(("127.0.0.1", 8080).to_addr().is_ok());
    /// assert_eq!(("127.0.0.1", "99999").to_addr().unwrap_err().name(), "invalid_address");
    /// ```
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
/// [`addr`](crate::addr()) (an empty host or port, a port over 65535:
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
