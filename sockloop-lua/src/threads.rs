//! Lua coroutines as sockloop threads: each Lua thread made by
//! `sock.newthread` is a sockloop thread whose body drives the coroutine
//! with [`crate::wait::drive`]; a Lua call of a sockloop wait (I/O, sleep,
//! `suspend`, `transfer`) parks both.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{AnyUserData, Function, IntoLuaMulti, Lua, MultiValue, UserData, UserDataMethods};
use sockloop::{Thread, ThreadBuilder, Value};

use crate::convert::{from_value, to_value};
use crate::mainthread::{no_wait_in_main, LoopCall, LoopErr, LoopOut, Who};
use crate::socket::bad;
use crate::wait::Handoff;

/// What a Lua thread returns: its function's return values, or the Lua
/// error's message (a Rust thread returning `Err`: reported the same way,
/// `"thread_failed"` when nobody takes it).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let f = lua.load("return function() error('boom') end").eval().unwrap();
/// let t = sockloop_lua::newthread(&lua, f, None).unwrap();
/// let out = sockloop::resume(&t, ()).unwrap().unwrap(); // finished in this resume
/// let msg = out.get::<sockloop_lua::LuaOutput>().unwrap().unwrap_err();
/// assert!(msg.contains("boom"));
/// ```
pub type LuaOutput = Result<Value, String>;

/// Lua's handle on a sockloop thread. Empty once a Lua thread has
/// finished: Lua's handle then no longer counts as a taker of the result,
/// so a failure nobody took is reported by `start()` as for a Rust thread.
#[derive(Clone)]
pub(crate) struct ThreadHandle(pub(crate) Rc<RefCell<Option<Thread<Value>>>>);

impl UserData for ThreadHandle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("id", |_, h, ()| Ok(h.0.borrow().as_ref().map(|t| t.id())));
        m.add_method("name", |_, h, ()| {
            Ok(h.0
                .borrow()
                .as_ref()
                .and_then(|t| t.name().map(str::to_string)))
        });
    }
}

impl ThreadHandle {
    fn get(&self) -> mlua::Result<Thread<Value>> {
        self.0
            .borrow()
            .clone()
            .ok_or_else(|| bad("thread_dead: cannot resume a finished thread"))
    }
}

fn handle(ud: &AnyUserData) -> mlua::Result<Thread<Value>> {
    let h = ud.borrow::<ThreadHandle>().map_err(|_| {
        bad("not a sock thread (from Rust, pass a sockloop::Thread as thread.untyped())")
    })?;
    h.get()
}

/// Whose a Lua thread's error is when nobody resumed it synchronously.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A thread the program made (`sock.newthread`, socketloop's
    /// `newthread`): its error goes to the main thread, as upstream's.
    Lua,
    /// A thread Rust made ([`crate::newthread`]): its handle's `join` (or
    /// the core's `thread_failed` report) gives the error.
    Rust,
}

/// Makes a Lua function `f` a suspended sockloop thread (`sock.newthread`):
/// returns the coroutine Lua sees, Lua's handle, and a Rust handle whose
/// [`join`](Thread::join) gives the function's results (or its error).
pub(crate) fn spawn(
    lua: &Lua,
    f: Function,
    name: Option<String>,
    owner: Owner,
) -> mlua::Result<(mlua::Thread, ThreadHandle, Thread<LuaOutput>, usize)> {
    let co = lua.create_thread(f)?;
    crate::wait::mark_driven(lua, &co)?;
    let slot = ThreadHandle(Rc::new(RefCell::new(None)));
    let cell = SlotCell::default();
    let parked = Parked::default();
    let weak = lua.weak();
    let (co2, slot2, cell2, parked2) = (co.clone(), slot.clone(), cell.clone(), parked.clone());
    let body = move |v: Value| async move {
        let r = drive(weak, co2, v, owner, parked2).await;
        cell2.borrow_mut().take();
        slot2.0.borrow_mut().take();
        r
    };
    let mut b = ThreadBuilder::new();
    if let Some(n) = name {
        b = b.name(n);
    }
    let t = b.newthread_with(body);
    *slot.0.borrow_mut() = Some(t.untyped());
    let n = Slot::fill(&cell, &co, t.untyped(), parked);
    Ok((co, slot, t, n))
}

/// Makes `f` a sockloop thread and runs it **at once** with `args` until
/// it first parks, as socketloop's `newthread` (and `sockloop::thread`)
/// do. It is in sock.lua's thread table before it runs, so `sock.resume`
/// finds it once it parks. With `caller_receives`, a Lua error before it
/// first parks is the inner `Err` (the error's text with its traceback),
/// for the caller to raise, as upstream's `newthread` raises it; any other
/// error goes to the main thread (see [`crate::mainthread`]).
pub(crate) fn start(
    lua: &Lua,
    f: Function,
    name: Option<String>,
    args: MultiValue,
    caller_receives: bool,
) -> mlua::Result<Result<mlua::Thread, String>> {
    let register: Function = lua.named_registry_value(crate::REGISTER_KEY)?;
    if !caller_receives {
        // Run at once with its result left to its handle: a failure stays
        // the thread's, for the core to report when Rust drives the loop.
        let co = lua.create_thread(f)?;
        crate::wait::mark_driven(lua, &co)?;
        let slot = ThreadHandle(Rc::new(RefCell::new(None)));
        register.call::<()>((co.clone(), slot.clone()))?;
        let cell = SlotCell::default();
        let parked = Parked::default();
        let (co2, slot2, cell2, weak) = (co.clone(), slot.clone(), cell.clone(), lua.weak());
        let parked2 = parked.clone();
        let body = async move {
            let r = drive_args(weak, co2, args, Owner::Lua, parked2).await;
            cell2.borrow_mut().take();
            slot2.0.borrow_mut().take();
            r
        };
        let mut b = ThreadBuilder::new();
        if let Some(n) = name {
            b = b.name(n);
        }
        let t = b.try_thread(body).map_err(raise)?;
        if !t.is_finished() {
            *slot.0.borrow_mut() = Some(t.untyped());
            let n = Slot::fill(&cell, &co, t.untyped(), parked);
            register.call::<()>((co.clone(), slot, n))?;
        }
        return Ok(Ok(co));
    }
    let (co, slot, t, n) = spawn(lua, f, name, Owner::Lua)?;
    register.call::<()>((co.clone(), slot, n))?;
    match resume_for(lua, &t.untyped(), to_value(args)).map_err(raise)? {
        Ok(_) => Ok(Ok(co)),
        Err(text) => Ok(Err(text)),
    }
}

/// Resumes `t` for a Lua caller: what it suspended with or returned, or
/// its Lua error's text (with its traceback) when it failed in this
/// resume; the caller receives that error, not the main thread.
fn resume_for(
    lua: &Lua,
    t: &Thread<Value>,
    v: Value,
) -> sockloop::Result<Result<MultiValue, String>> {
    let id = t.id();
    let r = crate::mainthread::receiving(id, || sockloop::resume(t, v))?;
    Ok(match r {
        Some(v) => out_to_lua(lua, id, v),
        None => Ok(MultiValue::new()),
    })
}

async fn drive(
    weak: mlua::WeakLua,
    co: mlua::Thread,
    v: Value,
    owner: Owner,
    parked: Parked,
) -> LuaOutput {
    let lua = weak.try_upgrade().ok_or("the Lua state is closed")?;
    let args = from_value(&lua, v).map_err(|e| e.to_string())?;
    drop(lua);
    drive_args(weak, co, args, owner, parked).await
}

/// Drives the Lua coroutine `co` with `args` to its end, parking the
/// current sockloop thread on each wait it makes (the bridge's own
/// driver, [`crate::wait::drive`]): its results, or its Lua error (Copas'
/// threads take it from here).
pub(crate) async fn drive_lua(
    weak: mlua::WeakLua,
    co: mlua::Thread,
    args: MultiValue,
) -> mlua::Result<MultiValue> {
    {
        let lua = weak
            .try_upgrade()
            .ok_or_else(|| mlua::Error::runtime("the Lua state is closed"))?;
        crate::wait::mark_driven(&lua, &co)?;
    }
    crate::wait::drive(weak, co, args, None).await
}

async fn drive_args(
    weak: mlua::WeakLua,
    co: mlua::Thread,
    args: MultiValue,
    owner: Owner,
    parked: Parked,
) -> LuaOutput {
    match crate::wait::drive(weak, co, args, Some(parked)).await {
        Ok(out) => Ok(to_value(out)),
        Err(e) => {
            if owner == Owner::Lua {
                if let Some(t) = sockloop::currentthread() {
                    crate::mainthread::thread_failed(t.id(), lua_text(&e));
                }
            }
            Err(lua_message(&e))
        }
    }
}

/// A Lua error's message without mlua's wrapping and without the stack
/// traceback mlua appends: the message alone, as a Rust thread's `Err`
/// text and as upstream's `coroutine.resume` give it.
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => match m.find("\nstack traceback:") {
            Some(i) => m[..i].to_string(),
            None => m.clone(),
        },
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// The text of an error the Rust half raised, for the Lua halves to raise
/// as a string (as upstream raises): the innermost message, without
/// mlua's wrapping and traceback.
pub(crate) fn error_text(v: &mlua::Value) -> String {
    match v {
        mlua::Value::Error(e) => lua_message(e),
        mlua::Value::String(s) => s.to_string_lossy(),
        other => format!("{other:?}"),
    }
}

/// A Lua error's message followed by its Lua traceback, as luajit prints
/// an error nobody caught.
pub(crate) fn lua_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { traceback, cause } if !traceback.is_empty() => {
            format!("{}\n{traceback}", lua_message(cause))
        }
        mlua::Error::CallbackError { cause, .. } => lua_text(cause),
        other => other.to_string(),
    }
}

/// A finished or suspended thread's value for Lua, or the Lua error
/// (text with traceback) of thread `id`, for the resumer to raise.
fn out_to_lua(lua: &Lua, id: u64, v: Value) -> Result<MultiValue, String> {
    let r = match v.downcast::<LuaOutput>() {
        Ok(r) => match *r {
            Ok(v) => from_value(lua, v),
            Err(msg) => return Err(crate::mainthread::take_text(id).unwrap_or(msg)),
        },
        Err(v) => from_value(lua, v),
    };
    r.map_err(|e| e.to_string())
}

/// `true, values...` or `false, error text`, for the Lua half to return
/// or raise (a string, as upstream raises).
fn checked(lua: &Lua, r: Result<MultiValue, String>) -> mlua::Result<MultiValue> {
    match r {
        Ok(mut v) => {
            v.push_front(mlua::Value::Boolean(true));
            Ok(v)
        }
        Err(text) => (false, text).into_lua_multi(lua),
    }
}

/// A loop call's outcome for sock.lua's half: nothing (inside the
/// running loop), `true, ok`, `true, nil, 'empty'`, or `false, err` for
/// the Lua half to raise.
fn loop_out(lua: &Lua, out: Option<LoopOut>) -> mlua::Result<MultiValue> {
    match out {
        None => Ok(MultiValue::new()),
        Some(Ok(b)) => (true, b).into_lua_multi(lua),
        Some(Err(LoopErr::Core(e))) if e.kind() == sockloop::ErrorKind::Empty => {
            (true, mlua::Value::Nil, "empty").into_lua_multi(lua)
        }
        Some(Err(LoopErr::Core(e))) => (false, e.to_string()).into_lua_multi(lua),
        Some(Err(LoopErr::Lua(text))) => (false, text).into_lua_multi(lua),
    }
}

pub(crate) fn raise(e: sockloop::Error) -> mlua::Error {
    mlua::Error::runtime(e.to_string())
}

thread_local! {
    static SLOTS: RefCell<Slots> = const {
        RefCell::new(Slots { slots: Vec::new(), free: Vec::new(), lent: Vec::new() })
    };
}

struct Slots {
    /// Every live Lua thread by its slot number (which sock.lua keeps in
    /// the coroutine's record): its coroutine's address and its thread.
    slots: Vec<Option<(usize, Thread<Value>, Parked)>>,
    free: Vec<usize>,
    /// The Lua threads running nested now, innermost last (see
    /// `sock.lua`'s `sock.resume`).
    lent: Vec<sockloop::Lent>,
}

/// A Lua thread's slot, freed when its thread body ends or is dropped.
struct Slot(usize);

/// Where a thread body keeps its [`Slot`] (filled once the thread exists).
type SlotCell = Rc<RefCell<Option<Slot>>>;

/// Whether a Lua thread's driver waits in the core's suspend for the
/// thread's `sock.suspend` (set by [`crate::wait::drive`]): only then can
/// another Lua thread resume its coroutine directly.
pub(crate) type Parked = Rc<std::cell::Cell<bool>>;

impl Slot {
    /// Gives the thread `t` of coroutine `co` a slot, kept in `cell`: its
    /// number.
    fn fill(cell: &SlotCell, co: &mlua::Thread, t: Thread<Value>, parked: Parked) -> usize {
        let slot = Slot::new(co, t, parked);
        let n = slot.0;
        *cell.borrow_mut() = Some(slot);
        n
    }

    fn new(co: &mlua::Thread, t: Thread<Value>, parked: Parked) -> Slot {
        let entry = Some((co.to_pointer() as usize, t, parked));
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            match s.free.pop() {
                Some(n) => {
                    s.slots[n] = entry;
                    Slot(n)
                }
                None => {
                    s.slots.push(entry);
                    Slot(s.slots.len() - 1)
                }
            }
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = SLOTS.try_with(|s| {
            let mut s = s.borrow_mut();
            if let Some(e) = s.slots.get_mut(self.0) {
                *e = None;
                s.free.push(self.0);
            }
        });
    }
}

/// Lends the Lua thread in slot `n` (a number from Lua) to its caller, if
/// its coroutine is the one at address `co` (both are alive, so a slot
/// reused by another thread cannot match), its driver waits for its
/// `sock.suspend` and it can be lent: `false` otherwise, for the caller to
/// take the ordinary way (which reports why).
pub(crate) fn enter_slot(n: f64, co: usize) -> bool {
    if !(n >= 0.0 && n.fract() == 0.0 && n < 4.0e9) {
        return false;
    }
    SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        let lent = match s.slots.get(n as usize) {
            Some(Some((p, t, parked))) if *p == co && parked.get() => sockloop::lend(t),
            _ => return false,
        };
        match lent {
            Ok(lent) => {
                s.lent.push(lent);
                true
            }
            Err(_) => false,
        }
    })
}

/// Ends the innermost loan of [`enter_slot`].
pub(crate) fn leave() {
    let lent = SLOTS.with(|s| s.borrow_mut().lent.pop());
    drop(lent);
}

/// `sock.suspend(...)`: the values the thread is resumed with.
pub(crate) async fn suspend(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let v = sockloop::try_suspend(to_value(args)).await.map_err(raise)?;
    from_value(lua, v)
}

/// `sock.transfer(h, ...)`: `true, values...` (what the thread is
/// transferred back with) or `false, err` (the target's error).
pub(crate) async fn transfer(
    lua: &Lua,
    h: AnyUserData,
    args: MultiValue,
) -> mlua::Result<MultiValue> {
    let t = handle(&h)?;
    drop(h);
    let id = t.id();
    let v = sockloop::try_transfer(&t, to_value(args))
        .await
        .map_err(raise)?;
    checked(lua, out_to_lua(lua, id, v))
}

/// Registers the thread and scheduling calls in `core`.
pub(crate) fn register(lua: &Lua, core: &mlua::Table) -> mlua::Result<()> {
    core.set(
        "newthread",
        lua.create_function(|lua, (f, name): (Function, Option<String>)| {
            let (co, h, _, n) = spawn(lua, f, name, Owner::Lua)?;
            Ok((co, h, n))
        })?,
    )?;
    core.set(
        "resume",
        lua.create_function(|lua, (h, args): (AnyUserData, MultiValue)| {
            let t = handle(&h)?;
            drop(h);
            let r = resume_for(lua, &t, to_value(args)).map_err(raise)?;
            checked(lua, r)
        })?,
    )?;
    core.set(
        "suspend",
        crate::wait::async_function(lua, |lua, args: MultiValue| async move {
            suspend(&lua, args).await
        })?,
    )?;
    core.set(
        "transfer",
        crate::wait::async_function(lua, |lua, (h, args): (AnyUserData, MultiValue)| async move {
            transfer(&lua, h, args).await
        })?,
    )?;
    // A Lua thread parked in `sock.suspend` resumed directly by another
    // Lua thread's coroutine.resume: `enter(n, co)` before (the loop sees
    // it run, nothing else can resume it), `leave()` after.
    core.set("enter", crate::edge::enter_fn(lua)?)?;
    core.set("leave", crate::edge::leave_fn(lua)?)?;
    // `handoff(h, kind, ...)`: such a thread did something else than
    // suspend again; its driver carries on from there (a real resume, as
    // `resume`): kind 1, a wait request `op, operands...`; 2, it ended with
    // these values; 3, it raised `err` (`traceback`: its text with the
    // coroutine's traceback, as a failed resume gives it).
    core.set(
        "handoff",
        lua.create_function(|lua, (h, kind, mut rest): (AnyUserData, i64, MultiValue)| {
            let t = handle(&h)?;
            drop(h);
            let handoff = match kind {
                1 => {
                    let op = match rest.pop_front() {
                        Some(mlua::Value::Integer(n)) => n,
                        Some(mlua::Value::Number(n)) => n as i64,
                        _ => -1,
                    };
                    Handoff::Request(op, rest)
                }
                2 => Handoff::Done(rest),
                _ => Handoff::Failed(match (rest.pop_front(), rest.pop_front()) {
                    (Some(mlua::Value::Error(e)), _) => *e,
                    (_, Some(mlua::Value::String(tb))) => {
                        mlua::Error::RuntimeError(tb.to_string_lossy())
                    }
                    (e, _) => mlua::Error::runtime(error_text(&e.unwrap_or(mlua::Value::Nil))),
                }),
            };
            let r = resume_for(lua, &t, Value::new(handoff)).map_err(raise)?;
            checked(lua, r)
        })?,
    )?;
    core.set(
        "onthreadfinish",
        lua.create_function(|lua, (h, co, f): (AnyUserData, mlua::Value, Function)| {
            let t = handle(&h)?;
            let weak = lua.weak();
            sockloop::onthreadfinish(&t, move |_| {
                if weak.try_upgrade().is_some() {
                    if let Err(e) = f.call::<()>(co) {
                        // As upstream, where the hook runs in the thread:
                        // its error goes to the main thread.
                        crate::mainthread::hook_failed(format!(
                            "sock.onthreadfinish: the hook failed: {}",
                            lua_text(&e)
                        ));
                    }
                }
            });
            Ok(())
        })?,
    )?;
    core.set(
        "loop_call",
        crate::wait::async_function(
            lua,
            |lua, (name, timeout): (String, Option<f64>)| async move {
                let call = match name.as_str() {
                    "start" => LoopCall::Start,
                    "poll" => LoopCall::Poll(timeout),
                    "slstart" => LoopCall::SlStart(timeout),
                    "slstep" => LoopCall::SlStep(timeout),
                    other => return Err(bad(format!("unknown loop call {other:?}"))),
                };
                loop_out(&lua, crate::mainthread::loop_call(call).await)
            },
        )?,
    )?;
    core.set(
        "stop",
        lua.create_function(|_, ()| {
            sockloop::stop();
            Ok(())
        })?,
    )?;
    core.set(
        "running",
        lua.create_function(|_, ()| Ok(crate::mainthread::running()))?,
    )?;
    core.set(
        "who",
        lua.create_function(|_, ()| {
            Ok(match crate::mainthread::who() {
                Who::Outside => "outside",
                Who::Main => "main",
                Who::Thread => "thread",
            })
        })?,
    )?;
    core.set("clock", lua.create_function(|_, ()| Ok(sockloop::clock()))?)?;
    core.set(
        "sleep",
        crate::wait::async_function(lua, |_, s: f64| async move {
            no_wait_in_main()?;
            sockloop::sleep(s).await;
            Ok(())
        })?,
    )?;
    core.set(
        "sleep_until",
        crate::wait::async_function(lua, |_, t: f64| async move {
            no_wait_in_main()?;
            sockloop::sleep_until(t).await;
            Ok(())
        })?,
    )?;
    core.set(
        "sleep_job",
        lua.create_function(|_, ()| Ok(LuaSleepJob(Rc::new(sockloop::sleep_job()))))?,
    )?;
    Ok(())
}

/// `sock.sleep_job()`.
#[derive(Clone)]
pub(crate) struct LuaSleepJob(Rc<sockloop::SleepJob>);

impl UserData for LuaSleepJob {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        crate::wait::add_async_method(m, "sleep", |lua, j, s: f64| async move {
            no_wait_in_main()?;
            let j = j.0.clone();
            match j.sleep(s).await {
                Some(v) => from_value(&lua, v),
                None => Ok(MultiValue::new()),
            }
        });
        crate::wait::add_async_method(m, "sleep_until", |lua, j, t: f64| async move {
            no_wait_in_main()?;
            let j = j.0.clone();
            match j.sleep_until(t).await {
                Some(v) => from_value(&lua, v),
                None => Ok(MultiValue::new()),
            }
        });
        m.add_method("wakeup", |_, j, args: MultiValue| {
            Ok(j.0.wakeup(to_value(args)))
        });
        m.add_method("is_sleeping", |_, j, ()| Ok(j.0.is_sleeping()));
    }
}
