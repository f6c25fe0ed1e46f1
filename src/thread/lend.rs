//! Lending a suspended thread to an embedder that runs the thread's code
//! itself for a while (the Lua bridge resumes a Lua coroutine parked in
//! `sock.suspend` directly from another Lua thread, inside LuaJIT): the
//! loop is told who runs, and nothing else can resume the thread
//! meanwhile.

use std::rc::Rc;

use super::spawn::check_resumable;
use super::{Thread, ThreadInner, ThreadStatus};
use crate::context::{try_with_loop, with_loop};
use crate::{Error, ErrorKind, Result};

/// A suspended thread lent out by [`lend`]. While it lives the thread is
/// [`Running`](ThreadStatus::Running) (a [`resume`](crate::resume) or
/// `transfer` to it fails with `thread_busy`, as for any running thread)
/// and it is the [`currentthread`](crate::currentthread); dropping it
/// makes the thread suspended again, parked where it was, and the
/// previous current thread current again. Drop loans in the reverse
/// order of making them.
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread(async {
///     sockloop::suspend(()).await;
/// });
/// sockloop::resume(&t, ()).unwrap();
/// {
///     let _lent = sockloop::lend(&t).unwrap();
///     assert_eq!(t.status(), sockloop::ThreadStatus::Running);
/// }
/// assert_eq!(t.status(), sockloop::ThreadStatus::Suspended);
/// ```
#[must_use = "the thread is suspended again when the loan is dropped"]
pub struct Lent {
    t: Rc<ThreadInner>,
    prev: Option<Rc<ThreadInner>>,
}

/// Lends the suspended thread `t` to the caller, who runs `t`'s code
/// itself (its future stays parked where it suspended, untouched) until
/// it drops the [`Lent`].
///
/// # Errors
///
/// `thread_busy` when `t` runs or waits on I/O, `thread_dead` when it has
/// finished, `invalid_argument` when it has not started (only a thread
/// parked in `suspend` or `transfer` can be lent).
///
/// # Examples
///
/// ```
/// let t = sockloop::newthread(async {
///     sockloop::suspend(()).await;
/// });
/// sockloop::resume(&t, ()).unwrap(); // runs to its suspend
/// let lent = sockloop::lend(&t).unwrap();
/// assert_eq!(sockloop::currentthread().unwrap().id(), t.id());
/// assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "thread_busy");
/// drop(lent);
/// assert!(sockloop::currentthread().is_none());
/// sockloop::resume(&t, ()).unwrap(); // parked where it was
/// assert!(t.is_finished());
/// ```
pub fn lend<T>(t: &Thread<T>) -> Result<Lent> {
    check_resumable(&t.inner)?;
    if t.inner.state.get() == ThreadStatus::New {
        return Err(Error::with_message(
            ErrorKind::InvalidArgument,
            "the thread has not started: only a suspended thread can be lent",
        ));
    }
    t.inner.state.set(ThreadStatus::Running);
    let prev = with_loop(|l| l.set_current(Some(t.inner.clone())));
    Ok(Lent {
        t: t.inner.clone(),
        prev,
    })
}

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lent")
            .field("thread", &self.t.key())
            .finish()
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if self.t.state.get() == ThreadStatus::Running {
            self.t.state.set(ThreadStatus::Suspended);
        }
        let prev = self.prev.take();
        let _ = try_with_loop(|l| l.set_current(prev));
    }
}
