//! The main chunk as a thread of the loop, and the loop calls a program
//! makes from it.
//!
//! [`run_main`] runs a program's main chunk as a sockloop thread, so
//! LuaSocket-style code blocks in it as written. The loop itself is run
//! from outside that thread, as luajit's main thread runs sock.lua's loop:
//! a `sock.start()` (or `sock.poll()`, socketloop's `start`/`step`) made
//! from the main chunk parks it with a request, which `run_main` carries
//! out before resuming it with the outcome. While the main chunk waits on
//! I/O itself, `run_main` runs the loop until it stops waiting.
//!
//! sock.lua's own calls keep sock.lua's main-thread rule: from the main
//! chunk (or from Lua code run outside any thread) a call that completes
//! at once completes, and one that would wait raises, as sock.lua raises.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use mlua::{Function, IntoLuaMulti, Lua, MultiValue};
use sockloop::{ErrorKind, ThreadBuilder, ThreadStatus};

/// A loop call the main chunk asks `run_main` to make.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LoopCall {
    /// `sock.start()`.
    Start,
    /// `sock.poll([timeout])`.
    Poll(Option<f64>),
    /// socketloop's `loop.start([timeout])`.
    SlStart(Option<f64>),
    /// socketloop's `loop.step([timeout])`.
    SlStep(Option<f64>),
    /// `copas.loop([timeout])`.
    CopasLoop(Option<f64>),
    /// `copas.step([timeout])`.
    CopasStep(Option<f64>),
}

/// What a loop call gave: `true`/`false`, or the error to raise.
pub(crate) type LoopOut = Result<bool, LoopErr>;

/// Why a loop call failed.
#[derive(Debug)]
pub(crate) enum LoopErr {
    /// A Lua thread's error nobody else received (text and traceback).
    Lua(String),
    /// The core's error (`empty`, `loop_busy`, a Rust thread's failure).
    Core(sockloop::Error),
}

/// Which loop call the bridge is making now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driving {
    /// `sockloop::start` (also while the main chunk waits on I/O).
    Start,
    /// socketloop's `start`.
    SlStart,
    /// One round (`poll`, socketloop's `step`).
    Round,
}

/// Where the calling Lua code runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Who {
    /// Outside every sockloop thread: Lua code an embedder runs directly.
    Outside,
    /// The main chunk under [`run_main`].
    Main,
    /// Another sockloop thread (a sock, socketloop or Rust thread).
    Thread,
}

#[derive(Default)]
struct State {
    /// The main chunk's thread while [`run_main`] runs.
    main: Cell<Option<u64>>,
    /// The main chunk's pending loop call.
    request: Cell<Option<LoopCall>>,
    /// Its outcome, for the main chunk to take when resumed.
    reply: RefCell<Option<LoopOut>>,
    /// The loop call being made now.
    driving: Cell<Option<Driving>>,
    /// The first Lua thread error nobody received, for the main thread.
    uncaught: RefCell<Option<String>>,
    /// Threads being resumed synchronously: their resumer receives their
    /// error.
    receivers: RefCell<Vec<u64>>,
    /// The error texts of those that failed, for their resumers.
    received: RefCell<Vec<(u64, String)>>,
}

thread_local! {
    static STATE: State = State::default();
}

/// Where the calling Lua code runs.
pub(crate) fn who() -> Who {
    match sockloop::currentthread() {
        None => Who::Outside,
        Some(t) if STATE.with(|s| s.main.get()) == Some(t.id()) => Who::Main,
        Some(_) => Who::Thread,
    }
}

/// Whether a loop call made by the bridge runs now (sock.lua's
/// `running`): `sock.run` inside it just calls its function.
pub(crate) fn running() -> bool {
    STATE.with(|s| s.driving.get().is_some())
}

/// Makes `call` now, from outside every thread.
fn perform(call: LoopCall) -> LoopOut {
    let driving = match call {
        LoopCall::Start => Driving::Start,
        LoopCall::SlStart(_) => Driving::SlStart,
        LoopCall::Poll(_) | LoopCall::SlStep(_) => Driving::Round,
        LoopCall::CopasLoop(_) | LoopCall::CopasStep(_) => Driving::Round,
    };
    let prev = STATE.with(|s| s.driving.replace(Some(driving)));
    let r = match call {
        LoopCall::Start => sockloop::start().map(|()| true),
        LoopCall::Poll(t) => sockloop::poll(t),
        LoopCall::SlStart(t) => sockloop::socketloop::start(t).map(|()| true),
        LoopCall::SlStep(t) => sockloop::socketloop::try_step(t),
        LoopCall::CopasLoop(t) => copas_loop(t),
        LoopCall::CopasStep(t) => sockloop::copas::step(t),
    };
    STATE.with(|s| s.driving.set(prev));
    match take_uncaught() {
        Some(text) => Err(LoopErr::Lua(text)),
        None => r.map_err(LoopErr::Core),
    }
}

/// `copas.loop([timeout])`: the core's loop (`timeout` only sets how
/// often Copas checks `finished()`, which sockloop's loop knows at once).
fn copas_loop(_timeout: Option<f64>) -> sockloop::Result<bool> {
    sockloop::copas::run_loop().map(|()| true)
}

/// Runs `f` (which resumes thread `id` synchronously) with `id` noted as
/// received: an error it ends with goes to this caller.
pub(crate) fn receiving<R>(id: u64, f: impl FnOnce() -> R) -> R {
    STATE.with(|s| s.receivers.borrow_mut().push(id));
    let r = f();
    STATE.with(|s| {
        let mut v = s.receivers.borrow_mut();
        if let Some(i) = v.iter().rposition(|&x| x == id) {
            v.remove(i);
        }
    });
    r
}

/// The error text thread `id` ended with, for its resumer.
pub(crate) fn take_text(id: u64) -> Option<String> {
    STATE.with(|s| {
        let mut v = s.received.borrow_mut();
        let i = v.iter().position(|(x, _)| *x == id)?;
        Some(v.remove(i).1)
    })
}

/// A program's Lua thread `id` ended with the error `text`: its resumer
/// receives it, or else the main thread does, as in upstream (the loop
/// stops so that its `start` raises it). With no loop call of the bridge
/// running (Rust drives the loop), the core reports the thread's failure.
pub(crate) fn thread_failed(id: u64, text: String) {
    let received = STATE.with(|s| {
        if !s.receivers.borrow().contains(&id) {
            return false;
        }
        s.received.borrow_mut().push((id, text.clone()));
        true
    });
    if !received {
        // Not kept when Rust drives the loop: the core reports it then.
        let _ = keep_uncaught(text);
    }
}

/// A Lua error nobody can receive and the core does not see (a finish
/// hook's): the main thread gets it as a thread's error, or, with no loop
/// call of the bridge running, it is printed.
pub(crate) fn hook_failed(text: String) {
    if let Err(text) = keep_uncaught(text) {
        eprintln!("sockloop-lua: {text}");
    }
}

/// Keeps `text` for the loop call of the bridge running now (or the main
/// chunk's next one) to raise, and stops that loop call; `Err` when no
/// loop call of the bridge is running.
fn keep_uncaught(text: String) -> Result<(), String> {
    let kept = STATE.with(|s| {
        if s.driving.get().is_none() && s.main.get().is_none() {
            return false;
        }
        let mut u = s.uncaught.borrow_mut();
        if u.is_none() {
            *u = Some(text.clone());
        }
        true
    });
    if !kept {
        return Err(text);
    }
    stop_driving();
    Ok(())
}

fn take_uncaught() -> Option<String> {
    STATE.with(|s| s.uncaught.borrow_mut().take())
}

/// Ends the loop call being made, if it runs until stopped: the main
/// chunk has something for `run_main` to do (a request, its end).
fn stop_driving() {
    match STATE.with(|s| s.driving.get()) {
        Some(Driving::Start) => sockloop::stop(),
        Some(Driving::SlStart) => sockloop::socketloop::stop(),
        Some(Driving::Round) | None => {}
    }
}

/// Makes the loop call `call` for the calling Lua code: at once from
/// outside every thread, through [`run_main`] from the main chunk.
/// `None` from another thread: the loop is running it (sock.lua's
/// `start` returns at once there).
pub(crate) async fn loop_call(call: LoopCall) -> Option<LoopOut> {
    match who() {
        Who::Outside => Some(perform(call)),
        Who::Thread => match call {
            LoopCall::Start | LoopCall::SlStart(_) => None,
            // One round from inside the loop: the core says `loop_busy`.
            LoopCall::Poll(_) | LoopCall::SlStep(_) => Some(perform(call)),
            LoopCall::CopasLoop(_) | LoopCall::CopasStep(_) => Some(perform(call)),
        },
        Who::Main => {
            STATE.with(|s| s.request.set(Some(call)));
            stop_driving();
            if let Err(e) = sockloop::try_suspend(()).await {
                return Some(Err(LoopErr::Core(e)));
            }
            let reply = STATE.with(|s| s.reply.borrow_mut().take());
            Some(reply.unwrap_or_else(|| {
                Err(LoopErr::Core(sockloop::Error::with_message(
                    ErrorKind::InvalidArgument,
                    "the main chunk was resumed while it waited for the loop",
                )))
            }))
        }
    }
}

/// `fut`, one of sock.lua's calls that may wait: awaited in a thread; from
/// the main chunk (or outside every thread) it must complete without
/// waiting, else it raises as sock.lua raises in its main thread.
pub(crate) async fn io<T: 'static>(
    fut: impl Future<Output = mlua::Result<T>> + 'static,
) -> mlua::Result<T> {
    if who() == Who::Thread {
        return fut.await;
    }
    // Polled once, in a thread of its own (which enters the loop's
    // runtime also from outside every thread); dropped if not done.
    let slot = Rc::new(RefCell::new(None));
    let out = slot.clone();
    let mut fut = Box::pin(fut);
    ThreadBuilder::new()
        .name("main I/O")
        .try_thread(async move {
            let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
            if let Poll::Ready(v) = polled {
                *out.borrow_mut() = Some(v);
            }
        })
        .map_err(crate::threads::raise)?;
    let done = slot.borrow_mut().take();
    done.unwrap_or_else(|| Err(main_io()))
}

/// sock.lua's error for a wait in its main thread.
pub(crate) fn main_io() -> mlua::Error {
    mlua::Error::runtime("trying to perform I/O from the main thread")
}

/// Raises [`main_io`] unless in a thread other than the main chunk's:
/// sleeps always wait.
pub(crate) fn no_wait_in_main() -> mlua::Result<()> {
    match who() {
        Who::Thread => Ok(()),
        Who::Main | Who::Outside => Err(main_io()),
    }
}

/// Makes `co`, the main chunk's coroutine, look like the main thread to
/// the program: `coroutine.running()` says so. `dofile` becomes a Lua
/// function, so a file it runs may wait (LuaJIT's C `dofile` cannot be
/// yielded across).
const MAIN_PRELUDE: &str = r#"
local main = ...
local running, loadfile = coroutine.running, loadfile
function coroutine.running()
	local co, is_main = running()
	if co == main then return co, true end
	return co, is_main
end
function dofile(filename)
	local f = assert(loadfile(filename))
	return f()
end
"#;

/// Runs `f` (a program's main chunk) with `args` as the main thread of
/// the loop: LuaSocket-style code blocks in it as written, and its
/// `sock.start()`, `sock.poll()`, socketloop's `start()`/`step()` run the
/// loop as from luajit's main thread; sock.lua's calls keep sock.lua's
/// main-thread rule (a call that would wait raises
/// `trying to perform I/O from the main thread`). Returns when `f`
/// returns, as luajit does: threads still waiting then do not run on.
/// The runner (`sockloop-lua script.lua`) runs scripts this way.
///
/// # Errors
///
/// An error `f` raised and did not catch, as a runtime error whose text is
/// the Lua error's message with its Lua traceback; also a failure of the
/// loop that ran while `f` waited on I/O, which nothing in `f` could
/// catch. Calling it while the loop runs is an error too.
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let f = lua
///     .load(
///         "local sock = require'sock'
///          local n = 0
///          sock.thread(function() sock.sleep(0.001); n = n + 1 end)
///          assert(sock.start())
///          assert(select(2, coroutine.running())) -- the main thread
///          result = n",
///     )
///     .into_function()
///     .unwrap();
/// sockloop_lua::run_main(&lua, f, mlua::MultiValue::new()).unwrap();
/// assert_eq!(lua.globals().get::<i64>("result").unwrap(), 1);
/// ```
pub fn run_main(lua: &Lua, f: Function, args: impl IntoLuaMulti) -> mlua::Result<()> {
    if who() != Who::Outside || STATE.with(|s| s.main.get().is_some()) {
        return Err(mlua::Error::runtime(
            "run_main: called while a main chunk or the loop runs",
        ));
    }
    let args = args.into_lua_multi(lua)?;
    let co = lua.create_thread(f)?;
    crate::wait::mark_driven(lua, &co)?;
    let weak = lua.weak();
    lua.load(MAIN_PRELUDE)
        .set_name("=sockloop-lua main")
        .call::<()>(co.clone())?;
    let outcome: Rc<RefCell<Option<Result<(), String>>>> = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    let t = ThreadBuilder::new().name("main").newthread(async move {
        let r = drive_main(weak, co, args).await;
        *out.borrow_mut() = Some(r);
        stop_driving();
    });
    let _main = MainGuard::set(t.id());
    let failed = |msg: String| Err(mlua::Error::runtime(msg));
    if let Err(e) = sockloop::resume(&t, ()) {
        return failed(e.to_string());
    }
    loop {
        if let Some(r) = outcome.borrow_mut().take() {
            // An error nobody received while the main chunk ended.
            if let Some(text) = take_uncaught() {
                return failed(text);
            }
            return r.or_else(failed);
        }
        if let Some(call) = STATE.with(|s| s.request.take()) {
            let out = perform(call);
            STATE.with(|s| *s.reply.borrow_mut() = Some(out));
            if let Err(e) = sockloop::resume(&t, ()) {
                return failed(e.to_string());
            }
            continue;
        }
        match t.status() {
            // On I/O or a sleep of its own: run the loop until it is done
            // (it stops the loop when it asks for something or ends).
            ThreadStatus::Waiting => {
                STATE.with(|s| s.driving.set(Some(Driving::Start)));
                let r = sockloop::start();
                STATE.with(|s| s.driving.set(None));
                // A thread's error while the main chunk waits on its own
                // I/O: nothing in it can receive it, so it ends the run.
                if let Some(text) = take_uncaught() {
                    return failed(text);
                }
                if let Err(e) = r {
                    return failed(e.to_string());
                }
            }
            ThreadStatus::Suspended => {
                if let Some(text) = take_uncaught() {
                    return failed(text);
                }
                return failed(
                    "the main chunk is suspended (sock.suspend, or a transfer away from it) \
                     and nothing resumes it"
                        .into(),
                );
            }
            other => return failed(format!("the main chunk's thread is {other:?}")),
        }
    }
}

/// Notes the main chunk's thread for [`who`] while [`run_main`] runs.
struct MainGuard;

impl MainGuard {
    fn set(id: u64) -> MainGuard {
        STATE.with(|s| {
            s.main.set(Some(id));
            s.request.set(None);
            s.reply.borrow_mut().take();
        });
        MainGuard
    }
}

impl Drop for MainGuard {
    fn drop(&mut self) {
        STATE.with(|s| {
            s.main.set(None);
            s.uncaught.borrow_mut().take();
            s.request.set(None);
            s.reply.borrow_mut().take();
        });
    }
}

/// Runs the main chunk's coroutine to its end: `Err` with the message and
/// its Lua traceback when it raised.
async fn drive_main(weak: mlua::WeakLua, co: mlua::Thread, args: MultiValue) -> Result<(), String> {
    match crate::wait::drive(weak, co.clone(), args, None).await {
        // A plain `coroutine.yield` in the main chunk ends the drive
        // without finishing the coroutine: luajit raises there.
        Ok(_) if co.status() == mlua::prelude::LuaThreadStatus::Resumable => {
            Err("attempt to yield from outside a coroutine".into())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(crate::threads::lua_text(&e)),
    }
}
