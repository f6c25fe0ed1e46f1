//! The Tokio runtime a loop blocks on (`start`/`run`/`poll`, a `resume`
//! from synchronous code): its own current-thread runtime, made on first
//! use and kept for the life of the OS thread, or a shared [`Reactor`]
//! (`set_reactor`), with the `LocalSet` the loop's work runs in.
//!
//! The loop holds it ([`LoopRt`], so the runtime is dropped after the
//! threads' futures); the public calls that choose it are in `reactor`.

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

/// A handle to the I/O and timer driver a loop uses: sock.lua's shared
/// epoll fd / IOCP handle, the Tokio way.
///
/// `Send + Clone`: give it to other OS threads and call [`set_reactor`](crate::set_reactor)
/// there before their loop first runs. Each OS thread then runs its own
/// loop (threads, sleep jobs, timers) while I/O readiness and timer
/// expiry come from the one shared driver. The driver (a Tokio runtime
/// with one worker thread that only polls the kernel) lives while any
/// handle or any loop using it lives.
///
/// # Performance
///
/// Every readiness event passes through the driver's thread and then
/// wakes the owning loop from another OS thread (a lock and an unpark). On
/// the project's 2-core machine an HTTP responder on two loops sharing one
/// reactor used 1.3–1.7× the CPU per request of one loop (BENCHMARKS.md).
/// When the loops do not share sockets or timers, independent loops are
/// cheaper: run each OS thread's loop on its own driver (do not call
/// `set_reactor`) and let `SO_REUSEPORT` listeners spread the connections
/// (`examples/multicore_echo.rs --own-drivers`).
///
/// # Examples
///
/// ```
/// let r = sockloop::reactor().unwrap();          // this loop now uses it too
/// let other = std::thread::spawn(move || {
///     sockloop::set_reactor(r).unwrap();         // before the loop runs
///     sockloop::run(async {
///         sockloop::sleep(0.01).await;           // timer on the shared driver
///         "done"
///     })
/// });
/// assert_eq!(other.join().unwrap(), "done");
/// ```
#[derive(Clone)]
pub struct Reactor {
    inner: Arc<Inner>,
}

struct Inner {
    handle: tokio::runtime::Handle,
    /// The runtime when sockloop made it (dropped with the last handle);
    /// `None` for a caller's multi-thread runtime.
    owned: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            // Never block a dropping thread (it may be a loop's TLS teardown).
            rt.shutdown_background();
        }
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("owned", &self.inner.owned.is_some())
            .finish()
    }
}

impl Reactor {
    /// A reactor on a caller's multi-thread runtime (not owned).
    pub(crate) fn borrowed(handle: tokio::runtime::Handle) -> Reactor {
        Reactor {
            inner: Arc::new(Inner {
                handle,
                owned: None,
            }),
        }
    }

    /// A reactor on a runtime sockloop made (dropped with the last handle).
    pub(crate) fn owned(rt: tokio::runtime::Runtime) -> Reactor {
        Reactor {
            inner: Arc::new(Inner {
                handle: rt.handle().clone(),
                owned: Some(rt),
            }),
        }
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    pub(crate) fn same(&self, other: &Reactor) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The Tokio runtime handle of the shared driver, to spawn `Send`
    /// tasks on it or to enter it.
    ///
    /// # Examples
    ///
    /// ```
    /// # std::thread::spawn(|| {
    /// let r = sockloop::reactor().unwrap();
    /// let sum = r.tokio_handle().block_on(async { 2 + 2 });
    /// assert_eq!(sum, 4);
    /// # }).join().unwrap();
    /// ```
    pub fn tokio_handle(&self) -> tokio::runtime::Handle {
        self.inner.handle.clone()
    }
}

/// Where `start`/`run`/`poll` block: this OS thread's own current-thread
/// runtime, or a shared one set with `set_reactor`.
pub(crate) enum Rt {
    Own(tokio::runtime::Runtime, tokio::task::LocalSet),
    Shared(Reactor, tokio::task::LocalSet),
}

impl Rt {
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        match self {
            Rt::Own(rt, local) => local.block_on(rt, f),
            Rt::Shared(r, local) => r.handle().block_on(local.run_until(f)),
        }
    }

    /// The shared reactor this loop uses, if any.
    pub(crate) fn reactor(&self) -> Option<&Reactor> {
        match self {
            Rt::Own(..) => None,
            Rt::Shared(r, _) => Some(r),
        }
    }

    fn local(&self) -> &tokio::task::LocalSet {
        match self {
            Rt::Own(_, l) | Rt::Shared(_, l) => l,
        }
    }
}

/// A loop's runtime: made on first use, or the shared reactor set before.
#[derive(Default)]
pub(crate) struct LoopRt {
    rt: OnceCell<Rt>,
    shared: RefCell<Option<Reactor>>,
    /// `start`/`run`/`poll` is blocking on this loop, or a sync call has
    /// entered its runtime.
    pub(crate) running: Cell<bool>,
}

impl LoopRt {
    /// The runtime `start`/`run`/`poll` block on, created on first use.
    pub(crate) fn get(&self) -> Result<&Rt> {
        if let Some(rt) = self.rt.get() {
            return Ok(rt);
        }
        let made = match self.shared.borrow_mut().take() {
            Some(r) => Rt::Shared(r, tokio::task::LocalSet::new()),
            None => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::from(e).context("cannot build the loop's Tokio runtime"))?;
                Rt::Own(rt, tokio::task::LocalSet::new())
            }
        };
        Ok(self.rt.get_or_init(|| made))
    }

    /// Makes this loop's runtime the shared reactor `r`. Only before the
    /// loop has made its own runtime.
    pub(crate) fn set_shared(&self, r: Reactor) -> Result<()> {
        if let Some(rt) = self.rt.get() {
            if rt.reactor().is_some_and(|cur| cur.same(&r)) {
                return Ok(());
            }
            return Err(Error::with_message(
                ErrorKind::LoopBusy,
                "set_reactor() must be called before this OS thread's loop first runs",
            ));
        }
        *self.shared.borrow_mut() = Some(r);
        Ok(())
    }

    /// The shared reactor this loop uses or will use, if any; `Err` when
    /// the loop already runs on its own driver.
    pub(crate) fn shared_reactor(&self) -> Result<Option<Reactor>> {
        match self.rt.get() {
            Some(rt) => match rt.reactor() {
                Some(r) => Ok(Some(r.clone())),
                None => Err(Error::with_message(
                    ErrorKind::LoopBusy,
                    "this OS thread's loop already runs on its own driver: call reactor() \
                     before its first start/run/resume",
                )),
            },
            None => Ok(self.shared.borrow().clone()),
        }
    }

    /// Enters this loop's runtime and `LocalSet` so synchronous code (a
    /// `resume` from `main`) can poll Tokio futures. `None` when a runtime
    /// is already current.
    #[inline]
    pub(crate) fn enter(&self) -> Result<Option<EnterGuard<'_>>> {
        // Inside the running loop (a thread resuming a thread): one load.
        if self.running.get() {
            return Ok(None);
        }
        self.enter_outside()
    }

    /// [`enter`](Self::enter) from outside the running loop.
    #[inline(never)]
    fn enter_outside(&self) -> Result<Option<EnterGuard<'_>>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Ok(None);
        }
        let rt = self.get()?;
        let rt_guard = match rt {
            Rt::Own(rt, _) => rt.enter(),
            Rt::Shared(r, _) => r.handle().enter(),
        };
        let local_guard = rt.local().enter();
        self.running.set(true);
        Ok(Some(EnterGuard {
            rt: self,
            _local: local_guard,
            _rt: rt_guard,
        }))
    }

    /// Leaves the runtime to the OS: the process is exiting from inside it
    /// (see the loop's `Drop`), where Tokio cannot shut it down.
    pub(crate) fn forget(&mut self) {
        std::mem::forget(self.rt.take());
        std::mem::forget(self.shared.get_mut().take());
    }
}

/// Keeps the loop's runtime entered; see [`LoopRt::enter`].
#[must_use = "the runtime is entered only while the guard lives"]
pub(crate) struct EnterGuard<'a> {
    rt: &'a LoopRt,
    _local: tokio::task::LocalEnterGuard,
    _rt: tokio::runtime::EnterGuard<'a>,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        self.rt.running.set(false);
    }
}
