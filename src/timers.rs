//! The loop's timer queue: sleeps of sockloop threads and the
//! `runat`/`runafter`/`runevery` jobs, ordered by `(deadline, creation
//! number)`, fired by the loop's driver. State at the bottom: it runs
//! timer callbacks and wakes sleepers, nothing else, and knows the loop
//! that owns the queue only through [`TimerHost`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use tokio::time::Instant;

/// What a timer runs ([`TimerInfo::kind`](crate::TimerInfo::kind)).
///
/// # Examples
///
/// ```
/// let t = sockloop::runafter(60.0, || {});
/// let inv = sockloop::inventory();
/// assert!(inv.timers.iter().any(|x| x.kind == sockloop::TimerKind::Once));
/// t.cancel();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerKind {
    /// A thread's [`sleep`](crate::sleep) (or a sleep job's timer).
    Sleep,
    /// [`runat`](crate::runat) or [`runafter`](crate::runafter).
    Once,
    /// [`runevery`](crate::runevery).
    Every,
}

/// What the timer functions need of the loop that owns the queue (the
/// loop implements it; this file does not know the loop).
pub(crate) trait TimerHost {
    /// The loop's timer queue.
    fn timers(&self) -> &RefCell<TimerQueue>;
    /// A `runat`/`runafter`/`runevery` job has ended (it no longer keeps
    /// the loop running).
    fn job_ended(&self);
    /// A timer callback panicked: keep the panic for the loop's report.
    fn timer_panicked(&self, p: Box<dyn Any + Send>);
}

// ===== the timer queue =====

pub(crate) enum Action {
    /// Wake a parked sleeper.
    Wake(RefCell<Option<Waker>>),
    /// `runat`/`runafter`.
    Once(Cell<Option<Box<dyn FnOnce()>>>),
    /// `runevery` (boxed: the sleep entries stay small).
    Every(Box<Every>),
}

/// `runevery`: the n-th call is due at `start + n * period`.
pub(crate) struct Every {
    pub(crate) f: RefCell<Box<dyn FnMut() -> bool>>,
    pub(crate) start: Instant,
    pub(crate) period: Duration,
    pub(crate) n: Cell<u32>,
}

pub(crate) struct TimerJob {
    /// Cancelled, or (jobs) run to the end: the entry is skipped.
    pub(crate) done: Cell<bool>,
    pub(crate) fired: Cell<bool>,
    pub(crate) action: Action,
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

pub(crate) fn insert(l: &impl TimerHost, at: Instant, job: Rc<TimerJob>) {
    l.timers().borrow_mut().push(at, job);
}

/// The earliest live deadline, dropping dead entries on the way.
#[inline]
pub(crate) fn next_deadline(l: &impl TimerHost) -> Option<Instant> {
    // Inline, so that a round with no timer queued (every round of a
    // server whose calls have no deadline) pays a length check, not a call.
    if l.timers().borrow().heap.is_empty() {
        return None;
    }
    first_live(l)
}

/// The earliest deadline, dropping the cancelled entries before it.
fn first_live(l: &impl TimerHost) -> Option<Instant> {
    let mut q = l.timers().borrow_mut();
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
pub(crate) fn fire_one(l: &impl TimerHost, now: Instant) -> bool {
    let entry = {
        let mut q = l.timers().borrow_mut();
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
            l.job_ended();
            if let Some(f) = f.take() {
                if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
                    l.timer_panicked(p);
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
                        l.timer_panicked(p);
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
                l.job_ended();
            }
        }
    }
    true
}

/// The pending timers, earliest first: when each fires, what it is, and a
/// periodic job's period (for the inventory).
pub(crate) fn list(l: &impl TimerHost) -> Vec<(Instant, TimerKind, Option<Duration>)> {
    let q = l.timers().borrow();
    let mut v: Vec<_> = q
        .heap
        .iter()
        .filter(|e| !e.job.done.get())
        .map(|e| match &e.job.action {
            Action::Wake(_) => (e.at, TimerKind::Sleep, None),
            Action::Once(_) => (e.at, TimerKind::Once, None),
            Action::Every(x) => (e.at, TimerKind::Every, Some(x.period)),
        })
        .collect();
    v.sort_by_key(|x| x.0);
    v
}
