//! The public thread handle, [`Thread`], and the calls that read a thread
//! from outside: `currentthread`, `onthreadfinish`.

use std::fmt;
use std::rc::Rc;

use super::env::Env;
use super::state::{ThreadInner, ThreadStatus};
use crate::context::{try_with_loop, with_loop};

/// A handle to a sockloop thread (Lua's coroutine object).
///
/// Cheap to clone; equal handles name the same thread. It is `!Send`:
/// threads belong to the OS thread whose loop made them.
#[derive(Clone)]
pub struct Thread {
    pub(super) inner: Rc<ThreadInner>,
}

impl PartialEq for Thread {
    fn eq(&self, other: &Thread) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Thread {}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("status", &self.status())
            .finish()
    }
}

// ===== impl Thread =====

impl Thread {
    pub(crate) fn from_inner(inner: Rc<ThreadInner>) -> Thread {
        Thread { inner }
    }

    /// A number naming this thread, unique among the live threads of its loop.
    pub fn id(&self) -> u64 {
        self.inner.key
    }

    /// Where the thread is in its life.
    pub fn status(&self) -> ThreadStatus {
        self.inner.state.get()
    }

    /// `true` once the thread has returned or panicked.
    pub fn is_finished(&self) -> bool {
        self.inner.state.get() == ThreadStatus::Finished
    }

    /// `true` if the thread finished by panicking.
    pub fn is_panicked(&self) -> bool {
        self.inner.panicked.get()
    }

    /// `true` once a [`cancel`](Thread::cancel) has been delivered to one
    /// of the thread's calls.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.get()
    }

    /// The thread's environment: a typed map, one value per type
    /// (`sock.threadenv[thread]`).
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
    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// Cancels the thread, recoverably: the sockloop call it is parked in
    /// (socket I/O, `sleep`, a sleep job, `suspend`, `transfer`) wakes now.
    /// A call that returns `Result` returns `Err` named `"cancelled"`; a
    /// wait without `Result` returns early and [`cancelled()`] then says
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
                t.cancel_pending.set(true);
                t.waker.wake_by_ref();
                // Inside a caller's runtime a suspended thread may have no
                // driver to deliver the cancel yet.
                with_loop(|l| crate::runtime::ensure_driver_or_panic(l, "Thread::cancel"));
            }
            ThreadStatus::New | ThreadStatus::Running => t.cancel_pending.set(true),
        }
    }

    pub(crate) fn inner(&self) -> &Rc<ThreadInner> {
        &self.inner
    }
}

/// The thread being run now (`sock.currentthread`), or `None` outside a
/// sockloop thread.
pub fn currentthread() -> Option<Thread> {
    try_with_loop(|l| l.current().map(Thread::from_inner)).flatten()
}

/// Runs `f` when `t` finishes, returns or panics (`sock.onthreadfinish`).
/// Hooks run in the order they were added. On an already finished thread,
/// `f` runs at once.
pub fn onthreadfinish<F>(t: &Thread, f: F)
where
    F: FnOnce(&Thread) + 'static,
{
    if t.is_finished() {
        f(t);
    } else {
        t.inner
            .hooks
            .borrow_mut()
            .get_or_insert_with(Box::default)
            .push(Box::new(f));
    }
}
