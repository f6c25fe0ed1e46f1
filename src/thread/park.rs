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
/// (`sock.suspend`); returns the value of the next [`resume`](crate::resume).
///
/// A suspended thread does not count as waiting: it does not keep
/// [`start`](crate::start) running. If the thread is cancelled while
/// suspended, `suspend` returns early with a `()` value and
/// [`cancelled()`](crate::cancelled) is `true`.
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
///
/// # Send
///
/// Not `Send`: it parks a thread of this OS thread's loop.
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(sockloop::suspend(())); // the future is not Send
/// ```
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread(async {
///     let a = sockloop::suspend("first").await;     // hands "first" out
///     let b = sockloop::suspend(a.get::<i32>().unwrap() + 1).await;
///     b.get::<&str>().unwrap()
/// });
/// let out = sockloop::resume(&t, ()).unwrap().unwrap();
/// assert_eq!(out.get::<&str>().unwrap(), "first");
/// let out = sockloop::resume(&t, 1).unwrap().unwrap();
/// assert_eq!(out.get::<i32>().unwrap(), 2);
/// let out = sockloop::resume(&t, "done").unwrap().unwrap(); // the finish value
/// assert_eq!(out.get::<&str>().unwrap(), "done");
/// ```
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
///
/// # Send
///
/// Not `Send`, as [`suspend`].
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // A plain Tokio task is not a sockloop thread.
/// let e = sockloop::try_suspend(()).await.unwrap_err();
/// assert_eq!(e.name(), "not_in_thread");
/// # });
/// ```
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
/// A [`resume`](crate::resume) that started a chain of transfers returns
/// when the chain suspends or finishes. The first transfer to a new thread
/// made with [`newthread_with`](crate::newthread_with) hands it `v` as its
/// argument.
///
/// # Panics
///
/// On misuse, like [`suspend`]: awaited outside a sockloop thread, or
/// `target` is not new or suspended. [`try_transfer`] returns those as `Err`.
///
/// # Cancel safety
///
/// Cancel-safe once parked: dropping it leaves the thread as it is.
///
/// # Send
///
/// Not `Send`, as [`suspend`].
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// let b = sockloop::newthread(async move {
///     let v = sockloop::suspend(()).await;        // parked until the transfer
///     l.borrow_mut().push(format!("b got {}", v.get::<i32>().unwrap()));
/// });
/// sockloop::resume(&b, ()).unwrap();
/// let b2 = b.clone();
/// let a = sockloop::newthread(async move {
///     sockloop::transfer(&b2, 7).await;           // b runs now; a stays parked
/// });
/// sockloop::resume(&a, ()).unwrap();              // returns when b finishes
/// assert_eq!(*log.borrow(), ["b got 7"]);
/// assert!(b.is_finished());
/// assert_eq!(a.status(), sockloop::ThreadStatus::Suspended);
/// ```
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
/// `"thread_dead"` when `target` cannot be resumed (see
/// [`resume`](crate::resume)).
///
/// # Cancel safety
///
/// As [`transfer`].
///
/// # Send
///
/// Not `Send`, as [`suspend`].
///
/// # Examples
///
/// ```
/// let done = sockloop::thread(async {});            // finished at once
/// let t = sockloop::newthread(async move {
///     let e = sockloop::try_transfer(&done, ()).await.unwrap_err();
///     assert_eq!(e.name(), "thread_dead");
/// });
/// sockloop::resume(&t, ()).unwrap();
/// assert!(t.is_finished() && !t.is_panicked());
/// ```
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
                        crate::park_note::note_park(crate::park_note::Park::Suspend, None, true);
                        match target {
                            Some(target) => {
                                let v = v.unwrap_or_else(|| Value::new(()));
                                l.transfer.set(Some((target, v)));
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
                        // A stray wake: stay parked (since the first park).
                        cur.park.set(Park::Suspend);
                        crate::park_note::note_park(crate::park_note::Park::Suspend, None, false);
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
/// (`sock.yield` outside a generator; see [`cowrap`](crate::cowrap) for
/// yielding values).
///
/// The thread stays queued, so it counts as waiting. Outside a sockloop
/// thread it behaves like `tokio::task::yield_now`.
///
/// # Cancel safety
///
/// Cancel-safe.
///
/// # Send
///
/// `Send`: it only wakes its own task.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b"] {
///     let l = log.clone();
///     sockloop::thread(async move {
///         for i in 0..2 {
///             l.borrow_mut().push(format!("{name}{i}"));
///             sockloop::yield_now().await;          // let the other one run
///         }
///     });
/// }
/// sockloop::start().unwrap();
/// assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
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
