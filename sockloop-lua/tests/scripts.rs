//! The Lua scripts under `tests/lua/`, one per section of the sock
//! documentation, run on the bridge: each prints its results, which must
//! match `tests/lua/NAME.out` line for line. Loopback only; each script
//! runs on its own OS thread (its own loop and Lua state) and must finish
//! within 60 s.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lua")
}

/// Runs `tests/lua/NAME.lua` with `print` captured: the printed lines, or
/// the error that ended the script.
fn run_script(name: &str) -> Result<String, String> {
    let path = dir().join(format!("{name}.lua"));
    let (tx, rx) = mpsc::channel();
    let label = name.to_string();
    std::thread::spawn(move || {
        let name = label;
        let r = (|| -> mlua::Result<String> {
            let lua = sockloop_lua::new_lua()?;
            let out = Rc::new(RefCell::new(String::new()));
            let o = out.clone();
            lua.globals().set(
                "_out",
                lua.create_function(move |_, line: String| {
                    o.borrow_mut().push_str(&line);
                    o.borrow_mut().push('\n');
                    Ok(())
                })?,
            )?;
            lua.load(
                "print = function(...)
                    local t = {}
                    for i = 1, select('#', ...) do t[i] = tostring((select(i, ...))) end
                    _out(table.concat(t, '\\t'))
                 end",
            )
            .exec()?;
            // `arg[0]` is the script's path, as the runner sets it.
            let arg = lua.create_table()?;
            arg.set(0, path.to_string_lossy().into_owned())?;
            lua.globals().set("arg", arg)?;
            let src = std::fs::read_to_string(&path).map_err(mlua::Error::external)?;
            // As the runner runs it: the main chunk is the loop's main thread.
            let f = lua
                .load(src)
                .set_name(format!("@{name}.lua"))
                .into_function()?;
            sockloop_lua::run_main(&lua, f, mlua::MultiValue::new())?;
            let s = out.borrow().clone();
            Ok(s)
        })();
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| Err(format!("{name}.lua did not finish within 60 s")))
}

fn check(name: &str) {
    check_with(name, &format!("{name}.out"));
}

fn check_with(name: &str, out: &str) {
    let got = run_script(name).unwrap_or_else(|e| panic!("{name}.lua failed: {e}"));
    let want = std::fs::read_to_string(dir().join(out)).unwrap();
    assert_eq!(got, want, "{name}.lua printed:\n{got}");
}

#[test]
fn address_lookup() {
    check("addr");
}

#[test]
fn sockets() {
    check("sockets");
}

#[test]
fn recvn_recvall() {
    check("recvn");
}

#[test]
fn shutdown() {
    check("shutdown");
}

#[test]
fn udp() {
    check("udp");
}

#[test]
fn options() {
    check("options");
}

#[test]
fn scheduling() {
    check("scheduling");
}

#[test]
fn sleeping_and_timers() {
    check("sleeping");
}

#[test]
fn socketloop() {
    check("socketloop");
}

/// LuaSocket's face (`require'socket'`): values, types, error words,
/// classes, timeouts, options, UDP, select, dns, try/protect, sinks and
/// sources (expected output from the real LuaSocket 3.1.0, but for the
/// port's type from `getsockname`, see the script).
#[test]
fn luasocket_face() {
    check("luasocket");
}

/// sock.lua's face: return values, types and error values (strings,
/// sock.lua's error words and OS texts), `accept`'s and `recvnext`'s `sa`
/// cdata, the FFI declarations, the main-thread rules (expected output
/// from the real sock.lua).
#[test]
fn sock_face() {
    check("sock_face");
}

/// Lua errors in sock threads, raised as strings by the call that ran
/// the thread (expected output from the real sock.lua).
#[test]
fn thread_errors() {
    check("thread_errors");
}

/// `sock.run` runs the loop to its end and raises f's errors (expected
/// output from the real sock.lua).
#[test]
fn run_errors() {
    check("run_errors");
}

/// socketloop's face: the loop calls' values (`newthread`'s thread and
/// arguments, `step`/`start` with nothing to do, `current`), its async
/// sockets (`connect`'s `true`, `getsocket`'s LuaSocket object,
/// LuaSocket's values and words) (expected output from the real
/// socketloop on LuaSocket 3.1).
#[test]
fn socketloop_face() {
    check("socketloop_face");
}

/// Lua errors in socketloop threads and newserver handlers (expected
/// output from the real socketloop on LuaSocket 3.1).
#[test]
fn socketloop_errors() {
    check("socketloop_errors");
}

/// `require'copas'`: Copas' threads, names, parking, loop, exit and error
/// handlers (expected output from real Copas 4.11 with LuaSocket, see
/// tools/copas-reference-outputs.sh).
#[test]
fn copas_threads() {
    check("copas_threads");
}

/// Copas' servers, wrapped and raw sockets, per-call timeouts and the
/// values LuaSocket's calls give through them (expected output from real
/// Copas 4.11 with LuaSocket).
#[test]
fn copas_sockets() {
    check("copas_sockets");
}

/// Copas' lock, semaphore, queue, timer and future: return values and
/// error words (expected output from real Copas 4.11 with LuaSocket).
#[test]
fn copas_sync() {
    check("copas_sync");
}

#[test]
fn optional_arguments() {
    check("args");
}

/// `sock.raw`: an ICMP echo on loopback with privileges; without them the
/// script must print the error name the core gives (`access_denied`).
#[test]
fn raw_sockets() {
    match sockloop::raw(sockloop::Protocol::Icmp) {
        Ok(_) => check("raw"),
        Err(e) => {
            assert_eq!(e.name(), "access_denied");
            check_with("raw", "raw.noperm.out");
        }
    }
}

#[test]
fn a_script_error_is_reported() {
    let e = run_script("../does-not-exist").unwrap_err();
    assert!(e.contains("No such file"), "{e}");
}

/// 36,000 Lua threads parked at once (suspend, sleep, recv, a sleep job's
/// sleep), then calls that make Lua values in Rust, then all woken: no
/// parked thread holds a slot of mlua's auxiliary stack (8,000 slots).
#[test]
fn many_parked_threads() {
    check("parked");
}
