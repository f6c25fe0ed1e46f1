//! Multi-threading: one I/O and timer driver shared by the loops of several
//! OS threads (`sock.epoll_fd([fd])`, `sock.iocp([h])`: choosing the
//! [`Reactor`] a loop runs on), and `Send` handles that wake a thread from
//! another OS thread ([`RemoteThread`]; a sleep job's is in `sleep_job`).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::context::{with_loop, Key, Remote};
use crate::error::{Error, ErrorKind, Result};
use crate::rt::Reactor;
use crate::thread::Thread;
use crate::value::into_value;

/// The reactor this OS thread's loop uses (`sock.epoll_fd()` as a getter).
///
/// Standalone, the first call makes a shared driver and switches this
/// loop to it (so call it before the loop first runs); later calls, and
/// calls on loops set up with [`set_reactor`], return the same one. Inside
/// a Tokio multi-thread runtime it returns that runtime's driver.
///
/// # Errors
///
/// `"loop_busy"` when this loop already runs on a driver of its own (it
/// has run before without a shared reactor), or inside a current-thread
/// Tokio runtime, whose driver only its own thread can turn.
///
/// # Examples
///
/// ```
/// # std::thread::spawn(|| {
/// let r = sockloop::reactor().unwrap();              // before the loop first runs
/// assert!(sockloop::reactor().is_ok());              // the same one again
/// sockloop::run(async { sockloop::sleep(0.001).await });
/// # drop(r);
/// # }).join().unwrap();
/// // A loop that already ran on its own driver cannot switch:
/// sockloop::run(async {});
/// assert_eq!(sockloop::reactor().unwrap_err().name(), "loop_busy");
/// ```
#[doc(alias = "epoll_fd")]
#[doc(alias = "iocp")]
pub fn reactor() -> Result<Reactor> {
    with_loop(|l| {
        if let Some(r) = l.rt.shared_reactor()? {
            return Ok(r);
        }
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                return Ok(Reactor::borrowed(h));
            }
            return Err(Error::with_message(
                ErrorKind::LoopBusy,
                "inside a current-thread Tokio runtime: its driver cannot be shared with \
                 other OS threads",
            ));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sockloop-reactor")
            .enable_all()
            .build()
            .map_err(|e| Error::from(e).context("cannot build the shared reactor"))?;
        let r = Reactor::owned(rt);
        l.rt.set_shared(r.clone())?;
        Ok(r)
    })
}

/// Makes this OS thread's loop use `r` (`sock.epoll_fd(epfd)` as a
/// setter). Call it before the loop first runs on this OS thread.
///
/// # Errors
///
/// `"loop_busy"` when this loop already runs on another driver.
///
/// # Examples
///
/// ```
/// let r = sockloop::reactor().unwrap();
/// let worker = std::thread::spawn(move || {
///     sockloop::set_reactor(r).unwrap();           // before this loop runs
///     sockloop::run(async { sockloop::sleep(0.001).await; "ok" })
/// });
/// assert_eq!(worker.join().unwrap(), "ok");
/// ```
#[doc(alias = "epoll_fd")]
#[doc(alias = "iocp")]
pub fn set_reactor(r: Reactor) -> Result<()> {
    with_loop(|l| l.rt.set_shared(r))
}

/// `sock.epoll_fd()`: the raw fd of the kernel poller.
///
/// Tokio owns its epoll instance privately (inside mio) and does not expose
/// the fd, so this always returns `Err` named `"not_supported"`. The
/// equivalent of sharing the epoll fd between OS threads is sharing the
/// [`Reactor`]: [`reactor()`] on one thread, [`set_reactor`] on the others.
///
/// # Errors
///
/// Always `"not_supported"`, with a message saying what to use instead.
///
/// # Examples
///
/// ```
/// let e = sockloop::epoll_fd().unwrap_err();
/// assert_eq!(e.name(), "not_supported");
/// ```
pub fn epoll_fd() -> Result<i32> {
    Err(Error::with_message(
        ErrorKind::NotSupported,
        "Tokio does not expose its epoll fd; share the driver with reactor()/set_reactor()",
    ))
}

// ===== impl RemoteThread =====

/// A `Send` handle to a [`Thread`], for other OS threads: it posts the
/// request to the thread's own loop, which carries it out at its next
/// round. Get one with [`Thread::remote`].
///
/// The `Thread` handle itself is `!Send`; using it from the wrong OS
/// thread does not compile:
///
/// ```compile_fail
/// let t = sockloop::newthread(async {});
/// std::thread::spawn(move || t.cancel()); // Thread is not Send
/// ```
///
/// # Send
///
/// `Send + Sync`: that is its purpose.
///
/// # Examples
///
/// ```
/// let got = sockloop::run(async {
///     let t = sockloop::thread(async { sockloop::sleep(60.0).await; sockloop::cancelled() });
///     let remote = t.remote();
///     std::thread::spawn(move || remote.cancel()).join().unwrap();
///     t.join(sockloop::clock() + 5.0).await.unwrap()
/// });
/// assert!(got); // cancelled from the other OS thread
/// ```
#[derive(Clone)]
pub struct RemoteThread {
    remote: Arc<Remote>,
    key: Key,
}

impl fmt::Debug for RemoteThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteThread")
            .field("id", &self.key)
            .finish()
    }
}

impl<T> Thread<T> {
    /// A `Send` handle that other OS threads can use to cancel or resume
    /// this thread (see [`RemoteThread`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async { sockloop::suspend(()).await; });
    /// let r = t.remote();
    /// assert_eq!(format!("{r:?}"), format!("RemoteThread {{ id: {} }}", t.id()));
    /// ```
    pub fn remote(&self) -> RemoteThread {
        with_loop(|l| RemoteThread {
            remote: l.remote().clone(),
            key: self.id(),
        })
    }
}

impl RemoteThread {
    /// [`Thread::cancel`], carried out on the thread's loop.
    ///
    /// # Examples
    ///
    /// See [`RemoteThread`].
    ///
    /// ```
    /// let t = sockloop::thread(async { sockloop::sleep(60.0).await });
    /// let r = t.remote();
    /// r.cancel(); // from this OS thread too: delivered at the loop's next round
    /// sockloop::start().unwrap();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        let key = self.key;
        self.remote.post(Box::new(move || {
            if let Some(t) = with_loop(|l| l.get_thread(key)) {
                Thread::<()>::from_inner(t).cancel();
            }
        }));
    }

    /// [`resume`](crate::resume) with `v`, carried out on the thread's loop.
    /// The result (the thread's `suspend` value, or a misuse error) stays
    /// on that loop: a resume of a thread that is not suspended is dropped.
    /// A result of the thread's body stays for a [`Thread::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {
    ///     let v = sockloop::suspend(()).await;      // waits for the remote resume
    ///     v.get::<String>().unwrap()
    /// });
    /// sockloop::resume(&t, ()).unwrap();
    /// let r = t.remote();
    /// let got = sockloop::run(async move {
    ///     std::thread::spawn(move || r.resume(String::from("hi"))).join().unwrap();
    ///     t.join(sockloop::clock() + 5.0).await.unwrap()
    /// });
    /// assert_eq!(got, "hi");
    /// ```
    pub fn resume<V: Any + Send>(&self, v: V) {
        let key = self.key;
        self.remote.post(Box::new(move || {
            if let Some(t) = with_loop(|l| l.get_thread(key)) {
                let _ = crate::thread::resume_inner(&t, into_value(v), false);
            }
        }));
    }
}
