//! Time: `clock`, `sleep`, `sleep_until` and timers (`runat`, `runafter`,
//! `runevery`); sleep jobs are in `sleep_job.rs`.
//!
//! Sleeps of sockloop threads and timers live in the loop's own queue
//! (`timers.rs`),
//! ordered by `(deadline, creation number)` and driven by one Tokio timer
//! re-armed to the earliest entry: nothing fires early, a past deadline
//! fires at once, equal deadlines fire in creation order. Waits outside a
//! sockloop thread use `tokio::time` directly.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use crate::context::with_loop;
use crate::deadline::{after, secs_to_duration_ceil, to_instant};
use crate::panics::catch_quietly;
use crate::thread::take_cancel;
use crate::timers::{insert, Action, Every, TimerJob};

/// Seconds on the system's monotonic clock, as sock.lua's `sock.clock()`:
/// the base of every `expires` argument.
///
/// The scale is `clock_gettime(CLOCK_MONOTONIC)`'s: seconds since boot on
/// Linux, a large number, the same in every process. So an `expires` is
/// always an **absolute** time, `clock() + 5.0` for "five seconds from
/// now". A relative timeout passed by mistake (`recv(&mut b, 0.5)`) is an
/// instant shortly after boot, long past: the call fails with `"timeout"`
/// at once, every time, instead of working for the first half second.
///
/// It follows Tokio's clock, so `tokio::time::pause()` and `advance` drive
/// it in tests (it stops and jumps with Tokio's clock, keeping its scale),
/// and it has one reference for the whole process, so a value computed on
/// one OS thread means the same instant on another.
/// [`luasocket::gettime`](crate::luasocket::gettime) is the wall clock
/// (UNIX time) instead.
///
/// # Examples
///
/// ```
/// let t0 = sockloop::clock();
/// assert!(t0 > 0.0);       // seconds since boot, not since the process started
/// let deadline = t0 + 5.0; // what every `expires` argument takes
/// assert!(deadline > sockloop::clock());
/// ```
pub fn clock() -> f64 {
    crate::deadline::now_secs()
}

// ===== sleep =====

/// Sleeps for `s` seconds without blocking other threads (`sock.sleep`).
///
/// `s <= 0` still lets the other ready threads run first (a past deadline
/// fires at once, on the loop's next round). A cancel of the thread ends
/// the sleep early; [`cancelled()`](crate::cancelled) then says so.
///
/// Inside a sockloop thread the loop times it; elsewhere (a plain Tokio
/// task) Tokio's timer does.
///
/// # Panics
///
/// When first polled outside a sockloop thread and either outside any
/// Tokio runtime (e.g. on another executor's `block_on`) or in a Tokio
/// runtime built without timers. The message names the fix: await it in
/// a sockloop thread (`sockloop::run`) or a Tokio runtime with timers.
/// A sleep of `+inf` or NaN seconds outside a thread never touches a
/// timer and does not panic.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future removes the timer.
///
/// # Send
///
/// Not `Send`: inside a sockloop thread it sits on this OS thread's timer
/// queue. (In a plain `tokio::spawn` task use `tokio::time::sleep`.)
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(sockloop::sleep(1.0)); // the future is not Send
/// ```
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let t0 = sockloop::clock();
///     sockloop::sleep(0.02).await;
///     assert!(sockloop::clock() - t0 >= 0.02);
/// });
/// ```
pub async fn sleep(s: f64) {
    let at = if s.is_nan() || s == f64::INFINITY {
        None
    } else {
        after(s)
    };
    Sleep::new(at).await
}

/// Sleeps until [`clock()`] reaches `t` (`sock.sleep_until`). As [`sleep`].
///
/// `t` is an absolute [`clock()`] time (seconds since boot, e.g.
/// `clock() + 5.0`), not a duration: a small number is long past and
/// returns at once. That is not an error: a sleep has nothing to fail, so
/// unlike a socket call (whose `"timeout"` then says how far in the past
/// `expires` was) there is no message to carry the hint.
///
/// # Panics
///
/// As [`sleep`].
///
/// # Cancel safety
///
/// Cancel-safe.
///
/// # Send
///
/// Not `Send`, as [`sleep`].
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let wake_at = sockloop::clock() + 0.01;
///     sockloop::sleep_until(wake_at).await;
///     assert!(sockloop::clock() >= wake_at);
/// });
/// ```
pub async fn sleep_until(t: f64) {
    Sleep::new(to_instant(t)).await
}

enum SleepState {
    Init,
    /// On the loop's queue (a sockloop thread).
    Queued(Rc<TimerJob>),
    /// On Tokio's timer (outside a sockloop thread); boxed to keep the
    /// common case small.
    Tokio(Pin<Box<tokio::time::Sleep>>),
    Done,
}

/// A sleep: on the loop's timer queue inside a sockloop thread, on Tokio's
/// timer elsewhere. Which one is decided at the first poll.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Sleep {
    at: Option<Instant>,
    state: SleepState,
}

impl Sleep {
    pub(crate) fn new(at: Option<Instant>) -> Sleep {
        Sleep {
            at,
            state: SleepState::Init,
        }
    }
}

/// Notes a sleep's park for the inventory (`fresh`: its first).
#[inline]
fn note_sleep(at: Option<Instant>, fresh: bool) {
    crate::park_note::note_park(crate::park_note::Park::Sleep, at, fresh);
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match &mut this.state {
            SleepState::Init => {
                let in_thread = with_loop(|l| l.with_current(|t| t.is_some()));
                if !in_thread {
                    let Some(at) = this.at else {
                        return Poll::Pending; // forever
                    };
                    let mut s = tokio_sleep(at);
                    if s.as_mut().poll(cx).is_ready() {
                        this.state = SleepState::Done;
                        return Poll::Ready(());
                    }
                    this.state = SleepState::Tokio(s);
                    return Poll::Pending;
                }
                if take_cancel() {
                    this.state = SleepState::Done;
                    return Poll::Ready(());
                }
                note_sleep(this.at, true);
                let Some(at) = this.at else {
                    // Forever: only a cancel ends it.
                    return Poll::Pending;
                };
                let job = Rc::new(TimerJob {
                    done: Cell::new(false),
                    fired: Cell::new(false),
                    action: Action::Wake(RefCell::new(Some(cx.waker().clone()))),
                });
                with_loop(|l| insert(l, at, job.clone()));
                this.state = SleepState::Queued(job);
                Poll::Pending
            }
            SleepState::Queued(job) => {
                if job.fired.get() {
                    this.state = SleepState::Done;
                    return Poll::Ready(());
                }
                if take_cancel() {
                    job.done.set(true);
                    this.state = SleepState::Done;
                    return Poll::Ready(());
                }
                note_sleep(this.at, false);
                if let Action::Wake(w) = &job.action {
                    let mut w = w.borrow_mut();
                    if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *w = Some(cx.waker().clone());
                    }
                }
                Poll::Pending
            }
            SleepState::Tokio(s) => {
                if s.as_mut().poll(cx).is_ready() {
                    this.state = SleepState::Done;
                    return Poll::Ready(());
                }
                Poll::Pending
            }
            SleepState::Done => Poll::Ready(()),
        }
    }
}

/// A Tokio timer for a wait outside a sockloop thread, or sockloop's own
/// panic where Tokio would panic with its own message.
fn tokio_sleep(at: Instant) -> Pin<Box<tokio::time::Sleep>> {
    // Tokio panics (there is no fallible twin) without a runtime, or in
    // one built without timers.
    match catch_quietly(|| Box::pin(tokio::time::sleep_until(at))) {
        Ok(s) => s,
        Err(_) if tokio::runtime::Handle::try_current().is_err() => panic!(
            "sockloop: a sleep (sleep, sleep_until, SleepJob::sleep) was polled outside a \
             sockloop thread and outside any Tokio runtime, where nothing can time it: \
             await it inside a sockloop thread (`sockloop::run`, `sockloop::thread`) or \
             inside a Tokio runtime (`#[tokio::main]`)"
        ),
        Err(_) => panic!(
            "sockloop: a sleep (sleep, sleep_until, SleepJob::sleep) was polled in a Tokio \
             runtime that has timers disabled: build it with `enable_time()` (or \
             `enable_all()`)"
        ),
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepState::Queued(job) = &self.state {
            job.done.set(true);
        }
    }
}

// ===== impl Timer =====

/// A timer made by [`runat`], [`runafter`] or [`runevery`]
/// (sock.lua's `sjt`). Dropping the handle does **not** cancel the timer.
///
/// # Send
///
/// `!Send`: the timer lives on this OS thread's loop.
///
/// # Examples
///
/// ```
/// let t = sockloop::runafter(60.0, || unreachable!("cancelled first"));
/// assert!(t.is_active());
/// assert!(t.cancel());
/// sockloop::start().unwrap(); // returns at once: no live timer keeps it running
/// ```
#[doc(alias = "sjt")]
#[derive(Clone)]
pub struct Timer {
    job: Rc<TimerJob>,
}

crate::thread::plain_outputs!(Timer);

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("active", &self.is_active())
            .finish()
    }
}

impl Timer {
    /// Cancels the timer (`sjt:cancel`): its callback will not run again.
    /// Returns `true` if it was still active. Safe to call from inside the
    /// callback itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::runafter(0.001, || {});
    /// assert!(t.cancel());    // it was active
    /// assert!(!t.cancel());   // already cancelled
    /// ```
    pub fn cancel(&self) -> bool {
        if self.job.done.replace(true) {
            return false;
        }
        with_loop(|l| l.jobs_add(-1));
        true
    }

    /// `true` until the timer has fired for the last time or is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::runafter(0.001, || {});
    /// assert!(t.is_active());
    /// sockloop::start().unwrap();
    /// assert!(!t.is_active()); // fired
    /// ```
    pub fn is_active(&self) -> bool {
        !self.job.done.get()
    }
}

/// What a [`runevery`] callback may return: `()` keeps the timer running,
/// `bool` says whether to keep it running (`false` stops it, as in Lua).
///
/// # Examples
///
/// ```
/// use sockloop::KeepRunning;
/// assert!(().keep_running());
/// assert!(!false.keep_running());
/// ```
pub trait KeepRunning {
    /// `true` to run again.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::KeepRunning;
    /// assert!(true.keep_running());
    /// ```
    fn keep_running(self) -> bool;
}

impl KeepRunning for () {
    fn keep_running(self) -> bool {
        true
    }
}

impl KeepRunning for bool {
    fn keep_running(self) -> bool {
        self
    }
}

/// Queues a timer job; `what` names the call in a panic message.
fn add_job(what: &str, at: Option<Instant>, action: Action) -> Timer {
    let job = Rc::new(TimerJob {
        done: Cell::new(at.is_none()),
        fired: Cell::new(false),
        action,
    });
    if let Some(at) = at {
        with_loop(|l| {
            // Before the job is queued: a refused timer leaves no trace.
            crate::runtime::ensure_driver_or_panic(l, what);
            l.jobs_add(1);
            insert(l, at, job.clone());
        });
    }
    Timer { job }
}

/// Runs `f` when [`clock()`] reaches `t` (`sock.runat`): `t` is an
/// absolute [`clock()`] time (seconds since boot), not a duration ([`runafter`]
/// takes one). A past `t` fires on the loop's next round. Live timers keep [`start`](crate::start)
/// running. `f`'s return value is ignored; `f` runs on the loop, outside
/// any thread: start a [`thread`](crate::thread) from it to wait on I/O.
///
/// A `t` of `+inf` or NaN never fires (the timer is inactive).
///
/// # Panics
///
/// Inside a Tokio runtime where nothing could ever fire the timer:
/// outside a `tokio::task::LocalSet` (`"no_local_set"`; the message names
/// the fix, `LocalSet::run_until` or `sockloop::run` from synchronous
/// code), or in a runtime built without timers. The timer is not queued.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let order = Rc::new(RefCell::new(Vec::new()));
/// let now = sockloop::clock();
/// for (i, dt) in [(1, 0.03), (2, 0.01), (3, 0.02)] {
///     let o = order.clone();
///     sockloop::runat(now + dt, move || o.borrow_mut().push(i));
/// }
/// sockloop::start().unwrap();
/// assert_eq!(*order.borrow(), [2, 3, 1]); // deadline order
/// ```
pub fn runat<F, R>(t: f64, f: F) -> Timer
where
    F: FnOnce() -> R + 'static,
{
    let f: Box<dyn FnOnce()> = Box::new(move || {
        f();
    });
    add_job(
        "sockloop::runat",
        to_instant(t),
        Action::Once(Cell::new(Some(f))),
    )
}

/// Runs `f` after `s` seconds (`sock.runafter`). As [`runat`].
///
/// # Panics
///
/// As [`runat`].
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let fired = Rc::new(Cell::new(false));
/// let f = fired.clone();
/// let t0 = sockloop::clock();
/// sockloop::runafter(0.01, move || f.set(true));
/// sockloop::start().unwrap(); // the live timer keeps it running until it fires
/// assert!(fired.get());
/// assert!(sockloop::clock() - t0 >= 0.01);
/// ```
pub fn runafter<F, R>(s: f64, f: F) -> Timer
where
    F: FnOnce() -> R + 'static,
{
    let at = if s.is_nan() || s == f64::INFINITY {
        None
    } else {
        after(s)
    };
    let f: Box<dyn FnOnce()> = Box::new(move || {
        f();
    });
    add_job("sockloop::runafter", at, Action::Once(Cell::new(Some(f))))
}

/// Runs `f` every `s` seconds (`sock.runevery`) until it returns `false`
/// or the timer is cancelled.
///
/// Fixed-rate: the n-th call is due at creation + n·s, so a late call does
/// not delay the ones after it (a loop that stalled runs the missed calls
/// at once, in order). `s` below one millisecond is taken as one
/// millisecond.
///
/// # Panics
///
/// As [`runat`].
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let n = Rc::new(Cell::new(0));
/// let n2 = n.clone();
/// sockloop::runevery(0.001, move || {
///     n2.set(n2.get() + 1);
///     n2.get() < 3 // false stops it
/// });
/// sockloop::start().unwrap();
/// assert_eq!(n.get(), 3);
/// ```
pub fn runevery<F, R>(s: f64, mut f: F) -> Timer
where
    F: FnMut() -> R + 'static,
    R: KeepRunning,
{
    let period = secs_to_duration_ceil(s).max(Duration::from_millis(1));
    let start = Instant::now();
    let f: Box<dyn FnMut() -> bool> = Box::new(move || f().keep_running());
    let at = if s.is_nan() || s == f64::INFINITY {
        None
    } else {
        Some(start + period)
    };
    add_job(
        "sockloop::runevery",
        at,
        Action::Every(Box::new(Every {
            f: RefCell::new(f),
            start,
            period,
            n: Cell::new(1),
        })),
    )
}
