//! Socket types, address families and protocols, with sock.lua's names.

use std::fmt;
use std::net::IpAddr;
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
            /// The Lua name (`Display` writes it, `FromStr` parses it).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("for name in [", $("\"", $s, "\", ",)+ "] {")]
            #[doc = concat!("    let v: sockloop::", stringify!($ty), " = name.parse().unwrap();")]
            ///     assert_eq!(v.as_str(), name);
            ///     assert_eq!(v.to_string(), name);
            /// }
            /// ```
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
    pub(super) fn to_c(self) -> i32 {
        i32::from(match self {
            SockType::Tcp => socket2::Type::STREAM,
            SockType::Udp => socket2::Type::DGRAM,
            SockType::Raw => socket2::Type::RAW,
        })
    }

    pub(super) fn from_c(v: i32) -> SockType {
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

    pub(super) fn of_ip(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

impl Protocol {
    /// The IANA protocol number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(sockloop::Protocol::Icmp.number(), 1);
    /// assert_eq!(sockloop::Protocol::Tcp.number(), 6);
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::Protocol;
    /// assert_eq!(Protocol::from_number(17), Some(Protocol::Udp));
    /// assert_eq!(Protocol::from_number(132), None); // SCTP: not named
    /// ```
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
