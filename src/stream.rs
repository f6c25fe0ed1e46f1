//! (private) The stream core: `send`, `recv`, `recvn`, `recvall`,
//! `recvall_read`, `until` and Tokio's `AsyncRead`/`AsyncWrite`, written
//! once for every stream socket over its [`Transport`] (plain TCP and
//! Unix stream sockets, TLS). Each is one sockloop call ([`Call`]) made
//! of transport polls whose syscalls go through the one wait entry, so
//! partial counts, `"eof"`, the data kept on error, deadlines, cancels
//! and the inventory's counters are the same for every stream socket and
//! every way of calling it.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::sock::Call;
use crate::socket::{Socket, Transport};
use crate::tcp::Stream;

impl<K: Transport> Socket<K> {
    /// Sends all of `buf` (`tcp:send(s, len, expires)`). A zero-length
    /// send is an `Ok` no-op.
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// Over TLS, `buf` is encrypted and queued up to 64 KiB at a time
    /// (rustls' buffer), each part sent before the next is taken.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_reset"`, `"broken_pipe"` (also after a
    /// TLS `shutdown` of the write side), `"closed"`, `"cancelled"`, ...;
    /// every error carries `partial()`: the bytes of `buf` the kernel
    /// took (`Some(0)` when none). Over TLS, the bytes committed to the
    /// TLS stream: all but the last part are in the kernel, and a part
    /// cut short by the deadline or a cancel stays queued and goes out
    /// first with the next `send`, `shutdown` or `close`, so sending
    /// `&buf[partial..]` next continues the stream exactly.
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
            return self.check_open().map_err(|e| e.with_partial(0));
        }
        let mut call = Call::new(expires.into());
        let mut done = 0;
        poll_fn(|cx| self.poll_send(cx, &mut call, buf, &mut done))
            .await
            .map_err(|e| e.with_partial(done))
    }

    /// Receives up to `buf.len()` bytes (`tcp:recv(buf, maxlen, expires)`).
    /// `Ok(0)` means the peer closed (over TLS: its `close_notify`).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for an empty `buf` (sock.lua's `maxlen` must
    /// be > 0; nothing is read), `"timeout"`, `"connection_reset"`,
    /// `"closed"`, `"cancelled"`, ...; over TLS also `"tls_truncated"`
    /// (the peer closed the connection without `close_notify`),
    /// `"tls_error"`, and a TLS certificate or handshake name when a TLS
    /// 1.3 server rejects this client's certificate.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no data is lost if the future is dropped (decrypted
    /// TLS bytes stay in the connection until read).
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
        poll_fn(|cx| self.kind.poll_read(cx, &mut call, buf)).await
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
    /// `"eof"` if the peer closes first (over TLS: its `close_notify`;
    /// `"tls_truncated"` if it closes the connection without one),
    /// `"timeout"`, `"connection_reset"`, `"closed"`, `"cancelled"`, ...;
    /// every error carries `partial()`, the bytes stored at the start of
    /// `buf`.
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
        if buf.is_empty() {
            return self.check_open().map(|()| 0).map_err(|e| e.with_partial(0));
        }
        let mut call = Call::new(expires.into());
        let mut got = 0;
        while got < buf.len() {
            let rest = &mut buf[got..];
            match poll_fn(|cx| self.kind.poll_read(cx, &mut call, rest)).await {
                Ok(0) => return Err(Error::new(ErrorKind::Eof).with_partial(got)),
                Ok(n) => got += n,
                Err(e) => return Err(e.with_partial(got)),
            }
        }
        Ok(got)
    }

    /// Receives until the peer closes (`tcp:recvall()`; over TLS, until
    /// its `close_notify`).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_reset"`, `"closed"`, `"cancelled"`, over
    /// TLS `"tls_truncated"` (no `close_notify`: the data may be cut
    /// short), ...; the error carries `partial()` and the bytes received
    /// so far ([`Error::take_data`]).
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
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match poll_fn(|cx| self.kind.poll_read(cx, &mut call, &mut chunk)).await {
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
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds since
    /// boot: `clock() + 5.0`), not a duration; `None` waits without a
    /// deadline.
    ///
    /// # Errors
    ///
    /// As [`recvall`](Self::recvall).
    ///
    /// # Cancel safety
    ///
    /// As [`recvall`](Self::recvall).
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
    /// assert_eq!(snk.get_ref().unwrap(), b"partial body");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "settimeout")]
    pub fn until(&self, expires: impl Into<Option<f64>>) -> Until<'_, K> {
        let expires = expires.into();
        Until {
            sock: self,
            read: Call::new(expires),
            write: Call::new(expires),
        }
    }

    /// `Ok` while the socket is open, else `"closed"`: what a call with
    /// nothing to move returns.
    fn check_open(&self) -> Result<()> {
        if self.closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    /// One poll of `send`: `done` counts the bytes of `buf` the transport
    /// has taken.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        buf: &[u8],
        done: &mut usize,
    ) -> Poll<Result<()>> {
        while *done < buf.len() {
            *done += ready!(self.kind.poll_write(cx, call, &buf[*done..]))?;
        }
        self.kind.poll_flush(cx, call)
    }

    /// One poll of a read that is part of the sockloop call `call` (for
    /// the compatibility objects' read-ahead).
    pub(crate) fn poll_read_call(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        dst: &mut [u8],
    ) -> Poll<Result<usize>> {
        self.kind.poll_read(cx, call, dst)
    }

    // Tokio's I/O traits: each poll is part of the sockloop call `call`
    // (one with no deadline per poll for the socket itself, the view's
    // own for `Until`).

    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let n = ready!(io_poll(self.kind.poll_read(cx, call, dst)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    fn poll_write_io(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        io_poll(self.kind.poll_write(cx, call, buf))
    }

    fn poll_flush_io(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<io::Result<()>> {
        io_poll(self.kind.poll_flush(cx, call))
    }

    fn poll_shutdown_io(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<io::Result<()>> {
        io_poll(self.kind.poll_shutdown(cx, call))
    }
}

/// A transport poll as an `AsyncRead`/`AsyncWrite` poll. `Pending` stays
/// `Pending` unless the current sockloop thread has been cancelled: then
/// the I/O call ends with an `Interrupted` error (which converts back to
/// a sockloop error named `"cancelled"`), so a thread parked inside a
/// codec or `tokio::io::copy` wakes up as it does in a sockloop call.
#[inline]
fn io_poll<T>(p: Poll<Result<T>>) -> Poll<io::Result<T>> {
    match p {
        Poll::Ready(r) => Poll::Ready(r.map_err(Into::into)),
        Poll::Pending => match crate::thread::io_cancel() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Pending,
        },
    }
}

/// `&Tcp`, `&Stcp`: each poll is a sockloop call with no deadline (see
/// [`Socket::until`] for one bounded by a deadline).
impl<K: Transport> AsyncRead for &Socket<K> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_io(cx, &mut Call::new(None), buf)
    }
}

impl<K: Transport> AsyncWrite for &Socket<K> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_io(cx, &mut Call::new(None), buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_io(cx, &mut Call::new(None))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_io(cx, &mut Call::new(None))
    }
}

/// As `&Socket<K>`.
impl<K: Transport> AsyncRead for Socket<K> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_read(cx, buf)
    }
}

/// As `&Socket<K>`.
impl<K: Transport> AsyncWrite for Socket<K> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_shutdown(cx)
    }
}

/// A stream socket whose `AsyncRead`/`AsyncWrite` calls share one
/// deadline: see [`Socket::until`]. `Until<'_>` is a [`Tcp`](crate::Tcp)'s
/// view, `StcpUntil<'_>` (`Until<'_, Tls>`, feature `tls`) a TLS
/// connection's.
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
pub struct Until<'a, K: Transport = Stream> {
    sock: &'a Socket<K>,
    read: Call,
    write: Call,
}

impl<K: Transport> Until<'_, K> {
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
    pub fn get_ref(&self) -> &Socket<K> {
        self.sock
    }
}

impl<K: Transport> AsyncRead for Until<'_, K> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.sock.poll_read_io(cx, &mut this.read, buf)
    }
}

impl<K: Transport> AsyncWrite for Until<'_, K> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.sock.poll_write_io(cx, &mut this.write, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.sock.poll_flush_io(cx, &mut this.write)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.sock.poll_shutdown_io(cx, &mut this.write)
    }
}
