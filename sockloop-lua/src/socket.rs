//! Socket handles for Lua: the Rust half of sock.lua's `tcp`/`udp`
//! objects. `recv`, `send` and their kin read into and write from the
//! Lua program's FFI buffers in place, through [`crate::edge`] (the only
//! code that touches their memory), and send Lua strings in place.

#![forbid(unsafe_code)]

use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use mlua::{IntoLua, IntoLuaMulti, Lua, MultiValue, UserData, UserDataMethods, Value as LuaValue};

use crate::edge::CBuf;
use sockloop::kind::{self, Dgram, Plain, Proto, Stream};
use sockloop::{
    AddrInfo, Error, ErrorKind, Family, Flags, Hints, OptValue, Protocol, Raw, RecvFlags, SockAddr,
    Socket, Tcp, Udp,
};

/// One socket of a Lua program, as a userdata: one generic type over the
/// socket's kind (`Socket<K>`), shared, so a Lua thread and a Rust thread
/// (or two Lua threads) can read and write it at once. The methods are
/// the same for every kind; the few that only streams or only datagrams
/// have go through [`LuaKind`].
pub(crate) struct LuaSock<K: Plain>(pub(crate) Rc<Socket<K>>);

impl<K: Plain> Clone for LuaSock<K> {
    fn clone(&self) -> Self {
        LuaSock(self.0.clone())
    }
}

/// The registry key of the Lua function that wraps a [`LuaSock`] userdata
/// into a sock.lua-style socket object (set by `sock.lua`).
pub(crate) const WRAP_KEY: &str = "sockloop_lua.wrap";

/// A socket as a Lua socket object (a table with `s.s` and the methods).
pub(crate) fn wrap<K: LuaKind>(lua: &Lua, s: Rc<Socket<K>>) -> mlua::Result<MultiValue> {
    let f: mlua::Function = lua.named_registry_value(WRAP_KEY)?;
    f.call(LuaSock(s))
}

/// Errors that are the caller's mistake, raised in Lua as sock.lua raises
/// on user errors; the others are returned as `nil, err[, partial]`.
pub(crate) fn is_user_error(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::UnknownOption
            | ErrorKind::ReadOnlyOption
            | ErrorKind::InvalidOptionValue
            | ErrorKind::InvalidArgument
            | ErrorKind::WrongType
            | ErrorKind::NotInThread
            | ErrorKind::LoopBusy
            | ErrorKind::NoLocalSet
            | ErrorKind::ThreadBusy
            | ErrorKind::ThreadDead
    )
}

/// `nil, err[, partial]` for a soft error, a Lua error for a user error.
pub(crate) fn soft(lua: &Lua, e: Error, partial: Option<mlua::Value>) -> mlua::Result<MultiValue> {
    if is_user_error(&e) {
        return Err(mlua::Error::runtime(e.to_string()));
    }
    failed(lua, e.name(), &e, partial)
}

/// `nil, text[, partial]`: `partial` or else `e`'s partial count.
fn failed(
    lua: &Lua,
    text: &str,
    e: &Error,
    partial: Option<mlua::Value>,
) -> mlua::Result<MultiValue> {
    let mut m = MultiValue::new();
    m.push_back(mlua::Value::Nil);
    m.push_back(lua.create_string(text)?.into_lua(lua)?);
    match partial {
        Some(p) => m.push_back(p),
        None => {
            if let Some(n) = e.partial() {
                m.push_back(mlua::Value::Number(n as f64));
            }
        }
    }
    Ok(m)
}

/// `v` or `nil, err`.
pub(crate) fn ret<T: IntoLuaMulti>(lua: &Lua, r: sockloop::Result<T>) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => v.into_lua_multi(lua),
        Err(e) => soft(lua, e, None),
    }
}

/// The error string sock.lua gives for `e`: for an errno, its own names
/// for the five it names (`access_denied`, `address_already_in_use`,
/// `connection_aborted`, `connection_reset`, `connection_refused`) and the
/// OS text (`strerror`) for the others, or the OS text always with
/// `os_text` (a TCP connect's error, which sock.lua reads back as the
/// socket's `SO_ERROR` text); for the rest sockloop's name, which is
/// sock.lua's own word where it has one (`timeout`, `eof`, `empty`, the
/// resolver's text) and `closed` for a socket closed before the call.
pub(crate) fn sock_str(e: &Error, os_text: bool) -> String {
    let Some(errno) = e.os_error() else {
        return e.name().to_string();
    };
    let named = match errno {
        13 => Some("access_denied"),
        98 => Some("address_already_in_use"),
        103 => Some("connection_aborted"),
        104 => Some("connection_reset"),
        111 => Some("connection_refused"),
        _ => None,
    };
    match named {
        Some(n) if !os_text => n.to_string(),
        _ => strerror(errno),
    }
}

/// The OS text for `errno`, as `strerror` gives it.
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// sock.lua's raise for a caller's mistake: its own words where it has
/// them (`invalid socket option`, `read-only socket option`).
fn sock_raise(e: &Error) -> mlua::Error {
    match e.kind() {
        ErrorKind::UnknownOption => bad("invalid socket option"),
        ErrorKind::ReadOnlyOption => bad("read-only socket option"),
        _ => bad(e),
    }
}

/// [`soft`] with sock.lua's error strings ([`sock_str`]).
pub(crate) fn ssoft(lua: &Lua, e: Error, partial: Option<mlua::Value>) -> mlua::Result<MultiValue> {
    ssoft_with(lua, e, partial, false)
}

fn ssoft_with(
    lua: &Lua,
    e: Error,
    partial: Option<mlua::Value>,
    os_text: bool,
) -> mlua::Result<MultiValue> {
    if is_user_error(&e) {
        return Err(sock_raise(&e));
    }
    failed(lua, &sock_str(&e, os_text), &e, partial)
}

/// [`ret`] with sock.lua's error strings.
pub(crate) fn sret<T: IntoLuaMulti>(lua: &Lua, r: sockloop::Result<T>) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => v.into_lua_multi(lua),
        Err(e) => ssoft(lua, e, None),
    }
}

/// Raises `not_in_thread` outside a sock thread: sock.lua's I/O, sleeps
/// and waits work only inside threads made by `sock.newthread`.
pub(crate) fn in_thread() -> mlua::Result<()> {
    if sockloop::currentthread().is_none() {
        return Err(bad(
            "not_in_thread: I/O, sleeps and waits work only inside a sock thread (sock.newthread, sock.thread, sock.run)",
        ));
    }
    Ok(())
}

/// A Lua error for a bad argument.
pub(crate) fn bad(msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(msg)
}

/// An `expires` argument: `nil` or a `sock.clock()` value.
pub(crate) fn expires(v: Option<f64>) -> mlua::Result<Option<f64>> {
    match v {
        Some(t) if t.is_nan() => Err(bad("expires is NaN")),
        other => Ok(other),
    }
}

/// Where `connect`/`bind`/`listen`/`sendto` go: `host, port` or an
/// already resolved `ai, nil`.
pub(crate) enum Target {
    Info(AddrInfo),
    HostPort(String, String),
}

/// A port argument of the socketloop/LuaSocket calls: an integral number
/// in 0..=65535 or a decimal string of one; anything else raises (a port
/// that does not fit is an error, never another port: LuaSocket's C code
/// would truncate `-0.5` to 0 and wrap 65536 to 0).
pub(crate) struct PortArg(pub(crate) u16);

impl mlua::FromLua for PortArg {
    fn from_lua(v: mlua::Value, _: &Lua) -> mlua::Result<Self> {
        let n = match &v {
            mlua::Value::Integer(n) => u16::try_from(*n).ok(),
            mlua::Value::Number(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(n) => {
                Some(*n as u16)
            }
            mlua::Value::String(s) => s
                .to_str()
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u16>().ok()),
            _ => None,
        };
        n.map(PortArg)
            .ok_or_else(|| bad(format!("invalid port: {v:?}")))
    }
}

pub(crate) fn target(host: mlua::Value, port: mlua::Value) -> mlua::Result<Target> {
    let port = match port {
        mlua::Value::Nil => "0".to_string(),
        mlua::Value::Integer(n) => n.to_string(),
        mlua::Value::Number(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => {
            (n as u32).to_string()
        }
        mlua::Value::String(s) => s.to_str()?.to_string(),
        other => return Err(bad(format!("invalid port: {other:?}"))),
    };
    match host {
        mlua::Value::Nil => Ok(Target::HostPort("*".into(), port)),
        mlua::Value::String(s) => Ok(Target::HostPort(s.to_str()?.to_string(), port)),
        mlua::Value::UserData(ud) => {
            if let Ok(ai) = ud.borrow::<crate::addr::LuaAddrInfo>() {
                return Ok(Target::Info(ai.info.clone()));
            }
            Err(bad("invalid address object"))
        }
        other => Err(bad(format!("invalid host: {other:?}"))),
    }
}

/// Calls `$e` with the target as an `impl ToAddr` named `$a`.
macro_rules! with_target {
    ($t:expr, $a:ident => $e:expr) => {
        match $t {
            Target::Info($a) => $e,
            Target::HostPort(h, p) => {
                let $a = (h, p);
                $e
            }
        }
    };
}

/// `nil, err` from a lookup made for an `af` argument.
macro_rules! or_soft {
    ($lua:expr, $r:expr) => {
        match $r {
            Ok(v) => v,
            Err(e) => return ssoft($lua, e, None),
        }
    };
}

pub(crate) fn opt_value(v: mlua::Value) -> mlua::Result<OptValue> {
    Ok(match v {
        mlua::Value::Boolean(b) => OptValue::Bool(b),
        mlua::Value::Integer(n) => OptValue::Int(n),
        mlua::Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => OptValue::Int(n as i64),
        mlua::Value::Number(n) if n >= 0.0 && n.is_finite() => OptValue::Duration(
            Duration::try_from_secs_f64(n)
                .map_err(|_| bad(format!("invalid option value: {n} seconds is out of range")))?,
        ),
        mlua::Value::String(s) => OptValue::Str(s.to_str()?.to_string()),
        other => return Err(bad(format!("invalid option value: {other:?}"))),
    })
}

pub(crate) fn opt_to_lua(lua: &Lua, v: OptValue) -> mlua::Result<mlua::Value> {
    match v {
        OptValue::Bool(b) => Ok(mlua::Value::Boolean(b)),
        OptValue::Int(n) => Ok(mlua::Value::Number(n as f64)),
        OptValue::Duration(d) => Ok(mlua::Value::Number(d.as_secs_f64())),
        OptValue::Str(s) => s.into_lua(lua),
    }
}

fn family(v: Option<String>) -> mlua::Result<Family> {
    match v.as_deref() {
        None => Ok(Family::Inet),
        Some(s) => s.parse().map_err(|e: Error| bad(e)),
    }
}

/// A `protocol` argument of `sock.tcp`/`sock.udp`: `nil`, `0`, `'ip'` or
/// the socket type's own protocol; anything else is a user error (sockloop
/// makes TCP sockets for TCP and UDP sockets for UDP only).
fn check_protocol(v: mlua::Value, own: Protocol) -> mlua::Result<()> {
    let p = crate::addr::kind::<Protocol>(v)?;
    match p {
        None | Some(Protocol::Ip) => Ok(()),
        Some(p) if p == own => Ok(()),
        Some(p) => Err(bad(format!(
            "invalid_argument: a {own} socket's protocol is {own}, not {p}"
        ))),
    }
}

/// `sock.tcp([family][, protocol])`'s Rust half.
pub(crate) fn new_tcp(
    lua: &Lua,
    (fam, proto): (Option<String>, mlua::Value),
) -> mlua::Result<MultiValue> {
    check_protocol(proto, Protocol::Tcp)?;
    match Tcp::new(family(fam)?) {
        Ok(t) => wrap(lua, Rc::new(t)),
        Err(e) => ssoft(lua, e, None),
    }
}

/// `sock.udp([family][, protocol])`'s Rust half.
pub(crate) fn new_udp(
    lua: &Lua,
    (fam, proto): (Option<String>, mlua::Value),
) -> mlua::Result<MultiValue> {
    check_protocol(proto, Protocol::Udp)?;
    match Udp::new(family(fam)?) {
        Ok(t) => wrap(lua, Rc::new(t)),
        Err(e) => ssoft(lua, e, None),
    }
}

/// `sock.raw([family][, protocol])`'s Rust half: `'inet'` and `'raw'` by
/// default. Without privileges (root or `CAP_NET_RAW`) this is
/// `nil, 'access_denied'`.
pub(crate) fn new_raw(
    lua: &Lua,
    (fam, proto): (Option<String>, mlua::Value),
) -> mlua::Result<MultiValue> {
    let proto = crate::addr::kind::<Protocol>(proto)?.unwrap_or(Protocol::Raw);
    match Raw::new(family(fam)?, proto) {
        Ok(t) => wrap(lua, Rc::new(t)),
        Err(e) => ssoft(lua, e, None),
    }
}

/// `recvnext`'s `flags`: `nil`, a list of names (`'peek'`, `'trunc'`,
/// separated by spaces, commas or `|`) or the C bits `MSG_PEEK` (2) and
/// `MSG_TRUNC` (0x20) as a number.
fn recv_flags(v: mlua::Value) -> mlua::Result<RecvFlags> {
    let mut f = RecvFlags::default();
    match v {
        mlua::Value::Nil => {}
        mlua::Value::String(s) => {
            for name in s.to_str()?.split([' ', ',', '|']).filter(|n| !n.is_empty()) {
                match name {
                    "peek" => f.peek = true,
                    "trunc" => f.trunc = true,
                    other => {
                        return Err(bad(format!(
                            "invalid_argument: unknown recv flag {other:?}"
                        )))
                    }
                }
            }
        }
        mlua::Value::Integer(_) | mlua::Value::Number(_) => {
            let n = match v {
                mlua::Value::Integer(n) => n,
                mlua::Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => n as i64,
                _ => return Err(bad("invalid_argument: recv flags must be an integer")),
            };
            const PEEK: i64 = 0x2;
            const TRUNC: i64 = 0x20;
            if n & !(PEEK | TRUNC) != 0 {
                return Err(bad(format!(
                    "invalid_argument: recv flags {n:#x}: only MSG_PEEK (0x2) and MSG_TRUNC (0x20) are supported"
                )));
            }
            f.peek = n & PEEK != 0;
            f.trunc = n & TRUNC != 0;
        }
        other => {
            return Err(bad(format!(
                "invalid_argument: invalid recv flags {other:?}"
            )))
        }
    }
    Ok(f)
}

/// What the kinds of a Lua program's sockets do differently: the calls
/// that only streams or only datagrams have, and `send`'s result. The
/// rest of a socket's methods are written once over `Socket<K>`.
pub(crate) trait LuaKind: Plain + Sized + 'static {
    /// sock.lua gives a TCP connect's error as the OS text.
    const STREAM: bool;

    /// The TCP socket behind `s`, or a Lua error for a datagram socket.
    fn tcp(_s: &Rc<Socket<Self>>) -> mlua::Result<Rc<Tcp>> {
        Err(bad("not a TCP socket"))
    }

    /// `connect`.
    async fn connect(s: &Socket<Self>, t: Target, exp: Option<f64>) -> sockloop::Result<()>;

    /// `send`'s Lua result.
    async fn send(
        lua: &Lua,
        s: &Socket<Self>,
        data: &[u8],
        exp: Option<f64>,
    ) -> mlua::Result<MultiValue>;

    /// `recv`.
    async fn recv(s: &Socket<Self>, buf: &mut [u8], exp: Option<f64>) -> sockloop::Result<usize>;

    /// `sendto`; a Lua error for a stream socket.
    async fn sendto(
        _s: &Socket<Self>,
        _t: Target,
        _data: &[u8],
        _exp: Option<f64>,
    ) -> mlua::Result<sockloop::Result<usize>> {
        Err(bad("sendto needs a UDP or raw socket"))
    }

    /// `recvnext`; a Lua error for a stream socket.
    async fn recvnext(
        _s: &Socket<Self>,
        _buf: &mut [u8],
        _exp: Option<f64>,
        _flags: RecvFlags,
    ) -> mlua::Result<sockloop::Result<(usize, SockAddr)>> {
        Err(bad("recvnext needs a UDP or raw socket"))
    }
}

impl LuaKind for Stream {
    const STREAM: bool = true;

    fn tcp(s: &Rc<Tcp>) -> mlua::Result<Rc<Tcp>> {
        Ok(s.clone())
    }

    async fn connect(s: &Tcp, t: Target, exp: Option<f64>) -> sockloop::Result<()> {
        with_target!(t, a => s.connect(a, exp).await)
    }

    async fn send(lua: &Lua, s: &Tcp, data: &[u8], exp: Option<f64>) -> mlua::Result<MultiValue> {
        // sock.lua's TCP send always says how much went.
        match s.send(data, exp).await {
            Ok(()) => Ok(MultiValue::from_iter([mlua::Value::Boolean(true)])),
            Err(e) => {
                let n = e.partial().unwrap_or(0) as f64;
                ssoft(lua, e, Some(mlua::Value::Number(n)))
            }
        }
    }

    async fn recv(s: &Tcp, buf: &mut [u8], exp: Option<f64>) -> sockloop::Result<usize> {
        s.recv(buf, exp).await
    }
}

impl<P: Proto + 'static> LuaKind for Dgram<P> {
    const STREAM: bool = false;

    async fn connect(s: &Socket<Self>, t: Target, exp: Option<f64>) -> sockloop::Result<()> {
        with_target!(t, a => s.connect(a, exp).await)
    }

    async fn send(
        lua: &Lua,
        s: &Socket<Self>,
        data: &[u8],
        exp: Option<f64>,
    ) -> mlua::Result<MultiValue> {
        sret(lua, s.send(data, exp).await)
    }

    async fn recv(s: &Socket<Self>, buf: &mut [u8], exp: Option<f64>) -> sockloop::Result<usize> {
        s.recv(buf, exp).await
    }

    async fn sendto(
        s: &Socket<Self>,
        t: Target,
        data: &[u8],
        exp: Option<f64>,
    ) -> mlua::Result<sockloop::Result<usize>> {
        Ok(with_target!(t, a => s.sendto(a, data, exp).await))
    }

    async fn recvnext(
        s: &Socket<Self>,
        buf: &mut [u8],
        exp: Option<f64>,
        flags: RecvFlags,
    ) -> mlua::Result<sockloop::Result<(usize, SockAddr)>> {
        Ok(s.recvnext_flags(buf, exp, flags).await)
    }
}

/// The hints `host, port, af` resolve with: the socket's type and family,
/// and the `af` flags.
fn hints<K: Plain>(s: &Socket<K>, flags: Flags) -> Hints {
    Hints {
        socktype: Some(s.socktype()),
        family: Some(s.family()),
        protocol: None,
        flags,
    }
}

/// `host, port[, af]` as a target: with `af`, a host name is resolved now
/// with those `getaddrinfo` flags (`sock.addr(host, port, type, family,
/// nil, af)`); an `ai`/`sa` passes through.
fn target_af<K: Plain>(s: &Socket<K>, t: Target, af: Option<Flags>) -> sockloop::Result<Target> {
    match (t, af) {
        (Target::HostPort(h, p), Some(flags)) => {
            sockloop::addr_with(&h, p.as_str(), &hints(s, flags)).map(Target::Info)
        }
        (t, _) => Ok(t),
    }
}

/// [`target_af`] with the lookup off the loop.
async fn target_af_async<K: Plain>(
    s: &Socket<K>,
    t: Target,
    af: Option<Flags>,
) -> sockloop::Result<Target> {
    match (t, af) {
        (Target::HostPort(h, p), Some(flags)) => {
            sockloop::addr_async(&h, p.as_str(), &hints(s, flags))
                .await
                .map(Target::Info)
        }
        (t, _) => Ok(t),
    }
}

impl<K: LuaKind> UserData for LuaSock<K> {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("type", |_, s, ()| Ok(s.0.socktype().as_str()));
        m.add_method("family", |_, s, ()| Ok(s.0.family().as_str()));
        m.add_method("protocol", |_, s, ()| Ok(s.0.protocol().as_str()));
        m.add_method("fd", |_, s, ()| {
            let fd = s.0.with_socket(|so| so.as_raw_fd());
            Ok(fd.ok())
        });
        m.add_method("closed", |_, s, ()| Ok(s.0.closed()));
        // Closing a closed socket is `true`, as in sock.lua.
        m.add_method("close", |lua, s, ()| {
            if s.0.closed() {
                return Ok(MultiValue::from_iter([mlua::Value::Boolean(true)]));
            }
            sret(lua, s.0.close().map(|()| true))
        });
        m.add_method(
            "bind",
            |lua, s, (h, p, af): (mlua::Value, mlua::Value, mlua::Value)| {
                let af = crate::addr::af_flags(af)?;
                let t = or_soft!(lua, target_af(&s.0, target(h, p)?, af));
                // sock.lua: `false, err` when bind() itself fails.
                let r = with_target!(t, a => s.0.bind(a));
                let mut out = sret(lua, r.map(|()| true))?;
                if let Some(first @ mlua::Value::Nil) = out.front_mut() {
                    *first = mlua::Value::Boolean(false);
                }
                Ok(out)
            },
        );
        m.add_method(
            "listen",
            |lua, s, (backlog, h, p, af): (Option<f64>, mlua::Value, mlua::Value, mlua::Value)| {
                let af = crate::addr::af_flags(af)?;
                let tcp = K::tcp(&s.0)?;
                let t = or_soft!(lua, target_af(&s.0, target(h, p)?, af));
                let r = match backlog {
                    Some(b) if b.is_finite() && b >= 0.0 => {
                        with_target!(t, a => tcp.listen_backlog(b.min(f64::from(u32::MAX)) as u32, a))
                    }
                    _ => with_target!(t, a => tcp.listen(a)),
                };
                sret(lua, r.map(|()| true))
            },
        );
        // `expires` is accepted and unused: shutdown does not block.
        m.add_method(
            "shutdown",
            |lua, s, (how, _exp): (Option<String>, Option<f64>)| {
                let how = match how.as_deref() {
                    Some("r") => std::net::Shutdown::Read,
                    Some("w") => std::net::Shutdown::Write,
                    Some("rw") | None => std::net::Shutdown::Both,
                    Some(o) => return Err(bad(format!("invalid shutdown mode {o:?}"))),
                };
                // sock.lua returns shutdown()'s 0.
                sret(lua, K::tcp(&s.0)?.shutdown(how).map(|()| 0))
            },
        );
        m.add_method("setopt", |lua, s, (name, v): (String, mlua::Value)| {
            let v = opt_value(v)?;
            // sock.lua returns setsockopt()'s 0.
            sret(lua, s.0.setopt(&name, v).map(|()| 0))
        });
        m.add_method("getopt", |lua, s, name: String| {
            match s.0.getopt(&name) {
                // sock.lua reads SO_ERROR as its OS text ("Success" for 0).
                Ok(OptValue::Int(n)) if name == "error" => {
                    let errno = i32::try_from(n).unwrap_or(i32::MAX);
                    strerror(errno).into_lua_multi(lua)
                }
                Ok(v) => opt_to_lua(lua, v).map(|v| {
                    let mut m = MultiValue::new();
                    m.push_back(v);
                    m
                }),
                Err(e) => ssoft(lua, e, None),
            }
        });
        m.add_method("local_addr", |lua, s, ()| match s.0.local_addr() {
            Ok(sa) => crate::addr::sa_to_lua(lua, &sa).map(|v| MultiValue::from_iter([v])),
            Err(e) => ssoft(lua, e, None),
        });
        m.add_method("remote_addr", |lua, s, ()| match s.0.remote_addr() {
            Ok(sa) => crate::addr::sa_to_lua(lua, &sa).map(|v| MultiValue::from_iter([v])),
            Err(e) => ssoft(lua, e, None),
        });
        crate::wait::add_async_method(
            m,
            "connect",
            |lua, s, (h, p, exp, af): (mlua::Value, mlua::Value, Option<f64>, mlua::Value)| {
                crate::mainthread::io(async move {
                    let af = crate::addr::af_flags(af)?;
                    let exp = expires(exp)?;
                    let s = s.0.clone();
                    let t = or_soft!(&lua, target_af_async(&s, target(h, p)?, af).await);
                    // A TCP connect's error is the OS text in sock.lua.
                    match K::connect(&s, t, exp).await {
                        Ok(()) => Ok(MultiValue::from_iter([mlua::Value::Boolean(true)])),
                        Err(e) => ssoft_with(&lua, e, None, K::STREAM),
                    }
                })
            },
        );
        crate::wait::add_async_method(m, "accept", |lua, s, exp: Option<f64>| {
            crate::mainthread::io(async move {
                let tcp = K::tcp(&s.0)?;
                drop(s);
                // The socket and the peer's address, as sock.lua.
                match tcp.accept(expires(exp)?).await {
                    Ok(c) => {
                        let sa = c.remote_addr().ok();
                        let mut out = wrap(&lua, Rc::new(c))?;
                        if let Some(sa) = sa {
                            out.push_back(crate::addr::sa_to_lua(&lua, &sa)?);
                        }
                        Ok(out)
                    }
                    Err(e) => ssoft(&lua, e, None),
                }
            })
        });
        crate::wait::add_async_method(
            m,
            "send",
            |lua, s, (data, len, cap, exp): (LuaValue, LuaValue, LuaValue, Option<f64>)| {
                let data = Data::new(data, &len, &cap);
                crate::mainthread::io(async move {
                    let s = s.0.clone();
                    send_from(&lua, &s, &data?, expires(exp)?).await
                })
            },
        );
        crate::wait::add_async_method(
            m,
            "recv",
            |lua, s, (addr, maxlen, cap, exp): (LuaValue, LuaValue, LuaValue, Option<f64>)| {
                let buf = CBuf::new(&addr, &maxlen, &cap, "maxlen");
                crate::mainthread::io(async move {
                    let s = s.0.clone();
                    recv_into(&lua, &s, &mut buf?, expires(exp)?).await
                })
            },
        );
        // `n` or `nil, err, partial`, the bytes read into the buffer.
        crate::wait::add_async_method(
            m,
            "recvn",
            |lua, s, (addr, len, cap, exp): (LuaValue, LuaValue, LuaValue, Option<f64>)| {
                let buf = CBuf::new(&addr, &len, &cap, "len");
                crate::mainthread::io(async move {
                    let t = K::tcp(&s.0)?;
                    drop(s);
                    let exp = expires(exp)?;
                    let mut buf = buf?;
                    sret(&lua, t.recvn(buf.as_mut_slice(), exp).await)
                })
            },
        );
        crate::wait::add_async_method(m, "recvall", |lua, s, exp: Option<f64>| {
            crate::mainthread::io(async move {
                let t = K::tcp(&s.0)?;
                drop(s);
                match t.recvall(expires(exp)?).await {
                    Ok(v) => sret(&lua, Ok(lua.create_string(&v)?)),
                    Err(mut e) => {
                        let p = e.take_data().unwrap_or_default();
                        let p = lua.create_string(&p)?;
                        ssoft(&lua, e, Some(mlua::Value::String(p)))
                    }
                }
            })
        });
        crate::wait::add_async_method(
            m,
            "sendto",
            |lua, s, (h, p, data, len, cap, exp, af): SendtoArgs| {
                let data = Data::new(data, &len, &cap);
                crate::mainthread::io(async move {
                    let s = s.0.clone();
                    let af = crate::addr::af_flags(af)?;
                    let exp = expires(exp)?;
                    let data = data?;
                    let t = or_soft!(&lua, target_af_async(&s, target(h, p)?, af).await);
                    let r = K::sendto(&s, t, data.bytes(), exp).await?;
                    sret(&lua, r)
                })
            },
        );
        // `n, sa`: `n` is the datagram's length, which exceeds `maxlen`
        // for a truncated datagram read with `trunc` (only `maxlen` bytes
        // are stored).
        crate::wait::add_async_method(
            m,
            "recvnext",
            |lua,
             s,
             (addr, maxlen, cap, exp, flags): (
                LuaValue,
                LuaValue,
                LuaValue,
                Option<f64>,
                LuaValue,
            )| {
                let buf = CBuf::new(&addr, &maxlen, &cap, "maxlen");
                crate::mainthread::io(async move {
                    let s = s.0.clone();
                    let flags = recv_flags(flags)?;
                    let exp = expires(exp)?;
                    let mut buf = buf?;
                    match K::recvnext(&s, buf.as_mut_slice(), exp, flags).await? {
                        Ok((n, sa)) => (n, crate::addr::sa_to_lua(&lua, &sa)?).into_lua_multi(&lua),
                        Err(e) => ssoft(&lua, e, None),
                    }
                })
            },
        );
    }
}

/// `sendto`'s arguments: `host, port, data, len, cap, expires, af`.
type SendtoArgs = (
    LuaValue,
    LuaValue,
    LuaValue,
    LuaValue,
    LuaValue,
    Option<f64>,
    LuaValue,
);

/// What `send`/`sendto` send: a Lua string (its first `len` bytes), read
/// in place, or an FFI buffer ([`CBuf`]).
pub(crate) enum Data {
    Str(mlua::BorrowedBytes, usize),
    Buf(CBuf),
}

impl Data {
    /// `data, len, cap` from the Lua half: a string with an optional
    /// length, or a buffer's address, length and capacity.
    pub(crate) fn new(data: LuaValue, len: &LuaValue, cap: &LuaValue) -> mlua::Result<Data> {
        match data {
            LuaValue::String(s) => {
                let b = s.as_bytes();
                let n = match len {
                    LuaValue::Nil => b.len(),
                    LuaValue::Integer(n) => usize::try_from(*n).unwrap_or(usize::MAX),
                    LuaValue::Number(n) if n.fract() == 0.0 && *n >= 0.0 => *n as usize,
                    _ => usize::MAX,
                };
                if n > b.len() {
                    return Err(bad("len out of range"));
                }
                Ok(Data::Str(b, n))
            }
            addr => Ok(Data::Buf(CBuf::new(&addr, len, cap, "len")?)),
        }
    }

    /// The bytes to send.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Data::Str(b, n) => &b[..*n],
            Data::Buf(c) => c.as_slice(),
        }
    }
}

/// `recv`'s Lua result: the count read into `buf`, or `nil, err`.
pub(crate) async fn recv_into<K: LuaKind>(
    lua: &Lua,
    s: &Socket<K>,
    buf: &mut CBuf,
    exp: Option<f64>,
) -> mlua::Result<MultiValue> {
    match K::recv(s, buf.as_mut_slice(), exp).await {
        Ok(n) => Ok(MultiValue::from_iter([LuaValue::Integer(n as i64)])),
        Err(e) => ssoft(lua, e, None),
    }
}

/// `send`'s Lua result.
pub(crate) async fn send_from<K: LuaKind>(
    lua: &Lua,
    s: &Socket<K>,
    data: &Data,
    exp: Option<f64>,
) -> mlua::Result<MultiValue> {
    K::send(lua, s, data.bytes(), exp).await
}

/// The [`Tcp`] behind a Lua socket object (a table made by `sock.tcp()`
/// or `accept()`), to use it from Rust; the Lua side keeps using it too.
///
/// # Errors
///
/// A Lua error when `v` is not a Lua TCP socket.
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let s: mlua::Value = lua.load("return require'sock'.tcp()").eval().unwrap();
/// let tcp = sockloop_lua::tcp_of(&s).unwrap();
/// assert_eq!(tcp.socktype().as_str(), "tcp");
/// ```
pub fn tcp_of(v: &mlua::Value) -> mlua::Result<Rc<Tcp>> {
    sock_of::<Stream>(v, "not a TCP socket")
}

/// The [`Udp`] behind a Lua socket object (see [`tcp_of`]).
///
/// # Errors
///
/// A Lua error when `v` is not a Lua UDP socket.
///
/// # Examples
///
/// ```
/// let lua = sockloop_lua::new_lua().unwrap();
/// let s: mlua::Value = lua.load("return require'sock'.udp()").eval().unwrap();
/// assert_eq!(sockloop_lua::udp_of(&s).unwrap().socktype().as_str(), "udp");
/// ```
pub fn udp_of(v: &mlua::Value) -> mlua::Result<Rc<Udp>> {
    sock_of::<Dgram<kind::Udp>>(v, "not a UDP socket")
}

/// The `Socket<K>` behind a Lua socket object; `not_this` (a Lua error)
/// when it is a socket of another kind.
pub(crate) fn sock_of<K: LuaKind>(v: &mlua::Value, not_this: &str) -> mlua::Result<Rc<Socket<K>>> {
    let ud = match v {
        mlua::Value::Table(t) => t.raw_get::<mlua::AnyUserData>("_h")?,
        mlua::Value::UserData(ud) => ud.clone(),
        _ => return Err(bad("not a socket")),
    };
    let other_kind = ud.is::<LuaSock<Stream>>()
        || ud.is::<LuaSock<Dgram<kind::Udp>>>()
        || ud.is::<LuaSock<Dgram<kind::Raw>>>();
    match ud.borrow::<LuaSock<K>>() {
        Ok(s) => Ok(s.0.clone()),
        Err(_) if other_kind => Err(bad(not_this)),
        Err(e) => Err(e),
    }
}
