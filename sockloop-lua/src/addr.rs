//! `sock.addr`: address lists (`ai`), socket addresses (`sa`) and IP
//! addresses (`ip`) for Lua.

#![forbid(unsafe_code)]

use mlua::{Lua, MultiValue, UserData, UserDataFields, UserDataMethods};
use sockloop::{AddrInfo, Hints, SockAddr};

use crate::socket::{bad, ret};

/// The registry key of the `sockaddr` cdata constructor (`sock_ffi.lua`).
pub(crate) const SOCKADDR_KEY: &str = "sockloop_lua.sockaddr";

/// The registry key of `sockaddr:tostring()` (`sock_ffi.lua`).
pub(crate) const SA_TOSTRING_KEY: &str = "sockloop_lua.sa_tostring";

/// An address list and a position in it: `ai` of sock.lua (`ai:next()`
/// moves along the same list).
#[derive(Clone)]
pub(crate) struct LuaAddrInfo {
    pub(crate) info: AddrInfo,
    pub(crate) i: usize,
}

/// A socket address as sock.lua gives it: a `sockaddr` cdata (with its
/// `port()`, `addr()`, `tostring()` methods).
pub(crate) fn sa_to_lua(lua: &Lua, sa: &SockAddr) -> mlua::Result<mlua::Value> {
    let make: mlua::Function = lua.named_registry_value(SOCKADDR_KEY)?;
    let (ip, scope) = match sa.socket_addr() {
        Some(std::net::SocketAddr::V4(a)) => (a.ip().octets().to_vec(), 0),
        Some(std::net::SocketAddr::V6(a)) => (a.ip().octets().to_vec(), a.scope_id()),
        None => (Vec::new(), 0),
    };
    make.call((
        sa.family().as_str(),
        sa.port(),
        lua.create_string(&ip)?,
        scope,
    ))
}

fn flag_list(flags: &mut sockloop::Flags, af: &str) -> mlua::Result<()> {
    for f in af.split([' ', ',', '|']).filter(|f| !f.is_empty()) {
        match f {
            "passive" => flags.passive = true,
            "cannonname" | "canonname" => flags.canonname = true,
            "numerichost" => flags.numerichost = true,
            "numericserv" => flags.numericserv = true,
            "all" => flags.all = true,
            "v4mapped" => flags.v4mapped = true,
            "addrconfig" => flags.addrconfig = true,
            other => {
                return Err(bad(format!(
                    "invalid_argument: unknown address flag {other:?}"
                )))
            }
        }
    }
    Ok(())
}

pub(crate) fn kind<T: std::str::FromStr<Err = sockloop::Error>>(
    v: mlua::Value,
) -> mlua::Result<Option<T>> {
    match v {
        mlua::Value::Nil => Ok(None),
        mlua::Value::Integer(0) => Ok(None),
        mlua::Value::Number(0.0) => Ok(None),
        mlua::Value::String(s) => s.to_str()?.parse().map(Some).map_err(bad),
        other => Err(bad(format!("invalid argument {other:?}"))),
    }
}

/// An `af` argument (`bind`, `connect`, `listen`, `sendto`): `nil`, a
/// list of flag names as [`addr`] takes them, or glibc's `AI_*` bits as a
/// number (what `glue.bor` makes of the names).
pub(crate) fn af_flags(v: mlua::Value) -> mlua::Result<Option<sockloop::Flags>> {
    let mut flags = sockloop::Flags::default();
    match v {
        mlua::Value::Nil => return Ok(None),
        mlua::Value::String(s) => flag_list(&mut flags, &s.to_str()?)?,
        mlua::Value::Integer(_) | mlua::Value::Number(_) => {
            let n = match v {
                mlua::Value::Integer(n) => n,
                mlua::Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => n as i64,
                _ => return Err(bad("invalid_argument: af must be an integer")),
            };
            let bits = [
                (0x1, &mut flags.passive),
                (0x2, &mut flags.canonname),
                (0x4, &mut flags.numerichost),
                (0x8, &mut flags.v4mapped),
                (0x10, &mut flags.all),
                (0x20, &mut flags.addrconfig),
                (0x400, &mut flags.numericserv),
            ];
            let mut rest = n;
            for (bit, f) in bits {
                *f = n & bit != 0;
                rest &= !bit;
            }
            if rest != 0 {
                return Err(bad(format!("invalid_argument: unknown af bits {rest:#x}")));
            }
        }
        other => return Err(bad(format!("invalid_argument: invalid af {other:?}"))),
    }
    Ok(Some(flags))
}

/// `sock.addr(host, port, [socket_type], [family], [protocol], [af])`.
pub(crate) fn addr(
    lua: &Lua,
    (host, port, st, fam, pr, af): (
        mlua::Value,
        mlua::Value,
        mlua::Value,
        mlua::Value,
        mlua::Value,
        Option<String>,
    ),
) -> mlua::Result<MultiValue> {
    if let mlua::Value::UserData(ud) = &host {
        if ud.borrow::<LuaAddrInfo>().is_ok() {
            let mut m = MultiValue::new();
            m.push_back(host);
            return Ok(m);
        }
    }
    let host = match host {
        mlua::Value::Nil => "*".to_string(),
        mlua::Value::String(s) => s.to_str()?.to_string(),
        other => return Err(bad(format!("invalid host {other:?}"))),
    };
    let port = match port {
        mlua::Value::Nil => "0".to_string(),
        mlua::Value::Number(n) => format!("{n}"),
        mlua::Value::Integer(n) => n.to_string(),
        mlua::Value::String(s) => s.to_str()?.to_string(),
        other => return Err(bad(format!("invalid port {other:?}"))),
    };
    let mut hints = Hints {
        socktype: kind(st)?,
        family: kind(fam)?,
        protocol: kind(pr)?,
        ..Hints::default()
    };
    if let Some(af) = af {
        flag_list(&mut hints.flags, &af)?;
    }
    let r =
        sockloop::addr_with(&host, port.as_str(), &hints).map(|info| LuaAddrInfo { info, i: 0 });
    ret(lua, r)
}

impl LuaAddrInfo {
    fn entry(&self) -> mlua::Result<&sockloop::AddrEntry> {
        self.info
            .iter()
            .nth(self.i)
            .ok_or_else(|| bad("empty address list"))
    }
}

impl UserData for LuaAddrInfo {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("addr", |lua, a| sa_to_lua(lua, &a.entry()?.addr()));
    }
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("free", |_, _, ()| Ok(()));
        m.add_method("next", |_, a, ()| {
            let n = LuaAddrInfo {
                info: a.info.clone(),
                i: a.i + 1,
            };
            Ok((n.i < n.info.len()).then_some(n))
        });
        m.add_method("addrs", |lua, a, ()| {
            let list = a.info.clone();
            let mut i = a.i;
            lua.create_function_mut(move |_, ()| {
                let r = (i < list.len()).then(|| LuaAddrInfo {
                    info: list.clone(),
                    i,
                });
                i += 1;
                Ok(r)
            })
        });
        m.add_method("type", |_, a, ()| Ok(a.entry()?.socktype().as_str()));
        m.add_method("family", |_, a, ()| Ok(a.entry()?.family().as_str()));
        m.add_method("protocol", |_, a, ()| Ok(a.entry()?.protocol().as_str()));
        m.add_method("name", |_, a, ()| Ok(a.entry()?.name().map(str::to_string)));
        // As sock.lua: its sockaddr's `tostring()`.
        m.add_method("tostring", |lua, a, ()| {
            let sa = sa_to_lua(lua, &a.entry()?.addr())?;
            let f: mlua::Function = lua.named_registry_value(SA_TOSTRING_KEY)?;
            f.call::<mlua::Value>(sa)
        });
    }
}
