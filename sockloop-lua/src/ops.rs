//! The wait requests with opcodes of their own: the hot calls, carried
//! out by the driver ([`crate::wait::drive`]) with their futures inline in
//! its state machine, no boxed future. The Lua half yields
//! `marker, opcode, operands...` (see `sock.lua`).

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use mlua::{AnyUserData, Lua, MultiValue, Value as LuaValue};
use sockloop::kind::{self, Dgram, Stream};

use crate::edge::CBuf;
use crate::mainthread::{main_io, no_wait_in_main, who, Who};
use crate::socket::{bad, expires, recv_into, send_from, Data, LuaSock};

/// `sock.suspend(...)`: the values.
pub(crate) const OP_SUSPEND: i64 = 1;
/// `sock.transfer(co, ...)`: the thread's handle, the values.
pub(crate) const OP_TRANSFER: i64 = 2;
/// `sock.sleep(s)`: the seconds.
pub(crate) const OP_SLEEP: i64 = 3;
/// `sock.sleep_until(t)`: the clock time.
pub(crate) const OP_SLEEP_UNTIL: i64 = 4;
/// `s:recv(buf, maxlen, expires)`: the socket's handle, the buffer's
/// address, `maxlen`, the buffer's size (`nil` for a pointer), `expires`.
pub(crate) const OP_RECV: i64 = 5;
/// `s:send(buf, len, expires)`: the socket's handle, the string or the
/// buffer's address, `len`, the buffer's size, `expires`.
pub(crate) const OP_SEND: i64 = 6;

/// One of sock.lua's calls that may wait: awaited in a thread; in the main
/// chunk it must complete without waiting, else it raises as sock.lua
/// raises in its main thread (`mainthread::io` without the box: the driver
/// runs inside the main chunk's thread).
async fn io<T>(fut: impl Future<Output = mlua::Result<T>>) -> mlua::Result<T> {
    if who() == Who::Thread {
        return fut.await;
    }
    let mut fut = pin!(fut);
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(r) => r,
        Poll::Pending => Err(main_io()),
    }
}

/// The operand at `i`, `nil` when absent.
fn arg(v: &MultiValue, i: usize) -> &LuaValue {
    v.get(i).unwrap_or(&LuaValue::Nil)
}

fn number(v: &LuaValue, what: &str) -> mlua::Result<f64> {
    match *v {
        LuaValue::Integer(n) => Ok(n as f64),
        LuaValue::Number(n) => Ok(n),
        _ => Err(bad(format!("bad argument '{what}': number expected"))),
    }
}

fn opt_number(v: &LuaValue, what: &str) -> mlua::Result<Option<f64>> {
    match v {
        LuaValue::Nil => Ok(None),
        v => number(v, what).map(Some),
    }
}

fn userdata(v: &LuaValue) -> mlua::Result<AnyUserData> {
    match v {
        LuaValue::UserData(ud) => Ok(ud.clone()),
        _ => Err(bad("bad wait request: a handle expected")),
    }
}

/// A socket of one of the three kinds.
pub(crate) enum AnySock {
    Stream(std::rc::Rc<sockloop::Tcp>),
    Udp(std::rc::Rc<sockloop::Udp>),
    Raw(std::rc::Rc<sockloop::Raw>),
}

fn any_sock(ud: &AnyUserData) -> mlua::Result<AnySock> {
    if let Ok(s) = ud.borrow::<LuaSock<Stream>>() {
        return Ok(AnySock::Stream(s.0.clone()));
    }
    if let Ok(s) = ud.borrow::<LuaSock<Dgram<kind::Udp>>>() {
        return Ok(AnySock::Udp(s.0.clone()));
    }
    if let Ok(s) = ud.borrow::<LuaSock<Dgram<kind::Raw>>>() {
        return Ok(AnySock::Raw(s.0.clone()));
    }
    Err(bad("not a socket"))
}

/// A wait request taken apart: what its wait needs, without the request's
/// operands (a parked wait holds no mlua reference but a `send`'s string
/// and a `transfer`'s values; see `wait.rs`'s `Held`).
pub(crate) enum Wait {
    Transfer(Lua, AnyUserData, MultiValue),
    /// The seconds, or the clock time (`true`).
    Sleep(f64, bool),
    Recv(Lua, AnySock, CBuf, Option<f64>),
    Send(Lua, AnySock, Data, Option<f64>),
}

/// Takes the wait request `op` with `operands` apart: `None` for an
/// unknown opcode, `Some(Err)` for bad operands.
pub(crate) fn prepare(
    weak: &mlua::WeakLua,
    op: i64,
    mut operands: MultiValue,
) -> Option<mlua::Result<Wait>> {
    let Some(lua) = weak.try_upgrade() else {
        return Some(Err(mlua::Error::runtime("the Lua state is closed")));
    };
    Some(match op {
        OP_TRANSFER => match operands.pop_front() {
            Some(LuaValue::UserData(h)) => Ok(Wait::Transfer(lua, h, operands)),
            _ => Err(bad("not a sock thread")),
        },
        OP_SLEEP | OP_SLEEP_UNTIL => no_wait_in_main()
            .and_then(|()| number(arg(&operands, 0), "s"))
            .map(|t| Wait::Sleep(t, op == OP_SLEEP_UNTIL)),
        OP_RECV => recv_op(lua, &operands),
        OP_SEND => send_op(lua, operands),
        _ => return None,
    })
}

impl Wait {
    /// Carries the wait out: the values to resume the coroutine with.
    pub(crate) async fn run(self) -> mlua::Result<MultiValue> {
        match self {
            Wait::Transfer(lua, h, operands) => crate::threads::transfer(&lua, h, operands).await,
            Wait::Sleep(t, false) => {
                sockloop::sleep(t).await;
                Ok(MultiValue::new())
            }
            Wait::Sleep(t, true) => {
                sockloop::sleep_until(t).await;
                Ok(MultiValue::new())
            }
            Wait::Recv(lua, s, mut buf, exp) => match s {
                AnySock::Stream(s) => io(recv_into(&lua, &s, &mut buf, exp)).await,
                AnySock::Udp(s) => io(recv_into(&lua, &s, &mut buf, exp)).await,
                AnySock::Raw(s) => io(recv_into(&lua, &s, &mut buf, exp)).await,
            },
            Wait::Send(lua, s, data, exp) => match s {
                AnySock::Stream(s) => io(send_from(&lua, &s, &data, exp)).await,
                AnySock::Udp(s) => io(send_from(&lua, &s, &data, exp)).await,
                AnySock::Raw(s) => io(send_from(&lua, &s, &data, exp)).await,
            },
        }
    }
}

fn recv_op(lua: Lua, operands: &MultiValue) -> mlua::Result<Wait> {
    let s = any_sock(&userdata(arg(operands, 0))?)?;
    let buf = CBuf::new(
        arg(operands, 1),
        arg(operands, 2),
        arg(operands, 3),
        "maxlen",
    )?;
    let exp = expires(opt_number(arg(operands, 4), "expires")?)?;
    Ok(Wait::Recv(lua, s, buf, exp))
}

fn send_op(lua: Lua, mut operands: MultiValue) -> mlua::Result<Wait> {
    let s = any_sock(&userdata(arg(&operands, 0))?)?;
    let exp = expires(opt_number(arg(&operands, 4), "expires")?)?;
    let data = operands.remove(1).unwrap_or(LuaValue::Nil);
    let data = Data::new(data, arg(&operands, 1), arg(&operands, 2))?;
    Ok(Wait::Send(lua, s, data, exp))
}
