//! Run unported luapower `sock` Lua code on sockloop.
//!
//! LuaJIT (built from source, Lua 5.2 compatibility on, the `ffi` module
//! available) whose `require'sock'` is served by sockloop: Lua coroutines
//! made with `sock.newthread` are sockloop threads on the same loop as
//! the Rust threads, so a code base can move to Rust one module at a time.
//!
//! * [`new_lua`] makes the Lua state with `sock` installed;
//!   `cargo run -p sockloop-lua -- script.lua [args]` runs a whole
//!   program on it.
//! * [`newthread`] makes a Lua function a sockloop thread from Rust;
//!   [`to_value`]/[`from_value`] move values across; [`tcp_of`] gives Rust
//!   the [`sockloop::Tcp`] of a Lua socket, and a `Tcp` (or `Rc<Tcp>`)
//!   passed in a [`sockloop::Value`] arrives in Lua as a socket object.
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
#![deny(unsafe_code)]

mod addr;
mod convert;
mod socket;
mod threads;

use mlua::{Function, Lua, LuaOptions, StdLib, Table};
use sockloop::Thread;

pub use convert::{from_value, to_value};
pub use socket::{tcp_of, udp_of};
pub use threads::LuaOutput;

/// sock.lua's Lua half (buffers, socket objects, thread bookkeeping).
const SOCK_LUA: &str = include_str!("sock.lua");

/// A LuaJIT state with every standard library, `ffi` included, and
/// `require'sock'` served by sockloop.
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
    let lua = new_state_with_ffi();
    install(&lua)?;
    Ok(lua)
}

/// The one `unsafe` line of the bridge.
#[allow(unsafe_code)]
fn new_state_with_ffi() -> Lua {
    // SAFETY: mlua calls a state with the `ffi` (and `debug`) library
    // unsafe because Lua code can then read and write any memory. That is
    // the point here: sock.lua programs pass FFI `char[N]` buffers to
    // `recv`/`send` and call C functions (e.g. `getsockname(s.s, ..)`), and
    // they ran with the FFI before the port. The Rust side of this crate
    // never touches the buffers' memory: sock.lua's Lua half copies between
    // cdata and Lua strings with `ffi.copy`/`ffi.string`.
    unsafe { Lua::unsafe_new_with(StdLib::ALL, LuaOptions::default()) }
}

/// Installs `sock` in `lua` (`package.loaded.sock`), for a state made
/// elsewhere; [`new_lua`] calls it.
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
/// ```
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let core = lua.create_table()?;
    core.set("tcp", lua.create_function(socket::new_tcp)?)?;
    core.set("udp", lua.create_function(socket::new_udp)?)?;
    core.set("raw", lua.create_function(socket::new_raw)?)?;
    core.set("addr", lua.create_function(addr::addr)?)?;
    threads::register(lua, &core)?;
    let sock: Table = lua.load(SOCK_LUA).set_name("=sock.lua").call(core)?;
    lua.set_named_registry_value(socket::WRAP_KEY, sock.get::<Function>("_wrap")?)?;
    lua.set_named_registry_value(addr::TOBINARY_KEY, sock.get::<Function>("_tobinary")?)?;
    let loaded: Table = lua.globals().get::<Table>("package")?.get("loaded")?;
    loaded.set("sock", sock)?;
    Ok(())
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
    let (co, h, t) = threads::spawn(lua, f, name)?;
    let sock: Table = lua
        .globals()
        .get::<Table>("package")?
        .get::<Table>("loaded")?
        .get("sock")?;
    sock.get::<Function>("_register")?.call::<()>((co, h))?;
    Ok(t)
}
