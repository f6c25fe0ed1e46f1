//! sockloop: Lua-style coroutine sockets on Tokio.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod context;
mod deadline;
mod error;
mod runtime;
mod thread;
mod time;

#[macro_use]
mod sock;
mod addr;
mod opt;
mod raw;
mod tcp;
mod udp;

pub use addr::{
    addr, addr_async, addr_with, AddrEntry, AddrInfo, AddrRequest, Family, Flags, Hints, IpAddrExt,
    Port, Protocol, SockAddr, SockType, ToAddr,
};
pub use error::{Error, ErrorKind, Result};
pub use opt::OptValue;
pub use raw::{raw, Raw};
pub use runtime::{poll, run, start, stop};
pub use std::net::IpAddr;
pub use tcp::{tcp, Tcp};
pub use thread::{
    cancelled, cowrap, currentthread, newthread, onthreadfinish, resume, suspend, thread, transfer,
    try_suspend, try_transfer, yield_now, CoWrap, Env, Thread, ThreadStatus, Value, Yielder,
};
pub use time::{
    clock, runafter, runat, runevery, sleep, sleep_job, sleep_until, KeepRunning, SleepJob, Timer,
};
pub use udp::{udp, Udp};
