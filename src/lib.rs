//! Lua-style coroutine sockets on Tokio.
//!
//! sockloop presents the API and the behaviour of luapower's `sock` (and of
//! `socketloop`, `socket2` and LuaSocket's `socket` namespace) over Tokio:
//! threads that look blocking, a synchronous [`resume`]/[`suspend`], absolute
//! `expires` deadlines in [`clock()`] seconds, normalized error names
//! ([`Error::name`]), sleep jobs and timers. `PORTING.md` in the repository
//! maps every upstream call to its Rust twin.
//!
//! # Quick start
//!
//! ```
//! // Threads are created suspended; resume runs one synchronously.
//! let t = sockloop::newthread(async {
//!     let v = sockloop::suspend("parked").await;
//!     assert_eq!(*v.downcast::<u32>().unwrap(), 7);
//! });
//! let out = sockloop::resume(&t, ()).unwrap().unwrap();
//! assert_eq!(*out.downcast::<&str>().unwrap(), "parked");
//! sockloop::resume(&t, 7u32).unwrap();
//! assert!(t.is_finished());
//!
//! // run() drives a loop from synchronous code and returns the output.
//! let n = sockloop::run(async {
//!     sockloop::sleep(0.001).await;
//!     1 + 1
//! });
//! assert_eq!(n, 2);
//! ```
//!
//! # Two settings
//!
//! Standalone, [`run`] and [`start`] block the OS thread on its own
//! current-thread Tokio runtime (one loop per OS thread, made on first
//! use). Inside a program that already runs Tokio with a `LocalSet`, the
//! same calls work: a driver task is spawned on that `LocalSet` while any
//! thread waits, and [`start`] returns `Err("loop_busy")` (await instead).
//! Inside Tokio but outside a `LocalSet`, nothing could run a thread once
//! it waits: [`resume`] returns `Err("no_local_set")` and [`thread`]
//! panics with that error, before any of the thread's code runs.
//!
//! # TLS (feature `tls`)
//!
//! With the `tls` feature, `client_stcp`, `server_stcp` and
//! `server_handshake` give `Stcp`, a TLS connection over a [`Tcp`] with
//! the same calls and rules (luapower's `sock_libtls`), configured by
//! `TlsConfig`; the `ssl` module is LuaSec's `ssl.wrap` + `dohandshake`.
//! The TLS library is rustls with the `ring` crypto provider.
//!
//! # Values
//!
//! Lua's untyped values are [`Value`] = `Box<dyn Any>`: `resume(&t, 5)`
//! boxes `5`; the receiver downcasts it.
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
mod reactor;
mod runtime;
mod thread;
mod time;

pub mod luasocket;
pub mod socket2;
pub mod socketloop;
#[macro_use]
mod sock;
mod addr;
mod opt;
mod raw;
mod stream;
mod tcp;
#[cfg(feature = "tls")]
mod tls;
mod udp;

pub use addr::{
    addr, addr_async, addr_with, AddrEntry, AddrInfo, AddrRequest, Family, Flags, Hints, IpAddrExt,
    Port, Protocol, SockAddr, SockType, ToAddr,
};
pub use error::{Error, ErrorKind, Result};
pub use opt::OptValue;
pub use raw::{raw, Raw};
pub use reactor::{epoll_fd, reactor, set_reactor, Reactor, RemoteThread};
pub use runtime::{poll, run, start, stop};
/// The rustls crate sockloop's TLS is built on (feature `tls`), for
/// [`TlsConfig::from_rustls_client`] / [`TlsConfig::from_rustls_server`]
/// and the certificate types.
#[cfg(feature = "tls")]
pub use rustls;
pub use std::net::IpAddr;
pub use tcp::{tcp, Tcp, Until};
pub use thread::{
    cancelled, cowrap, currentthread, newthread, onthreadfinish, resume, suspend, thread, transfer,
    try_suspend, try_thread, try_transfer, yield_now, CoWrap, Env, Thread, ThreadStatus, Value,
    Yielder,
};
pub use time::{
    clock, runafter, runat, runevery, sleep, sleep_job, sleep_until, KeepRunning, RemoteSleepJob,
    SleepJob, Timer,
};
#[cfg(feature = "tls")]
pub use tls::{
    client_stcp, server_handshake, server_stcp, ssl, ClientAuth, Stcp, StcpServer, StcpUntil,
    TlsConfig, TlsConfigBuilder,
};
pub use udp::{udp, RecvFlags, Udp};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
