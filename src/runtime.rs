//! The loop: `start`, `stop`, `poll`, `run`, and the driver that steps
//! woken threads in wake order and fires timers in deadline order.
//!
//! Standalone, `start`/`run`/`poll` block this OS thread on its own
//! current-thread runtime and `LocalSet` (or a shared reactor). Inside a
//! program that already runs a Tokio runtime and a `LocalSet`, a driver
//! task is spawned on that `LocalSet` before a thread first runs (or a
//! timer is queued), and ends when nothing waits any more. Inside a Tokio
//! runtime without a `LocalSet` nothing could drive threads: the calls
//! that would start one refuse with `"no_local_set"` instead.

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use crate::context::{try_with_loop, with_loop, Loop};
use crate::error::{Error, ErrorKind, Result};
use crate::panics::{catch_quietly, panic_message, Failure};
use crate::thread::{step_ready, ThreadStatus};
use crate::timers::{fire_one, next_deadline};

/// How many threads/timers a driver runs per poll before it lets Tokio
/// poll I/O and other tasks. Tokio's own schedulers poll the kernel every
/// 61 tasks; at 500 busy connections 256 gave twice Tokio's p99 latency
/// and 61 gave 0.85× of it (BENCHMARKS.md).
const BUDGET: usize = 61;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `start()`: until nothing waits or `stop()`.
    UntilIdle,
    /// A task on a caller's `LocalSet`: until nothing waits.
    Embedded,
}

#[must_use = "futures do nothing unless awaited"]
struct Driver {
    mode: Mode,
    timer: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    /// This driver's waker is registered with the loop. A driver is always
    /// polled by the same task (or `block_on`), so it registers once:
    /// `Waker::will_wake` can answer "no" for the same waker (its vtable may
    /// exist twice in a binary), which cost a lock and a clone per round.
    entered: bool,
}

impl Driver {
    /// `timer`: a Tokio timer made beforehand (any deadline), re-armed at
    /// the first park; `None` makes one when first needed.
    fn new(mode: Mode, timer: Option<Pin<Box<Sleep>>>) -> Driver {
        Driver {
            mode,
            timer,
            armed: None,
            entered: false,
        }
    }

    /// Arms the timer for the next deadline and marks the driver parked.
    /// `true` means something became ready meanwhile: loop again instead
    /// of returning `Pending`.
    fn park(&mut self, l: &Loop, cx: &mut Context<'_>) -> bool {
        if let Some(at) = next_deadline(l) {
            if self.arm(at, cx) {
                return true;
            }
        }
        l.driver_park();
        if l.ready_len() > 0 {
            self.enter(l, cx);
            return true;
        }
        false
    }

    /// Marks the driver running, registering its waker on the first poll.
    #[inline]
    fn enter(&mut self, l: &Loop, cx: &mut Context<'_>) {
        if self.entered {
            l.driver_reenter();
        } else {
            l.driver_enter(cx.waker());
            self.entered = true;
        }
    }

    /// Arms the Tokio timer for `at`; `true` if it has already fired.
    fn arm(&mut self, at: Instant, cx: &mut Context<'_>) -> bool {
        match &mut self.timer {
            Some(t) if self.armed == Some(at) => t.as_mut().poll(cx).is_ready(),
            Some(t) => {
                t.as_mut().reset(at);
                self.armed = Some(at);
                t.as_mut().poll(cx).is_ready()
            }
            None => {
                let mut t = Box::pin(tokio::time::sleep_until(at));
                self.armed = Some(at);
                let ready = t.as_mut().poll(cx).is_ready();
                self.timer = Some(t);
                ready
            }
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let _round = crate::park_note::open_round();
        this.round(cx)
    }
}

impl Driver {
    /// One poll of the driver: steps ready threads, fires timers, parks.
    fn round(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        with_loop(|l| {
            this.enter(l, cx);
            l.out_of_budget.set(false);
            let mut n = 0;
            loop {
                if l.stop.get() {
                    l.driver_exit();
                    return Poll::Ready(());
                }
                if n >= BUDGET {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                if let Some(k) = l.pop_ready() {
                    step_ready(l, k);
                    n += 1;
                    // Tokio's budget is spent: stepping on would only
                    // requeue threads (see `thread::step`).
                    if l.out_of_budget.get() {
                        n = BUDGET;
                    }
                    continue;
                }
                // The clock is read only when a timer is queued.
                if next_deadline(l).is_some() && fire_one(l, Instant::now()) {
                    n += 1;
                    continue;
                }
                if l.idle() {
                    l.driver_exit();
                    return Poll::Ready(());
                }
                if this.park(l, cx) {
                    continue;
                }
                return Poll::Pending;
            }
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.mode == Mode::Embedded {
            let _ = try_with_loop(|l| l.embedded.set(false));
        }
    }
}

/// Makes sure something will step the threads that a wake-up queues.
///
/// Inside a caller's Tokio runtime and `LocalSet`, spawns a driver task on
/// it (unless one runs). Standalone, the queue waits for the next
/// `start`/`run`/`poll`, and this does nothing.
///
/// # Errors
///
/// Inside a Tokio runtime, when no driver could ever run:
/// * `"no_local_set"`: the caller is not inside a `LocalSet`;
/// * `"not_supported"`: the runtime was built without timers.
#[inline]
pub(crate) fn ensure_driver(l: &Loop) -> Result<()> {
    if l.rt.running.get() || l.embedded.get() {
        return Ok(());
    }
    spawn_driver(l)
}

/// [`ensure_driver`] when no driver runs: out of line, so the check above
/// costs two loads on every park.
#[inline(never)]
fn spawn_driver(l: &Loop) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(());
    }
    // Tokio has no fallible twin of either call: a timer made now (the
    // driver's own, re-armed later) proves timers are on, and
    // `spawn_local` outside a `LocalSet` panics.
    let timer = catch_quietly(|| Box::pin(tokio::time::sleep_until(Instant::now())))
        .map_err(|_| timers_disabled())?;
    let spawned =
        catch_quietly(move || tokio::task::spawn_local(Driver::new(Mode::Embedded, Some(timer))));
    if spawned.is_err() {
        return Err(no_local_set());
    }
    l.embedded.set(true);
    l.stop.set(false);
    Ok(())
}

/// [`ensure_driver`] for calls with no `Result` to report in: panics with
/// `what` and the error. On a thread that is already panicking (a call
/// made from a `Drop` during unwinding) it does nothing instead, since a
/// second panic would abort.
///
/// # Panics
///
/// When [`ensure_driver`] fails.
pub(crate) fn ensure_driver_or_panic(l: &Loop, what: &str) {
    if let Err(e) = ensure_driver(l) {
        if !std::thread::panicking() {
            panic!("{what}: {e}");
        }
    }
}

/// `"no_local_set"`, naming the two fixes.
pub(crate) fn no_local_set() -> Error {
    Error::with_message(
        ErrorKind::NoLocalSet,
        "inside a Tokio runtime, sockloop threads and timers need a tokio::task::LocalSet \
         to run on, and this code is not inside one: run it inside \
         `LocalSet::run_until(..)` (or `LocalSet::block_on`), or drive sockloop from \
         synchronous code with `sockloop::run`/`sockloop::start` instead of a Tokio runtime",
    )
}

/// `"not_supported"`: a caller's runtime without timers.
fn timers_disabled() -> Error {
    Error::with_message(
        ErrorKind::NotSupported,
        "the current Tokio runtime has timers disabled and sockloop needs them: \
         build it with `enable_time()` (or `enable_all()`)",
    )
}

/// `"loop_busy"` unless `what` (a call that runs the loop) may block
/// here: not inside the running loop, not inside a Tokio runtime. The
/// message names `what` and the fix.
pub(crate) fn check_can_block(l: &Loop, what: &str) -> Result<()> {
    if l.rt.running.get() {
        return Err(Error::with_message(
            ErrorKind::LoopBusy,
            format!(
                "{what} called while this OS thread's loop is already running (the caller \
                 runs inside it, e.g. in a thread of sockloop::run): that loop already runs \
                 every thread, so await them there instead (`.await` or `Thread::join`), or \
                 call {what} from main, outside any loop"
            ),
        ));
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::with_message(
            ErrorKind::LoopBusy,
            format!(
                "{what} called inside a Tokio runtime: there the caller's runtime drives \
                 sockloop threads (await them instead)"
            ),
        ));
    }
    Ok(())
}

/// Runs the driver until nothing waits or `stop()`; returns the failures
/// nobody was told about (panics of threads nobody resumed explicitly,
/// `Err` results nobody can join). A `stop()` made while no `start`
/// ran makes this one poll once and return, as sock.lua's `start`
/// (`repeat poll() until stop`); either way the request is used up.
fn start_inner(l: &Loop) -> Result<Vec<Failure>> {
    check_can_block(l, "start()")?;
    let rt = l.rt.get()?;
    let stopped_before = l.stop.replace(false);
    l.rt.running.set(true);
    let res = catch_unwind(AssertUnwindSafe(|| {
        if !stopped_before {
            rt.block_on(Driver::new(Mode::UntilIdle, None));
        } else if !l.idle() {
            rt.block_on(OneRound::new(None));
        }
    }));
    l.rt.running.set(false);
    // Used up, also a `socketloop::stop()` that this start honoured.
    l.stop.set(false);
    l.compat_stop.set(false);
    l.driver_exit();
    if let Err(p) = res {
        resume_unwind(p);
    }
    Ok(l.take_failures())
}

/// Runs the loop until every thread has finished or [`stop`] is called
/// (`sock.start`).
///
/// Only threads that wait on I/O, a sleep or a timer, and live timers,
/// keep it running: a thread parked in [`suspend`](crate::suspend) does
/// not. The loop stays usable after `start` returns, also after an error.
///
/// # Errors
///
/// * `"thread_panicked"`: a thread panicked (the first panic's message;
///   the thread is finished, the others ran on).
/// * `"loop_busy"`: called while the loop runs (from inside a thread) or
///   inside a Tokio runtime (there, await the threads instead).
///
/// # Examples
///
/// ```
/// sockloop::thread(async { sockloop::sleep(0.01).await });
/// sockloop::start().unwrap(); // returns when the thread has finished
/// ```
pub fn start() -> Result<()> {
    with_loop(|l| match start_inner(l)?.into_iter().next() {
        Some(f) => Err(f.into_error()),
        None => Ok(()),
    })
}

/// Stops the loop (`sock.stop`): `start()` returns after the thread that
/// is running now parks. Wake-ups already due are kept for the next
/// `start()`.
///
/// Called while no `start()` runs, the request waits for the next
/// `start()`, which then polls once (one [`poll`] round: it waits for
/// something to become ready, runs it) and returns, as in sock.lua. A
/// `start()` that returns has used the request up.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let n = Rc::new(Cell::new(0));
/// let m = n.clone();
/// sockloop::thread(async move {
///     for _ in 0..3 {
///         sockloop::sleep(0.001).await;
///         m.set(m.get() + 1);
///     }
/// });
/// sockloop::stop();
/// sockloop::start().unwrap(); // one round: the first sleep ends
/// assert_eq!(n.get(), 1);
/// sockloop::start().unwrap(); // the request is used up: runs to the end
/// assert_eq!(n.get(), 3);
/// ```
pub fn stop() {
    with_loop(|l| l.stop.set(true));
}

/// Dispatches one round of ready threads and due timers (`sock.poll`),
/// waiting up to `timeout` seconds (`None`: no limit) for something to
/// become ready. `Ok(true)` when something ran, `Ok(false)` when the
/// timeout passed first.
///
/// # Errors
///
/// * `"empty"`: no thread waits on I/O, a sleep or a timer, and no timer
///   is live: nothing could ever become ready.
/// * `"thread_panicked"`, `"loop_busy"`: as [`start`].
///
/// # Examples
///
/// ```
/// assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
/// sockloop::thread(async { sockloop::sleep(0.01).await });
/// while sockloop::poll(Some(1.0)) .is_ok() {}
/// ```
pub fn poll(timeout: Option<f64>) -> Result<bool> {
    with_loop(|l| {
        check_can_block(l, "poll()")?;
        crate::thread::drop_stale_wakes(l);
        if l.idle() {
            return Err(Error::with_message(
                ErrorKind::Empty,
                "no thread waits on I/O, a sleep or a timer",
            ));
        }
        let rt = l.rt.get()?;
        let until = timeout.and_then(crate::deadline::after);
        // A `stop()` made before is kept for the next `start()`; one made
        // in this round ends the round and is kept too.
        let stopped_before = l.stop.replace(false);
        l.rt.running.set(true);
        let res = catch_unwind(AssertUnwindSafe(|| rt.block_on(OneRound::new(until))));
        l.rt.running.set(false);
        l.stop.set(l.stop.get() || stopped_before);
        l.driver_exit();
        let ran = match res {
            Ok(ran) => ran,
            Err(p) => resume_unwind(p),
        };
        match l.take_failures().into_iter().next() {
            Some(f) => Err(f.into_error()),
            None => Ok(ran),
        }
    })
}

/// One round for `poll`: wait until something is ready (or the timeout),
/// then step what is ready at that moment.
#[must_use = "futures do nothing unless awaited"]
struct OneRound {
    until: Option<Instant>,
    timeout: Option<Pin<Box<Sleep>>>,
    driver: Driver,
}

impl OneRound {
    fn new(until: Option<Instant>) -> OneRound {
        OneRound {
            until,
            timeout: None,
            driver: Driver::new(Mode::UntilIdle, None),
        }
    }
}

impl Future for OneRound {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = &mut *self;
        with_loop(|l| {
            l.driver_enter(cx.waker());
            l.out_of_budget.set(false);
            loop {
                let now = Instant::now();
                let due = next_deadline(l).is_some_and(|at| at <= now);
                let queued = l.ready_len();
                if queued > 0 || due {
                    for _ in 0..queued {
                        match l.pop_ready() {
                            Some(k) => step_ready(l, k),
                            None => break,
                        }
                        if l.stop.get() {
                            return Poll::Ready(true);
                        }
                        if l.out_of_budget.get() {
                            break;
                        }
                    }
                    while fire_one(l, now) {
                        // Threads a timer woke run in this round too, in
                        // deadline order; once Tokio's budget is spent,
                        // the rest waits for the next round (a thread
                        // requeued for it would run again and again).
                        while !l.out_of_budget.get() {
                            match l.pop_ready() {
                                Some(k) => step_ready(l, k),
                                None => break,
                            }
                        }
                    }
                    return Poll::Ready(true);
                }
                if this.until.is_some_and(|t| now >= t) {
                    return Poll::Ready(false);
                }
                if let Some(until) = this.until {
                    let t = this
                        .timeout
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                    if t.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(false);
                    }
                }
                if this.driver.park(l, cx) {
                    continue;
                }
                return Poll::Pending;
            }
        })
    }
}

/// Runs `fut` inside a sockloop thread from synchronous code, keeps the
/// loop running until no thread waits, and returns `fut`'s output
/// (`sock.run`; `thread` + `start()` upstream).
///
/// `fut` must be `'static` but need not be `Send`. Everything sockloop
/// offers works inside it: threads, sockets, sleeps, timers, and Tokio's
/// own `spawn_local`. `fut` runs in a thread named `"run"`. Its output is
/// returned as it is: a `Result` output is the caller's to look at.
///
/// # Panics
///
/// * If `fut` (or another thread) panics, `run` panics too, so an
///   `assert!` inside `run` fails the test; the message names the thread
///   (`sockloop thread 'run' (id 1) panicked: ...`; a panic payload that
///   is not text is re-raised as it is). The loop stays usable.
/// * If another thread's body returned `Err` and nobody can
///   [`join`](crate::Thread::join) it any more, `run` panics with that
///   `"thread_failed"` error, which names the thread.
/// * If `fut` never finishes (left suspended, or `stop()` was called
///   first), `run` panics saying so instead of hanging.
/// * If called while the loop runs or inside a Tokio runtime.
///
/// # Examples
///
/// ```
/// let n = sockloop::run(async {
///     sockloop::sleep(0.001).await;
///     42
/// });
/// assert_eq!(n, 42);
/// ```
pub fn run<F>(fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_loop(|l| {
        if let Err(e) = check_can_block(l, "sockloop::run") {
            panic!("{e}");
        }
        let slot = Rc::new(Cell::new(None));
        let out = slot.clone();
        let t = crate::thread::thread_named("run", async move {
            out.set(Some(fut.await));
        });
        let failures = match start_inner(l) {
            Ok(f) => f,
            Err(e) => panic!("sockloop::run: {e}"),
        };
        match failures.into_iter().next() {
            None => {}
            // A panic naming the thread, when its message is text (an
            // `assert!` in a test); other payloads go on as they are.
            Some(Failure::Panic(Some(who), p)) if is_text(&p) => {
                panic!("{who} panicked: {}", panic_message(&p))
            }
            Some(Failure::Panic(_, p)) => resume_unwind(p),
            Some(Failure::Error(e)) => panic!("sockloop::run: {e}"),
        }
        match slot.take() {
            Some(v) => v,
            None => {
                let why = match t.status() {
                    ThreadStatus::Suspended => "it is suspended and nothing resumes it",
                    ThreadStatus::Waiting => "stop() was called while it was waiting",
                    _ => "it did not run to the end",
                };
                panic!("sockloop::run: the future did not finish: {why}")
            }
        }
    })
}

/// `true` for the payload of `panic!("...")`.
fn is_text(p: &Box<dyn std::any::Any + Send>) -> bool {
    p.is::<&str>() || p.is::<String>()
}
