//! Parking the current thread: `suspend`, `transfer` (and their `try_`
//! twins) and `yield_now`.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::handle::Thread;
use super::spawn::check_resumable;
use super::state::{Park, ThreadInner};
use super::step::deliver_cancel;
use crate::context::with_loop;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{into_value, Value};

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
pub async fn transfer<T, V: Any>(target: &Thread<T>, v: V) -> Value {
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
pub async fn try_transfer<T, V: Any>(target: &Thread<T>, v: V) -> Result<Value> {
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
                            return Poll::Ready(Ok(Value::new(())));
                        }
                        cur.park.set(Park::Suspend);
                        match target {
                            Some(target) => {
                                let v = v.unwrap_or_else(|| Value::new(()));
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
                            return Poll::Ready(Ok(Value::new(())));
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
