//! TCP (and Unix-domain stream) sockets: sock's `tcp:` methods.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::net::{RecvFlags, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::addr::{Family, Protocol, SockAddr, SockType, ToAddr};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::sock::{rx, would_block, Dir, Sock};

/// A TCP socket, or a Unix-domain stream socket (`Tcp::new(Family::Unix)`):
/// sock's `tcp`.
///
/// All I/O methods take `&self`, so one socket can be shared (`Rc<Tcp>`)
/// by a reading and a writing thread at once. A socket can be made,
/// bound, listened on, configured and closed with no runtime; it joins the
/// Tokio reactor on its first wait.
///
/// `Tcp` and `&Tcp` implement Tokio's `AsyncRead` and `AsyncWrite`.
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

/// A new IPv4 TCP socket (`sock.tcp()`).
///
/// # Errors
///
/// An OS error (`"no_buffer_space"`, ...).
pub fn tcp() -> Result<Tcp> {
    Tcp::new(Family::Inet)
}

fn in_progress(e: &io::Error) -> bool {
    would_block(e) || rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::INPROGRESS)
}

fn not_connected(e: &io::Error) -> bool {
    rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::NOTCONN)
}

fn recv_op(s: &socket2::Socket, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let len = buf.len();
    let (n, _) = rustix::net::recv(s, buf, RecvFlags::empty()).map_err(rx)?;
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

fn send_op(s: &socket2::Socket, buf: &[u8]) -> io::Result<(usize, bool)> {
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

    common_methods!(Tcp);

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
    pub async fn connect(&self, addr: impl ToAddr, expires: impl Into<Option<f64>>) -> Result<()> {
        let expires = expires.into();
        let req = addr.to_addr();
        let addrs = req?.resolve_async(&self.hints(false)).await?;
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
            let mut deadline = Deadline::new(expires);
            self.sock
                .wait(Dir::Write, &mut deadline, |s| match s.take_error()? {
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
    /// # Errors
    ///
    /// `"timeout"`, `"connection_aborted"`, `"closed"`, `"cancelled"`, an
    /// OS error (e.g. too many open files).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the queue only when the
    /// future completes.
    pub async fn accept(&self, expires: impl Into<Option<f64>>) -> Result<Tcp> {
        let mut deadline = Deadline::new(expires.into());
        let (s, peer) = self
            .sock
            .wait(Dir::Read, &mut deadline, |s| s.accept().map(|x| (x, false)))
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
    pub async fn send(&self, buf: &[u8], expires: impl Into<Option<f64>>) -> Result<()> {
        if buf.is_empty() {
            return self.sock.with(|_| Ok(())).map_err(|e| e.with_partial(0));
        }
        let mut deadline = Deadline::new(expires.into());
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            match self
                .sock
                .wait(Dir::Write, &mut deadline, |s| send_op(s, rest))
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
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (sock.lua's `maxlen` must
    /// be > 0; nothing is read), `"timeout"`, `"connection_reset"`,
    /// `"closed"`, `"cancelled"`, ...
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no data is lost if the future is dropped.
    pub async fn recv(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        if buf.is_empty() {
            return Err(Error::empty_buffer("recv"));
        }
        let mut deadline = Deadline::new(expires.into());
        self.sock
            .wait(Dir::Read, &mut deadline, |s| recv_op(s, buf))
            .await
    }

    /// Fills all of `buf` (`tcp:recvn(buf, len, expires)`), returning
    /// `buf.len()`.
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
    pub async fn recvn(&self, buf: &mut [u8], expires: impl Into<Option<f64>>) -> Result<usize> {
        let mut deadline = Deadline::new(expires.into());
        let mut got = 0;
        if buf.is_empty() {
            return self.sock.with(|_| Ok(0)).map_err(|e| e.with_partial(0));
        }
        while got < buf.len() {
            let rest = &mut buf[got..];
            match self
                .sock
                .wait(Dir::Read, &mut deadline, |s| recv_op(s, rest))
                .await
            {
                Ok(0) => return Err(Error::new(ErrorKind::Eof).with_partial(got)),
                Ok(n) => got += n,
                Err(e) => return Err(e.with_partial(got)),
            }
        }
        Ok(got)
    }

    /// Receives until the peer closes (`tcp:recvall()`).
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
    pub async fn recvall(&self, expires: impl Into<Option<f64>>) -> Result<Vec<u8>> {
        let mut deadline = Deadline::new(expires.into());
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match self
                .sock
                .wait(Dir::Read, &mut deadline, |s| recv_op(s, &mut chunk))
                .await
            {
                Ok(0) => return Ok(data),
                Ok(n) => data.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    let n = data.len();
                    return Err(e.with_partial(n).with_data(data));
                }
            }
        }
    }

    /// Receives until the peer closes, then gives a synchronous reader
    /// over the bytes (`tcp:recvall_read()`).
    ///
    /// # Errors
    ///
    /// As [`recvall`](Tcp::recvall).
    ///
    /// # Cancel safety
    ///
    /// As [`recvall`](Tcp::recvall).
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
    pub fn shutdown(&self, how: std::net::Shutdown) -> Result<()> {
        self.sock.with(|s| Ok(s.shutdown(how)?))
    }

    /// Takes the socket out as a `socket2::Socket` (deregistered from
    /// Tokio); this `Tcp` is closed afterwards.
    ///
    /// # Errors
    ///
    /// `"closed"`.
    pub fn into_inner(self) -> Result<socket2::Socket> {
        self.sock.take()
    }

    /// As [`into_inner`](Tcp::into_inner), as a std `TcpStream` (for a
    /// Unix socket use `into_inner` and convert to `UnixStream`).
    ///
    /// # Errors
    ///
    /// `"closed"`.
    pub fn into_std(self) -> Result<std::net::TcpStream> {
        self.into_inner().map(Into::into)
    }

    /// As [`into_std`](Tcp::into_std), registered with the current Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// `"closed"`, `"not_in_thread"` outside a Tokio runtime.
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
    /// # Errors
    ///
    /// `"timeout"`, `"closed"`, `"cancelled"`, `"not_in_thread"` (no Tokio
    /// runtime).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
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
    /// # Errors
    ///
    /// As [`readable`](Tcp::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is written.
    pub async fn writable(&self, expires: impl Into<Option<f64>>) -> Result<()> {
        self.ready(Dir::Write, expires.into()).await
    }

    async fn ready(&self, dir: Dir, expires: Option<f64>) -> Result<()> {
        // Ask the kernel first: Tokio learns readiness a reactor turn late.
        if self.sock.with(|s| Ok(poll_now(s, dir)?))? {
            return Ok(());
        }
        let mut deadline = Deadline::new(expires);
        self.sock
            .wait(dir, &mut deadline, |s| {
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

    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let r = self.sock.poll_op(cx, Dir::Read, &mut |s| recv_op(s, dst));
        match r {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.sock
            .poll_op(cx, Dir::Write, &mut |s| send_op(s, buf))
            .map_err(Into::into)
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
