//! Threads: `newthread`, `thread`, `resume`, `suspend`, `transfer`,
//! `yield_now`, `cowrap`, `currentthread`, `onthreadfinish`, `Thread::env`,
//! `Thread::join` and recoverable cancellation.
//!
//! A thread is shared state, not a spawned task: its boxed future lives in
//! a cell that `resume` polls inline (Lua's synchronous resume), and its
//! one waker queues it on the loop's FIFO ready queue for wake-ups from I/O
//! and timers, which the loop's driver steps in wake order.
//!
//! The files, from the bottom up: `state` (what a thread is: its shared
//! state and waker), `output` (what a finished thread leaves: its result
//! and failure), `step` (polling a thread once, finishing it, the cancel
//! hand-over: what the loop's driver calls), `handle` (the public
//! [`Thread`] handle, `join`), `spawn` (making and resuming threads),
//! `park` (`suspend`, `transfer`, `yield_now`), `env` and `cowrap`.

mod cowrap;
mod env;
mod handle;
mod lend;
mod output;
mod park;
mod spawn;
mod state;
mod step;

pub use cowrap::{cowrap, CoWrap, Yielder};
pub use env::Env;
pub(crate) use handle::current_as;
pub use handle::{currentthread, onthreadfinish, Thread};
pub use lend::{lend, Lent};
pub use output::ThreadOutput;
pub(crate) use output::{plain_outputs, sealed::Sealed};
pub use park::{suspend, transfer, try_suspend, try_transfer, yield_now};
pub(crate) use spawn::resume_inner;
pub use spawn::{
    newthread, newthread_named, newthread_with, resume, thread, thread_named, try_thread,
    ThreadBuilder,
};
pub(crate) use state::ThreadInner;
pub use state::ThreadStatus;
pub use step::cancelled;
pub(crate) use step::{drop_stale_wakes, io_cancel, step_ready, step_waiting_now, take_cancel};
