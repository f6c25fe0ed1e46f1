//! Threads: `newthread`, `thread`, `resume`, `suspend`, `transfer`,
//! `yield_now`, `cowrap`, `currentthread`, `onthreadfinish`, `Thread::env`
//! and recoverable cancellation.
//!
//! A thread is shared state, not a spawned task: its boxed future lives in
//! a cell that `resume` polls inline (Lua's synchronous resume), and its
//! one waker queues it on the loop's FIFO ready queue for wake-ups from I/O
//! and timers, which the loop's driver steps in wake order.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::context::{try_with_loop, with_loop, Key, Loop, Remote};
use crate::error::{Error, ErrorKind, Result};

/// A value passed between threads by `resume`, `suspend`, `transfer` and
/// sleep-job wake-ups: Lua's untyped values, type-erased.
///
/// Get the concrete value back with `downcast`:
/// `*v.downcast::<i32>().unwrap()`, or [`Value`]'s `downcast_ref`.
pub type Value = Box<dyn Any>;

/// Boxes `v` as a [`Value`], without boxing twice when `v` already is one.
pub(crate) fn into_value<V: Any>(v: V) -> Value {
    let b: Box<dyn Any> = Box::new(v);
    match b.downcast::<Value>() {
        Ok(inner) => *inner,
        Err(b) => b,
    }
}

/// Where a thread is in its life, as `coroutine.status` would say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadStatus {
    /// Made by `newthread`, never resumed.
    New,
    /// On the stack: being polled now (the current thread, or one that
    /// resumed the current thread).
    Running,
    /// Parked in `suspend` or `transfer`: can be resumed.
    Suspended,
    /// Parked on I/O, a sleep or a timer: the loop resumes it.
    Waiting,
    /// Finished (returned or panicked).
    Finished,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Park {
    None,
    Suspend,
}

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;
type Hook = Box<dyn FnOnce(&Thread)>;

pub(crate) struct ThreadInner {
    key: Key,
    state: Cell<ThreadStatus>,
    park: Cell<Park>,
    fut: Cell<Option<BoxFuture>>,
    inbox: Cell<Option<Value>>,
    outbox: Cell<Option<Value>>,
    waker: Waker,
    wake: Arc<ThreadWaker>,
    cancel_pending: Cell<bool>,
    cancelled: Cell<bool>,
    /// A cancel was delivered to an `AsyncRead`/`AsyncWrite` poll during
    /// this step (see [`io_cancel`]).
    cancel_io: Cell<bool>,
    panicked: Cell<bool>,
    env: Env,
    // Boxed: 8 bytes per thread instead of 24 for the (rare) hooks.
    #[allow(clippy::box_collection)]
    hooks: RefCell<Option<Box<Vec<Hook>>>>,
}

impl ThreadInner {
    /// Makes a cancel pending (counted per OS thread, see
    /// [`cancels_pending`](crate::context::cancels_pending)).
    fn mark_cancel(&self) {
        if !self.cancel_pending.replace(true) {
            crate::context::count_cancels(1);
        }
    }

    /// Clears a pending cancel; `true` if there was one.
    fn unmark_cancel(&self) -> bool {
        let was = self.cancel_pending.replace(false);
        if was {
            crate::context::count_cancels(-1);
        }
        was
    }
}

/// The waker of one thread: `Send + Sync`, so a reactor on another OS
/// thread may call it; it queues the thread's key on its loop.
pub(crate) struct ThreadWaker {
    remote: Arc<Remote>,
    key: Key,
    queued: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.remote.wake(self.key);
        }
    }
}

/// A handle to a sockloop thread (Lua's coroutine object).
///
/// Cheap to clone; equal handles name the same thread. It is `!Send`:
/// threads belong to the OS thread whose loop made them.
#[derive(Clone)]
pub struct Thread {
    inner: Rc<ThreadInner>,
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

// ===== impl Env =====

/// A per-thread typed map: one value per type (`sock.threadenv`).
///
/// Values are reached through [`Thread::env`].
#[derive(Default)]
pub struct Env {
    // Allocated on first insert: most threads never use their env.
    map: RefCell<Option<Box<EnvMap>>>,
}

type EnvMap = HashMap<TypeId, Box<dyn Any>>;

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("len", &self.map.borrow().as_ref().map_or(0, |m| m.len()))
            .finish()
    }
}

impl Env {
    /// Stores `v`, returning the value of the same type it replaces.
    pub fn insert<T: 'static>(&self, v: T) -> Option<T> {
        let old = self
            .map
            .borrow_mut()
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(v));
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// A clone of the stored value of type `T`.
    pub fn get<T: Clone + 'static>(&self) -> Option<T> {
        self.map
            .borrow()
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// Runs `f` on the stored value of type `T`, if any, and returns its
    /// result. Returns `None` without running `f` when no `T` is stored,
    /// or when called from inside another `with` on the same `Env`.
    pub fn with<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut map = self.map.try_borrow_mut().ok()?;
        let v = map
            .as_mut()?
            .get_mut(&TypeId::of::<T>())?
            .downcast_mut::<T>()?;
        Some(f(v))
    }

    /// Removes and returns the stored value of type `T`.
    pub fn remove<T: 'static>(&self) -> Option<T> {
        let old = self.map.borrow_mut().as_mut()?.remove(&TypeId::of::<T>());
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// `true` if a value of type `T` is stored.
    pub fn contains<T: 'static>(&self) -> bool {
        self.map
            .borrow()
            .as_ref()
            .is_some_and(|m| m.contains_key(&TypeId::of::<T>()))
    }

    /// Takes every value out (the thread finished). The values are
    /// dropped by the caller, after the borrow is released, so a value
    /// whose `Drop` reads the env finds it empty instead of panicking.
    fn take_all(&self) -> Option<Box<EnvMap>> {
        self.map.borrow_mut().take()
    }
}

// ===== making and stepping threads =====

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

/// What one step of a (chain of) thread(s) ended in.
pub(crate) enum Step {
    /// Parked in `suspend` with this value (or in `transfer`: `None`).
    Suspended(Option<Value>),
    /// Parked on I/O, a sleep or a timer.
    Waiting,
    /// Returned.
    Finished,
    /// Panicked (it is finished now).
    Panicked(Box<dyn Any + Send>),
}

/// Polls `t` inline with `input` in its inbox, then follows any chain of
/// `transfer`s (a trampoline, so transfers never nest on the stack).
/// Borrows nothing of the loop while a future is polled.
pub(crate) fn step(l: &Loop, t: Rc<ThreadInner>, input: Option<Value>) -> Step {
    let mut t = t;
    let mut input = input;
    loop {
        let out = step_one(l, &t, input);
        let next = l.transfer.borrow_mut().take();
        match next {
            Some((target, v)) => {
                if let Step::Panicked(p) = out {
                    l.record_panic(p);
                }
                t = target;
                input = Some(v);
            }
            None => return out,
        }
    }
}

fn step_one(l: &Loop, t: &Rc<ThreadInner>, input: Option<Value>) -> Step {
    let was = t.state.replace(ThreadStatus::Running);
    if was == ThreadStatus::Waiting {
        l.waiting_add(-1);
    }
    t.wake.queued.store(false, Ordering::Release);
    t.inbox.set(input);
    t.park.set(Park::None);
    let mut fut = t.fut.take();
    let prev = l.set_current(Some(t.clone()));
    let res = match fut.as_mut() {
        Some(f) => {
            let mut cx = Context::from_waker(&t.waker);
            catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(&mut cx)))
        }
        None => Ok(Poll::Ready(())),
    };
    l.set_current(prev);
    t.cancel_io.set(false);
    drop(t.inbox.take());
    match res {
        Ok(Poll::Pending) => {
            t.fut.set(fut);
            if t.park.replace(Park::None) == Park::Suspend {
                t.state.set(ThreadStatus::Suspended);
                Step::Suspended(t.outbox.take())
            } else {
                t.state.set(ThreadStatus::Waiting);
                l.waiting_add(1);
                // Every entry that steps a thread made sure a driver can
                // run before the body ran; this restarts one that ended
                // meanwhile (after `stop()`), so the error cannot be new.
                let _ = crate::runtime::ensure_driver(l);
                Step::Waiting
            }
        }
        Ok(Poll::Ready(())) => {
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(fut)));
            finish(l, t);
            match dropped {
                Ok(()) => Step::Finished,
                Err(p) => {
                    t.panicked.set(true);
                    Step::Panicked(p)
                }
            }
        }
        Err(p) => {
            t.panicked.set(true);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
            finish(l, t);
            Step::Panicked(p)
        }
    }
}

fn finish(l: &Loop, t: &Rc<ThreadInner>) {
    // A cancel nobody took ends with the thread.
    t.unmark_cancel();
    t.state.set(ThreadStatus::Finished);
    drop(t.outbox.take());
    l.remove_thread(t.key);
    let hooks = t.hooks.borrow_mut().take();
    if let Some(hooks) = hooks {
        let handle = Thread { inner: t.clone() };
        for h in *hooks {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| h(&handle))) {
                l.record_panic(p);
            }
        }
    }
    // sock.lua clears `threadenv[thread]` when the thread ends; here after
    // the hooks, which may still read it.
    let env = t.env.take_all();
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(env))) {
        l.record_panic(p);
    }
}

/// Steps a thread the loop found on its ready queue: only a thread that
/// waits (or a suspended one with a cancel to deliver) is polled; stray
/// wakes of suspended or finished threads are ignored.
pub(crate) fn step_ready(l: &Loop, k: Key) {
    let Some(t) = l.get_thread(k) else { return };
    if !runnable(&t) {
        t.wake.queued.store(false, Ordering::Release);
        return;
    }
    if let Step::Panicked(p) = step(l, t, None) {
        l.record_panic(p);
    }
}

/// `true` if a wake-up of `t` makes it run: it waits, or it is suspended
/// with a cancel to deliver.
fn runnable(t: &ThreadInner) -> bool {
    match t.state.get() {
        ThreadStatus::Waiting => true,
        ThreadStatus::Suspended => t.cancel_pending.get(),
        _ => false,
    }
}

/// Drops queued wake-ups that would run nothing (of finished threads, or
/// of threads already stepped by [`step_waiting_now`]), so that a loop
/// with only those is idle.
pub(crate) fn drop_stale_wakes(l: &Loop) {
    l.retain_ready(|&k| match l.get_thread(k) {
        Some(t) if runnable(&t) => true,
        Some(t) => {
            t.wake.queued.store(false, Ordering::Release);
            false
        }
        None => false,
    });
}

/// Steps a waiting thread now, synchronously (a sleep job's `wakeup`).
/// `Ok(false)` if the thread is not waiting (or no runtime could be made).
///
/// # Errors
///
/// As [`resume`], when nothing could drive the thread after this step:
/// then it has not run.
pub(crate) fn step_waiting_now(t: &Rc<ThreadInner>) -> Result<bool> {
    if t.state.get() != ThreadStatus::Waiting {
        return Ok(false);
    }
    with_loop(|l| {
        let guard = match l.enter() {
            Ok(g) => g,
            Err(_) => return Ok(false),
        };
        if guard.is_none() {
            crate::runtime::ensure_driver(l)?;
        }
        if let Step::Panicked(p) = step(l, t.clone(), None) {
            l.record_panic(p);
        }
        Ok(true)
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

fn check_resumable(t: &ThreadInner) -> Result<()> {
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

/// The `"thread_panicked"` error, with the panic's message.
pub(crate) fn panic_error(p: &Box<dyn Any + Send>) -> Error {
    Error::with_message(ErrorKind::ThreadPanicked, panic_message(p))
}

pub(crate) fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a thread panicked".to_string()
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

/// Consumes `t`'s pending cancel, if any.
fn deliver_cancel(t: &ThreadInner) -> bool {
    if !t.unmark_cancel() {
        return false;
    }
    t.cancelled.set(true);
    t.cancel_io.set(true);
    true
}

/// Consumes a pending cancel of the current sockloop thread: `true` means
/// the caller (a parked sockloop call) must end with `"cancelled"`.
/// Outside a sockloop thread it is always `false`.
#[inline]
pub(crate) fn take_cancel() -> bool {
    if !crate::context::cancels_pending() {
        return false;
    }
    take_cancel_slow()
}

#[inline(never)]
fn take_cancel_slow() -> bool {
    try_with_loop(|l| l.with_current(|t| t.is_some_and(|t| deliver_cancel(t)))).unwrap_or(false)
}

/// For an `AsyncRead`/`AsyncWrite` poll that would park: the error that
/// ends it if the current sockloop thread has been cancelled.
///
/// The cancel is taken as by a sockloop call and reported as an
/// `Interrupted` error (which converts back to `"cancelled"`). Tokio's
/// `io::copy`, like std's I/O helpers, retries `Interrupted` at once; so
/// until the thread parks again, every further poll that would park gets
/// the same cancel as an error of kind `Other` (still named `"cancelled"`),
/// which no helper retries.
pub(crate) fn io_cancel() -> Option<std::io::Error> {
    try_with_loop(|l| {
        l.with_current(|t| {
            let t = t?;
            if deliver_cancel(t) {
                Some(Error::cancelled().into())
            } else if t.cancel_io.get() {
                Some(std::io::Error::other(Error::cancelled()))
            } else {
                None
            }
        })
    })
    .flatten()
}

/// `true` if a cancel has been delivered to the current thread (see
/// [`Thread::cancel`]): after a wait without `Result` (`sleep`,
/// `SleepJob::sleep`, `suspend`) returns, this tells the thread whether it
/// was cancelled. `false` outside a sockloop thread.
pub fn cancelled() -> bool {
    try_with_loop(|l| l.with_current(|t| t.is_some_and(|t| t.cancelled.get()))).unwrap_or(false)
}

// ===== suspend / transfer / yield =====

/// Parks the current thread, handing `v` to whoever resumed it
/// (`sock.suspend`); returns the value of the next [`resume`].
///
/// A suspended thread does not count as waiting: it does not keep
/// [`start`](crate::start) running. If the thread is cancelled while
/// suspended, `suspend` returns early with `()` boxed and [`cancelled()`]
/// is `true`.
///
/// # Panics
///
/// Awaited outside a sockloop thread (there is no `Result` to report that
/// in). [`try_suspend`] is the non-panicking twin.
///
/// # Cancel safety
///
/// Dropping the future while it is parked drops `v` if no resume has
/// taken it yet; the thread is not affected otherwise.
pub async fn suspend<V: Any>(v: V) -> Value {
    match try_suspend(v).await {
        Ok(v) => v,
        Err(e) => panic!("sockloop::suspend awaited outside a sockloop thread: {e}"),
    }
}

/// [`suspend`] that returns `Err` instead of panicking.
///
/// # Errors
///
/// `"not_in_thread"` when awaited outside a sockloop thread.
///
/// # Cancel safety
///
/// As [`suspend`].
pub async fn try_suspend<V: Any>(v: V) -> Result<Value> {
    Park1 {
        state: ParkState::Start(Some(into_value(v)), None),
    }
    .await
}

/// Hands control to `target`, which runs now with `v`; the current thread
/// stays parked (suspended) until something resumes or transfers back to
/// it, and that value is returned (`sock.transfer`, symmetric coroutines).
///
/// A [`resume`] that started a chain of transfers returns when the chain
/// suspends or finishes.
///
/// # Panics
///
/// On misuse, like [`suspend`]: awaited outside a sockloop thread, or
/// `target` is not new or suspended. [`try_transfer`] returns those as `Err`.
///
/// # Cancel safety
///
/// Cancel-safe once parked: dropping it leaves the thread as it is.
pub async fn transfer<V: Any>(target: &Thread, v: V) -> Value {
    match try_transfer(target, v).await {
        Ok(v) => v,
        Err(e) => panic!("sockloop::transfer: {e}"),
    }
}

/// [`transfer`] that returns `Err` instead of panicking.
///
/// # Errors
///
/// `"not_in_thread"` outside a sockloop thread; `"thread_busy"` or
/// `"thread_dead"` when `target` cannot be resumed (see [`resume`]).
///
/// # Cancel safety
///
/// As [`transfer`].
pub async fn try_transfer<V: Any>(target: &Thread, v: V) -> Result<Value> {
    Park1 {
        state: ParkState::Start(Some(into_value(v)), Some(target.inner.clone())),
    }
    .await
}

enum ParkState {
    /// Value to hand out, and the transfer target if any.
    Start(Option<Value>, Option<Rc<ThreadInner>>),
    Parked,
    Done,
}

#[must_use = "futures do nothing unless awaited"]
struct Park1 {
    state: ParkState,
}

impl Future for Park1 {
    type Output = Result<Value>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<Value>> {
        let state = std::mem::replace(&mut self.state, ParkState::Done);
        let out = with_loop(|l| {
            l.with_current(|cur| {
                let Some(cur) = cur else {
                    return Poll::Ready(Err(Error::with_message(
                        ErrorKind::NotInThread,
                        "suspend/transfer called outside a sockloop thread",
                    )));
                };
                match state {
                    ParkState::Start(v, target) => {
                        if let Some(target) = &target {
                            if Rc::ptr_eq(target, cur) {
                                return Poll::Ready(Err(Error::with_message(
                                    ErrorKind::ThreadBusy,
                                    "transfer to the running thread",
                                )));
                            }
                            if let Err(e) = check_resumable(target) {
                                return Poll::Ready(Err(e));
                            }
                        }
                        if deliver_cancel(cur) {
                            return Poll::Ready(Ok(Box::new(()) as Value));
                        }
                        cur.park.set(Park::Suspend);
                        match target {
                            Some(target) => {
                                let v = v.unwrap_or_else(|| Box::new(()));
                                *l.transfer.borrow_mut() = Some((target, v));
                            }
                            None => cur.outbox.set(v),
                        }
                        Poll::Pending
                    }
                    ParkState::Parked | ParkState::Done => {
                        if let Some(v) = cur.inbox.take() {
                            return Poll::Ready(Ok(v));
                        }
                        if deliver_cancel(cur) {
                            return Poll::Ready(Ok(Box::new(()) as Value));
                        }
                        // A stray wake: stay parked.
                        cur.park.set(Park::Suspend);
                        Poll::Pending
                    }
                }
            })
        });
        if out.is_pending() {
            self.state = ParkState::Parked;
        }
        out
    }
}

/// Lets every other ready thread run once, then continues
/// (`sock.yield` outside a generator; see [`cowrap`] for yielding values).
///
/// The thread stays queued, so it counts as waiting. Outside a sockloop
/// thread it behaves like `tokio::task::yield_now`.
///
/// # Cancel safety
///
/// Cancel-safe.
#[doc(alias = "yield")]
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

// ===== cowrap =====

/// A generator made by [`cowrap`]: each `next` resumes the generator's
/// body until it yields a value (or finishes).
///
/// As a [`futures_core::Stream`] (or with [`CoWrap::next`]) the body may also
/// wait on I/O and timers; as an [`Iterator`] it must only yield: a body
/// that would wait ends the iteration.
pub struct CoWrap<T> {
    fut: Option<Pin<Box<dyn Future<Output = ()>>>>,
    slot: Rc<Cell<Option<T>>>,
}

impl<T> fmt::Debug for CoWrap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoWrap")
            .field("finished", &self.fut.is_none())
            .finish()
    }
}

/// The handle a [`cowrap`] body yields values through (`sock.yield(v)`
/// inside a `sock.cowrap` function).
pub struct Yielder<T> {
    slot: Rc<Cell<Option<T>>>,
}

impl<T> fmt::Debug for Yielder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Yielder")
    }
}

impl<T> Clone for Yielder<T> {
    fn clone(&self) -> Self {
        Yielder {
            slot: self.slot.clone(),
        }
    }
}

impl<T> Yielder<T> {
    /// Hands `v` to the consumer and parks until it asks for the next value.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the consumer took `v` loses `v`.
    #[doc(alias = "yield")]
    pub async fn yield_(&self, v: T) {
        self.slot.set(Some(v));
        let slot = &self.slot;
        std::future::poll_fn(|_cx| {
            // Parked until the consumer took the value and polls again.
            let v = slot.take();
            match v {
                Some(v) => {
                    slot.set(Some(v));
                    Poll::Pending
                }
                None => Poll::Ready(()),
            }
        })
        .await
    }
}

/// Makes a generator from `f` (`sock.cowrap`): `f` gets a [`Yielder`] and
/// yields values through it; the returned [`CoWrap`] produces them.
///
/// The generator runs inline in whoever consumes it, like Lua's
/// `coroutine.wrap`, so it can be used both as an `Iterator` (pure
/// generators) and as a `Stream` (generators that also do I/O).
///
/// # Examples
///
/// ```
/// let squares = sockloop::cowrap(|y| async move {
///     for i in 1..=4u32 {
///         y.yield_(i * i).await;
///     }
/// });
/// assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
/// ```
pub fn cowrap<T, F, Fut>(f: F) -> CoWrap<T>
where
    T: 'static,
    F: FnOnce(Yielder<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let slot = Rc::new(Cell::new(None));
    let fut = f(Yielder { slot: slot.clone() });
    CoWrap {
        fut: Some(Box::pin(fut)),
        slot,
    }
}

impl<T> CoWrap<T> {
    fn poll_gen(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(None);
        };
        match fut.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fut = None;
                Poll::Ready(self.slot.take())
            }
            Poll::Pending => match self.slot.take() {
                Some(v) => Poll::Ready(Some(v)),
                None => Poll::Pending,
            },
        }
    }

    /// The next value, waiting while the body waits on I/O or timers;
    /// `None` when the body has finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a value is taken only when returned.
    pub async fn next(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_gen(cx)).await
    }
}

impl<T> Iterator for CoWrap<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.poll_gen(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => {
                // The body waits on something only a loop can deliver:
                // a synchronous iterator cannot wait, so it ends here.
                self.fut = None;
                None
            }
        }
    }
}

impl<T> futures_core::Stream for CoWrap<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_gen(cx)
    }
}

impl<T> Unpin for CoWrap<T> {}
