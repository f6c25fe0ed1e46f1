//! What a thread is: its shared state ([`ThreadInner`]), the state machine
//! ([`ThreadStatus`]) and its one `Send + Sync` waker. The bottom of the
//! thread module: it runs nothing.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::env::Env;
use super::handle::Thread;
use crate::context::{Key, Remote};
use crate::value::Value;

/// Where a thread is in its life, as `coroutine.status` would say it.
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
pub(super) type Hook = Box<dyn FnOnce(&Thread)>;

pub(crate) struct ThreadInner {
    pub(super) key: Key,
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
    pub(super) env: Env,
    // Boxed: 8 bytes per thread instead of 24 for the (rare) hooks.
    #[allow(clippy::box_collection)]
    pub(super) hooks: RefCell<Option<Box<Vec<Hook>>>>,
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
