//! Panics and failures nobody could be told about at once: the text of a
//! panic payload, the error a panic or an unjoined `Err` becomes
//! ([`Failure`], kept by the loop for the next `start`/`run`/`poll`), and
//! catching the panics Tokio answers a probe with, quietly (the one
//! `thread_local!` here).

use std::any::Any;
use std::cell::Cell;

use crate::error::{Error, ErrorKind};

thread_local! {
    /// Set while [`catch_quietly`] runs a probe: the panic hook stays silent.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Something that went wrong where nobody could be told at once, kept for
/// the next `start`/`run`/`poll` to report.
pub(crate) enum Failure {
    /// A panic, with the name of the sockloop thread it ended (`None`: a
    /// timer callback, a finish hook, a posted command).
    Panic(Option<String>, Box<dyn Any + Send>),
    /// A thread's `Err` that nobody took (a `"thread_failed"` error).
    Error(Error),
}

impl Failure {
    /// The error `start`/`poll`/`resume` return for it: `"thread_panicked"`
    /// (naming the thread and quoting the panic) or `"thread_failed"`.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Panic(who, p) => panic_error(who.as_deref(), &p),
            Failure::Error(e) => e,
        }
    }
}

/// The `"thread_panicked"` error for a panic of `who` (a thread's
/// description; `None` outside a thread).
pub(crate) fn panic_error(who: Option<&str>, p: &Box<dyn Any + Send>) -> Error {
    let what = panic_message(p);
    let msg = match who {
        Some(who) => format!("{who} panicked: {what}"),
        None => what,
    };
    Error::with_message(ErrorKind::ThreadPanicked, msg)
}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a thread panicked".to_string()
    }
}

/// Runs `f`, a call into Tokio that can only answer "not here" by
/// panicking (`spawn_local` outside a `LocalSet`, a timer in a runtime
/// without timers), and catches that panic without printing it.
///
/// `f` must not run user code: its panics are not reported anywhere. The
/// first call chains a panic hook in front of the existing one that stays
/// silent only while this OS thread is inside `catch_quietly`.
pub(crate) fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    // `take_hook`/`set_hook` panic on a panicking thread: then the probe's
    // panic, if any, is printed, and nothing else changes.
    if !std::thread::panicking() {
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.try_with(Cell::get).unwrap_or(false) {
                    prev(info);
                }
            }));
        });
    }
    let was = QUIET.with(|q| q.replace(true));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    res
}
