//! luapower's `socketloop` (`local loop = require'socketloop'`): TCP
//! sockets driven by coroutines, over sockloop's loop.
//!
//! | Lua | Rust |
//! | --- | --- |
//! | `loop.wrap(skt \| fd)` | [`wrap`] |
//! | `loop.connect(host, port, [lip], [lport])` | [`connect`]`(..).await` |
//! | `loop.tcp([lip], [lport])` | [`tcp`] |
//! | `loop.newthread(handler, arg)` | [`newthread`] (starts at once) |
//! | `loop.current()` | [`current`] |
//! | `loop.suspend()` | [`suspend`]`().await` |
//! | `loop.resume(thread, arg)` | [`resume`] |
//! | `loop.newserver(ip, port, handler)` | [`newserver`] -> [`Server`] |
//! | `loop.start([timeout])` | [`start`] |
//! | `loop.stop()` | [`stop`] |
//! | `loop.step([timeout])` | [`step`] ([`try_step`] to see errors) |
//! | `loop.coro` | this module (see below) |
//! | `asocket:call_async(f, ...)` | [`ASocket::call_async`] with [`Want`] |
//! | `asocket:getsocket()`, `:setsocket(s)`, `.socket` | [`ASocket::getsocket`], [`ASocket::setsocket`] |
//! | `asocket:receive/send/connect/accept/close` | [`ASocket`]'s methods |
//!
//! # `loop.coro`
//!
//! Upstream has a second loop, `socketloop.coro`, that dispatches to
//! symmetric coroutines. sockloop's one loop does both: a thread made here
//! can hand control to another with [`transfer`](crate::transfer)
//! (symmetric) or park in [`suspend`] until someone [`resume`]s it
//! (asymmetric). Port `require'socketloop'.coro` to this same module.
//!
//! # Example
//!
//! ```
//! use sockloop::socketloop::{self, ASocket};
//!
//! // A server that answers each line reversed.
//! let server = socketloop::newserver("127.0.0.1", 0, |c: ASocket| async move {
//!     while let Ok(mut line) = c.receive("*l").await {
//!         line.reverse();
//!         line.push(b'\n');
//!         if c.send(&line).await.is_err() {
//!             break;
//!         }
//!     }
//! })?;
//! let port = server.local_addr()?.port();
//! socketloop::newthread(async move {
//!     let c = socketloop::connect("127.0.0.1", port, None, None).await.unwrap();
//!     c.send(b"abc\n").await.unwrap();
//!     assert_eq!(c.receive("*l").await.unwrap(), b"cba");
//!     server.close(); // stop accepting; the loop then runs out of work
//! });
//! socketloop::start(None)?;
//! # Ok::<(), sockloop::Error>(())
//! ```

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use crate::error::{ErrorKind, Result};
use crate::{Family, SockAddr, Tcp, Thread, ThreadOutput, Value};

mod asocket;

pub use asocket::{ASocket, Want};

// This layer's `start` loops over `sockloop::poll` rounds, so `stop()`
// here sets a flag of its own (kept in the loop state) besides sockloop's,
// which ends the running round. Shared with `sockloop::socket2`.

/// The `start` of the compatibility layers: runs `round` until it returns
/// `Ok(false)` or an error, or `stop()` is called. A `stop()` made while
/// no `start` ran lets one round run, as upstream's
/// `while step() do if stop then break end end`; the request (and
/// sockloop's own) is used up when this returns.
pub(crate) fn run_rounds(mut round: impl FnMut() -> Result<bool>) -> Result<()> {
    let stop_requested = || crate::context::with_loop(|l| l.compat_stop.get());
    let stopped_before = crate::context::with_loop(|l| l.compat_stop.replace(false));
    let r = loop {
        match round() {
            Ok(true) if !stopped_before && !stop_requested() => {}
            Ok(_) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    crate::context::with_loop(|l| {
        l.compat_stop.set(false);
        l.stop.set(false);
    });
    r
}

/// `loop.wrap(skt | fd)`: an async socket over a TCP socket: a sockloop
/// [`Tcp`], a std or Tokio `TcpStream`/`TcpListener`, a
/// `socket2::Socket`, or an owned descriptor (`OwnedFd`; a raw fd goes
/// through std's `OwnedFd` conversion). The socket is made non-blocking.
///
/// # Examples
///
/// ```
/// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let a = sockloop::socketloop::wrap(l);
/// assert_ne!(a.getsockname()?.port(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wrap(socket: impl Into<Tcp>) -> ASocket {
    ASocket::new(socket.into())
}

/// The family of a literal local address (`None`: let the target decide).
fn family_of(ip: &str) -> Family {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => Family::Inet6,
        _ => Family::Inet,
    }
}

/// `loop.tcp([local_ip], [local_port])`: a new async TCP socket, bound to
/// `local_ip`/`local_port` when either is given (`"*"` and port 0 are the
/// defaults). An IPv6 literal makes an IPv6 socket. Needs no runtime.
///
/// # Errors
///
/// `"address_already_in_use"`, `"invalid_address"`, a lookup error, an OS
/// error.
///
/// # Examples
///
/// ```
/// let a = sockloop::socketloop::tcp(Some("127.0.0.1"), None)?;
/// assert_eq!(a.getsockname()?.ip().to_string(), "127.0.0.1");
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn tcp(local_ip: Option<&str>, local_port: Option<u16>) -> Result<ASocket> {
    let t = Tcp::new(local_ip.map_or(Family::Inet, family_of))?;
    if local_ip.is_some() || local_port.is_some() {
        t.bind((local_ip.unwrap_or("*"), local_port.unwrap_or(0)))?;
    }
    Ok(ASocket::new(t))
}

/// `loop.connect(host, port, [local_ip], [local_port])`: an async TCP
/// connection. Every address `host` resolves to is tried in turn (the
/// lookup runs off the loop); the socket is bound to
/// `local_ip`/`local_port` first when either is given.
///
/// # Errors
///
/// The last attempt's error: `"connection_refused"`,
/// `"network_unreachable"`, a lookup error, `"cancelled"`, ...
///
/// # Cancel safety
///
/// Not cancel safe: a connection in progress is dropped (closed).
///
/// # Send
///
/// The future is `Send`.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// let l = sockloop::tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let port = l.local_addr()?.port();
/// let t = socketloop::newthread(async move {
///     let c = socketloop::connect("127.0.0.1", port, Some("127.0.0.1"), None).await?;
///     Ok::<u16, sockloop::Error>(c.getpeername()?.port())
/// });
/// socketloop::start(None)?;
/// let peer_port = sockloop::run(async move { t.join(None).await })??;
/// assert_eq!(peer_port, port);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub async fn connect(
    host: &str,
    port: u16,
    local_ip: Option<&str>,
    local_port: Option<u16>,
) -> Result<ASocket> {
    crate::luasocket::connect(host, port, local_ip, local_port, None).await
}

/// `loop.newthread(handler, arg)`: makes a thread and runs it **at once**
/// until it first parks (on I/O, a timer or [`suspend`]), as socketloop
/// does; unlike [`sockloop::newthread`](crate::newthread), which makes it
/// suspended. This is [`sockloop::thread`](crate::thread). Lua's `arg` is
/// captured by the future.
///
/// # Panics
///
/// As [`sockloop::thread`](crate::thread): inside a Tokio runtime but
/// outside a `tokio::task::LocalSet` (`"no_local_set"`, the message names
/// the fix), or in one without timers.
///
/// # Examples
///
/// ```
/// let ran = std::rc::Rc::new(std::cell::Cell::new(false));
/// let r = ran.clone();
/// sockloop::socketloop::newthread(async move { r.set(true) });
/// assert!(ran.get());
/// ```
pub fn newthread<F>(fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    crate::thread(fut)
}

/// `loop.current()`: the running thread, `None` outside one
/// ([`sockloop::currentthread`](crate::currentthread)).
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// assert!(socketloop::current().is_none());
/// let t = socketloop::newthread(async {
///     assert!(socketloop::current().is_some());
/// });
/// assert!(t.is_finished() && !t.is_panicked());
/// ```
pub fn current() -> Option<Thread<Value>> {
    crate::currentthread()
}

/// `loop.suspend()`: parks the current thread until [`resume`] wakes it
/// and returns the value passed to `resume`.
///
/// # Panics
///
/// Awaited outside a sockloop thread, as [`sockloop::suspend`](crate::suspend);
/// [`try_suspend`](crate::try_suspend) is the non-panicking twin.
///
/// # Cancel safety
///
/// Cancel safe.
///
/// # Send
///
/// Not `Send`, as [`sockloop::suspend`](crate::suspend).
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// let t = socketloop::newthread(async {
///     let v = socketloop::suspend().await;          // parked at once
///     v.get::<&str>().unwrap()
/// });
/// let out = socketloop::resume(&t, "go").unwrap().unwrap(); // finishes: its result
/// assert_eq!(out.get::<&str>().unwrap(), "go");
/// ```
pub async fn suspend() -> Value {
    crate::suspend(()).await
}

/// `loop.resume(thread, arg)`: runs a thread parked in [`suspend`] now,
/// until it parks again, and returns what that park passed on
/// ([`sockloop::resume`](crate::resume)).
///
/// # Errors
///
/// `"thread_busy"` for a thread that waits on I/O or a timer (undefined
/// behaviour upstream), `"thread_dead"`, `"thread_panicked"`;
/// `"no_local_set"` / `"not_supported"` as [`sockloop::resume`](crate::resume).
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// let t = socketloop::newthread(async {
///     let n = socketloop::suspend().await.get::<i32>().unwrap();
///     socketloop::suspend().await;
///     n
/// });
/// let parked = socketloop::resume(&t, 1).unwrap().unwrap(); // parked again: suspend hands out ()
/// assert!(parked.is::<()>());
/// let out = socketloop::resume(&t, ()).unwrap().unwrap();
/// assert_eq!(out.get::<i32>().unwrap(), 1);
/// assert_eq!(socketloop::resume(&t, ()).unwrap_err().name(), "thread_dead");
/// ```
pub fn resume<T, V: Any>(thread: &Thread<T>, arg: V) -> Result<Option<Value>> {
    crate::resume(thread, arg)
}

/// A listening socket made by [`newserver`]; [`close`](Server::close)
/// stops it.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// let server = socketloop::newserver("127.0.0.1", 0, |c| async move {
///     let _ = c.send(b"hello\n").await;
/// })?;
/// assert!(!server.closed());
/// server.close();
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Debug)]
pub struct Server {
    listener: Rc<Tcp>,
    accepter: Thread,
    closed: Cell<bool>,
}

impl Server {
    /// The address the server listens on (port 0 was replaced by the
    /// kernel's choice).
    ///
    /// # Errors
    ///
    /// `"closed"` after [`close`](Server::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = sockloop::socketloop::newserver("127.0.0.1", 0, |_c| async {})?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// server.close();
    /// assert_eq!(server.local_addr().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn local_addr(&self) -> Result<SockAddr> {
        self.listener.local_addr()
    }

    /// Closes the listening socket: the accept thread ends now (it is run
    /// to its end before `close` returns), connections already accepted
    /// keep running. Closing the last server thus leaves nothing for
    /// [`step`] to do, as upstream. A second call does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::socketloop;
    /// let server = socketloop::newserver("127.0.0.1", 0, |_c| async {})?;
    /// assert!(socketloop::step(Some(0.0))); // the server waits for clients
    /// server.close();
    /// assert!(server.closed());
    /// assert!(server.thread().is_finished());
    /// assert!(!socketloop::step(Some(0.0))); // nothing left to do
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn close(&self) {
        if !self.closed.replace(true) {
            let _ = self.listener.close();
            // The cancel also ends a pause after an accept error.
            self.accepter.cancel();
            // Ends the accept thread now; where nothing can drive it
            // (a Tokio runtime without a LocalSet) the cancel stays
            // pending for the next driver.
            let _ = crate::thread::step_waiting_now(self.accepter.inner());
        }
    }

    /// `true` once [`close`](Server::close) was called (or the listening
    /// socket was closed another way).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = sockloop::socketloop::newserver("127.0.0.1", 0, |_c| async {})?;
    /// server.close();
    /// assert!(server.closed());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.closed.get() || self.listener.closed()
    }

    /// The thread that accepts connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = sockloop::socketloop::newserver("127.0.0.1", 0, |_c| async {})?;
    /// assert_eq!(server.thread().status(), sockloop::ThreadStatus::Waiting); // in accept
    /// server.close();
    /// assert!(server.thread().is_finished());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.accepter
    }
}

/// `loop.newserver(ip, port, handler)`: listens on `ip`:`port` and runs
/// `handler(client)` in a new thread for each accepted connection. The
/// accept loop is a thread too, so the listener keeps accepting while
/// handlers run. Not async: call it from plain code or from a thread.
///
/// # Errors
///
/// `"address_already_in_use"`, `"access_denied"`, `"invalid_address"`, a
/// lookup error; `"no_local_set"` / `"not_supported"` inside a Tokio
/// runtime where nothing could run the accept thread (see
/// [`sockloop::try_thread`](crate::try_thread)).
///
/// Accept errors after that (e.g. out of descriptors) do not stop the
/// server: it waits 10 ms and accepts again.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// let server = socketloop::newserver("127.0.0.1", 0, |c| async move {
///     let _ = c.send(b"hi\n").await; // one thread per connection
/// })?;
/// let port = server.local_addr()?.port();
/// socketloop::newthread(async move {
///     let c = socketloop::connect("127.0.0.1", port, None, None).await.unwrap();
///     assert_eq!(c.receive("*l").await.unwrap(), b"hi");
///     server.close();
/// });
/// socketloop::start(None)?;
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn newserver<H, Fut>(ip: &str, port: u16, mut handler: H) -> Result<Server>
where
    H: FnMut(ASocket) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = Rc::new(crate::luasocket::bind_tcp(ip, port, None)?);
    let l = listener.clone();
    let accepter = crate::try_thread(async move {
        loop {
            match l.accept(None).await {
                Ok(c) => {
                    crate::thread(handler(ASocket::new(c)));
                }
                Err(e) if matches!(e.kind(), ErrorKind::Closed | ErrorKind::Cancelled) => break,
                Err(_) => crate::sleep(0.01).await,
            }
        }
    })?;
    Ok(Server {
        listener,
        accepter,
        closed: Cell::new(false),
    })
}

/// `loop.step([timeout])` with the error kept: `Ok(false)` when no thread
/// waits on I/O or a timer, else dispatches one round (waiting up to
/// `timeout` seconds, `None` without limit) and returns `Ok(true)`, also
/// when the timeout passed with nothing ready.
///
/// # Errors
///
/// `"thread_panicked"` (a thread panicked in this round; the loop stays
/// usable), `"thread_failed"` (a thread's `Err` nobody can join),
/// `"loop_busy"` (called from inside a running loop or a Tokio runtime).
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// assert_eq!(socketloop::try_step(Some(0.0)).unwrap(), false); // nothing waits
/// socketloop::newthread(async {
///     sockloop::sleep(0.001).await;
///     panic!("handler bug");
/// });
/// let e = loop {
///     match socketloop::try_step(Some(1.0)) {
///         Ok(true) => continue,
///         Ok(false) => unreachable!("the panic is reported first"),
///         Err(e) => break e,
///     }
/// };
/// assert_eq!(e.name(), "thread_panicked");
/// ```
pub fn try_step(timeout: Option<f64>) -> Result<bool> {
    match crate::poll(timeout) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::Empty => Ok(false),
        Err(e) => Err(e),
    }
}

/// `loop.step([timeout]) -> true|false`: dispatches the reads, writes and
/// timers that are ready, waiting up to `timeout` seconds (`None`: without
/// limit) for one. `false` at once when no thread waits on I/O or a timer
/// (upstream returns nothing when no socket is registered); `true`
/// otherwise, also when the timeout passed with nothing ready.
///
/// An error of the round ([`try_step`]'s `Err`, e.g. a thread panicked)
/// also gives `false`, ending a `while step(..)` loop; use [`try_step`] or
/// [`start`] to see it.
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// assert!(!socketloop::step(Some(0.0))); // nothing waits
/// socketloop::newthread(async { sockloop::sleep(0.01).await });
/// assert!(socketloop::step(Some(1.0)));
/// while socketloop::step(None) {}
/// ```
pub fn step(timeout: Option<f64>) -> bool {
    try_step(timeout).unwrap_or(false)
}

/// `loop.start([timeout])`: `while step(timeout) {}`, until no thread
/// waits on I/O or a timer or [`stop`] is called. Not async.
///
/// # Errors
///
/// The first error of a round: `"thread_panicked"` or `"thread_failed"`
/// (the loop stays usable for the next `start`), `"loop_busy"`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let n = Rc::new(Cell::new(0));
/// let m = n.clone();
/// sockloop::socketloop::newthread(async move {
///     for _ in 0..3 {
///         sockloop::sleep(0.001).await;
///         m.set(m.get() + 1);
///     }
/// });
/// sockloop::socketloop::start(Some(1.0))?; // until nothing waits
/// assert_eq!(n.get(), 3);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn start(timeout: Option<f64>) -> Result<()> {
    run_rounds(|| try_step(timeout))
}

/// `loop.stop()`: [`start`] returns after the running round. Called while
/// no `start` runs, the next `start` runs one round and returns (upstream
/// keeps that flag set for every later `start`; sockloop's is used up by
/// the `start` that honours it).
///
/// # Examples
///
/// ```
/// use sockloop::socketloop;
/// socketloop::newthread(async {
///     sockloop::sleep(0.001).await;
///     socketloop::stop(); // ends start() after this round
///     sockloop::sleep(3600.0).await;
/// });
/// socketloop::start(None)?; // returns although a thread still waits
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn stop() {
    crate::context::with_loop(|l| l.compat_stop.set(true));
    crate::stop();
}
