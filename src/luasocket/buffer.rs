//! LuaSocket's `buffer.c` over sockloop: the read-ahead receive core that
//! every LuaSocket-style stream object is a view of, whatever its
//! transport — socketloop's [`ASocket`](crate::socketloop::ASocket) (and
//! through it Copas' sockets and `socket.tcp()`) over a [`Tcp`](crate::Tcp),
//! LuaSec's [`SslSocket`](crate::ssl::SslSocket) over a TLS connection.
//!
//! A [`Buffer`] holds what such an object adds to the
//! [`Socket<K>`](crate::Socket) it wraps: the bytes read ahead past a pattern, the
//! per-call timeout, the line limit and `getstats`' counters. `receive`
//! (the patterns and the prefix) and `send(data, i, j)` are written here
//! once, generic over the stream kind `K` (any [`Transport`]); the objects
//! pass in the socket they currently wrap.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::kind::Transport;
use crate::sock::Call;
use crate::{clock, Socket};

use super::pattern::{Pattern, DEFAULT_LINE_LIMIT};

/// How much one read of the read-ahead asks the transport for.
const READ_CHUNK: usize = 16 * 1024;

/// The receive/send state of one LuaSocket-style stream object over a
/// `Socket<K>` (see the module docs).
pub(crate) struct Buffer {
    /// Read-ahead bytes not yet returned by `receive`; taken out while a
    /// `receive` runs (`None` then).
    rbuf: Cell<Option<Vec<u8>>>,
    timeout: Cell<Option<f64>>,
    line_limit: Cell<usize>,
    /// LuaSocket's `getstats`: bytes read from and written to the socket,
    /// and when the object was made (`gettime()`).
    received: Cell<u64>,
    sent: Cell<u64>,
    birthday: Cell<f64>,
}

impl Default for Buffer {
    fn default() -> Buffer {
        Buffer::new()
    }
}

impl Buffer {
    /// An empty buffer with no timeout and the default line limit.
    pub(crate) fn new() -> Buffer {
        Buffer {
            rbuf: Cell::new(Some(Vec::new())),
            timeout: Cell::new(None),
            line_limit: Cell::new(DEFAULT_LINE_LIMIT),
            received: Cell::new(0),
            sent: Cell::new(0),
            birthday: Cell::new(super::gettime()),
        }
    }

    /// `getstats()`: bytes received (read-ahead included), bytes sent, age.
    pub(crate) fn getstats(&self) -> (u64, u64, f64) {
        let age = super::gettime() - self.birthday.get();
        (self.received.get(), self.sent.get(), age)
    }

    /// `setstats(received, sent, age)`; `None` keeps a value.
    pub(crate) fn setstats(&self, received: Option<u64>, sent: Option<u64>, age: Option<f64>) {
        if let Some(r) = received {
            self.received.set(r);
        }
        if let Some(s) = sent {
            self.sent.set(s);
        }
        if let Some(a) = age {
            self.birthday.set(super::gettime() - a);
        }
    }

    /// Bytes read ahead and not returned yet (0 while a `receive` runs).
    pub(crate) fn buffered(&self) -> usize {
        let b = self.rbuf.take();
        let n = b.as_ref().map_or(0, Vec::len);
        self.rbuf.set(b);
        n
    }

    /// Drops the bytes read ahead (the object wraps another socket now).
    pub(crate) fn clear(&self) {
        if let Some(mut b) = self.rbuf.take() {
            b.clear();
            self.rbuf.set(Some(b));
        }
    }

    /// `settimeout(t)`: `None`, a negative or a NaN `t` is no limit.
    pub(crate) fn settimeout(&self, t: Option<f64>) {
        self.timeout.set(t.filter(|t| *t >= 0.0));
    }

    /// The per-call timeout.
    pub(crate) fn gettimeout(&self) -> Option<f64> {
        self.timeout.get()
    }

    /// The longest line a `"*l"` receive accepts.
    pub(crate) fn line_limit(&self) -> usize {
        self.line_limit.get()
    }

    /// Sets [`line_limit`](Buffer::line_limit).
    pub(crate) fn set_line_limit(&self, max: usize) {
        self.line_limit.set(max);
    }

    /// The absolute deadline of a call starting now.
    pub(crate) fn expires(&self) -> Option<f64> {
        self.timeout.get().map(|t| clock() + t)
    }

    /// `receive(pattern, prefix)` on `sock` through the read-ahead: one
    /// sockloop call (one deadline, one cancel) for the whole pattern.
    /// `"thread_busy"` while another `receive` on this buffer runs.
    pub(crate) async fn receive<K: Transport>(
        &self,
        sock: &Socket<K>,
        pattern: impl Into<Pattern>,
        prefix: &[u8],
    ) -> Result<Vec<u8>> {
        let pattern = pattern.into();
        let Some(buf) = self.rbuf.take() else {
            return Err(Error::with_message(
                ErrorKind::ThreadBusy,
                "another receive is running on this socket",
            ));
        };
        let mut reader = Lease {
            owner: self,
            sock,
            buf,
            pos: 0,
            call: Call::new(self.expires()),
        };
        super::receive(&mut reader, pattern, prefix, self.line_limit.get()).await
    }

    /// `send(data, i, j)` on `sock`: LuaSocket's range arithmetic (see
    /// [`lua_range`]) and result, `i - 1` plus the bytes sent, also as the
    /// `partial()` of an error.
    pub(crate) async fn send_range<K: Transport>(
        &self,
        sock: &Socket<K>,
        data: &[u8],
        i: i64,
        j: i64,
    ) -> Result<usize> {
        let (range, base) = lua_range(data.len(), i, j);
        if range.is_empty() {
            return Ok(base);
        }
        let n = range.len();
        match sock.send(&data[range], self.expires()).await {
            Ok(()) => {
                self.count_sent(n);
                Ok(base + n)
            }
            Err(e) => {
                let sent = e.partial().unwrap_or(0);
                self.count_sent(sent);
                Err(e.with_partial(base + sent))
            }
        }
    }

    fn count_sent(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.sent.set(self.sent.get().saturating_add(n));
    }

    fn count_received(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.received.set(self.received.get().saturating_add(n));
    }
}

/// LuaSocket's `send(data, i, j)` arithmetic (`buffer_meth_send`): a
/// negative `i`/`j` counts from the end, `i` is raised to 1 and `j`
/// lowered to the length. Returns the bytes to send (a 0-based range,
/// empty when `i > j`) and the base of the result: LuaSocket returns
/// `base + bytes sent`, which is `i - 1` for an empty range even past the
/// end (`send("abc", 9, 12)` is 8).
pub(crate) fn lua_range(len: usize, i: i64, j: i64) -> (std::ops::Range<usize>, usize) {
    let n = i128::try_from(len).unwrap_or(i128::MAX);
    let from_end = |k: i64| {
        let k = i128::from(k);
        if k < 0 {
            n + k + 1
        } else {
            k
        }
    };
    let start = from_end(i).max(1);
    let end = from_end(j).min(n);
    let base = usize::try_from(start - 1).unwrap_or(usize::MAX);
    if start > end {
        return (0..0, base);
    }
    // 1 <= start <= end <= len here.
    (base..usize::try_from(end).unwrap_or(len), base)
}

/// A running `receive`'s buffered reader over the socket: the buffer's
/// read-ahead, taken out for the call and put back on drop (also when the
/// future is dropped), with the call's deadline.
struct Lease<'a, K: Transport> {
    owner: &'a Buffer,
    sock: &'a Socket<K>,
    buf: Vec<u8>,
    pos: usize,
    /// The whole `receive` is one sockloop call: one deadline, one cancel.
    call: Call,
}

impl<K: Transport> Lease<'_, K> {
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pos < self.buf.len() {
            return Poll::Ready(Ok(()));
        }
        self.buf.clear();
        self.pos = 0;
        self.buf.resize(READ_CHUNK, 0);
        let r = self.sock.poll_read_call(cx, &mut self.call, &mut self.buf);
        let n = match &r {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        self.buf.truncate(n);
        self.owner.count_received(n);
        r.map(|r| r.map(drop).map_err(Into::into))
    }
}

impl<K: Transport> Drop for Lease<'_, K> {
    fn drop(&mut self) {
        let mut rest = std::mem::take(&mut self.buf);
        rest.drain(..self.pos.min(rest.len()));
        self.owner.rbuf.set(Some(rest));
    }
}

impl<K: Transport> AsyncRead for Lease<'_, K> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => {
                let avail = &this.buf[this.pos..];
                let n = avail.len().min(out.remaining());
                out.put_slice(&avail[..n]);
                this.pos += n;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<K: Transport> AsyncBufRead for Lease<'_, K> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(&this.buf[this.pos..])),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::lua_range;

    #[test]
    fn lua_ranges() {
        // (bytes to send, base of LuaSocket's result)
        assert_eq!(lua_range(5, 1, -1), (0..5, 0));
        assert_eq!(lua_range(5, 2, 3), (1..3, 1));
        assert_eq!(lua_range(5, -2, -1), (3..5, 3));
        assert_eq!(lua_range(5, 0, 100), (0..5, 0));
        assert_eq!(lua_range(5, -100, 2), (0..2, 0));
        assert_eq!(lua_range(5, 4, 2), (0..0, 3));
        assert_eq!(lua_range(5, 9, 12), (0..0, 8));
        assert_eq!(lua_range(0, 1, -1), (0..0, 0));
        assert_eq!(lua_range(0, 2, 0), (0..0, 1));
        assert_eq!(lua_range(5, i64::MIN, i64::MAX), (0..5, 0));
    }
}
