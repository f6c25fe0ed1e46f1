//! Raw IP sockets (`SOCK_RAW`): sock's `raw:` methods, the datagram set.

use crate::addr::{Family, Protocol, SockAddr, SockType, ToAddr};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::sock::Sock;
use crate::udp;

/// A raw IP socket (`SOCK_RAW`), e.g. for ICMP: sock's `raw`. Creating one
/// needs privileges (root or `CAP_NET_RAW`).
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
#[derive(Debug)]
pub struct Raw {
    sock: Sock,
}

/// A new IPv4 raw socket for `protocol` (`sock.raw(protocol)`).
///
/// # Errors
///
/// `"access_denied"` without privileges, or another OS error.
pub fn raw(protocol: Protocol) -> Result<Raw> {
    Raw::new(Family::Inet, protocol)
}

impl Raw {
    /// A new raw socket of `family` (`Inet` or `Inet6`) for `protocol`.
    ///
    /// # Errors
    ///
    /// `"access_denied"` without privileges, `"invalid_argument"` for
    /// `Family::Unix`, or another OS error.
    pub fn new(family: Family, protocol: Protocol) -> Result<Raw> {
        if family == Family::Unix {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                "raw sockets are inet or inet6, not unix",
            ));
        }
        Ok(Raw {
            sock: Sock::new(SockType::Raw, family, protocol)?,
        })
    }

    common_methods!(Raw);

    /// Sets the default peer and filters incoming datagrams to it;
    /// `("*", 0)` returns to unfiltered mode (see [`Udp::connect`](crate::Udp::connect)).
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, a lookup error, `"closed"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn connect(&self, addr: impl ToAddr, expires: impl Into<Option<f64>>) -> Result<()> {
        let hints = self.hints(false);
        Deadline::run(expires.into(), udp::connect(&self.sock, addr, &hints)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"message_too_long"`, `"timeout"`, `"closed"`,
    /// `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn send(&self, buf: &[u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        udp::send(&self.sock, buf, expires.into()).await
    }

    /// Receives one datagram.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (no datagram is taken),
    /// `"timeout"`, `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        udp::recv(&self.sock, buf, expires.into()).await
    }

    /// Sends one datagram to `addr` (the port is ignored).
    ///
    /// # Errors
    ///
    /// As [`send`](Raw::send), plus `"invalid_address"` and lookup errors.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn sendto(
        &self,
        addr: impl ToAddr,
        buf: &[u8],
        expires: impl Into<Option<f64>>,
    ) -> Result<usize> {
        let hints = self.hints(false);
        udp::sendto(&self.sock, addr, &hints, buf, expires.into()).await
    }

    /// Receives one datagram and its sender.
    ///
    /// # Errors
    ///
    /// As [`recv`](Raw::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recvnext(
        &self,
        buf: &mut [u8],
        expires: impl Into<Option<f64>>,
    ) -> Result<(usize, SockAddr)> {
        udp::recvnext(&self.sock, buf, expires.into()).await
    }

    /// [`recvnext`](Raw::recvnext) with `recvfrom(2)` flags (see
    /// [`Udp::recvnext_flags`](crate::Udp::recvnext_flags)).
    ///
    /// # Errors
    ///
    /// As [`recv`](Raw::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, Protocol, RecvFlags};
    /// let Ok(s) = sockloop::raw(Protocol::Icmp) else { return Ok(()) }; // needs privileges
    /// let mut buf = [0u8; 1500];
    /// let e = s.recvnext_flags(&mut buf, clock() + 0.01, RecvFlags::PEEK).await;
    /// assert!(e.is_ok() || e.unwrap_err().name() == "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "recvnext")]
    pub async fn recvnext_flags(
        &self,
        buf: &mut [u8],
        expires: impl Into<Option<f64>>,
        flags: crate::RecvFlags,
    ) -> Result<(usize, SockAddr)> {
        udp::recvnext_flags(&self.sock, buf, expires.into(), flags).await
    }

    /// Takes the socket out as a `socket2::Socket`.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    pub fn into_inner(self) -> Result<socket2::Socket> {
        self.sock.take()
    }
}

impl From<socket2::Socket> for Raw {
    /// Wraps a raw socket (made non-blocking).
    fn from(s: socket2::Socket) -> Raw {
        Raw {
            sock: Sock::from_socket(s, SockType::Raw),
        }
    }
}
