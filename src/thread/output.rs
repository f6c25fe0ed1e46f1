//! What a thread leaves behind: its body's output ([`ThreadOutput`]), kept
//! for `join` and `resume`; the failure that ended it (a panic, or an
//! `Err` nobody took), kept for `Thread::error` and the loop's report.

use std::any::{Any, TypeId};
use std::task::{Context, Poll};

use super::state::{Output, ThreadInner, ThreadStatus};
use crate::context::{try_with_loop, Loop};
use crate::error::{Error, ErrorKind, Result};
use crate::panics::{panic_message, Failure};
use crate::value::Value;

/// What a thread body may return: `()`, a `Result`, or a plain value.
///
/// The output is handed to whoever takes it: [`Thread::join`](crate::Thread::join)
/// (typed), or the [`resume`](crate::resume) during which the thread
/// finishes (as a [`Value`]; `()` is no value, as a Lua function that
/// returns nothing). An `Err` is delivered the same way; when the thread
/// finishes with an `Err` and nobody can take it any more (every handle
/// dropped without a `join`), it is reported as a panic is:
/// [`start`](crate::start) and [`poll`](crate::poll) return it as
/// `"thread_failed"` naming the thread, [`run`](crate::run) panics with it,
/// and [`onthreadfinish`](crate::onthreadfinish) hooks see it in
/// [`Thread::error`](crate::Thread::error).
///
/// Implemented for `()`, `!` (a body that never returns), `Result<T, E>`
/// (any `T: 'static`, `E: Debug + 'static`), the std types (numbers,
/// strings, collections, `Option`, `Box`, `Rc`, `Arc`, tuples, arrays,
/// addresses, `Duration`) and sockloop's own. The trait is sealed: Rust
/// cannot implement it for every type and still tell an `Err` apart, so a
/// type of your own travels in an `Ok(..)` or a `Box`:
///
/// ```
/// struct Report {
///     lines: usize,
/// }
///
/// let t = sockloop::newthread(async { Box::new(Report { lines: 3 }) });
/// let out = sockloop::resume(&t, ()).unwrap().unwrap(); // the finish value
/// assert_eq!(out.get::<Box<Report>>().unwrap().lines, 3);
///
/// let t = sockloop::thread(async { Ok::<_, sockloop::Error>(Report { lines: 4 }) });
/// # sockloop::run(async move {
/// assert_eq!(t.join(None).await.unwrap().unwrap().lines, 4);
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the output of a sockloop thread",
    note = "return it in `Ok::<_, sockloop::Error>(..)` (a `Result` of any type) or in a `Box`; \
            see the docs of `sockloop::ThreadOutput`"
)]
pub trait ThreadOutput: 'static + sealed::Sealed {
    /// The text of the error this output is, if it is one: `Some` for an
    /// `Err`, `None` (the default) for everything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::ThreadOutput;
    ///
    /// let ok: Result<u8, String> = Ok(1);
    /// assert_eq!(ok.failure(), None);
    /// let err: Result<u8, sockloop::Error> = Err(sockloop::ErrorKind::Timeout.into());
    /// assert_eq!(err.failure().as_deref(), Some("timeout"));
    /// ```
    fn failure(&self) -> Option<String> {
        None
    }
}

pub(crate) mod sealed {
    /// Keeps [`ThreadOutput`](super::ThreadOutput) implemented by this
    /// crate only.
    pub trait Sealed {}
}

impl<T, E> sealed::Sealed for Result<T, E> {}

impl<T: 'static, E: std::fmt::Debug + 'static> ThreadOutput for Result<T, E> {
    fn failure(&self) -> Option<String> {
        let e = self.as_ref().err()?;
        // `Display` for the error types that have it, `Debug` otherwise.
        let any = e as &dyn Any;
        Some(if let Some(e) = any.downcast_ref::<Error>() {
            e.to_string()
        } else if let Some(e) = any.downcast_ref::<std::io::Error>() {
            e.to_string()
        } else if let Some(s) = any.downcast_ref::<String>() {
            s.clone()
        } else if let Some(s) = any.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
            e.to_string()
        } else if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error>>() {
            e.to_string()
        } else {
            format!("{e:?}")
        })
    }
}

/// Implements [`ThreadOutput`] for types that are never an `Err`. Each
/// crate type's impl sits next to the type; the std types' are here.
macro_rules! plain_outputs {
    ($($t:ty),* $(,)?) => {
        $(
            impl $crate::thread::Sealed for $t {}
            impl $crate::thread::ThreadOutput for $t {}
        )*
    };
}
pub(crate) use plain_outputs;

plain_outputs!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    String,
    &'static str,
    std::borrow::Cow<'static, str>,
    std::ffi::OsString,
    std::path::PathBuf,
    std::convert::Infallible,
    std::time::Duration,
    std::time::SystemTime,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    Value,
    Error,
    ErrorKind,
);

/// `!`, named on stable Rust through a function pointer's return type: a
/// body that never returns (`async { loop { .. } }`, `async { panic!() }`)
/// has output `!`. Without this impl such a body is a compile error in
/// edition 2024 and a never-type-fallback lint in 2021.
type Never = <fn() -> ! as FnReturn>::Output;

trait FnReturn {
    type Output;
}

impl<R> FnReturn for fn() -> R {
    type Output = R;
}

impl sealed::Sealed for Never {}
impl ThreadOutput for Never {}

/// [`plain_outputs`] for generic types (any `'static` parameters).
macro_rules! generic_outputs {
    ($($t:ident<$($p:ident),+>),* $(,)?) => {
        $(
            impl<$($p),+> $crate::thread::Sealed for $t<$($p),+> {}
            impl<$($p: 'static),+> $crate::thread::ThreadOutput for $t<$($p),+> {}
        )*
    };
}
pub(super) use generic_outputs;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

generic_outputs!(
    Vec<T>,
    VecDeque<T>,
    Option<T>,
    BTreeSet<T>,
    BTreeMap<K, V>,
    HashSet<T, S>,
    HashMap<K, V, S>,
);

impl<T: ?Sized> sealed::Sealed for Box<T> {}
impl<T: ?Sized + 'static> ThreadOutput for Box<T> {}
impl<T: ?Sized> sealed::Sealed for Rc<T> {}
impl<T: ?Sized + 'static> ThreadOutput for Rc<T> {}
impl<T: ?Sized> sealed::Sealed for Arc<T> {}
impl<T: ?Sized + 'static> ThreadOutput for Arc<T> {}
impl<T, const N: usize> sealed::Sealed for [T; N] {}
impl<T: 'static, const N: usize> ThreadOutput for [T; N] {}

macro_rules! tuple_outputs {
    ($(($($p:ident),+)),* $(,)?) => {
        $(
            impl<$($p),+> sealed::Sealed for ($($p,)+) {}
            impl<$($p: 'static),+> ThreadOutput for ($($p,)+) {}
        )*
    };
}

tuple_outputs!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
);

// ===== keeping the output =====

/// Keeps the body's output in the current thread (called by the body's
/// wrapper as it returns). `()` is not kept.
pub(super) fn store<T: ThreadOutput>(out: T) {
    if TypeId::of::<T>() == TypeId::of::<()>() {
        return;
    }
    let failure = out.failure();
    let _ = try_with_loop(|l| {
        l.with_current(|t| {
            let Some(t) = t else { return };
            let x = t.extra();
            if let Some(msg) = failure {
                let msg = format!("{} returned Err: {msg}", t.describe());
                crate::trace::debug_event!(target: "sockloop::thread", error = %msg, "failed");
                *x.failure.borrow_mut() = Some((ErrorKind::ThreadFailed, msg));
                x.unreported.set(true);
            }
            *x.output.borrow_mut() = Output::Ready(Value::new(out));
        })
    });
}

/// The value of the first `resume` (or `transfer`) of the current thread:
/// what a `newthread_with` body receives. `()` when there is none.
pub(super) fn first_value() -> Value {
    try_with_loop(|l| l.with_current(|t| t.and_then(|t| t.inbox.take())))
        .flatten()
        .unwrap_or_else(|| Value::new(()))
}

/// Takes a finished thread's result for `join`.
fn take_result<T: 'static>(t: &ThreadInner) -> Result<T> {
    if t.panicked.get() {
        return Err(error(t).unwrap_or_else(|| ErrorKind::ThreadPanicked.into()));
    }
    let Some(x) = t.extra.get() else {
        return Value::new(()).get();
    };
    let mut slot = x.output.borrow_mut();
    match std::mem::replace(&mut *slot, Output::Taken) {
        Output::Ready(v) => {
            drop(slot);
            x.unreported.set(false);
            v.get()
        }
        Output::Taken => Err(Error::with_message(
            ErrorKind::ThreadDead,
            "the thread has finished and its result was already taken (by resume or join)",
        )),
        Output::Nothing => {
            *slot = Output::Nothing;
            drop(slot);
            Value::new(()).get()
        }
    }
}

/// Takes a finished thread's output for the `resume` it finished in:
/// `None` for `()`.
pub(super) fn take_value(t: &ThreadInner) -> Option<Value> {
    let x = t.extra.get()?;
    let mut slot = x.output.borrow_mut();
    match std::mem::replace(&mut *slot, Output::Taken) {
        Output::Ready(v) => {
            x.unreported.set(false);
            Some(v)
        }
        other => {
            *slot = other;
            None
        }
    }
}

/// `join`'s poll: the result once `t` has finished; until then the task
/// is registered to be woken at the finish.
pub(super) fn poll_join<T: 'static>(t: &ThreadInner, cx: &mut Context<'_>) -> Poll<Result<T>> {
    if t.state.get() == ThreadStatus::Finished {
        return Poll::Ready(take_result(t));
    }
    let mut joiners = t.extra().joiners.borrow_mut();
    if !joiners.iter().any(|w| w.will_wake(cx.waker())) {
        joiners.push(cx.waker().clone());
    }
    Poll::Pending
}

// ===== failures =====

/// Notes a panic that ended `t` (for [`error`]) and makes the failure the
/// loop reports, naming the thread.
pub(super) fn panicked(t: &ThreadInner, p: Box<dyn Any + Send>) -> Failure {
    t.panicked.set(true);
    let who = t.describe();
    let msg = format!("{who} panicked: {}", panic_message(&p));
    crate::trace::debug_event!(target: "sockloop::thread", panic = %msg, "panicked");
    *t.extra().failure.borrow_mut() = Some((ErrorKind::ThreadPanicked, msg));
    Failure::Panic(Some(who), p)
}

/// How `t` ended badly, if it did: `"thread_panicked"` or `"thread_failed"`.
pub(super) fn error(t: &ThreadInner) -> Option<Error> {
    let x = t.extra.get()?;
    let f = x.failure.borrow();
    let (kind, msg) = f.as_ref()?;
    Some(Error::with_message(*kind, msg.clone()))
}

/// The end of a thread's finish: wakes its joiners, then reports an `Err`
/// nobody can take any more.
pub(super) fn finished(l: &Loop, t: &ThreadInner) {
    let Some(x) = t.extra.get() else { return };
    let joiners = std::mem::take(&mut *x.joiners.borrow_mut());
    for w in joiners {
        w.wake();
    }
    report_if_orphaned(l, t);
}

/// Reports a finished thread's `Err` result when no handle is left to
/// take it (at the finish, or when the last handle is dropped).
pub(super) fn report_if_orphaned(l: &Loop, t: &ThreadInner) {
    if t.handles.get() != 0 {
        return;
    }
    let Some(x) = t.extra.get() else { return };
    if !x.unreported.replace(false) {
        return;
    }
    if let Some(e) = error(t) {
        l.record_failure(Failure::Error(e));
    }
}
