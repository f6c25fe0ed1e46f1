//! Threads: `newthread`, `thread`, `resume`, `suspend`, `transfer`,
//! `yield_now`, `cowrap`, `currentthread`, `onthreadfinish`, `Thread::env`
//! and recoverable cancellation.
//!
//! A thread is shared state, not a spawned task: its boxed future lives in
//! a cell that `resume` polls inline (Lua's synchronous resume), and its
//! one waker queues it on the loop's FIFO ready queue for wake-ups from I/O
//! and timers, which the loop's driver steps in wake order.
//!
//! The files, from the bottom up: `state` (what a thread is: its shared
//! state and waker), `step` (polling a thread once, finishing it, the
//! cancel hand-over: what the loop's driver calls), `handle` (the public
//! [`Thread`] handle), `spawn` (making and resuming threads), `park`
//! (`suspend`, `transfer`, `yield_now`), `env` and `cowrap`.

mod cowrap;
mod env;
mod handle;
mod park;
mod spawn;
mod state;
mod step;

pub use cowrap::{cowrap, CoWrap, Yielder};
pub use env::Env;
pub use handle::{currentthread, onthreadfinish, Thread};
pub use park::{suspend, transfer, try_suspend, try_transfer, yield_now};
pub use spawn::{newthread, resume, thread, try_thread};
pub(crate) use state::ThreadInner;
pub use state::ThreadStatus;
pub use step::cancelled;
pub(crate) use step::{
    drop_stale_wakes, io_cancel, panic_error, step_ready, step_waiting_now, take_cancel,
};
