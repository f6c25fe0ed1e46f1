//! Copas (`require "copas"`), the Lua coroutine socket dispatcher, on
//! sockloop's loop: for the Copas calls that have no direct twin in
//! sockloop, built on its public API (threads, sleep jobs, timers,
//! [`ASocket`](crate::socketloop::ASocket)).
//!
//! A Copas thread is a sockloop [`Thread`](crate::Thread) made by
//! [`addthread`]; Copas' loop is sockloop's ([`run_loop`] is `copas.loop`,
//! [`step`] one `poll` round), so Copas threads, plain sockloop threads
//! and sockets mix freely.
//!
//! | Lua | Rust |
//! | --- | --- |
//! | `copas.addserver(server, handler [, timeout [, name]])` | [`addserver`] |
//! | `copas.removeserver(server [, keep_open])` | [`removeserver`] |
//! | `copas.addthread(func, ...)`, `copas.addnamedthread(name, func, ...)` | [`addthread`], [`addnamedthread`] |
//! | `copas.removethread(co)` | [`removethread`] |
//! | `copas.wrap(skt)`, `sock:settimeout`, `sock:settimeouts` | [`wrap`] -> [`Socket`] |
//! | `copas.loop([init] [, timeout])`, `copas()` | [`run_loop`], [`run_loop_with`] |
//! | `copas.step([timeout])`, `copas.finished()` | [`step`], [`finished`] |
//! | `copas.exit()`, `copas.exiting()`, `copas.waitforexit()` | [`exit`], [`exiting`], [`waitforexit`] |
//! | `copas.pause([s])`, `copas.pauseforever()`, `copas.sleep([s])`, `copas.wakeup(co)` | [`pause`], [`pauseforever`], [`sleep`], [`wakeup`] |
//! | `copas.seterrorhandler([func] [, default])` (`setErrorHandler`) | [`seterrorhandler`], [`clearerrorhandler`] |
//! | `copas.useSocketTimeoutErrors(bool)` | [`usesockettimeouterrors`] |
//! | `copas.lock`, `copas.semaphore`, `copas.queue`, `copas.timer` | [`Lock`], [`Semaphore`], [`Queue`], [`Timer`] |
//!
//! `PORTING.md` lists every Copas call, with the ones that have no twin
//! (TLS, `copas.http`, `copas.future`, ...).
//!
//! # Waiting without end
//!
//! As in Copas, a thread parked without a time limit ([`pauseforever`],
//! [`waitforexit`], a lock, semaphore or queue wait with
//! `f64::INFINITY`) does not keep the loop running: [`run_loop`] ends when
//! only such threads are left (after releasing [`waitforexit`]). This is
//! why those waits park with sockloop's `suspend` rather than on a
//! `tokio::sync` primitive, which sockloop counts as a live wait.
//!
//! # Thread names
//!
//! A name given by [`addnamedthread`] (or a server's handler name) is the
//! sockloop thread's own name: [`Thread::name`](crate::Thread::name), panic
//! and error reports, `Debug`. [`setthreadname`] renames a thread for
//! Copas' calls ([`getthreadname`], the error handler's traceback) only.
//! Error handlers and these calls take the untyped handle
//! ([`Thread::untyped`](crate::Thread::untyped)) of a thread.
//!
//! # Examples
//!
//! A server on a socket the caller made, whose handler stops it:
//!
//! ```
//! use sockloop::{copas, luasocket};
//!
//! let server = std::rc::Rc::new(luasocket::bind("127.0.0.1", 0, None)?);
//! let port = server.getsockname()?.port();
//! let s = server.clone();
//! copas::addserver(&server, move |client| {
//!     let s = s.clone();
//!     async move {
//!         let line = client.receive("*l").await?;
//!         client.send(&[&b"got "[..], &line, b"\n"].concat()).await?;
//!         copas::removeserver(&s, false)
//!     }
//! }, None, Some("demo"))?;
//! # copas::seterrorhandler(|e, _, _| { eprintln!("{e}"); std::process::exit(1) }, true)?; // a thread's failure fails the test
//! copas::addthread(async move {
//!     let c = copas::wrap(luasocket::connect("127.0.0.1", port, None, None, None).await?);
//!     c.settimeout(Some(5.0))?;
//!     c.send(b"hello\n").await?;
//!     assert_eq!(c.receive("*l").await?, b"got hello");
//!     Ok::<(), sockloop::Error>(())
//! });
//! copas::run_loop()?;
//! # Ok::<(), sockloop::Error>(())
//! ```

mod queue;
mod sched;
mod socket;
mod sync;
mod timer;

pub use queue::Queue;
pub use sched::{
    addnamedthread, addthread, clearerrorhandler, exit, exiting, finished, geterrorhandler,
    getthreadname, gettime, gettraceback, pause, pauseforever, removethread, run_loop,
    run_loop_with, running, seterrorhandler, setthreadname, sleep, socket_timeout_errors, step,
    usesockettimeouterrors, waitforexit, wakeup, ErrorHandler, ThreadResult,
};
pub use socket::{addserver, getsocketname, removeserver, setsocketname, wrap, Socket};
pub use sync::{Lock, Semaphore, DEFAULT_TIMEOUT};
pub use timer::{Timer, TimerOptions};
