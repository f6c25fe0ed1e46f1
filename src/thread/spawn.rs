//! Making and resuming threads: `newthread`, `thread`, `try_thread`,
//! `resume`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::Waker;

use super::env::Env;
use super::handle::Thread;
use super::state::{BoxFuture, Park, ThreadInner, ThreadStatus, ThreadWaker};
use super::step::{panic_error, step, Step};
use crate::context::{with_loop, Loop};
use crate::error::{Error, ErrorKind, Result};
use crate::value::{into_value, Value};

/// Makes a thread that runs `fut`, **suspended**: nothing runs until it is
/// resumed (`sock.newthread`).
///
/// The future must be `'static` but need not be `Send`. Arguments that
/// Lua passes to the first `resume` are captured by the future instead;
/// the value of the first [`resume`] is dropped.
///
/// The loop keeps every unfinished thread, also one whose handles have all
/// been dropped (Lua's garbage collector would free an unreachable
/// suspended coroutine; Rust cannot see that): finish or
/// [`cancel`](Thread::cancel) threads you no longer need.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// let t = sockloop::newthread(async move {
///     l.borrow_mut().push("a");
///     let v = sockloop::suspend("from a").await;
///     l.borrow_mut().push(*v.downcast::<&str>().unwrap());
/// });
/// assert!(log.borrow().is_empty());                 // created suspended
/// let out = sockloop::resume(&t, ()).unwrap().unwrap();
/// assert_eq!(*out.downcast::<&str>().unwrap(), "from a");
/// assert_eq!(*log.borrow(), ["a"]);
/// sockloop::resume(&t, "b").unwrap();
/// assert_eq!(*log.borrow(), ["a", "b"]);
/// assert!(t.is_finished());
/// ```
pub fn newthread<F>(fut: F) -> Thread
where
    F: Future<Output = ()> + 'static,
{
    with_loop(|l| newthread_in(l, Box::pin(fut)))
}

fn newthread_in(l: &Loop, fut: BoxFuture) -> Thread {
    let remote = l.remote().clone();
    let inner = l.insert_thread(|key| {
        let wake = Arc::new(ThreadWaker {
            remote,
            key,
            queued: AtomicBool::new(false),
        });
        Rc::new(ThreadInner {
            key,
            state: Cell::new(ThreadStatus::New),
            park: Cell::new(Park::None),
            fut: Cell::new(Some(fut)),
            inbox: Cell::new(None),
            outbox: Cell::new(None),
            waker: Waker::from(wake.clone()),
            wake,
            cancel_pending: Cell::new(false),
            cancelled: Cell::new(false),
            cancel_io: Cell::new(false),
            panicked: Cell::new(false),
            env: Env::default(),
            hooks: RefCell::new(None),
        })
    });
    Thread { inner }
}

/// Makes a thread and resumes it at once (`sock.thread`): it runs until it
/// first parks, then `thread` returns its handle.
///
/// A panic in the thread's first run is reported by the next
/// [`start`](crate::start)/[`run`](crate::run), like any panic of a thread
/// nobody resumed explicitly.
///
/// Inside a Tokio runtime, call it inside a `tokio::task::LocalSet`
/// (`LocalSet::run_until`): the loop's driver runs as a task there.
///
/// # Panics
///
/// Where [`try_thread`] returns `Err`: inside a Tokio runtime where
/// nothing could run the thread once it waits, outside a `LocalSet`
/// (`"no_local_set"`; e.g. directly in `#[tokio::main]` or in a
/// `tokio::spawn` task) or in a runtime without timers (`"not_supported"`).
/// The message names the fix: `LocalSet::run_until`, or `sockloop::run`
/// from synchronous code. `fut` has not run.
///
/// # Examples
///
/// ```
/// let t = sockloop::thread(async {
///     sockloop::sleep(0.01).await;
/// });
/// assert_eq!(t.status(), sockloop::ThreadStatus::Waiting);
/// sockloop::start().unwrap();
/// assert!(t.is_finished());
/// ```
pub fn thread<F>(fut: F) -> Thread
where
    F: Future<Output = ()> + 'static,
{
    match try_thread(fut) {
        Ok(t) => t,
        Err(e) => panic!("sockloop::thread: {e}"),
    }
}

/// [`thread`] that returns `Err` instead of panicking where nothing could
/// run the thread.
///
/// # Errors
///
/// Decided before the thread is made, so `fut` is dropped without running:
/// * `"no_local_set"`: inside a Tokio runtime but outside a
///   `tokio::task::LocalSet`. Run the code inside `LocalSet::run_until`,
///   or drive sockloop from synchronous code with [`run`](crate::run).
/// * `"not_supported"`: inside a Tokio runtime built without timers.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // In a Tokio runtime, but not inside a LocalSet:
/// let e = sockloop::try_thread(async {}).unwrap_err();
/// assert_eq!(e.name(), "no_local_set");
/// // Inside one it runs.
/// let local = tokio::task::LocalSet::new();
/// let t = local.run_until(async { sockloop::try_thread(async {}) }).await.unwrap();
/// assert!(t.is_finished());
/// # });
/// ```
pub fn try_thread<F>(fut: F) -> Result<Thread>
where
    F: Future<Output = ()> + 'static,
{
    with_loop(|l| {
        let guard = l.enter();
        if let Ok(None) = guard {
            // Inside a runtime (or a running loop): decide before the
            // thread exists whether anything can drive it.
            crate::runtime::ensure_driver(l)?;
        }
        let t = newthread_in(l, Box::pin(fut));
        match guard {
            Ok(_guard) => {
                if let Step::Panicked(p) = step(l, t.inner.clone(), None) {
                    l.record_panic(p);
                }
            }
            Err(e) => {
                // No runtime could be made: leave the thread new; the
                // error resurfaces at start().
                let _ = e;
            }
        }
        Ok(t)
    })
}

/// Resumes a thread (`sock.resume`): runs it **now, synchronously**, until
/// it next parks (suspends, waits on I/O or a timer, or finishes), and
/// returns the value it passed to [`suspend`], or `None` if it parked
/// otherwise or finished.
///
/// `v` is what the thread's pending `suspend` (or `transfer`) returns.
///
/// # Errors
///
/// * `"thread_busy"`: the thread is running (it is the caller, or on the
///   caller's stack) or waits on I/O or a timer (the loop resumes it).
/// * `"thread_dead"`: the thread has finished.
/// * `"thread_panicked"`: the thread panicked during this resume; it is
///   finished now and its finish hooks have run.
/// * `"no_local_set"`: called inside a Tokio runtime but outside a
///   `tokio::task::LocalSet`, where nothing could run the thread once it
///   waits. The thread has not run and can be resumed later from inside
///   `LocalSet::run_until` (or from `sockloop::run`).
/// * `"not_supported"`: inside a Tokio runtime built without timers.
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread(async {
///     let mut n = 0;
///     loop {
///         let v = sockloop::suspend(n).await;
///         n += *v.downcast::<i32>().unwrap();
///     }
/// });
/// sockloop::resume(&t, ()).unwrap();
/// let v = sockloop::resume(&t, 5).unwrap().unwrap();
/// assert_eq!(*v.downcast::<i32>().unwrap(), 5);
/// let v = sockloop::resume(&t, 2).unwrap().unwrap();
/// assert_eq!(*v.downcast::<i32>().unwrap(), 7);
/// ```
pub fn resume<V: Any>(t: &Thread, v: V) -> Result<Option<Value>> {
    check_resumable(&t.inner)?;
    with_loop(|l| {
        let guard = l.enter()?;
        if guard.is_none() {
            crate::runtime::ensure_driver(l)?;
        }
        match step(l, t.inner.clone(), Some(into_value(v))) {
            Step::Suspended(v) => Ok(v),
            Step::Waiting | Step::Finished => Ok(None),
            Step::Panicked(p) => Err(panic_error(&p)),
        }
    })
}

pub(super) fn check_resumable(t: &ThreadInner) -> Result<()> {
    match t.state.get() {
        ThreadStatus::New | ThreadStatus::Suspended => Ok(()),
        ThreadStatus::Running => Err(Error::with_message(
            ErrorKind::ThreadBusy,
            "the thread is running (it is the caller or on the caller's stack)",
        )),
        ThreadStatus::Waiting => Err(Error::with_message(
            ErrorKind::ThreadBusy,
            "the thread waits on I/O or a timer; the loop resumes it",
        )),
        ThreadStatus::Finished => Err(Error::with_message(
            ErrorKind::ThreadDead,
            "the thread has finished",
        )),
    }
}
