//! Switches between Lua and Rust threads sized for `valgrind
//! --tool=callgrind`: one case, run a given number of round trips, once.
//! `sockloop-lua/bench/callgrind_bridge.sh` runs each case at two counts
//! and divides the difference in instructions by the difference in
//! counts, so start-up (the Lua state, the loop) and exit cancel out.
//! Every round trip carries an integer each way, as the Lua cases of
//! `sockloop-lua/bench/bridge_cg.lua` do.
//!
//! ```text
//! bridge_cg rust-rust N   a Rust thread resumes a Rust thread that suspends back (sockloop alone)
//! bridge_cg rust-lua N    a Rust thread resumes a Lua thread (`sock.suspend`) N times
//! bridge_cg lua-rust N    a Lua thread (`sock.resume`) resumes a Rust thread N times
//! ```
//!
//! Only `sockloop_lua`'s public API is used, so the file builds at older
//! commits too (the script copies it there).

use std::hint::black_box;

use sockloop::Value;

/// A Rust thread that answers each resume's integer with that integer + 1,
/// until it is resumed with something else (a cancel resumes it with `()`).
fn rust_echo() -> sockloop::Thread<()> {
    sockloop::newthread(async {
        let mut x: i64 = 0;
        while let Ok(v) = sockloop::suspend(x + 1).await.get::<i64>() {
            x = v;
        }
    })
}

/// `n` round trips from the calling Rust thread into `t`, each carrying an
/// integer there and back; the final integer.
fn drive<T>(t: &sockloop::Thread<T>, n: u64) -> i64 {
    // The first resume starts the thread's body.
    let mut v: i64 = 0;
    if let Err(e) = sockloop::resume(t, v) {
        panic!("first resume: {e}");
    }
    for _ in 0..n {
        v = match sockloop::resume(t, v).map(|r| r.map(Value::get::<i64>)) {
            Ok(Some(Ok(x))) => x,
            other => panic!("resume gave {other:?}"),
        };
    }
    black_box(v)
}

fn rust_rust(n: u64) {
    let v = sockloop::run(async move {
        let t = rust_echo();
        let v = drive(&t, n);
        t.cancel();
        v
    });
    assert_eq!(v, n as i64);
}

fn rust_lua(n: u64) -> mlua::Result<()> {
    let lua = sockloop_lua::new_lua()?;
    let f: mlua::Function = lua
        .load(
            "local sock = require'sock'
             return function(x) while x do x = sock.suspend(x + 1) end end",
        )
        .eval()?;
    let t = sockloop_lua::newthread(&lua, f, Some("echo".into()))?;
    let v = sockloop::run(async move {
        let v = drive(&t, n);
        t.cancel();
        v
    });
    assert_eq!(v, n as i64, "rust-lua");
    Ok(())
}

fn lua_rust(n: u64) -> mlua::Result<()> {
    let lua = sockloop_lua::new_lua()?;
    let f: mlua::Function = lua
        .load(
            "local sock = require'sock'
             return function(t, n)
                 local v = sock.resume(t, 0) -- starts the body
                 v = 0
                 for _ = 1, n do v = sock.resume(t, v) end
                 return v
             end",
        )
        .eval()?;
    let l = sockloop_lua::newthread(&lua, f, Some("driver".into()))?;
    let out = sockloop::run(async move {
        let t = rust_echo();
        let args = vec![Value::new(t.untyped()), Value::new(n as i64)];
        // The driver never waits, so it finishes inside this resume, which
        // returns its result.
        let out = sockloop::resume(&l, args);
        t.cancel();
        out
    });
    match out.map(|o| o.map(|v| v.get::<sockloop_lua::LuaOutput>())) {
        Ok(Some(Ok(Ok(v)))) => assert_eq!(v.get::<i64>().ok(), Some(n as i64)),
        other => panic!("the Lua driver gave {other:?}"),
    }
    Ok(())
}

fn main() -> mlua::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map(String::as_str).unwrap_or("");
    let n: u64 = match args.get(2).map(|s| s.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: bridge_cg CASE COUNT (see the file's header)");
            std::process::exit(2);
        }
    };
    match case {
        "rust-rust" => rust_rust(n),
        "rust-lua" => rust_lua(n)?,
        "lua-rust" => lua_rust(n)?,
        _ => {
            eprintln!("unknown case {case:?} (see the file's header)");
            std::process::exit(2);
        }
    }
    Ok(())
}
