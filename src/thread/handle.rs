//! The public thread handle, [`Thread`], and the calls that read a thread
//! from outside: `currentthread`, `onthreadfinish`.

use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use super::env::Env;
use super::output::{error, poll_join, report_if_orphaned};
use super::state::{ThreadInner, ThreadStatus};
use crate::context::{try_with_loop, with_loop};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

/// A handle to a sockloop thread (Lua's coroutine object); `T` is what the
/// thread's body returns, `()` by default.
///
/// Cheap to clone; equal handles name the same thread (also across
/// types). [`join`](Thread::join) waits for the thread's result. A handle
/// whose output type is not known (from [`currentthread`], a finish hook
/// of an erased handle) is a `Thread<Value>`: its `join` gives the result
/// as a [`Value`]; [`untyped`](Thread::untyped) makes one from any handle,
/// to keep threads of different outputs in one collection.
///
/// # Send
///
/// `!Send` and `!Sync`: a thread belongs to the OS thread whose loop made
/// it. [`remote`](Thread::remote) gives a `Send` handle for cancelling or
/// resuming it from another OS thread.
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let worker = sockloop::thread_named("adder", async {
///         sockloop::sleep(0.001).await;
///         Ok::<u32, sockloop::Error>(2 + 2)
///     });
///     assert_eq!(worker.name(), Some("adder"));
///     let sum = worker.join(sockloop::clock() + 5.0).await.unwrap()?; // Result<Result<u32>>
///     assert_eq!(sum, 4);
///     Ok::<(), sockloop::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Thread<T = ()> {
    pub(super) inner: Rc<ThreadInner>,
    _output: PhantomData<fn() -> T>,
}

super::output::generic_outputs!(Thread<T>);

impl<T> Clone for Thread<T> {
    fn clone(&self) -> Self {
        Thread::from_inner(self.inner.clone())
    }
}

impl<T> Drop for Thread<T> {
    fn drop(&mut self) {
        let t = &self.inner;
        let n = t.handles.get().saturating_sub(1);
        t.handles.set(n);
        if n == 0 && t.state.get() == ThreadStatus::Finished {
            // The last handle: nobody can take an `Err` result any more.
            let _ = try_with_loop(|l| report_if_orphaned(l, t));
        }
    }
}

impl<T, U> PartialEq<Thread<U>> for Thread<T> {
    fn eq(&self, other: &Thread<U>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Eq for Thread<T> {}

impl<T> std::hash::Hash for Thread<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Rc::as_ptr(&self.inner).hash(state);
    }
}

impl<T> fmt::Debug for Thread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Thread");
        d.field("id", &self.id());
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("status", &self.status()).finish()
    }
}

// ===== impl Thread =====

impl<T> Thread<T> {
    pub(crate) fn from_inner(inner: Rc<ThreadInner>) -> Thread<T> {
        inner.handles.set(inner.handles.get().saturating_add(1));
        Thread {
            inner,
            _output: PhantomData,
        }
    }

    /// A handle to the same thread whose [`join`](Thread::join) gives the
    /// result as a [`Value`]: for collections of threads with different
    /// outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::thread(async { 1u8 });
    /// let b = sockloop::thread(async { "two" });
    /// let all: Vec<sockloop::Thread<sockloop::Value>> = vec![a.untyped(), b.untyped()];
    /// assert!(all.iter().all(|t| t.is_finished()));
    /// assert_eq!(all[0], a);
    /// ```
    pub fn untyped(&self) -> Thread<Value> {
        Thread::from_inner(self.inner.clone())
    }

    /// A number naming this thread, unique among the live threads of its loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = sockloop::newthread(async {});
    /// let b = sockloop::newthread(async {});
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.key()
    }

    /// The name given at creation ([`newthread_named`](crate::newthread_named),
    /// [`thread_named`](crate::thread_named), [`ThreadBuilder::name`](crate::ThreadBuilder::name);
    /// sock's `newthread(f, name)`), if any. It appears in `Debug` and in
    /// the report of a panic or an error that ends the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread_named("reader", async {});
    /// assert_eq!(t.name(), Some("reader"));
    /// assert!(format!("{t:?}").contains("reader"));
    /// assert_eq!(sockloop::newthread(async {}).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Where the thread is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::ThreadStatus;
    ///
    /// let t = sockloop::newthread(async { sockloop::suspend(()).await; });
    /// assert_eq!(t.status(), ThreadStatus::New);
    /// sockloop::resume(&t, ()).unwrap();
    /// assert_eq!(t.status(), ThreadStatus::Suspended);
    /// sockloop::resume(&t, ()).unwrap();
    /// assert_eq!(t.status(), ThreadStatus::Finished);
    /// ```
    pub fn status(&self) -> ThreadStatus {
        self.inner.state.get()
    }

    /// `true` once the thread has returned or panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::thread(async {});
    /// assert!(t.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.state.get() == ThreadStatus::Finished
    }

    /// `true` if the thread finished by panicking.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async { panic!("boom") });
    /// assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "thread_panicked");
    /// assert!(t.is_panicked());
    /// ```
    pub fn is_panicked(&self) -> bool {
        self.inner.panicked.get()
    }

    /// `true` once a [`cancel`](Thread::cancel) has been delivered to one
    /// of the thread's calls.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::thread(async { sockloop::sleep(3600.0).await });
    /// assert!(!t.is_cancelled());
    /// t.cancel();
    /// sockloop::start().unwrap();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.get()
    }

    /// How the thread ended badly, if it did: `"thread_panicked"` with the
    /// panic's message, or `"thread_failed"` when its body returned `Err`
    /// (with that error's text). Both name the thread. `None` while it
    /// runs and after a normal return.
    ///
    /// This is how an [`onthreadfinish`] hook sees why a thread ended. It
    /// does not take the result: [`join`](Thread::join) still gets the
    /// `Err` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let seen = Rc::new(RefCell::new(None));
    /// let s = seen.clone();
    /// let t = sockloop::newthread_named("fetch", async {
    ///     Err::<(), _>(sockloop::Error::from(sockloop::ErrorKind::ConnectionRefused))
    /// });
    /// sockloop::onthreadfinish(&t, move |t| *s.borrow_mut() = t.error());
    /// sockloop::resume(&t, ()).unwrap();
    /// let e = seen.borrow_mut().take().unwrap();
    /// assert_eq!(e.name(), "thread_failed");
    /// assert_eq!(
    ///     e.to_string(),
    ///     format!("thread_failed: sockloop thread 'fetch' (id {}) returned Err: connection_refused", t.id())
    /// );
    /// ```
    pub fn error(&self) -> Option<Error> {
        error(&self.inner)
    }

    /// The thread's environment: a typed map, one value per type
    /// (`sock.threadenv[thread]`; see [`Env`]).
    ///
    /// The environment is emptied (its values dropped) when the thread
    /// finishes, after its [`onthreadfinish`] hooks ran (they can still
    /// read it), as sock.lua clears `threadenv[thread]`. A value inserted
    /// after that stays until the last handle is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {
    ///     let me = sockloop::currentthread().unwrap();
    ///     let name: String = me.env().get().unwrap_or_default();
    ///     assert_eq!(name, "worker");
    /// });
    /// t.env().insert(String::from("worker"));
    /// sockloop::resume(&t, ()).unwrap();
    /// assert!(t.is_finished());
    /// assert!(!t.env().contains::<String>()); // cleared at the finish
    /// ```
    #[doc(alias = "threadenv")]
    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// Cancels the thread, recoverably: the sockloop call it is parked in
    /// (socket I/O, `sleep`, a sleep job, `suspend`, `transfer`) wakes now.
    /// A call that returns `Result` returns `Err` named `"cancelled"`; a
    /// wait without `Result` returns early and [`cancelled()`](crate::cancelled) then says
    /// why. If the thread is not parked in a sockloop call, the cancel is
    /// delivered to the next one that parks. It is delivered once.
    ///
    /// The thread keeps running: it can send a goodbye, close its sockets
    /// and finish normally. Cancelling a finished thread does nothing.
    ///
    /// # Panics
    ///
    /// Inside a Tokio runtime, when the cancel of a parked thread needs a
    /// driver and none can run: outside a `tokio::task::LocalSet` (the
    /// message names the fix: `LocalSet::run_until`, or `sockloop::run`
    /// from synchronous code), or in a runtime built without timers. The
    /// cancel stays pending for the next driver. Not on a thread that is
    /// already panicking (a `cancel` in a `Drop` during unwinding).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::cell::Cell;
    ///
    /// let cleaned = Rc::new(Cell::new(false));
    /// let c = cleaned.clone();
    /// let t = sockloop::thread(async move {
    ///     sockloop::sleep(3600.0).await;          // returns early when cancelled
    ///     assert!(sockloop::cancelled());
    ///     c.set(true);                            // clean up, then finish normally
    /// });
    /// t.cancel();
    /// sockloop::start().unwrap();
    /// assert!(cleaned.get());
    /// ```
    pub fn cancel(&self) {
        let t = &self.inner;
        match t.state.get() {
            ThreadStatus::Finished => {}
            ThreadStatus::Waiting | ThreadStatus::Suspended => {
                t.mark_cancel();
                t.waker.wake_by_ref();
                // Inside a caller's runtime a suspended thread may have no
                // driver to deliver the cancel yet.
                with_loop(|l| crate::runtime::ensure_driver_or_panic(l, "Thread::cancel"));
            }
            ThreadStatus::New | ThreadStatus::Running => t.mark_cancel(),
        }
    }

    pub(crate) fn inner(&self) -> &Rc<ThreadInner> {
        &self.inner
    }
}

impl<T: 'static> Thread<T> {
    /// Waits until the thread finishes and takes what its body returned
    /// (a `Result` body's `Err` included: `join(..).await?` then gives the
    /// body's own `Result`).
    ///
    /// `expires` is an absolute [`clock()`](crate::clock) time (seconds
    /// since boot, e.g. `clock() + 5.0`), not a duration; `None` waits
    /// without a deadline. Joining counts as waiting: it keeps
    /// [`start`](crate::start) running until the thread finishes. A thread
    /// that finished before `join` is called gives its result at once.
    ///
    /// The result is taken once: by the first `join` (or by the
    /// [`resume`](crate::resume) during which the thread finished). For a
    /// `()` body every `join` gets `()`.
    ///
    /// # Errors
    ///
    /// * `"timeout"`: `expires` passed first; the thread runs on, and a
    ///   later `join` can still take its result.
    /// * `"cancelled"`: the joining thread was [cancelled](Thread::cancel).
    /// * `"thread_panicked"`: the thread panicked (the message names it).
    /// * `"thread_dead"`: its result was already taken.
    /// * `"thread_busy"`: a thread joining itself.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the result is taken only when `join` returns it.
    ///
    /// # Send
    ///
    /// The future is not `Send` (it borrows the `!Send` handle): await it in
    /// a sockloop thread or a `LocalSet` task.
    ///
    /// # Examples
    ///
    /// ```
    /// sockloop::run(async {
    ///     let t = sockloop::thread(async {
    ///         sockloop::sleep(0.01).await;
    ///         "done"
    ///     });
    ///     let e = t.join(sockloop::clock()).await.unwrap_err(); // deadline already past
    ///     assert_eq!(e.name(), "timeout");
    ///     assert_eq!(t.join(None).await.unwrap(), "done");
    ///     assert_eq!(t.join(None).await.unwrap_err().name(), "thread_dead");
    /// });
    /// ```
    pub async fn join(&self, expires: impl Into<Option<f64>>) -> Result<T> {
        let expires = expires.into();
        let me = &self.inner;
        let is_me = try_with_loop(|l| l.with_current(|c| c.is_some_and(|c| Rc::ptr_eq(c, me))))
            .unwrap_or(false);
        if is_me {
            return Err(Error::with_message(
                ErrorKind::ThreadBusy,
                "a thread cannot join itself",
            ));
        }
        Deadline::run(expires, std::future::poll_fn(|cx| poll_join(me, cx))).await
    }
}

/// The thread being run now (`sock.currentthread`), or `None` outside a
/// sockloop thread.
///
/// Its output type is not known here, so the handle is a
/// `Thread<Value>` (see [`Thread::untyped`]).
///
/// # Examples
///
/// ```
/// assert!(sockloop::currentthread().is_none()); // plain code
/// let t = sockloop::newthread_named("me", async {
///     let me = sockloop::currentthread().unwrap();
///     assert_eq!(me.name(), Some("me"));
/// });
/// sockloop::resume(&t, ()).unwrap();
/// assert!(t.is_finished() && !t.is_panicked());
/// ```
pub fn currentthread() -> Option<Thread<Value>> {
    current_as()
}

/// [`currentthread`] with the output type a caller knows it has (a layer
/// such as `copas`, whose thread bodies all return `()`).
pub(crate) fn current_as<T>() -> Option<Thread<T>> {
    try_with_loop(|l| l.current().map(Thread::from_inner)).flatten()
}

/// Runs `f` when `t` finishes, returns or panics (`sock.onthreadfinish`).
/// Hooks run in the order they were added. On an already finished thread,
/// `f` runs at once. A hook sees why the thread ended in
/// [`Thread::error`], and can still read its [`env`](Thread::env).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let done = Rc::new(Cell::new(false));
/// let d = done.clone();
/// let t = sockloop::thread(async { sockloop::sleep(0.001).await });
/// sockloop::onthreadfinish(&t, move |t| d.set(t.is_finished()));
/// sockloop::start().unwrap();
/// assert!(done.get());
/// ```
pub fn onthreadfinish<T, F>(t: &Thread<T>, f: F)
where
    T: 'static,
    F: FnOnce(&Thread<T>) + 'static,
{
    if t.is_finished() {
        f(t);
    } else {
        let hook = move |th: &Rc<ThreadInner>| f(&Thread::from_inner(th.clone()));
        t.inner.extra().hooks.borrow_mut().push(Box::new(hook));
    }
}
