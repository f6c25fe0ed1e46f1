//! sockloop: Lua-style coroutine sockets on Tokio.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod deadline;
mod error;
mod thread;
mod time;

pub use error::{Error, ErrorKind, Result};
pub use time::clock;
