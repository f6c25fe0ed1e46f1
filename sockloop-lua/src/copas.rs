//! `require'copas'` on the bridge, the Rust half: Copas' threads, loop,
//! parking, error handlers, servers, locks, semaphores, queues and timers
//! are [`sockloop::copas`]'s; this file hands them to the Lua half
//! (copas.lua). A Lua thread made by Copas is a Copas thread of the core
//! (so a sockloop thread) whose body drives a Lua coroutine, as the
//! bridge's other threads do ([`crate::threads::drive_lua`]).
//!
//! A Lua error in such a thread is caught in the coroutine by the Lua
//! half (so its value and traceback survive) and returned as
//! [`FAILED_KEY`]'s marker; the body then ends with `Err`, and the core
//! hands it to its error handler, which is the Lua half's dispatcher.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use mlua::{
    AnyUserData, FromLuaMulti, Function, IntoLuaMulti, Lua, MultiValue, Table, UserData,
    Value as LV,
};
use sockloop::copas::{self, Lock, Queue, Semaphore, Timer, TimerOptions};
use sockloop::{Error, ErrorKind, Thread, Value};

use crate::luasocket::LuaASocket;
use crate::mainthread::{LoopCall, LoopErr};

/// The registry key of the marker a failed Copas coroutine returns first.
pub(crate) const FAILED_KEY: &str = "sockloop_lua.copas.failed";

/// Every Copas call that waits is registered through here, so the
/// bridge's engine is named once.
fn waiting<A, R, F, FR>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti + 'static,
    R: IntoLuaMulti + 'static,
    F: Fn(Lua, A) -> FR + 'static,
    FR: Future<Output = mlua::Result<R>> + 'static,
{
    crate::wait::async_function(lua, f)
}

thread_local! {
    /// The Lua coroutine of each live Copas thread made from Lua, and the
    /// error value one failed with (for the error handler).
    static COS: RefCell<HashMap<u64, mlua::Thread>> = RefCell::new(HashMap::new());
    static FAILED: RefCell<HashMap<u64, LV>> = RefCell::new(HashMap::new());
}

/// Lua's handle on a Copas thread (the Lua half keys it by coroutine).
struct CoThread(Thread<Value>);

impl UserData for CoThread {}

fn thread_of(ud: &AnyUserData) -> mlua::Result<Thread<Value>> {
    Ok(ud.borrow::<CoThread>()?.0.clone())
}

fn opt_thread(v: &LV) -> mlua::Result<Option<Thread<Value>>> {
    match v {
        LV::UserData(ud) => Ok(Some(thread_of(ud)?)),
        _ => Ok(None),
    }
}

/// Drives coroutine `co` with `args` as the body of the current Copas
/// thread: `Err` (for the core's error handler) when the Lua half caught
/// an error in it, whose value is kept for the dispatcher.
async fn drive(
    weak: mlua::WeakLua,
    co: mlua::Thread,
    args: MultiValue,
    failed: Table,
) -> sockloop::Result<()> {
    let me = sockloop::currentthread();
    if let Some(t) = &me {
        COS.with(|m| m.borrow_mut().insert(t.id(), co.clone()));
    }
    let out = crate::threads::drive_lua(weak, co.clone(), args).await;
    let out = match out {
        Ok(v) => v,
        Err(e) => {
            return Err(Error::with_message(
                ErrorKind::ThreadFailed,
                crate::threads::lua_text(&e),
            ))
        }
    };
    let mut it = out.into_iter();
    match it.next() {
        Some(LV::Table(t)) if t == failed => {
            let err = it.next().unwrap_or(LV::Nil);
            let text = match &err {
                LV::String(s) => s.to_string_lossy(),
                LV::Nil => "nil".into(),
                other => format!("{other:?}"),
            };
            if let Some(t) = &me {
                FAILED.with(|m| m.borrow_mut().insert(t.id(), err));
            }
            Err(Error::with_message(ErrorKind::ThreadFailed, text))
        }
        // A plain `coroutine.yield` ends the drive with the coroutine
        // still suspended.
        _ if co.status() == mlua::prelude::LuaThreadStatus::Resumable => {
            let text = "coroutine.yield was called without a resume first, \
                        user-code cannot yield to Copas";
            Err(Error::with_message(ErrorKind::ThreadFailed, text))
        }
        _ => Ok(()),
    }
}

/// Forgets thread `t`'s coroutine once it finished.
fn forget_on_finish<T: 'static>(t: &Thread<T>) {
    sockloop::onthreadfinish(t, |t| {
        COS.with(|m| m.borrow_mut().remove(&t.id()));
        FAILED.with(|m| m.borrow_mut().remove(&t.id()));
    });
}

/// `addthread(name, f, ...)`: a new Copas thread running `f(...)` (the
/// Lua half passes its catching shell as `f`): the coroutine and Lua's
/// handle.
fn addthread(
    lua: &Lua,
    (name, f, args): (Option<String>, Function, MultiValue),
) -> mlua::Result<(mlua::Thread, AnyUserData)> {
    let co = lua.create_thread(f)?;
    let failed: Table = lua.named_registry_value(FAILED_KEY)?;
    let fut = drive(lua.weak(), co.clone(), args, failed);
    let t = match name {
        Some(n) => copas::addnamedthread(&n, fut),
        None => copas::addthread(fut),
    };
    COS.with(|m| m.borrow_mut().insert(t.id(), co.clone()));
    forget_on_finish(&t);
    Ok((co, lua.create_userdata(CoThread(t.untyped()))?))
}

/// Installs the core's default error handler: every Copas thread's error
/// (Lua or Rust) goes to the Lua half's `dispatch(err, co, skt_name)`.
fn set_dispatcher(lua: &Lua, dispatch: Function) -> mlua::Result<()> {
    let weak = lua.weak();
    copas::seterrorhandler(
        move |e, t, skt| {
            let Some(lua) = weak.try_upgrade() else {
                return;
            };
            let err = FAILED
                .with(|m| m.borrow_mut().remove(&t.id()))
                .unwrap_or_else(|| {
                    // A Lua thread's own words, else the Rust error's.
                    let text = match (e.kind(), e.message()) {
                        (ErrorKind::ThreadFailed, Some(m)) => m.to_string(),
                        _ => e.to_string(),
                    };
                    match lua.create_string(text) {
                        Ok(s) => LV::String(s),
                        Err(_) => LV::Nil,
                    }
                });
            let co = COS.with(|m| m.borrow().get(&t.id()).cloned());
            if let Err(e) = dispatch.call::<()>((err, co, skt.map(str::to_string))) {
                println!(
                    "Failed executing error handler: {}",
                    crate::threads::error_text(&LV::Error(Box::new(e)))
                );
            }
        },
        true,
    )
    .map_err(crate::threads::raise)
}

/// A loop call from Lua (`copas.loop`, `copas.step`): through the main
/// chunk's loop requests when made from it, as sock.lua's `start`.
async fn loop_call(lua: Lua, call: LoopCall) -> mlua::Result<MultiValue> {
    match crate::mainthread::loop_call(call).await {
        None | Some(Ok(true)) => true.into_lua_multi(&lua),
        Some(Ok(false)) => false.into_lua_multi(&lua),
        Some(Err(LoopErr::Core(e))) => Err(crate::threads::raise(e)),
        Some(Err(LoopErr::Lua(text))) => Err(mlua::Error::runtime(text)),
    }
}

/// `nil, err` with Copas' word for `e`.
fn soft(lua: &Lua, e: &Error) -> mlua::Result<MultiValue> {
    (LV::Nil, e.luasocket_str().into_owned()).into_lua_multi(lua)
}

struct LuaLock(Lock);
impl UserData for LuaLock {}
struct LuaSemaphore(Semaphore);
impl UserData for LuaSemaphore {}
struct LuaQueue(Queue<LV>);
impl UserData for LuaQueue {}
struct LuaTimer(Timer);
impl UserData for LuaTimer {}

fn lock(ud: &AnyUserData) -> mlua::Result<Lock> {
    Ok(ud.borrow::<LuaLock>()?.0.clone())
}
fn sema(ud: &AnyUserData) -> mlua::Result<Semaphore> {
    Ok(ud.borrow::<LuaSemaphore>()?.0.clone())
}
fn queue(ud: &AnyUserData) -> mlua::Result<Queue<LV>> {
    Ok(ud.borrow::<LuaQueue>()?.0.clone())
}
fn timer(ud: &AnyUserData) -> mlua::Result<Timer> {
    Ok(ud.borrow::<LuaTimer>()?.0.clone())
}

fn bad_input(e: Error) -> mlua::Error {
    mlua::Error::runtime(e.to_string())
}

/// The Rust half's table, for copas.lua.
pub(crate) fn copas_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let failed = lua.create_table()?;
    lua.set_named_registry_value(FAILED_KEY, failed.clone())?;
    t.set("FAILED", failed)?;
    t.set("addthread", lua.create_function(addthread)?)?;
    t.set(
        "removethread",
        lua.create_function(|_, ud: AnyUserData| {
            copas::removethread(&thread_of(&ud)?);
            Ok(())
        })?,
    )?;
    t.set(
        "wakeup",
        lua.create_function(|_, ud: AnyUserData| {
            copas::wakeup(&thread_of(&ud)?);
            Ok(())
        })?,
    )?;
    t.set(
        "current",
        lua.create_function(|lua, ()| match sockloop::currentthread() {
            Some(t) => Ok(LV::UserData(lua.create_userdata(CoThread(t))?)),
            None => Ok(LV::Nil),
        })?,
    )?;
    t.set(
        "finished_thread",
        lua.create_function(|_, ud: AnyUserData| Ok(thread_of(&ud)?.is_finished()))?,
    )?;
    t.set(
        "pause",
        waiting(lua, |_, s: Option<f64>| async move {
            Ok(copas::pause(s.unwrap_or(0.0)).await)
        })?,
    )?;
    t.set(
        "pauseforever",
        waiting(lua, |_, ()| async move { Ok(copas::pauseforever().await) })?,
    )?;
    t.set(
        "sleep",
        waiting(lua, |_, s: Option<f64>| async move {
            copas::sleep(s).await;
            Ok(())
        })?,
    )?;
    t.set(
        "setthreadname",
        lua.create_function(|_, (name, ud): (String, LV)| {
            copas::setthreadname(&name, opt_thread(&ud)?.as_ref()).map_err(bad_input)
        })?,
    )?;
    t.set(
        "getthreadname",
        lua.create_function(|_, ud: LV| Ok(copas::getthreadname(opt_thread(&ud)?.as_ref())))?,
    )?;
    t.set(
        "set_dispatcher",
        lua.create_function(|lua, f: Function| set_dispatcher(lua, f))?,
    )?;
    t.set(
        "loop",
        waiting(lua, |lua, timeout: Option<f64>| {
            loop_call(lua, LoopCall::CopasLoop(timeout))
        })?,
    )?;
    t.set(
        "step",
        waiting(lua, |lua, timeout: Option<f64>| {
            loop_call(lua, LoopCall::CopasStep(timeout))
        })?,
    )?;
    t.set(
        "finished",
        lua.create_function(|_, ()| Ok(copas::finished()))?,
    )?;
    t.set(
        "exit",
        lua.create_function(|_, ()| {
            copas::exit();
            Ok(())
        })?,
    )?;
    t.set(
        "exiting",
        lua.create_function(|_, ()| Ok(copas::exiting()))?,
    )?;
    t.set(
        "waitforexit",
        waiting(lua, |_, ()| async move {
            copas::waitforexit().await.map_err(crate::threads::raise)
        })?,
    )?;
    t.set(
        "gettime",
        lua.create_function(|_, ()| Ok(copas::gettime()))?,
    )?;
    t.set("clock", lua.create_function(|_, ()| Ok(sockloop::clock()))?)?;
    // `readable(skt, timeout)`: waits until a TCP LuaSocket object has
    // bytes buffered or to read (or the peer closed): `true`, or `false`
    // when the time ran out or `skt` is not a TCP object (the caller
    // then uses `socket.select`).
    t.set(
        "readable",
        waiting(
            lua,
            |_, (ud, timeout): (AnyUserData, Option<f64>)| async move {
                let Ok(o) = ud.borrow::<LuaASocket>().map(|o| o.get()) else {
                    return Ok(false);
                };
                drop(ud);
                if o.buffered() > 0 {
                    return Ok(true);
                }
                let expires = timeout.map(|t| sockloop::clock() + t);
                Ok(o.getsocket().readable(expires).await.is_ok())
            },
        )?,
    )?;
    t.set("addserver", lua.create_function(addserver)?)?;
    t.set(
        "removeserver",
        lua.create_function(|_, ud: AnyUserData| {
            let a = ud.borrow::<LuaASocket>()?.get();
            copas::removeserver(&a, true).map_err(bad_input)
        })?,
    )?;
    sync_core(lua, &t)?;
    queue_core(lua, &t)?;
    timer_core(lua, &t)?;
    Ok(t)
}

/// `addserver(server, handler, timeout, name)`: the core's server on the
/// LuaSocket object's socket. Each client is handed to `handler` (the Lua
/// half's shell) as a LuaSocket object sharing the core's `ASocket`, with
/// its name and Copas timeouts; `autoclose` closes it when the handler
/// ends.
fn addserver(
    lua: &Lua,
    (server, handler, timeout, name, autoclose): (
        AnyUserData,
        Function,
        Option<f64>,
        Option<String>,
        Function,
    ),
) -> mlua::Result<()> {
    let a = server.borrow::<LuaASocket>()?.get();
    let weak = lua.weak();
    let failed: Table = lua.named_registry_value(FAILED_KEY)?;
    let on_client = move |client: copas::Socket| {
        let lua = weak.try_upgrade();
        let handler = handler.clone();
        let failed = failed.clone();
        let autoclose = autoclose.clone();
        let (c, s, r) = client.gettimeouts();
        let cname = client.name();
        let shared = client.shared();
        drop(client);
        async move {
            let Some(lua) = lua else { return Ok(()) };
            let a = Rc::try_unwrap(shared)
                .unwrap_or_else(|rc| sockloop::socketloop::ASocket::from_rc(rc.getsocket()));
            let obj = lua
                .create_userdata(LuaASocket::new(a))
                .map_err(|e| Error::with_message(ErrorKind::InvalidArgument, e.to_string()))?;
            let co = lua
                .create_thread(handler)
                .map_err(|e| Error::with_message(ErrorKind::InvalidArgument, e.to_string()))?;
            if let Some(t) = sockloop::currentthread() {
                forget_on_finish(&t);
            }
            let args = (obj.clone(), cname, c, s, r)
                .into_lua_multi(&lua)
                .map_err(|e| Error::with_message(ErrorKind::InvalidArgument, e.to_string()))?;
            let weak = lua.weak();
            drop(lua);
            let r = drive(weak, co, args, failed).await;
            let _ = autoclose.call::<()>(obj);
            r
        }
    };
    copas::addserver(&a, on_client, timeout, name.as_deref()).map_err(bad_input)
}

fn sync_core(lua: &Lua, t: &Table) -> mlua::Result<()> {
    t.set(
        "lock_new",
        lua.create_function(|lua, (timeout, nr): (Option<f64>, Option<bool>)| {
            let l = Lock::new(timeout, nr.unwrap_or(false)).map_err(bad_input)?;
            lua.create_userdata(LuaLock(l))
        })?,
    )?;
    t.set(
        "lock_get",
        waiting(
            lua,
            |lua, (ud, timeout): (AnyUserData, Option<f64>)| async move {
                let l = lock(&ud)?;
                drop(ud);
                let t0 = sockloop::clock();
                match l.get(timeout).await {
                    Ok(waited) => waited.into_lua_multi(&lua),
                    Err(e) => (
                        LV::Nil,
                        e.luasocket_str().into_owned(),
                        sockloop::clock() - t0,
                    )
                        .into_lua_multi(&lua),
                }
            },
        )?,
    )?;
    t.set(
        "lock_release",
        lua.create_function(|lua, ud: AnyUserData| match lock(&ud)?.release() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "lock_destroy",
        lua.create_function(|lua, ud: AnyUserData| match lock(&ud)?.destroy() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "sema_new",
        lua.create_function(
            |lua, (max, start, timeout): (usize, Option<usize>, Option<f64>)| {
                let s = Semaphore::new(max, start, timeout).map_err(bad_input)?;
                lua.create_userdata(LuaSemaphore(s))
            },
        )?,
    )?;
    t.set(
        "sema_take",
        waiting(
            lua,
            |lua, (ud, n, timeout): (AnyUserData, Option<usize>, Option<f64>)| async move {
                let s = sema(&ud)?;
                drop(ud);
                match s.take(n, timeout).await {
                    Ok(()) => true.into_lua_multi(&lua),
                    Err(e) => soft(&lua, &e),
                }
            },
        )?,
    )?;
    t.set(
        "sema_give",
        lua.create_function(|lua, (ud, n): (AnyUserData, Option<usize>)| {
            match sema(&ud)?.give(n) {
                Ok(()) => true.into_lua_multi(lua),
                Err(e) => soft(lua, &e),
            }
        })?,
    )?;
    t.set(
        "sema_count",
        lua.create_function(|lua, ud: AnyUserData| match sema(&ud)?.get_count() {
            Ok(n) => n.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "sema_wait",
        lua.create_function(|lua, ud: AnyUserData| match sema(&ud)?.get_wait() {
            Ok(n) => n.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "sema_destroy",
        lua.create_function(|lua, ud: AnyUserData| match sema(&ud)?.destroy() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    Ok(())
}

fn queue_core(lua: &Lua, t: &Table) -> mlua::Result<()> {
    t.set(
        "queue_new",
        lua.create_function(|lua, name: Option<String>| {
            let q = Queue::<LV>::new(name.as_deref());
            let n = q.name().to_string();
            Ok((lua.create_userdata(LuaQueue(q))?, n))
        })?,
    )?;
    t.set(
        "queue_push",
        lua.create_function(
            |lua, (ud, item): (AnyUserData, LV)| match queue(&ud)?.push(item) {
                Ok(()) => true.into_lua_multi(lua),
                Err(e) => soft(lua, &e),
            },
        )?,
    )?;
    t.set(
        "queue_pop",
        waiting(
            lua,
            |lua, (ud, timeout): (AnyUserData, Option<f64>)| async move {
                let q = queue(&ud)?;
                drop(ud);
                match q.pop(timeout).await {
                    Ok(v) => v.into_lua_multi(&lua),
                    Err(e) => soft(&lua, &e),
                }
            },
        )?,
    )?;
    t.set(
        "queue_size",
        lua.create_function(|lua, ud: AnyUserData| match queue(&ud)?.get_size() {
            Ok(n) => n.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "queue_stop",
        lua.create_function(|lua, ud: AnyUserData| match queue(&ud)?.stop() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    t.set(
        "queue_finish",
        waiting(
            lua,
            |lua, (ud, timeout, keep): (AnyUserData, Option<f64>, Option<bool>)| async move {
                let q = queue(&ud)?;
                drop(ud);
                match q.finish(timeout, keep.unwrap_or(false)).await {
                    Ok(()) => true.into_lua_multi(&lua),
                    Err(e) => soft(&lua, &e),
                }
            },
        )?,
    )?;
    t.set(
        "queue_add_worker",
        lua.create_function(|lua, (ud, worker): (AnyUserData, Function)| {
            let q = queue(&ud)?;
            let failed: Table = lua.named_registry_value(FAILED_KEY)?;
            let weak = lua.weak();
            let r = q.add_worker(move |item: LV| {
                let co = weak.try_upgrade().map(|l| l.create_thread(worker.clone()));
                let failed = failed.clone();
                let weak2 = weak.clone();
                async move {
                    match co {
                        Some(Ok(co)) => {
                            drive(weak2, co, MultiValue::from_iter([item]), failed).await
                        }
                        _ => Err(Error::with_message(
                            ErrorKind::ThreadFailed,
                            "the Lua state is gone",
                        )),
                    }
                }
            });
            match r {
                Ok(t) => {
                    forget_on_finish(&t);
                    LV::UserData(lua.create_userdata(CoThread(t.untyped()))?).into_lua_multi(lua)
                }
                Err(e) => soft(lua, &e),
            }
        })?,
    )?;
    t.set(
        "queue_destroy",
        lua.create_function(|lua, ud: AnyUserData| match queue(&ud)?.destroy() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    Ok(())
}

fn timer_core(lua: &Lua, t: &Table) -> mlua::Result<()> {
    // `timer_new(name, delay, initial_delay, recurring, callback)`: the
    // callback (the Lua half's, which catches its errors) runs in the
    // timer's thread without waiting.
    t.set(
        "timer_new",
        lua.create_function(
            |lua,
             (name, delay, initial, recurring, cb): (
                Option<String>,
                f64,
                Option<f64>,
                Option<bool>,
                Function,
            )| {
                let opts = TimerOptions {
                    name,
                    delay,
                    initial_delay: initial,
                    recurring: recurring.unwrap_or(false),
                    errorhandler: None,
                };
                let tm = Timer::new(opts, move |_: &Timer| {
                    cb.call::<()>(()).map_err(|e| {
                        Error::with_message(ErrorKind::ThreadFailed, crate::threads::lua_text(&e))
                    })
                })
                .map_err(bad_input)?;
                let n = tm.name().to_string();
                Ok((lua.create_userdata(LuaTimer(tm))?, n))
            },
        )?,
    )?;
    t.set(
        "timer_arm",
        lua.create_function(
            |lua, (ud, d): (AnyUserData, Option<f64>)| match timer(&ud)?.arm(d) {
                Ok(()) => true.into_lua_multi(lua),
                Err(e)
                    if e.kind() == ErrorKind::InvalidArgument
                        && e.luasocket_str() != "already armed" =>
                {
                    Err(bad_input(e))
                }
                Err(e) => soft(lua, &e),
            },
        )?,
    )?;
    t.set(
        "timer_cancel",
        lua.create_function(|lua, ud: AnyUserData| match timer(&ud)?.cancel() {
            Ok(()) => true.into_lua_multi(lua),
            Err(e) => soft(lua, &e),
        })?,
    )?;
    Ok(())
}
