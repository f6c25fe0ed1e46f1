//! Stepping threads: one inline poll of a thread (and the chain of
//! `transfer`s it starts), its finish, the ready-queue entry points the
//! loop's driver calls, and the hand-over of a pending cancel to the call
//! a thread is parked in.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::handle::Thread;
use super::output::{finished, panicked};
use super::state::{Park, ThreadInner, ThreadStatus};
use crate::context::{try_with_loop, with_loop, Key, Loop};
use crate::error::{Error, Result};
use crate::panics::Failure;
use crate::value::Value;

/// What one step of a (chain of) thread(s) ended in.
pub(crate) enum Step {
    /// Parked in `suspend` with this value (or in `transfer`: `None`).
    Suspended(Option<Value>),
    /// Parked on I/O, a sleep or a timer.
    Waiting,
    /// Returned.
    Finished,
    /// Panicked (it is finished now); the failure names the thread.
    Panicked(Failure),
}

/// Polls `t` inline with `input` in its inbox, then follows any chain of
/// `transfer`s (a trampoline, so transfers never nest on the stack).
/// Borrows nothing of the loop while a future is polled.
pub(crate) fn step(l: &Loop, t: Rc<ThreadInner>, input: Option<Value>) -> Step {
    let mut t = t;
    let mut input = input;
    loop {
        let out = step_one(l, &t, input);
        let next = l.transfer.take();
        match next {
            Some((target, v)) => {
                if let Step::Panicked(f) = out {
                    l.record_failure(f);
                }
                t = target;
                input = Some(v);
            }
            None => return out,
        }
    }
}

fn step_one(l: &Loop, t: &Rc<ThreadInner>, input: Option<Value>) -> Step {
    #[cfg(feature = "tracing")]
    let _span = t.span.enter();
    let was = t.state.replace(ThreadStatus::Running);
    crate::trace::debug_event!(target: "sockloop::thread", from = ?was, "resumed");
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
            keep_note(t);
            if t.park.replace(Park::None) == Park::Suspend {
                t.state.set(ThreadStatus::Suspended);
                crate::trace::debug_event!(target: "sockloop::thread", "suspended");
                Step::Suspended(t.outbox.take())
            } else {
                t.state.set(ThreadStatus::Waiting);
                crate::trace::debug_event!(target: "sockloop::thread", "waiting");
                l.waiting_add(1);
                requeue_if_out_of_budget(l, t);
                // Every entry that steps a thread made sure a driver can
                // run before the body ran; this restarts one that ended
                // meanwhile (after `stop()`), so the error cannot be new.
                let _ = crate::runtime::ensure_driver(l);
                Step::Waiting
            }
        }
        Ok(Poll::Ready(())) => {
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(fut)));
            let out = match dropped {
                Ok(()) => Step::Finished,
                Err(p) => Step::Panicked(panicked(t, p)),
            };
            finish(l, t);
            out
        }
        Err(p) => {
            let f = panicked(t, p);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
            finish(l, t);
            Step::Panicked(f)
        }
    }
}

/// A thread that parks once Tokio's cooperative budget has run out may
/// have been told "not now" by a Tokio resource (an I/O readiness, a
/// timer, a channel) rather than "not ready": Tokio then wakes it only
/// when the task that polls the loop returns to the scheduler, and a
/// `block_on` that ends first (every `poll()` round is one) drops that
/// wake-up with its scheduler context. The loop's own ready queue outlives
/// that context, so the thread goes there, and `out_of_budget` tells the
/// driver to let Tokio run (and refill the budget) before it steps the
/// thread again. Tokio's own late wake-up is then a stray one, which
/// `step_ready` tolerates like any other.
#[inline]
fn requeue_if_out_of_budget(l: &Loop, t: &ThreadInner) {
    if !tokio::task::coop::has_budget_remaining() {
        l.out_of_budget.set(true);
        if !t.wake.queued.swap(true, Ordering::AcqRel) {
            l.push_ready(t.key());
        }
    }
}

/// Moves the park noted during the step into the thread: a wait that
/// goes on (the same park, not a call's first) keeps its "since", a new
/// one starts at the round's time stamp.
#[inline]
fn keep_note(t: &ThreadInner) {
    let (on, deadline, since) = crate::park_note::take_note(t.wait_on.get());
    t.wait_on.set(on);
    if let Some(since) = since {
        t.wait_since.set(since);
    }
    t.wait_deadline.set(deadline);
}

fn finish(l: &Loop, t: &Rc<ThreadInner>) {
    // A park noted by a call the body then dropped.
    crate::park_note::clear_note();
    crate::trace::debug_event!(
        target: "sockloop::thread",
        panicked = t.panicked.get(),
        "finished"
    );
    // A cancel nobody took ends with the thread.
    t.unmark_cancel();
    t.state.set(ThreadStatus::Finished);
    drop(t.outbox.take());
    l.remove_thread(t.key());
    let hooks = t
        .extra
        .get()
        .map(|x| std::mem::take(&mut *x.hooks.borrow_mut()));
    if let Some(hooks) = hooks.filter(|h| !h.is_empty()) {
        // One handle for the hooks' whole run: an `Err` nobody can take
        // any more is reported after the last hook, not the first.
        let _handle = Thread::<Value>::from_inner(t.clone());
        for h in hooks {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| h(t))) {
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
    finished(l, t);
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
    if let Step::Panicked(f) = step(l, t, None) {
        l.record_failure(f);
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
        let guard = match l.rt.enter() {
            Ok(g) => g,
            Err(_) => return Ok(false),
        };
        // From outside the loop: this step is a round of its own.
        let _round = guard.as_ref().map(|_| crate::park_note::open_round());
        if guard.is_none() {
            crate::runtime::ensure_driver(l)?;
        }
        if let Step::Panicked(f) = step(l, t.clone(), None) {
            l.record_failure(f);
        }
        Ok(true)
    })
}

/// Consumes `t`'s pending cancel, if any.
pub(super) fn deliver_cancel(t: &ThreadInner) -> bool {
    if !t.unmark_cancel() {
        return false;
    }
    t.cancelled.set(true);
    t.cancel_io.set(true);
    crate::trace::debug_event!(target: "sockloop::thread", "cancelled");
    true
}

/// Consumes a pending cancel of the current sockloop thread: `true` means
/// the caller (a parked sockloop call) must end with `"cancelled"`.
/// Outside a sockloop thread it is always `false`.
#[inline]
pub(crate) fn take_cancel() -> bool {
    if !super::state::cancels_pending() {
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
///
/// # Examples
///
/// ```
/// let t = sockloop::thread(async {
///     sockloop::sleep(60.0).await;               // returns early on a cancel
///     sockloop::cancelled()                      // the thread's result: why
/// });
/// assert!(!sockloop::cancelled());               // not in a thread
/// t.cancel();
/// sockloop::run(async move { assert!(t.join(None).await.unwrap()) });
/// ```
pub fn cancelled() -> bool {
    try_with_loop(|l| l.with_current(|t| t.is_some_and(|t| t.cancelled.get()))).unwrap_or(false)
}
