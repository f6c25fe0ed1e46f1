//! `require'socketloop'`: socketloop's loop calls served by
//! [`sockloop::socketloop`]; its async sockets are LuaSocket's TCP objects
//! (`luasocket.rs`) over [`sockloop::socketloop::ASocket`], with
//! socketloop's own extra methods added here.

#![forbid(unsafe_code)]

use std::rc::Rc;

use mlua::{
    AnyUserData, Function, IntoLua, IntoLuaMulti, Lua, MultiValue, Table, UserData, UserDataMethods,
};
use sockloop::socketloop::{self as sl, ASocket, Server};
use sockloop::Tcp;

use crate::luasocket::{answer, fail, sock_object, LuaASocket, TcpObj};
use crate::socket::{bad, in_thread, PortArg};

/// An [`ASocket`] as a Lua async socket (for values crossing from Rust).
pub(crate) fn asocket_to_lua(lua: &Lua, a: Rc<ASocket>) -> mlua::Result<MultiValue> {
    crate::luasocket::tcp_to_lua(lua, a)
}

/// The [`ASocket`] behind a Lua socketloop async socket (made by
/// `loop.wrap`, `loop.tcp`, `loop.connect`, `accept`, `socket.tcp`, or
/// handed to a `newserver` handler), to use it from Rust; Lua keeps using
/// it too. An `ASocket` (or `Rc<ASocket>`) passed to Lua in a
/// [`sockloop::Value`] arrives as such an object.
///
/// Each side's `receive` reads ahead into the one `ASocket`'s buffer, so
/// the two sides see one stream.
///
/// # Errors
///
/// A Lua error when `v` is not a socketloop async socket.
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let a: mlua::Value = lua
///     .load("return require'socketloop'.tcp('127.0.0.1', 0)")
///     .eval()
///     .unwrap();
/// let a = sockloop_lua::asocket_of(&a).unwrap();
/// assert_eq!(a.getsockname().unwrap().ip().to_string(), "127.0.0.1");
/// let not: mlua::Value = lua.load("return require'sock'.tcp()").eval().unwrap();
/// assert!(sockloop_lua::asocket_of(&not).is_err()); // a sock object: use tcp_of
/// ```
pub fn asocket_of(v: &mlua::Value) -> mlua::Result<Rc<ASocket>> {
    match v {
        mlua::Value::UserData(ud) => Ok(ud
            .borrow::<LuaASocket>()
            .map_err(|_| bad("not a socketloop async socket"))?
            .get()),
        _ => Err(bad("not a socketloop async socket")),
    }
}

/// The [`Tcp`] of what `wrap`/`setsocket` take: an async socket, a
/// sock.lua TCP socket object, or a descriptor number (taken over).
fn tcp_from(v: &mlua::Value) -> mlua::Result<Rc<Tcp>> {
    match v {
        mlua::Value::UserData(ud) => {
            if let Ok(a) = ud.borrow::<LuaASocket>() {
                return Ok(a.get().getsocket());
            }
            crate::socket::tcp_of(v)
        }
        mlua::Value::Table(_) => crate::socket::tcp_of(v),
        mlua::Value::Integer(_) | mlua::Value::Number(_) => {
            let fd = match *v {
                mlua::Value::Integer(n) => i32::try_from(n).ok(),
                mlua::Value::Number(n) if n.fract() == 0.0 => i32::try_from(n as i64).ok(),
                _ => None,
            };
            let fd =
                fd.ok_or_else(|| bad(format!("invalid_argument: invalid descriptor {v:?}")))?;
            let owned = crate::edge::take_stream_fd(fd)
                .map_err(|e| bad(format!("invalid_argument: descriptor {fd}: {e}")))?;
            Ok(Rc::new(Tcp::from(owned)))
        }
        other => Err(bad(format!(
            "invalid_argument: a TCP socket or a descriptor expected, got {other:?}"
        ))),
    }
}

/// socketloop's methods of its async sockets beyond LuaSocket's, added to
/// the TCP object's method table: `call_async`, `getsocket`, `setsocket`,
/// `closed`, and the `socket` field.
pub(crate) fn asocket_extras(lua: &Lua, t: &Table) -> mlua::Result<()> {
    let obj =
        |ud: &AnyUserData| -> mlua::Result<Rc<TcpObj>> { Ok(ud.borrow::<LuaASocket>()?.0.clone()) };
    // `asocket.socket`: the wrapped socket, as a sock.lua TCP object.
    t.set(
        "socket",
        lua.create_function(move |lua, ud: AnyUserData| sock_object(lua, &*obj(&ud)?))?,
    )?;
    // The wrapped LuaSocket object, as upstream's: one over the same socket.
    t.set(
        "getsocket",
        lua.create_function(move |lua, ud: AnyUserData| {
            crate::luasocket::object_of(lua, obj(&ud)?.get(), false)
        })?,
    )?;
    t.set(
        "closed",
        lua.create_function(move |_, ud: AnyUserData| Ok(obj(&ud)?.get().closed()))?,
    )?;
    t.set(
        "setsocket",
        lua.create_function(move |_, (ud, s): (AnyUserData, mlua::Value)| {
            let tcp = tcp_from(&s)?;
            obj(&ud)?.replace(tcp);
            Ok(())
        })?,
    )?;
    // `call_async(f, ...)`: calls `f(...)` until it stops answering
    // `nil|false, 'wantread'|'wantwrite'`, waiting for the socket in
    // between; returns what `f` returned then. `f` is called here, not
    // inside the socket's lock, so it may use the socket (e.g. through its
    // descriptor with the FFI); the settimeout time bounds the call.
    t.set(
        "call_async",
        crate::wait::async_function(
            lua,
            move |lua, (ud, f, args): (AnyUserData, Function, MultiValue)| async move {
                in_thread()?;
                let a = obj(&ud)?.get();
                drop(ud);
                let tcp = a.getsocket();
                let exp = a.gettimeout().map(|t| sockloop::clock() + t);
                loop {
                    let r: MultiValue =
                        crate::wait::call_async(&lua, f.clone(), args.clone()).await?;
                    let falsy = matches!(
                        r.front(),
                        None | Some(mlua::Value::Nil) | Some(mlua::Value::Boolean(false))
                    );
                    let want = match r.get(1) {
                        Some(mlua::Value::String(s)) if falsy => s.to_str()?.to_string(),
                        _ => return Ok(r),
                    };
                    let waited = match want.as_str() {
                        "wantread" => tcp.readable(exp).await,
                        "wantwrite" => tcp.writable(exp).await,
                        _ => return Ok(r),
                    };
                    if let Err(e) = waited {
                        return fail(&lua, &e, None);
                    }
                    if exp.is_some_and(|t| sockloop::clock() >= t) {
                        let e = sockloop::Error::from(sockloop::ErrorKind::Timeout);
                        return fail(&lua, &e, None);
                    }
                }
            },
        )?,
    )?;
    Ok(())
}

/// What `loop.newserver` returns: the listening socket, with LuaSocket's
/// `getsockname`, `getfd` and `close` (which stops the server).
struct LuaServer(Server);

impl UserData for LuaServer {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // The port as a number, as the TCP objects' (see PORTING.md).
        m.add_method("getsockname", |lua, s, ()| {
            let r = s.0.local_addr();
            answer(
                lua,
                r.map(|sa| (sa.ip().to_string(), sa.port(), sa.family().as_str())),
            )
        });
        m.add_method("close", |_, s, ()| {
            s.0.close();
            Ok(1)
        });
        m.add_method("closed", |_, s, ()| Ok(s.0.closed()));
    }
}

/// `require'socketloop'`'s Rust half.
pub(crate) fn loop_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "wrap",
        lua.create_function(|_, s: mlua::Value| {
            Ok(LuaASocket::looped(ASocket::from_rc(tcp_from(&s)?)))
        })?,
    )?;
    t.set(
        "tcp",
        lua.create_function(|lua, (ip, port): (Option<String>, Option<PortArg>)| {
            answer(
                lua,
                sl::tcp(ip.as_deref(), port.map(|p| p.0)).map(LuaASocket::looped),
            )
        })?,
    )?;
    t.set(
        "connect",
        crate::wait::async_function(lua,
            |lua, (host, port, ip, lport): (String, PortArg, Option<String>, Option<PortArg>)| async move {
                in_thread()?;
                let r = sl::connect(&host, port.0, ip.as_deref(), lport.map(|p| p.0)).await;
                answer(&lua, r.map(LuaASocket::looped))
            },
        )?,
    )?;
    t.set(
        "thread",
        lua.create_function(
            |lua, (f, name, args): (Function, Option<String>, MultiValue)| {
                match crate::threads::start(lua, f, name, args, true)? {
                    Ok(co) => (true, co).into_lua_multi(lua),
                    Err(text) => (false, text).into_lua_multi(lua),
                }
            },
        )?,
    )?;
    t.set(
        "newserver",
        lua.create_function(|lua, (ip, port, handler): (String, PortArg, Function)| {
            let port = port.0;
            let weak = lua.weak();
            let r = sl::newserver(&ip, port, move |c: ASocket| {
                if let Some(lua) = weak.try_upgrade() {
                    let started = LuaASocket::looped(c).into_lua(&lua).and_then(|c| {
                        let name = Some("socketloop.newserver handler".to_string());
                        crate::threads::start(
                            &lua,
                            handler.clone(),
                            name,
                            MultiValue::from_iter([c]),
                            false,
                        )
                    });
                    // No Lua caller to raise in: as upstream, where the
                    // error ends the server's thread, the handler's error
                    // goes to the main thread (the accept loop goes on).
                    if let Err(e) = started {
                        crate::mainthread::hook_failed(format!(
                            "socketloop.newserver: cannot start the handler: {e}"
                        ));
                    }
                }
                async {}
            });
            answer(lua, r.map(LuaServer))
        })?,
    )?;
    t.set(
        "stop",
        lua.create_function(|_, ()| {
            sl::stop();
            Ok(())
        })?,
    )?;
    Ok(t)
}
