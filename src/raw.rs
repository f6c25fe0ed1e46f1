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

impl Raw {
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
        Ok(Raw {
            sock: Sock::new(SockType::Raw, family, protocol)?,
        })
    }

    common_methods!(
        Raw,
        "let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW",
        "raw",
        "icmp"
    );

    /// Sets the default peer and filters incoming datagrams to it;
    /// `("*", 0)` returns to unfiltered mode (see [`Udp::connect`](crate::Udp::connect)).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, a lookup error, `"closed"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # fn echo_request(seq: u16) -> [u8; 8] {
    /// #     let mut p = [8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    /// #     let sum: u32 = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    /// #     let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    /// #     p[2..4].copy_from_slice(&sum.to_be_bytes());
    /// #     p
    /// # }
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// s.connect(("127.0.0.1", 0), None).await?;
    /// assert_eq!(s.remote_addr()?.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToAddr, expires: impl Into<Option<f64>>) -> Result<()> {
        let hints = self.hints(false);
        Deadline::run(expires.into(), udp::connect(&self.sock, addr, &hints)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"message_too_long"`, `"timeout"`, `"closed"`,
    /// `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # fn echo_request(seq: u16) -> [u8; 8] {
    /// #     let mut p = [8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    /// #     let sum: u32 = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    /// #     let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    /// #     p[2..4].copy_from_slice(&sum.to_be_bytes());
    /// #     p
    /// # }
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// s.connect(("127.0.0.1", 0), None).await?;
    /// assert_eq!(s.send(&echo_request(1), None).await?, 8);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        udp::send(&self.sock, buf, expires.into()).await
    }

    /// Receives one datagram.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (no datagram is taken),
    /// `"timeout"`, `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # fn echo_request(seq: u16) -> [u8; 8] {
    /// #     let mut p = [8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    /// #     let sum: u32 = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    /// #     let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    /// #     p[2..4].copy_from_slice(&sum.to_be_bytes());
    /// #     p
    /// # }
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// s.connect(("127.0.0.1", 0), None).await?;
    /// s.send(&echo_request(2), None).await?;
    /// let mut buf = [0u8; 1500];
    /// let n = s.recv(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert!(n >= 28); // IPv4 header + ICMP header
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        udp::recv(&self.sock, buf, expires.into()).await
    }

    /// Sends one datagram to `addr` (the port is ignored).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`send`](Raw::send), plus `"invalid_address"` and lookup errors.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # fn echo_request(seq: u16) -> [u8; 8] {
    /// #     let mut p = [8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    /// #     let sum: u32 = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    /// #     let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    /// #     p[2..4].copy_from_slice(&sum.to_be_bytes());
    /// #     p
    /// # }
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// let n = s.sendto(("127.0.0.1", 0), &echo_request(3), None).await?;
    /// assert_eq!(n, 8);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
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
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`recv`](Raw::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # fn echo_request(seq: u16) -> [u8; 8] {
    /// #     let mut p = [8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    /// #     let sum: u32 = p.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    /// #     let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    /// #     p[2..4].copy_from_slice(&sum.to_be_bytes());
    /// #     p
    /// # }
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// s.sendto(("127.0.0.1", 0), &echo_request(4), None).await?;
    /// let mut buf = [0u8; 1500];
    /// let (n, from) = s.recvnext(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert!(n >= 28);
    /// assert_eq!(from.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "receivefrom")]
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
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
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

    /// Runs `f` on the underlying `socket2::Socket`, for calls sockloop
    /// does not wrap (`as_raw_fd`, `IP_HDRINCL`). The socket is
    /// non-blocking; `f` must not close or replace the descriptor.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return Ok(()) }; // needs CAP_NET_RAW
    /// assert!(s.with_socket(|s| s.as_raw_fd())? >= 0);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn with_socket<T>(&self, f: impl FnOnce(&socket2::Socket) -> T) -> Result<T> {
        self.sock.with(|s| Ok(f(s)))
    }

    /// Takes the socket out as a `socket2::Socket`.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let Ok(s) = sockloop::raw(sockloop::Protocol::Icmp) else { return }; // needs CAP_NET_RAW
    /// let raw: socket2::Socket = s.into_inner().unwrap();
    /// assert_eq!(raw.r#type().unwrap(), socket2::Type::RAW);
    /// ```
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
