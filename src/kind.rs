//! The kinds of [`Socket`](crate::Socket): its type parameter, which says
//! what the socket is and so which calls it has.
//!
//! Every socket is one [`Socket<K>`](crate::Socket) (as async-io's one
//! `Async<T>`): the calls every socket has (`close`, `setopt`,
//! `local_addr`, ...) are written once for every [`Kind`]; the stream calls
//! (`send`, `recv`, `recvn`, `recvall`, `until` and Tokio's I/O traits)
//! once for every stream [`Transport`]; the datagram calls once for every
//! [`Dgram`] kind. A kind adds only what differs: its constructor and its
//! own few calls. The names the crate has always used are aliases:
//!
//! | alias | type | |
//! |---|---|---|
//! | [`Tcp`](crate::Tcp) | `Socket<Stream>` | TCP and Unix-domain stream sockets |
//! | `Stcp` (feature `tls`) | `Socket<Tls>` | TLS connections over a `Tcp` |
//! | [`Udp`](crate::Udp) | `Socket<Dgram<kind::Udp>>` | UDP and Unix-domain datagram sockets |
//! | [`Raw`](crate::Raw) | `Socket<Dgram<kind::Raw>>` | raw IP sockets |
//!
//! The traits are sealed: the kinds are sockloop's. They are for code
//! generic over sockets, e.g. one function for plain and TLS streams.
//!
//! # Examples
//!
//! ```
//! # sockloop::run(async {
//! use sockloop::kind::Transport;
//! use sockloop::{clock, Socket};
//!
//! // One function for every stream socket: TCP, Unix stream, TLS.
//! async fn greet<K: Transport>(s: &Socket<K>) -> sockloop::Result<()> {
//!     s.send(b"hello\n", clock() + 5.0).await
//! }
//!
//! let server = sockloop::tcp()?;
//! server.listen(("127.0.0.1", 0))?;
//! let client = sockloop::tcp()?;
//! client.connect(server.local_addr()?, clock() + 5.0).await?;
//! let conn = server.accept(clock() + 5.0).await?;
//! greet(&client).await?;
//! let mut buf = [0u8; 6];
//! conn.recvn(&mut buf, clock() + 5.0).await?;
//! assert_eq!(&buf, b"hello\n");
//! # Ok::<(), sockloop::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::io;

pub use crate::tcp::Stream;
#[cfg(feature = "tls")]
pub use crate::tls::Tls;
pub use crate::udp::Dgram;

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
/// their way to the syscalls (plain [`Stream`], or `Tls` records with the
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

/// The protocol of a datagram kind [`Dgram<P>`](Dgram): [`Udp`] or [`Raw`].
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
