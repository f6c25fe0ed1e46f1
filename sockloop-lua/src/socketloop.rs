//! `require'socketloop'` and `require'socket'`: LuaSocket-style TCP
//! objects served by [`sockloop::socketloop::ASocket`], socketloop's loop
//! calls by [`sockloop::socketloop`], and the part of LuaSocket's `socket`
//! namespace that socketloop programs use, by [`sockloop::luasocket`].
//!
//! Return shapes are LuaSocket's: `1` (or a value) on success,
//! `nil, err[, partial]` on failure, with the core's normalized error
//! names (`"timeout"`, `"closed"`, `"connection_refused"`, ...).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use mlua::{
    Function, IntoLua, IntoLuaMulti, Lua, MultiValue, Table, UserData, UserDataFields,
    UserDataMethods,
};
use sockloop::luasocket::{self, Pattern};
use sockloop::socketloop::{self as sl, ASocket, Server};
use sockloop::{SockAddr, Tcp};

use crate::socket::{
    bad, in_thread, opt_to_lua, opt_value, ret, soft, target, with_target, PortArg, Sock, Target,
};

/// A LuaSocket-style TCP object: socketloop's async socket. The
/// [`ASocket`] is replaced whole by `setsocket`, so a call in progress
/// keeps the one it started on.
pub(crate) struct LuaASocket(RefCell<Rc<ASocket>>);

impl LuaASocket {
    fn new(a: ASocket) -> LuaASocket {
        LuaASocket(RefCell::new(Rc::new(a)))
    }

    fn get(&self) -> Rc<ASocket> {
        self.0.borrow().clone()
    }
}

/// An [`ASocket`] as a Lua async socket (for values crossing from Rust).
pub(crate) fn asocket_to_lua(lua: &Lua, a: Rc<ASocket>) -> mlua::Result<MultiValue> {
    LuaASocket(RefCell::new(a)).into_lua_multi(lua)
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

/// `1`, LuaSocket's success value, or `nil, err`.
fn one(lua: &Lua, r: sockloop::Result<()>) -> mlua::Result<MultiValue> {
    ret(lua, r.map(|()| 1))
}

/// `ip, port, family` (LuaSocket 3.0's `getsockname`/`getpeername`).
fn name3(lua: &Lua, r: sockloop::Result<SockAddr>) -> mlua::Result<MultiValue> {
    ret(
        lua,
        r.map(|sa| (sa.ip().to_string(), sa.port(), sa.family().as_str())),
    )
}

/// A `receive` pattern: `nil` (`"*l"`), `"*l"`, `"*a"` or a byte count.
fn pattern(v: mlua::Value) -> mlua::Result<Pattern> {
    match v {
        mlua::Value::Nil => Ok(Pattern::from("*l")),
        mlua::Value::String(s) => Ok(Pattern::from(&*s.to_str()?)),
        mlua::Value::Integer(n) => usize::try_from(n)
            .map(Pattern::from)
            .map_err(|_| bad(format!("invalid_argument: invalid receive count {n}"))),
        mlua::Value::Number(n) if n.fract() == 0.0 && (0.0..9.0e15).contains(&n) => {
            Ok(Pattern::from(n as usize))
        }
        other => Err(bad(format!(
            "invalid_argument: invalid receive pattern {other:?}"
        ))),
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
            let owned = crate::take_stream_fd(fd)
                .map_err(|e| bad(format!("invalid_argument: descriptor {fd}: {e}")))?;
            Ok(Rc::new(Tcp::from(owned)))
        }
        other => Err(bad(format!(
            "invalid_argument: a TCP socket or a descriptor expected, got {other:?}"
        ))),
    }
}

impl UserData for LuaASocket {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        // `asocket.socket`: the wrapped socket, as a sock.lua TCP object.
        f.add_field_method_get("socket", |lua, a| {
            let mut m = crate::socket::wrap(lua, Sock::Tcp(a.get().getsocket()))?;
            Ok(m.pop_front().unwrap_or(mlua::Value::Nil))
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_async_method(
            "receive",
            |lua, a, (pat, prefix): (mlua::Value, Option<mlua::LuaString>)| async move {
                in_thread()?;
                let a = {
                    let s = a.get();
                    drop(a);
                    s
                };
                let pat = pattern(pat)?;
                let prefix = prefix.map(|p| p.as_bytes().to_vec()).unwrap_or_default();
                match a.receive_prefixed(pat, &prefix).await {
                    Ok(v) => ret(&lua, Ok(lua.create_string(&v)?)),
                    Err(mut e) => {
                        let p = lua.create_string(e.take_data().unwrap_or_default())?;
                        soft(&lua, e, Some(mlua::Value::String(p)))
                    }
                }
            },
        );
        m.add_async_method(
            "send",
            |lua, a, (data, i, j): (mlua::LuaString, Option<i64>, Option<i64>)| async move {
                in_thread()?;
                let a = {
                    let s = a.get();
                    drop(a);
                    s
                };
                let data = data.as_bytes().to_vec();
                let r = a.send_range(&data, i.unwrap_or(1), j.unwrap_or(-1)).await;
                ret(&lua, r)
            },
        );
        m.add_method(
            "settimeout",
            |_, a, (t, mode): (Option<f64>, Option<String>)| {
                match mode.as_deref() {
                    None | Some("b") => {}
                    Some("t") => {
                        return Err(bad(
                            "invalid_argument: settimeout's 't' (total) mode is not supported; \
                             use sock's expires arguments for an absolute deadline",
                        ))
                    }
                    Some(o) => {
                        return Err(bad(format!("invalid_argument: invalid timeout mode {o:?}")))
                    }
                }
                a.get().settimeout(t);
                Ok(1)
            },
        );
        m.add_method("gettimeout", |_, a, ()| Ok(a.get().gettimeout()));
        m.add_method("close", |lua, a, ()| one(lua, a.get().close()));
        m.add_method("closed", |_, a, ()| Ok(a.get().closed()));
        m.add_method("shutdown", |lua, a, how: Option<String>| {
            let how = match how.as_deref() {
                None | Some("both") => std::net::Shutdown::Both,
                Some("send") => std::net::Shutdown::Write,
                Some("receive") => std::net::Shutdown::Read,
                Some(o) => {
                    return Err(bad(format!(
                        "invalid_argument: invalid shutdown mode {o:?}"
                    )))
                }
            };
            one(lua, a.get().shutdown(how))
        });
        m.add_method("getsockname", |lua, a, ()| {
            name3(lua, a.get().getsockname())
        });
        m.add_method("getpeername", |lua, a, ()| {
            name3(lua, a.get().getpeername())
        });
        m.add_async_method("accept", |lua, a, ()| async move {
            in_thread()?;
            let s = a.get();
            drop(a);
            match s.accept().await {
                Ok(c) => LuaASocket::new(c).into_lua_multi(&lua),
                Err(e) => soft(&lua, e, None),
            }
        });
        m.add_async_method(
            "connect",
            |lua, a, (h, p): (mlua::Value, mlua::Value)| async move {
                in_thread()?;
                let a = {
                    let s = a.get();
                    drop(a);
                    s
                };
                let t = target(h, p)?;
                one(&lua, with_target!(t, x => a.connect(x).await))
            },
        );
        m.add_method("bind", |lua, a, (h, p): (mlua::Value, mlua::Value)| {
            let t = target(h, p)?;
            let a = a.get();
            one(lua, with_target!(t, x => a.bind(x)))
        });
        m.add_method("listen", |lua, a, backlog: Option<u32>| {
            one(
                lua,
                a.get()
                    .listen(backlog.unwrap_or(luasocket::DEFAULT_BACKLOG)),
            )
        });
        m.add_method("setoption", |lua, a, (name, v): (String, mlua::Value)| {
            let v = opt_value(v)?;
            one(lua, a.get().setoption(&name, v))
        });
        m.add_method("getoption", |lua, a, name: String| {
            match a.get().getoption(&name) {
                Ok(v) => opt_to_lua(lua, v).map(|v| MultiValue::from_iter([v])),
                Err(e) => soft(lua, e, None),
            }
        });
        m.add_method("getfd", |_, a, ()| {
            Ok(a.get().getsocket().with_socket(|s| s.as_raw_fd()).ok())
        });
        m.add_method("dirty", |_, a, ()| Ok(a.get().buffered() > 0));
        m.add_method("getsocket", |lua, a, ()| {
            crate::socket::wrap(lua, Sock::Tcp(a.get().getsocket()))
        });
        m.add_method("setsocket", |_, a, s: mlua::Value| {
            let tcp = tcp_from(&s)?;
            let old = a.get();
            let new = ASocket::from_rc(tcp);
            new.settimeout(old.gettimeout());
            *a.0.borrow_mut() = Rc::new(new);
            Ok(())
        });
        // `call_async(f, ...)`: calls `f(...)` until it stops answering
        // `nil|false, 'wantread'|'wantwrite'`, waiting for the socket in
        // between; returns what `f` returned then. `f` is called here, not
        // inside the socket's lock, so it may use the socket (e.g. through
        // its descriptor with the FFI); the settimeout time bounds the call.
        m.add_async_method(
            "call_async",
            |lua, a, (f, args): (Function, MultiValue)| async move {
                in_thread()?;
                let a = {
                    let s = a.get();
                    drop(a);
                    s
                };
                let tcp = a.getsocket();
                let exp = a.gettimeout().map(|t| sockloop::clock() + t);
                loop {
                    let r: MultiValue = f.call_async(args.clone()).await?;
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
                        return soft(&lua, e, None);
                    }
                    if exp.is_some_and(|t| sockloop::clock() >= t) {
                        return soft(
                            &lua,
                            sockloop::Error::from(sockloop::ErrorKind::Timeout),
                            None,
                        );
                    }
                }
            },
        );
        m.add_meta_method("__tostring", |_, a, ()| {
            let a = a.get();
            let state = match (a.getpeername(), a.getsockname()) {
                (Ok(_), _) => "client",
                (_, Ok(_))
                    if a.getoption("acceptconn").ok().and_then(|v| v.as_bool()) == Some(true) =>
                {
                    "server"
                }
                _ => "master",
            };
            Ok(format!("tcp{{{state}}}: {:p}", Rc::as_ptr(&a)))
        });
    }
}

/// What `loop.newserver` returns: the listening socket, with LuaSocket's
/// `getsockname`, `getfd` and `close` (which stops the server).
struct LuaServer(Server);

impl UserData for LuaServer {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // LuaSocket's: the port as a string.
        m.add_method("getsockname", |lua, s, ()| {
            ret(
                lua,
                s.0.local_addr().map(|sa| {
                    (
                        sa.ip().to_string(),
                        sa.port().to_string(),
                        sa.family().as_str(),
                    )
                }),
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
            Ok(LuaASocket::new(ASocket::from_rc(tcp_from(&s)?)))
        })?,
    )?;
    t.set(
        "tcp",
        lua.create_function(|lua, (ip, port): (Option<String>, Option<PortArg>)| {
            ret(
                lua,
                sl::tcp(ip.as_deref(), port.map(|p| p.0)).map(LuaASocket::new),
            )
        })?,
    )?;
    t.set(
        "connect",
        lua.create_async_function(
            |lua, (host, port, ip, lport): (String, PortArg, Option<String>, Option<PortArg>)| async move {
                in_thread()?;
                let r = sl::connect(&host, port.0, ip.as_deref(), lport.map(|p| p.0)).await;
                ret(&lua, r.map(LuaASocket::new))
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
                    let started = LuaASocket::new(c).into_lua(&lua).and_then(|c| {
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
            ret(lua, r.map(LuaServer))
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

/// `require'socket'`'s Rust half (the Lua half adds `try`, `newtry`,
/// `protect`, `skip`).
pub(crate) fn socket_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tcp",
        lua.create_function(|lua, ()| ret(lua, luasocket::tcp().map(LuaASocket::new)))?,
    )?;
    t.set(
        "tcp4",
        lua.create_function(|lua, ()| ret(lua, luasocket::tcp4().map(LuaASocket::new)))?,
    )?;
    t.set(
        "tcp6",
        lua.create_function(|lua, ()| ret(lua, luasocket::tcp6().map(LuaASocket::new)))?,
    )?;
    t.set(
        "bind",
        lua.create_function(
            |lua, (host, port, backlog): (String, PortArg, Option<u32>)| {
                ret(
                    lua,
                    luasocket::bind(&host, port.0, backlog).map(LuaASocket::new),
                )
            },
        )?,
    )?;
    t.set(
        "connect",
        lua.create_async_function(
            |lua,
             (host, port, ip, lport, fam): (
                String,
                PortArg,
                Option<String>,
                Option<PortArg>,
                Option<String>,
            )| async move {
                in_thread()?;
                let fam = match fam.as_deref() {
                    None => None,
                    Some("inet") => Some(sockloop::Family::Inet),
                    Some("inet6") => Some(sockloop::Family::Inet6),
                    Some(o) => return Err(bad(format!("invalid_argument: invalid family {o:?}"))),
                };
                let r =
                    luasocket::connect(&host, port.0, ip.as_deref(), lport.map(|p| p.0), fam).await;
                ret(&lua, r.map(LuaASocket::new))
            },
        )?,
    )?;
    t.set(
        "gettime",
        lua.create_function(|_, ()| Ok(luasocket::gettime()))?,
    )?;
    t.set(
        "sleep",
        lua.create_async_function(|_, s: f64| async move {
            in_thread()?;
            luasocket::sleep(s).await;
            Ok(())
        })?,
    )?;
    t.set("_VERSION", luasocket::VERSION)?;
    t.set("_DATAGRAMSIZE", luasocket::DATAGRAMSIZE)?;
    Ok(t)
}
