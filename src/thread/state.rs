//! What a thread is: its shared state ([`ThreadInner`]), the state machine
//! ([`ThreadStatus`]), its one `Send + Sync` waker, and how many threads
//! of this OS thread have a cancel pending (the one `thread_local!` here).
//! The bottom of the thread module: it runs nothing.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::env::Env;
use crate::context::{Key, Remote};
use crate::error::ErrorKind;
use crate::park_note::{Since, Stamp};
use crate::value::Value;

thread_local! {
    /// How many threads of this OS thread's loop have a cancel pending: a
    /// parked call reads this one word instead of looking up the current
    /// thread (`take_cancel` runs on every park and wake-up).
    static CANCELS: Cell<usize> = const { Cell::new(0) };
}

/// `false` when no thread of this OS thread's loop has a cancel pending.
#[inline]
pub(crate) fn cancels_pending() -> bool {
    CANCELS.try_with(|c| c.get() != 0).unwrap_or(true)
}

/// Adds `d` to the count of pending cancels.
fn count_cancels(d: isize) {
    let _ = CANCELS.try_with(|c| c.set(c.get().wrapping_add_signed(d)));
}

/// Where a thread is in its life, as `coroutine.status` would say it
/// ([`Thread::status`](crate::Thread::status)).
///
/// # Examples
///
/// ```
/// use sockloop::ThreadStatus;
///
/// let t = sockloop::thread(async { sockloop::sleep(0.001).await });
/// assert_eq!(t.status(), ThreadStatus::Waiting);     // on a timer
/// sockloop::start().unwrap();
/// assert_eq!(t.status(), ThreadStatus::Finished);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadStatus {
    /// Made by `newthread`, never resumed.
    New,
    /// On the stack: being polled now (the current thread, or one that
    /// resumed the current thread).
    Running,
    /// Parked in `suspend` or `transfer`: can be resumed.
    Suspended,
    /// Parked on I/O, a sleep or a timer: the loop resumes it.
    Waiting,
    /// Finished (returned or panicked).
    Finished,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Park {
    None,
    Suspend,
}

pub(super) type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;
/// A finish hook ([`onthreadfinish`](crate::onthreadfinish)), given the
/// finished thread.
pub(super) type Hook = Box<dyn FnOnce(&Rc<ThreadInner>)>;

pub(crate) struct ThreadInner {
    pub(super) state: Cell<ThreadStatus>,
    pub(super) park: Cell<Park>,
    pub(super) fut: Cell<Option<BoxFuture>>,
    pub(super) inbox: Cell<Option<Value>>,
    pub(super) outbox: Cell<Option<Value>>,
    pub(super) waker: Waker,
    pub(super) wake: Arc<ThreadWaker>,
    pub(super) cancel_pending: Cell<bool>,
    pub(super) cancelled: Cell<bool>,
    /// A cancel was delivered to an `AsyncRead`/`AsyncWrite` poll during
    /// this step (see [`io_cancel`]).
    pub(super) cancel_io: Cell<bool>,
    pub(super) panicked: Cell<bool>,
    /// Live [`Thread`](crate::Thread) handles (not the loop's own references): when the
    /// last one goes, nobody can take the thread's result any more.
    pub(super) handles: Cell<u32>,
    pub(super) env: Env,
    /// What few threads need, made on first use (8 bytes per thread).
    pub(super) extra: OnceCell<Box<Extra>>,
    /// What the thread last parked on (for the inventory; set when a step
    /// ends in a park).
    pub(super) wait_on: Cell<usize>,
    /// Packed in 4 bytes, so that it fits beside the flags above (the
    /// thread's allocation stays in its size class).
    pub(super) wait_since: Cell<Since>,
    pub(super) wait_deadline: Cell<Stamp>,
    /// The thread's `tracing` span (id, name), entered at every step.
    #[cfg(feature = "tracing")]
    pub(super) span: tracing::Span,
}

/// The rarely used part of a thread: its name, finish hooks, joiners and
/// result.
#[derive(Default)]
pub(super) struct Extra {
    /// Given at creation, never changed.
    pub(super) name: Option<Box<str>>,
    pub(super) hooks: RefCell<Vec<Hook>>,
    /// Tasks parked in `join`, woken at the finish.
    pub(super) joiners: RefCell<Vec<Waker>>,
    pub(super) output: RefCell<Output>,
    /// How the thread ended badly (`thread_panicked` or `thread_failed`),
    /// with the message that names it, for `Thread::error`.
    pub(super) failure: RefCell<Option<(ErrorKind, String)>>,
    /// The body returned `Err` and nobody has taken the result or been
    /// told about it yet.
    pub(super) unreported: Cell<bool>,
}

/// A finished thread's result, if its body returned something else than `()`.
#[derive(Default)]
pub(super) enum Output {
    /// Not finished, or finished with `()` (nothing to keep).
    #[default]
    Nothing,
    Ready(Value),
    /// Taken by `join` or `resume`.
    Taken,
}

impl ThreadInner {
    /// Makes a cancel pending (counted per OS thread, see
    /// [`cancels_pending`]).
    pub(crate) fn mark_cancel(&self) {
        if !self.cancel_pending.replace(true) {
            count_cancels(1);
        }
    }

    /// Clears a pending cancel; `true` if there was one.
    pub(crate) fn unmark_cancel(&self) -> bool {
        let was = self.cancel_pending.replace(false);
        if was {
            count_cancels(-1);
        }
        was
    }

    /// The thread's [`Extra`], made on first use.
    pub(super) fn extra(&self) -> &Extra {
        self.extra.get_or_init(Box::default)
    }

    /// [`Thread::id`](crate::Thread::id).
    pub(crate) fn id(&self) -> u64 {
        self.key()
    }

    /// The thread's key in its loop (kept by its waker only: 8 bytes less
    /// in every thread).
    #[inline]
    pub(super) fn key(&self) -> Key {
        self.wake.key
    }

    /// [`Thread::status`](crate::Thread::status).
    pub(crate) fn status(&self) -> ThreadStatus {
        self.state.get()
    }

    /// What the thread last parked on, "since" read at `now`.
    pub(crate) fn wait_note(&self, now: tokio::time::Instant) -> crate::park_note::Note {
        crate::park_note::Note {
            on: self.wait_on.get(),
            since: self.wait_since.get().at(now),
            deadline: self.wait_deadline.get().get(),
        }
    }

    /// The name given at creation.
    pub(crate) fn name(&self) -> Option<&str> {
        self.extra.get()?.name.as_deref()
    }

    /// How reports name the thread: `sockloop thread 'name' (id 3)`, or
    /// `sockloop thread 3` when it has no name.
    pub(super) fn describe(&self) -> String {
        match self.name() {
            Some(n) => format!("sockloop thread '{n}' (id {})", self.key()),
            None => format!("sockloop thread {}", self.key()),
        }
    }
}

/// The waker of one thread: `Send + Sync`, so a reactor on another OS
/// thread may call it; it queues the thread's key on its loop.
pub(crate) struct ThreadWaker {
    pub(super) remote: Arc<Remote>,
    pub(super) key: Key,
    pub(super) queued: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.remote.wake(self.key);
        }
    }
}
