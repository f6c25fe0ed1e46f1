//! Time: `clock`, `sleep`, `sleep_until`, sleep jobs and timers
//! (`runat`, `runafter`, `runevery`).
//!
//! Sleeps of sockloop threads and timers live in the loop's own queue,
//! ordered by `(deadline, creation number)` and driven by one Tokio timer
//! re-armed to the earliest entry: nothing fires early, a past deadline
//! fires at once, equal deadlines fire in creation order. Waits outside a
//! sockloop thread use `tokio::time` directly.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use crate::context::{catch_quietly, with_loop, Loop};
use crate::deadline::{after, secs_to_duration_ceil, to_instant};
use crate::thread::{step_waiting_now, take_cancel, ThreadInner};
use crate::value::{into_value, Value};

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

// ===== the timer queue =====

enum Action {
    /// Wake a parked sleeper.
    Wake(RefCell<Option<Waker>>),
    /// `runat`/`runafter`.
    Once(Cell<Option<Box<dyn FnOnce()>>>),
    /// `runevery` (boxed: the sleep entries stay small).
    Every(Box<Every>),
}

/// `runevery`: the n-th call is due at `start + n * period`.
struct Every {
    f: RefCell<Box<dyn FnMut() -> bool>>,
    start: Instant,
    period: Duration,
    n: Cell<u32>,
}

pub(crate) struct TimerJob {
    /// Cancelled, or (jobs) run to the end: the entry is skipped.
    done: Cell<bool>,
    fired: Cell<bool>,
    action: Action,
}

struct Entry {
    at: Instant,
    seq: u64,
    job: Rc<TimerJob>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // BinaryHeap is a max-heap: reverse so the earliest (then oldest) is on top.
    fn cmp(&self, other: &Entry) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The loop's timer queue.
#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl TimerQueue {
    fn push(&mut self, at: Instant, job: Rc<TimerJob>) {
        self.seq += 1;
        let seq = self.seq;
        self.heap.push(Entry { at, seq, job });
    }
}

fn insert(l: &Loop, at: Instant, job: Rc<TimerJob>) {
    l.timers.borrow_mut().push(at, job);
}

/// The earliest live deadline, dropping dead entries on the way.
pub(crate) fn next_deadline(l: &Loop) -> Option<Instant> {
    let mut q = l.timers.borrow_mut();
    while let Some(top) = q.heap.peek() {
        if top.job.done.get() {
            q.heap.pop();
        } else {
            return Some(top.at);
        }
    }
    None
}

/// Fires the earliest entry if it is due at `now`. Returns `true` if an
/// entry was taken off the queue. Runs no user code while the queue is
/// borrowed.
pub(crate) fn fire_one(l: &Loop, now: Instant) -> bool {
    let entry = {
        let mut q = l.timers.borrow_mut();
        match q.heap.peek() {
            Some(top) if top.at <= now => q.heap.pop(),
            _ => None,
        }
    };
    let Some(entry) = entry else { return false };
    let job = entry.job;
    if job.done.get() {
        return true;
    }
    match &job.action {
        Action::Wake(w) => {
            job.fired.set(true);
            job.done.set(true);
            if let Some(w) = w.borrow_mut().take() {
                w.wake();
            }
        }
        Action::Once(f) => {
            job.fired.set(true);
            job.done.set(true);
            l.jobs_add(-1);
            if let Some(f) = f.take() {
                if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
                    l.record_panic(p);
                }
            }
        }
        Action::Every(every) => {
            let Every {
                f,
                start,
                period,
                n,
            } = &**every;
            job.fired.set(true);
            let keep = match f.try_borrow_mut() {
                Ok(mut f) => match catch_unwind(AssertUnwindSafe(&mut **f)) {
                    Ok(keep) => keep,
                    Err(p) => {
                        l.record_panic(p);
                        false
                    }
                },
                Err(_) => true,
            };
            if job.done.get() {
                // Cancelled from inside its own callback.
            } else if keep {
                let next = n.get().saturating_add(1);
                n.set(next);
                let at = *start + period.saturating_mul(next);
                insert(l, at, job.clone());
            } else {
                job.done.set(true);
                l.jobs_add(-1);
            }
        }
    }
    true
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
/// returns at once.
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
struct Sleep {
    at: Option<Instant>,
    state: SleepState,
}

impl Sleep {
    fn new(at: Option<Instant>) -> Sleep {
        Sleep {
            at,
            state: SleepState::Init,
        }
    }
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

// ===== impl SleepJob =====

/// An interruptible sleep (`sock.sleep_job`): a thread sleeps on it, and
/// another wakes it early with a value.
///
/// Methods take `&self`; share the job with `Rc`. One sleeper at a time.
///
/// # Send
///
/// `!Send`, and so are its `sleep` futures: the job belongs to one OS
/// thread's loop. [`remote`](SleepJob::remote) gives a `Send` handle that
/// wakes the sleeper from another OS thread.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let sj = Rc::new(sockloop::sleep_job());
/// let sj2 = sj.clone();
/// let sleeper = sockloop::thread(async move {
///     let v = sj2.sleep(3600.0).await;              // woken long before that
///     assert_eq!(v.unwrap().get::<&str>().unwrap(), "hello");
/// });
/// assert!(sj.wakeup("hello"));                    // runs the sleeper now
/// assert!(sleeper.is_finished());
/// assert!(!sj.wakeup("again"));                   // nobody sleeps any more
/// ```
pub struct SleepJob {
    inner: RefCell<SjState>,
    /// Made by `remote()`: the mailbox other OS threads deliver through.
    shared: std::cell::OnceCell<Arc<SjShared>>,
}

/// The part of a sleep job other OS threads may touch.
struct SjShared {
    state: Mutex<SjRemote>,
}

#[derive(Default)]
struct SjRemote {
    sleeping: bool,
    waker: Option<Waker>,
    /// Made into a [`Value`] on the loop's thread (a `Value` is not `Send`).
    value: Option<Box<dyn FnOnce() -> Value + Send>>,
}

impl SjShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SjRemote> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

enum SjState {
    Idle,
    Sleeping {
        thread: Option<Rc<ThreadInner>>,
        waker: Waker,
    },
    Woken(Value),
}

impl fmt::Debug for SleepJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SleepJob")
            .field("sleeping", &self.is_sleeping())
            .finish()
    }
}

/// Makes an interruptible sleep job (`sock.sleep_job`). See [`SleepJob`].
///
/// # Examples
///
/// ```
/// let sj = sockloop::sleep_job();
/// assert!(!sj.is_sleeping());
/// assert!(!sj.wakeup(1)); // nobody sleeps on it yet
/// ```
pub fn sleep_job() -> SleepJob {
    SleepJob {
        inner: RefCell::new(SjState::Idle),
        shared: std::cell::OnceCell::new(),
    }
}

impl SleepJob {
    /// Sleeps for `s` seconds or until [`wakeup`](SleepJob::wakeup):
    /// `Some(v)` with the woken value, `None` when it expired by itself
    /// (or was cancelled: see [`cancelled()`](crate::cancelled)). If another
    /// task already sleeps on this job, returns `None` at once.
    ///
    /// # Panics
    ///
    /// As [`sleep`](crate::sleep): a finite sleep first polled outside a
    /// sockloop thread, outside any Tokio runtime (or in one without
    /// timers). A sleep of `+inf` needs no timer and works anywhere.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a value delivered but not yet returned stays for the
    /// next sleep on this job.
    ///
    /// # Send
    ///
    /// Not `Send` (see [`SleepJob`]).
    ///
    /// # Examples
    ///
    /// ```
    /// sockloop::run(async {
    ///     let sj = sockloop::sleep_job();
    ///     assert!(sj.sleep(0.01).await.is_none()); // nobody woke it: it expired
    /// });
    /// ```
    pub async fn sleep(&self, s: f64) -> Option<Value> {
        let at = if s.is_nan() || s == f64::INFINITY {
            None
        } else {
            after(s)
        };
        self.sleep_at(at).await
    }

    /// Sleeps until [`clock()`] reaches `t`, or until woken. As
    /// [`sleep`](SleepJob::sleep). `t` is an absolute [`clock()`] time
    /// (seconds since boot), not a duration.
    ///
    /// # Panics
    ///
    /// As [`sleep`](SleepJob::sleep).
    ///
    /// # Cancel safety
    ///
    /// As [`sleep`](SleepJob::sleep).
    ///
    /// # Send
    ///
    /// Not `Send` (see [`SleepJob`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sj = Rc::new(sockloop::sleep_job());
    /// let sj2 = sj.clone();
    /// sockloop::runafter(0.005, move || sj2.wakeup(5u8));
    /// let got = sockloop::run(async move { sj.sleep_until(sockloop::clock() + 60.0).await });
    /// assert_eq!(got.unwrap().get::<u8>().unwrap(), 5);
    /// ```
    pub async fn sleep_until(&self, t: f64) -> Option<Value> {
        self.sleep_at(to_instant(t)).await
    }

    async fn sleep_at(&self, at: Option<Instant>) -> Option<Value> {
        // The body's first lines run at the first poll.
        {
            let mut st = self.inner.borrow_mut();
            match std::mem::replace(&mut *st, SjState::Idle) {
                SjState::Idle => {}
                SjState::Woken(v) => return Some(v),
                sleeping @ SjState::Sleeping { .. } => {
                    *st = sleeping;
                    return None;
                }
            }
        }
        if let Some(v) = self.take_remote(false) {
            return Some(v);
        }
        if take_cancel() {
            return None;
        }
        let in_thread = crate::thread::currentthread();
        let mut timer = at.map(|at| Sleep::new(Some(at)));
        let thread = in_thread.as_ref().map(|t| t.inner().clone());
        let _guard = SjGuard { sj: self };
        std::future::poll_fn(|cx| {
            if let Some(sh) = self.shared.get() {
                let mut g = sh.lock();
                if let Some(v) = g.value.take() {
                    g.sleeping = false;
                    drop(g);
                    *self.inner.borrow_mut() = SjState::Idle;
                    return Poll::Ready(Some(v()));
                }
                g.sleeping = true;
                if !g.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    g.waker = Some(cx.waker().clone());
                }
            }
            let mut st = self.inner.borrow_mut();
            match &mut *st {
                SjState::Woken(_) => {
                    if let SjState::Woken(v) = std::mem::replace(&mut *st, SjState::Idle) {
                        return Poll::Ready(Some(v));
                    }
                }
                SjState::Sleeping { waker, .. } => {
                    if !waker.will_wake(cx.waker()) {
                        *waker = cx.waker().clone();
                    }
                }
                SjState::Idle => {
                    *st = SjState::Sleeping {
                        thread: thread.clone(),
                        waker: cx.waker().clone(),
                    };
                }
            }
            drop(st);
            if take_cancel() {
                *self.inner.borrow_mut() = SjState::Idle;
                return Poll::Ready(self.take_remote(true));
            }
            if let Some(t) = timer.as_mut() {
                if Pin::new(t).poll(cx).is_ready() {
                    *self.inner.borrow_mut() = SjState::Idle;
                    return Poll::Ready(self.take_remote(true));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Wakes the sleeper with `v` (`sj:wakeup`): a sockloop thread sleeping
    /// on the job runs **now, synchronously**, until it next parks, and its
    /// `sleep` returns `Some(v)`. Returns `false` (and drops `v`) when
    /// nothing sleeps on the job.
    ///
    /// # Panics
    ///
    /// Before the sleeper runs, inside a Tokio runtime where nothing could
    /// drive it once it waits again: outside a `tokio::task::LocalSet`
    /// (`"no_local_set"`, the message names the fix) or in a runtime
    /// without timers. The value is kept and the sleeper queued: the next
    /// driver (a sockloop call inside a `LocalSet`) delivers it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sj = Rc::new(sockloop::sleep_job());
    /// let sj2 = sj.clone();
    /// let t = sockloop::thread(async move { sj2.sleep(60.0).await.map(|v| v.get::<i32>()) });
    /// assert!(sj.wakeup(3));                    // the sleeper runs now, to its end
    /// assert!(t.is_finished());
    /// assert!(!sj.wakeup(4));                   // nobody sleeps any more
    /// ```
    pub fn wakeup<V: Any>(&self, v: V) -> bool {
        let prev = std::mem::replace(&mut *self.inner.borrow_mut(), SjState::Idle);
        match prev {
            SjState::Sleeping { thread, waker } => {
                *self.inner.borrow_mut() = SjState::Woken(into_value(v));
                let ran = match &thread {
                    Some(t) => step_waiting_now(t),
                    None => Ok(false),
                };
                match ran {
                    Ok(true) => {}
                    Ok(false) => waker.wake(),
                    Err(e) => {
                        // Queued for the next driver, then the signal.
                        waker.wake();
                        panic!("SleepJob::wakeup: {e}");
                    }
                }
                true
            }
            other => {
                *self.inner.borrow_mut() = other;
                false
            }
        }
    }

    /// Stops accepting remote wake-ups (when `stop`) and takes a value
    /// that arrived meanwhile.
    fn take_remote(&self, stop: bool) -> Option<Value> {
        let sh = self.shared.get()?;
        let mut g = sh.lock();
        if stop {
            g.sleeping = false;
            g.waker = None;
        }
        g.value.take().map(|v| v())
    }

    /// A `Send` handle through which another OS thread can wake this
    /// job's sleeper with a `Send` value (see [`RemoteSleepJob::wakeup`]).
    ///
    /// The `SleepJob` itself is `!Send`; using it from another OS thread
    /// does not compile:
    ///
    /// ```compile_fail
    /// let sj = sockloop::sleep_job();
    /// std::thread::spawn(move || sj.wakeup(1)); // SleepJob is not Send
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// let sj = sockloop::sleep_job();
    /// let remote = sj.remote();
    /// let got = sockloop::run(async move {
    ///     std::thread::spawn(move || {
    ///         // Retry until the sleeper is parked.
    ///         while !remote.wakeup(String::from("from afar")) {
    ///             std::thread::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///     });
    ///     sj.sleep(10.0).await
    /// });
    /// assert_eq!(got.unwrap().get::<String>().unwrap(), "from afar");
    /// ```
    pub fn remote(&self) -> RemoteSleepJob {
        let shared = self
            .shared
            .get_or_init(|| {
                Arc::new(SjShared {
                    state: Mutex::new(SjRemote::default()),
                })
            })
            .clone();
        if self.is_sleeping() {
            // A sleep already in progress accepts remote wake-ups from its
            // next poll on; mark it now so a wakeup is not refused.
            let mut g = shared.lock();
            g.sleeping = true;
            if let SjState::Sleeping { waker, .. } = &*self.inner.borrow() {
                g.waker = Some(waker.clone());
            }
        }
        RemoteSleepJob { shared }
    }

    /// `true` while a thread sleeps on the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sj = Rc::new(sockloop::sleep_job());
    /// let sj2 = sj.clone();
    /// sockloop::thread(async move { sj2.sleep(60.0).await });
    /// assert!(sj.is_sleeping());
    /// sj.wakeup(());
    /// assert!(!sj.is_sleeping());
    /// ```
    pub fn is_sleeping(&self) -> bool {
        matches!(&*self.inner.borrow(), SjState::Sleeping { .. })
    }
}

/// Clears a sleeper registration when a `SleepJob` sleep is dropped mid-way.
struct SjGuard<'a> {
    sj: &'a SleepJob,
}

impl Drop for SjGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.sj.inner.try_borrow_mut() {
            if matches!(&*st, SjState::Sleeping { .. }) {
                *st = SjState::Idle;
            }
        }
        if let Some(sh) = self.sj.shared.get() {
            let mut g = sh.lock();
            g.sleeping = false;
            g.waker = None;
        }
    }
}

// ===== impl RemoteSleepJob =====

/// A `Send` handle to a [`SleepJob`], for waking its sleeper from another
/// OS thread. Made by [`SleepJob::remote`] (which has an example).
///
/// # Send
///
/// `Send + Sync`: that is its purpose.
///
/// # Examples
///
/// ```
/// fn send_sync<T: Send + Sync>(_: &T) {}
/// let sj = sockloop::sleep_job();
/// let remote = sj.remote();
/// send_sync(&remote);
/// assert!(!remote.wakeup("nobody sleeps")); // refused, value dropped
/// ```
#[derive(Clone)]
pub struct RemoteSleepJob {
    shared: Arc<SjShared>,
}

impl fmt::Debug for RemoteSleepJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSleepJob")
            .field("sleeping", &self.shared.lock().sleeping)
            .finish()
    }
}

impl RemoteSleepJob {
    /// Wakes the sleeper with `v`, from any OS thread: its `sleep` returns
    /// `Some(v)` when its loop next runs it. Returns `false` (dropping `v`)
    /// when nothing sleeps on the job. The value is delivered exactly once.
    ///
    /// # Examples
    ///
    /// ```
    /// let sj = sockloop::sleep_job();
    /// let remote = sj.remote();
    /// let got = sockloop::run(async move {
    ///     let waker = std::thread::spawn(move || {
    ///         while !remote.wakeup(42u64) {
    ///             std::thread::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///     });
    ///     let v = sj.sleep(10.0).await;
    ///     waker.join().unwrap();
    ///     v
    /// });
    /// assert_eq!(got.unwrap().get::<u64>().unwrap(), 42);
    /// ```
    pub fn wakeup<V: Any + Send>(&self, v: V) -> bool {
        let waker = {
            let mut g = self.shared.lock();
            if !g.sleeping || g.value.is_some() {
                return false;
            }
            g.sleeping = false;
            g.value = Some(Box::new(move || Value::new(v)));
            g.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
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
