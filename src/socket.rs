//! (private) [`Socket`], the one socket type every kind is a view of, the
//! calls every kind has (sock.lua's `s:` methods), and what a kind is (the
//! traits `sockloop::kind` re-exports). The stream calls are in
//! `stream.rs`, the datagram calls in `udp.rs`, what one kind adds in its
//! own file (`tcp.rs`, `udp.rs`, `raw.rs`, `tls/`).

use std::fmt;
use std::io;

use crate::addr::{Family, Flags, Hints, Protocol, SockAddr, SockType, ToAddr};
use crate::error::{Error, ErrorKind, Result};
use crate::opt::OptValue;
use crate::sock::Sock;

/// A socket of kind `K` (see [`kind`](crate::kind)): [`Tcp`](crate::Tcp),
/// `Stcp` (feature `tls`), [`Udp`](crate::Udp) and [`Raw`](crate::Raw) are
/// its aliases.
///
/// Every kind has the calls of this page's first block (sock.lua's `s:`
/// methods); a stream socket ([`kind::Transport`](crate::kind::Transport))
/// has `send`, `recv`, `recvn`, `recvall`, `recvall_read`, `until` and
/// Tokio's `AsyncRead`/`AsyncWrite`; a datagram socket
/// ([`kind::Dgram`](crate::kind::Dgram)) has `send`, `recv`, `sendto` and
/// `recvnext`; each kind adds its own few calls.
///
/// All I/O calls take `&self` and go through one wait path: absolute
/// `expires` deadlines in [`clock()`](crate::clock) seconds, `"cancelled"`
/// when the sockloop thread is cancelled while parked, `"closed"` for
/// every call parked when the socket is closed, and the inventory's byte
/// counters and park notes for all of them.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, tcp, Socket, Tcp};
/// use sockloop::kind::Stream;
///
/// let server: Socket<Stream> = tcp()?; // a `Tcp`
/// server.listen(("127.0.0.1", 0))?;
/// let client: Tcp = tcp()?;
/// client.connect(server.local_addr()?, clock() + 5.0).await?;
/// let conn = server.accept(clock() + 5.0).await?;
/// client.send(b"one core", None).await?;
/// let mut buf = [0u8; 8];
/// conn.recvn(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf, b"one core");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub struct Socket<K> {
    pub(crate) kind: K,
}

impl<K: Kind> fmt::Debug for Socket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl<K: Kind> Socket<K> {
    /// The socket the kind's syscalls go to.
    #[inline]
    pub(crate) fn sock(&self) -> &Sock {
        self.kind.sock()
    }

    /// The socket type (`s:type()`; `type` is a Rust keyword).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(sockloop::tcp()?.socktype().as_str(), "tcp");
    /// assert_eq!(sockloop::udp()?.socktype().as_str(), "udp");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "type")]
    pub fn socktype(&self) -> SockType {
        self.sock().socktype()
    }

    /// The address family (`s:family()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Family, Tcp};
    /// assert_eq!(sockloop::tcp()?.family(), Family::Inet);
    /// assert_eq!(Tcp::new(Family::Unix)?.family(), Family::Unix);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn family(&self) -> Family {
        self.sock().family()
    }

    /// The protocol (`s:protocol()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(sockloop::tcp()?.protocol().as_str(), "tcp");
    /// assert_eq!(sockloop::udp()?.protocol().as_str(), "udp");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.sock().protocol()
    }

    /// Closes the socket now: the descriptor is closed before this
    /// returns, and every call parked on this socket (in any thread or
    /// task) wakes with `"closed"`. For TCP the kernel sends a RST if
    /// unread data remains or linger is 0, else a FIN. Dropping the
    /// socket closes it the same way.
    ///
    /// A TLS connection (`cstcp:close()`) first takes in what the peer
    /// sent and the kernel holds (without waiting), so that TLS's own
    /// messages, such as the session tickets a TLS 1.3 server sends after
    /// the handshake, do not make the kernel answer the close with a RST
    /// (which would make the peer drop data still in flight to it); then
    /// it sends `close_notify` (and anything still queued) if the kernel
    /// takes it at once. Unread application data beyond rustls' buffer
    /// still gives a RST, as for TCP.
    ///
    /// # Errors
    ///
    /// `"closed"` if it was already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.close()?;
    /// assert_eq!(s.close().unwrap_err().name(), "closed");
    /// assert_eq!(s.local_addr().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        self.kind.close()
    }

    /// `true` once the socket is closed (`s:closed()`): by
    /// [`close`](Self::close), by being taken out (`into_inner`), or,
    /// for a socket made from a Tokio socket that could not be taken
    /// out of its reactor, from the start; a TLS connection also once
    /// its TCP socket was closed under it. A peer's close does not count
    /// (that is `recv` returning 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::udp()?;
    /// assert!(!s.closed());
    /// s.close()?;
    /// assert!(s.closed());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.kind.closed()
    }

    /// Binds to a local address (`s:bind(host, port)`). Host `"*"` is
    /// all interfaces, port 0 any port; for Unix sockets the address is
    /// a path. Names are looked up (blocking) with this socket's type
    /// and family as hints. Needs no runtime.
    ///
    /// # Errors
    ///
    /// `"address_already_in_use"`, `"access_denied"`,
    /// `"address_not_available"`, `"invalid_address"` (malformed, a
    /// port string out of 0–65535 or empty, an empty host, a Unix path
    /// with a NUL byte or longer than `sun_path`, or another family:
    /// the message names the part; nothing is bound), a lookup error
    /// (named by the resolver's text), `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::udp()?;
    /// s.bind(("127.0.0.1", 0))?;
    /// assert_eq!(s.local_addr()?.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "setsockname")]
    pub fn bind(&self, addr: impl ToAddr) -> Result<()> {
        let addrs = addr.to_addr()?.resolve(&self.hints(true))?;
        self.sock().bind_any(&addrs)
    }

    /// Sets a socket option by its sock.lua name (see [`OptValue`] for
    /// the names and value types). Needs no runtime.
    ///
    /// # Errors
    ///
    /// `"unknown_option"`, `"read_only_option"` (`error`, `type`,
    /// `acceptconn`), `"not_supported"` (`rcvlowat`, `sndlowat`,
    /// `dontroute`), `"invalid_option_value"` (a value of the wrong
    /// type, outside what the option's kernel field holds, or refused
    /// by the kernel; the option keeps its value), `"access_denied"`
    /// (`priority` over 6 without `CAP_NET_ADMIN`), another OS error,
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.setopt("rcvbuf", 65536)?;
    /// assert!(s.getopt("rcvbuf")?.as_int().unwrap() >= 65536);
    /// assert_eq!(s.setopt("no_such", 1).unwrap_err().name(), "unknown_option");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "setoption")]
    pub fn setopt(&self, name: &str, value: impl Into<OptValue>) -> Result<()> {
        let v = value.into();
        self.sock().with(|s| crate::opt::setopt(s, name, &v))
    }

    /// Reads a socket option by its sock.lua name. Needs no runtime.
    ///
    /// # Errors
    ///
    /// `"unknown_option"`, `"not_supported"`, an OS error, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::udp()?;
    /// assert_eq!(s.getopt("error")?.as_int(), Some(0)); // no pending error
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getoption")]
    pub fn getopt(&self, name: &str) -> Result<OptValue> {
        self.sock().with(|s| crate::opt::getopt(s, name))
    }

    /// The local address (`s:local_addr()`). Needs no runtime.
    ///
    /// # Errors
    ///
    /// An OS error, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.bind(("127.0.0.1", 0))?;
    /// let a = s.local_addr()?;
    /// assert_eq!(a.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> Result<SockAddr> {
        self.sock().local_addr()
    }

    /// The peer's address (`s:remote_addr()`): for accepted and
    /// connected sockets.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// assert_eq!(s.remote_addr().unwrap_err().name(), "not_connected");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getpeername")]
    pub fn remote_addr(&self) -> Result<SockAddr> {
        self.sock().remote_addr()
    }

    /// The lookup hints for this socket's addresses: its type (none for
    /// raw sockets) and family; `passive` for a local address.
    pub(crate) fn hints(&self, passive: bool) -> Hints {
        let socktype = match self.socktype() {
            SockType::Raw => None,
            t => Some(t),
        };
        Hints {
            socktype,
            family: Some(self.family()),
            protocol: None,
            flags: Flags {
                passive,
                ..Flags::default()
            },
        }
    }
}

impl<K: Plain> Socket<K> {
    /// A new non-blocking socket of this kind, `family` and `protocol`.
    pub(crate) fn open(family: Family, protocol: Protocol) -> Result<Socket<K>> {
        Ok(Socket::wrap(Sock::new(K::TYPE, family, protocol)?))
    }

    /// The socket over `sock`.
    pub(crate) fn wrap(sock: Sock) -> Socket<K> {
        Socket {
            kind: K::wrap(sock),
        }
    }

    /// A socket that is closed from the start (one that could not be
    /// taken out of Tokio's reactor).
    pub(crate) fn closed_from_start() -> Socket<K> {
        Socket::wrap(Sock::closed(K::TYPE))
    }

    /// Runs `f` on the underlying socket, for calls sockloop does not
    /// wrap (try-reads, `ioctl`s, multicast membership, `as_raw_fd`,
    /// `IP_HDRINCL`). The socket is non-blocking: pair a `WouldBlock`
    /// with [`readable`](crate::Tcp::readable) or
    /// [`writable`](crate::Tcp::writable). `f` must not close or replace
    /// the descriptor.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let s = sockloop::tcp()?;
    /// assert!(s.with_socket(|s| s.nonblocking())??);
    /// assert!(sockloop::udp()?.with_socket(|s| s.as_raw_fd())? >= 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_socket<T>(&self, f: impl FnOnce(&socket2::Socket) -> T) -> Result<T> {
        self.sock().with(|s| Ok(f(s)))
    }

    /// Takes the socket out as a `socket2::Socket` (deregistered from
    /// Tokio); this socket is closed afterwards.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.bind(("127.0.0.1", 0))?;
    /// let port = s.local_addr()?.port();
    /// let raw: socket2::Socket = s.into_inner()?;
    /// assert_eq!(raw.local_addr()?.as_socket().unwrap().port(), port);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getfd")]
    pub fn into_inner(self) -> Result<socket2::Socket> {
        self.sock().take()
    }
}

impl<K: Native> Socket<K> {
    /// As [`into_inner`](Self::into_inner), as a std socket: a
    /// `TcpStream` for a [`Tcp`](crate::Tcp) (for a Unix socket use
    /// `into_inner` and convert to `UnixStream`), a `UdpSocket` for a
    /// [`Udp`](crate::Udp).
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # let l = sockloop::tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let client = sockloop::tcp()?;
    /// # client.connect(l.local_addr()?, None).await?;
    /// let std_stream = client.into_std()?;
    /// assert!(std_stream.peer_addr().is_ok());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> Result<K::Std> {
        self.into_inner().map(Into::into)
    }

    /// As [`into_std`](Self::into_std), registered with the current Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// `"closed"`, `"not_in_thread"` outside a Tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # let l = sockloop::tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let client = sockloop::tcp()?;
    /// # client.connect(l.local_addr()?, None).await?;
    /// # let server = l.accept(None).await?;
    /// use tokio::io::AsyncWriteExt;
    /// let mut stream: tokio::net::TcpStream = client.into_tokio()?;
    /// stream.write_all(b"via tokio").await?;
    /// let mut buf = [0u8; 9];
    /// server.recvn(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert_eq!(&buf, b"via tokio");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_tokio(self) -> Result<K::Tokio> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::with_message(
                ErrorKind::NotInThread,
                "no Tokio runtime",
            ));
        }
        Ok(K::Tokio::try_from(self.into_std()?)?)
    }
}

impl<K: Plain> From<socket2::Socket> for Socket<K> {
    /// Wraps a socket, made non-blocking; its type, family and protocol
    /// are read from it.
    fn from(s: socket2::Socket) -> Socket<K> {
        Socket::wrap(Sock::from_socket(s, K::TYPE))
    }
}

// ===== what a kind is (re-exported by `sockloop::kind`) =====

/// What every socket kind is: [`Socket<K>`](crate::Socket) has the calls
/// every socket has (`socktype`, `family`, `protocol`, `close`, `closed`,
/// `bind`, `setopt`, `getopt`, `local_addr`, `remote_addr`) for every
/// `K: Kind`.
///
/// # Examples
///
/// ```
/// use sockloop::kind::Kind;
/// use sockloop::Socket;
///
/// fn describe<K: Kind>(s: &Socket<K>) -> String {
///     format!("{} over {}", s.socktype().as_str(), s.family())
/// }
/// assert_eq!(describe(&sockloop::tcp()?), "tcp over inet");
/// assert_eq!(describe(&sockloop::udp()?), "udp over inet");
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait Kind: sealed::Kind + fmt::Debug {}

/// A kind that is a bare OS socket (everything but TLS): such a socket is
/// made from a `socket2::Socket` (`From`), lends it
/// ([`with_socket`](crate::Socket::with_socket)) and gives it back
/// ([`into_inner`](crate::Socket::into_inner)).
///
/// # Examples
///
/// ```
/// use sockloop::kind::Plain;
/// use sockloop::Socket;
///
/// fn fd<K: Plain>(s: &Socket<K>) -> sockloop::Result<i32> {
///     use std::os::fd::AsRawFd;
///     s.with_socket(|s| s.as_raw_fd())
/// }
/// assert!(fd(&sockloop::tcp()?)? >= 0);
/// assert!(fd(&sockloop::udp()?)? >= 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait Plain: Kind + sealed::Plain {}

/// A bare socket with a std and a Tokio twin ([`Tcp`](crate::Tcp):
/// `TcpStream`; [`Udp`](crate::Udp): `UdpSocket`), which
/// [`into_std`](crate::Socket::into_std) and
/// [`into_tokio`](crate::Socket::into_tokio) give.
///
/// # Examples
///
/// ```
/// let s = sockloop::udp()?;
/// s.bind(("127.0.0.1", 0))?;
/// let std_sock: std::net::UdpSocket = s.into_std()?;
/// assert!(std_sock.local_addr()?.ip().is_loopback());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Native: Plain {
    /// The std socket type.
    type Std: From<socket2::Socket>;
    /// The Tokio socket type.
    type Tokio: TryFrom<Self::Std, Error = io::Error>;
}

/// A stream transport: the layer a stream socket's bytes go through on
/// their way to the syscalls (plain [`Stream`](crate::kind::Stream), or `Tls` records with the
/// feature `tls`). The stream calls (`send`, `recv`, `recvn`, `recvall`, `recvall_read`,
/// `until`) and Tokio's `AsyncRead`/`AsyncWrite` are written once over it,
/// so their deadlines, cancels, partial counts and byte counters are the
/// same for every stream socket.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::kind::Transport;
/// use sockloop::{clock, Socket};
///
/// /// Reads a 2-byte big-endian length, then that many bytes.
/// async fn frame<K: Transport>(s: &Socket<K>) -> sockloop::Result<Vec<u8>> {
///     let mut len = [0u8; 2];
///     s.recvn(&mut len, clock() + 5.0).await?;
///     let mut body = vec![0u8; u16::from_be_bytes(len).into()];
///     s.recvn(&mut body, clock() + 5.0).await?;
///     Ok(body)
/// }
/// # let l = sockloop::tcp()?;
/// # l.listen(("127.0.0.1", 0))?;
/// # let client = sockloop::tcp()?;
/// # client.connect(l.local_addr()?, None).await?;
/// # let server = l.accept(None).await?;
/// client.send(b"\x00\x03abc", None).await?;
/// assert_eq!(frame(&server).await?, b"abc");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub trait Transport: Kind + sealed::Transport {}

/// The protocol of a datagram kind [`Dgram<P>`](crate::kind::Dgram):
/// [`kind::Udp`](Udp) or [`kind::Raw`](Raw).
///
/// # Examples
///
/// ```
/// use sockloop::kind::{Dgram, Proto};
/// use sockloop::Socket;
///
/// fn local_port<P: Proto>(s: &Socket<Dgram<P>>) -> sockloop::Result<u16> {
///     Ok(s.local_addr()?.port())
/// }
/// let s = sockloop::udp()?;
/// s.bind(("127.0.0.1", 0))?;
/// assert_ne!(local_port(&s)?, 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait Proto: sealed::Proto {}

/// UDP (and Unix-domain datagrams): [`Udp`](crate::Udp) is
/// `Socket<Dgram<kind::Udp>>`.
///
/// # Examples
///
/// ```
/// use sockloop::kind::{self, Dgram};
/// let s: sockloop::Socket<Dgram<kind::Udp>> = sockloop::udp()?;
/// assert_eq!(s.socktype(), sockloop::SockType::Udp);
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Debug)]
pub enum Udp {}

/// Raw IP: [`Raw`](crate::Raw) is `Socket<Dgram<kind::Raw>>`.
///
/// # Examples
///
/// ```
/// use sockloop::kind::{self, Dgram};
/// use sockloop::Protocol;
/// if let Ok(s) = sockloop::raw(Protocol::Icmp) { // needs CAP_NET_RAW
///     let s: sockloop::Socket<Dgram<kind::Raw>> = s;
///     assert_eq!(s.socktype(), sockloop::SockType::Raw);
/// }
/// ```
#[derive(Debug)]
pub enum Raw {}

impl Proto for Udp {}
impl Proto for Raw {}

/// What the kinds give the shared calls; sockloop's own (sealed).
pub(crate) mod sealed {
    use std::task::{Context, Poll};

    use crate::addr::SockType;
    use crate::error::Result;
    use crate::sock::{Call, Sock};

    /// The socket under a kind, and how it closes.
    pub trait Kind {
        /// The socket the kind's syscalls go to (for TLS, the TCP
        /// socket's).
        fn sock(&self) -> &Sock;

        /// Closes the socket now (a kind may first do its own part: TLS
        /// queues `close_notify`).
        fn close(&self) -> Result<()> {
            self.sock().close()
        }

        /// `true` once closed.
        fn closed(&self) -> bool {
            self.sock().is_closed()
        }
    }

    /// A kind that is a bare socket.
    pub trait Plain: Kind {
        /// The type a socket of this kind is made with.
        const TYPE: SockType;

        /// The kind over `sock`.
        fn wrap(sock: Sock) -> Self;
    }

    /// A stream transport. Each method is one poll of part of the
    /// sockloop call `call`, whose syscalls go through
    /// [`Sock::poll_call`]: so deadlines, cancels and the inventory's
    /// counters and park notes are the same for every transport.
    pub trait Transport: Kind {
        /// Reads up to `dst.len()` (non-empty) bytes; `Ok(0)` at the
        /// peer's clean end.
        fn poll_read(
            &self,
            cx: &mut Context<'_>,
            call: &mut Call,
            dst: &mut [u8],
        ) -> Poll<Result<usize>>;

        /// Takes a non-empty prefix of `src` (non-empty) and makes a start
        /// on sending it; returns its length.
        fn poll_write(
            &self,
            cx: &mut Context<'_>,
            call: &mut Call,
            src: &[u8],
        ) -> Poll<Result<usize>>;

        /// Sends what the transport still holds.
        fn poll_flush(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>>;

        /// Ends the write side (after what it still holds).
        fn poll_shutdown(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>>;
    }

    /// The protocol of a datagram kind.
    pub trait Proto {
        /// Its socket type.
        const TYPE: SockType;
        /// Its socket's type name (for `Debug`).
        const NAME: &'static str;
    }

    impl Proto for super::Udp {
        const TYPE: SockType = SockType::Udp;
        const NAME: &'static str = "Udp";
    }

    impl Proto for super::Raw {
        const TYPE: SockType = SockType::Raw;
        const NAME: &'static str = "Raw";
    }
}
