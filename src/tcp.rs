//! TCP (and Unix-domain stream) sockets: sock's `tcp:` methods.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::net::{RecvFlags, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::addr::{Family, Protocol, SockAddr, SockType, ToAddr};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::sock::{rx, would_block, Call, Dir, Op, Sock};

/// A TCP socket, or a Unix-domain stream socket (`Tcp::new(Family::Unix)`):
/// sock's `tcp`.
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
/// deadline; [`until`](Tcp::until) gives a view bounded by one). A
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
#[derive(Debug)]
pub struct Tcp {
    sock: Sock,
}

crate::thread::plain_outputs!(Tcp);

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

/// `Pending` for an `AsyncRead`/`AsyncWrite` poll that cannot complete,
/// unless the current sockloop thread has been cancelled: then the I/O
/// call ends with an `Interrupted` error (which converts back to a
/// sockloop error named `"cancelled"`), so a thread parked inside a codec
/// or `tokio::io::copy` wakes up as it does in a sockloop call.
#[inline]
fn pending_or_cancelled<T>() -> Poll<io::Result<T>> {
    match crate::thread::io_cancel() {
        Some(e) => Poll::Ready(Err(e)),
        None => Poll::Pending,
    }
}

#[inline]
fn send_op(s: &socket2::Socket, buf: &[u8]) -> io::Result<(usize, bool)> {
    let buf = &buf[..buf.len().min(MAX_IO)];
    let n = rustix::net::send(s, buf, SendFlags::NOSIGNAL).map_err(rx)?;
    Ok((n, n < buf.len()))
}

impl Tcp {
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
        let proto = if family == Family::Unix {
            Protocol::Ip
        } else {
            Protocol::Tcp
        };
        Ok(Tcp {
            sock: Sock::new(SockType::Tcp, family, proto)?,
        })
    }

    common_methods!(Tcp, "let s = sockloop::tcp()?;", "tcp", "tcp");

    fn is_bound(&self) -> Result<bool> {
        let a = self.sock.local_addr()?;
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
        if let Ok(peer) = self.sock.with(|s| Ok(s.peer_addr()?)) {
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
        let started = self.sock.with(|s| match s.connect(&sa) {
            Ok(()) => Ok(true),
            Err(e) if in_progress(&e) => Ok(false),
            Err(e) => Err(Error::from(e).context(format!("connect {target}"))),
        })?;
        if !started {
            let mut call = Call::new(expires);
            self.sock
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
        self.sock.set_remote(Some(target.clone()));
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
            self.sock.bind_any(&addrs)?;
        }
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.sock.with(|s| Ok(s.listen(backlog)?))
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
            .sock
            .wait(Op::Accept, &mut call, |s| s.accept().map(|x| (x, false)))
            .await?;
        let t = Tcp {
            sock: Sock::from_parts(s, SockType::Tcp, self.family(), self.protocol()),
        };
        t.sock.set_remote(SockAddr::from_socket2(&peer));
        Ok(t)
    }

    /// Sends all of `buf` (`tcp:send(s, len, expires)`). A zero-length
    /// send is an `Ok` no-op.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_reset"`, `"broken_pipe"`, `"closed"`,
    /// `"cancelled"`, ...; every error carries `partial()`: the sum of the
    /// write results (`Some(0)` when nothing was written).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, some prefix of `buf` may
    /// have been sent and the count is lost (use a deadline instead).
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
    /// client.send(b"ping", sockloop::clock() + 5.0).await?;
    /// let mut buf = [0u8; 4];
    /// server.recvn(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert_eq!(&buf, b"ping");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8], expires: impl Into<Option<f64>>) -> Result<()> {
        if buf.is_empty() {
            return self.sock.with(|_| Ok(())).map_err(|e| e.with_partial(0));
        }
        let mut call = Call::new(expires.into());
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            match self
                .sock
                .wait(Op::Send, &mut call, |s| send_op(s, rest))
                .await
            {
                Ok(n) => done += n,
                Err(e) => return Err(e.with_partial(done)),
            }
        }
        Ok(())
    }

    /// Receives up to `buf.len()` bytes (`tcp:recv(buf, maxlen, expires)`).
    /// `Ok(0)` means the peer closed.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (sock.lua's `maxlen` must
    /// be > 0; nothing is read), `"timeout"`, `"connection_reset"`,
    /// `"closed"`, `"cancelled"`, ...
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no data is lost if the future is dropped.
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
    /// client.send(b"hi", None).await?;
    /// let mut buf = [0u8; 16];
    /// let n = server.recv(&mut buf, sockloop::clock() + 5.0).await?;
    /// assert_eq!(&buf[..n], b"hi");
    /// client.close()?;
    /// assert_eq!(server.recv(&mut buf, sockloop::clock() + 5.0).await?, 0); // peer closed
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "receive")]
    pub async fn recv(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        if buf.is_empty() {
            return Err(Error::empty_buffer("recv"));
        }
        let mut call = Call::new(expires.into());
        self.sock
            .wait(Op::Recv, &mut call, |s| recv_op(s, buf))
            .await
    }

    /// Fills all of `buf` (`tcp:recvn(buf, len, expires)`), returning
    /// `buf.len()`.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"eof"` if the peer closes first, `"timeout"`, `"connection_reset"`,
    /// `"closed"`, `"cancelled"`, ...; every error carries `partial()`, the
    /// bytes stored at the start of `buf`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe (like tokio's `read_exact`): if the future is
    /// dropped, the bytes already read into `buf` are lost from the stream.
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
    /// client.send(b"12345678", None).await?;
    /// let mut header = [0u8; 4];
    /// server.recvn(&mut header, sockloop::clock() + 5.0).await?; // exactly 4 bytes
    /// assert_eq!(&header, b"1234");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recvn(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        let mut call = Call::new(expires.into());
        if buf.is_empty() {
            return self.sock.with(|_| Ok(0)).map_err(|e| e.with_partial(0));
        }
        crate::stream::recvn(buf, &mut call, |cx, call, dst| {
            self.poll_read_call(cx, call, dst)
        })
        .await
    }

    /// Receives until the peer closes (`tcp:recvall()`).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_reset"`, `"closed"`, `"cancelled"`, ...;
    /// the error carries `partial()` and the bytes received so far
    /// ([`Error::take_data`]).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: data read before the future is dropped is lost.
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
    /// client.send(b"whole body", None).await?;
    /// client.close()?;
    /// let all = server.recvall(sockloop::clock() + 5.0).await?;
    /// assert_eq!(all, b"whole body");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recvall(&self, expires: impl Into<Option<f64>>) -> Result<Vec<u8>> {
        let mut call = Call::new(expires.into());
        crate::stream::recvall(&mut call, |cx, call, dst| {
            self.poll_read_call(cx, call, dst)
        })
        .await
    }

    /// Receives until the peer closes, then gives a synchronous reader
    /// over the bytes (`tcp:recvall_read()`).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`recvall`](Tcp::recvall).
    ///
    /// # Cancel safety
    ///
    /// As [`recvall`](Tcp::recvall).
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
    /// use std::io::BufRead;
    /// client.send(b"one\ntwo\n", None).await?;
    /// client.close()?;
    /// let r = server.recvall_read(sockloop::clock() + 5.0).await?;
    /// let lines: Vec<String> = r.lines().map(Result::unwrap).collect();
    /// assert_eq!(lines, ["one", "two"]);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recvall_read(
        &self,
        expires: impl Into<Option<f64>>,
    ) -> Result<io::Cursor<Vec<u8>>> {
        self.recvall(expires).await.map(io::Cursor::new)
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
    pub fn shutdown(&self, how: std::net::Shutdown) -> Result<()> {
        self.sock.with(|s| Ok(s.shutdown(how)?))?;
        // The kernel raises no readiness event for our own shutdown of a
        // Unix socket: let the next calls try their syscalls.
        self.sock.forget_blocked();
        Ok(())
    }

    /// Takes the socket out as a `socket2::Socket` (deregistered from
    /// Tokio); this `Tcp` is closed afterwards.
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
        self.sock.take()
    }

    /// As [`into_inner`](Tcp::into_inner), as a std `TcpStream` (for a
    /// Unix socket use `into_inner` and convert to `UnixStream`).
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
    /// # let server = l.accept(None).await?;
    /// let std_stream = client.into_std()?;
    /// assert!(std_stream.peer_addr().is_ok());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> Result<std::net::TcpStream> {
        self.into_inner().map(Into::into)
    }

    /// As [`into_std`](Tcp::into_std), registered with the current Tokio
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
    pub fn into_tokio(self) -> Result<tokio::net::TcpStream> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::with_message(
                ErrorKind::NotInThread,
                "no Tokio runtime",
            ));
        }
        Ok(tokio::net::TcpStream::from_std(self.into_std()?)?)
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
        if self.sock.with(|s| Ok(poll_now(s, dir)?))? {
            return Ok(());
        }
        let op = match dir {
            Dir::Read => Op::PollRead,
            Dir::Write => Op::PollWrite,
        };
        let mut call = Call::new(expires);
        self.sock
            .wait(op, &mut call, |s| {
                if poll_now(s, dir)? {
                    Ok(((), false))
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            })
            .await
    }

    /// Runs `f` on the underlying socket (for non-blocking calls sockloop
    /// does not wrap: try-reads, `ioctl`s, ...). The socket is
    /// non-blocking; pair a `WouldBlock` with [`readable`](Tcp::readable)
    /// or [`writable`](Tcp::writable). `f` must not close or replace the
    /// descriptor.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// let nb = s.with_socket(|s| s.nonblocking())??;
    /// assert!(nb);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_socket<T>(&self, f: impl FnOnce(&socket2::Socket) -> T) -> Result<T> {
        self.sock.with(|s| Ok(f(s)))
    }

    /// An `AsyncRead` + `AsyncWrite` view of this socket whose reads and
    /// writes are bounded by one absolute deadline, as if each were a
    /// sockloop call with `expires`: once the deadline has passed a read
    /// or write ends with an error named `"timeout"` (`io::ErrorKind::TimedOut`)
    /// however fast data keeps arriving. Use it to bound a whole
    /// exchange that goes through Tokio's I/O traits: an LTN12 pump, a
    /// `tokio_util::codec::Framed`, `tokio::io::copy`. (The deadline of
    /// LuaSocket's `settimeout(t, 't')`, "total" mode.)
    ///
    /// Reads and writes keep separate progress, so a reader and a writer
    /// may each hold their own view of one socket. A cancelled sockloop
    /// thread gets an `Interrupted` error (`"cancelled"`) from a parked
    /// read or write, as with the plain `&Tcp` traits.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::{pump_all, sink, source};
    /// use sockloop::{clock, tcp};
    ///
    /// let server = tcp()?;
    /// server.listen(("127.0.0.1", 0))?;
    /// let client = tcp()?;
    /// client.connect(&server.local_addr()?, clock() + 5.0).await?;
    /// let conn = server.accept(clock() + 5.0).await?;
    /// client.send(b"partial body", None).await?; // and the peer never closes
    ///
    /// let mut src = source("until-closed", conn.until(clock() + 0.05), None)?;
    /// let mut snk = sink("keep-open", Vec::new())?;
    /// let err = pump_all(&mut src, &mut snk).await.unwrap_err();
    /// assert_eq!(err.name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "settimeout")]
    pub fn until(&self, expires: impl Into<Option<f64>>) -> Until<'_> {
        let expires = expires.into();
        Until {
            tcp: self,
            read: Call::new(expires),
            write: Call::new(expires),
        }
    }

    /// One poll of a read that is part of the sockloop call `call`.
    pub(crate) fn poll_read_call(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        dst: &mut [u8],
    ) -> Poll<Result<usize>> {
        self.sock
            .poll_call(cx, call, Op::Recv, &mut |s| recv_op(s, dst))
    }

    /// One poll of `f`, one syscall of kind `op` (`Op::Recv` or
    /// `Op::Send`), as part of the sockloop call `call`: the TLS layer
    /// moves its records through this, so a TLS call has exactly the
    /// deadline, cancel and wake-up rules of a `Tcp` call.
    #[cfg(feature = "tls")]
    pub(crate) fn poll_call_with<T: crate::sock::Moved>(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        op: Op,
        f: &mut impl FnMut(&socket2::Socket) -> io::Result<(T, bool)>,
    ) -> Poll<Result<T>> {
        self.sock.poll_call(cx, call, op, f)
    }

    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let r = self.sock.poll_op(cx, Op::Recv, &mut |s| recv_op(s, dst));
        match r {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => pending_or_cancelled(),
        }
    }

    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self.sock.poll_op(cx, Op::Send, &mut |s| send_op(s, buf)) {
            Poll::Ready(r) => Poll::Ready(r.map_err(Into::into)),
            Poll::Pending => pending_or_cancelled(),
        }
    }

    fn poll_shut(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(std::net::Shutdown::Write).map_err(Into::into))
    }
}

impl AsyncRead for &Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_recv(cx, buf)
    }
}

impl AsyncWrite for &Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shut()
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_recv(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shut()
    }
}

/// A [`Tcp`] whose `AsyncRead`/`AsyncWrite` calls share one deadline: see
/// [`Tcp::until`].
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
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let mut w = client.until(sockloop::clock() + 5.0);
/// w.write_all(b"framed").await?;
/// let mut r = server.until(sockloop::clock() + 0.05);
/// let mut buf = [0u8; 16];
/// let n = r.read(&mut buf).await?;
/// assert_eq!(&buf[..n], b"framed");
/// let e = r.read(&mut buf).await.unwrap_err();       // nothing more within the deadline
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Until<'a> {
    tcp: &'a Tcp,
    read: Call,
    write: Call,
}

impl Until<'_> {
    /// The socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// let view = s.until(None);
    /// assert_eq!(view.get_ref().family(), s.family());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn get_ref(&self) -> &Tcp {
        self.tcp
    }
}

impl AsyncRead for Until<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match this.tcp.poll_read_call(cx, &mut this.read, dst) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => pending_or_cancelled(),
        }
    }
}

impl AsyncWrite for Until<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        match this
            .tcp
            .sock
            .poll_call(cx, &mut this.write, Op::Send, &mut |s| send_op(s, buf))
        {
            Poll::Ready(r) => Poll::Ready(r.map_err(Into::into)),
            Poll::Pending => pending_or_cancelled(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp.poll_shut()
    }
}

impl From<socket2::Socket> for Tcp {
    /// Wraps a stream socket (its family and protocol are read from it;
    /// it is made non-blocking).
    fn from(s: socket2::Socket) -> Tcp {
        Tcp {
            sock: Sock::from_socket(s, SockType::Tcp),
        }
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
        match s.into_std() {
            Ok(s) => Tcp::from(s),
            Err(_) => closed_tcp(),
        }
    }
}

impl From<tokio::net::TcpListener> for Tcp {
    /// As `From<tokio::net::TcpStream>`.
    fn from(s: tokio::net::TcpListener) -> Tcp {
        match s.into_std() {
            Ok(s) => Tcp::from(s),
            Err(_) => closed_tcp(),
        }
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

fn closed_tcp() -> Tcp {
    Tcp {
        sock: Sock::closed(SockType::Tcp, Family::Inet, Protocol::Tcp),
    }
}
