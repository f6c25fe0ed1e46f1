//! One socket address ([`SockAddr`]: IP and port, or a Unix path) and
//! [`IpAddrExt`] (`ip:tobinary`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::port::check_unix_path;
use super::{invalid, Family};
use crate::error::Result;

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
#[doc(alias = "sa")]
#[doc(alias = "tostring")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SockAddr {
    pub(super) repr: Repr,
}

crate::thread::plain_outputs!(SockAddr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Repr {
    Ip(SocketAddr),
    Unix(PathBuf),
}

impl SockAddr {
    /// A Unix-domain address.
    ///
    /// # Examples
    ///
    /// ```
    /// let sa = sockloop::SockAddr::unix("/tmp/app.sock");
    /// assert_eq!(sa.family(), sockloop::Family::Unix);
    /// assert_eq!(sa.to_string(), "/tmp/app.sock");
    /// ```
    pub fn unix(path: impl Into<PathBuf>) -> SockAddr {
        SockAddr {
            repr: Repr::Unix(path.into()),
        }
    }

    /// The address family (`sa:family()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.bind(("127.0.0.1", 0))?;
    /// assert_eq!(s.local_addr()?.family(), sockloop::Family::Inet);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn family(&self) -> Family {
        match &self.repr {
            Repr::Ip(sa) => Family::of_ip(&sa.ip()),
            Repr::Unix(_) => Family::Unix,
        }
    }

    /// The port (`sa:port()`; 0 for Unix addresses).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::udp()?;
    /// s.bind(("127.0.0.1", 0))?;
    /// assert_ne!(s.local_addr()?.port(), 0); // the kernel's choice
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        match &self.repr {
            Repr::Ip(sa) => sa.port(),
            Repr::Unix(_) => 0,
        }
    }

    /// The IP address (sock's `sa:addr()`). For a Unix address, which has
    /// none, it is `0.0.0.0`; use [`path`](SockAddr::path) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let sa = sockloop::addr("::1", 80)?.first().unwrap().addr();
    /// assert_eq!(sa.ip(), "::1".parse::<sockloop::IpAddr>().unwrap());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "addr")]
    pub fn ip(&self) -> IpAddr {
        match &self.repr {
            Repr::Ip(sa) => sa.ip(),
            Repr::Unix(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// The IP address and port, `None` for a Unix address.
    ///
    /// # Examples
    ///
    /// ```
    /// let sa = sockloop::addr("127.0.0.1", 80)?.first().unwrap().addr();
    /// assert_eq!(sa.socket_addr(), Some("127.0.0.1:80".parse().unwrap()));
    /// assert_eq!(sockloop::SockAddr::unix("/x").socket_addr(), None);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.repr {
            Repr::Ip(sa) => Some(*sa),
            Repr::Unix(_) => None,
        }
    }

    /// The path of a Unix address, `None` for IP addresses.
    ///
    /// # Examples
    ///
    /// ```
    /// let sa = sockloop::SockAddr::unix("/run/app.sock");
    /// assert_eq!(sa.path(), Some(std::path::Path::new("/run/app.sock")));
    /// ```
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

    pub(super) fn is_any(&self) -> bool {
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
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::IpAddrExt;
    /// let ip: sockloop::IpAddr = "::1".parse().unwrap();
    /// let (bytes, len) = ip.tobinary();
    /// assert_eq!(len, 16);
    /// assert_eq!(bytes[15], 1);
    /// ```
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
