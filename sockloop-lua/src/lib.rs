//! Run unported luapower `sock` Lua code on sockloop.
//!
//! LuaJIT (built from source, Lua 5.2 compatibility on, the `ffi` module
//! available) whose `require'sock'` is served by sockloop: Lua coroutines
//! made with `sock.newthread` are sockloop threads on the same loop as
//! the Rust threads, so a code base can move to Rust one module at a time.
//! `require'socketloop'` is served by [`sockloop::socketloop`] (its
//! LuaSocket-style async sockets are `ASocket`s), with the TCP part of
//! LuaSocket's `require'socket'` and a small `require'socket.http'`.
//!
//! * [`new_lua`] makes the Lua state with `sock` installed;
//!   `cargo run -p sockloop-lua -- script.lua [args]` runs a whole
//!   program on it, its main chunk as the loop's main thread
//!   ([`run_main`]), so what the program sees is what upstream gives it.
//! * [`newthread`] makes a Lua function a sockloop thread from Rust;
//!   [`to_value`]/[`from_value`] move values across; [`tcp_of`] gives Rust
//!   the [`sockloop::Tcp`] of a Lua socket, and a `Tcp` (or `Rc<Tcp>`)
//!   passed in a [`sockloop::Value`] arrives in Lua as a socket object;
//!   [`asocket_of`] gives Rust the `ASocket` of a socketloop async socket,
//!   and an `ASocket` passed in a `Value` arrives as one.
//!
//! # Examples
//!
//! ```
//! let lua = sockloop_lua::new_lua().unwrap();
//! let n: f64 = lua
//!     .load("local sock = require'sock'
//!            return sock.run(function() sock.sleep(0.001); return 42 end)")
//!     .eval()
//!     .unwrap();
//! assert_eq!(n, 42.0);
//! ```
// Every `unsafe` of the crate is in `edge.rs` (the FFI edge); the other
// modules forbid it.
#![deny(unsafe_code)]

mod addr;
mod convert;
mod copas;
mod edge;
mod luasocket;
mod mainthread;
mod ops;
mod socket;
mod socketloop;
mod threads;
mod wait;

use mlua::{Function, Lua, MultiValue, Table, Value as LuaValue};
use sockloop::Thread;

pub use convert::{from_value, to_value};
pub use mainthread::run_main;
pub use socket::{tcp_of, udp_of};
pub use socketloop::asocket_of;
pub use threads::LuaOutput;

/// socketloop's Lua half, over [`socketloop::loop_core`].
const SOCKETLOOP_LUA: &str = include_str!("socketloop.lua");
/// LuaSocket's TCP and UDP object methods, Lua half (luasocket.rs is the
/// Rust half).
const OBJECTS_LUA: &str = include_str!("objects.lua");
/// LuaSocket's `socket` namespace, Lua half (`try`, `newtry`, `protect`,
/// sinks and sources).
const SOCKET_LUA: &str = include_str!("socket.lua");
/// LuaSocket's `socket.url`.
const URL_LUA: &str = include_str!("url.lua");
/// LuaSocket's `socket.headers`.
const HEADERS_LUA: &str = include_str!("headers.lua");
/// LTN12: filters, sources, sinks, pumps.
const LTN12_LUA: &str = include_str!("ltn12.lua");
/// Copas' Lua half (copas.rs is the Rust half).
const COPAS_LUA: &str = include_str!("copas.lua");
/// Copas' `copas.future`, over its threads and semaphores.
const COPAS_FUTURE_LUA: &str = include_str!("copas_future.lua");
/// A small `socket.http` client, enough for socketloop's example.
const HTTP_LUA: &str = include_str!("http.lua");

/// The registry key of sock.lua's `_register(co, handle[, slot])`.
const REGISTER_KEY: &str = "sockloop_lua.register";

/// sock.lua's FFI declarations (`sockaddr` and its methods, the C calls).
const SOCK_FFI_LUA: &str = include_str!("sock_ffi.lua");

/// sock.lua's Lua half (buffers, socket objects, thread bookkeeping).
const SOCK_LUA: &str = include_str!("sock.lua");

/// A LuaJIT state with every standard library, `ffi` included, and
/// `require'sock'`, `require'socketloop'`, `require'socket'`,
/// `require'socket.http'` and `require'ltn12'` served by the bridge.
///
/// # Errors
///
/// When the `sock` module cannot be installed (out of memory).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let n: usize = lua.load("return require'ffi'.sizeof'int32_t'").eval().unwrap();
/// assert_eq!(n, 4);
/// ```
pub fn new_lua() -> mlua::Result<Lua> {
    let lua = edge::new_state_with_ffi();
    install(&lua)?;
    Ok(lua)
}

/// Installs `sock` in `lua` (`package.loaded.sock`), and `socketloop`,
/// `socket`, `socket.http` and `ltn12` in `package.preload` (so a program
/// may put its own first), for a state made elsewhere; [`new_lua`] calls
/// it.
///
/// # Errors
///
/// When `lua` has no `ffi` library (a safe-mode state) or no `package`.
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// sockloop_lua::install(&lua).unwrap(); // again: a fresh module
/// let t: String = lua.load("return type(require'sock'.tcp)").eval().unwrap();
/// assert_eq!(t, "function");
/// let t: String = lua.load("return type(require'socketloop'.newserver)").eval().unwrap();
/// assert_eq!(t, "function");
/// ```
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let core = lua.create_table()?;
    core.set("tcp", lua.create_function(socket::new_tcp)?)?;
    core.set("udp", lua.create_function(socket::new_udp)?)?;
    core.set("raw", lua.create_function(socket::new_raw)?)?;
    core.set("addr", lua.create_function(addr::addr)?)?;
    core.set(
        "errmsg",
        lua.create_function(|_, e: mlua::Value| Ok(threads::error_text(&e)))?,
    )?;
    // Tokio does not expose its poller: `nil, 'not_supported'` (share the
    // driver from Rust with sockloop::reactor()/set_reactor()).
    core.set(
        "epoll_fd",
        lua.create_function(|lua, _set: Option<i64>| socket::ret(lua, sockloop::epoll_fd()))?,
    )?;
    core.set(
        "iocp",
        lua.create_function(|lua, _set: mlua::Value| {
            let e = sockloop::Error::with_message(
                sockloop::ErrorKind::NotSupported,
                "IOCP is Windows-only; sockloop runs on Linux",
            );
            socket::soft(lua, e, None)
        })?,
    )?;
    threads::register(lua, &core)?;
    core.set("wait", wait::module(lua)?)?;
    let (sockaddr, sa_tostring): (Function, Function) =
        lua.load(SOCK_FFI_LUA).set_name("=sock_ffi.lua").call(())?;
    lua.set_named_registry_value(addr::SOCKADDR_KEY, sockaddr)?;
    lua.set_named_registry_value(addr::SA_TOSTRING_KEY, sa_tostring)?;
    let sock: Table = lua.load(SOCK_LUA).set_name("=sock.lua").call(core)?;
    lua.set_named_registry_value(socket::WRAP_KEY, sock.get::<Function>("_wrap")?)?;
    lua.set_named_registry_value(REGISTER_KEY, sock.get::<Function>("_register")?)?;
    let package: Table = lua.globals().get("package")?;
    let loaded: Table = package.get("loaded")?;
    loaded.set("sock", sock)?;
    // LuaSocket's objects (also socketloop's async sockets) exist before
    // any module is required.
    let objects: Table = lua
        .load(OBJECTS_LUA)
        .set_name("=objects.lua")
        .call(luasocket::objects_core(lua)?)?;
    let headers_lookup =
        lua.create_function(|_, name: String| Ok(sockloop::luasocket::headers::lookup(&name)))?;
    let preload: Table = package.get("preload")?;
    let modules = [
        (
            "socketloop",
            SOCKETLOOP_LUA,
            MultiValue::from_iter([LuaValue::Table(socketloop::loop_core(lua)?)]),
        ),
        (
            "socket",
            SOCKET_LUA,
            MultiValue::from_iter([
                LuaValue::Table(luasocket::socket_core(lua)?),
                LuaValue::Table(objects),
            ]),
        ),
        // LuaSocket's C core, for code that requires it directly: the same
        // namespace (not the system's socket/core.so).
        ("socket.core", "return require'socket'", MultiValue::new()),
        ("socket.url", URL_LUA, MultiValue::new()),
        (
            "socket.headers",
            HEADERS_LUA,
            MultiValue::from_iter([LuaValue::Function(headers_lookup)]),
        ),
        ("ltn12", LTN12_LUA, MultiValue::new()),
        ("socket.http", HTTP_LUA, MultiValue::new()),
        (
            "copas",
            COPAS_LUA,
            MultiValue::from_iter([LuaValue::Table(copas::copas_core(lua)?)]),
        ),
        ("copas.future", COPAS_FUTURE_LUA, MultiValue::new()),
        (
            "copas.timer",
            "return require'copas'.timer",
            MultiValue::new(),
        ),
        (
            "copas.lock",
            "return require'copas'.lock",
            MultiValue::new(),
        ),
        (
            "copas.semaphore",
            "return require'copas'.semaphore",
            MultiValue::new(),
        ),
        (
            "copas.queue",
            "return require'copas'.queue",
            MultiValue::new(),
        ),
        (
            "copas.http",
            "return require'copas'.http",
            MultiValue::new(),
        ),
        ("copas.ftp", "return require'copas'.ftp", MultiValue::new()),
        (
            "copas.smtp",
            "return require'copas'.smtp",
            MultiValue::new(),
        ),
    ];
    for (name, src, args) in modules {
        let chunkname = format!("={name}.lua");
        let loader = lua.create_function(move |lua, ()| {
            lua.load(src)
                .set_name(chunkname.as_str())
                .call::<LuaValue>(args.clone())
        })?;
        preload.set(name, loader)?;
        loaded.set(name, LuaValue::Nil)?;
    }
    add_system_paths(&package)?;
    Ok(())
}

/// Where `luajit` looks for Lua 5.1 modules besides the current
/// directory: the system's Lua 5.1 directories, so modules a program
/// brings from its distribution (`lua-*` packages, luarocks' trees) load
/// as they do under `luajit`.
const SYSTEM_LUA_PATH: &[&str] = &[
    "/usr/local/share/lua/5.1/?.lua",
    "/usr/local/share/lua/5.1/?/init.lua",
    "/usr/local/lib/lua/5.1/?.lua",
    "/usr/local/lib/lua/5.1/?/init.lua",
    "/usr/share/lua/5.1/?.lua",
    "/usr/share/lua/5.1/?/init.lua",
];
const SYSTEM_LUA_CPATH: &[&str] = &[
    "/usr/local/lib/lua/5.1/?.so",
    "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so",
    "/usr/lib/lua/5.1/?.so",
    "/usr/local/lib/lua/5.1/loadall.so",
];

/// Appends the [`SYSTEM_LUA_PATH`] and [`SYSTEM_LUA_CPATH`] entries that
/// `package.path`/`package.cpath` lack (`LUA_PATH`/`LUA_CPATH` still come
/// first when set, as under `luajit`).
fn add_system_paths(package: &Table) -> mlua::Result<()> {
    for (key, dirs) in [("path", SYSTEM_LUA_PATH), ("cpath", SYSTEM_LUA_CPATH)] {
        let mut path: String = package.get(key)?;
        for dir in dirs {
            if !path.split(';').any(|p| p == *dir) {
                if !path.is_empty() && !path.ends_with(';') {
                    path.push(';');
                }
                path.push_str(dir);
            }
        }
        package.set(key, path)?;
    }
    Ok(())
}

/// Makes a Rust function that may wait callable from Lua: the Lua twin of
/// mlua's `create_async_function` for the bridge, whose Lua threads are
/// driven by sockloop, not by mlua's async adaptor. Use it to replace a
/// Lua module's waiting calls with Rust ones (PORTING.md, "moving a
/// program module by module").
///
/// Called from a Lua thread (`sock.newthread`, a Copas or socketloop
/// thread, the main chunk under [`run_main`]), the call parks that thread
/// until `func`'s future completes and returns its values; a future that
/// fails raises its error in Lua. Called where nothing drives the
/// coroutine (a plain `coroutine.create`, Lua code Rust runs directly),
/// a future that completes at once still gives its values, and one that
/// would wait raises `cannot wait here: ...`.
///
/// # Errors
///
/// When Lua cannot make the function (out of memory).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let later = sockloop_lua::async_function(&lua, |_, x: i64| async move {
///     sockloop::sleep(0.001).await;
///     Ok(x * 2)
/// })
/// .unwrap();
/// lua.globals().set("double_later", later).unwrap();
/// let f = lua.load("return function(x) return double_later(x) + 1 end").eval().unwrap();
/// let t = sockloop_lua::newthread(&lua, f, None).unwrap();
/// let v = sockloop::run(async move {
///     sockloop::resume(&t, sockloop::Value::new(20)).unwrap();
///     t.join(None).await
/// });
/// assert_eq!(v.unwrap().unwrap().get::<i64>().unwrap(), 41);
/// ```
#[doc(alias = "create_async_function")]
pub fn async_function<F, A, FR, R>(lua: &Lua, func: F) -> mlua::Result<Function>
where
    F: Fn(Lua, A) -> FR + 'static,
    A: mlua::FromLuaMulti,
    FR: std::future::Future<Output = mlua::Result<R>> + 'static,
    R: mlua::IntoLuaMulti + 'static,
{
    wait::async_function(lua, func)
}

/// Makes the Lua function `f` a sockloop thread, **suspended**, as
/// `sock.newthread(f, name)` does; the first [`sockloop::resume`]'s value
/// becomes `f`'s arguments (see [`to_value`]). The handle's
/// [`join`](Thread::join) gives `f`'s results as a [`sockloop::Value`],
/// or its Lua error's message as `Err` (a `resume` during which `f`
/// returns gives them instead, as for any sockloop thread); pass
/// `t.untyped()` to Lua in a `Value` to let Lua `sock.resume` it.
///
/// # Errors
///
/// When Lua cannot make the coroutine (out of memory).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let f = lua
///     .load("return function(a, b) require'sock'.sleep(0.001); return a * b end")
///     .eval()
///     .unwrap();
/// let t = sockloop_lua::newthread(&lua, f, Some("mul".into())).unwrap();
/// let v = sockloop::run(async move {
///     sockloop::resume(&t, vec![sockloop::Value::new(6), sockloop::Value::new(7)]).unwrap();
///     t.join(None).await
/// });
/// assert_eq!(v.unwrap().unwrap().get::<i64>().unwrap(), 42);
/// ```
pub fn newthread(lua: &Lua, f: Function, name: Option<String>) -> mlua::Result<Thread<LuaOutput>> {
    // Lua's sock.resume finds the thread by its coroutine.
    let (co, h, t, n) = threads::spawn(lua, f, name, threads::Owner::Rust)?;
    let sock: Table = lua
        .globals()
        .get::<Table>("package")?
        .get::<Table>("loaded")?
        .get("sock")?;
    sock.get::<Function>("_register")?.call::<()>((co, h, n))?;
    Ok(t)
}
