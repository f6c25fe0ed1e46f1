//! LuaSocket's socket-making shortcuts (`socket.bind`, `socket.connect[46]`)
//! and `socket.select`, over sockloop's TCP sockets.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::socketloop::ASocket;
use crate::{clock, Family, Flags, Hints, SockType, Tcp};

/// LuaSocket's default `listen` backlog for [`bind`].
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::{bind, DEFAULT_BACKLOG};
/// let server = bind("127.0.0.1", 0, None)?; // backlog DEFAULT_BACKLOG (32)
/// assert_eq!(DEFAULT_BACKLOG, 32);
/// # drop(server);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub const DEFAULT_BACKLOG: u32 = 32;

/// Binds a listening TCP socket to the first address of `host` that works
/// (reuseaddr set), for `bind` and socketloop's `newserver`.
pub(crate) fn bind_tcp(host: &str, port: u16, backlog: Option<u32>) -> Result<Tcp> {
    let hints = Hints {
        socktype: Some(SockType::Tcp),
        flags: Flags {
            passive: true,
            ..Flags::default()
        },
        ..Hints::default()
    };
    let ai = crate::addr_with(host, port, &hints)?;
    let mut last = Error::with_message(
        ErrorKind::InvalidAddress,
        format!("no address to bind to for {host:?}"),
    );
    for entry in ai.iter() {
        let attempt = (|| {
            let t = Tcp::new(entry.family())?;
            t.setopt("reuseaddr", true)?;
            t.bind(entry.addr())?;
            match backlog {
                Some(b) => t.listen_backlog(b, entry.addr())?,
                None => t.listen(entry.addr())?,
            }
            Ok::<Tcp, Error>(t)
        })();
        match attempt {
            Ok(t) => return Ok(t),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `socket.bind(address, port [, backlog])`: a TCP server socket bound to
/// `address`:`port` (the first of its addresses that binds), with
/// `reuseaddr` set, listening with `backlog` (`None`: LuaSocket's
/// default, [`DEFAULT_BACKLOG`] = 32). `"*"` is all interfaces, port 0 any
/// port. Needs no runtime; a name is looked up blocking, as in LuaSocket.
///
/// The result is an [`ASocket`]: `accept`, `settimeout`, `getsockname`,
/// `close` are its methods.
///
/// # Errors
///
/// `"address_already_in_use"`, `"access_denied"`, `"invalid_address"`, a
/// lookup error.
///
/// # Examples
///
/// ```
/// let server = sockloop::luasocket::bind("127.0.0.1", 0, None)?;
/// assert_ne!(server.getsockname()?.port(), 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn bind(address: &str, port: u16, backlog: Option<u32>) -> Result<ASocket> {
    let backlog = backlog.unwrap_or(DEFAULT_BACKLOG);
    bind_tcp(address, port, Some(backlog)).map(ASocket::new)
}

/// `socket.tcp()`: a new TCP master object (unconnected, unbound), as an
/// [`ASocket`]: `bind`, `listen`, `connect`, `settimeout` are its methods.
/// IPv4, as sock's `tcp()`; [`tcp6`] makes an IPv6 one (LuaSocket 3.0's
/// `tcp()` picks the family at the first `bind`/`connect`). Needs no
/// runtime.
///
/// # Errors
///
/// An OS error (e.g. out of descriptors).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket;
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let c = luasocket::tcp()?;
/// c.settimeout(Some(5.0));
/// c.connect(server.getsockname()?).await?;
/// assert_eq!(c.getpeername()?, server.getsockname()?);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn tcp() -> Result<ASocket> {
    tcp4()
}

/// `socket.tcp4()`: a new IPv4 TCP master object (see [`tcp`]).
///
/// # Errors
///
/// An OS error.
///
/// # Examples
///
/// ```
/// let s = sockloop::luasocket::tcp4()?;
/// assert_eq!(s.getsocket().family(), sockloop::Family::Inet);
/// s.bind(("127.0.0.1", 0))?;
/// assert_ne!(s.getsockname()?.port(), 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn tcp4() -> Result<ASocket> {
    Tcp::new(Family::Inet).map(ASocket::new)
}

/// `socket.tcp6()`: a new IPv6 TCP master object with `ipv6-v6only` set,
/// as LuaSocket does (see [`tcp`]).
///
/// # Errors
///
/// An OS error (e.g. no IPv6 support).
///
/// # Examples
///
/// ```
/// let s = sockloop::luasocket::tcp6()?;
/// assert_eq!(s.getoption("ipv6-v6only")?.as_bool(), Some(true));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn tcp6() -> Result<ASocket> {
    let t = Tcp::new(Family::Inet6)?;
    t.setopt("ipv6_v6only", true)?;
    Ok(ASocket::new(t))
}

/// `socket.connect(address, port [, locaddr] [, locport] [, family])`: a
/// TCP client connected to `address`:`port`. Every address the name
/// resolves to (only those of `family` when given: `Family::Inet` or
/// `Family::Inet6`) is tried in turn; the socket is bound to
/// `locaddr`/`locport` first when either is given. The lookup runs off
/// the loop. No deadline, as in LuaSocket (cancel the thread, or use
/// [`Tcp::connect`] with `expires`).
///
/// # Errors
///
/// The last attempt's error: `"connection_refused"`,
/// `"network_unreachable"`, `"address_already_in_use"` (local port), a
/// lookup error, `"invalid_address"` (no address of `family`),
/// `"cancelled"`.
///
/// # Cancel safety
///
/// Not cancel safe: a connection in progress is dropped (closed).
///
/// # Send
///
/// Not `Send` (it makes an `Rc`-shared [`ASocket`]); the socket calls it
/// is built on ([`Tcp::connect`](crate::Tcp::connect)) are.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket;
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let port = server.getsockname()?.port();
/// let c = luasocket::connect("127.0.0.1", port, None, None, None).await?;
/// assert_eq!(c.getpeername()?.port(), port);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn connect(
    address: &str,
    port: u16,
    locaddr: Option<&str>,
    locport: Option<u16>,
    family: Option<Family>,
) -> Result<ASocket> {
    let hints = Hints {
        socktype: Some(SockType::Tcp),
        family,
        ..Hints::default()
    };
    let ai = crate::addr_async(address, port, &hints).await?;
    let mut last = Error::with_message(
        ErrorKind::InvalidAddress,
        format!("no address to connect to for {address:?}"),
    );
    for entry in ai.iter() {
        let fam = entry.family();
        if fam != Family::Inet && fam != Family::Inet6 {
            continue;
        }
        let t = Tcp::new(fam)?;
        if locaddr.is_some() || locport.is_some() {
            let host = locaddr.unwrap_or("*");
            if let Err(e) = t.bind((host, locport.unwrap_or(0))) {
                last = e;
                continue;
            }
        }
        match t.connect(entry.addr(), None).await {
            Ok(()) => return Ok(ASocket::new(t)),
            Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `socket.connect4(...)`: [`connect`] over IPv4 only.
///
/// # Errors
///
/// As [`connect`].
///
/// # Cancel safety
///
/// As [`connect`].
///
/// # Send
///
/// Not `Send` (an [`ASocket`] is `Rc`-shared).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// let server = sockloop::luasocket::bind("127.0.0.1", 0, None)?;
/// let port = server.getsockname()?.port();
/// let c = sockloop::luasocket::connect4("127.0.0.1", port, None, None).await?;
/// assert_eq!(c.getpeername()?.port(), port);
/// let e = sockloop::luasocket::connect4("::1", port, None, None).await.unwrap_err();
/// assert_eq!(e.name(), "invalid_address"); // not an IPv4 address
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn connect4(
    address: &str,
    port: u16,
    locaddr: Option<&str>,
    locport: Option<u16>,
) -> Result<ASocket> {
    connect(address, port, locaddr, locport, Some(Family::Inet)).await
}

/// `socket.connect6(...)`: [`connect`] over IPv6 only.
///
/// # Errors
///
/// As [`connect`].
///
/// # Cancel safety
///
/// As [`connect`].
///
/// # Send
///
/// Not `Send` (an [`ASocket`] is `Rc`-shared).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// let server = sockloop::luasocket::bind("::1", 0, None)?;
/// let port = server.getsockname()?.port();
/// let c = sockloop::luasocket::connect6("::1", port, None, None).await?;
/// assert_eq!(c.getpeername()?.family(), sockloop::Family::Inet6);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn connect6(
    address: &str,
    port: u16,
    locaddr: Option<&str>,
    locport: Option<u16>,
) -> Result<ASocket> {
    connect(address, port, locaddr, locport, Some(Family::Inet6)).await
}

// ===== select =====

enum Held<'a> {
    Borrowed(&'a Tcp),
    Shared(Rc<Tcp>),
}

/// What [`select`] watches for one entry: a socket, and whether it has
/// bytes buffered above the socket (then it counts as readable at once,
/// as LuaSocket's `dirty()`). Made by [`Selectable::select_handle`].
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::SelectHandle;
/// let s = sockloop::tcp()?;
/// let h = SelectHandle::new(&s).dirty(true);
/// assert!(format!("{h:?}").contains("dirty: true"));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub struct SelectHandle<'a> {
    tcp: Held<'a>,
    dirty: bool,
}

impl std::fmt::Debug for SelectHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectHandle")
            .field("tcp", self.tcp())
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<'a> SelectHandle<'a> {
    /// Watches a borrowed socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// let h = sockloop::luasocket::SelectHandle::new(&s);
    /// # drop(h);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn new(tcp: &'a Tcp) -> SelectHandle<'a> {
        SelectHandle {
            tcp: Held::Borrowed(tcp),
            dirty: false,
        }
    }

    /// Watches a shared socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = std::rc::Rc::new(sockloop::tcp()?);
    /// let h = sockloop::luasocket::SelectHandle::shared(s.clone());
    /// # drop(h);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn shared(tcp: Rc<Tcp>) -> SelectHandle<'a> {
        SelectHandle {
            tcp: Held::Shared(tcp),
            dirty: false,
        }
    }

    /// Marks the entry as having buffered input (readable at once).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::{select, SelectHandle, Selectable};
    ///
    /// /// A socket with input already buffered above it.
    /// struct Buffered(sockloop::Tcp);
    /// impl Selectable for Buffered {
    ///     fn select_handle(&self) -> SelectHandle<'_> {
    ///         SelectHandle::new(&self.0).dirty(true)
    ///     }
    /// }
    /// let quiet = Buffered(sockloop::tcp()?);
    /// let sel = select(&[&quiet], &[], Some(0.0)).await?; // readable at once
    /// assert!(sel.is_readable(0));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dirty(mut self, dirty: bool) -> SelectHandle<'a> {
        self.dirty = dirty;
        self
    }

    fn tcp(&self) -> &Tcp {
        match &self.tcp {
            Held::Borrowed(t) => t,
            Held::Shared(t) => t,
        }
    }
}

/// Anything [`select`] can watch: LuaSocket's "objects with `getfd` and
/// `dirty`". Implemented for [`Tcp`], [`ASocket`], and references, `Rc`s
/// and `Box`es of them.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::Selectable;
/// fn watch(items: &[&dyn Selectable]) -> usize {
///     items.iter().map(|i| i.select_handle()).count()
/// }
/// let a = sockloop::tcp()?;
/// let b = sockloop::socketloop::tcp(None, None)?;
/// assert_eq!(watch(&[&a, &b]), 2);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait Selectable {
    /// The socket to watch, and whether input is already buffered
    /// (LuaSocket's `getfd` and `dirty`).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::Selectable;
    /// let s = sockloop::tcp()?;
    /// let h = s.select_handle();
    /// assert!(format!("{h:?}").contains("dirty: false"));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "getfd")]
    fn select_handle(&self) -> SelectHandle<'_>;
}

impl Selectable for Tcp {
    fn select_handle(&self) -> SelectHandle<'_> {
        SelectHandle::new(self)
    }
}

impl Selectable for ASocket {
    fn select_handle(&self) -> SelectHandle<'_> {
        SelectHandle::shared(self.getsocket()).dirty(self.buffered() > 0)
    }
}

impl<T: Selectable + ?Sized> Selectable for &T {
    fn select_handle(&self) -> SelectHandle<'_> {
        (**self).select_handle()
    }
}

impl<T: Selectable + ?Sized> Selectable for Rc<T> {
    fn select_handle(&self) -> SelectHandle<'_> {
        (**self).select_handle()
    }
}

impl<T: Selectable + ?Sized> Selectable for Box<T> {
    fn select_handle(&self) -> SelectHandle<'_> {
        (**self).select_handle()
    }
}

/// The result of [`select`]: indexes into `recvt` and `sendt` of the
/// sockets that are ready, in ascending order.
///
/// LuaSocket returns tables keyed both ways: `r[1], r[2], ...` are the
/// ready sockets and `r[sock]` is true for each. Here `recv[k]` is the
/// index of the k-th ready socket (`recvt[sel.recv[k]]` is `r[k + 1]`),
/// and [`is_readable(i)`](Selected::is_readable) is `r[recvt[i + 1]]`.
///
/// # Examples
///
/// ```
/// let sel = sockloop::luasocket::Selected { recv: vec![0, 2], send: vec![] };
/// assert!(sel.is_readable(2) && !sel.is_readable(1));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// Indexes into `recvt` of the readable sockets.
    pub recv: Vec<usize>,
    /// Indexes into `sendt` of the writable sockets.
    pub send: Vec<usize>,
}

impl Selected {
    /// `r[recvt[i]]`: is `recvt[i]` ready for reading?
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let server = sockloop::luasocket::bind("127.0.0.1", 0, None)?;
    /// let port = server.getsockname()?.port();
    /// let c = sockloop::luasocket::connect("127.0.0.1", port, None, None, None).await?;
    /// let sel = sockloop::luasocket::select(&[&c, &server], &[], Some(5.0)).await?;
    /// assert!(!sel.is_readable(0)); // nothing sent to c
    /// assert!(sel.is_readable(1)); // a connection waits to be accepted
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_readable(&self, i: usize) -> bool {
        self.recv.binary_search(&i).is_ok()
    }

    /// `w[sendt[i]]`: is `sendt[i]` ready for writing?
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let server = sockloop::luasocket::bind("127.0.0.1", 0, None)?;
    /// let port = server.getsockname()?.port();
    /// let c = sockloop::luasocket::connect("127.0.0.1", port, None, None, None).await?;
    /// let sel = sockloop::luasocket::select(&[], &[&c], Some(5.0)).await?;
    /// assert!(sel.is_writable(0));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_writable(&self, i: usize) -> bool {
        self.send.binary_search(&i).is_ok()
    }
}

type ReadyFut<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// `socket.select(recvt, sendt [, timeout])`: waits until at least one
/// socket of `recvt` is readable or one of `sendt` is writable, and returns
/// all that are ready then ([`Selected`]).
///
/// Readable: data or a peer close is pending, an error is pending, bytes
/// are buffered in an [`ASocket`], or — on a listening socket — a
/// connection waits to be accepted. `timeout` is in seconds: `None`, a
/// negative or NaN value waits without limit; `Some(0.0)` only checks.
/// There is no `_SETSIZE` limit (it does not use `select(2)`): any number
/// of sockets. Closed sockets are ignored, as in LuaSocket.
///
/// # Errors
///
/// * `"timeout"`: the time passed with nothing ready (LuaSocket returns
///   two empty tables and `"timeout"`).
/// * `"cancelled"`: the thread was cancelled while waiting.
/// * `"not_in_thread"`: no Tokio runtime to wait in.
///
/// # Cancel safety
///
/// Cancel safe: nothing is read or written.
///
/// # Send
///
/// Not `Send`: the entries are `&dyn Selectable`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::{self, select, Selectable};
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let port = server.getsockname()?.port();
/// // Nothing pending yet: times out.
/// let err = select(&[&server], &[], Some(0.01)).await.unwrap_err();
/// assert_eq!(err.name(), "timeout");
/// let c = luasocket::connect("127.0.0.1", port, None, None, None).await?;
/// let sel = select(&[&server, &c], &[&c], Some(5.0)).await?;
/// assert!(sel.is_readable(0)); // a connection waits on the server
/// assert!(!sel.is_readable(1)); // nothing sent to c
/// assert_eq!(sel.send, [0]); // c can send
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn select(
    recvt: &[&dyn Selectable],
    sendt: &[&dyn Selectable],
    timeout: Option<f64>,
) -> Result<Selected> {
    let expires = timeout.filter(|t| *t >= 0.0).map(|t| clock() + t);
    let rh: Vec<SelectHandle<'_>> = recvt.iter().map(|s| s.select_handle()).collect();
    let wh: Vec<SelectHandle<'_>> = sendt.iter().map(|s| s.select_handle()).collect();
    let mut sel = Selected::default();
    for (i, h) in rh.iter().enumerate() {
        if h.dirty {
            sel.recv.push(i);
        }
    }
    // Waits for each socket; `None` once done (ready, closed or failed).
    let mut rf: Vec<Option<ReadyFut<'_>>> = rh
        .iter()
        .map(|h| (!h.dirty).then(|| Box::pin(h.tcp().readable(None)) as ReadyFut<'_>))
        .collect();
    let mut wf: Vec<Option<ReadyFut<'_>>> = wh
        .iter()
        .map(|h| Some(Box::pin(h.tcp().writable(None)) as ReadyFut<'_>))
        .collect();
    let mut deadline = Deadline::new(expires);
    let mut parked = false;
    poll_fn(|cx| {
        if parked && crate::thread::take_cancel() {
            return Poll::Ready(Err(Error::cancelled()));
        }
        for (slots, out) in [(&mut rf, &mut sel.recv), (&mut wf, &mut sel.send)] {
            for (i, slot) in slots.iter_mut().enumerate() {
                let Some(f) = slot else { continue };
                match f.as_mut().poll(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(())) => {
                        out.push(i);
                        *slot = None;
                    }
                    Poll::Ready(Err(e)) => match e.kind() {
                        // A closed socket is ignored, as LuaSocket does.
                        ErrorKind::Closed => *slot = None,
                        _ => return Poll::Ready(Err(e)),
                    },
                }
            }
        }
        if !sel.recv.is_empty() || !sel.send.is_empty() {
            return Poll::Ready(Ok(()));
        }
        parked = true;
        if timeout.is_some_and(|t| t == 0.0) || deadline.poll_expired(cx) {
            return Poll::Ready(Err(deadline.error()));
        }
        Poll::Pending
    })
    .await?;
    sel.recv.sort_unstable();
    sel.send.sort_unstable();
    Ok(sel)
}
