//! Copas' sockets (`copas.wrap`, per-socket timeouts, names) and servers
//! (`copas.addserver`, `copas.removeserver`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;

use super::sched::{removethread, spawn, ThreadResult};
use crate::error::{Error, ErrorKind, Result};
use crate::socketloop::ASocket;
use crate::{Tcp, Thread, ToAddr};

/// A Copas socket (`copas.wrap(skt)`): an async LuaSocket TCP object
/// ([`ASocket`], whose other methods it derefs to) with Copas' separate
/// connect, send and receive timeouts and a name.
///
/// Every method waits without blocking other threads; a timeout is
/// `Err("timeout")`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{copas, luasocket};
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let c = copas::wrap(luasocket::tcp()?);
/// c.settimeouts(Some(5.0), Some(5.0), Some(0.05))?;
/// c.connect(server.getsockname()?).await?;
/// // Nothing was sent: the receive timeout ends the wait.
/// assert_eq!(c.receive("*l").await.unwrap_err().name(), "timeout");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub struct Socket {
    inner: Rc<ASocket>,
    name: RefCell<Option<String>>,
    connect_t: Cell<Option<f64>>,
    send_t: Cell<Option<f64>>,
    receive_t: Cell<Option<f64>>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("name", &self.name.borrow())
            .field("timeouts", &self.gettimeouts())
            .field("socket", &self.inner)
            .finish()
    }
}

impl From<ASocket> for Socket {
    fn from(inner: ASocket) -> Socket {
        Socket::from(Rc::new(inner))
    }
}

/// A Copas view of an `ASocket` shared with its other owners (the Lua
/// bridge's LuaSocket object): the same read-ahead buffer, statistics and
/// descriptor, with Copas' own timeouts and name.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use sockloop::{copas, socketloop::ASocket, Tcp};
///
/// let a = Rc::new(ASocket::new(Tcp::new(sockloop::Family::Inet)?));
/// let view = copas::Socket::from(a.clone());
/// assert!(Rc::ptr_eq(&view.shared(), &a)); // not a copy
/// # Ok::<(), sockloop::Error>(())
/// ```
impl From<Rc<ASocket>> for Socket {
    fn from(inner: Rc<ASocket>) -> Socket {
        Socket {
            inner,
            name: RefCell::new(None),
            connect_t: Cell::new(None),
            send_t: Cell::new(None),
            receive_t: Cell::new(None),
        }
    }
}

impl From<Tcp> for Socket {
    fn from(t: Tcp) -> Socket {
        Socket::from(ASocket::new(t))
    }
}

impl Deref for Socket {
    type Target = ASocket;

    fn deref(&self) -> &ASocket {
        &self.inner
    }
}

/// `copas.wrap(skt)`: a [`Socket`] over a LuaSocket TCP object
/// ([`ASocket`], e.g. from [`luasocket::tcp`](crate::luasocket::tcp)) or a
/// sockloop [`Tcp`], with no timeouts.
///
/// TLS (`sslparams`) has no twin: a Copas socket is plain TCP
/// (sockloop's own TLS, feature `tls`, is not wired into Copas).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{copas, luasocket};
///
/// let server = copas::wrap(luasocket::bind("127.0.0.1", 0, None)?); // an ASocket
/// let client = copas::wrap(sockloop::tcp()?); // a sockloop Tcp
/// assert_eq!(client.gettimeouts(), (None, None, None));
/// client.settimeout(Some(5.0))?;
/// server.settimeout(Some(5.0))?;
/// client.connect(server.getsockname()?).await?;
/// let peer = server.accept().await?;
/// client.send(b"hi\n").await?;
/// assert_eq!(peer.receive("*l").await?, b"hi");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn wrap(skt: impl Into<Socket>) -> Socket {
    skt.into()
}

/// A timeout argument: negative is "no limit", NaN is refused.
fn timeout_arg(t: f64, what: &str) -> Result<Option<f64>> {
    if t.is_nan() {
        return Err(Error::with_message(
            ErrorKind::InvalidArgument,
            format!("{what} timeout must be a number, not NaN"),
        ));
    }
    Ok((t >= 0.0).then_some(t))
}

impl Socket {
    /// `sock:settimeout([timeout])` / `copas.settimeout(skt, [timeout])`:
    /// sets the connect, send and receive timeouts to `timeout` seconds
    /// (`None` or negative: no limit, as LuaSocket).
    ///
    /// Each call waits at most its timeout in total (sockloop's rule);
    /// Copas restarts the timer on every chunk of a long receive.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for NaN; nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{copas, luasocket};
    /// let c = copas::wrap(luasocket::tcp()?);
    /// c.settimeout(Some(5.0))?;
    /// assert_eq!(c.gettimeouts(), (Some(5.0), Some(5.0), Some(5.0)));
    /// c.settimeout(Some(-1.0))?; // no limit, as `None`
    /// assert_eq!(c.gettimeouts(), (None, None, None));
    /// assert_eq!(c.settimeout(Some(f64::NAN)).unwrap_err().name(), "invalid_argument");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn settimeout(&self, timeout: Option<f64>) -> Result<()> {
        let t = timeout.map_or(Ok(None), |t| timeout_arg(t, "the"))?;
        self.connect_t.set(t);
        self.send_t.set(t);
        self.receive_t.set(t);
        Ok(())
    }

    /// `sock:settimeouts([connect], [send], [receive])` /
    /// `copas.settimeouts(skt, ...)`: sets each timeout separately; `None`
    /// leaves one as it is (unlike [`settimeout`](Socket::settimeout)), a
    /// negative value removes it.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for NaN; nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{copas, luasocket};
    /// let c = copas::wrap(luasocket::tcp()?);
    /// c.settimeout(Some(30.0))?;
    /// c.settimeouts(Some(5.0), None, Some(-1.0))?; // send left as it is
    /// assert_eq!(c.gettimeouts(), (Some(5.0), Some(30.0), None));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn settimeouts(
        &self,
        connect: Option<f64>,
        send: Option<f64>,
        receive: Option<f64>,
    ) -> Result<()> {
        let c = connect.map(|t| timeout_arg(t, "connect")).transpose()?;
        let s = send.map(|t| timeout_arg(t, "send")).transpose()?;
        let r = receive.map(|t| timeout_arg(t, "receive")).transpose()?;
        if let Some(c) = c {
            self.connect_t.set(c);
        }
        if let Some(s) = s {
            self.send_t.set(s);
        }
        if let Some(r) = r {
            self.receive_t.set(r);
        }
        Ok(())
    }

    /// The connect, send and receive timeouts (`None`: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{copas, luasocket};
    /// let c = copas::wrap(luasocket::tcp()?);
    /// let (connect, send, receive) = c.gettimeouts();
    /// assert_eq!((connect, send, receive), (None, None, None)); // as wrapped
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn gettimeouts(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        (
            self.connect_t.get(),
            self.send_t.get(),
            self.receive_t.get(),
        )
    }

    /// The `ASocket` under this Copas view, shared (not a copy): what the
    /// Lua bridge hands to Lua as a LuaSocket object.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{copas, luasocket};
    /// let c = copas::wrap(luasocket::tcp()?);
    /// let a = c.shared();
    /// a.settimeout(Some(2.5));
    /// assert_eq!(c.gettimeout(), Some(2.5)); // one socket, seen twice
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn shared(&self) -> Rc<ASocket> {
        self.inner.clone()
    }

    /// The socket's name ([`setsocketname`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{copas, luasocket};
    /// let c = copas::wrap(luasocket::tcp()?);
    /// assert_eq!(c.name(), None);
    /// copas::setsocketname("upstream", &c);
    /// assert_eq!(c.name().as_deref(), Some("upstream"));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn name(&self) -> Option<String> {
        self.name.borrow().clone()
    }

    /// `sock:connect(address, port)`: connects, waiting at most the
    /// connect timeout.
    ///
    /// # Errors
    ///
    /// As [`ASocket::connect`].
    ///
    /// # Cancel safety
    ///
    /// As [`ASocket::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{copas, luasocket};
    /// let server = luasocket::bind("127.0.0.1", 0, None)?;
    /// let c = copas::wrap(luasocket::tcp()?);
    /// c.settimeouts(Some(5.0), None, None)?; // the connect timeout only
    /// c.connect(server.getsockname()?).await?;
    /// assert_eq!(c.getpeername()?, server.getsockname()?);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToAddr) -> Result<()> {
        self.inner.settimeout(self.connect_t.get());
        self.inner.connect(addr).await
    }

    /// `sock:send(data)`: as [`ASocket::send`], waiting at most the send
    /// timeout.
    ///
    /// # Errors
    ///
    /// As [`ASocket::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`ASocket::send`].
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{copas, luasocket};
    /// # let server = luasocket::bind("127.0.0.1", 0, None)?;
    /// # server.settimeout(Some(5.0));
    /// let c = copas::wrap(luasocket::tcp()?);
    /// c.settimeout(Some(5.0))?;
    /// c.connect(server.getsockname()?).await?;
    /// let peer = server.accept().await?;
    /// assert_eq!(c.send(b"ping\n").await?, 5);
    /// assert_eq!(peer.receive("*l").await?, b"ping");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, data: &[u8]) -> Result<usize> {
        self.inner.settimeout(self.send_t.get());
        self.inner.send(data).await
    }

    /// `sock:send(data, i, j)`: as [`ASocket::send_range`], waiting at
    /// most the send timeout.
    ///
    /// # Errors
    ///
    /// As [`ASocket::send_range`].
    ///
    /// # Cancel safety
    ///
    /// As [`ASocket::send`].
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{copas, luasocket};
    /// # let server = luasocket::bind("127.0.0.1", 0, None)?;
    /// # server.settimeout(Some(5.0));
    /// # let c = copas::wrap(luasocket::tcp()?);
    /// # c.settimeout(Some(5.0))?;
    /// # c.connect(server.getsockname()?).await?;
    /// # let peer = server.accept().await?;
    /// // skt:send("hello world", 7): the bytes 7 to the end
    /// assert_eq!(c.send_range(b"hello world", 7, -1).await?, 11);
    /// assert_eq!(peer.receive(5).await?, b"world");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_range(&self, data: &[u8], i: i64, j: i64) -> Result<usize> {
        self.inner.settimeout(self.send_t.get());
        self.inner.send_range(data, i, j).await
    }

    /// `sock:receive([pattern])`: as [`ASocket::receive`], waiting at most
    /// the receive timeout.
    ///
    /// # Errors
    ///
    /// As [`ASocket::receive`].
    ///
    /// # Cancel safety
    ///
    /// As [`ASocket::receive`].
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{copas, luasocket};
    /// # let server = luasocket::bind("127.0.0.1", 0, None)?;
    /// # server.settimeout(Some(5.0));
    /// # let peer = luasocket::tcp()?;
    /// # peer.settimeout(Some(5.0));
    /// # peer.connect(server.getsockname()?).await?;
    /// let c = copas::wrap(server.accept().await?);
    /// c.settimeouts(None, None, Some(0.05))?;
    /// peer.send(b"line one\nrest").await?;
    /// assert_eq!(c.receive("*l").await?, b"line one");
    /// // "rest" has no line end: the receive timeout ends the wait.
    /// let mut e = c.receive("*l").await.unwrap_err();
    /// assert_eq!(e.name(), "timeout");
    /// assert_eq!(e.take_data(), Some(b"rest".to_vec())); // what came, as LuaSocket's partial
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(&self, pattern: impl Into<crate::luasocket::Pattern>) -> Result<Vec<u8>> {
        self.inner.settimeout(self.receive_t.get());
        self.inner.receive(pattern).await
    }

    /// `sock:receive(pattern, prefix)`: as [`ASocket::receive_prefixed`],
    /// waiting at most the receive timeout.
    ///
    /// # Errors
    ///
    /// As [`ASocket::receive`].
    ///
    /// # Cancel safety
    ///
    /// As [`ASocket::receive`].
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{copas, luasocket};
    /// # let server = luasocket::bind("127.0.0.1", 0, None)?;
    /// # server.settimeout(Some(5.0));
    /// # let peer = luasocket::tcp()?;
    /// # peer.settimeout(Some(5.0));
    /// # peer.connect(server.getsockname()?).await?;
    /// let c = copas::wrap(server.accept().await?);
    /// c.settimeout(Some(5.0))?;
    /// peer.send(b"lo\n").await?;
    /// // The part of a line an earlier receive timed out with, then the rest.
    /// assert_eq!(c.receive_prefixed("*l", b"hel").await?, b"hello");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive_prefixed(
        &self,
        pattern: impl Into<crate::luasocket::Pattern>,
        prefix: &[u8],
    ) -> Result<Vec<u8>> {
        self.inner.settimeout(self.receive_t.get());
        self.inner.receive_prefixed(pattern, prefix).await
    }

    /// `server:accept()`: the next connection, waiting at most the receive
    /// timeout; it gets this socket's timeouts, as Copas' accepted clients.
    ///
    /// # Errors
    ///
    /// As [`ASocket::accept`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{copas, luasocket};
    /// let server = copas::wrap(luasocket::bind("127.0.0.1", 0, None)?);
    /// server.settimeouts(None, Some(2.0), Some(5.0))?; // accept waits at most 5 s
    /// let _client = luasocket::connect("127.0.0.1", server.getsockname()?.port(), None, None, None).await?;
    /// let conn = server.accept().await?;
    /// assert_eq!(conn.gettimeouts(), (None, Some(2.0), Some(5.0)));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> Result<Socket> {
        self.inner.settimeout(self.receive_t.get());
        let c = Socket::from(self.inner.accept().await?);
        c.connect_t.set(self.connect_t.get());
        c.send_t.set(self.send_t.get());
        c.receive_t.set(self.receive_t.get());
        Ok(c)
    }
}

/// `copas.setsocketname(name, skt)`.
///
/// # Examples
///
/// ```
/// use sockloop::{copas, luasocket};
/// let c = copas::wrap(luasocket::tcp()?);
/// copas::setsocketname("db", &c);
/// assert_eq!(copas::getsocketname(&c).as_deref(), Some("db"));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn setsocketname(name: &str, skt: &Socket) {
    *skt.name.borrow_mut() = Some(name.to_string());
}

/// `copas.getsocketname(skt)`.
///
/// # Examples
///
/// ```
/// use sockloop::{copas, luasocket};
/// let c = copas::wrap(luasocket::tcp()?);
/// assert_eq!(copas::getsocketname(&c), None); // wrap names nothing
/// // Error handlers get the name of the client a handler served.
/// assert_eq!(
///     copas::gettraceback("timeout", None, copas::getsocketname(&c).as_deref()),
///     "timeout (coroutine: nil, socket: nil)"
/// );
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn getsocketname(skt: &Socket) -> Option<String> {
    skt.name()
}

// ===== servers =====

/// A server added by [`addserver`].
struct ServerEntry {
    tcp: Rc<Tcp>,
    accepter: Thread,
}

/// The servers of this OS thread's loop (a Copas layer value).
#[derive(Default)]
struct Servers(RefCell<Vec<ServerEntry>>);

fn servers() -> Rc<Servers> {
    crate::context::with_loop(|l| l.layers.get::<Servers>())
}

/// `copas.addserver(server, handler [, timeout [, name]])`: accepts
/// connections on `server`, a listening socket the caller made
/// ([`luasocket::bind`](crate::luasocket::bind), or a bound
/// [`socketloop::wrap`](crate::socketloop::wrap)ped one, which is set
/// listening), and runs `handler(client)` in a new Copas thread for each.
///
/// The client is a [`Socket`] named `"<name>:client_N"` with `timeout` as
/// its connect, send and receive timeouts; the handler thread is named
/// `"<name>:handler_N"`, and starts at once. `name` defaults to
/// `"tcp{server}: <address>"`. The client closes when the handler drops
/// it (Copas' `autoclose`). Adding the same socket again replaces its
/// handler. Accept errors (e.g. out of descriptors) do not stop the
/// server: it waits 10 ms and accepts again.
///
/// Not async: call it from plain code or from a thread.
///
/// # Errors
///
/// `"invalid_argument"`: `server` is neither listening nor bound;
/// `"closed"`; an OS error from `listen`.
///
/// # Examples
///
/// ```
/// use sockloop::{copas, luasocket};
///
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let port = server.getsockname()?.port();
/// let s = std::rc::Rc::new(server);
/// let s2 = s.clone();
/// copas::addserver(&s, move |c| {
///     let s = s2.clone();
///     async move {
///         let line = c.receive("*l").await?;
///         c.send(&[&line[..], b"\n"].concat()).await?;
///         copas::removeserver(&s, false) // one client only
///     }
/// }, Some(5.0), Some("echo"))?;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// copas::addthread(async move {
///     let c = luasocket::connect("127.0.0.1", port, None, None, None).await?;
///     c.settimeout(Some(5.0));
///     c.send(b"hi\n").await?;
///     assert_eq!(c.receive("*l").await?, b"hi");
///     Ok::<(), sockloop::Error>(())
/// });
/// copas::run_loop()?;
/// assert!(s.closed());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn addserver<H, Fut>(
    server: &ASocket,
    mut handler: H,
    timeout: Option<f64>,
    name: Option<&str>,
) -> Result<()>
where
    H: FnMut(Socket) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: ThreadResult,
{
    let timeout = timeout.map_or(Ok(None), |t| timeout_arg(t, "the server"))?;
    let listening = server.getoption("acceptconn")?.as_bool() == Some(true);
    let local = server.getsockname()?;
    if !listening {
        if local.port() == 0 && local.path().is_none() {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                "addserver: the socket is neither listening nor bound (use luasocket::bind)",
            ));
        }
        server.listen(crate::luasocket::DEFAULT_BACKLOG)?;
    }
    let tcp = server.getsocket();
    removeserver_entry(&tcp);
    let name = name.map_or_else(|| format!("tcp{{server}}: {local}"), str::to_string);
    let listener = tcp.clone();
    let accept_name = format!("{name}:accept");
    let accepter = spawn(
        Some(accept_name),
        async move {
            let mut count = 0u64;
            loop {
                match listener.accept(None).await {
                    Ok(c) => {
                        count += 1;
                        let client = Socket::from(c);
                        let cname = format!("{name}:client_{count}");
                        setsocketname(&cname, &client);
                        client.connect_t.set(timeout);
                        client.send_t.set(timeout);
                        client.receive_t.set(timeout);
                        let fut = handler(client);
                        spawn(
                            Some(format!("{name}:handler_{count}")),
                            fut,
                            Some(cname),
                            true,
                        );
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::Closed | ErrorKind::Cancelled) => break,
                    Err(_) => crate::sleep(0.01).await,
                }
            }
        },
        None,
        false,
    );
    servers().0.borrow_mut().push(ServerEntry { tcp, accepter });
    Ok(())
}

/// Forgets the server on `tcp` and ends its accept thread; `false` if it
/// was not a server.
fn removeserver_entry(tcp: &Rc<Tcp>) -> bool {
    let entry = {
        let all = servers();
        let mut servers = all.0.borrow_mut();
        let i = servers.iter().position(|s| Rc::ptr_eq(&s.tcp, tcp));
        i.map(|i| servers.remove(i))
    };
    match entry {
        Some(e) => {
            removethread(&e.accepter);
            true
        }
        None => false,
    }
}

/// `copas.removeserver(server [, keep_open])`: stops accepting on
/// `server` (its accept thread ends; running handlers go on) and closes
/// it, unless `keep_open`. Works from inside one of its handlers. A socket
/// that is not a server is just closed (or left open).
///
/// # Errors
///
/// None today (closing an already closed socket is `Ok`, as LuaSocket's
/// `close`); `Result` for Copas' shape and for handlers that end with it.
///
/// # Examples
///
/// ```
/// use sockloop::{copas, luasocket};
///
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// copas::addserver(&server, |_client| async {}, None, Some("idle"))?;
/// copas::removeserver(&server, true)?; // stop accepting, keep it open
/// assert!(!server.closed());
/// copas::run_loop()?; // returns: no server waits any more
/// copas::removeserver(&server, false)?; // not a server now: just closed
/// assert!(server.closed());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn removeserver(server: &ASocket, keep_open: bool) -> Result<()> {
    removeserver_entry(&server.getsocket());
    if !keep_open {
        let _ = server.close();
    }
    Ok(())
}
