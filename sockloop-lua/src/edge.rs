//! The FFI edge, the one module of the bridge with `unsafe` code: FFI
//! buffers turned into Rust slices, so `recv` reads into a `char[N]` and
//! `send` writes from one without a copy; the two raw Lua C functions of a
//! Lua<->Lua switch ([`enter_fn`], [`leave_fn`]), which skip mlua's
//! callback glue (it would cost more than the switch); the Lua state with
//! the FFI ([`new_state_with_ffi`]); and descriptors a Lua program hands
//! over ([`dup_socket_fd`], [`take_stream_fd`]).
//!
//! The Lua half (`sock.lua`) passes a cdata buffer as three numbers: its
//! address (`ffi.cast('intptr_t', buf)`), the length the call asks for,
//! and its capacity, `ffi.sizeof(buf)` for an array (fixed or
//! variable-length) or `nil` for a pointer (`buf + k`, `ffi.cast`, C
//! memory): a pointer carries no size, so its length is trusted, as
//! sock.lua trusts it when it passes the pointer to `recv(2)`. [`CBuf::new`]
//! checks all three; nothing else in the crate sees the address.
//!
//! Why a slice made here is sound: the Lua function that passed the buffer
//! (`tcp:recv(buf, ...)`) keeps the cdata on its stack frame while its
//! coroutine is suspended in the call (or while the call runs, outside a
//! thread), and the driver holds that coroutine, so the garbage collector
//! keeps the cdata and its memory alive; LuaJIT never moves a cdata. The
//! slice lives inside the call's future, which the call's own resume
//! consumes or drops before the coroutine runs on: it is never used after
//! the Lua side could have dropped the buffer. Sockets are readiness-based
//! (non-blocking `read`/`write` while the future is polled), so no kernel
//! write into the buffer outlives the future. Other Lua code that writes
//! the same buffer while the call waits races with the call as it does
//! under sock.lua (the kernel's write); that is the program's business.

#![allow(unsafe_code)]

use std::ffi::c_int;
use std::panic::catch_unwind;

use mlua::{ffi, Lua, LuaOptions, StdLib, Value as LuaValue};

use crate::socket::bad;

/// A checked (address, length) of a Lua program's FFI buffer.
pub(crate) struct CBuf {
    ptr: *mut u8,
    len: usize,
}

/// `v` for an error message.
fn shown(v: &LuaValue) -> String {
    match v {
        LuaValue::Integer(n) => n.to_string(),
        LuaValue::Number(n) => n.to_string(),
        other => other.type_name().to_string(),
    }
}

/// An integral, non-negative Lua number that fits in `usize`, or `None`.
fn whole(v: &LuaValue) -> Option<usize> {
    match *v {
        LuaValue::Integer(n) => usize::try_from(n).ok(),
        LuaValue::Number(n) if n >= 0.0 && n.fract() == 0.0 && n < 9.007_199_254_740_992e15 => {
            Some(n as usize)
        }
        _ => None,
    }
}

impl CBuf {
    /// The buffer at `addr` of which the call uses `len` bytes; `cap` is
    /// the cdata's size (`nil` for a pointer). `what` names the length
    /// argument in the error: `"maxlen"` is a most (`recv`, `recvnext`:
    /// one larger than an array's size reads at most the array), any
    /// other name an exact length (`recvn`, `send`: larger than the array
    /// is an error).
    pub(crate) fn new(
        addr: &LuaValue,
        len: &LuaValue,
        cap: &LuaValue,
        what: &str,
    ) -> mlua::Result<CBuf> {
        let mut len = whole(len).ok_or_else(|| {
            bad(format!(
                "bad argument '{what}': a non-negative integer expected, got {}",
                shown(len)
            ))
        })?;
        let addr = whole(addr)
            .filter(|&a| a != 0)
            .ok_or_else(|| bad("bad argument 'buf': NULL or not a buffer"))?;
        match cap {
            LuaValue::Nil => {}
            cap => {
                let cap = whole(cap)
                    .ok_or_else(|| bad(format!("bad argument 'buf': bad size {}", shown(cap))))?;
                if len > cap && what == "maxlen" {
                    len = cap;
                } else if len > cap {
                    return Err(bad(format!(
                        "bad argument '{what}': {len} is larger than the buffer ({cap} bytes)"
                    )));
                }
            }
        }
        // The most a slice may span; an end past the address space is a
        // length no buffer can have.
        if len > isize::MAX as usize || addr.checked_add(len).is_none() {
            return Err(bad(format!(
                "bad argument '{what}': {len} bytes do not fit at that address"
            )));
        }
        Ok(CBuf {
            ptr: addr as *mut u8,
            len,
        })
    }

    /// The buffer, to read into.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: `ptr` is not NULL and `ptr..ptr + len` is within one
        // cdata object: an array's `len` was checked against its
        // `ffi.sizeof`, a pointer's is the caller's declared length, as
        // sock.lua trusts it. The object stays alive and in place while
        // the slice exists, which is only inside the call that received
        // it (see the module's comment); `&mut self` keeps this the only
        // slice the bridge has of it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// The buffer, to write from.
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: as for `as_mut_slice`; a shared slice of the same
        // checked bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// `enter(n, co) -> bool`: lends the Lua thread in slot `n`, whose
/// coroutine must be `co` ([`crate::threads::enter_slot`]).
unsafe extern "C-unwind" fn enter(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: LuaJIT calls a C function with a valid state and its
    // arguments at stack indices 1..; `lua_tonumber` and `lua_topointer`
    // read any value (0 and NULL for the wrong types or a missing one),
    // and one result slot is always free (LUA_MINSTACK).
    let (n, co) = unsafe { (ffi::lua_tonumber(l, 1), ffi::lua_topointer(l, 2)) };
    let ok = catch_unwind(|| crate::threads::enter_slot(n, co as usize)).unwrap_or(false);
    // SAFETY: as above.
    unsafe { ffi::lua_pushboolean(l, c_int::from(ok)) };
    1
}

/// `leave()`: ends the innermost loan ([`crate::threads::leave`]).
unsafe extern "C-unwind" fn leave(_l: *mut ffi::lua_State) -> c_int {
    let _ = catch_unwind(crate::threads::leave);
    0
}

/// The Lua function `enter(n, co)`.
pub(crate) fn enter_fn(lua: &Lua) -> mlua::Result<mlua::Function> {
    // SAFETY: `enter` reads its arguments as any values and pushes one
    // boolean; it raises no Lua error and lets no panic out.
    unsafe { lua.create_c_function(enter) }
}

/// The Lua function `leave()`.
pub(crate) fn leave_fn(lua: &Lua) -> mlua::Result<mlua::Function> {
    // SAFETY: `leave` touches no Lua value, raises no Lua error and lets
    // no panic out.
    unsafe { lua.create_c_function(leave) }
}

/// A LuaJIT state with every library, `ffi` and `debug` included.
pub(crate) fn new_state_with_ffi() -> Lua {
    // SAFETY: mlua calls a state with the `ffi` (and `debug`) library
    // unsafe because Lua code can then read and write any memory. That is
    // the point here: sock.lua programs pass FFI `char[N]` buffers to
    // `recv`/`send` and call C functions (e.g. `getsockname(s.s, ..)`), and
    // they ran with the FFI before the port. The Rust side of this crate
    // touches the buffers' memory only through `CBuf`, above.
    unsafe { Lua::unsafe_new_with(StdLib::ALL, LuaOptions::default()) }
}

/// A duplicate of the open descriptor `fd` (LuaSocket's `setfd` adopts
/// one this way; the original stays with its owner).
pub(crate) fn dup_socket_fd(fd: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(std::io::Error::from_raw_os_error(9)); // EBADF
    }
    // SAFETY: the borrow lasts for this statement only (no Lua code runs
    // meanwhile) and only duplicates the descriptor; one that is not open
    // makes the duplication fail with EBADF.
    unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()
}

/// Takes over the descriptor `fd` of a stream socket, as socketloop's
/// `loop.wrap(fd)` does: closing the async socket closes `fd`, so the
/// caller must not close it again (as upstream).
pub(crate) fn take_stream_fd(fd: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let dup = dup_socket_fd(fd)?;
    if socket2::SockRef::from(&dup).r#type()? != socket2::Type::STREAM {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a stream socket",
        ));
    }
    drop(dup);
    // SAFETY: `fd` is open (duplicating it worked) and is a stream socket;
    // the Lua caller hands it over, as to upstream's `wrap(fd)`.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
