//! `ASocket`: socketloop's async socket, with LuaSocket's TCP methods.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::luasocket::buffer::Buffer;
use crate::luasocket::Pattern;
use crate::{clock, SockAddr, Tcp, ToAddr};

/// What a [`call_async`](ASocket::call_async) step function needs before it
/// can make progress: socketloop's `'wantread'` / `'wantwrite'`, plus a
/// way to stop with a real error.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop::Want;
/// let w: Want = std::io::Error::from(std::io::ErrorKind::WouldBlock).into();
/// assert!(matches!(w, Want::Read));
/// let w: Want = sockloop::Error::from(sockloop::ErrorKind::Closed).into();
/// assert!(matches!(w, Want::Err(e) if e.name() == "closed"));
/// ```
#[derive(Debug)]
pub enum Want {
    /// `nil, 'wantread'`: retry when the socket is readable.
    Read,
    /// `nil, 'wantwrite'`: retry when the socket is writable.
    Write,
    /// `nil, err` with any other `err`: stop; `call_async` returns it.
    Err(Error),
}

impl From<Error> for Want {
    fn from(e: Error) -> Want {
        Want::Err(e)
    }
}

impl From<io::Error> for Want {
    /// `WouldBlock` becomes [`Want::Read`] (the usual case of a try-read);
    /// any other error becomes [`Want::Err`]. Return [`Want::Write`]
    /// explicitly for a write that would block.
    fn from(e: io::Error) -> Want {
        if e.kind() == io::ErrorKind::WouldBlock {
            Want::Read
        } else {
            Want::Err(e.into())
        }
    }
}

/// socketloop's async socket (`loop.wrap(skt)`), with LuaSocket's TCP
/// object methods: `receive`, `send`, `settimeout`, `accept`, `connect`,
/// `close`, `shutdown`, `getpeername`, `getsockname`, `setoption`.
///
/// It wraps a sockloop [`Tcp`] (shared as `Rc<Tcp>`, see
/// [`getsocket`](ASocket::getsocket)) and keeps a read buffer for
/// `receive`'s patterns: bytes read past a line end stay in the buffer for
/// the next `receive`. [`call_async`](ASocket::call_async) and direct I/O
/// on the [`Tcp`] bypass that buffer.
///
/// Methods take `&self`: share an `ASocket` with `Rc` to read in one
/// thread and write in another. Only one `receive` may run at a time on
/// one `ASocket`: a second, concurrent one returns `Err` named
/// `"thread_busy"` at once (its buffer is in use). Sends are not limited.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop::{self, ASocket};
///
/// let server = socketloop::newserver("127.0.0.1", 0, |c: ASocket| async move {
///     while let Ok(line) = c.receive("*l").await {
///         let _ = c.send(&[&line[..], b"\n"].concat()).await;
///     }
/// })?;
/// let port = server.local_addr()?.port();
/// socketloop::newthread(async move {
///     let c = socketloop::connect("127.0.0.1", port, None, None).await.unwrap();
///     c.send(b"hello\r\n").await.unwrap();
///     assert_eq!(c.receive("*l").await.unwrap(), b"hello");
///     server.close();
/// });
/// socketloop::start(None)?;
/// # Ok::<(), sockloop::Error>(())
/// ```
pub struct ASocket {
    tcp: RefCell<Rc<Tcp>>,
    /// The read-ahead receive core (shared with the other LuaSocket-style
    /// objects): buffer, timeout, line limit, `getstats` counters.
    core: Buffer,
}

crate::thread::plain_outputs!(ASocket);

impl fmt::Debug for ASocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buffered = self.buffered();
        f.debug_struct("ASocket")
            .field("tcp", &self.tcp.borrow())
            .field("buffered", &buffered)
            .field("timeout", &self.core.gettimeout())
            .field("line_limit", &self.core.line_limit())
            .finish()
    }
}

impl From<Tcp> for ASocket {
    fn from(t: Tcp) -> ASocket {
        ASocket::new(t)
    }
}

impl ASocket {
    /// Wraps a sockloop [`Tcp`] (see [`wrap`](super::wrap) for the other
    /// socket types).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::ASocket::new(sockloop::tcp()?);
    /// assert_eq!(a.gettimeout(), None);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn new(tcp: Tcp) -> ASocket {
        ASocket::from_rc(Rc::new(tcp))
    }

    /// Wraps a shared [`Tcp`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// let tcp = Rc::new(sockloop::tcp()?);
    /// let a = sockloop::socketloop::ASocket::from_rc(tcp.clone());
    /// assert!(Rc::ptr_eq(&a.getsocket(), &tcp));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn from_rc(tcp: Rc<Tcp>) -> ASocket {
        ASocket {
            tcp: RefCell::new(tcp),
            core: Buffer::new(),
        }
    }

    /// `tcp:getstats()`: the bytes `receive` has read from the socket
    /// (read-ahead included, as LuaSocket counts its buffer's reads), the
    /// bytes `send` has written, and the object's age in seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// c.send(b"hello\n").await?;
    /// s.receive("*l").await?;
    /// assert_eq!(c.getstats().1, 6);
    /// assert_eq!(s.getstats().0, 6);
    /// assert!(s.getstats().2 >= 0.0);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getstats(&self) -> (u64, u64, f64) {
        self.core.getstats()
    }

    /// `tcp:setstats(received, sent, age)`: sets the counters
    /// [`getstats`](ASocket::getstats) reports; `None` keeps a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.setstats(Some(10), None, Some(60.0));
    /// let (r, s, age) = a.getstats();
    /// assert_eq!((r, s), (10, 0));
    /// assert!(age >= 60.0);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn setstats(&self, received: Option<u64>, sent: Option<u64>, age: Option<f64>) {
        self.core.setstats(received, sent, age);
    }

    /// `asocket:getsocket()` (and the `asocket.socket` field): the wrapped
    /// socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(Some("127.0.0.1"), None)?;
    /// let tcp = a.getsocket();
    /// assert_eq!(tcp.local_addr()?, a.getsockname()?);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getfd")]
    pub fn getsocket(&self) -> Rc<Tcp> {
        self.tcp.borrow().clone()
    }

    /// `asocket:setsocket(skt)`: wraps another socket from now on. Bytes
    /// buffered from the old socket are dropped, and so is the old socket
    /// (closing it) unless a [`getsocket`](ASocket::getsocket) handle or a
    /// running call still holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// let other = sockloop::tcp()?;
    /// other.bind(("127.0.0.1", 0))?;
    /// let port = other.local_addr()?.port();
    /// a.setsocket(other);
    /// assert_eq!(a.getsockname()?.port(), port);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "setfd")]
    pub fn setsocket(&self, tcp: impl Into<Tcp>) {
        *self.tcp.borrow_mut() = Rc::new(tcp.into());
        self.core.clear();
    }

    /// Bytes read ahead by `receive` and not returned yet (0 while a
    /// `receive` runs). `luasocket::select` treats a socket with buffered
    /// bytes as readable, as LuaSocket's `dirty()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// c.send(b"one\ntwo\n").await?;
    /// assert_eq!(s.receive("*l").await?, b"one");
    /// assert_eq!(s.buffered(), 4); // "two\n" was read ahead
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "dirty")]
    pub fn buffered(&self) -> usize {
        self.core.buffered()
    }

    /// `tcp:settimeout(t)`: every later call may wait at most `t` seconds
    /// (each call separately; LuaSocket's `'b'` block mode), then fails
    /// with `"timeout"`. `None`, a negative or a NaN `t` waits without
    /// limit, as LuaSocket's `nil`/negative.
    ///
    /// LuaSocket's `'t'` (total) mode is an absolute deadline; use the
    /// underlying [`Tcp`]'s `expires` arguments for it.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// s.settimeout(Some(0.01));
    /// let mut e = s.receive("*l").await.unwrap_err(); // nothing comes
    /// assert_eq!(e.name(), "timeout");
    /// assert_eq!(e.take_data(), Some(Vec::new()));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn settimeout(&self, t: Option<f64>) {
        self.core.settimeout(t);
    }

    /// The timeout set by [`settimeout`](ASocket::settimeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.settimeout(Some(2.5));
    /// assert_eq!(a.gettimeout(), Some(2.5));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn gettimeout(&self) -> Option<f64> {
        self.core.gettimeout()
    }

    /// The longest line a `"*l"` receive accepts (bytes, CRs counted);
    /// default [`DEFAULT_LINE_LIMIT`](crate::luasocket::DEFAULT_LINE_LIMIT) (1 MiB). A longer line fails with
    /// `"line_too_long"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// s.set_line_limit(8);
    /// c.send(b"a line that is too long\n").await?;
    /// assert_eq!(s.receive("*l").await.unwrap_err().name(), "line_too_long");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_line_limit(&self, max: usize) {
        self.core.set_line_limit(max);
    }

    /// The absolute deadline of a call starting now.
    fn expires(&self) -> Option<f64> {
        self.core.expires()
    }

    /// `tcp:receive(pattern)`: reads by a LuaSocket pattern — `"*l"` (a
    /// line; the LF ends it and is not returned; every CR in it is
    /// dropped), `"*a"` (until the peer closes; the close is not an error)
    /// or a byte count. See [`luasocket::receive`](crate::luasocket::receive)
    /// for the pattern rules.
    ///
    /// # Errors
    ///
    /// * `"closed"`: the peer closed before the pattern was satisfied;
    ///   [`Error::take_data`] gives the bytes received so far (LuaSocket's
    ///   third return value), possibly empty. Also when this side closed
    ///   the socket.
    /// * `"timeout"` (see [`settimeout`](ASocket::settimeout)), with the
    ///   partial data in `take_data()`.
    /// * `"line_too_long"`, `"invalid_argument"` (bad pattern),
    ///   `"connection_reset"`, `"cancelled"`, ...
    /// * `"thread_busy"`: another `receive` on this `ASocket` is running.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: bytes consumed for an unfinished pattern are lost
    /// if the future is dropped (bytes read ahead past it are kept).
    ///
    /// # Send
    ///
    /// Not `Send`: an `ASocket` (`Rc`-shared) stays on its OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// c.send(b"GET / HTTP/1.0\r\n\r\nbody").await?;
    /// assert_eq!(s.receive("*l").await?, b"GET / HTTP/1.0"); // CR dropped
    /// assert_eq!(s.receive("*l").await?, b"");
    /// assert_eq!(s.receive(4).await?, b"body");
    /// c.close()?;
    /// let mut e = s.receive("*a").await; // until the peer closes: not an error
    /// assert_eq!(e.as_mut().map(|v| v.len()).ok(), Some(0));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(&self, pattern: impl Into<Pattern>) -> Result<Vec<u8>> {
        self.core.receive(&*self.getsocket(), pattern, b"").await
    }

    /// `tcp:receive(pattern, prefix)`: as [`receive`](ASocket::receive),
    /// with `prefix` placed before the received bytes. A byte count counts
    /// the prefix, as LuaSocket 3.0 does, so
    /// `receive_prefixed(n, &partial)` resumes a receive cut short.
    ///
    /// # Errors
    ///
    /// As [`receive`](ASocket::receive); `take_data()` includes `prefix`.
    ///
    /// # Cancel safety
    ///
    /// As [`receive`](ASocket::receive).
    ///
    /// # Send
    ///
    /// Not `Send`: an `ASocket` (`Rc`-shared) stays on its OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// c.send(b"lo world").await?;
    /// assert_eq!(s.receive_prefixed(5, b"hel").await?, b"hello"); // the count includes the prefix
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive_prefixed(
        &self,
        pattern: impl Into<Pattern>,
        prefix: &[u8],
    ) -> Result<Vec<u8>> {
        self.core.receive(&*self.getsocket(), pattern, prefix).await
    }

    /// `tcp:send(data)`: sends all of `data`, returning the index of the
    /// last byte sent (LuaSocket's 1-based count), `data.len()` on success.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"connection_reset"`, `"broken_pipe"`, `"closed"`,
    /// `"cancelled"`, ...; `partial()` is the index of the last byte sent
    /// (LuaSocket's third return value).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a prefix of `data` may have been sent.
    ///
    /// # Send
    ///
    /// Not `Send`: an `ASocket` (`Rc`-shared) stays on its OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// assert_eq!(c.send(b"hello\n").await?, 6); // the index of the last byte sent
    /// assert_eq!(s.receive("*l").await?, b"hello");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, data: &[u8]) -> Result<usize> {
        self.send_range(data, 1, -1).await
    }

    /// `tcp:send(data, i, j)`: sends the bytes `i..=j` of `data` (1-based,
    /// inclusive; negative counts from the end as Lua's `string.sub`; out
    /// of range clamps) and returns what LuaSocket returns: `i - 1` plus
    /// the bytes sent, with `i` after its adjustment (a negative `i` counts
    /// from the end, one below 1 becomes 1). That is `j` (clamped) on
    /// success, and `i - 1` for an empty range, also past the end:
    /// `send_range(b"", 2, 0)` is 1 and `send_range(b"abc", 9, 12)` is 8.
    ///
    /// # Errors
    ///
    /// As [`send`](ASocket::send); `partial()` is `i - 1` plus the bytes
    /// sent (LuaSocket's third return value).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](ASocket::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::socketloop::{self, wrap};
    /// let l = sockloop::tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let c = socketloop::connect("127.0.0.1", l.local_addr()?.port(), None, None).await?;
    /// let s = wrap(l.accept(None).await?);
    /// assert_eq!(c.send_range(b"hello world", 7, -1).await?, 11); // "world"
    /// assert_eq!(c.send_range(b"hello", -5, 2).await?, 2); // "he"
    /// assert_eq!(c.send_range(b"abc", 3, 1).await?, 2); // nothing
    /// assert_eq!(c.send_range(b"abc", 9, 12).await?, 8); // nothing
    /// assert_eq!(s.receive(7).await?, b"worldhe");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_range(&self, data: &[u8], i: i64, j: i64) -> Result<usize> {
        self.core.send_range(&*self.getsocket(), data, i, j).await
    }

    /// `tcp:connect(host, port)` on an async socket, waiting at most the
    /// [`settimeout`](ASocket::settimeout) time.
    ///
    /// # Errors
    ///
    /// As [`Tcp::connect`].
    ///
    /// # Cancel safety
    ///
    /// As [`Tcp::connect`].
    ///
    /// # Send
    ///
    /// Not `Send`: an `ASocket` (`Rc`-shared) stays on its OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let server = sockloop::socketloop::tcp(Some("127.0.0.1"), None)?;
    /// server.listen(8)?;
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.settimeout(Some(5.0));
    /// a.connect(server.getsockname()?).await?;
    /// assert_eq!(a.getpeername()?, server.getsockname()?);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToAddr) -> Result<()> {
        self.getsocket().connect(addr, self.expires()).await
    }

    /// `server:accept()`: the next connection, as an `ASocket` (with no
    /// timeout of its own).
    ///
    /// # Errors
    ///
    /// As [`Tcp::accept`] (`"timeout"` from `settimeout`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Send
    ///
    /// Not `Send`: an `ASocket` (`Rc`-shared) stays on its OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let server = sockloop::socketloop::tcp(Some("127.0.0.1"), None)?;
    /// server.listen(8)?;
    /// server.settimeout(Some(0.01));
    /// assert_eq!(server.accept().await.unwrap_err().name(), "timeout"); // nobody came
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> Result<ASocket> {
        let c = self.getsocket().accept(self.expires()).await?;
        Ok(ASocket::new(c))
    }

    /// `tcp:bind(address, port)`.
    ///
    /// # Errors
    ///
    /// As [`Tcp::bind`].
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.bind(("127.0.0.1", 0))?;
    /// assert_eq!(a.getsockname()?.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn bind(&self, addr: impl ToAddr) -> Result<()> {
        self.getsocket().bind(addr)
    }

    /// `tcp:listen(backlog)`: listens on the address it is bound to (or
    /// on any port of all interfaces if unbound).
    ///
    /// # Errors
    ///
    /// As [`Tcp::listen_backlog`].
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(Some("127.0.0.1"), None)?;
    /// a.listen(32)?;
    /// assert_eq!(a.getoption("acceptconn")?.as_bool(), Some(true));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn listen(&self, backlog: u32) -> Result<()> {
        self.getsocket().listen_backlog(backlog, ("*", 0))
    }

    /// `tcp:close()`: closes the socket at once; calls parked on it wake
    /// with `"closed"`. Buffered bytes are dropped.
    ///
    /// # Errors
    ///
    /// `"closed"` if it was already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.close()?;
    /// assert!(a.closed());
    /// assert_eq!(a.close().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        self.getsocket().close()
    }

    /// `tcp:shutdown(mode)`: `Shutdown::Read` (`"receive"`),
    /// `Shutdown::Write` (`"send"`), `Shutdown::Both` (`"both"`).
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// c.shutdown(std::net::Shutdown::Write)?; // LuaSocket's shutdown("send")
    /// assert_eq!(s.receive("*a").await?, b"");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: std::net::Shutdown) -> Result<()> {
        self.getsocket().shutdown(how)
    }

    /// `tcp:getpeername()`: the peer's address.
    ///
    /// # Errors
    ///
    /// `"not_connected"`, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// assert_eq!(c.getpeername()?, s.getsockname()?);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "remote_addr")]
    pub fn getpeername(&self) -> Result<SockAddr> {
        self.getsocket().remote_addr()
    }

    /// `tcp:getsockname()`: the local address.
    ///
    /// # Errors
    ///
    /// `"closed"`, an OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::socketloop;
    /// # let l = socketloop::tcp(Some("127.0.0.1"), None)?;
    /// # l.listen(8)?;
    /// # let c = socketloop::connect("127.0.0.1", l.getsockname()?.port(), None, None).await?;
    /// # let s = l.accept().await?;
    /// assert_eq!(s.getsockname()?.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "local_addr")]
    pub fn getsockname(&self) -> Result<SockAddr> {
        self.getsocket().local_addr()
    }

    /// `tcp:setoption(name, value)`: sock.lua's option names
    /// ([`Tcp::setopt`]); LuaSocket's `"tcp-nodelay"` is accepted as
    /// `tcp_nodelay`.
    ///
    /// # Errors
    ///
    /// As [`Tcp::setopt`] (`"unknown_option"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// a.setoption("tcp-nodelay", true)?; // LuaSocket's spelling
    /// assert_eq!(a.getoption("tcp_nodelay")?.as_bool(), Some(true));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "setopt")]
    pub fn setoption(&self, name: &str, value: impl Into<crate::OptValue>) -> Result<()> {
        let name = name.replace('-', "_");
        self.getsocket().setopt(&name, value)
    }

    /// `tcp:getoption(name)`.
    ///
    /// # Errors
    ///
    /// As [`Tcp::getopt`].
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// assert_eq!(a.getoption("keepalive")?.as_bool(), Some(false));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getopt")]
    pub fn getoption(&self, name: &str) -> Result<crate::OptValue> {
        let name = name.replace('-', "_");
        self.getsocket().getopt(&name)
    }

    /// `asocket:call_async(func, ...)`: runs the non-blocking step function
    /// `f` on the underlying socket until it stops asking to wait.
    ///
    /// `f` returns `Ok(v)` when done, `Err(Want::Read)` (`'wantread'`) or
    /// `Err(Want::Write)` (`'wantwrite'`) to be called again when the
    /// socket is readable or writable, or `Err(Want::Err(e))` to fail with
    /// `e`. An `io::Error` converts with `?`: `WouldBlock` is `Want::Read`.
    /// Lua's extra arguments are captured by the closure. Bytes buffered by
    /// [`receive`](ASocket::receive) are not visible to `f`.
    ///
    /// # Errors
    ///
    /// The error `f` returns; `"timeout"` (the
    /// [`settimeout`](ASocket::settimeout) time limits the whole call),
    /// `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe between calls of `f` (the future only waits for
    /// readiness between them); what `f` did is not undone.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::io::Read;
    /// use sockloop::socketloop::{self, wrap, Want};
    /// let l = sockloop::tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let c = socketloop::connect("127.0.0.1", l.local_addr()?.port(), None, None).await?;
    /// let s = wrap(l.accept(None).await?);
    /// socketloop::newthread(async move {
    ///     sockloop::sleep(0.01).await;
    ///     let _ = c.send(b"ping").await;
    /// });
    /// let mut got = Vec::new();
    /// let n = s.call_async(|sock| {
    ///     let mut buf = [0u8; 16];
    ///     let n = (&*sock).read(&mut buf)?; // WouldBlock -> Want::Read
    ///     got.extend_from_slice(&buf[..n]);
    ///     if got.len() < 4 { Err(Want::Read) } else { Ok(got.len()) }
    /// }).await?;
    /// assert_eq!(n, 4);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn call_async<T, F>(&self, mut f: F) -> Result<T>
    where
        F: FnMut(&::socket2::Socket) -> std::result::Result<T, Want>,
    {
        let tcp = self.getsocket();
        let expires = self.expires();
        loop {
            match tcp.with_socket(&mut f)? {
                Ok(v) => return Ok(v),
                Err(Want::Read) => tcp.readable(expires).await?,
                Err(Want::Write) => tcp.writable(expires).await?,
                Err(Want::Err(e)) => return Err(e),
            }
            // A step function that asks to wait while the socket is ready
            // would spin without parking: the deadline still ends it.
            if expires.is_some_and(|t| clock() >= t) {
                return Err(Error::timeout());
            }
        }
    }

    /// `true` once the wrapped socket is closed (sock.lua's `s:closed()`;
    /// [`Tcp::closed`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::socketloop::tcp(None, None)?;
    /// assert!(!a.closed());
    /// a.close()?;
    /// assert!(a.closed());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.getsocket().closed()
    }
}
