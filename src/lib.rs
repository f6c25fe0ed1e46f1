//! Lua-style coroutine sockets on Tokio.
//!
//! sockloop presents the API and the behaviour of luapower's `sock` (and of
//! `socketloop`, `socket2`, LuaSocket's `socket` namespace with its UDP
//! objects and `socket.dns`, and [Copas](copas)) over Tokio:
//! threads that look blocking, a synchronous [`resume`]/[`suspend`], absolute
//! `expires` deadlines in [`clock()`] seconds, normalized error names
//! ([`Error::name`]), sleep jobs and timers.
//!
//! **Porting Lua code?** The porting guide, `PORTING.md` in the repository
//! and the [`porting`] page of these docs, maps every upstream call to its
//! Rust twin with the behaviour differences and why. Lua names spelled
//! differently in Rust are search aliases here: search `type`,
//! `threadenv`, `getsockname`, `receivefrom`, `yield`, ...
//!
//! # Quick start
//!
//! ```
//! // Threads are created suspended; resume runs one synchronously.
//! let t = sockloop::newthread(async {
//!     let v = sockloop::suspend("parked").await;
//!     assert_eq!(v.get::<u32>().unwrap(), 7);
//! });
//! let out = sockloop::resume(&t, ()).unwrap().unwrap();
//! assert_eq!(out.get::<&str>().unwrap(), "parked");
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
//! it waits: [`resume`] and [`try_thread`] return `Err("no_local_set")`
//! and [`thread`] panics with that error, before any of the thread's code
//! runs.
//!
//! # Sockets
//!
//! Every socket is one [`Socket<K>`](Socket) of a [`kind`]: [`Tcp`] (TCP
//! and Unix stream sockets), `Stcp` (TLS), [`Udp`] (UDP and Unix
//! datagrams) and [`Raw`] are its aliases. The calls every socket has, the
//! stream calls and the datagram calls are each written once, and every
//! I/O path (the calls, Tokio's `AsyncRead`/`AsyncWrite`, TLS records, the
//! compatibility layers) goes through one wait entry: the same deadlines,
//! cancels, `"closed"` wake-ups and [`inventory`] counters for all.
//!
//! # TLS (feature `tls`)
//!
//! With the `tls` feature, `client_stcp`, `server_stcp` and
//! `server_handshake` give `Stcp`, a TLS connection over a [`Tcp`] with
//! the same calls and rules (luapower's `sock_libtls`), configured by
//! `TlsConfig`; the `ssl` module is LuaSec's `ssl.wrap` + `dohandshake`.
//! The TLS library is rustls with the `ring` crypto provider.
//!
//! # Deadlines
//!
//! Every blocking call takes `expires`, an **absolute** [`clock()`] time,
//! as sock.lua: `s.recv(&mut buf, clock() + 5.0)`, or `None` for no
//! deadline. [`clock()`] is on the system's monotonic scale (seconds since
//! boot), so a relative timeout passed by mistake is long past and fails
//! at once with `"timeout"`, whose message says how far in the past
//! `expires` was and that it is absolute. It follows Tokio's clock: a
//! paused Tokio clock drives deadlines, sleeps and timers in tests.
//!
//! # Values and results
//!
//! Lua's untyped values are [`Value`]s: `resume(&t, 5)` sends an `i32`;
//! the receiver takes it out with `v.get::<i32>()`, whose error names both
//! types when they differ (`"wrong_type"`: `expected u64, got i32`).
//!
//! A thread body may return a value or a `Result` (so `?` works where Lua
//! code used `assert`): [`Thread::join`] waits for it, the [`resume`]
//! during which the thread finishes returns it, and an `Err` nobody joins
//! is reported by [`start`]/[`run`] as `"thread_failed"`, naming the
//! thread ([`newthread_named`]).
//!
//! ```
//! let n = sockloop::run(async {
//!     let t = sockloop::thread_named("parse", async { "42".parse::<u32>() });
//!     t.join(None).await.unwrap() // Ok(42): the body's own Result
//! });
//! assert_eq!(n, Ok(42));
//! ```
//!
//! # Send
//!
//! Sockets ([`Tcp`], [`Udp`], [`Raw`]) are `Send + Sync` and their I/O
//! futures are `Send`: they work in `tokio::spawn` tasks too. Threads,
//! [`Value`]s, [`sleep`], [`suspend`], [`transfer`], [`SleepJob`] and
//! [`Timer`] belong to one OS thread's loop and are not `Send`;
//! [`Thread::remote`] and [`SleepJob::remote`] are the `Send` handles for
//! waking them from another OS thread.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

// The loop, from the bottom up. Plain types: `error`, `panics` (a panic's
// text, the failures a loop reports, quiet probes), `trace`, `value`;
// `deadline` (clock seconds <-> Tokio instants); `park_note` (what the
// thread being polled parks on, written by the calls that park). What a
// loop holds, each with its own code: `timers` (the timer queue), `rt`
// (the Tokio runtime it blocks on), `layers` (the compatibility layers'
// state). Loop state: `context` (its one thread-local: the thread slab of
// `thread::state`, the ready queue, the queue other OS threads wake
// through). What drives it: `thread`'s `step` (polling threads, cancels)
// and `timers` (firing). The driver: `runtime` (start/run/poll). The
// calls on top: the rest of `thread` (make, resume, park, join), `time`,
// `sleep_job`, `reactor`. Then the sockets: `addr`, `opt`, `sock_list`
// (the sockets of this OS thread), `sock` (the socket core, which lists
// itself there) and the types over it; `inspect`, the inventory, reads
// the park notes, the socket list, the threads and the timers; the
// compatibility layers come last.
mod error;
mod panics;
mod trace;
mod value;

mod deadline;
mod park_note;

mod layers;
mod rt;
mod timers;

mod context;

mod runtime;
mod thread;

mod reactor;
mod sleep_job;
mod time;

// The sockets: the state machine and its one wait entry (`sock`), the one
// `Socket<K>` type with the calls every kind has (`socket`, the kinds in
// `kind`), the stream core (`stream`) and the datagram calls (`udp`), then
// what each kind adds.
mod addr;
pub mod kind;
mod opt;
mod raw;
mod sock;
mod sock_list;
mod socket;
mod stream;
mod tcp;
#[cfg(feature = "tls")]
mod tls;
mod udp;

mod inspect;

pub mod copas;
pub mod luasocket;
pub mod socket2;
pub mod socketloop;

pub use addr::{
    addr, addr_async, addr_with, AddrEntry, AddrInfo, AddrRequest, Family, Flags, Hints, IpAddrExt,
    Port, Protocol, SockAddr, SockType, ToAddr,
};
pub use error::{Error, ErrorKind, Result};
pub use inspect::{
    inventory, inventory_handle, serve_inventory, Inventory, InventoryHandle, SocketInfo,
    ThreadInfo, TimerInfo, WaitOn, Waiting,
};
pub use opt::OptValue;
pub use park_note::WaitDir;
pub use raw::{raw, Raw};
pub use reactor::{epoll_fd, reactor, set_reactor, RemoteThread};
pub use rt::Reactor;
pub use runtime::{poll, run, start, stop};
/// The rustls crate sockloop's TLS is built on (feature `tls`), for
/// [`TlsConfig::from_rustls_client`] / [`TlsConfig::from_rustls_server`]
/// and the certificate types.
#[cfg(feature = "tls")]
pub use rustls;
pub use sleep_job::{sleep_job, RemoteSleepJob, SleepJob};
pub use socket::Socket;
pub use std::net::IpAddr;
pub use stream::Until;
pub use tcp::{tcp, Tcp};
pub use thread::{
    cancelled, cowrap, currentthread, lend, newthread, newthread_named, newthread_with,
    onthreadfinish, resume, suspend, thread, thread_named, transfer, try_suspend, try_thread,
    try_transfer, yield_now, CoWrap, Env, Lent, Thread, ThreadBuilder, ThreadOutput, ThreadStatus,
    Yielder,
};
pub use time::{clock, runafter, runat, runevery, sleep, sleep_until, KeepRunning, Timer};
pub use timers::TimerKind;
#[cfg(feature = "tls")]
pub use tls::{
    client_stcp, server_handshake, server_stcp, ssl, ClientAuth, Stcp, StcpServer, StcpUntil,
    TlsConfig, TlsConfigBuilder,
};
pub use udp::{udp, RecvFlags, Udp};
pub use value::Value;

/// The porting guide: every call of luapower's `sock`, `socketloop`,
/// `socket2` and LuaSocket's `socket` namespace with its Rust twin, the
/// behaviour differences and why (`PORTING.md` in the repository). Built
/// into the documentation only.
#[cfg(doc)]
#[doc = include_str!("../PORTING.md")]
pub mod porting {}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
