//! TCP (and Unix-domain stream) sockets: sock's `tcp:` methods, and the
//! plain stream transport under them (the stream calls themselves,
//! `send`/`recv`/`recvn`/`recvall`/`until` and the Tokio I/O traits, are
//! the stream core's, in `stream.rs`).

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::task::{Context, Poll};

use rustix::net::{RecvFlags, SendFlags};

use crate::addr::{Family, SockAddr, SockType, ToAddr};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::sock::{default_protocol, rx, would_block, Call, Dir, Op, Sock};
use crate::socket::{sealed, Kind, Native, Plain, Socket, Transport};

/// A TCP socket, or a Unix-domain stream socket (`Tcp::new(Family::Unix)`):
/// sock's `tcp`. It is the [`Socket`] of the plain stream kind
/// ([`kind::Stream`](crate::kind::Stream)): the calls every socket has and the stream calls are
/// [`Socket`]'s; TCP's own are `new`, `connect`, `listen`, `accept`,
/// `shutdown`, `readable` and `writable`.
///
/// All I/O methods take `&self`, so one socket can be shared (`Rc<Tcp>`)
/// by a reading and a writing thread at once. A socket can be made,
/// bound, listened on, configured and closed with no runtime; it joins the
/// Tokio reactor on its first wait.
///
/// Every call makes its syscall once before it looks at its deadline (an
/// expired call still gets what is queued), a looping call (`recvn`,
/// `recvall`, `send`) ends within a few milliseconds of its deadline
/// however fast data moves, a pending socket error wakes every parked call
/// with its name, and a call the socket's state can never satisfy fails at
/// once.
///
/// `Tcp` and `&Tcp` implement Tokio's `AsyncRead` and `AsyncWrite` (with no
/// deadline; [`until`](Tcp::until) gives a view bounded by one), through
/// the same wait path as the sockloop calls. A
/// [`Thread::cancel`](crate::Thread::cancel) ends a read or write parked
/// there with an `Interrupted` error that converts back to `"cancelled"`.
///
/// # Send
///
/// `Tcp` is `Send + Sync`, and its I/O futures are `Send`: a socket can
/// move to another OS thread, or serve a `tokio::spawn` task of a
/// multi-thread runtime. It joins the reactor of the runtime current at
/// its first wait.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, tcp};
///
/// let server = tcp()?;
/// server.listen(("127.0.0.1", 0))?;
/// let addr = server.local_addr()?;
///
/// let client = tcp()?;
/// client.connect(&addr, clock() + 5.0).await?;
/// let conn = server.accept(clock() + 5.0).await?;
///
/// client.send(b"hello", None).await?;
/// let mut buf = [0u8; 5];
/// conn.recvn(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub type Tcp = Socket<Stream>;

/// The kind of a [`Tcp`]: a plain stream socket (TCP, or Unix-domain
/// stream), whose bytes go straight to `recv(2)` and `send(2)`.
///
/// # Examples
///
/// ```
/// use sockloop::kind::Stream;
/// let s: sockloop::Socket<Stream> = sockloop::tcp()?;
/// assert_eq!(s.socktype(), sockloop::SockType::Tcp);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub struct Stream {
    sock: Sock,
}

crate::thread::plain_outputs!(Tcp);

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tcp").field("sock", &self.sock).finish()
    }
}

impl sealed::Kind for Stream {
    #[inline]
    fn sock(&self) -> &Sock {
        &self.sock
    }
}

impl Kind for Stream {}

impl sealed::Plain for Stream {
    const TYPE: SockType = SockType::Tcp;

    fn wrap(sock: Sock) -> Stream {
        Stream { sock }
    }
}

impl Plain for Stream {}

impl Native for Stream {
    type Std = std::net::TcpStream;
    type Tokio = tokio::net::TcpStream;
}

impl sealed::Transport for Stream {
    #[inline]
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        dst: &mut [u8],
    ) -> Poll<Result<usize>> {
        self.sock
            .poll_call(cx, call, Op::Recv, &mut |s| recv_op(s, dst))
    }

    #[inline]
    fn poll_write(&self, cx: &mut Context<'_>, call: &mut Call, src: &[u8]) -> Poll<Result<usize>> {
        self.sock
            .poll_call(cx, call, Op::Send, &mut |s| send_op(s, src))
    }

    fn poll_flush(&self, _cx: &mut Context<'_>, _call: &mut Call) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&self, _cx: &mut Context<'_>, _call: &mut Call) -> Poll<Result<()>> {
        Poll::Ready(shutdown(&self.sock, Shutdown::Write))
    }
}

impl Transport for Stream {}

/// A new IPv4 TCP socket (`sock.tcp()`). Needs no runtime.
///
/// # Errors
///
/// An OS error (`"no_buffer_space"`, ...).
///
/// # Examples
///
/// ```
/// let s = sockloop::tcp()?;
/// assert_eq!(s.family(), sockloop::Family::Inet);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn tcp() -> Result<Tcp> {
    Tcp::new(Family::Inet)
}

fn in_progress(e: &io::Error) -> bool {
    would_block(e) || rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::INPROGRESS)
}

fn not_connected(e: &io::Error) -> bool {
    rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::NOTCONN)
}

/// The most one stream syscall moves. The kernel copies a whole queue in
/// one `recv` (hundreds of MiB on a Unix socket with a large buffer) or
/// fills a whole send buffer in one `send`, and a syscall cannot be
/// interrupted by a deadline: capping it keeps every call within a
/// millisecond or so of its deadline, at one extra syscall per 4 MiB.
const MAX_IO: usize = 4 << 20;

#[inline]
fn recv_op(s: &socket2::Socket, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let len = buf.len().min(MAX_IO);
    let (n, _) = rustix::net::recv(s, &mut buf[..len], RecvFlags::empty()).map_err(rx)?;
    Ok((n, n > 0 && n < len))
}

/// A zero-timeout `poll(2)`: is the socket ready in `dir` now? (poll has
/// no `FD_SETSIZE` limit.) Errors and hang-ups count as ready.
fn poll_now(s: &socket2::Socket, dir: Dir) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags};
    let want = match dir {
        Dir::Read => PollFlags::IN | PollFlags::PRI | PollFlags::RDHUP,
        Dir::Write => PollFlags::OUT,
    };
    let mut fds = [PollFd::new(s, want)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    rustix::event::poll(&mut fds, Some(&zero)).map_err(rx)?;
    let got = fds[0].revents();
    Ok(got.intersects(want | PollFlags::ERR | PollFlags::HUP))
}

#[inline]
fn send_op(s: &socket2::Socket, buf: &[u8]) -> io::Result<(usize, bool)> {
    let buf = &buf[..buf.len().min(MAX_IO)];
    let n = rustix::net::send(s, buf, SendFlags::NOSIGNAL).map_err(rx)?;
    Ok((n, n < buf.len()))
}

/// `shutdown(2)`. The kernel raises no readiness event for our own
/// shutdown of a Unix socket: the next calls of every kind try their
/// syscalls.
fn shutdown(sock: &Sock, how: Shutdown) -> Result<()> {
    sock.with(|s| Ok(s.shutdown(how)?))?;
    sock.forget_blocked();
    Ok(())
}

impl Socket<Stream> {
    /// A new stream socket of `family` (`Family::Unix` for a Unix-domain
    /// stream socket, whose addresses are paths).
    ///
    /// # Errors
    ///
    /// An OS error (`"address_family_not_supported"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Family, Tcp};
    /// let v6 = Tcp::new(Family::Inet6)?;
    /// v6.bind(("::1", 0))?;
    /// let unix = Tcp::new(Family::Unix)?;
    /// assert_eq!(unix.family(), Family::Unix);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn new(family: Family) -> Result<Tcp> {
        Tcp::open(family, default_protocol(SockType::Tcp, family))
    }

    fn is_bound(&self) -> Result<bool> {
        let a = self.sock().local_addr()?;
        Ok(match a.path() {
            Some(p) => !p.as_os_str().is_empty(),
            None => a.port() != 0,
        })
    }

    /// Connects to `addr` (`tcp:connect(host, port, expires)`). Names are
    /// resolved on the blocking pool; an unbound socket gets a local
    /// address from the kernel (as binding to `("*", 0)`); Unix sockets
    /// stay unnamed.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"connection_refused"`, `"timeout"`, `"network_unreachable"`,
    /// `"host_unreachable"`, `"invalid_address"`, a lookup error,
    /// `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future leaves the connection attempt
    /// going on in the kernel; the socket should be closed.
    ///
    /// # Send
    ///
    /// The future is `Send`: it also runs in a `tokio::spawn` task.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let server = sockloop::tcp()?;
    /// server.listen(("127.0.0.1", 0))?;
    /// let c = sockloop::tcp()?;
    /// c.connect(server.local_addr()?, sockloop::clock() + 5.0).await?;
    /// assert_eq!(c.remote_addr()?, server.local_addr()?);
    /// assert_eq!(c.connect(server.local_addr()?, None).await.unwrap_err().name(), "already_connected");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToAddr, expires: impl Into<Option<f64>>) -> Result<()> {
        let expires = expires.into();
        // On a connected socket connect(2) "succeeds" again without going
        // anywhere (it is how a non-blocking connect is finished).
        if let Ok(peer) = self.sock().with(|s| Ok(s.peer_addr()?)) {
            let peer =
                SockAddr::from_socket2(&peer).map_or_else(String::new, |a| format!(" to {a}"));
            return Err(Error::with_message(
                ErrorKind::AlreadyConnected,
                format!("the socket is already connected{peer}"),
            ));
        }
        let req = addr.to_addr()?;
        let hints = self.hints(false);
        let addrs = Deadline::run(expires, req.resolve_async(&hints)).await?;
        let Some(target) = addrs.first() else {
            return Err(Error::with_message(
                ErrorKind::InvalidAddress,
                "no address to connect to",
            ));
        };
        let sa = target.to_socket2()?;
        let started = self.sock().with(|s| match s.connect(&sa) {
            Ok(()) => Ok(true),
            Err(e) if in_progress(&e) => Ok(false),
            Err(e) => Err(Error::from(e).context(format!("connect {target}"))),
        })?;
        if !started {
            let mut call = Call::new(expires);
            self.sock()
                .wait(Op::Connect, &mut call, |s| match s.take_error()? {
                    Some(e) => Err(e),
                    None => match s.peer_addr() {
                        Ok(_) => Ok(((), false)),
                        Err(e) if not_connected(&e) => Err(io::ErrorKind::WouldBlock.into()),
                        Err(e) => Err(e),
                    },
                })
                .await?;
        }
        self.sock().set_remote(Some(target.clone()));
        Ok(())
    }

    /// Binds to `addr` if not bound yet and listens with the maximum
    /// backlog the system allows (`tcp:listen(host, port)`). Sets
    /// `reuseaddr` first on IP sockets (as servers do; sock.lua does not,
    /// see PORTING.md). On a bound socket `addr` is ignored (as upstream),
    /// but still checked. Needs no runtime.
    ///
    /// # Errors
    ///
    /// `"address_already_in_use"`, `"access_denied"`, `"invalid_address"`,
    /// a lookup error, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = sockloop::tcp()?;
    /// server.listen(("127.0.0.1", 0))?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn listen(&self, addr: impl ToAddr) -> Result<()> {
        self.listen_backlog(i32::MAX as u32, addr)
    }

    /// [`listen`](Tcp::listen) with an explicit backlog
    /// (`tcp:listen(backlog, host, port)`); the kernel caps it.
    ///
    /// # Errors
    ///
    /// As [`listen`](Tcp::listen).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.listen_backlog(16, ("127.0.0.1", 0))?;
    /// assert_eq!(s.getopt("acceptconn")?.as_bool(), Some(true));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "listen")]
    pub fn listen_backlog(&self, backlog: u32, addr: impl ToAddr) -> Result<()> {
        // A malformed address is rejected before anything is changed.
        let req = addr.to_addr()?;
        if !self.is_bound()? {
            let addrs = req.resolve(&self.hints(true))?;
            if self.family() != Family::Unix {
                self.setopt("reuseaddr", true)?;
            }
            self.sock().bind_any(&addrs)?;
        }
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.sock().with(|s| Ok(s.listen(backlog)?))
    }

    /// Accepts a connection (`tcp:accept(expires)`). The new socket knows
    /// its `remote_addr()` and `local_addr()`.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_aborted"`, `"closed"`, `"cancelled"`, an
    /// OS error (e.g. too many open files).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the queue only when the
    /// future completes.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let listener = sockloop::tcp()?;
    /// listener.listen(("127.0.0.1", 0))?;
    /// let e = listener.accept(sockloop::clock() + 0.01).await.unwrap_err();
    /// assert_eq!(e.name(), "timeout"); // nobody connected
    /// let c = sockloop::tcp()?;
    /// c.connect(listener.local_addr()?, None).await?;
    /// let conn = listener.accept(sockloop::clock() + 5.0).await?;
    /// assert_eq!(conn.remote_addr()?, c.local_addr()?);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self, expires: impl Into<Option<f64>>) -> Result<Tcp> {
        let mut call = Call::new(expires.into());
        let (s, peer) = self
            .sock()
            .wait(Op::Accept, &mut call, |s| s.accept().map(|x| (x, false)))
            .await?;
        let t = Tcp::wrap(Sock::from_parts(
            s,
            SockType::Tcp,
            self.family(),
            self.protocol(),
        ));
        t.sock().set_remote(SockAddr::from_socket2(&peer));
        Ok(t)
    }

    /// Shuts down reading, writing or both (`tcp:shutdown('r'|'w'|'rw')`).
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"closed"`.
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
    /// client.send(b"request", None).await?;
    /// client.shutdown(std::net::Shutdown::Write)?; // FIN: "no more from me"
    /// assert_eq!(server.recvall(sockloop::clock() + 5.0).await?, b"request");
    /// server.send(b"reply", None).await?;          // the other direction still works
    /// let mut buf = [0u8; 5];
    /// client.recvn(&mut buf, sockloop::clock() + 5.0).await?;
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        shutdown(self.sock(), how)
    }

    /// Waits until the socket is readable: data or a peer close is
    /// pending, an error is pending, or, on a listening socket, a
    /// connection waits to be accepted. Nothing is read. Used by
    /// `luasocket::select` and `socketloop`'s `call_async`.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"closed"`, `"cancelled"`, `"not_in_thread"` (no Tokio
    /// runtime).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    ///
    /// # Send
    ///
    /// The future is `Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, tcp};
    /// let server = tcp()?;
    /// server.listen(("127.0.0.1", 0))?;
    /// let err = server.readable(clock() + 0.01).await.unwrap_err();
    /// assert_eq!(err.name(), "timeout"); // no connection pending
    /// let client = tcp()?;
    /// client.connect(&server.local_addr()?, None).await?;
    /// server.readable(clock() + 5.0).await?; // one is pending now
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn readable(&self, expires: impl Into<Option<f64>>) -> Result<()> {
        self.ready(Dir::Read, expires.into()).await
    }

    /// Waits until the socket is writable (send buffer space, a finished
    /// connect, or an error pending). Nothing is written.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`readable`](Tcp::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is written.
    ///
    /// # Send
    ///
    /// The future is `Send`.
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
    /// client.writable(sockloop::clock() + 5.0).await?; // an idle connection has room
    /// client.send(b"x", None).await?;
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn writable(&self, expires: impl Into<Option<f64>>) -> Result<()> {
        self.ready(Dir::Write, expires.into()).await
    }

    async fn ready(&self, dir: Dir, expires: Option<f64>) -> Result<()> {
        // Ask the kernel first: Tokio learns readiness a reactor turn late.
        if self.sock().with(|s| Ok(poll_now(s, dir)?))? {
            return Ok(());
        }
        let op = match dir {
            Dir::Read => Op::PollRead,
            Dir::Write => Op::PollWrite,
        };
        let mut call = Call::new(expires);
        self.sock()
            .wait(op, &mut call, |s| {
                if poll_now(s, dir)? {
                    Ok(((), false))
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            })
            .await
    }
}

impl From<std::net::TcpStream> for Tcp {
    fn from(s: std::net::TcpStream) -> Tcp {
        Tcp::from(socket2::Socket::from(s))
    }
}

impl From<std::net::TcpListener> for Tcp {
    fn from(s: std::net::TcpListener) -> Tcp {
        Tcp::from(socket2::Socket::from(s))
    }
}

impl From<std::os::unix::net::UnixStream> for Tcp {
    fn from(s: std::os::unix::net::UnixStream) -> Tcp {
        Tcp::from(socket2::Socket::from(s))
    }
}

impl From<tokio::net::TcpStream> for Tcp {
    /// Takes the stream out of Tokio's reactor. If Tokio fails to
    /// deregister it (the socket is then lost), the `Tcp` is closed.
    fn from(s: tokio::net::TcpStream) -> Tcp {
        s.into_std()
            .map_or_else(|_| Tcp::closed_from_start(), Tcp::from)
    }
}

impl From<tokio::net::TcpListener> for Tcp {
    /// As `From<tokio::net::TcpStream>`.
    fn from(s: tokio::net::TcpListener) -> Tcp {
        s.into_std()
            .map_or_else(|_| Tcp::closed_from_start(), Tcp::from)
    }
}

impl From<std::os::fd::OwnedFd> for Tcp {
    /// Wraps an owned descriptor of a stream socket (socketloop's
    /// `loop.wrap(fd)`); std's `OwnedFd::from(RawFd)` conversion is where
    /// a raw fd comes in.
    fn from(fd: std::os::fd::OwnedFd) -> Tcp {
        Tcp::from(socket2::Socket::from(fd))
    }
}
