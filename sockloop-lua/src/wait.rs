//! How a Lua coroutine waits: each Lua thread's sockloop thread drives its
//! coroutine with [`drive`], which resumes it, reads what it yielded (a
//! *wait request*), carries the request out in Rust and resumes it with
//! the result.
//!
//! A wait request is a yield whose first value is [`marker`] (a light
//! userdata no Lua code can make) and whose second is an opcode; the
//! operands follow (`sock.suspend`'s: [`suspend_marker`], then its
//! values). The hot calls (`sock.suspend`, `sock.transfer`,
//! `sleep`, `recv`, `send`) have their own opcodes, so their futures
//! live inline in the driver's state machine. Every other Rust function
//! that may wait is made with [`async_function`] or [`add_async_method`]
//! (the signatures of mlua's `create_async_function` and
//! `add_async_method`): it returns the marker and its future, boxed, and a
//! small Lua wrapper yields them to the driver ([`OP_FUTURE`]). Outside a
//! driven coroutine (Lua code an embedder runs directly, or a plain
//! `coroutine.create` inside a thread) the wrapper polls the future once:
//! a call that completes at once completes, one that would wait raises.
//!
//! The driver resumes the coroutine with the results, or with
//! `FAIL, err` (a marker of its own) for the Lua half to raise.
//!
//! While the driver waits for a `sock.suspend` (its thread's `Parked`
//! flag set), another Lua thread may resume the coroutine itself, inside
//! LuaJIT (`sock.lua`'s `sock.resume`, the core told through
//! `sockloop::lend`); if the coroutine then does anything but suspend
//! again, the resumer hands it back with a real resume carrying a
//! [`Handoff`], and the driver carries on from there.
//!
//! For other modules: `crate::wait::async_function(lua, f)` replaces
//! `lua.create_async_function(f)`, `crate::wait::add_async_method(m,
//! name, f)` replaces `m.add_async_method(name, f)` (a type with such
//! methods gets this module's `__index` meta function, so it cannot have
//! its own), and [`call_async`] replaces `Function::call_async`.

#![forbid(unsafe_code)]

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use mlua::{
    AnyUserData, FromLuaMulti, Function, IntoLuaMulti, LightUserData, Lua, MetaMethod, MultiValue,
    Table, UserData, UserDataMethods, Value as LuaValue,
};

/// A boxed future of the slow path.
type Fut = Pin<Box<dyn Future<Output = mlua::Result<MultiValue>>>>;

/// A future a Rust function made, on its way to the driver.
struct Pending(RefCell<Option<Fut>>);

impl UserData for Pending {}

impl Pending {
    fn take(ud: &AnyUserData) -> mlua::Result<Fut> {
        ud.borrow::<Pending>()?
            .0
            .borrow_mut()
            .take()
            .ok_or_else(|| mlua::Error::runtime("a wait was already carried out"))
    }
}

/// The opcode of a boxed future ([`async_function`]).
pub(crate) const OP_FUTURE: i64 = 0;

/// Its address marks a wait request.
static MARK: u8 = 0;
/// Its address marks a `sock.suspend` (the values follow at once, so a
/// resumer running the coroutine nested finds them without a shift).
static SUSPEND_MARK: u8 = 0;
/// Its address marks a failed wait: `FAIL, err` resumes the coroutine.
static FAIL_MARK: u8 = 0;

/// The first value of a wait request.
pub(crate) fn marker() -> LightUserData {
    LightUserData(std::ptr::addr_of!(MARK).cast_mut().cast())
}

/// The first value of a failed wait's resume values.
fn fail_marker() -> LightUserData {
    LightUserData(std::ptr::addr_of!(FAIL_MARK).cast_mut().cast())
}

/// The first value of a `sock.suspend`'s wait request
/// ([`crate::ops::OP_SUSPEND`] without an opcode).
pub(crate) fn suspend_marker() -> LightUserData {
    LightUserData(std::ptr::addr_of!(SUSPEND_MARK).cast_mut().cast())
}

/// The registry key of the wait module's Lua half (see [`WAIT_LUA`]).
const WAIT_KEY: &str = "sockloop_lua.wait";

/// The Lua half: the wrapper of the slow path, and the table of driven
/// coroutines (those a [`drive`] resumes: a wait request yielded by any
/// other coroutine would reach a plain `coroutine.resume`).
const WAIT_LUA: &str = r#"
local WAIT, SUSPEND, FAIL, poll_now, raise = ...
local running, yield = coroutine.running, coroutine.yield
local driven = setmetatable({}, {__mode = 'k'})
local function resumed(...)
	if (...) == FAIL then return raise(select(2, ...)) end
	return ...
end
local function after(w, ...)
	if w ~= WAIT then return w, ... end
	if driven[running()] then return resumed(yield(WAIT, 0, ...)) end
	return poll_now(...)
end
local M = {WAIT = WAIT, SUSPEND = SUSPEND, FAIL = FAIL, driven = driven}
function M.wrap(f)
	return function(...) return after(f(...)) end
end
function M.method(raw)
	return function(self, ...) return after(self[raw](self, ...)) end
end
-- (A table: sock.lua keeps the thread's handle and slot in it.)
function M.mark(co) driven[co] = {} end
return M
"#;

/// The wait module's Lua half, made once per state.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    if let Ok(t) = lua.named_registry_value::<Table>(WAIT_KEY) {
        return Ok(t);
    }
    let poll_now = lua.create_function(|_, ud: AnyUserData| poll_once(Pending::take(&ud)?))?;
    let raise = lua.create_function(|_, e: LuaValue| -> mlua::Result<MultiValue> {
        Err(match e {
            LuaValue::Error(e) => *e,
            other => mlua::Error::runtime(crate::threads::error_text(&other)),
        })
    })?;
    let t: Table = lua.load(WAIT_LUA).set_name("=sockloop-lua wait").call((
        marker(),
        suspend_marker(),
        fail_marker(),
        poll_now,
        raise,
    ))?;
    t.set("methods", lua.create_table()?)?;
    lua.set_named_registry_value(WAIT_KEY, &t)?;
    Ok(t)
}

/// Polls `fut` once, for a caller no driver serves: its result, or an
/// error when it would wait.
fn poll_once(mut fut: Fut) -> mlua::Result<MultiValue> {
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        Poll::Pending => Err(mlua::Error::runtime(
            "cannot wait here: a sock call that waits must run in a sock thread's own \
             coroutine (not inside coroutine.create/wrap, nor in Lua code called from Rust)",
        )),
    }
}

/// Marks `co` as driven by a [`drive`]: its wait requests reach it.
pub(crate) fn mark_driven(lua: &Lua, co: &mlua::Thread) -> mlua::Result<()> {
    module(lua)?.get::<Function>("mark")?.call(co)
}

/// `(marker, future)` for the Lua wrapper to yield to the driver.
fn pending<R: IntoLuaMulti + 'static>(
    lua: &Lua,
    fut: impl Future<Output = mlua::Result<R>> + 'static,
) -> (LightUserData, Pending) {
    let lua = lua.clone();
    let fut: Fut = Box::pin(async move { fut.await?.into_lua_multi(&lua) });
    (marker(), Pending(RefCell::new(Some(fut))))
}

/// A Lua function that may wait, as mlua's `create_async_function` makes
/// one (the same closure signature): in a Lua thread its future is
/// awaited by the thread's driver; elsewhere it is polled once and raises
/// when it would wait.
pub(crate) fn async_function<F, A, FR, R>(lua: &Lua, func: F) -> mlua::Result<Function>
where
    F: Fn(Lua, A) -> FR + 'static,
    A: FromLuaMulti,
    FR: Future<Output = mlua::Result<R>> + 'static,
    R: IntoLuaMulti + 'static,
{
    let raw = lua.create_function(move |lua, args: A| Ok(pending(lua, func(lua.clone(), args))))?;
    module(lua)?.get::<Function>("wrap")?.call(raw)
}

/// The methods table key of an async method's Rust half.
fn raw_name(name: &str) -> String {
    format!("{name}\u{0}raw")
}

thread_local! {
    /// The async methods of each userdata type, for its `__index`.
    static ASYNC_METHODS: RefCell<HashMap<TypeId, Vec<String>>> = RefCell::new(HashMap::new());
}

/// A method that may wait, as mlua's `add_async_method` adds one (see
/// [`async_function`]), except that the method gets a clone of the
/// userdata's value, not a `UserDataRef`: a reference held by a parked
/// call would take a slot of mlua's auxiliary stack, which LuaJIT caps
/// at 8,000 (see [`Held`]). The type's `__index` meta function is this
/// module's (a type with async methods cannot have its own).
pub(crate) fn add_async_method<T, Ms, M, A, MR, R>(methods: &mut Ms, name: &str, method: M)
where
    T: UserData + Clone + 'static,
    Ms: UserDataMethods<T> + ?Sized,
    M: Fn(Lua, T, A) -> MR + 'static,
    A: FromLuaMulti,
    MR: Future<Output = mlua::Result<R>> + 'static,
    R: IntoLuaMulti + 'static,
{
    methods.add_function(raw_name(name), move |lua, (ud, args): (AnyUserData, A)| {
        let this = ud.borrow::<T>()?.clone();
        drop(ud);
        Ok(pending(lua, method(lua.clone(), this, args)))
    });
    let first = ASYNC_METHODS.with(|m| {
        let mut m = m.borrow_mut();
        let names = m.entry(TypeId::of::<T>()).or_default();
        let first = names.is_empty();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        first
    });
    if first {
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (_ud, key): (AnyUserData, LuaValue)| -> mlua::Result<LuaValue> {
                let LuaValue::String(key) = key else {
                    return Ok(LuaValue::Nil);
                };
                let key = key.to_str()?.to_string();
                let known = ASYNC_METHODS.with(|m| {
                    m.borrow()
                        .get(&TypeId::of::<T>())
                        .is_some_and(|names| names.contains(&key))
                });
                if !known {
                    return Ok(LuaValue::Nil);
                }
                let wait = module(lua)?;
                let cache: Table = wait.get("methods")?;
                if let f @ LuaValue::Function(_) = cache.raw_get::<LuaValue>(key.as_str())? {
                    return Ok(f);
                }
                let f: Function = wait.get::<Function>("method")?.call(raw_name(&key))?;
                cache.raw_set(key.as_str(), &f)?;
                Ok(LuaValue::Function(f))
            },
        );
    }
}

/// Calls the Lua function `f` with `args` in a coroutine of its own,
/// driven here: `f` may wait (mlua's `Function::call_async`).
pub(crate) async fn call_async(
    lua: &Lua,
    f: Function,
    args: MultiValue,
) -> mlua::Result<MultiValue> {
    let co = lua.create_thread(f)?;
    mark_driven(lua, &co)?;
    let weak = lua.weak();
    drive(weak, co, args, None).await
}

/// What resuming a driven coroutine gave.
enum Step {
    /// It finished (or yielded something that is not a wait request).
    Done(MultiValue),
    /// A wait request: the opcode and its operands.
    Wait(i64, MultiValue),
}

/// What the driver does next: resume the coroutine, or carry out a
/// request it handed over.
enum Next {
    Resume(Args),
    Request(i64, MultiValue),
}

/// What to resume a coroutine with: one value (no `MultiValue` to build),
/// or several.
enum Args {
    One(LuaValue),
    Many(MultiValue),
}

fn step(co: &mlua::Thread, args: Args) -> mlua::Result<Step> {
    let mut out: MultiValue = match args {
        Args::One(v) => co.resume(v)?,
        Args::Many(m) => co.resume(m)?,
    };
    if co.status() != mlua::prelude::LuaThreadStatus::Resumable {
        return Ok(Step::Done(out));
    }
    match out.front() {
        Some(LuaValue::LightUserData(l)) if *l == marker() => {}
        Some(LuaValue::LightUserData(l)) if *l == suspend_marker() => {
            out.pop_front();
            return Ok(Step::Wait(crate::ops::OP_SUSPEND, out));
        }
        _ => return Ok(Step::Done(out)),
    }
    out.pop_front();
    let op = match out.pop_front() {
        Some(LuaValue::Integer(n)) => n,
        Some(LuaValue::Number(n)) => n as i64,
        _ => -1,
    };
    Ok(Step::Wait(op, out))
}

/// `FAIL, err` for a resumed coroutine to raise.
fn err_value(e: mlua::Error) -> MultiValue {
    MultiValue::from_iter([
        LuaValue::LightUserData(fail_marker()),
        LuaValue::Error(Box::new(e)),
    ])
}

/// The resume values for a wait's outcome: its results, or `FAIL, err`.
fn outcome(r: mlua::Result<MultiValue>) -> MultiValue {
    r.unwrap_or_else(err_value)
}

/// How a thread parked in `sock.suspend` comes back to its driver after
/// running nested (another Lua thread resumed its coroutine directly,
/// inside LuaJIT, and it did something other than suspend again): what
/// its coroutine did, for the driver to carry on from.
pub(crate) enum Handoff {
    /// It yielded the wait request `op` with these operands.
    Request(i64, MultiValue),
    /// It returned these values (or yielded them outside a wait request).
    Done(MultiValue),
    /// It raised this error.
    Failed(mlua::Error),
}

/// What a `sock.suspend` parked in the driver came back with.
enum Resumed {
    /// A resume: the values to resume the coroutine with.
    Values(Args),
    /// A hand-over after running nested.
    Handoff(Handoff),
}

/// Carries out `sock.suspend`, with `parked` set while the driver waits
/// in the core's suspend. A failure of that suspend (which cannot happen
/// in a sockloop thread) ends the thread with it: `sock.suspend` has no
/// frame of its own left to raise it in.
async fn suspend(
    weak: &mlua::WeakLua,
    parked: Option<&crate::threads::Parked>,
    operands: MultiValue,
) -> mlua::Result<Resumed> {
    if let Some(p) = parked {
        p.set(true);
    }
    let v = sockloop::try_suspend(crate::convert::to_value(operands)).await;
    if let Some(p) = parked {
        p.set(false);
    }
    let v = match v.map_err(crate::threads::raise)?.downcast::<Handoff>() {
        Ok(h) => return Ok(Resumed::Handoff(*h)),
        Err(v) => v,
    };
    let lua = weak
        .try_upgrade()
        .ok_or_else(|| mlua::Error::runtime("the Lua state is closed"))?;
    Ok(Resumed::Values(
        match crate::convert::from_value_one(&lua, v)? {
            Ok(one) => Args::One(one),
            Err(many) => Args::Many(many),
        },
    ))
}

/// How many drivers of a Lua state's thread may wait holding their
/// coroutine's handle (see [`Held`]).
const HANDLES_KEPT: usize = 2_000;

thread_local! {
    /// The drivers waiting with their coroutine's handle now.
    static KEPT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A driven coroutine, held so that thousands of parked threads do not
/// exhaust mlua's auxiliary stack.
///
/// Every Lua value Rust holds (an `mlua::Thread`, a userdata, a string)
/// takes a slot of that stack, a Lua thread whose stack LuaJIT caps at
/// `LUAI_MAXCSTACK` (8,000) slots: with one slot per parked Lua thread,
/// the 8,000th parked connection made every later call that creates a
/// reference fail with "out of Lua stack" (in a server, the accepting
/// thread's `accept`). So the first [`HANDLES_KEPT`] drivers that wait
/// keep their handle (no cost), and any beyond wait with their coroutine
/// in the Lua registry instead (no slot; about 1,600 instructions to put
/// it there and take it back).
struct Held {
    weak: mlua::WeakLua,
    co: HeldCo,
    /// Counted in [`KEPT`].
    kept: bool,
}

enum HeldCo {
    Handle(mlua::Thread),
    Registry(mlua::RegistryKey),
}

impl Held {
    fn new(weak: mlua::WeakLua, co: mlua::Thread) -> Held {
        Held {
            weak,
            co: HeldCo::Handle(co),
            kept: false,
        }
    }

    /// The coroutine's handle (the wait is over), taken back from the
    /// registry if needed.
    fn thread(&mut self) -> mlua::Result<&mlua::Thread> {
        self.unkeep();
        if let HeldCo::Registry(key) = &self.co {
            let lua = self
                .weak
                .try_upgrade()
                .ok_or_else(|| mlua::Error::runtime("the Lua state is closed"))?;
            let co: mlua::Thread = lua.registry_value(key)?;
            if let HeldCo::Registry(key) = std::mem::replace(&mut self.co, HeldCo::Handle(co)) {
                lua.remove_registry_value(key)?;
            }
        }
        match &self.co {
            HeldCo::Handle(co) => Ok(co),
            HeldCo::Registry(_) => Err(mlua::Error::runtime("the coroutine is lost")),
        }
    }

    fn unkeep(&mut self) {
        if self.kept {
            self.kept = false;
            let _ = KEPT.try_with(|k| k.set(k.get() - 1));
        }
    }

    /// The wait is pending: keeps the handle if fewer than
    /// [`HANDLES_KEPT`] drivers do, else moves it to the registry (it
    /// stays where it is when that fails: only the slot is lost).
    fn park(&mut self) {
        let HeldCo::Handle(co) = &self.co else { return };
        if self.kept {
            return;
        }
        if KEPT.with(|k| k.get()) < HANDLES_KEPT {
            KEPT.with(|k| k.set(k.get() + 1));
            self.kept = true;
            return;
        }
        let Some(lua) = self.weak.try_upgrade() else {
            return;
        };
        if let Ok(key) = lua.create_registry_value(co) {
            self.co = HeldCo::Registry(key);
        }
    }

    /// Awaits `fut`, parked (see [`Held::park`]) while it is pending.
    /// (Polled only when woken: a sockloop suspend must not be polled
    /// again before its resume.)
    async fn wait<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            let r = fut.as_mut().poll(cx);
            if r.is_pending() {
                self.park();
            }
            r
        })
        .await
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.unkeep();
    }
}

/// Drives the coroutine `co` from its first resume (with `args`) to its
/// end: its return values (or those of a yield that is not a wait
/// request, which ends the thread as a return would), or its error.
/// `parked`: the thread's flag for a direct resume (see `threads.rs`).
/// A driver waiting beyond the first few thousand holds no mlua reference
/// of its own (see [`Held`]); the request's operands are dropped before
/// the wait.
pub(crate) async fn drive(
    weak: mlua::WeakLua,
    co: mlua::Thread,
    args: MultiValue,
    parked: Option<crate::threads::Parked>,
) -> mlua::Result<MultiValue> {
    let mut held = Held::new(weak.clone(), co);
    let mut next = Next::Resume(Args::Many(args));
    loop {
        let (op, mut operands) = match next {
            // (`Done` here: resume with these values.)
            Next::Resume(args) => match step(held.thread()?, args)? {
                Step::Done(out) => return Ok(out),
                Step::Wait(op, operands) => (op, operands),
            },
            Next::Request(op, operands) => (op, operands),
        };
        let args = match op {
            OP_FUTURE => match operands.pop_front() {
                Some(LuaValue::UserData(ud)) => match Pending::take(&ud) {
                    Ok(fut) => {
                        drop(ud);
                        drop(operands);
                        outcome(held.wait(fut).await)
                    }
                    Err(e) => err_value(e),
                },
                _ => err_value(mlua::Error::runtime("bad wait request")),
            },
            crate::ops::OP_SUSPEND => {
                match held.wait(suspend(&weak, parked.as_ref(), operands)).await? {
                    Resumed::Values(v) => {
                        next = Next::Resume(v);
                        continue;
                    }
                    Resumed::Handoff(Handoff::Request(op, operands)) => {
                        next = Next::Request(op, operands);
                        continue;
                    }
                    Resumed::Handoff(Handoff::Done(v)) => return Ok(v),
                    Resumed::Handoff(Handoff::Failed(e)) => return Err(e),
                }
            }
            _ => match crate::ops::prepare(&weak, op, operands) {
                Some(Ok(w)) => outcome(held.wait(w.run()).await),
                Some(Err(e)) => err_value(e),
                None => err_value(mlua::Error::runtime(format!("unknown wait request {op}"))),
            },
        };
        next = Next::Resume(Args::Many(args));
    }
}
