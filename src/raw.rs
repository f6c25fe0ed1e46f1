//! Raw IP sockets (`SOCK_RAW`): sock's `raw:` methods, the datagram set
//! (the datagram calls are in `udp.rs`).

use crate::addr::{Family, Protocol};
use crate::error::{Error, ErrorKind, Result};
use crate::socket::{self, Socket};
use crate::udp::Dgram;

/// A raw IP socket (`SOCK_RAW`), e.g. for ICMP: sock's `raw`. Creating one
/// needs privileges (root or `CAP_NET_RAW`). It is the [`Socket`] of the
/// datagram kind [`Dgram`]`<`[`kind::Raw`](crate::kind::Raw)`>`: its calls are [`Socket`]'s,
/// as a [`Udp`](crate::Udp)'s.
///
/// For IPv4, received datagrams start with the IP header.
///
/// # Examples
///
/// ```
/// match sockloop::raw(sockloop::Protocol::Icmp) {
///     Ok(s) => assert_eq!(s.protocol(), sockloop::Protocol::Icmp),
///     Err(e) => assert_eq!(e.name(), "access_denied"),
/// }
/// ```
pub type Raw = Socket<Dgram<socket::Raw>>;

crate::thread::plain_outputs!(Raw);

/// A new IPv4 raw socket for `protocol` (`sock.raw(protocol)`).
///
/// # Errors
///
/// `"access_denied"` without privileges, or another OS error.
///
/// # Examples
///
/// ```
/// match sockloop::raw(sockloop::Protocol::Icmp) {
///     Ok(s) => assert_eq!(s.socktype(), sockloop::SockType::Raw),
///     Err(e) => assert_eq!(e.name(), "access_denied"), // not root, no CAP_NET_RAW
/// }
/// ```
pub fn raw(protocol: Protocol) -> Result<Raw> {
    Raw::new(Family::Inet, protocol)
}

impl Socket<Dgram<socket::Raw>> {
    /// A new raw socket of `family` (`Inet` or `Inet6`) for `protocol`.
    ///
    /// # Errors
    ///
    /// `"access_denied"` without privileges, `"invalid_argument"` for
    /// `Family::Unix`, or another OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Family, Protocol, Raw};
    /// let e = Raw::new(Family::Unix, Protocol::Icmp).unwrap_err();
    /// assert_eq!(e.name(), "invalid_argument");
    /// if let Ok(s) = Raw::new(Family::Inet6, Protocol::Icmpv6) {
    ///     assert_eq!(s.family(), Family::Inet6);
    /// }
    /// ```
    pub fn new(family: Family, protocol: Protocol) -> Result<Raw> {
        if family == Family::Unix {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                "raw sockets are inet or inet6, not unix",
            ));
        }
        Raw::open(family, protocol)
    }
}
