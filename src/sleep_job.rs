//! Sleep jobs: `sleep_job`, [`SleepJob`] (`sock.sleep_job`) and its
//! `Send` twin [`RemoteSleepJob`].

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::deadline::{after, to_instant};
use crate::thread::{step_waiting_now, take_cancel, ThreadInner};
use crate::time::Sleep;
use crate::value::{into_value, Value};

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

crate::thread::plain_outputs!(SleepJob);

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
    fn lock(&self) -> parking_lot::MutexGuard<'_, SjRemote> {
        self.state.lock()
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

    /// Sleeps until [`clock()`](crate::clock) reaches `t`, or until woken. As
    /// [`sleep`](SleepJob::sleep). `t` is an absolute [`clock()`](crate::clock) time
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
        let mut fresh = true;
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
            crate::park_note::note_park(crate::park_note::Park::SleepJob, at, fresh);
            fresh = false;
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
