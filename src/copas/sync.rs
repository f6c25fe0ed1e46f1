//! Copas' `lock` and `semaphore`: FIFO waits with timeouts.
//!
//! Waiters park with Copas' own [`park`](super::sched::park), not on a
//! `tokio::sync` primitive: a thread that waits without a timeout must not
//! keep the loop running (Copas ends its loop when only such threads are
//! left, and releases `waitforexit`), and sockloop counts every thread
//! parked on a Tokio future as waiting. A semaphore's count must also stay
//! Copas' number while a large request waits (Tokio's semaphore hands
//! permits to the first waiter piecemeal, which changes `get_count`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use super::sched::{me, park, wakeup, Wake};
use crate::error::{Error, ErrorKind, Result};
use crate::{clock, Thread};

/// Copas' default timeout of a lock or semaphore wait, in seconds.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::clock;
/// use sockloop::copas::{self, Lock, DEFAULT_TIMEOUT};
/// # tokio::time::pause(); // Tokio's test clock: the 10 s pass at once
///
/// let lock = Lock::new(None, false)?; // get() waits DEFAULT_TIMEOUT
/// let holder = lock.clone();
/// copas::addthread(async move { holder.get(None).await.map(drop) }); // and keeps it
/// copas::pause(0.0).await;
/// let t0 = clock();
/// assert_eq!(lock.get(None).await.unwrap_err().name(), "timeout");
/// assert!(clock() - t0 >= DEFAULT_TIMEOUT);
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub const DEFAULT_TIMEOUT: f64 = 10.0;

fn destroyed() -> Error {
    Error::with_message(ErrorKind::Destroyed, "destroyed")
}

fn check_timeout(t: f64, what: &str) -> Result<f64> {
    if t.is_nan() || t < 0.0 {
        return Err(Error::with_message(
            ErrorKind::InvalidArgument,
            format!("expected {what} timeout to be a number >= 0, got {t}"),
        ));
    }
    Ok(t)
}

/// Parks until `granted()`, or `timeout` seconds from `start` (infinite:
/// without end), or a cancel: the one place where a Copas wait that ran
/// out becomes `Err("timeout")` (and a cancelled one `Err("cancelled")`).
/// `granted` must be set by whoever hands the waiter what it waits for
/// (or destroys the primitive), never be a state the waiter may already
/// be in: a lock's holder waiting for itself is not granted the lock it
/// holds. A stray [`wakeup`] (from another caller) parks again for the
/// time left, unlike Copas, where it ends the wait.
pub(super) async fn wait_for(
    start: f64,
    timeout: f64,
    call: &str,
    granted: impl Fn() -> bool,
) -> Result<()> {
    loop {
        let left = timeout
            .is_finite()
            .then(|| (start + timeout - clock()).max(0.0));
        let wake = park(left, call).await?;
        if granted() {
            return Ok(());
        }
        match wake {
            Wake::Woken if left.is_none_or(|_| clock() < start + timeout) => continue,
            Wake::Cancelled => return Err(Error::cancelled()),
            Wake::Woken | Wake::Timeout => return Err(Error::timeout()),
        }
    }
}

// ===== impl Lock =====

/// A Copas lock (`copas.lock.new([timeout], [not_reentrant])`): one
/// thread holds it at a time; the others wait in line (FIFO), each at most
/// its timeout. Re-entrant unless made with `not_reentrant`. Cheap to
/// clone: clones share the lock.
///
/// Ownership is by sockloop thread, as Copas' by coroutine: `get` and
/// `release` must run inside one.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::copas::{self, Lock};
///
/// let lock = Lock::new(None, false)?;
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for i in 0..3 {
///     let (lock, log) = (lock.clone(), log.clone());
///     copas::addthread(async move {
///         lock.get(None).await?;
///         log.borrow_mut().push(i);
///         copas::pause(0.01).await; // the others wait in line
///         lock.release()
///     });
/// }
/// copas::run_loop()?;
/// assert_eq!(*log.borrow(), [0, 1, 2]);
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    inner: Rc<LockInner>,
}

struct LockInner {
    timeout: f64,
    not_reentrant: bool,
    owner: Cell<Option<u64>>,
    count: Cell<usize>,
    queue: RefCell<VecDeque<LockWaiter>>,
    destroyed: Cell<bool>,
}

/// A thread in a lock's line; `granted` is set when the lock is handed to
/// it (or destroyed).
struct LockWaiter {
    thread: Thread,
    granted: Rc<Cell<bool>>,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("timeout", &self.inner.timeout)
            .field("owner", &self.inner.owner.get())
            .field("waiting", &self.inner.queue.borrow().len())
            .field("destroyed", &self.inner.destroyed.get())
            .finish()
    }
}

impl Lock {
    /// `copas.lock.new([timeout], [not_reentrant])`: a new lock. `timeout`
    /// is the default wait of [`get`](Lock::get) in seconds (`None`:
    /// [`DEFAULT_TIMEOUT`], 10 s; `f64::INFINITY`: without end).
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for a negative or NaN timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Lock;
    /// let lock = Lock::new(Some(5.0), false)?; // get() waits at most 5 s
    /// let strict = Lock::new(None, true)?; // 10 s; its holder cannot take it again
    /// let patient = Lock::new(Some(f64::INFINITY), false)?; // math.huge
    /// assert_eq!(Lock::new(Some(-1.0), false).unwrap_err().name(), "invalid_argument");
    /// # drop((lock, strict, patient));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "lock.new")]
    pub fn new(timeout: Option<f64>, not_reentrant: bool) -> Result<Lock> {
        let timeout = check_timeout(timeout.unwrap_or(DEFAULT_TIMEOUT), "the lock's")?;
        Ok(Lock {
            inner: Rc::new(LockInner {
                timeout,
                not_reentrant,
                owner: Cell::new(None),
                count: Cell::new(0),
                queue: RefCell::new(VecDeque::new()),
                destroyed: Cell::new(false),
            }),
        })
    }

    /// `lock:get([timeout])`: takes the lock, waiting in line for at most
    /// `timeout` seconds (`None`: the lock's default; `Some(0.0)`: not at
    /// all; `f64::INFINITY`: without end). Returns the time waited. The
    /// holder taking it again counts up (re-entrant), unless the lock is
    /// `not_reentrant`: then it waits for itself until its timeout, and
    /// gets `"timeout"`, still holding the lock (as Copas).
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"destroyed"` (before or while waiting),
    /// `"cancelled"`, `"not_in_thread"`, `"invalid_argument"` (a negative
    /// or NaN timeout). Copas' third value, the time waited, is not kept.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped wait leaves the line.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::{cell::Cell, rc::Rc};
    /// use sockloop::{clock, copas::{self, Lock}};
    ///
    /// let lock = Lock::new(None, false)?;
    /// assert_eq!(lock.get(None).await?, 0.0); // free: taken at once
    /// assert_eq!(lock.get(None).await?, 0.0); // its holder again: one level more
    /// let waited = Rc::new(Cell::new(-1.0));
    /// let (other, w) = (lock.clone(), waited.clone());
    /// let t = copas::addthread(async move {
    ///     w.set(other.get(Some(5.0)).await?); // in line, at most 5 s
    ///     other.release()
    /// });
    /// copas::pause(0.05).await;
    /// lock.release()?;
    /// lock.release()?; // the last level: the next in line gets it
    /// t.join(clock() + 5.0).await?;
    /// assert!(waited.get() >= 0.04);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn get(&self, timeout: Option<f64>) -> Result<f64> {
        let me = me("Lock::get")?;
        let l = &self.inner;
        if l.destroyed.get() {
            return Err(destroyed());
        }
        let Some(owner) = l.owner.get() else {
            l.owner.set(Some(me.id()));
            l.count.set(1);
            return Ok(0.0);
        };
        if owner == me.id() && !l.not_reentrant {
            l.count.set(l.count.get() + 1);
            return Ok(0.0);
        }
        let to = check_timeout(timeout.unwrap_or(l.timeout), "the")?;
        if to == 0.0 {
            return Err(Error::timeout());
        }
        let start = clock();
        let granted = Rc::new(Cell::new(false));
        l.queue.borrow_mut().push_back(LockWaiter {
            thread: me.clone(),
            granted: granted.clone(),
        });
        let mut guard = LeaveLine {
            lock: l,
            me: &me,
            granted: &granted,
            done: false,
        };
        let r = wait_for(start, to, "Lock::get", || granted.get()).await;
        guard.done = true;
        drop(guard);
        r?;
        if l.destroyed.get() {
            return Err(destroyed());
        }
        Ok(clock() - start)
    }

    /// `lock:release()`: releases the lock (one level of a re-entrant
    /// hold); the next thread in line gets it.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` (Copas' `"cannot release a lock not owned"`,
    /// the message and [`Error::luasocket_str`]) when the current thread
    /// does not hold it; `"destroyed"`; `"not_in_thread"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::copas::Lock;
    /// let lock = Lock::new(None, false)?;
    /// lock.get(None).await?;
    /// lock.release()?;
    /// let e = lock.release().unwrap_err(); // not held any more
    /// assert_eq!(e.name(), "invalid_argument");
    /// assert_eq!(e.luasocket_str(), "cannot release a lock not owned");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn release(&self) -> Result<()> {
        let me = me("Lock::release")?;
        let l = &self.inner;
        if l.destroyed.get() {
            return Err(destroyed());
        }
        if l.owner.get() != Some(me.id()) {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                "cannot release a lock not owned",
            )
            .with_word("cannot release a lock not owned"));
        }
        let n = l.count.get() - 1;
        l.count.set(n);
        if n == 0 {
            l.hand_over();
        }
        Ok(())
    }

    /// `lock:destroy()`: every waiting thread wakes with `"destroyed"`, and
    /// every later call fails with it.
    ///
    /// # Errors
    ///
    /// `"destroyed"` if it already was.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::{cell::RefCell, rc::Rc};
    /// use sockloop::{clock, copas::{self, Lock}};
    ///
    /// let lock = Lock::new(None, false)?;
    /// lock.get(None).await?;
    /// let got = Rc::new(RefCell::new(String::new()));
    /// let (l, g) = (lock.clone(), got.clone());
    /// let waiter = copas::addthread(async move {
    ///     let e = l.get(Some(f64::INFINITY)).await.unwrap_err();
    ///     *g.borrow_mut() = e.name().to_string();
    /// });
    /// copas::pause(0.01).await; // it waits in line
    /// lock.destroy()?;
    /// waiter.join(clock() + 5.0).await?;
    /// assert_eq!(*got.borrow(), "destroyed");
    /// assert_eq!(lock.destroy().unwrap_err().name(), "destroyed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn destroy(&self) -> Result<()> {
        let l = &self.inner;
        if l.destroyed.replace(true) {
            return Err(destroyed());
        }
        let waiting = std::mem::take(&mut *l.queue.borrow_mut());
        for w in &waiting {
            w.granted.set(true);
            wakeup(&w.thread);
        }
        Ok(())
    }
}

impl LockInner {
    /// Gives the lock to the next thread in line (it runs on the loop's
    /// next round), or frees it.
    fn hand_over(&self) {
        let next = self.queue.borrow_mut().pop_front();
        match next {
            Some(w) => {
                self.owner.set(Some(w.thread.id()));
                self.count.set(1);
                w.granted.set(true);
                wakeup(&w.thread);
            }
            None => self.owner.set(None),
        }
    }
}

/// Takes a waiter out of the line when its wait ends. A wait dropped
/// mid-way (`done` unset) after the lock was handed to it passes the
/// lock on.
struct LeaveLine<'a> {
    lock: &'a LockInner,
    me: &'a Thread,
    granted: &'a Cell<bool>,
    done: bool,
}

impl Drop for LeaveLine<'_> {
    fn drop(&mut self) {
        if let Ok(mut q) = self.lock.queue.try_borrow_mut() {
            q.retain(|w| w.thread != *self.me);
        }
        if !self.done && self.granted.get() && !self.lock.destroyed.get() {
            self.lock.hand_over();
        }
    }
}

// ===== impl Semaphore =====

/// A Copas semaphore (`copas.semaphore.new(max, [start], [timeout])`): a
/// count of resources, at most `max`; [`take`](Semaphore::take) waits in
/// line (FIFO) until enough are given. Cheap to clone: clones share it.
///
/// # Examples
///
/// A pool of at most two workers at a time:
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::copas::{self, Semaphore};
///
/// let pool = Semaphore::new(2, Some(2), None)?;
/// let busy = Rc::new(Cell::new(0));
/// let most = Rc::new(Cell::new(0));
/// for _ in 0..5 {
///     let (pool, busy, most) = (pool.clone(), busy.clone(), most.clone());
///     copas::addthread(async move {
///         pool.take(None, None).await?;
///         busy.set(busy.get() + 1);
///         most.set(most.get().max(busy.get()));
///         copas::pause(0.01).await;
///         busy.set(busy.get() - 1);
///         pool.give(None)
///     });
/// }
/// copas::run_loop()?;
/// assert_eq!(most.get(), 2);
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<SemInner>,
}

struct Waiter {
    thread: Thread,
    requested: usize,
    granted: Rc<Cell<bool>>,
}

struct SemInner {
    max: usize,
    count: Cell<usize>,
    timeout: f64,
    queue: RefCell<VecDeque<Waiter>>,
    destroyed: Cell<bool>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("max", &self.inner.max)
            .field("count", &self.inner.count.get())
            .field("waiting", &self.inner.queue.borrow().len())
            .field("destroyed", &self.inner.destroyed.get())
            .finish()
    }
}

impl Semaphore {
    /// `copas.semaphore.new(max, [start], [timeout])`: a semaphore holding
    /// at most `max` resources, `start` (default 0) at first; `timeout` is
    /// the default wait of [`take`](Semaphore::take) (`None`:
    /// [`DEFAULT_TIMEOUT`], 10 s; `f64::INFINITY`: without end).
    ///
    /// # Errors
    ///
    /// `"invalid_argument"`: `max` is 0, `start` is over `max`, or the
    /// timeout is negative or NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Semaphore;
    /// let pool = Semaphore::new(3, Some(3), None)?; // 3 of 3 free; take() waits 10 s
    /// assert_eq!(pool.get_count()?, 3);
    /// let empty = Semaphore::new(3, None, Some(0.5))?;
    /// assert_eq!(empty.get_count()?, 0);
    /// let e = Semaphore::new(2, Some(3), None).unwrap_err(); // start over max
    /// assert_eq!(e.name(), "invalid_argument");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "semaphore.new")]
    pub fn new(max: usize, start: Option<usize>, timeout: Option<f64>) -> Result<Semaphore> {
        let timeout = check_timeout(timeout.unwrap_or(DEFAULT_TIMEOUT), "the semaphore's")?;
        let start = start.unwrap_or(0);
        if max == 0 || start > max {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                format!("a semaphore needs 0 < max and start <= max, got max {max}, start {start}"),
            ));
        }
        Ok(Semaphore {
            inner: Rc::new(SemInner {
                max,
                count: Cell::new(start),
                timeout,
                queue: RefCell::new(VecDeque::new()),
                destroyed: Cell::new(false),
            }),
        })
    }

    /// A semaphore with no practical maximum, empty, with the default
    /// timeout: a queue's item count.
    pub(crate) fn unbounded() -> Semaphore {
        Semaphore {
            inner: Rc::new(SemInner {
                max: usize::MAX,
                count: Cell::new(0),
                timeout: DEFAULT_TIMEOUT,
                queue: RefCell::new(VecDeque::new()),
                destroyed: Cell::new(false),
            }),
        }
    }

    /// `semaphore:take([requested], [timeout])`: takes `requested`
    /// resources (default 1), waiting in line for at most `timeout`
    /// seconds (`None`: the semaphore's default; `Some(0.0)`: not at all;
    /// `f64::INFINITY`: without end). A thread that waits without end does
    /// not keep the loop running.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"too_many"` (more than `max` requested; Copas'
    /// `"too many"`), `"destroyed"`, `"cancelled"`, `"not_in_thread"` (when
    /// it has to wait outside a thread), `"invalid_argument"` (a negative
    /// or NaN timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped wait leaves the line; resources handed to it
    /// meanwhile are given back.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, copas::{self, Semaphore}};
    ///
    /// let sema = Semaphore::new(5, Some(2), None)?;
    /// sema.take(Some(2), None).await?; // there: at once
    /// assert_eq!(sema.get_count()?, 0);
    /// let giver = sema.clone();
    /// copas::addthread(async move {
    ///     copas::pause(0.05).await;
    ///     giver.give(Some(3))
    /// });
    /// let t0 = clock();
    /// sema.take(Some(3), Some(5.0)).await?; // waits for the giver
    /// assert!(clock() - t0 >= 0.04);
    /// assert_eq!(sema.take(Some(6), None).await.unwrap_err().name(), "too_many");
    /// assert_eq!(sema.take(None, Some(0.0)).await.unwrap_err().name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn take(&self, requested: Option<usize>, timeout: Option<f64>) -> Result<()> {
        let s = &self.inner;
        let requested = requested.unwrap_or(1);
        if s.destroyed.get() {
            return Err(destroyed());
        }
        if s.queue.borrow().is_empty() && s.count.get() >= requested {
            s.count.set(s.count.get() - requested);
            return Ok(());
        }
        if requested > s.max {
            return Err(Error::with_message(
                ErrorKind::TooMany,
                format!(
                    "too many: {requested} requested, the semaphore holds at most {}",
                    s.max
                ),
            ));
        }
        let to = check_timeout(timeout.unwrap_or(s.timeout), "the")?;
        if to == 0.0 {
            return Err(Error::timeout());
        }
        let me = me("Semaphore::take")?;
        let granted = Rc::new(Cell::new(false));
        s.queue.borrow_mut().push_back(Waiter {
            thread: me.clone(),
            requested,
            granted: granted.clone(),
        });
        let guard = SemLeave {
            sem: self,
            me: &me,
            granted: &granted,
            requested,
        };
        let r = wait_for(clock(), to, "Semaphore::take", || granted.get()).await;
        if granted.get() {
            std::mem::forget(guard);
            return if s.destroyed.get() {
                Err(destroyed())
            } else {
                Ok(())
            };
        }
        drop(guard);
        // Not granted: the wait ran out or was cancelled (`r` is that `Err`).
        r
    }

    /// `semaphore:give([given])`: gives `given` resources (default 1) and
    /// hands them to the threads in line, first come first served, as far
    /// as they go. More than `max` in total is capped at `max`.
    ///
    /// # Errors
    ///
    /// `"too_many"` when the count was capped (the resources up to `max`
    /// are given; Copas' `"too many"`), `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Semaphore;
    /// let sema = Semaphore::new(3, Some(1), None)?;
    /// sema.give(None)?;
    /// assert_eq!(sema.get_count()?, 2);
    /// let e = sema.give(Some(5)).unwrap_err(); // capped at max
    /// assert_eq!((e.name(), &*e.luasocket_str()), ("too_many", "too many"));
    /// assert_eq!(sema.get_count()?, 3);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn give(&self, given: Option<usize>) -> Result<()> {
        let s = &self.inner;
        if s.destroyed.get() {
            return Err(destroyed());
        }
        let count = s.count.get().saturating_add(given.unwrap_or(1));
        let capped = count > s.max;
        s.count.set(count.min(s.max));
        s.grant();
        if capped {
            return Err(Error::with_message(
                ErrorKind::TooMany,
                format!("too many: the semaphore holds at most {}", s.max),
            ));
        }
        Ok(())
    }

    /// `semaphore:get_count()`: the resources available now.
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Semaphore;
    /// let sema = Semaphore::new(10, Some(4), None)?;
    /// assert_eq!(sema.get_count()?, 4);
    /// sema.destroy()?;
    /// assert_eq!(sema.get_count().unwrap_err().name(), "destroyed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn get_count(&self) -> Result<usize> {
        if self.inner.destroyed.get() {
            return Err(destroyed());
        }
        Ok(self.inner.count.get())
    }

    /// `semaphore:get_wait()`: the resources the waiting threads asked for
    /// minus those available: `give(get_wait())` releases every waiter.
    /// Negative when nobody waits and resources are left.
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, copas::{self, Semaphore}};
    ///
    /// let sema = Semaphore::new(10, Some(2), None)?;
    /// assert_eq!(sema.get_wait()?, -2); // nobody waits, 2 left
    /// let s = sema.clone();
    /// let waiter = copas::addthread(async move { s.take(Some(5), Some(5.0)).await });
    /// copas::pause(0.01).await; // it waits for 5
    /// assert_eq!(sema.get_wait()?, 3);
    /// sema.give(Some(3))?; // give(get_wait()): every waiter gets through
    /// waiter.join(clock() + 5.0).await?;
    /// assert_eq!(sema.get_count()?, 0);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get_wait(&self) -> Result<i64> {
        let s = &self.inner;
        if s.destroyed.get() {
            return Err(destroyed());
        }
        let asked: usize = s.queue.borrow().iter().map(|w| w.requested).sum();
        let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(signed(asked) - signed(s.count.get()))
    }

    /// `semaphore:destroy()`: every waiting thread wakes with
    /// `"destroyed"`, and every later call fails with it.
    ///
    /// # Errors
    ///
    /// `"destroyed"` if it already was.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::{cell::RefCell, rc::Rc};
    /// use sockloop::{clock, copas::{self, Semaphore}};
    ///
    /// let sema = Semaphore::new(1, None, None)?;
    /// let got = Rc::new(RefCell::new(String::new()));
    /// let (s, g) = (sema.clone(), got.clone());
    /// let waiter = copas::addthread(async move {
    ///     let e = s.take(None, Some(f64::INFINITY)).await.unwrap_err();
    ///     *g.borrow_mut() = e.name().to_string();
    /// });
    /// copas::pause(0.01).await; // it waits for a resource
    /// sema.destroy()?;
    /// waiter.join(clock() + 5.0).await?;
    /// assert_eq!(*got.borrow(), "destroyed");
    /// assert_eq!(sema.give(None).unwrap_err().name(), "destroyed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn destroy(&self) -> Result<()> {
        let s = &self.inner;
        if s.destroyed.replace(true) {
            return Err(destroyed());
        }
        let waiting = std::mem::take(&mut *s.queue.borrow_mut());
        for w in &waiting {
            w.granted.set(true);
            wakeup(&w.thread);
        }
        Ok(())
    }
}

impl SemInner {
    /// Hands resources to the threads in line, first come first served,
    /// as far as they go; they run on the loop's next round.
    fn grant(&self) {
        let mut woken = Vec::new();
        {
            let mut q = self.queue.borrow_mut();
            let mut count = self.count.get();
            while q.front().is_some_and(|w| w.requested <= count) {
                if let Some(w) = q.pop_front() {
                    count -= w.requested;
                    w.granted.set(true);
                    woken.push(w.thread);
                }
            }
            self.count.set(count);
        }
        for t in &woken {
            wakeup(t);
        }
    }
}

/// Takes a semaphore waiter out of the line when its wait ends without
/// the resources (or is dropped); resources handed to it meanwhile go
/// back.
struct SemLeave<'a> {
    sem: &'a Semaphore,
    me: &'a Thread,
    granted: &'a Rc<Cell<bool>>,
    requested: usize,
}

impl Drop for SemLeave<'_> {
    fn drop(&mut self) {
        let s = &self.sem.inner;
        if self.granted.get() {
            // Handed over but not taken (the wait was dropped): give back.
            if !s.destroyed.get() {
                let _ = self.sem.give(Some(self.requested));
            }
            return;
        }
        if let Ok(mut q) = s.queue.try_borrow_mut() {
            q.retain(|w| w.thread != *self.me);
        }
        // Those behind a large request may fit now.
        if !s.destroyed.get() {
            s.grant();
        }
    }
}
