//! UDP (and Unix-domain datagram) sockets: sock's `udp:` methods, and
//! the datagram calls every datagram kind ([`Udp`], [`Raw`](crate::Raw))
//! shares.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use rustix::net::SendFlags;

use crate::addr::{is_any, Family, Hints, SockAddr, SockType, ToAddr};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::sock::{default_protocol, rx, Call, Op, Sock};
use crate::socket::{self, sealed, Kind, Native, Plain, Proto, Socket};

/// A UDP socket, or a Unix-domain datagram socket (`Udp::new(Family::Unix)`):
/// sock's `udp`. It is the [`Socket`] of the datagram kind
/// [`Dgram`]`<`[`kind::Udp`](crate::kind::Udp)`>`: the calls every socket has and the
/// datagram calls are [`Socket`]'s.
///
/// All I/O methods take `&self`. A socket can be made, bound, configured
/// and closed with no runtime; it joins the Tokio reactor on its first
/// wait.
///
/// # Send
///
/// `Udp` is `Send + Sync` and its I/O futures are `Send`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, udp};
///
/// let a = udp()?;
/// a.bind(("127.0.0.1", 0))?;
/// let b = udp()?;
/// b.bind(("127.0.0.1", 0))?;
///
/// b.sendto(&a.local_addr()?, b"ping", None).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf[..n], b"ping");
/// assert_eq!(from, b.local_addr()?);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub type Udp = Socket<Dgram<socket::Udp>>;

/// The datagram kind: a [`Socket`] of kind `Dgram<P>` has the datagram
/// calls (`connect`, `send`, `recv`, `sendto`, `recvnext`), written once
/// for [`Udp`] (`P` = [`kind::Udp`](crate::kind::Udp)) and [`Raw`](crate::Raw) (`P` =
/// [`kind::Raw`](crate::kind::Raw)).
///
/// # Examples
///
/// ```
/// use sockloop::kind::{self, Dgram};
/// let s: sockloop::Socket<Dgram<kind::Udp>> = sockloop::udp()?;
/// s.bind(("127.0.0.1", 0))?;
/// assert_ne!(s.local_addr()?.port(), 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub struct Dgram<P> {
    sock: Sock,
    proto: PhantomData<fn() -> P>,
}

impl<P: Proto> fmt::Debug for Dgram<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(P::NAME).field("sock", &self.sock).finish()
    }
}

impl<P: Proto> sealed::Kind for Dgram<P> {
    #[inline]
    fn sock(&self) -> &Sock {
        &self.sock
    }
}

impl<P: Proto> Kind for Dgram<P> {}

impl<P: Proto> sealed::Plain for Dgram<P> {
    const TYPE: SockType = P::TYPE;

    fn wrap(sock: Sock) -> Dgram<P> {
        Dgram {
            sock,
            proto: PhantomData,
        }
    }
}

impl<P: Proto> Plain for Dgram<P> {}

impl Native for Dgram<socket::Udp> {
    type Std = std::net::UdpSocket;
    type Tokio = tokio::net::UdpSocket;
}

crate::thread::plain_outputs!(Udp);

/// A new IPv4 UDP socket (`sock.udp()`). Needs no runtime.
///
/// # Errors
///
/// An OS error.
///
/// # Examples
///
/// ```
/// let s = sockloop::udp()?;
/// assert_eq!(s.socktype(), sockloop::SockType::Udp);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn udp() -> Result<Udp> {
    Udp::new(Family::Inet)
}

impl<P: Proto> Socket<Dgram<P>> {
    /// Sets the default peer and filters incoming datagrams to it
    /// (`udp:connect(host, port)`). Connecting to `("*", 0)` dissolves the
    /// association (`connect` with `AF_UNSPEC`) and returns to unfiltered
    /// mode; the socket keeps its local address (Linux drops a port that
    /// was picked by the kernel on disconnect; sockloop binds it again).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, a lookup error, `"network_unreachable"`,
    /// `"closed"`. `expires` bounds only the name lookup's result wait.
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
    /// # let a = sockloop::udp()?;
    /// # a.bind(("127.0.0.1", 0))?;
    /// # let b = sockloop::udp()?;
    /// # b.bind(("127.0.0.1", 0))?;
    /// a.connect(b.local_addr()?, None).await?;       // a talks to b only
    /// assert_eq!(a.remote_addr()?, b.local_addr()?);
    /// a.connect(("*", 0), None).await?;                // back to unfiltered
    /// assert_eq!(a.remote_addr().unwrap_err().name(), "not_connected");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "setpeername")]
    pub async fn connect(&self, addr: impl ToAddr, expires: impl Into<Option<f64>>) -> Result<()> {
        let hints = self.hints(false);
        Deadline::run(expires.into(), self.connect_now(addr, &hints)).await
    }

    /// The body of `connect`, bounded by its deadline.
    async fn connect_now(&self, addr: impl ToAddr, hints: &Hints) -> Result<()> {
        let sock = self.sock();
        let addrs = addr.to_addr()?.resolve_async(hints).await?;
        if is_any(&addrs) {
            // Linux releases a port the socket got from the kernel (bind to
            // port 0 or autobind) on disconnect: bind it again to the same
            // address so the socket keeps its local address, as in sock.lua.
            let before = sock.local_addr()?;
            sock.with(|s| Ok(rustix::net::connect_unspec(s).map_err(rx)?))?;
            sock.set_remote(None);
            sock.forget_blocked();
            if before.port() != 0 && sock.local_addr()? != before {
                sock.bind_any(std::slice::from_ref(&before))?;
            }
            return Ok(());
        }
        let Some(target) = addrs.first() else {
            return Err(Error::with_message(
                ErrorKind::InvalidAddress,
                "no address to connect to",
            ));
        };
        let sa = target.to_socket2()?;
        sock.with(|s| {
            s.connect(&sa)
                .map_err(|e| Error::from(e).context(format!("connect {target}")))
        })?;
        sock.set_remote(Some(target.clone()));
        sock.forget_blocked();
        Ok(())
    }

    /// Sends one datagram to the connected peer (`udp:send(s, len)`);
    /// empty datagrams are allowed. Returns the bytes sent.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"message_too_long"`, `"connection_refused"`
    /// (an ICMP error from an earlier datagram), `"timeout"`, `"closed"`,
    /// `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent whole or not at all.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # let a = sockloop::udp()?;
    /// # a.bind(("127.0.0.1", 0))?;
    /// # let b = sockloop::udp()?;
    /// # b.bind(("127.0.0.1", 0))?;
    /// b.connect(a.local_addr()?, None).await?;
    /// assert_eq!(b.send(b"hello", None).await?, 5);
    /// let mut buf = [0u8; 16];
    /// assert_eq!(a.recv(&mut buf, sockloop::clock() + 5.0).await?, 5);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        let mut call = Call::new(expires.into());
        self.sock()
            .wait(Op::Send, &mut call, |s| {
                Ok((
                    rustix::net::send(s, buf, SendFlags::NOSIGNAL).map_err(rx)?,
                    false,
                ))
            })
            .await
    }

    /// Receives one datagram (`udp:recv(buf, maxlen)`); the rest of a
    /// datagram longer than `buf` is discarded.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (sock.lua's `maxlen` must
    /// be > 0; no datagram is taken), `"timeout"`, `"connection_refused"`,
    /// `"closed"`, `"cancelled"`.
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
    /// # let a = sockloop::udp()?;
    /// # a.bind(("127.0.0.1", 0))?;
    /// # let b = sockloop::udp()?;
    /// # b.bind(("127.0.0.1", 0))?;
    /// b.sendto(a.local_addr()?, b"datagram", None).await?;
    /// let mut small = [0u8; 4];
    /// let n = a.recv(&mut small, sockloop::clock() + 5.0).await?;
    /// assert_eq!(&small[..n], b"data"); // the rest of the datagram is discarded
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "receive")]
    pub async fn recv(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        if buf.is_empty() {
            return Err(Error::empty_buffer("recv"));
        }
        let mut call = Call::new(expires.into());
        self.sock()
            .wait(Op::Recv, &mut call, |s| {
                let (n, _) =
                    rustix::net::recv(s, &mut *buf, rustix::net::RecvFlags::empty()).map_err(rx)?;
                Ok((n, false))
            })
            .await
    }

    /// Sends one datagram to `addr` (`udp:sendto(host, port, s)`; a raw
    /// socket ignores the port).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), plus `"invalid_address"` and lookup errors.
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
    /// # let a = sockloop::udp()?;
    /// # a.bind(("127.0.0.1", 0))?;
    /// # let b = sockloop::udp()?;
    /// # b.bind(("127.0.0.1", 0))?;
    /// let n = b.sendto(("127.0.0.1", a.local_addr()?.port()), b"to a", None).await?;
    /// assert_eq!(n, 4);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn sendto(
        &self,
        addr: impl ToAddr,
        buf: &[u8],
        expires: impl Into<Option<f64>>,
    ) -> Result<usize> {
        let addrs = addr.to_addr()?.resolve_async(&self.hints(false)).await?;
        let Some(target) = addrs.first() else {
            return Err(Error::with_message(
                ErrorKind::InvalidAddress,
                "no address to send to",
            ));
        };
        let sa = target.to_socket2()?;
        let mut call = Call::new(expires.into());
        self.sock()
            .wait(Op::Send, &mut call, |s| Ok((s.send_to(buf, &sa)?, false)))
            .await
    }

    /// Receives one datagram and its sender (`udp:recvnext(buf, maxlen)`);
    /// [`recvnext_flags`](Self::recvnext_flags) takes sock.lua's `flags`.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
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
    /// # let a = sockloop::udp()?;
    /// # a.bind(("127.0.0.1", 0))?;
    /// # let b = sockloop::udp()?;
    /// # b.bind(("127.0.0.1", 0))?;
    /// b.sendto(a.local_addr()?, b"who?", None).await?;
    /// let mut buf = [0u8; 16];
    /// let (n, from) = a.recvnext(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert_eq!((&buf[..n], from), (&b"who?"[..], b.local_addr()?));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "receivefrom")]
    pub async fn recvnext(
        &self,
        buf: &mut [u8],
        expires: impl Into<Option<f64>>,
    ) -> Result<(usize, SockAddr)> {
        self.recvnext_flags(buf, expires, RecvFlags::default())
            .await
    }

    /// [`recvnext`](Self::recvnext) with `recvfrom(2)` flags
    /// (`udp:recvnext(buf, maxlen, expires, flags)`), e.g.
    /// [`RecvFlags::PEEK`] to look at the next datagram without taking it.
    /// With [`RecvFlags::TRUNC`] the count is the datagram's full length,
    /// which may exceed `buf.len()` (only `buf.len()` bytes are stored).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, udp, RecvFlags};
    /// let a = udp()?;
    /// a.bind(("127.0.0.1", 0))?;
    /// let b = udp()?;
    /// b.sendto(&a.local_addr()?, b"ping", None).await?;
    /// let mut buf = [0u8; 16];
    /// let (n, _) = a.recvnext_flags(&mut buf, clock() + 5.0, RecvFlags::PEEK).await?;
    /// assert_eq!(&buf[..n], b"ping");
    /// let (n, _) = a.recvnext(&mut buf, clock() + 5.0).await?; // still there
    /// assert_eq!(&buf[..n], b"ping");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "recvnext")]
    pub async fn recvnext_flags(
        &self,
        buf: &mut [u8],
        expires: impl Into<Option<f64>>,
        flags: RecvFlags,
    ) -> Result<(usize, SockAddr)> {
        if buf.is_empty() {
            return Err(Error::empty_buffer("recvnext"));
        }
        let mut call = Call::new(expires.into());
        let unnamed = self.family() == Family::Unix;
        let flags = flags.to_rustix();
        self.sock()
            .wait(Op::Recv, &mut call, |s| {
                // The second count is the datagram's length (with `trunc`,
                // also the part that did not fit).
                let (_, len, from) = rustix::net::recvfrom(s, &mut *buf, flags).map_err(rx)?;
                let from = match from.and_then(SockAddr::from_rustix) {
                    Some(a) => a,
                    None if unnamed => SockAddr::unix(""),
                    None => {
                        return Err(io::Error::other(
                            "datagram from an address of unknown family",
                        ))
                    }
                };
                Ok(((len, from), false))
            })
            .await
    }
}

impl Socket<Dgram<socket::Udp>> {
    /// A new datagram socket of `family` (`Family::Unix` for a Unix-domain
    /// datagram socket, whose addresses are paths).
    ///
    /// # Errors
    ///
    /// An OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Family, Udp};
    /// let v6 = Udp::new(Family::Inet6)?;
    /// v6.bind(("::1", 0))?;
    /// assert_eq!(v6.local_addr()?.family(), Family::Inet6);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn new(family: Family) -> Result<Udp> {
        Udp::open(family, default_protocol(SockType::Udp, family))
    }
}

impl From<std::net::UdpSocket> for Udp {
    fn from(s: std::net::UdpSocket) -> Udp {
        Udp::from(socket2::Socket::from(s))
    }
}

impl From<std::os::unix::net::UnixDatagram> for Udp {
    fn from(s: std::os::unix::net::UnixDatagram) -> Udp {
        Udp::from(socket2::Socket::from(s))
    }
}

impl From<tokio::net::UdpSocket> for Udp {
    /// Takes the socket out of Tokio's reactor. If Tokio fails to
    /// deregister it (the socket is then lost), the `Udp` is closed.
    fn from(s: tokio::net::UdpSocket) -> Udp {
        s.into_std()
            .map_or_else(|_| Udp::closed_from_start(), Udp::from)
    }
}

// ===== RecvFlags =====

/// `recvfrom(2)` flags for [`Udp::recvnext_flags`] and
/// [`Raw::recvnext_flags`](crate::Raw::recvnext_flags): sock.lua's `flags`
/// argument of `udp:recvnext(buf, maxlen, [expires], [flags])`, which
/// upstream passes to `recvfrom` as `MSG_*` bits.
///
/// # Examples
///
/// ```
/// use sockloop::RecvFlags;
/// let f = RecvFlags { peek: true, ..RecvFlags::default() };
/// assert_eq!(f, RecvFlags::PEEK);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecvFlags {
    /// `MSG_PEEK`: return the next datagram without taking it; the next
    /// receive gets it again.
    pub peek: bool,
    /// `MSG_TRUNC`: return the datagram's real length, also when it is
    /// longer than the buffer.
    pub trunc: bool,
}

impl RecvFlags {
    /// `MSG_PEEK` alone.
    pub const PEEK: RecvFlags = RecvFlags {
        peek: true,
        trunc: false,
    };

    /// `MSG_TRUNC` alone.
    pub const TRUNC: RecvFlags = RecvFlags {
        peek: false,
        trunc: true,
    };

    fn to_rustix(self) -> rustix::net::RecvFlags {
        let mut f = rustix::net::RecvFlags::empty();
        if self.peek {
            f |= rustix::net::RecvFlags::PEEK;
        }
        if self.trunc {
            f |= rustix::net::RecvFlags::TRUNC;
        }
        f
    }
}
