//! LuaSocket's `socket` namespace (`require "socket"`), for code ported
//! from LuaSocket or from luapower's `socketloop`, whose async sockets
//! mirror it.
//!
//! | Lua | Rust |
//! | --- | --- |
//! | `socket.gettime()` | [`gettime`] |
//! | `socket.sleep(s)` | [`sleep`]`(s).await` |
//! | `socket.skip(d, ...)` | [`skip`] |
//! | `socket.headers.canonic[name]` | [`headers::lookup`], [`headers::canonic`] |
//! | `socket.try(...)` | the `?` operator |
//! | `socket.newtry(fin)` | [`newtry`] -> [`Try::check`] then `?` |
//! | `socket.protect(f)` | a function returning [`Result`]; [`protect`] |
//! | `socket.sink(mode, sock)` | [`sink`] -> [`Sink::write`] |
//! | `socket.source(mode, sock, len)` | [`source`] -> [`Source::read`] |
//! | `sock:receive(pattern, prefix)` | [`receive`] over any `AsyncBufRead` |
//! | `socket._DATAGRAMSIZE`, `_SETSIZE`, `_VERSION`, `_SOCKETINVALID`, `_DEBUG` | [`DATAGRAMSIZE`], [`SETSIZE`], [`VERSION`], [`SOCKETINVALID`], [`DEBUG`] |
//! | `socket.tcp()`, `tcp4()`, `tcp6()` | [`tcp`], [`tcp4`], [`tcp6`] -> [`ASocket`](crate::socketloop::ASocket) |
//! | `socket.udp()`, `udp4()`, `udp6()` | [`udp`], [`udp4`], [`udp6`] -> [`UdpObject`] (`setsockname`, `setpeername`, `receivefrom`, `sendto`, ...) |
//! | `socket.dns.toip`, `tohostname`, `gethostname`, `getaddrinfo`, `getnameinfo` | [`dns`] |
//! | `socket.bind(addr, port, backlog)` | [`bind`] -> [`ASocket`](crate::socketloop::ASocket) |
//! | `socket.connect[46](addr, port, locaddr, locport, family)` | [`connect`], [`connect4`], [`connect6`] |
//! | `socket.select(recvt, sendt, timeout)` | [`select`] -> [`Selected`] |
//! | `tcp:receive`, `:send`, `:settimeout`, `:accept`, ... | the methods of [`ASocket`](crate::socketloop::ASocket) |
//!
//! # `try`, `newtry` and `protect`
//!
//! LuaSocket's exceptions are Rust's `?`: `socket.try(x)` is `x?`, a
//! function wrapped in `socket.protect` is a function that returns
//! `Result`, and its `nil, err` is the `Err`. The one thing `?` does not do
//! is run a clean-up before the error leaves; that is [`newtry`]:
//!
//! ```
//! use sockloop::luasocket::newtry;
//! use sockloop::{Error, ErrorKind, Result};
//!
//! fn talk(log: &mut Vec<&'static str>) -> Result<()> {
//!     let mut closed = false;
//!     let try_ = newtry(|| closed = true); // "close c on error"
//!     try_.check(Ok::<_, Error>(()))?; // fine, finalizer not run
//!     let r = try_.check(Err::<(), _>(Error::new(ErrorKind::Timeout)));
//!     drop(try_);
//!     assert!(closed);
//!     log.push("cleaned up");
//!     r
//! }
//!
//! let mut log = Vec::new();
//! assert_eq!(talk(&mut log).unwrap_err().name(), "timeout");
//! assert_eq!(log, ["cleaned up"]);
//! ```

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

pub(crate) mod buffer;
pub mod dns;
pub mod headers;
mod ltn12;
mod net;
mod pattern;
mod udp;

pub use ltn12::{
    pump_all, sink, source, Sink, SinkMode, Source, SourceMode, BLOCKSIZE, CHUNK_LINE_LIMIT,
    CHUNK_TRAILER_LIMIT,
};
pub(crate) use net::bind_tcp;
pub use net::{
    bind, connect, connect4, connect6, select, tcp, tcp4, tcp6, SelectHandle, Selectable, Selected,
    DEFAULT_BACKLOG,
};
pub use pattern::{receive, Pattern, DEFAULT_LINE_LIMIT};
pub use udp::{udp, udp4, udp6, UdpObject};

/// `socket._DATAGRAMSIZE`: the default datagram size of LuaSocket's UDP
/// `receive`/`receivefrom`, 8192 bytes.
///
/// # Examples
///
/// ```
/// let mut buf = vec![0u8; sockloop::luasocket::DATAGRAMSIZE]; // udp:receive()
/// assert_eq!(buf.len(), 8192);
/// # buf.clear();
/// ```
#[doc(alias = "_DATAGRAMSIZE")]
pub const DATAGRAMSIZE: usize = 8192;

/// `socket._SETSIZE`: the most sockets `select` can watch.
///
/// sockloop's `select` has no such limit (it is not built on `select(2)`),
/// so this is `usize::MAX`: a Lua-era check like `#t <= socket._SETSIZE`
/// always passes. LuaSocket itself reports `FD_SETSIZE`, 1024 on Linux.
///
/// # Examples
///
/// ```
/// let watched = 5000;
/// assert!(watched <= sockloop::luasocket::SETSIZE); // #t <= socket._SETSIZE
/// ```
#[doc(alias = "_SETSIZE")]
pub const SETSIZE: usize = usize::MAX;

/// `socket._VERSION`: the LuaSocket version this layer follows, and
/// sockloop's own.
///
/// ```
/// assert!(sockloop::luasocket::VERSION.starts_with("LuaSocket 3.0"));
/// ```
#[doc(alias = "_VERSION")]
pub const VERSION: &str = concat!(
    "LuaSocket 3.0-rc1 (sockloop ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// `socket._SOCKETINVALID`: the OS value of an invalid socket, `-1` as on
/// Unix (Windows' `INVALID_SOCKET` is `!0`; sockloop reports the Unix value).
///
/// # Examples
///
/// ```
/// assert_eq!(sockloop::luasocket::SOCKETINVALID, -1);
/// ```
#[doc(alias = "_SOCKETINVALID")]
pub const SOCKETINVALID: i32 = -1;

/// `socket._DEBUG`: LuaSocket's compile-time debug flag. sockloop has no
/// debug build of this layer, so it is `false`.
///
/// # Examples
///
/// ```
/// assert!(!sockloop::luasocket::DEBUG);
/// ```
#[doc(alias = "_DEBUG")]
pub const DEBUG: bool = false;

/// `socket.gettime()`: the UNIX time in seconds, with a fraction.
///
/// Wall-clock time, for timestamps and elapsed times as LuaSocket code uses
/// it. Deadlines (`expires`) use the monotonic [`clock()`](crate::clock)
/// instead, which a paused Tokio clock drives in tests; `gettime` is not
/// paused with it. A system clock set before 1970 gives a negative value.
///
/// # Examples
///
/// ```
/// let t = sockloop::luasocket::gettime();
/// assert!(t > 1.5e9); // after 2017
/// ```
pub fn gettime() -> f64 {
    let now = SystemTime::now();
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// `socket.sleep(s)`: waits `s` seconds without blocking other tasks.
///
/// This is [`sockloop::sleep`](crate::sleep) (so inside a sockloop thread a
/// [`Thread::cancel`](crate::Thread::cancel) ends it early), except that a
/// negative, zero or NaN `s` returns at once without yielding, as in
/// LuaSocket; an infinite `s` never returns. Unlike LuaSocket's `sleep`,
/// which freezes the whole program, this only parks the calling thread or
/// task.
///
/// # Panics
///
/// As [`sockloop::sleep`](crate::sleep): awaited outside a sockloop thread
/// and outside any Tokio runtime (or in one without timers).
///
/// # Cancel safety
///
/// Cancel safe: dropping the future just ends the wait.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let t = sockloop::luasocket::gettime();
/// sockloop::luasocket::sleep(0.01).await;
/// sockloop::luasocket::sleep(-1.0).await; // returns at once
/// assert!(sockloop::luasocket::gettime() - t >= 0.009);
/// # });
/// ```
pub async fn sleep(s: f64) {
    if s.is_nan() || s <= 0.0 {
        return;
    }
    crate::sleep(s).await;
}

/// `socket.skip(d, ...)`: drops the first `d` values and returns the rest.
///
/// Lua functions return several values; a Rust function returns a tuple,
/// which is destructured with `_` instead (`let (_, _, code) = f();`).
/// `skip` is for the cases where the values are a list, e.g. the captures
/// of a match.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::skip;
///
/// // local code, sep = socket.skip(2, string.find(line, "^(%d%d%d)(.?)"))
/// let found = ["1", "4", "250", "-"];
/// assert_eq!(skip(2, found), ["250", "-"]);
/// assert!(skip(5, [1, 2]).is_empty());
/// ```
pub fn skip<T>(d: usize, values: impl IntoIterator<Item = T>) -> Vec<T> {
    values.into_iter().skip(d).collect()
}

/// A LuaSocket `try` function with a finalizer, made by [`newtry`].
///
/// [`Try::check`] passes an `Ok` through and, on the first `Err`, runs the
/// finalizer before handing the error back for `?` to propagate. The
/// finalizer runs at most once, however many checks fail.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::newtry;
/// let try_ = newtry(|| println!("closing the connection"));
/// assert_eq!(try_.check(Ok::<_, sockloop::Error>(7)).unwrap(), 7);
/// assert!(!try_.finalized());
/// ```
#[doc(alias = "try")]
pub struct Try<F: FnOnce()> {
    finalizer: Cell<Option<F>>,
}

/// `socket.newtry(finalizer)`: a `try` that cleans up before the error
/// leaves.
///
/// In Lua the finalizer runs in protected mode, so its own errors are
/// swallowed; in Rust it returns `()`, and a panic in it propagates.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::newtry;
/// use sockloop::{Error, ErrorKind, Result};
/// use std::cell::Cell;
///
/// let runs = Cell::new(0);
/// let body = || -> Result<u32> {
///     let try_ = newtry(|| runs.set(runs.get() + 1));
///     let n = try_.check(Ok::<u32, Error>(41))?;
///     try_.check(Err::<(), _>(Error::new(ErrorKind::ConnectionReset)))?;
///     Ok(n + 1)
/// };
/// assert_eq!(body().unwrap_err().name(), "connection_reset");
/// assert_eq!(runs.get(), 1);
/// ```
pub fn newtry<F: FnOnce()>(finalizer: F) -> Try<F> {
    Try {
        finalizer: Cell::new(Some(finalizer)),
    }
}

impl<F: FnOnce()> Try<F> {
    /// `try(ret1, ...)`: `Ok` passes through; `Err` runs the finalizer (the
    /// first time only) and comes back converted to a sockloop [`Error`],
    /// ready for `?`.
    ///
    /// # Errors
    ///
    /// The error of `result`, unchanged in name and kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::newtry;
    /// let try_ = newtry(|| {});
    /// let e = try_.check(Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)));
    /// assert_eq!(e.unwrap_err().name(), "timeout");
    /// assert!(try_.finalized());
    /// ```
    #[doc(alias = "try")]
    pub fn check<T, E: Into<Error>>(&self, result: std::result::Result<T, E>) -> Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                if let Some(f) = self.finalizer.take() {
                    f();
                }
                Err(e.into())
            }
        }
    }

    /// `true` once the finalizer has run.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::newtry;
    /// let try_ = newtry(|| {});
    /// let _ = try_.check(Err::<(), _>(sockloop::Error::from(sockloop::ErrorKind::Closed)));
    /// let _ = try_.check(Err::<(), _>(sockloop::Error::from(sockloop::ErrorKind::Closed)));
    /// assert!(try_.finalized()); // ran once, at the first error
    /// ```
    pub fn finalized(&self) -> bool {
        // `Cell<Option<F>>` cannot be peeked without `F: Copy`: take and put back.
        let f = self.finalizer.take();
        let done = f.is_none();
        self.finalizer.set(f);
        done
    }
}

impl<F: FnOnce()> fmt::Debug for Try<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Try")
            .field("finalized", &self.finalized())
            .finish()
    }
}

/// `socket.protect(func)`: runs a body written with `?` and gives its
/// result as a sockloop [`Result`].
///
/// In Rust a function that returns `Result` is already "protected": `?`
/// is LuaSocket's `try`, the `Err` is LuaSocket's `nil, err`. `protect`
/// only saves the conversion when the body's error type is another one
/// (`std::io::Error`, ...): any `E: Into<Error>` comes out as an [`Error`]
/// with its normalized name. Like LuaSocket's `protect`, it does not catch
/// "normal" errors — here, panics. For an async body, write an `async`
/// block that returns `Result` and await it.
///
/// # Errors
///
/// The body's error, converted.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::protect;
///
/// let r = protect(|| -> std::io::Result<()> {
///     Err(std::io::ErrorKind::ConnectionRefused.into())
/// });
/// assert_eq!(r.unwrap_err().name(), "connection_refused");
/// ```
pub fn protect<T, E: Into<Error>>(body: impl FnOnce() -> std::result::Result<T, E>) -> Result<T> {
    body().map_err(Into::into)
}
