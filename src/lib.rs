//! sockloop: Lua-style coroutine sockets on Tokio.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

// Parts of these are used only by the scheduler and socket layer, which
// land from other branches; until then they would warn as dead code.
#[allow(dead_code)]
mod deadline;
#[allow(dead_code)]
mod error;
#[allow(dead_code)]
mod thread;
mod time;

pub mod luasocket;

pub use error::{Error, ErrorKind, Result};
pub use time::clock;
