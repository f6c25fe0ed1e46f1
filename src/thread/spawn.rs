//! Making and resuming threads: `newthread`, `newthread_with`,
//! `newthread_named`, `thread`, `thread_named`, `try_thread`,
//! [`ThreadBuilder`], `resume`.

use std::any::Any;
use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::env::Env;
use super::handle::Thread;
use super::output::{first_value, store, take_value, ThreadOutput};
use super::state::{BoxFuture, Extra, Park, ThreadInner, ThreadStatus, ThreadWaker};
use super::step::{step, Step};
use crate::context::{with_loop, Loop};
use crate::error::{Error, ErrorKind, Result};
use crate::park_note::{Since, Stamp};
use crate::value::Value;

/// Makes a thread that runs `fut`, **suspended**: nothing runs until it is
/// resumed (`sock.newthread`).
///
/// The future must be `'static` but need not be `Send`. Its output is the
/// thread's result: `()`, a `Result` (so `?` works in the body) or any
/// [`ThreadOutput`]; [`Thread::join`] waits for it, and the [`resume`]
/// during which the thread finishes returns it as a [`Value`].
///
/// **The first resume's value.** Lua's `resume(co, a, b)` on a new
/// coroutine passes `a, b` to the function as arguments. A body made here
/// takes no arguments, so the value of the first [`resume`] (or
/// [`transfer`](crate::transfer)) is dropped: capture what the body needs
/// instead, or use [`newthread_with`], whose body receives that value.
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
///     l.borrow_mut().push(v.get::<&str>().unwrap());
///     l.borrow().len()                                // the thread's result
/// });
/// assert!(log.borrow().is_empty());                 // created suspended
/// let out = sockloop::resume(&t, ()).unwrap().unwrap();
/// assert_eq!(out.get::<&str>().unwrap(), "from a");
/// assert_eq!(*log.borrow(), ["a"]);
/// let out = sockloop::resume(&t, "b").unwrap();     // finishes: its result
/// assert_eq!(out.unwrap().get::<usize>().unwrap(), 2);
/// assert!(t.is_finished());
/// ```
pub fn newthread<F>(fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    ThreadBuilder::new().newthread(fut)
}

/// [`newthread`] with a name (`sock.newthread(f, name)`): see
/// [`Thread::name`].
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread_named("worker", async { panic!("boom") });
/// let e = sockloop::resume(&t, ()).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     format!("thread_panicked: sockloop thread 'worker' (id {}) panicked: boom", t.id())
/// );
/// ```
pub fn newthread_named<F>(name: impl Into<String>, fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    ThreadBuilder::new().name(name).newthread(fut)
}

/// Makes a thread, **suspended**, whose body receives the value of its
/// first [`resume`] (or [`transfer`](crate::transfer)), as a Lua function
/// receives the arguments of the first `resume` (`sock.newthread(f)` +
/// `sock.resume(t, ...)`).
///
/// `f` runs at the first resume, with that value (several Lua arguments:
/// a tuple); a thread started without a value ([`ThreadBuilder::thread`],
/// a first step by the loop) gets `()`. Otherwise as [`newthread`].
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread_with(|args: sockloop::Value| async move {
///     let (a, b) = args.get::<(i32, i32)>()?;     // sock.resume(t, 2, 3)
///     Ok::<i32, sockloop::Error>(a * b)
/// });
/// let out = sockloop::resume(&t, (2, 3)).unwrap().unwrap();
/// assert_eq!(out.get::<sockloop::Result<i32>>().unwrap().unwrap(), 6);
/// ```
pub fn newthread_with<F, Fut>(f: F) -> Thread<Fut::Output>
where
    F: FnOnce(Value) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: ThreadOutput,
{
    ThreadBuilder::new().newthread_with(f)
}

/// Makes a thread and resumes it at once (`sock.thread`): it runs until it
/// first parks, then `thread` returns its handle.
///
/// Lua's extra arguments (`sock.thread(f, a, b)`) are captured by the
/// future: `thread(f(a, b))`. A panic in the thread's first run is
/// reported by the next [`start`](crate::start)/[`run`](crate::run), like
/// any panic of a thread nobody resumed explicitly; its result waits for a
/// [`join`](Thread::join).
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
pub fn thread<F>(fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    ThreadBuilder::new().thread(fut)
}

/// [`thread`] with a name: see [`Thread::name`].
///
/// # Panics
///
/// As [`thread`].
///
/// # Examples
///
/// ```
/// let t = sockloop::thread_named("ticker", async { sockloop::sleep(0.001).await });
/// assert_eq!(t.name(), Some("ticker"));
/// sockloop::start().unwrap();
/// ```
pub fn thread_named<F>(name: impl Into<String>, fut: F) -> Thread<F::Output>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    ThreadBuilder::new().name(name).thread(fut)
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
pub fn try_thread<F>(fut: F) -> Result<Thread<F::Output>>
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    ThreadBuilder::new().try_thread(fut)
}

// ===== impl ThreadBuilder =====

/// Makes threads with options, for the combinations the short functions
/// do not cover (a named thread whose body takes the first resume's value,
/// a named `try_thread`); like `std::thread::Builder`.
///
/// # Examples
///
/// ```
/// let t = sockloop::ThreadBuilder::new()
///     .name("greeter")
///     .newthread_with(|who: sockloop::Value| async move {
///         format!("hello, {}", who.get::<&str>().unwrap_or("nobody"))
///     });
/// let out = sockloop::resume(&t, "ann").unwrap().unwrap();
/// assert_eq!(out.get::<String>().unwrap(), "hello, ann");
/// assert_eq!(t.name(), Some("greeter"));
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a builder makes nothing until one of its thread methods is called"]
pub struct ThreadBuilder {
    name: Option<Box<str>>,
}

impl ThreadBuilder {
    /// A builder for an unnamed thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().newthread(async {});
    /// assert_eq!(t.name(), None);
    /// ```
    pub fn new() -> ThreadBuilder {
        ThreadBuilder::default()
    }

    /// Names the thread (see [`Thread::name`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().name("io").newthread(async {});
    /// assert_eq!(t.name(), Some("io"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> ThreadBuilder {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// [`newthread`](crate::newthread) with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().name("n").newthread(async { 5 });
    /// assert_eq!(sockloop::resume(&t, ()).unwrap().unwrap().get::<i32>().unwrap(), 5);
    /// ```
    pub fn newthread<F>(self, fut: F) -> Thread<F::Output>
    where
        F: Future + 'static,
        F::Output: ThreadOutput,
    {
        with_loop(|l| newthread_in(l, self.name, body(fut)))
    }

    /// [`newthread_with`](crate::newthread_with) with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().newthread_with(|v| async move { v.get::<u8>() });
    /// let out = sockloop::resume(&t, 9u8).unwrap().unwrap();
    /// assert_eq!(out.get::<sockloop::Result<u8>>().unwrap().unwrap(), 9);
    /// ```
    pub fn newthread_with<F, Fut>(self, f: F) -> Thread<Fut::Output>
    where
        F: FnOnce(Value) -> Fut + 'static,
        Fut: Future + 'static,
        Fut::Output: ThreadOutput,
    {
        self.newthread(WithValue::Start { f: Some(f) })
    }

    /// [`thread`](crate::thread) with these options.
    ///
    /// # Panics
    ///
    /// As [`thread`](crate::thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().name("quick").thread(async { 1 + 1 });
    /// assert!(t.is_finished());
    /// ```
    pub fn thread<F>(self, fut: F) -> Thread<F::Output>
    where
        F: Future + 'static,
        F::Output: ThreadOutput,
    {
        match self.try_thread(fut) {
            Ok(t) => t,
            Err(e) => panic!("sockloop::thread: {e}"),
        }
    }

    /// [`try_thread`](crate::try_thread) with these options.
    ///
    /// # Errors
    ///
    /// As [`try_thread`](crate::try_thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::ThreadBuilder::new().name("safe").try_thread(async {}).unwrap();
    /// assert!(t.is_finished());
    /// ```
    pub fn try_thread<F>(self, fut: F) -> Result<Thread<F::Output>>
    where
        F: Future + 'static,
        F::Output: ThreadOutput,
    {
        let fut = body(fut);
        with_loop(|l| {
            let guard = l.rt.enter();
            if let Ok(None) = guard {
                // Inside a runtime (or a running loop): decide before the
                // thread exists whether anything can drive it.
                crate::runtime::ensure_driver(l)?;
            }
            let t = newthread_in(l, self.name, fut);
            match guard {
                Ok(guard) => {
                    // From outside the loop: a round of its own.
                    let _round = guard.as_ref().map(|_| crate::park_note::open_round());
                    if let Step::Panicked(f) = step(l, t.inner.clone(), None) {
                        l.record_failure(f);
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
}

/// Boxes a body, keeping its output in the thread when it returns.
fn body<F>(fut: F) -> BoxFuture
where
    F: Future + 'static,
    F::Output: ThreadOutput,
{
    Box::pin(Body { fut })
}

pin_project_lite::pin_project! {
    /// A thread's body: polls the user's future and keeps its output. (An
    /// `async move { store(fut.await) }` block would hold `fut` twice: 64
    /// bytes more per sleeping thread in `benches/sched.rs`.)
    struct Body<F> {
        #[pin]
        fut: F,
    }
}

impl<F> Future for Body<F>
where
    F: Future,
    F::Output: ThreadOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().fut.poll(cx) {
            Poll::Ready(out) => {
                store(out);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

pin_project_lite::pin_project! {
    /// A [`newthread_with`] body: made at its first poll from the value of
    /// the first resume, then polled.
    #[project = WithValueProj]
    enum WithValue<F, Fut> {
        Start { f: Option<F> },
        Running { #[pin] fut: Fut },
    }
}

impl<F, Fut> Future for WithValue<F, Fut>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        loop {
            match self.as_mut().project() {
                WithValueProj::Start { f } => match f.take() {
                    Some(f) => {
                        let fut = f(first_value());
                        self.set(WithValue::Running { fut });
                    }
                    // Only after a panic in `f`: the thread is finished.
                    None => return Poll::Pending,
                },
                WithValueProj::Running { fut } => return fut.poll(cx),
            }
        }
    }
}

fn newthread_in<T>(l: &Loop, name: Option<Box<str>>, fut: BoxFuture) -> Thread<T> {
    let remote = l.remote().clone();
    let extra = OnceCell::new();
    if name.is_some() {
        let _ = extra.set(Box::new(Extra {
            name,
            ..Extra::default()
        }));
    }
    let inner = l.insert_thread(|key| {
        let wake = Arc::new(ThreadWaker {
            remote,
            key,
            queued: AtomicBool::new(false),
        });
        Rc::new(ThreadInner {
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
            handles: Cell::new(0),
            env: Env::default(),
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                target: "sockloop::thread",
                "sockloop_thread",
                id = key,
                name = extra.get().and_then(|x| x.name.as_deref())
            ),
            extra,
            wait_on: Cell::new(0),
            wait_since: Cell::new(Since::default()),
            wait_deadline: Cell::new(Stamp::NONE),
        })
    });
    crate::trace::debug_event!(
        target: "sockloop::thread",
        parent: &inner.span,
        id = inner.key(),
        name = inner.name(),
        "created"
    );
    Thread::from_inner(inner)
}

// ===== resume =====

/// Resumes a thread (`sock.resume`): runs it **now, synchronously**, until
/// it next parks (suspends, waits on I/O or a timer, or finishes).
///
/// Returns the value the thread passed to [`suspend`](crate::suspend); or,
/// when it finished during this resume, what its body returned (`None`
/// for `()`, as a Lua function that returns nothing; a `Result` body's
/// `Err` comes back as that value too, and counts as taken); `None` when
/// it parked on I/O or a timer.
///
/// `v` is what the thread's pending `suspend` (or `transfer`) returns; on
/// a new thread it goes to a [`newthread_with`] body, and is dropped for
/// one made with [`newthread`].
///
/// # Errors
///
/// * `"thread_busy"`: the thread is running (it is the caller, or on the
///   caller's stack) or waits on I/O or a timer (the loop resumes it).
/// * `"thread_dead"`: the thread has finished.
/// * `"thread_panicked"`: the thread panicked during this resume (the
///   message names it); it is finished now and its finish hooks have run.
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
///         n += v.get::<i32>().unwrap();
///     }
/// });
/// sockloop::resume(&t, ()).unwrap();
/// let v = sockloop::resume(&t, 5).unwrap().unwrap();
/// assert_eq!(v.get::<i32>().unwrap(), 5);
/// let v = sockloop::resume(&t, 2).unwrap().unwrap();
/// assert_eq!(v.get::<i32>().unwrap(), 7);
/// ```
pub fn resume<T, V: Any>(t: &Thread<T>, v: V) -> Result<Option<Value>> {
    resume_inner(&t.inner, Value::new(v), true)
}

/// [`resume`]; `take` says whether a finish value goes to the caller (or
/// stays for a `join`, for a resume nobody waits on).
pub(crate) fn resume_inner(t: &Rc<ThreadInner>, v: Value, take: bool) -> Result<Option<Value>> {
    check_resumable(t)?;
    with_loop(|l| {
        let guard = l.rt.enter()?;
        // A resume from outside the loop (from `main`) is a round of its
        // own: its parks, and those of every thread it resumes in turn,
        // share one clock read.
        let _round = guard.as_ref().map(|_| crate::park_note::open_round());
        if guard.is_none() {
            crate::runtime::ensure_driver(l)?;
        }
        match step(l, t.clone(), Some(v)) {
            Step::Suspended(v) => Ok(v),
            Step::Waiting => Ok(None),
            Step::Finished if take && t.state.get() == ThreadStatus::Finished => Ok(take_value(t)),
            Step::Finished => Ok(None),
            Step::Panicked(f) => Err(f.into_error()),
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
