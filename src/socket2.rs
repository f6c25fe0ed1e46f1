//! luapower's `socket2` (`local socket = require'socket2'`), the earlier
//! version of `sock`: only the calls that behave differently from sock's.
//!
//! Everything else in socket2 maps onto sock's Rust twins at the crate
//! root (`socket.tcp()` is [`sockloop::tcp`](crate::tcp), `tcp:send` is
//! [`Tcp::send`](crate::Tcp::send), ...); `PORTING.md` lists every socket2
//! entry.
//!
//! | Lua | Rust | How it differs from sock's |
//! | --- | --- | --- |
//! | `socket.newthread(func)` | [`newthread`] | starts at once |
//! | `socket.poll(timeout)` | [`poll`] | `true` / `false, 'timeout'` |
//! | `socket.start(timeout)` | [`start`] | stops after `timeout` with nothing to do |
//! | `socket.stop()` | [`stop`] | — |
//! | `udp:send(buf, maxlen, host, port)` | [`udp_send`] | the address is an argument |
//! | `udp:recv(buf, maxlen, host, port)` | [`udp_recv`] | only datagrams from that address |
//! | `socket.epoll_fd([epfd])` | [`epoll_fd`], [`reactor`], [`set_reactor`] | shares Tokio's driver |
//! | `socket.iocp([iocp])` | [`iocp`] | the same shared driver |
//!
//! ```
//! use sockloop::socket2;
//! // local socket = require'socket2'
//! // socket.newthread(function() ... end); socket.start()
//! let t = socket2::newthread(async { sockloop::sleep(0.001).await; 42 }); // starts at once
//! socket2::start(None)?;
//! assert!(t.is_finished());
//! # Ok::<(), sockloop::Error>(())
//! ```

use std::future::Future;

use crate::error::{Error, ErrorKind, Result};
use crate::{Reactor, Thread, ThreadOutput, ToAddr, Udp};

pub use crate::{epoll_fd, reactor, set_reactor};

/// `socket.newthread(func)`: a thread that starts **at once** and runs
/// until its first wait ([`sockloop::thread`](crate::thread)); sock's
/// [`sockloop::newthread`](crate::newthread) makes it suspended instead.
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
/// let t = sockloop::socket2::newthread(async { sockloop::sleep(0.01).await });
/// assert_eq!(t.status(), sockloop::ThreadStatus::Waiting);
/// sockloop::socket2::start(None).unwrap();
/// assert!(t.is_finished());
/// ```
pub fn newthread<F>(fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    crate::thread(fut)
}

/// `socket.poll(timeout) -> true | false, 'timeout'`: waits up to
/// `timeout` seconds (`None`: without limit) for I/O or a timer and
/// resumes the threads that are ready. `Ok(())` is Lua's `true`; `Err`
/// named `"timeout"` is `false, 'timeout'`.
///
/// # Errors
///
/// * `"timeout"`: the time passed with nothing ready.
/// * `"empty"`: no thread waits on anything (socket2 would block forever
///   in `epoll_wait`; sockloop says so instead).
/// * `"thread_panicked"`, `"thread_failed"`, `"loop_busy"`: as
///   [`sockloop::poll`](crate::poll).
///
/// # Examples
///
/// ```
/// use sockloop::socket2;
/// assert_eq!(socket2::poll(Some(0.0)).unwrap_err().name(), "empty");
/// socket2::newthread(async { sockloop::sleep(10.0).await });
/// assert_eq!(socket2::poll(Some(0.01)).unwrap_err().name(), "timeout");
/// ```
pub fn poll(timeout: Option<f64>) -> Result<()> {
    match crate::poll(timeout)? {
        true => Ok(()),
        false => Err(Error::with_message(
            ErrorKind::Timeout,
            "nothing became ready before the poll timeout",
        )),
    }
}

/// `socket.start(timeout)`: keeps polling until a poll waits `timeout`
/// seconds with nothing ready, no thread waits any more, or [`stop`] is
/// called. `None` polls until the threads are done or stopped.
///
/// # Errors
///
/// `"thread_panicked"`, `"thread_failed"`, `"loop_busy"`, as [`poll`].
///
/// # Examples
///
/// ```
/// use sockloop::socket2;
/// let t = socket2::newthread(async { sockloop::sleep(3600.0).await });
/// socket2::start(Some(0.01))?; // a poll waited 10 ms with nothing ready: stop
/// assert!(!t.is_finished());
/// t.cancel();
/// socket2::start(None)?;
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn start(timeout: Option<f64>) -> Result<()> {
    crate::socketloop::run_rounds(|| match poll(timeout) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Empty) => Ok(false),
        Err(e) => Err(e),
    })
}

/// `socket.stop()`: [`start`] returns after the running round.
///
/// # Examples
///
/// ```
/// use sockloop::socket2;
/// socket2::newthread(async {
///     sockloop::sleep(0.001).await;
///     socket2::stop();
///     sockloop::sleep(3600.0).await;
/// });
/// socket2::start(None)?; // returns after the round that called stop()
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn stop() {
    crate::socketloop::stop();
}

/// `udp:send(buf, maxlen, host, port) -> len`: sends one datagram to
/// `addr` ([`Udp::sendto`] with no deadline).
///
/// # Errors
///
/// As [`Udp::sendto`].
///
/// # Cancel safety
///
/// Cancel safe: a datagram is sent whole or not at all.
///
/// # Send
///
/// The future is `Send`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// let a = sockloop::udp()?;
/// a.bind(("127.0.0.1", 0))?;
/// let b = sockloop::udp()?;
/// let n = sockloop::socket2::udp_send(&b, b"hello", ("127.0.0.1", a.local_addr()?.port())).await?;
/// assert_eq!(n, 5);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "send")]
pub async fn udp_send(udp: &Udp, buf: &[u8], addr: impl ToAddr) -> Result<usize> {
    udp.sendto(addr, buf, None).await
}

/// `udp:recv(buf, maxlen, host, port) -> len`: receives the next datagram
/// that comes from `addr`; datagrams from other senders are read and
/// dropped. Unlike [`Udp::connect`], this does not change the socket.
///
/// # Errors
///
/// `"invalid_address"` or a lookup error for `addr`, and as
/// [`Udp::recvnext`].
///
/// # Cancel safety
///
/// Cancel safe: a datagram is taken only when the future completes.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// let a = sockloop::udp()?;
/// a.bind(("127.0.0.1", 0))?;
/// let b = sockloop::udp()?;
/// b.bind(("127.0.0.1", 0))?;
/// let other = sockloop::udp()?;
/// other.sendto(&a.local_addr()?, b"noise", None).await?;
/// sockloop::socket2::udp_send(&b, b"hi", &a.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let n = sockloop::socket2::udp_recv(&a, &mut buf, &b.local_addr()?).await?;
/// assert_eq!(&buf[..n], b"hi");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "recv")]
pub async fn udp_recv(udp: &Udp, buf: &mut [u8], addr: impl ToAddr) -> Result<usize> {
    let want = addr
        .to_addr()?
        .resolve_async(&crate::Hints::default())
        .await?;
    loop {
        let (n, from) = udp.recvnext(buf, None).await?;
        if want.contains(&from) {
            return Ok(n);
        }
    }
}

/// `socket.iocp([iocp])`: Windows' shared completion port. sockloop
/// shares Tokio's driver on every OS instead: this returns this OS
/// thread's [`Reactor`]; pass it to [`set_reactor`] on another OS thread
/// (`socket.iocp(copied_iocp)`).
///
/// # Errors
///
/// As [`reactor`].
///
/// # Examples
///
/// ```
/// # std::thread::spawn(|| {
/// let r = sockloop::socket2::iocp().unwrap();          // socket.iocp()
/// std::thread::spawn(move || {
///     sockloop::set_reactor(r).unwrap();              // socket.iocp(copied_iocp)
///     sockloop::run(async { sockloop::sleep(0.001).await });
/// })
/// .join()
/// .unwrap();
/// # }).join().unwrap();
/// ```
pub fn iocp() -> Result<Reactor> {
    crate::reactor()
}
