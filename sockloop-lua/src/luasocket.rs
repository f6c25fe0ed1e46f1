//! `require'socket'`: LuaSocket 3.1's TCP and UDP objects and the Rust
//! half of its `socket` namespace, over [`sockloop::luasocket`] and
//! [`sockloop::socketloop::ASocket`]. socketloop's async sockets are the
//! same TCP objects.
//!
//! The objects are userdata, as LuaSocket's, whose methods live in Lua
//! (`objects.lua`): each calls a Rust function of this module and turns
//! its "raise" answer into a Lua error with LuaSocket's message (a
//! string), so argument errors are plain strings, and the `class` field
//! follows the object's state (`tcp{master}`, `tcp{client}`,
//! `tcp{server}`, `udp{unconnected}`, `udp{connected}`).
//!
//! What a program sees is LuaSocket's: `1` or a value on success,
//! `nil, err[, partial]` on failure, `err` in LuaSocket's words
//! ([`sockloop::Error::luasocket_str`]), no line-length limit, `-1` from
//! `getfd()` once closed, `settimeout(t, mode)` with block and total
//! times, `socket.tcp()`/`socket.udp()` whose family (and descriptor) come
//! with the first `bind`/`connect`.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Poll;

use mlua::{
    AnyUserData, Function, IntoLuaMulti, Lua, LuaString, MultiValue, ObjectLike, Table, UserData,
    UserDataFields, UserDataMethods, Value as LV,
};
use sockloop::luasocket::{self, dns, Pattern, UdpObject};
use sockloop::socketloop::ASocket;
use sockloop::{Error, ErrorKind, Family, Flags, Hints, OptValue, RecvFlags, SockType, Tcp, Udp};

use crate::socket::{in_thread, is_user_error, opt_value};

/// `socket._SETSIZE`: the most sockets one `select` table may hold (the
/// `FD_SETSIZE` LuaSocket reports on Linux; sockloop itself has no limit).
pub(crate) const SETSIZE: usize = 1024;

/// The registry keys of the `__index` functions `objects.lua` makes.
const TCP_INDEX_KEY: &str = "sockloop_lua.luasocket.tcp_index";
const UDP_INDEX_KEY: &str = "sockloop_lua.luasocket.udp_index";

/// The first value of a Rust answer that asks the Lua wrapper to raise
/// the second (a string): LuaSocket raises argument errors as strings.
static RAISE_TAG: u8 = 0;

fn raise_tag() -> LV {
    LV::LightUserData(mlua::LightUserData(
        std::ptr::addr_of!(RAISE_TAG) as *mut std::ffi::c_void
    ))
}

/// Makes the Lua wrapper raise `msg` (LuaSocket's argument errors).
fn raise(lua: &Lua, msg: impl AsRef<str>) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_iter([
        raise_tag(),
        LV::String(lua.create_string(msg.as_ref())?),
    ]))
}

/// LuaSocket's `bad argument` text; `n` counts the arguments after `self`
/// as a method call does.
fn bad_arg(n: usize, method: &str, msg: impl std::fmt::Display) -> String {
    format!("bad argument #{n} to '{method}' ({msg})")
}

/// LuaSocket's text for a method called on an object of the wrong class.
fn bad_self(method: &str, want: &str, got: &str) -> String {
    format!("calling '{method}' on bad self ({want} expected, got {got})")
}

/// `nil, err[, partial]` with LuaSocket's words; a user error raises.
pub(crate) fn fail(lua: &Lua, e: &Error, partial: Option<LV>) -> mlua::Result<MultiValue> {
    if is_user_error(e) {
        return raise(lua, e.to_string());
    }
    let mut m = MultiValue::new();
    m.push_back(LV::Nil);
    m.push_back(LV::String(lua.create_string(&*e.luasocket_str())?));
    if let Some(p) = partial {
        m.push_back(p);
    }
    Ok(m)
}

/// `v` or `nil, err`.
pub(crate) fn answer<T: IntoLuaMulti>(
    lua: &Lua,
    r: sockloop::Result<T>,
) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => v.into_lua_multi(lua),
        Err(e) => fail(lua, &e, None),
    }
}

/// `1` or `nil, err`.
fn one(lua: &Lua, r: sockloop::Result<()>) -> mlua::Result<MultiValue> {
    answer(lua, r.map(|()| 1))
}

/// `ip, port, family` (LuaSocket's `getsockname`/`getpeername`); on an
/// object without a socket, the OS text of `EBADF`, as LuaSocket's call
/// on its invalid descriptor gives.
fn name3(lua: &Lua, r: sockloop::Result<(String, u16, Family)>) -> mlua::Result<MultiValue> {
    match r {
        Err(e) if e.kind() == ErrorKind::Closed => {
            let ebadf = std::io::Error::from_raw_os_error(9).to_string();
            let text = ebadf.split(" (os error").next().unwrap_or_default();
            (LV::Nil, text).into_lua_multi(lua)
        }
        r => answer(lua, r.map(|(ip, port, f)| (ip, port, f.as_str()))),
    }
}

/// A string argument as LuaSocket's `luaL_checkstring` takes it (a number
/// is turned into its text).
fn lua_text(v: &LV) -> Option<String> {
    match v {
        LV::String(s) => Some(s.to_string_lossy()),
        LV::Integer(n) => Some(n.to_string()),
        LV::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some((*n as i64).to_string()),
        LV::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number argument as `luaL_optnumber` takes it (numeric strings too).
fn lua_number(v: &LV) -> Option<f64> {
    match v {
        LV::Integer(n) => Some(*n as f64),
        LV::Number(n) => Some(*n),
        LV::String(s) => s.to_str().ok()?.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A port argument: a decimal number 0..=65535 (numbers or strings).
fn port_of(v: &LV) -> Option<u16> {
    let n = lua_number(v)?;
    (n.fract() == 0.0 && (0.0..=65535.0).contains(&n)).then_some(n as u16)
}

/// LuaSocket's block and total times of an object (`-1`, or any
/// negative: none).
pub(crate) struct Timeouts {
    block: Cell<f64>,
    total: Cell<f64>,
}

impl Timeouts {
    fn new() -> Timeouts {
        Timeouts {
            block: Cell::new(-1.0),
            total: Cell::new(-1.0),
        }
    }

    /// The wait limit of a call: the smaller time, from the call's start.
    fn limit(&self) -> Option<f64> {
        let (block, total) = (self.block.get(), self.total.get());
        match (block >= 0.0, total >= 0.0) {
            (false, false) => None,
            (true, false) => Some(block),
            (false, true) => Some(total),
            (true, true) => Some(block.min(total)),
        }
    }

    /// `settimeout(t, mode)`, as LuaSocket reads it: `t` (nil: -1) and the
    /// first letter of `mode`, `b` (block, the default) or `t`/`r`
    /// (total). The new limit, or the error to raise.
    fn set(&self, t: &LV, mode: &LV) -> Result<Option<f64>, String> {
        let secs = match t {
            LV::Nil => -1.0,
            v => lua_number(v).ok_or_else(|| bad_arg(1, "settimeout", "number expected"))?,
        };
        let slot = match mode {
            LV::Nil => &self.block,
            v => match lua_text(v).and_then(|m| m.bytes().next()) {
                Some(b'b') => &self.block,
                Some(b't' | b'r') => &self.total,
                _ => return Err(bad_arg(2, "settimeout", "invalid timeout mode")),
            },
        };
        slot.set(secs);
        Ok(self.limit())
    }
}

/// A `socket.tcp()`/`socket.udp()` family not chosen yet is `None`.
fn family_word(f: Option<Family>) -> &'static str {
    match f {
        Some(Family::Inet6) => "inet6",
        _ => "inet4",
    }
}

/// A new IP socket of `family` as LuaSocket makes it (IPv6 only for IPv6).
fn new_tcp(family: Family) -> sockloop::Result<Tcp> {
    let t = Tcp::new(family)?;
    if family == Family::Inet6 {
        t.setopt("ipv6_v6only", true)?;
    }
    Ok(t)
}

/// A duplicate of descriptor `fd` if it is a socket of type `ty` (what
/// `setfd` adopts; the original stays with whoever owns it).
fn adopt_fd(fd: RawFd, ty: socket2::Type) -> Option<socket2::Socket> {
    let owned = crate::edge::dup_socket_fd(fd).ok()?;
    let s = socket2::Socket::from(owned);
    (s.r#type().ok()? == ty).then_some(s)
}

/// The option names LuaSocket knows, as the core spells them; other
/// names pass through with `-` turned into `_` (sock.lua's names).
fn core_option(name: &str) -> String {
    match name {
        "recv-buffer-size" => "rcvbuf".to_string(),
        "send-buffer-size" => "sndbuf".to_string(),
        n => n.replace('-', "_"),
    }
}

/// Every option name LuaSocket 3.1 has (TCP and UDP, get or set): a name
/// sockloop's option table lacks (`bindtodevice`, `tcp-fastopen`, ...)
/// fails as a failed `setsockopt` would, any other unknown name raises.
const LUASOCKET_OPTIONS: &[&str] = &[
    "bindtodevice",
    "broadcast",
    "dontroute",
    "error",
    "ip-add-membership",
    "ip-drop-membership",
    "ip-multicast-if",
    "ip-multicast-loop",
    "ip-multicast-ttl",
    "ipv6-add-membership",
    "ipv6-drop-membership",
    "ipv6-multicast-hops",
    "ipv6-multicast-loop",
    "ipv6-unicast-hops",
    "ipv6-v6only",
    "keepalive",
    "linger",
    "recv-buffer-size",
    "reuseaddr",
    "reuseport",
    "send-buffer-size",
    "tcp-defer-accept",
    "tcp-fastopen",
    "tcp-fastopen-connect",
    "tcp-keepcnt",
    "tcp-keepidle",
    "tcp-keepintvl",
    "tcp-nodelay",
];

/// `setoption`'s value: LuaSocket's `linger` table `{on =, timeout =}`,
/// or a boolean/number/string.
fn option_value(name: &str, v: LV) -> Result<OptValue, String> {
    if name == "linger" {
        let LV::Table(t) = v else {
            return Err(bad_arg(2, "setoption", "table expected"));
        };
        let on = match t.get::<LV>("on") {
            Ok(LV::Boolean(b)) => b,
            _ => return Err(bad_arg(2, "setoption", "boolean 'on' field expected")),
        };
        let secs = match t.get::<LV>("timeout").ok().as_ref().and_then(lua_number) {
            Some(n) => n,
            None => return Err(bad_arg(2, "setoption", "number 'timeout' field expected")),
        };
        if !on {
            return Ok(OptValue::Bool(false));
        }
        // LuaSocket stores a u_short.
        return Ok(OptValue::Int(secs.clamp(0.0, 65535.0) as i64));
    }
    opt_value(v).map_err(|e| bad_arg(2, "setoption", e))
}

/// `getoption`'s value for Lua: `linger` as `{on =, timeout =}`, `error`
/// as the OS text (nil for none), numbers and booleans as they are.
fn option_to_lua(lua: &Lua, name: &str, v: OptValue) -> mlua::Result<LV> {
    match (name, v) {
        ("linger", OptValue::Bool(_)) => linger_table(lua, false, 0),
        ("linger", OptValue::Duration(d)) => linger_table(lua, true, d.as_secs()),
        ("linger", OptValue::Int(n)) => linger_table(lua, true, n.unsigned_abs()),
        ("error", OptValue::Int(0)) => Ok(LV::Nil),
        ("error", OptValue::Int(n)) => {
            let e = Error::from_os(i32::try_from(n).unwrap_or(i32::MAX));
            lua.create_string(&*e.luasocket_str()).map(LV::String)
        }
        (_, v) => crate::socket::opt_to_lua(lua, v),
    }
}

fn linger_table(lua: &Lua, on: bool, secs: u64) -> mlua::Result<LV> {
    let t = lua.create_table()?;
    t.set("on", on)?;
    t.set("timeout", secs)?;
    Ok(LV::Table(t))
}

/// `setoption`: `1`, `nil, err`, or a raise for an option LuaSocket does
/// not have.
fn set_option(
    lua: &Lua,
    name: &str,
    v: LV,
    set: impl FnOnce(&str, OptValue) -> sockloop::Result<()>,
) -> mlua::Result<MultiValue> {
    let value = match option_value(name, v) {
        Ok(v) => v,
        Err(msg) => return raise(lua, msg),
    };
    match set(&core_option(name), value) {
        Ok(()) => 1.into_lua_multi(lua),
        Err(e) if e.kind() == ErrorKind::UnknownOption && !LUASOCKET_OPTIONS.contains(&name) => {
            raise(
                lua,
                bad_arg(1, "setoption", format!("unsupported option `{name}'")),
            )
        }
        Err(e) if is_user_error(&e) && e.kind() != ErrorKind::UnknownOption => {
            raise(lua, bad_arg(2, "setoption", e))
        }
        // LuaSocket's words for any failure of the call itself.
        Err(_) => (LV::Nil, "setsockopt failed").into_lua_multi(lua),
    }
}

/// `getoption`: the value, `nil, err`, or a raise for an unknown option.
fn get_option(
    lua: &Lua,
    name: &str,
    get: impl FnOnce(&str) -> sockloop::Result<OptValue>,
) -> mlua::Result<MultiValue> {
    match get(&core_option(name)) {
        Ok(v) => option_to_lua(lua, name, v).map(|v| MultiValue::from_iter([v])),
        Err(e) if e.kind() == ErrorKind::UnknownOption && !LUASOCKET_OPTIONS.contains(&name) => {
            raise(
                lua,
                bad_arg(1, "getoption", format!("unsupported option `{name}'")),
            )
        }
        Err(e) if is_user_error(&e) && e.kind() != ErrorKind::UnknownOption => {
            raise(lua, bad_arg(1, "getoption", e))
        }
        Err(_) => (LV::Nil, "getsockopt failed").into_lua_multi(lua),
    }
}

/// The multicast options sockloop's option table does not have, set on
/// the socket itself: `ip-add-membership`/`ip-drop-membership` and the
/// IPv6 ones (`{multiaddr =, interface =}`), `ip-multicast-if`.
fn multicast_option(s: &socket2::Socket, name: &str, v: &LV) -> Option<Result<(), String>> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let text = |t: &Table, k: &str| t.get::<Option<String>>(k).ok().flatten();
    let v4 = |a: &str| -> Result<Ipv4Addr, String> {
        if a == "*" {
            return Ok(Ipv4Addr::UNSPECIFIED);
        }
        a.parse()
            .map_err(|_| bad_arg(2, "setoption", "ip expected"))
    };
    let io = |r: std::io::Result<()>| r.map_err(|_| "setsockopt failed".to_string());
    Some(match (name, v) {
        ("ip-multicast-if", v) => match lua_text(v) {
            Some(a) => v4(&a).and_then(|ip| io(s.set_multicast_if_v4(&ip))),
            None => Err(bad_arg(2, "setoption", "string expected")),
        },
        ("ip-add-membership" | "ip-drop-membership", LV::Table(t)) => {
            let (Some(m), Some(i)) = (text(t, "multiaddr"), text(t, "interface")) else {
                return Some(Err(bad_arg(
                    2,
                    "setoption",
                    "string 'multiaddr' field expected",
                )));
            };
            v4(&m).and_then(|m| {
                let i = v4(&i)?;
                io(if name == "ip-add-membership" {
                    s.join_multicast_v4(&m, &i)
                } else {
                    s.leave_multicast_v4(&m, &i)
                })
            })
        }
        ("ipv6-add-membership" | "ipv6-drop-membership", LV::Table(t)) => {
            let Some(m) = text(t, "multiaddr").and_then(|m| m.parse::<Ipv6Addr>().ok()) else {
                return Some(Err(bad_arg(
                    2,
                    "setoption",
                    "string 'multiaddr' field expected",
                )));
            };
            let i = t
                .get::<Option<u32>>("interface")
                .ok()
                .flatten()
                .unwrap_or(0);
            io(if name == "ipv6-add-membership" {
                s.join_multicast_v6(&m, i)
            } else {
                s.leave_multicast_v6(&m, i)
            })
        }
        (
            "ip-add-membership"
            | "ip-drop-membership"
            | "ipv6-add-membership"
            | "ipv6-drop-membership",
            _,
        ) => Err(bad_arg(2, "setoption", "table expected")),
        _ => return None,
    })
}

// ===== TCP =====

/// LuaSocket's TCP classes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TcpClass {
    Master,
    Client,
    Server,
}

impl TcpClass {
    fn as_str(self) -> &'static str {
        match self {
            TcpClass::Master => "tcp{master}",
            TcpClass::Client => "tcp{client}",
            TcpClass::Server => "tcp{server}",
        }
    }

    /// The class of a socket made elsewhere (socketloop's `wrap`, Rust).
    fn of(a: &ASocket) -> TcpClass {
        if a.getpeername().is_ok() {
            TcpClass::Client
        } else if a.getoption("acceptconn").ok().and_then(|v| v.as_bool()) == Some(true) {
            TcpClass::Server
        } else {
            TcpClass::Master
        }
    }
}

/// A LuaSocket TCP object's state: the [`ASocket`] (replaced whole by
/// `bind`/`connect` of an object with no socket yet, `setfd` and
/// socketloop's `setsocket`, so a call in progress keeps the one it
/// started on), the family (`None`: `socket.tcp()` before its first
/// `bind`/`connect`), the class, LuaSocket's block and total times, and
/// whether socketloop made it (its `connect` answers `true`, as
/// socketloop's does).
pub(crate) struct TcpObj {
    a: RefCell<Rc<ASocket>>,
    family: Cell<Option<Family>>,
    class: Cell<TcpClass>,
    times: Timeouts,
    socketloop: Cell<bool>,
}

/// A LuaSocket TCP object (also socketloop's async socket).
pub(crate) struct LuaASocket(pub(crate) Rc<TcpObj>);

impl LuaASocket {
    /// Wraps a socket made elsewhere (its class read from its state).
    pub(crate) fn new(a: ASocket) -> LuaASocket {
        let class = TcpClass::of(&a);
        LuaASocket::with_class(a, class)
    }

    fn with_class(a: ASocket, class: TcpClass) -> LuaASocket {
        LuaASocket::shared(Rc::new(a), class)
    }

    fn shared(a: Rc<ASocket>, class: TcpClass) -> LuaASocket {
        let family = a.getsocket().family();
        no_line_limit(&a);
        LuaASocket(Rc::new(TcpObj {
            a: RefCell::new(a),
            family: Cell::new(Some(family)),
            class: Cell::new(class),
            times: Timeouts::new(),
            socketloop: Cell::new(false),
        }))
    }

    /// [`new`](LuaASocket::new) for socketloop's async sockets.
    pub(crate) fn looped(a: ASocket) -> LuaASocket {
        let o = LuaASocket::new(a);
        o.0.socketloop.set(true);
        o
    }

    /// `socket.tcp()`: no socket (nor family) until the first `bind` or
    /// `connect`; until then it behaves as a closed socket (`getfd()` is
    /// -1), as LuaSocket 3.1's.
    fn unspec() -> sockloop::Result<LuaASocket> {
        let placeholder = Tcp::new(Family::Inet)?;
        placeholder.close()?;
        let o = LuaASocket::with_class(ASocket::new(placeholder), TcpClass::Master);
        o.0.family.set(None);
        Ok(o)
    }

    /// The current socket.
    pub(crate) fn get(&self) -> Rc<ASocket> {
        self.0.get()
    }
}

/// LuaSocket reads lines of any length.
fn no_line_limit(a: &ASocket) {
    a.set_line_limit(usize::MAX);
}

impl TcpObj {
    pub(crate) fn get(&self) -> Rc<ASocket> {
        self.a.borrow().clone()
    }

    fn apply_timeout(&self, a: &ASocket) {
        a.settimeout(self.times.limit());
    }

    /// Puts `tcp` in place of the current socket; the counters of
    /// `getstats` carry over, as LuaSocket's buffer stays with the object.
    pub(crate) fn replace(&self, tcp: Rc<Tcp>) {
        let old = self.get();
        let new = ASocket::from_rc(tcp);
        let (r, s, age) = old.getstats();
        new.setstats(Some(r), Some(s), Some(age));
        no_line_limit(&new);
        self.apply_timeout(&new);
        self.family.set(Some(new.getsocket().family()));
        *self.a.borrow_mut() = Rc::new(new);
    }

    /// The socket to use for an address of `family`: the current one if
    /// it is open and of that family, else a new one (LuaSocket's
    /// `inet_trycreate` on a family change or an invalid socket).
    fn socket_for(&self, family: Family) -> sockloop::Result<Rc<Tcp>> {
        let cur = self.get().getsocket();
        if !cur.closed() && self.family.get() == Some(family) {
            return Ok(cur);
        }
        Ok(Rc::new(new_tcp(family)?))
    }

    fn fd(&self) -> RawFd {
        self.get()
            .getsocket()
            .with_socket(|s| s.as_raw_fd())
            .unwrap_or(luasocket::SOCKETINVALID)
    }

    fn hints(&self, passive: bool) -> Hints {
        Hints {
            socktype: Some(SockType::Tcp),
            family: self.family.get(),
            protocol: None,
            flags: Flags {
                passive,
                ..Flags::default()
            },
        }
    }

    /// `bind(address, port)`: tries the addresses `address` resolves to
    /// until one binds (LuaSocket's `inet_trybind`).
    fn bind(&self, host: &str, port: u16) -> sockloop::Result<()> {
        let ai = sockloop::addr_with(host, port, &self.hints(true))?;
        let mut last = Error::with_message(ErrorKind::InvalidAddress, "no info on address");
        for entry in ai.iter() {
            let t = match self.socket_for(entry.family()) {
                Ok(t) => t,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match t.bind(entry.addr()) {
                Ok(()) => {
                    if !Rc::ptr_eq(&t, &self.get().getsocket()) {
                        self.replace(t);
                    }
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `connect(address, port)`: tries each address until one connects, or
    /// stops at the first when the timeout is zero (the attempt goes on:
    /// a later `connect` reports `"already connected"`), as LuaSocket's
    /// `inet_tryconnect`.
    async fn connect(&self, host: &str, port: u16) -> sockloop::Result<()> {
        let ai = sockloop::addr_async(host, port, &self.hints(false)).await?;
        let zero = self.times.limit() == Some(0.0);
        let mut last = Error::with_message(ErrorKind::InvalidAddress, "no info on address");
        for entry in ai.iter() {
            let t = match self.socket_for(entry.family()) {
                Ok(t) => t,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            if !Rc::ptr_eq(&t, &self.get().getsocket()) {
                self.replace(t);
            }
            let a = self.get();
            match a.connect(entry.addr()).await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Cancelled || zero => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The TCP object of a method's `self`.
fn tcp_obj(ud: &AnyUserData) -> mlua::Result<Rc<TcpObj>> {
    Ok(ud.borrow::<LuaASocket>()?.0.clone())
}

/// The class check LuaSocket makes before a method runs.
fn tcp_class_is(o: &TcpObj, method: &str, want: TcpClass) -> Result<(), String> {
    let got = o.class.get();
    if got == want {
        return Ok(());
    }
    Err(bad_self(method, want.as_str(), got.as_str()))
}

/// A `receive` pattern: `"*l"` (also `nil`), `"*a"`, or a count (a number
/// or a numeric string, truncated as LuaSocket does).
fn receive_pattern(v: &LV) -> Option<Pattern> {
    if let LV::Nil = v {
        return Some(Pattern::Line);
    }
    if let Some(n) = lua_number(v) {
        return (n >= 0.0).then(|| Pattern::Bytes(n.min(9.0e15) as usize));
    }
    let LV::String(s) = v else { return None };
    let b = s.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'*'), Some(b'l')) => Some(Pattern::Line),
        (Some(b'*'), Some(b'a')) => Some(Pattern::All),
        _ => None,
    }
}

/// `receive(0)` with no prefix: LuaSocket waits until bytes are buffered
/// or can be read (leaving them), then returns `""`; the peer's close or
/// this side's is `"closed"`.
async fn receive_nothing(a: &ASocket) -> sockloop::Result<()> {
    if a.buffered() > 0 {
        return Ok(());
    }
    let tcp = a.getsocket();
    let expires = a.gettimeout().map(|t| sockloop::clock() + t);
    loop {
        tcp.readable(expires).await?;
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match tcp.with_socket(|s| s.peek(&mut probe))? {
            Ok(0) => return Err(Error::new(ErrorKind::Closed)),
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// `tcp:receive(pattern, prefix)`: always three values (`data, nil, nil`
/// or `nil, err, partial`), as LuaSocket.
async fn tcp_receive(
    lua: Lua,
    (ud, pattern, prefix): (AnyUserData, LV, LV),
) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    drop(ud);
    if let Err(msg) = tcp_class_is(&o, "receive", TcpClass::Client) {
        return raise(&lua, msg);
    }
    let Some(pattern) = receive_pattern(&pattern) else {
        return raise(&lua, bad_arg(1, "receive", "invalid receive pattern"));
    };
    let prefix = match &prefix {
        LV::Nil => Vec::new(),
        LV::String(s) => s.as_bytes().to_vec(),
        v => match lua_text(v) {
            Some(t) => t.into_bytes(),
            None => return raise(&lua, bad_arg(2, "receive", "string expected")),
        },
    };
    in_thread()?;
    let a = o.get();
    let r = match pattern {
        // LuaSocket returns a prefix that is already long enough.
        Pattern::Bytes(n) if !prefix.is_empty() && n <= prefix.len() => Ok(prefix.clone()),
        Pattern::Bytes(0) => receive_nothing(&a)
            .await
            .map(|()| Vec::new())
            .map_err(|e| e.with_data(Vec::new())),
        Pattern::All => match a.receive_prefixed(Pattern::All, &prefix).await {
            // Nothing before the close: LuaSocket 3's "closed".
            Ok(v) if v.len() == prefix.len() => Err(Error::new(ErrorKind::Closed).with_data(v)),
            r => r,
        },
        p => a.receive_prefixed(p, &prefix).await,
    };
    match r {
        Ok(v) => (lua.create_string(&v)?, LV::Nil, LV::Nil).into_lua_multi(&lua),
        Err(mut e) => {
            let partial = e.take_data().unwrap_or_default();
            let partial = LV::String(lua.create_string(&partial)?);
            fail(&lua, &e, Some(partial))
        }
    }
}

/// `tcp:send(data, i, j)`: three values, `last, nil, nil` or
/// `nil, err, last`.
async fn tcp_send(
    lua: Lua,
    (ud, data, i, j): (AnyUserData, LV, LV, LV),
) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    drop(ud);
    if let Err(msg) = tcp_class_is(&o, "send", TcpClass::Client) {
        return raise(&lua, msg);
    }
    let data = match &data {
        LV::String(s) => s.as_bytes().to_vec(),
        v => match lua_text(v) {
            Some(t) => t.into_bytes(),
            None => return raise(&lua, bad_arg(1, "send", "string expected")),
        },
    };
    let index = |v: &LV, default: i64| match v {
        LV::Nil => Some(default),
        v => lua_number(v).map(|n| n.clamp(-9.0e15, 9.0e15) as i64),
    };
    let (Some(i), Some(j)) = (index(&i, 1), index(&j, -1)) else {
        return raise(&lua, bad_arg(2, "send", "number expected"));
    };
    in_thread()?;
    let a = o.get();
    match a.send_range(&data, i, j).await {
        Ok(n) => (n, LV::Nil, LV::Nil).into_lua_multi(&lua),
        Err(e) => {
            let n = e.partial().unwrap_or(0);
            fail(&lua, &e, Some(LV::Number(n as f64)))
        }
    }
}

async fn tcp_accept(lua: Lua, ud: AnyUserData) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    drop(ud);
    if let Err(msg) = tcp_class_is(&o, "accept", TcpClass::Server) {
        return raise(&lua, msg);
    }
    in_thread()?;
    match o.get().accept().await {
        Ok(c) => {
            let c = LuaASocket::with_class(c, TcpClass::Client);
            c.0.socketloop.set(o.socketloop.get());
            c.into_lua_multi(&lua)
        }
        Err(e) => fail(&lua, &e, None),
    }
}

async fn tcp_connect(
    lua: Lua,
    (ud, host, port): (AnyUserData, LV, LV),
) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    drop(ud);
    let Some(host) = lua_text(&host) else {
        return raise(&lua, bad_arg(1, "connect", "string expected"));
    };
    let Some(port) = port_of(&port) else {
        return raise(&lua, bad_arg(2, "connect", "port expected"));
    };
    in_thread()?;
    let r = o.connect(&host, port).await;
    // LuaSocket sets the class even when the connect failed (a
    // non-blocking connect goes on).
    o.class.set(TcpClass::Client);
    // socketloop's connect answers `true`, LuaSocket's `1`.
    if o.socketloop.get() {
        return answer(&lua, r.map(|()| true));
    }
    one(&lua, r)
}

fn tcp_bind(lua: &Lua, (ud, host, port): (AnyUserData, LV, LV)) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    if let Err(msg) = tcp_class_is(&o, "bind", TcpClass::Master) {
        return raise(lua, msg);
    }
    let Some(host) = lua_text(&host) else {
        return raise(lua, bad_arg(1, "bind", "string expected"));
    };
    let Some(port) = port_of(&port) else {
        return raise(lua, bad_arg(2, "bind", "port expected"));
    };
    one(lua, o.bind(&host, port))
}

fn tcp_listen(lua: &Lua, (ud, backlog): (AnyUserData, LV)) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    if let Err(msg) = tcp_class_is(&o, "listen", TcpClass::Master) {
        return raise(lua, msg);
    }
    let backlog = match &backlog {
        LV::Nil => luasocket::DEFAULT_BACKLOG,
        v => match lua_number(v) {
            Some(n) => n.clamp(0.0, f64::from(u32::MAX)) as u32,
            None => return raise(lua, bad_arg(1, "listen", "number expected")),
        },
    };
    let a = o.get();
    // An object with no socket yet has nothing to listen on.
    if a.closed() {
        return fail(lua, &Error::new(ErrorKind::Closed), None);
    }
    let r = a.listen(backlog);
    if r.is_ok() {
        o.class.set(TcpClass::Server);
    }
    one(lua, r)
}

fn tcp_shutdown(lua: &Lua, (ud, how): (AnyUserData, LV)) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    if let Err(msg) = tcp_class_is(&o, "shutdown", TcpClass::Client) {
        return raise(lua, msg);
    }
    let how = match lua_text(&how).as_deref() {
        None if matches!(how, LV::Nil) => std::net::Shutdown::Both,
        Some("both") => std::net::Shutdown::Both,
        Some("send") => std::net::Shutdown::Write,
        Some("receive") => std::net::Shutdown::Read,
        other => {
            let what = format!("invalid option '{}'", other.unwrap_or_default());
            return raise(lua, bad_arg(1, "shutdown", what));
        }
    };
    // LuaSocket ignores the outcome.
    let _ = o.get().shutdown(how);
    1.into_lua_multi(lua)
}

fn tcp_getstats(lua: &Lua, ud: AnyUserData) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    if let Err(msg) = tcp_class_is(&o, "getstats", TcpClass::Client) {
        return raise(lua, msg);
    }
    let (r, s, age) = o.get().getstats();
    (r as f64, s as f64, age).into_lua_multi(lua)
}

fn tcp_setstats(lua: &Lua, (ud, r, s, age): (AnyUserData, LV, LV, LV)) -> mlua::Result<MultiValue> {
    let o = tcp_obj(&ud)?;
    if let Err(msg) = tcp_class_is(&o, "setstats", TcpClass::Client) {
        return raise(lua, msg);
    }
    let count = |v: &LV| lua_number(v).map(|n| n.max(0.0) as u64);
    o.get().setstats(count(&r), count(&s), lua_number(&age));
    1.into_lua_multi(lua)
}

/// `tostring(tcp)`: `tcp{client}: 0x...`.
fn tcp_tostring(o: &TcpObj) -> String {
    format!("{}: {:p}", o.class.get().as_str(), Rc::as_ptr(&o.get()))
}

impl UserData for LuaASocket {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Function>(TCP_INDEX_KEY)
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method("__tostring", |_, a, ()| Ok(tcp_tostring(&a.0)));
    }
}

/// The Rust half of the TCP object's methods (`objects.lua` makes the
/// methods from them).
fn tcp_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("receive", crate::wait::async_function(lua, tcp_receive)?)?;
    t.set("send", crate::wait::async_function(lua, tcp_send)?)?;
    t.set("accept", crate::wait::async_function(lua, tcp_accept)?)?;
    t.set("connect", crate::wait::async_function(lua, tcp_connect)?)?;
    t.set("bind", lua.create_function(tcp_bind)?)?;
    t.set("listen", lua.create_function(tcp_listen)?)?;
    t.set("shutdown", lua.create_function(tcp_shutdown)?)?;
    t.set("getstats", lua.create_function(tcp_getstats)?)?;
    t.set("setstats", lua.create_function(tcp_setstats)?)?;
    shared_methods::<TcpObj>(lua, &t)?;
    t.set(
        "dirty",
        lua.create_function(|_, ud: AnyUserData| Ok(tcp_obj(&ud)?.get().buffered() > 0))?,
    )?;
    t.set(
        "getfamily",
        lua.create_function(|_, ud: AnyUserData| Ok(family_word(tcp_obj(&ud)?.family.get())))?,
    )?;
    t.set(
        "getsockname",
        lua.create_function(|lua, ud: AnyUserData| {
            let o = tcp_obj(&ud)?;
            name3(lua, o.get().getsockname().map(split))
        })?,
    )?;
    t.set(
        "getpeername",
        lua.create_function(|lua, ud: AnyUserData| {
            let o = tcp_obj(&ud)?;
            name3(lua, o.get().getpeername().map(split))
        })?,
    )?;
    t.set(
        "setoption",
        lua.create_function(|lua, (ud, name, v): (AnyUserData, String, LV)| {
            let a = tcp_obj(&ud)?.get();
            set_option(lua, &name, v, |n, v| a.getsocket().setopt(n, v))
        })?,
    )?;
    t.set(
        "getoption",
        lua.create_function(|lua, (ud, name): (AnyUserData, String)| {
            let a = tcp_obj(&ud)?.get();
            get_option(lua, &name, |n| a.getsocket().getopt(n))
        })?,
    )?;
    t.set(
        "class",
        lua.create_function(|_, ud: AnyUserData| Ok(tcp_obj(&ud)?.class.get().as_str()))?,
    )?;
    crate::socketloop::asocket_extras(lua, &t)?;
    Ok(t)
}

fn split(a: sockloop::SockAddr) -> (String, u16, Family) {
    (a.ip().to_string(), a.port(), a.family())
}

// ===== UDP =====

/// A LuaSocket UDP object's state: the [`UdpObject`] (replaced by
/// `setfd`), LuaSocket's block and total times.
pub(crate) struct UdpState {
    obj: RefCell<Rc<UdpObject>>,
    times: Timeouts,
}

/// A LuaSocket UDP object.
pub(crate) struct LuaUdp(Rc<UdpState>);

impl LuaUdp {
    fn new(u: UdpObject) -> LuaUdp {
        LuaUdp(Rc::new(UdpState {
            obj: RefCell::new(Rc::new(u)),
            times: Timeouts::new(),
        }))
    }
}

impl UdpState {
    fn get(&self) -> Rc<UdpObject> {
        self.obj.borrow().clone()
    }

    fn class(&self) -> &'static str {
        if self.get().is_connected() {
            "udp{connected}"
        } else {
            "udp{unconnected}"
        }
    }

    fn check(&self, method: &str, connected: bool) -> Result<(), String> {
        if self.get().is_connected() == connected {
            return Ok(());
        }
        let want = if connected {
            "udp{connected}"
        } else {
            "udp{unconnected}"
        };
        Err(bad_self(method, want, self.class()))
    }
}

fn udp_obj(ud: &AnyUserData) -> mlua::Result<Rc<UdpState>> {
    Ok(ud.borrow::<LuaUdp>()?.0.clone())
}

impl UserData for LuaUdp {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Function>(UDP_INDEX_KEY)
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method("__tostring", |_, u, ()| {
            Ok(format!("{}: {:p}", u.0.class(), Rc::as_ptr(&u.0.get())))
        });
    }
}

/// A datagram size argument (`nil`: `_DATAGRAMSIZE`).
fn dgram_size(v: &LV) -> Option<Option<usize>> {
    match v {
        LV::Nil => Some(None),
        v => lua_number(v).map(|n| Some(n.clamp(0.0, 9.0e15) as usize)),
    }
}

fn udp_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "send",
        crate::wait::async_function(
            lua,
            |lua, (ud, data): (AnyUserData, LuaString)| async move {
                let u = udp_obj(&ud)?;
                drop(ud);
                if let Err(msg) = u.check("send", true) {
                    return raise(&lua, msg);
                }
                in_thread()?;
                let data = data.as_bytes().to_vec();
                let o = u.get();
                answer(&lua, o.send(&data).await)
            },
        )?,
    )?;
    t.set(
        "sendto",
        crate::wait::async_function(
            lua,
            |lua, (ud, data, ip, port): (AnyUserData, LuaString, LV, LV)| async move {
                let u = udp_obj(&ud)?;
                drop(ud);
                if let Err(msg) = u.check("sendto", false) {
                    return raise(&lua, msg);
                }
                let Some(ip) = lua_text(&ip) else {
                    return raise(&lua, bad_arg(2, "sendto", "string expected"));
                };
                let Some(port) = port_of(&port) else {
                    return raise(&lua, bad_arg(3, "sendto", "port expected"));
                };
                if ip.parse::<std::net::IpAddr>().is_err() {
                    // LuaSocket asks getaddrinfo for a numeric host.
                    return (LV::Nil, "Name or service not known").into_lua_multi(&lua);
                }
                in_thread()?;
                let data = data.as_bytes().to_vec();
                let o = u.get();
                answer(&lua, o.sendto(&data, &ip, port).await)
            },
        )?,
    )?;
    t.set(
        "receive",
        crate::wait::async_function(lua, |lua, (ud, size): (AnyUserData, LV)| async move {
            let u = udp_obj(&ud)?;
            drop(ud);
            let Some(size) = dgram_size(&size) else {
                return raise(&lua, bad_arg(1, "receive", "number expected"));
            };
            in_thread()?;
            let o = u.get();
            match o.receive(size).await {
                Ok(d) => lua.create_string(&d)?.into_lua_multi(&lua),
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    t.set(
        "receivefrom",
        crate::wait::async_function(lua, |lua, (ud, size): (AnyUserData, LV)| async move {
            let u = udp_obj(&ud)?;
            drop(ud);
            if let Err(msg) = u.check("receivefrom", false) {
                return raise(&lua, msg);
            }
            let Some(size) = dgram_size(&size) else {
                return raise(&lua, bad_arg(1, "receivefrom", "number expected"));
            };
            in_thread()?;
            let o = u.get();
            match o.receivefrom(size).await {
                Ok((d, ip, port)) => (lua.create_string(&d)?, ip, port).into_lua_multi(&lua),
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    t.set(
        "setpeername",
        crate::wait::async_function(
            lua,
            |lua, (ud, host, port): (AnyUserData, LV, LV)| async move {
                let u = udp_obj(&ud)?;
                drop(ud);
                let Some(host) = lua_text(&host) else {
                    return raise(&lua, bad_arg(1, "setpeername", "string expected"));
                };
                let port = if host == "*" { Some(0) } else { port_of(&port) };
                let Some(port) = port else {
                    return raise(&lua, bad_arg(2, "setpeername", "port expected"));
                };
                in_thread()?;
                let o = u.get();
                one(&lua, o.setpeername(&host, port).await)
            },
        )?,
    )?;
    t.set(
        "setsockname",
        lua.create_function(|lua, (ud, host, port): (AnyUserData, LV, LV)| {
            let u = udp_obj(&ud)?;
            if let Err(msg) = u.check("setsockname", false) {
                return raise(lua, msg);
            }
            let Some(host) = lua_text(&host) else {
                return raise(lua, bad_arg(1, "setsockname", "string expected"));
            };
            let Some(port) = port_of(&port) else {
                return raise(lua, bad_arg(2, "setsockname", "port expected"));
            };
            one(lua, u.get().setsockname(&host, port))
        })?,
    )?;
    t.set(
        "getsockname",
        lua.create_function(|lua, ud: AnyUserData| name3(lua, udp_obj(&ud)?.get().getsockname()))?,
    )?;
    t.set(
        "getpeername",
        lua.create_function(|lua, ud: AnyUserData| {
            let u = udp_obj(&ud)?;
            if let Err(msg) = u.check("getpeername", true) {
                return raise(lua, msg);
            }
            name3(lua, u.get().getpeername())
        })?,
    )?;
    shared_methods::<UdpState>(lua, &t)?;
    t.set(
        "dirty",
        lua.create_function(|_, _ud: AnyUserData| Ok(false))?,
    )?;
    t.set(
        "getfamily",
        lua.create_function(|_, ud: AnyUserData| {
            Ok(family_word(Some(udp_obj(&ud)?.get().getfamily())))
        })?,
    )?;
    t.set(
        "setoption",
        lua.create_function(|lua, (ud, name, v): (AnyUserData, String, LV)| {
            let o = udp_obj(&ud)?.get();
            if let Ok(s) = o.getsocket() {
                if let Some(r) = s
                    .with_socket(|s| multicast_option(s, &name, &v))
                    .ok()
                    .flatten()
                {
                    return match r {
                        Ok(()) => 1.into_lua_multi(lua),
                        Err(msg) if msg.starts_with("bad argument") => raise(lua, msg),
                        Err(msg) => (LV::Nil, msg).into_lua_multi(lua),
                    };
                }
            }
            set_option(lua, &name, v, |n, v| o.setoption(n, v))
        })?,
    )?;
    t.set(
        "getoption",
        lua.create_function(|lua, (ud, name): (AnyUserData, String)| {
            let o = udp_obj(&ud)?.get();
            get_option(lua, &name, |n| o.getoption(n))
        })?,
    )?;
    t.set(
        "class",
        lua.create_function(|_, ud: AnyUserData| Ok(udp_obj(&ud)?.class()))?,
    )?;
    Ok(t)
}

// ===== what TCP and UDP objects share =====

/// A LuaSocket object's state, for the methods TCP and UDP objects share:
/// `settimeout`, `gettimeout`, `close`, `getfd`, `setfd`.
trait Object: Sized + 'static {
    /// The kind of socket `setfd` adopts.
    const SOCKTYPE: socket2::Type;
    fn of(ud: &AnyUserData) -> mlua::Result<Rc<Self>>;
    fn times(&self) -> &Timeouts;
    /// Gives the current socket the wait limit.
    fn apply(&self, limit: Option<f64>);
    fn close(&self);
    fn fd(&self) -> RawFd;
    fn watched(o: &Rc<Self>) -> Watched;
    /// `setfd`: the adopted socket, or none (the object is then closed).
    fn adopt(&self, s: Option<socket2::Socket>);
}

impl Object for TcpObj {
    const SOCKTYPE: socket2::Type = socket2::Type::STREAM;
    fn of(ud: &AnyUserData) -> mlua::Result<Rc<Self>> {
        tcp_obj(ud)
    }
    fn times(&self) -> &Timeouts {
        &self.times
    }
    fn apply(&self, limit: Option<f64>) {
        self.get().settimeout(limit);
    }
    fn close(&self) {
        let _ = self.get().close();
    }
    fn fd(&self) -> RawFd {
        TcpObj::fd(self)
    }
    fn watched(o: &Rc<Self>) -> Watched {
        Watched::Tcp(Rc::downgrade(o))
    }
    fn adopt(&self, s: Option<socket2::Socket>) {
        match s {
            Some(s) => self.replace(Rc::new(Tcp::from(s))),
            None => Object::close(self),
        }
    }
}

impl Object for UdpState {
    const SOCKTYPE: socket2::Type = socket2::Type::DGRAM;
    fn of(ud: &AnyUserData) -> mlua::Result<Rc<Self>> {
        udp_obj(ud)
    }
    fn times(&self) -> &Timeouts {
        &self.times
    }
    fn apply(&self, limit: Option<f64>) {
        self.get().settimeout(limit);
    }
    fn close(&self) {
        let _ = self.get().close();
    }
    fn fd(&self) -> RawFd {
        self.get().getfd()
    }
    fn watched(o: &Rc<Self>) -> Watched {
        Watched::Udp(Rc::downgrade(o))
    }
    fn adopt(&self, s: Option<socket2::Socket>) {
        Object::close(self);
        if let Some(s) = s {
            let o = UdpObject::from(Udp::from(s));
            o.settimeout(self.times.limit());
            *self.obj.borrow_mut() = Rc::new(o);
        }
    }
}

/// Registers the methods TCP and UDP objects share in `t`.
fn shared_methods<O: Object>(lua: &Lua, t: &Table) -> mlua::Result<()> {
    t.set(
        "settimeout",
        lua.create_function(|lua, (ud, time, mode): (AnyUserData, LV, LV)| {
            let o = O::of(&ud)?;
            match o.times().set(&time, &mode) {
                Ok(limit) => {
                    o.apply(limit);
                    1.into_lua_multi(lua)
                }
                Err(msg) => raise(lua, msg),
            }
        })?,
    )?;
    t.set(
        "gettimeout",
        lua.create_function(|_, ud: AnyUserData| {
            let o = O::of(&ud)?;
            Ok((o.times().block.get(), o.times().total.get()))
        })?,
    )?;
    t.set(
        "close",
        lua.create_function(|_, ud: AnyUserData| {
            // LuaSocket's close always answers 1.
            O::of(&ud)?.close();
            Ok(1)
        })?,
    )?;
    t.set(
        "getfd",
        lua.create_function(|_, ud: AnyUserData| {
            let o = O::of(&ud)?;
            let fd = o.fd();
            register_fd(fd, O::watched(&o));
            Ok(fd)
        })?,
    )?;
    t.set(
        "setfd",
        lua.create_function(|_, (ud, fd): (AnyUserData, LV)| {
            let o = O::of(&ud)?;
            let fd = lua_number(&fd).unwrap_or(-1.0);
            let adopted = (fd >= 0.0 && fd <= f64::from(i32::MAX))
                .then(|| adopt_fd(fd as RawFd, O::SOCKTYPE))
                .flatten();
            o.adopt(adopted);
            Ok(())
        })?,
    )?;
    Ok(())
}

// ===== select =====

/// What an object in a `select` table watches.
enum Watched {
    Tcp(Weak<TcpObj>),
    Udp(Weak<UdpState>),
}

thread_local! {
    /// The descriptors `getfd()` gave out, to find the socket of an object
    /// that is not one of ours but answers `getfd` (a table wrapping a
    /// socket, as `socket.sink` makes).
    static FDS: RefCell<HashMap<RawFd, Watched>> = RefCell::new(HashMap::new());
}

fn register_fd(fd: RawFd, w: Watched) {
    if fd < 0 {
        return;
    }
    FDS.with(|m| {
        let mut m = m.borrow_mut();
        // Drop the entries of objects that are gone now and then.
        if m.len() > 64 && m.len().is_power_of_two() {
            m.retain(|_, w| match w {
                Watched::Tcp(t) => t.strong_count() > 0,
                Watched::Udp(u) => u.strong_count() > 0,
            });
        }
        m.insert(fd, w);
    });
}

/// One socket `select` waits on.
enum Ready {
    Tcp(Rc<Tcp>),
    Udp(Rc<Udp>),
}

/// The socket behind a descriptor `getfd()` gave out, if it still has it.
fn by_fd(fd: RawFd) -> Option<(Ready, bool)> {
    FDS.with(|m| match m.borrow().get(&fd)? {
        Watched::Tcp(t) => {
            let o = t.upgrade()?;
            (o.fd() == fd).then(|| {
                let a = o.get();
                (Ready::Tcp(a.getsocket()), a.buffered() > 0)
            })
        }
        Watched::Udp(u) => {
            let o = u.upgrade()?.get();
            if o.getfd() != fd {
                return None;
            }
            Some((Ready::Udp(o.getsocket().ok()?), false))
        }
    })
}

/// The socket an entry of a `select` table stands for and whether it has
/// buffered input (`None`: a closed socket or no descriptor, skipped as
/// LuaSocket skips it).
fn watched(v: &LV) -> Result<Option<(Ready, bool)>, String> {
    if let LV::UserData(ud) = v {
        if let Ok(a) = ud.borrow::<LuaASocket>() {
            let a = a.0.get();
            let t = a.getsocket();
            return Ok((!t.closed()).then(|| (Ready::Tcp(t), a.buffered() > 0)));
        }
        if let Ok(u) = ud.borrow::<LuaUdp>() {
            return Ok(u.0.get().getsocket().ok().map(|s| (Ready::Udp(s), false)));
        }
    }
    // Anything else answers `getfd` (and maybe `dirty`), as in LuaSocket.
    let call = |name: &str| -> mlua::Result<LV> {
        let f: LV = match v {
            LV::Table(t) => t.get(name)?,
            LV::UserData(u) => u.get(name)?,
            _ => LV::Nil,
        };
        match f {
            LV::Function(f) => f.call(v.clone()),
            _ => Ok(LV::Nil),
        }
    };
    let fd = call("getfd").map_err(|e| e.to_string())?;
    let Some(fd) = lua_number(&fd).filter(|n| *n >= 0.0 && *n <= f64::from(i32::MAX)) else {
        return Ok(None);
    };
    let fd = fd as RawFd;
    let dirty = call("dirty").map(|d| !matches!(d, LV::Nil | LV::Boolean(false)));
    let dirty = dirty.map_err(|e| e.to_string())?;
    match by_fd(fd) {
        Some((r, buffered)) => Ok(Some((r, buffered || dirty))),
        None => Err(format!(
            "descriptor {fd} is not a socket of this program (sockloop watches its own sockets only)"
        )),
    }
}

/// The entries of a `select` table (`nil`: none), in order, each with its
/// socket; more than [`SETSIZE`] raises, as LuaSocket.
fn select_entries(n: usize, t: &LV) -> Result<Vec<(LV, Ready, bool)>, String> {
    let t = match t {
        LV::Nil => return Ok(Vec::new()),
        LV::Table(t) => t,
        other => {
            let msg = format!("table expected, got {}", other.type_name());
            return Err(bad_arg(n, "select", msg));
        }
    };
    let mut out = Vec::new();
    for i in 1.. {
        let v: LV = t.get(i).map_err(|e| e.to_string())?;
        if let LV::Nil = v {
            break;
        }
        if let Some((r, dirty)) = watched(&v).map_err(|m| bad_arg(n, "select", m))? {
            if out.len() == SETSIZE {
                return Err(bad_arg(n, "select", "too many sockets"));
            }
            out.push((v, r, dirty));
        }
    }
    Ok(out)
}

type ReadyFut = Pin<Box<dyn Future<Output = sockloop::Result<()>>>>;

fn readable(r: &Ready) -> ReadyFut {
    match r {
        Ready::Tcp(t) => {
            let t = t.clone();
            Box::pin(async move { t.readable(None).await })
        }
        Ready::Udp(u) => {
            let u = u.clone();
            Box::pin(async move {
                let mut probe = [0u8; 1];
                let peek = RecvFlags {
                    peek: true,
                    trunc: false,
                };
                u.recvnext_flags(&mut probe, None, peek).await.map(drop)
            })
        }
    }
}

fn writable(r: &Ready) -> ReadyFut {
    match r {
        Ready::Tcp(t) => {
            let t = t.clone();
            Box::pin(async move { t.writable(None).await })
        }
        // A datagram socket can always send (the kernel drops what does
        // not fit).
        Ready::Udp(_) => Box::pin(std::future::ready(Ok(()))),
    }
}

/// `socket.select(recvt, sendt, timeout)`: the ready entries of each
/// table (the objects themselves, listed and as keys), or two empty
/// tables and `"timeout"`.
async fn select(lua: Lua, (recvt, sendt, timeout): (LV, LV, LV)) -> mlua::Result<MultiValue> {
    let timeout = match &timeout {
        LV::Nil => -1.0,
        v => match lua_number(v) {
            Some(t) => t,
            None => return raise(&lua, bad_arg(3, "select", "number expected")),
        },
    };
    let (r, w) = match (select_entries(1, &recvt), select_entries(2, &sendt)) {
        (Ok(r), Ok(w)) => (r, w),
        (Err(m), _) | (_, Err(m)) => return raise(&lua, m),
    };
    let mut ready_r: Vec<usize> = (0..r.len()).filter(|&i| r[i].2).collect();
    let mut ready_w: Vec<usize> = Vec::new();
    let check_only = !ready_r.is_empty() || timeout == 0.0;
    if !(r.is_empty() && w.is_empty() && timeout < 0.0) {
        in_thread()?;
    }
    let mut rf: Vec<Option<ReadyFut>> = r
        .iter()
        .map(|(_, s, dirty)| (!dirty).then(|| readable(s)))
        .collect();
    let mut wf: Vec<Option<ReadyFut>> = w.iter().map(|(_, s, _)| Some(writable(s))).collect();
    let mut sleep: Option<Pin<Box<dyn Future<Output = ()>>>> =
        (timeout > 0.0 && !check_only).then(|| Box::pin(sockloop::sleep(timeout)) as _);
    let outcome = poll_fn(|cx| {
        for (slots, out) in [(&mut rf, &mut ready_r), (&mut wf, &mut ready_w)] {
            for (i, slot) in slots.iter_mut().enumerate() {
                let Some(f) = slot else { continue };
                match f.as_mut().poll(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(())) => {
                        out.push(i);
                        *slot = None;
                    }
                    Poll::Ready(Err(e)) if e.kind() == ErrorKind::Cancelled => {
                        return Poll::Ready(Err(e));
                    }
                    // A socket closed or failing meanwhile is ready: its
                    // next call reports why.
                    Poll::Ready(Err(_)) => {
                        out.push(i);
                        *slot = None;
                    }
                }
            }
        }
        if !ready_r.is_empty() || !ready_w.is_empty() {
            return Poll::Ready(Ok(true));
        }
        if check_only {
            return Poll::Ready(Ok(false));
        }
        if let Some(s) = sleep.as_mut() {
            if s.as_mut().poll(cx).is_ready() {
                if sockloop::cancelled() {
                    return Poll::Ready(Err(Error::new(ErrorKind::Cancelled)));
                }
                return Poll::Ready(Ok(false));
            }
        }
        Poll::Pending
    })
    .await;
    drop((rf, wf, sleep));
    let rt = lua.create_table()?;
    let wt = lua.create_table()?;
    let ok = match outcome {
        Ok(ok) => ok,
        Err(e) => {
            let err = lua.create_string(&*e.luasocket_str())?;
            return (rt, wt, err).into_lua_multi(&lua);
        }
    };
    if !ok {
        return (rt, wt, "timeout").into_lua_multi(&lua);
    }
    for (entries, ready, t) in [(&r, &mut ready_r, &rt), (&w, &mut ready_w, &wt)] {
        ready.sort_unstable();
        ready.dedup();
        for (k, &i) in ready.iter().enumerate() {
            let v = entries[i].0.clone();
            t.raw_set(k + 1, v.clone())?;
            t.raw_set(v, k + 1)?;
        }
    }
    (rt, wt).into_lua_multi(&lua)
}

// ===== the namespace =====

/// `socket.dns`.
fn dns_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let resolved = |lua: &Lua, r: dns::Resolved| -> mlua::Result<Table> {
        let t = lua.create_table()?;
        t.set("name", r.name)?;
        t.set("alias", lua.create_sequence_from(r.alias)?)?;
        let ips = r.ip.iter().map(|ip| ip.to_string());
        t.set("ip", lua.create_sequence_from(ips)?)?;
        Ok(t)
    };
    t.set(
        "toip",
        crate::wait::async_function(lua, move |lua, name: String| async move {
            in_thread()?;
            match dns::toip(&name).await {
                Ok((ip, r)) => (ip.to_string(), resolved(&lua, r)?).into_lua_multi(&lua),
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    t.set(
        "tohostname",
        crate::wait::async_function(lua, move |lua, name: String| async move {
            in_thread()?;
            match dns::tohostname(&name).await {
                Ok((n, r)) => (n, resolved(&lua, r)?).into_lua_multi(&lua),
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    t.set(
        "gethostname",
        lua.create_function(|lua, ()| answer(lua, dns::gethostname()))?,
    )?;
    t.set(
        "getaddrinfo",
        crate::wait::async_function(lua, |lua, name: String| async move {
            in_thread()?;
            match dns::getaddrinfo(&name).await {
                Ok(list) => {
                    let t = lua.create_table()?;
                    for (i, a) in list.iter().enumerate() {
                        let e = lua.create_table()?;
                        e.set("family", a.family.as_str())?;
                        e.set("addr", a.addr.to_string())?;
                        t.raw_set(i + 1, e)?;
                    }
                    t.into_lua_multi(&lua)
                }
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    t.set(
        "getnameinfo",
        crate::wait::async_function(lua, |lua, (host, serv): (LV, LV)| async move {
            let host = lua_text(&host);
            let serv = lua_text(&serv);
            if host.is_none() && serv.is_none() {
                return raise(&lua, "getnameinfo: host and serv cannot be both nil");
            }
            in_thread()?;
            match dns::getnameinfo(host.as_deref(), serv.as_deref()).await {
                Ok((names, service)) => {
                    let names = match host {
                        Some(_) => LV::Table(lua.create_sequence_from(names)?),
                        None => LV::Nil,
                    };
                    (names, service).into_lua_multi(&lua)
                }
                Err(e) => fail(&lua, &e, None),
            }
        })?,
    )?;
    Ok(t)
}

/// A family argument of `socket.connect` (`inet`, `inet6`, `unspec`).
fn family_arg(v: &LV) -> Result<Option<Family>, String> {
    match lua_text(v).as_deref() {
        None if matches!(v, LV::Nil) => Ok(None),
        Some("unspec") => Ok(None),
        Some("inet") => Ok(Some(Family::Inet)),
        Some("inet6") => Ok(Some(Family::Inet6)),
        other => Err(bad_arg(
            5,
            "connect",
            format!("invalid option '{}'", other.unwrap_or_default()),
        )),
    }
}

/// The Rust half of the objects and of `require'socket'`: the object
/// method tables for `objects.lua`, the namespace's functions.
pub(crate) fn objects_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("RAISE", raise_tag())?;
    t.set(
        "gettime",
        lua.create_function(|_, ()| Ok(luasocket::gettime()))?,
    )?;
    t.set("tcp", tcp_core(lua)?)?;
    t.set("udp", udp_core(lua)?)?;
    t.set(
        "set_index",
        lua.create_function(|lua, (tcp, udp): (Function, Function)| {
            lua.set_named_registry_value(TCP_INDEX_KEY, tcp)?;
            lua.set_named_registry_value(UDP_INDEX_KEY, udp)
        })?,
    )?;
    Ok(t)
}

/// `require'socket'`'s Rust half (the Lua half, `socket.lua`, adds
/// `try`, `newtry`, `protect`, `skip`, sinks and sources).
pub(crate) fn socket_core(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let made = |lua: &Lua, r: sockloop::Result<LuaASocket>| match r {
        Ok(o) => o.into_lua_multi(lua),
        Err(e) => fail(lua, &e, None),
    };
    t.set(
        "tcp",
        lua.create_function(move |lua, ()| made(lua, LuaASocket::unspec()))?,
    )?;
    t.set(
        "tcp4",
        lua.create_function(move |lua, ()| {
            let o = luasocket::tcp4().map(|a| LuaASocket::with_class(a, TcpClass::Master));
            made(lua, o)
        })?,
    )?;
    t.set(
        "tcp6",
        lua.create_function(move |lua, ()| {
            let o = luasocket::tcp6().map(|a| LuaASocket::with_class(a, TcpClass::Master));
            made(lua, o)
        })?,
    )?;
    let udp_made = |lua: &Lua, r: sockloop::Result<UdpObject>| match r {
        Ok(o) => LuaUdp::new(o).into_lua_multi(lua),
        Err(e) => fail(lua, &e, None),
    };
    t.set(
        "udp",
        lua.create_function(move |lua, ()| udp_made(lua, luasocket::udp()))?,
    )?;
    t.set(
        "udp4",
        lua.create_function(move |lua, ()| udp_made(lua, luasocket::udp4()))?,
    )?;
    t.set(
        "udp6",
        lua.create_function(move |lua, ()| udp_made(lua, luasocket::udp6()))?,
    )?;
    t.set(
        "bind",
        lua.create_function(move |lua, (host, port, backlog): (LV, LV, LV)| {
            let Some(host) = lua_text(&host) else {
                return raise(lua, bad_arg(1, "bind", "string expected"));
            };
            let Some(port) = port_of(&port) else {
                return raise(lua, bad_arg(2, "bind", "port expected"));
            };
            let backlog = lua_number(&backlog).map(|b| b.clamp(0.0, f64::from(u32::MAX)) as u32);
            let host = if host == "*" {
                "0.0.0.0"
            } else {
                host.as_str()
            };
            let o = luasocket::bind(host, port, backlog)
                .map(|a| LuaASocket::with_class(a, TcpClass::Server));
            made(lua, o)
        })?,
    )?;
    t.set(
        "connect",
        crate::wait::async_function(
            lua,
            |lua, (host, port, lhost, lport, fam): (LV, LV, LV, LV, LV)| async move {
                let Some(host) = lua_text(&host) else {
                    return raise(&lua, bad_arg(1, "connect", "string expected"));
                };
                let Some(port) = port_of(&port) else {
                    return raise(&lua, bad_arg(2, "connect", "port expected"));
                };
                let lhost = lua_text(&lhost);
                let lport = match &lport {
                    LV::Nil => None,
                    v => match port_of(v) {
                        Some(p) => Some(p),
                        None => return raise(&lua, bad_arg(4, "connect", "port expected")),
                    },
                };
                let fam = match family_arg(&fam) {
                    Ok(f) => f,
                    Err(m) => return raise(&lua, m),
                };
                in_thread()?;
                let r = luasocket::connect(&host, port, lhost.as_deref(), lport, fam).await;
                let r = r.map(|a| LuaASocket::with_class(a, TcpClass::Client));
                match r {
                    Ok(o) => o.into_lua_multi(&lua),
                    Err(e) => fail(&lua, &e, None),
                }
            },
        )?,
    )?;
    t.set("select", crate::wait::async_function(lua, select)?)?;
    t.set(
        "gettime",
        lua.create_function(|_, ()| Ok(luasocket::gettime()))?,
    )?;
    t.set(
        "sleep",
        crate::wait::async_function(lua, |lua, s: LV| async move {
            let Some(s) = lua_number(&s) else {
                return raise(&lua, bad_arg(1, "sleep", "number expected"));
            };
            if s > 0.0 {
                in_thread()?;
            }
            luasocket::sleep(s).await;
            Ok(MultiValue::new())
        })?,
    )?;
    t.set("dns", dns_table(lua)?)?;
    t.set("_VERSION", "LuaSocket 3.1.0")?;
    t.set("_DATAGRAMSIZE", luasocket::DATAGRAMSIZE)?;
    t.set("_SETSIZE", SETSIZE)?;
    t.set("_SOCKETINVALID", luasocket::SOCKETINVALID)?;
    Ok(t)
}

/// A Lua TCP object for a socket made in Rust (socketloop's objects).
pub(crate) fn tcp_to_lua(lua: &Lua, a: Rc<ASocket>) -> mlua::Result<MultiValue> {
    object_of(lua, a, true)
}

/// A Lua TCP object over `a`: socketloop's (`socketloop`) or LuaSocket's
/// own (socketloop's `getsocket()`: the wrapped LuaSocket object).
pub(crate) fn object_of(lua: &Lua, a: Rc<ASocket>, socketloop: bool) -> mlua::Result<MultiValue> {
    let class = TcpClass::of(&a);
    let o = LuaASocket::shared(a, class);
    o.0.socketloop.set(socketloop);
    o.into_lua_multi(lua)
}

/// The sock.lua TCP object over a LuaSocket object's socket (socketloop's
/// `asocket.socket`).
pub(crate) fn sock_object(lua: &Lua, o: &TcpObj) -> mlua::Result<LV> {
    let mut m = crate::socket::wrap(lua, o.get().getsocket())?;
    Ok(m.pop_front().unwrap_or(LV::Nil))
}
