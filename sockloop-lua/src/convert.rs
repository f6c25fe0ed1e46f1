//! Values crossing between Lua and sockloop's [`Value`].
//!
//! Lua to Rust: no value is `()`, one value is converted alone, several
//! travel as a `Vec<Value>`. `nil` is `()`, booleans `bool`, numbers `i64`
//! when integral (else `f64`), strings `String` (`Vec<u8>` when not UTF-8),
//! a Rust value that went to Lua comes back as it was, and everything else
//! (tables, functions, coroutines, cdata) stays an opaque `mlua::Value`.
//! Rust to Lua is the reverse, plus the common integer and float types,
//! `&'static str`, [`sockloop::Tcp`]/[`sockloop::Udp`] (as Lua socket
//! objects), [`sockloop::socketloop::ASocket`] (also in an `Rc`, as a
//! socketloop async socket) and, for any other type, an opaque userdata
//! Lua can hand back.

#![forbid(unsafe_code)]

use std::any::{Any, TypeId};
use std::rc::Rc;

use mlua::{IntoLua, IntoLuaMulti, Lua, MultiValue, UserData};
use sockloop::Value;

/// A Rust value held by Lua as an opaque userdata; it converts back to
/// the same [`Value`] when it returns to Rust.
pub(crate) struct RustValue(pub(crate) std::cell::RefCell<Option<Value>>);

impl UserData for RustValue {}

/// Lua values to one sockloop [`Value`] (see the module doc).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let args: mlua::MultiValue = lua.load("return 1, 'two'").eval().unwrap();
/// let v = sockloop_lua::to_value(args).get::<Vec<sockloop::Value>>().unwrap();
/// assert_eq!(v.len(), 2);
/// ```
pub fn to_value(mut args: MultiValue) -> Value {
    match args.len() {
        0 => Value::new(()),
        1 => args
            .pop_front()
            .map_or_else(|| Value::new(()), one_to_value),
        _ => Value::new(args.into_iter().map(one_to_value).collect::<Vec<Value>>()),
    }
}

fn one_to_value(v: mlua::Value) -> Value {
    match v {
        mlua::Value::Nil => Value::new(()),
        mlua::Value::Boolean(b) => Value::new(b),
        mlua::Value::Integer(i) => Value::new(i),
        mlua::Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                // Exact: |n| < 2^53.
                Value::new(n as i64)
            } else {
                Value::new(n)
            }
        }
        mlua::Value::String(s) => match s.to_str() {
            Ok(t) => Value::new(t.to_string()),
            Err(_) => Value::new(s.as_bytes().to_vec()),
        },
        mlua::Value::UserData(ud) => {
            if let Ok(r) = ud.borrow::<RustValue>() {
                if let Some(v) = r.0.borrow_mut().take() {
                    return v;
                }
            }
            Value::new(mlua::Value::UserData(ud))
        }
        other => Value::new(other),
    }
}

/// [`from_value`] for resuming a coroutine: a plain value (what Lua sent:
/// a number, string, boolean or nothing) without building a
/// `MultiValue`.
pub(crate) fn from_value_one(lua: &Lua, v: Value) -> mlua::Result<Result<mlua::Value, MultiValue>> {
    let id = v.type_id();
    if id == TypeId::of::<i64>() {
        return Ok(Ok(mlua::Value::Integer(take::<i64>(v)?)));
    }
    if id == TypeId::of::<f64>() {
        return Ok(Ok(mlua::Value::Number(take::<f64>(v)?)));
    }
    if id == TypeId::of::<bool>() {
        return Ok(Ok(mlua::Value::Boolean(take::<bool>(v)?)));
    }
    if id == TypeId::of::<String>() {
        return Ok(Ok(take::<String>(v)?.into_lua(lua)?));
    }
    from_value(lua, v).map(Err)
}

/// A sockloop [`Value`] to Lua values (see the module doc).
///
/// # Errors
///
/// Only when Lua cannot allocate (a string, a userdata).
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let mv = sockloop_lua::from_value(&lua, sockloop::Value::new((7u8, "x"))).unwrap();
/// assert_eq!(mv.len(), 1); // a tuple is opaque: use a Vec<Value> for several values
/// let mv = sockloop_lua::from_value(&lua, sockloop::Value::new(vec![
///     sockloop::Value::new(7u8),
///     sockloop::Value::new("x"),
/// ])).unwrap();
/// assert_eq!(mv.len(), 2);
/// ```
pub fn from_value(lua: &Lua, v: Value) -> mlua::Result<MultiValue> {
    // One look at the type, then comparisons of constants: a chain of
    // `downcast`s cost two virtual calls per candidate (a sixth of a
    // bridged resume/suspend round trip in the ping-pong bench).
    let id = v.type_id();
    macro_rules! is {
        ($t:ty) => {
            id == TypeId::of::<$t>()
        };
    }
    macro_rules! plain {
        ($($t:ty),*) => {
            $(if is!($t) {
                return take::<$t>(v)?.into_lua_multi(lua);
            })*
        };
    }
    // The common values first: what Lua sent (numbers, strings, booleans,
    // nothing), then several values, then Rust's own types.
    plain!(i64, f64, String, bool);
    if is!(()) {
        return Ok(MultiValue::new());
    }
    if is!(Vec<Value>) {
        let mut out = MultiValue::new();
        for x in take::<Vec<Value>>(v)? {
            let mut m = from_value(lua, x)?;
            out.push_back(m.pop_front().unwrap_or(mlua::Value::Nil));
        }
        return Ok(out);
    }
    if is!(MultiValue) {
        return take::<MultiValue>(v);
    }
    if is!(Vec<u8>) {
        return lua.create_string(take::<Vec<u8>>(v)?)?.into_lua_multi(lua);
    }
    if is!(sockloop::Tcp) {
        return crate::socket::wrap(lua, Rc::new(take::<sockloop::Tcp>(v)?));
    }
    if is!(Rc<sockloop::Tcp>) {
        return crate::socket::wrap(lua, take::<Rc<sockloop::Tcp>>(v)?);
    }
    if is!(sockloop::socketloop::ASocket) {
        return crate::socketloop::asocket_to_lua(lua, Rc::new(take(v)?));
    }
    if is!(Rc<sockloop::socketloop::ASocket>) {
        return crate::socketloop::asocket_to_lua(lua, take(v)?);
    }
    if is!(sockloop::Udp) {
        return crate::socket::wrap(lua, Rc::new(take::<sockloop::Udp>(v)?));
    }
    if is!(sockloop::Thread<Value>) {
        return handle(lua, take::<sockloop::Thread<Value>>(v)?.untyped());
    }
    if is!(sockloop::Thread<crate::LuaOutput>) {
        return handle(
            lua,
            take::<sockloop::Thread<crate::LuaOutput>>(v)?.untyped(),
        );
    }
    plain!(i32, u32, u16, u8, i16, i8, f32, &'static str, mlua::Value);
    if is!(u64) {
        return (take::<u64>(v)? as f64).into_lua_multi(lua);
    }
    if is!(usize) {
        return (take::<usize>(v)? as f64).into_lua_multi(lua);
    }
    lua.create_userdata(RustValue(std::cell::RefCell::new(Some(v))))?
        .into_lua(lua)
        .map(MultiValue::from_iter_single)
}

/// The value, whose type was checked: `wrong_type` cannot happen.
fn take<T: Any>(v: Value) -> mlua::Result<T> {
    v.get::<T>().map_err(mlua::Error::external)
}

/// A Rust thread handle for Lua (`sock.resume`/`sock.transfer` take it).
fn handle(lua: &Lua, t: sockloop::Thread<Value>) -> mlua::Result<MultiValue> {
    let h = crate::threads::ThreadHandle(Rc::new(std::cell::RefCell::new(Some(t))));
    Ok(MultiValue::from_iter_single(
        lua.create_userdata(h)?.into_lua(lua)?,
    ))
}

/// `MultiValue` from one value.
trait Single {
    fn from_iter_single(v: mlua::Value) -> MultiValue;
}

impl Single for MultiValue {
    fn from_iter_single(v: mlua::Value) -> MultiValue {
        let mut m = MultiValue::new();
        m.push_back(v);
        m
    }
}
