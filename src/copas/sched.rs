//! Copas' dispatcher on sockloop's loop: threads (`addthread`,
//! `addnamedthread`, `removethread`), the loop (`loop`, `step`,
//! `finished`, `exit`), parking (`pause`, `pauseforever`, `sleep`,
//! `wakeup`) and error handlers.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::Poll;

use crate::context::with_loop;
use crate::error::{Error, ErrorKind, Result};
use crate::Value;
use crate::{clock, currentthread, Thread};

/// A Copas error handler: `function(err, co, skt)`. The third argument is
/// the name of the socket the thread served (a server handler's client),
/// if any.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::copas::{self, ErrorHandler, Timer, TimerOptions};
/// use sockloop::{Error, ErrorKind};
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let s = seen.clone();
/// let handler: ErrorHandler = Rc::new(move |e, _thread, _socket| s.borrow_mut().push(e.name().to_string()));
/// let opts = TimerOptions { delay: 0.01, errorhandler: Some(handler), ..TimerOptions::default() };
/// Timer::new(opts, |_: &Timer| Err::<(), _>(Error::new(ErrorKind::Timeout)))?;
/// copas::run_loop()?;
/// assert_eq!(*seen.borrow(), ["timeout"]);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub type ErrorHandler = Rc<dyn Fn(&Error, &Thread<Value>, Option<&str>)>;

/// How a park ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// [`wakeup`] (or a primitive that handed the thread what it waited for).
    Woken,
    /// The park's time ran out.
    Timeout,
    /// [`Thread::cancel`].
    Cancelled,
}

/// What a parked thread waits on, for [`wakeup`].
enum Parked {
    /// A timed park: its own sleep job.
    Timed(Rc<crate::SleepJob>),
    /// A park without end: the thread is suspended (it does not keep the
    /// loop running, as Copas' sleeping-forever threads).
    Forever,
}

/// The value [`wakeup`] resumes a thread parked forever with; the number
/// tells a stale wake-up from the one of the current park.
struct WakeToken(u64);

/// Copas' loop-wide state, one per sockloop loop (OS thread).
#[derive(Default)]
pub(crate) struct State {
    names: RefCell<HashMap<u64, String>>,
    handlers: RefCell<HashMap<u64, ErrorHandler>>,
    default_handler: RefCell<Option<ErrorHandler>>,
    socket_errors: RefCell<HashSet<u64>>,
    parked: RefCell<HashMap<u64, (u64, Parked)>>,
    removed: RefCell<HashSet<u64>>,
    exiting: Cell<bool>,
    exit_waiters: RefCell<Vec<Thread>>,
    running: Cell<bool>,
    pub(crate) counter: Cell<u64>,
}

/// Copas' state of this OS thread's loop.
pub(crate) fn state() -> Rc<State> {
    with_loop(|l| l.layers.get::<State>())
}

impl State {
    /// A new number, for default names (`copas_queue_3`) and park tokens.
    pub(crate) fn next(&self) -> u64 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }
}

fn not_in_thread(call: &str) -> Error {
    Error::with_message(
        ErrorKind::NotInThread,
        format!("copas::{call} must be called inside a sockloop thread"),
    )
}

/// The current thread, or `"not_in_thread"` naming `call`.
pub(crate) fn me(call: &str) -> Result<Thread> {
    crate::thread::current_as().ok_or_else(|| not_in_thread(call))
}

// ===== threads =====

/// What a Copas thread's body may return: `()`, or a `Result` whose `Err`
/// goes to the thread's error handler (Lua's `error()` in a coroutine).
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::{copas, Error, ErrorKind};
///
/// let handled = Rc::new(Cell::new(0));
/// let h = handled.clone();
/// copas::seterrorhandler(move |_, _, _| h.set(h.get() + 1), true)?;
/// copas::addthread(async {}); // `()`: nothing to report
/// copas::addthread(async { Ok::<u32, Error>(7) }); // `Ok`: nothing either
/// copas::addthread(async {
///     let n: u32 = "x".parse().map_err(|_| Error::new(ErrorKind::InvalidArgument))?;
///     Ok::<u32, Error>(n) // `Err`: goes to the error handler
/// });
/// copas::run_loop()?;
/// assert_eq!(handled.get(), 1);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub trait ThreadResult {
    /// The error to report, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::ThreadResult;
    /// use sockloop::Error;
    ///
    /// assert!(().into_error().is_none());
    /// assert!(Ok::<_, Error>("done").into_error().is_none());
    /// let io = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    /// assert_eq!(io.into_error().map(|e| e.name().to_string()).as_deref(), Some("connection_refused"));
    /// ```
    fn into_error(self) -> Option<Error>;
}

impl ThreadResult for () {
    fn into_error(self) -> Option<Error> {
        None
    }
}

impl<T, E: Into<Error>> ThreadResult for std::result::Result<T, E> {
    fn into_error(self) -> Option<Error> {
        self.err().map(Into::into)
    }
}

/// Runs `fut` as a Copas thread body: stops (dropping `fut`) once the
/// thread is removed, catches a panic and an `Err`, and hands them to the
/// error handler with `socket` (a name) as Copas' `skt`.
async fn body<F>(fut: F, socket: Option<String>)
where
    F: Future + 'static,
    F::Output: ThreadResult,
{
    let Some(me) = crate::thread::current_as::<()>() else {
        return;
    };
    let st = state();
    let mut fut = std::pin::pin!(fut);
    let out = poll_fn(|cx| {
        if st.removed.borrow().contains(&me.id()) {
            return Poll::Ready(None);
        }
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(r.into_error()),
            Err(p) => Poll::Ready(Some(crate::panics::panic_error(me.name(), &p))),
        }
    })
    .await;
    if let Some(e) = out {
        report(&e, &me.untyped(), socket.as_deref());
    }
}

/// Makes a Copas thread: named, cleaned up from Copas' state when it
/// finishes. `now`: run it at once (a server's handler, as Copas runs it
/// inside the accept step); else on the loop's next round (`addthread`).
pub(crate) fn spawn<F>(name: Option<String>, fut: F, socket: Option<String>, now: bool) -> Thread
where
    F: Future + 'static,
    F::Output: ThreadResult,
{
    // The name is the sockloop thread's own (`Thread::name`, panic
    // reports); `setthreadname` renames it for Copas only.
    let t = match name {
        Some(n) => crate::newthread_named(n, body(fut, socket)),
        None => crate::newthread(body(fut, socket)),
    };
    crate::onthreadfinish(&t, |t| {
        let st = state();
        let id = t.id();
        st.names.borrow_mut().remove(&id);
        st.handlers.borrow_mut().remove(&id);
        st.socket_errors.borrow_mut().remove(&id);
        st.parked.borrow_mut().remove(&id);
        st.removed.borrow_mut().remove(&id);
    });
    if now {
        // A panic is caught inside the body; an error of the loop (no
        // LocalSet) leaves the thread new, for `removethread` to drop.
        let _ = crate::resume(&t, ());
    } else {
        let t2 = t.clone();
        crate::runafter(0.0, move || {
            let _ = crate::resume(&t2, ());
        });
    }
    t
}

/// `copas.addthread(func, ...)`: adds `fut` as a new Copas thread and
/// returns it. The thread starts on the loop's next round (not inside
/// this call), after the threads already queued, as Copas' threads start
/// with a `pause()`. Lua's extra arguments are what `fut` captures.
///
/// The body may return `()` or a `Result`: an `Err`, like a panic, goes to
/// the thread's [error handler](seterrorhandler) (by default printed to
/// stderr) and the loop goes on.
///
/// # Panics
///
/// As [`sockloop::runafter`](crate::runafter): inside a Tokio runtime but
/// outside a `LocalSet`.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::copas;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// copas::addthread(async move { l.borrow_mut().push("thread") });
/// log.borrow_mut().push("added");
/// copas::run_loop()?;
/// assert_eq!(*log.borrow(), ["added", "thread"]);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn addthread<F>(fut: F) -> Thread
where
    F: Future + 'static,
    F::Output: ThreadResult,
{
    spawn(None, fut, None, false)
}

/// `copas.addnamedthread(name, func, ...)`: [`addthread`] with a name
/// ([`getthreadname`]).
///
/// # Panics
///
/// As [`addthread`].
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// let t = copas::addnamedthread("worker", async {
///     assert_eq!(copas::getthreadname(None).as_deref(), Some("worker"));
/// });
/// assert_eq!(copas::getthreadname(Some(&t.untyped())).as_deref(), Some("worker"));
/// assert_eq!(t.name(), Some("worker")); // the sockloop thread's own name
/// copas::run_loop()?;
/// // As in Copas, a finished thread keeps its name.
/// assert_eq!(copas::getthreadname(Some(&t.untyped())).as_deref(), Some("worker"));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn addnamedthread<F>(name: &str, fut: F) -> Thread
where
    F: Future + 'static,
    F::Output: ThreadResult,
{
    spawn(Some(name.to_string()), fut, None, false)
}

/// `copas.removethread(co)`: drops a Copas thread the next time it would
/// run: its future is dropped (closing what it owns) without running
/// further, as Copas never resumes a removed coroutine. A thread parked in
/// a Copas or sockloop wait is woken at once for that. A thread that is
/// not a Copas thread (not made by [`addthread`]) is only
/// [cancelled](Thread::cancel); a finished one is left alone.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::copas;
///
/// let reached = Rc::new(Cell::new(false));
/// let r = reached.clone();
/// let t = copas::addthread(async move {
///     copas::pause(3600.0).await;
///     r.set(true);
/// });
/// copas::addthread(async move { copas::removethread(&t) });
/// copas::run_loop()?; // returns at once: nothing waits any more
/// assert!(!reached.get());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn removethread<T>(thread: &Thread<T>) {
    if thread.is_finished() {
        return;
    }
    state().removed.borrow_mut().insert(thread.id());
    thread.cancel();
}

// ===== names =====

/// `copas.setthreadname(name [, co])`: names `thread`, or the current
/// thread when `None`.
///
/// # Errors
///
/// `"not_in_thread"` with `None` outside a sockloop thread.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// copas::addthread(async {
///     copas::setthreadname("renamed", None)?;
///     assert_eq!(copas::getthreadname(None).as_deref(), Some("renamed"));
///     Ok::<(), sockloop::Error>(())
/// });
/// copas::run_loop()?;
/// assert_eq!(copas::setthreadname("x", None).unwrap_err().name(), "not_in_thread");
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn setthreadname(name: &str, thread: Option<&Thread<Value>>) -> Result<()> {
    let t = match thread {
        Some(t) => t.untyped(),
        None => me("setthreadname")?.untyped(),
    };
    state().names.borrow_mut().insert(t.id(), name.to_string());
    Ok(())
}

/// `copas.getthreadname([co])`: the name of `thread` (the current thread
/// when `None`), `None` if it has none.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// let t = copas::addnamedthread("worker", async {});
/// assert_eq!(copas::getthreadname(Some(&t.untyped())).as_deref(), Some("worker"));
/// assert_eq!(copas::getthreadname(None), None); // not inside a thread
/// let inside = sockloop::run(async { copas::getthreadname(None) });
/// assert_eq!(inside.as_deref(), Some("run")); // sockloop::run's own thread
/// # copas::run_loop()?;
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn getthreadname(thread: Option<&Thread<Value>>) -> Option<String> {
    let t = match thread {
        Some(t) => t.untyped(),
        None => currentthread()?,
    };
    name_of(&t)
}

/// A thread's Copas name: its `setthreadname`, else its own name.
fn name_of(t: &Thread<Value>) -> Option<String> {
    let renamed = state().names.borrow().get(&t.id()).cloned();
    renamed.or_else(|| t.name().map(str::to_string))
}

// ===== error handling =====

fn default_report(e: &Error, t: &Thread<Value>, skt: Option<&str>) {
    eprintln!("{}", gettraceback(&e.to_string(), Some(t), skt));
}

/// `copas.gettraceback([msg], [co], [skt])`: the text Copas' default error
/// handler prints: `"msg (coroutine: name, socket: name)"`. Rust keeps no
/// Lua-style traceback; a panic's message carries its location.
///
/// # Examples
///
/// ```
/// let s = sockloop::copas::gettraceback("timeout", None, Some("srv:client_1"));
/// assert_eq!(s, "timeout (coroutine: nil, socket: srv:client_1)");
/// ```
pub fn gettraceback(msg: &str, thread: Option<&Thread<Value>>, socket: Option<&str>) -> String {
    let co = match thread {
        Some(t) => name_of(t).unwrap_or_else(|| format!("thread {}", t.id())),
        None => "nil".to_string(),
    };
    let skt = socket.unwrap_or("nil");
    if msg.is_empty() {
        format!("(coroutine: {co}, socket: {skt})")
    } else {
        format!("{msg} (coroutine: {co}, socket: {skt})")
    }
}

/// `copas.seterrorhandler(func [, default])`: `func(err, thread, socket)`
/// receives the `Err` (or the panic, as `"thread_panicked"`) that ends
/// the current thread; with `default` it becomes the handler of every
/// thread without its own. A panic inside the handler is printed and
/// dropped, as Copas does.
///
/// # Errors
///
/// `"not_in_thread"` when `default` is `false` outside a sockloop thread.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::{copas, Error, ErrorKind};
///
/// let got = Rc::new(RefCell::new(String::new()));
/// let g = got.clone();
/// copas::seterrorhandler(move |e, t, _| {
///     *g.borrow_mut() = format!("{} in {:?}", e.name(), copas::getthreadname(Some(t)));
/// }, true)?;
/// copas::addnamedthread("worker", async { Err::<(), _>(Error::new(ErrorKind::Timeout)) });
/// copas::run_loop()?;
/// assert_eq!(*got.borrow(), "timeout in Some(\"worker\")");
/// copas::clearerrorhandler(true)?;
/// # Ok::<(), sockloop::Error>(())
/// ```
#[doc(alias = "setErrorHandler")]
pub fn seterrorhandler<F>(func: F, default: bool) -> Result<()>
where
    F: Fn(&Error, &Thread<Value>, Option<&str>) + 'static,
{
    let h: ErrorHandler = Rc::new(func);
    let st = state();
    if default {
        *st.default_handler.borrow_mut() = Some(h);
    } else {
        let t = me("seterrorhandler")?;
        st.handlers.borrow_mut().insert(t.id(), h);
    }
    Ok(())
}

/// `copas.seterrorhandler()` (no function): clears the current thread's
/// handler, or with `default` the default one (Copas' printing handler
/// is used again).
///
/// # Errors
///
/// `"not_in_thread"` when `default` is `false` outside a sockloop thread.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// copas::seterrorhandler(|_, _, _| {}, true)?;
/// copas::clearerrorhandler(true)?; // back to printing
/// # Ok::<(), sockloop::Error>(())
/// ```
#[doc(alias = "seterrorhandler")]
pub fn clearerrorhandler(default: bool) -> Result<()> {
    let st = state();
    if default {
        st.default_handler.borrow_mut().take();
    } else {
        let t = me("clearerrorhandler")?;
        st.handlers.borrow_mut().remove(&t.id());
    }
    Ok(())
}

/// `copas.geterrorhandler([co])`: the handler in force for `thread` (the
/// current thread when `None`): its own, else the default, else Copas'
/// printing one.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::{copas, Error, ErrorKind};
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let s = seen.clone();
/// copas::addthread(async move {
///     copas::seterrorhandler(move |e, _, _| s.borrow_mut().push(e.name().to_string()), false)?;
///     // Call the handler in force, as Copas' own code does.
///     let me = sockloop::currentthread().unwrap();
///     copas::geterrorhandler(None)(&Error::new(ErrorKind::Eof), &me, None);
///     Ok::<(), Error>(())
/// });
/// copas::run_loop()?;
/// assert_eq!(*seen.borrow(), ["eof"]);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn geterrorhandler(thread: Option<&Thread<Value>>) -> ErrorHandler {
    let st = state();
    let id = thread
        .map(Thread::id)
        .or_else(|| currentthread().map(|t| t.id()));
    if let Some(h) = id.and_then(|id| st.handlers.borrow().get(&id).cloned()) {
        return h;
    }
    if let Some(h) = st.default_handler.borrow().clone() {
        return h;
    }
    Rc::new(default_report)
}

pub(crate) fn report(e: &Error, t: &Thread<Value>, skt: Option<&str>) {
    let h = geterrorhandler(Some(t));
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| h(e, t, skt))) {
        eprintln!(
            "Failed executing error handler: {}",
            crate::panics::panic_message(&p)
        );
    }
}

/// `copas.useSocketTimeoutErrors(bool)`: per thread, whether a timeout
/// returns the socket's own error text rather than `"timeout"`. In
/// sockloop a timeout is always the error named `"timeout"` (and
/// [`Error::luasocket_str`] is `"timeout"` too; there is no TLS
/// `wantread`), so both settings behave the same; the flag is kept
/// ([`socket_timeout_errors`]) so ported code runs unchanged.
///
/// # Errors
///
/// `"not_in_thread"` outside a sockloop thread.
///
/// # Examples
///
/// ```
/// use sockloop::{copas, luasocket};
/// # sockloop::run(async {
/// copas::usesockettimeouterrors(true)?; // inside a thread
/// let server = luasocket::bind("127.0.0.1", 0, None)?;
/// let c = copas::wrap(luasocket::tcp()?);
/// c.settimeout(Some(0.01))?;
/// c.connect(server.getsockname()?).await?;
/// // Either way, a timeout is the error named "timeout".
/// let e = c.receive("*l").await.unwrap_err();
/// assert_eq!((e.name(), &*e.luasocket_str()), ("timeout", "timeout"));
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// let e = copas::usesockettimeouterrors(true).unwrap_err();
/// assert_eq!(e.name(), "not_in_thread");
/// ```
#[doc(alias = "useSocketTimeoutErrors")]
pub fn usesockettimeouterrors(on: bool) -> Result<()> {
    let t = me("usesockettimeouterrors")?;
    let st = state();
    if on {
        st.socket_errors.borrow_mut().insert(t.id());
    } else {
        st.socket_errors.borrow_mut().remove(&t.id());
    }
    Ok(())
}

/// The current thread's [`usesockettimeouterrors`] flag (`false` outside a
/// thread).
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// assert!(!copas::socket_timeout_errors()); // outside a thread
/// # sockloop::run(async {
/// assert!(!copas::socket_timeout_errors()); // each thread starts with `false`
/// copas::usesockettimeouterrors(true)?;
/// assert!(copas::socket_timeout_errors());
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn socket_timeout_errors() -> bool {
    currentthread().is_some_and(|t| state().socket_errors.borrow().contains(&t.id()))
}

// ===== parking =====

/// Parks the current thread until [`wakeup`], for at most `timeout`
/// seconds (`None`: without end; such a thread does not keep the loop
/// running, as Copas' sleeping-forever threads).
pub(crate) async fn park(timeout: Option<f64>, call: &str) -> Result<Wake> {
    let me = me(call)?;
    let st = state();
    let gen = st.next();
    let was_cancelled = me.is_cancelled();
    let newly_cancelled = || me.is_cancelled() && !was_cancelled;
    let wake = match timeout.filter(|t| t.is_finite()) {
        Some(t) => {
            let sj = Rc::new(crate::sleep_job());
            st.parked
                .borrow_mut()
                .insert(me.id(), (gen, Parked::Timed(sj.clone())));
            let r = sj.sleep(t.max(0.0)).await;
            match r {
                Some(_) => Wake::Woken,
                None if newly_cancelled() => Wake::Cancelled,
                None => Wake::Timeout,
            }
        }
        None => {
            st.parked
                .borrow_mut()
                .insert(me.id(), (gen, Parked::Forever));
            loop {
                let v = crate::try_suspend(()).await?;
                if v.downcast_ref::<WakeToken>().is_some_and(|w| w.0 == gen) {
                    break Wake::Woken;
                }
                if newly_cancelled() {
                    break Wake::Cancelled;
                }
            }
        }
    };
    let mut parked = st.parked.borrow_mut();
    if parked.get(&me.id()).is_some_and(|(g, _)| *g == gen) {
        parked.remove(&me.id());
    }
    Ok(wake)
}

/// `copas.wakeup(co)`: wakes `thread` if it is parked in a Copas wait
/// ([`pause`], [`pauseforever`], [`sleep`], a lock, semaphore or queue);
/// does nothing otherwise. As in Copas, the thread runs on the loop's next
/// round, not inside this call.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::{clock, copas};
///
/// let slept = Rc::new(Cell::new(f64::NAN));
/// let s = slept.clone();
/// let sleeper = copas::addthread(async move { s.set(copas::pause(3600.0).await) });
/// copas::pause(0.01).await; // it parks for an hour
/// copas::wakeup(&sleeper);
/// sleeper.join(clock() + 5.0).await?;
/// assert!(slept.get() < 1.0);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn wakeup<T>(thread: &Thread<T>) {
    let entry = state().parked.borrow_mut().remove(&thread.id());
    let Some((gen, how)) = entry else { return };
    match how {
        Parked::Timed(sj) => {
            crate::runafter(0.0, move || sj.wakeup(()));
        }
        Parked::Forever => {
            let t = thread.untyped();
            crate::runafter(0.0, move || {
                let _ = crate::resume(&t, WakeToken(gen));
            });
        }
    }
}

/// `copas.pause([delay])`: lets the other threads run for `delay`
/// seconds (at least one round; `delay <= 0` is 0) or until [`wakeup`];
/// returns the time it slept, in [`clock()`](crate::clock) seconds.
///
/// Outside a sockloop thread it returns 0 at once.
///
/// # Cancel safety
///
/// Cancel safe: dropping it ends the pause.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::copas;
/// let slept = copas::pause(0.01).await; // other threads run meanwhile
/// assert!(slept >= 0.01);
/// # });
/// ```
pub async fn pause(delay: f64) -> f64 {
    let t0 = clock();
    let d = if delay > 0.0 { delay } else { 0.0 };
    let _ = park(Some(d), "pause").await;
    clock() - t0
}

/// `copas.pauseforever()`: parks until [`wakeup`] (or a
/// [cancel](Thread::cancel)); returns the time it slept. The parked
/// thread does not keep the loop running: [`run_loop`] ends when only
/// such threads remain.
///
/// Outside a sockloop thread it returns 0 at once.
///
/// # Cancel safety
///
/// Cancel safe: dropping it ends the pause.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::copas;
///
/// let woken = Rc::new(Cell::new(false));
/// let w = woken.clone();
/// let sleeper = copas::addthread(async move {
///     copas::pauseforever().await;
///     w.set(true);
/// });
/// copas::run_loop()?; // returns: only a thread parked forever is left
/// assert!(!woken.get());
/// copas::wakeup(&sleeper);
/// copas::run_loop()?;
/// assert!(woken.get());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub async fn pauseforever() -> f64 {
    let t0 = clock();
    let _ = park(None, "pauseforever").await;
    clock() - t0
}

/// `copas.sleep([sleeptime])` (deprecated in Copas): `None` is 0, a
/// negative time sleeps until [`wakeup`] ([`pauseforever`]), else
/// [`pause`].
///
/// # Cancel safety
///
/// Cancel safe.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, copas};
/// let t0 = clock();
/// copas::sleep(Some(0.01)).await;
/// copas::sleep(None).await; // one round
/// assert!(clock() - t0 >= 0.01);
/// # });
/// ```
pub async fn sleep(sleeptime: Option<f64>) {
    match sleeptime {
        Some(s) if s < 0.0 => {
            pauseforever().await;
        }
        s => {
            pause(s.unwrap_or(0.0)).await;
        }
    }
}

// ===== the loop =====

/// `copas.step([timeout])`: one round of the loop: waits up to `timeout`
/// seconds (`None`: until something is ready) for ready I/O, sleeps and
/// timers, runs what is ready and returns `Ok(true)`; `Ok(false)` when the
/// time passed with nothing ready, or at once when nothing waits at all
/// (see [`finished`]).
///
/// # Errors
///
/// `"thread_panicked"` for a panic in a thread that is not a Copas thread
/// (a Copas thread's panic goes to its error handler); `"loop_busy"` when
/// called from inside the loop (a thread, e.g. of
/// [`sockloop::run`](crate::run)) or inside a Tokio runtime: the message
/// names the Copas call and the fix (await the Copas threads in the loop
/// that runs them, or call it from `main`).
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// copas::addthread(async { copas::pause(0.01).await; });
/// while !copas::finished() {
///     copas::step(Some(1.0))?; // an own main loop
/// }
/// assert!(!copas::step(Some(0.0))?); // nothing waits
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn step(timeout: Option<f64>) -> Result<bool> {
    can_block("copas::step()")?;
    match crate::poll(timeout) {
        Ok(ran) => Ok(ran),
        Err(e) if e.kind() == ErrorKind::Empty => Ok(false),
        Err(e) => Err(e),
    }
}

/// `copas.finished()`: `true` when nothing remains to be done: no thread
/// waits on a socket, a timed sleep or a timer, and none is ready to run.
/// Threads parked without end ([`pauseforever`], [`waitforexit`], a lock
/// or queue wait without timeout) do not count, as in Copas.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// assert!(copas::finished());
/// copas::addthread(async {});
/// assert!(!copas::finished()); // it waits for the loop to start it
/// copas::run_loop()?;
/// assert!(copas::finished());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn finished() -> bool {
    with_loop(|l| {
        crate::thread::drop_stale_wakes(l);
        l.idle()
    })
}

/// `copas.loop()` (and `copas()`): runs the loop until [`finished`];
/// then calls [`exit`] (which releases the threads in [`waitforexit`])
/// and runs until finished again. [`running`] is `true` meanwhile. Not
/// async, like [`sockloop::start`](crate::start).
///
/// # Errors
///
/// As [`step`]; the loop stays usable after an error.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// copas::addthread(async {
///     copas::waitforexit().await?; // released when all else is done
///     assert!(copas::exiting());
///     Ok::<(), sockloop::Error>(())
/// });
/// copas::addthread(async { copas::pause(0.01).await; });
/// copas::run_loop()?;
/// assert!(copas::finished());
/// # Ok::<(), sockloop::Error>(())
/// ```
#[doc(alias = "loop", alias = "copas")]
pub fn run_loop() -> Result<()> {
    run_rounds(None)
}

/// `copas.loop(init_func [, timeout])`: [`run_loop`], with `init` run as
/// the thread `"copas_initializer"` and `timeout` the longest each
/// [`step`] waits (it only changes how often the loop checks
/// [`finished`]).
///
/// # Errors
///
/// As [`run_loop`].
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// copas::run_loop_with(async {
///     assert_eq!(copas::getthreadname(None).as_deref(), Some("copas_initializer"));
/// }, None)?;
/// # Ok::<(), sockloop::Error>(())
/// ```
#[doc(alias = "loop")]
pub fn run_loop_with<F>(init: F, timeout: Option<f64>) -> Result<()>
where
    F: Future + 'static,
    F::Output: ThreadResult,
{
    can_block("copas::run_loop_with()")?;
    addnamedthread("copas_initializer", init);
    run_rounds(timeout)
}

/// `"loop_busy"` naming Copas' `call` (not the `poll()` it is made of)
/// when it cannot run the loop here.
fn can_block(call: &str) -> Result<()> {
    with_loop(|l| crate::runtime::check_can_block(l, call))
}

fn run_rounds(timeout: Option<f64>) -> Result<()> {
    can_block("copas::run_loop()")?;
    let st = state();
    st.exiting.set(false);
    st.running.set(true);
    let r = (|| loop {
        step(timeout)?;
        if finished() {
            if exiting() {
                return Ok(());
            }
            exit();
        }
    })();
    st.running.set(false);
    r
}

/// `copas.running`: `true` while [`run_loop`] runs.
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// copas::addthread(async { assert!(copas::running()) });
/// copas::run_loop()?;
/// assert!(!copas::running());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn running() -> bool {
    state().running.get()
}

/// `copas.exit()`: announces that the program is to exit: [`exiting`]
/// becomes `true` and every thread in [`waitforexit`] is released. The
/// loop calls it itself once [`finished`].
///
/// # Examples
///
/// ```
/// use sockloop::copas;
/// # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
/// let waiter = copas::addthread(async { copas::waitforexit().await });
/// copas::addthread(async {
///     copas::pause(0.01).await;
///     copas::exit();
///     assert!(copas::exiting());
/// });
/// copas::run_loop()?;
/// assert!(waiter.is_finished());
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn exit() {
    let st = state();
    if st.exiting.replace(true) {
        return;
    }
    let waiters = std::mem::take(&mut *st.exit_waiters.borrow_mut());
    for t in &waiters {
        wakeup(t);
    }
}

/// `copas.exiting()`: `true` after [`exit`], until the next [`run_loop`].
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::copas;
///
/// let during = Rc::new(Cell::new(true));
/// let d = during.clone();
/// copas::addthread(async move { d.set(copas::exiting()) });
/// copas::run_loop()?;
/// assert!(!during.get()); // not while there was work
/// assert!(copas::exiting()); // the loop called exit() when it finished
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn exiting() -> bool {
    state().exiting.get()
}

/// `copas.waitforexit()`: parks until [`exit`] is called (at once if it
/// was). The parked thread does not keep the loop running.
///
/// # Errors
///
/// `"not_in_thread"` outside a sockloop thread; `"cancelled"`.
///
/// # Cancel safety
///
/// Cancel safe.
///
/// # Examples
///
/// A clean-up that runs once everything else is done:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::copas;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// copas::addthread(async move {
///     copas::waitforexit().await?; // does not keep the loop running
///     l.borrow_mut().push("clean-up");
///     Ok::<(), sockloop::Error>(())
/// });
/// let l = log.clone();
/// copas::addthread(async move {
///     copas::pause(0.01).await;
///     l.borrow_mut().push("work");
/// });
/// copas::run_loop()?;
/// assert_eq!(*log.borrow(), ["work", "clean-up"]);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub async fn waitforexit() -> Result<()> {
    let me = me("waitforexit")?;
    let st = state();
    while !st.exiting.get() {
        st.exit_waiters.borrow_mut().push(me.clone());
        if park(None, "waitforexit").await? == Wake::Cancelled {
            st.exit_waiters.borrow_mut().retain(|t| *t != me);
            return Err(Error::cancelled());
        }
    }
    Ok(())
}

/// `copas.gettime()`: the UNIX time in seconds
/// ([`luasocket::gettime`](crate::luasocket::gettime)). Copas' own waits
/// use [`clock()`](crate::clock).
///
/// # Examples
///
/// ```
/// let t = sockloop::copas::gettime();
/// assert!(t > 1.5e9); // UNIX seconds: after 2017
/// assert!((t - sockloop::luasocket::gettime()).abs() < 60.0);
/// ```
pub fn gettime() -> f64 {
    crate::luasocket::gettime()
}
