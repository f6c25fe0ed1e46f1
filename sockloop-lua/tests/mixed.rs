//! Rust and Lua on one loop: sockets, threads and values crossing both
//! ways. Loopback only; every wait has a deadline.

use std::rc::Rc;

use sockloop::{clock, Tcp, Value};

fn lua() -> mlua::Lua {
    sockloop_lua::new_lua().unwrap()
}

/// A Rust echo server and a Lua client module called from a sockloop
/// thread, then a Lua echo server and a Rust client.
#[test]
fn echo_rust_server_lua_client_and_back() {
    let lua = lua();
    let client: mlua::Function = lua
        .load(
            r#"
            local sock = require'sock'
            local ffi = require'ffi'
            return function(port, msg)
                local c = assert(sock.tcp())
                assert(c:connect('127.0.0.1', port, sock.clock() + 5))
                assert(c:send(msg, nil, sock.clock() + 5))
                local buf = ffi.new('char[?]', #msg)
                assert(c:recvn(buf, #msg, sock.clock() + 5))
                c:close()
                return ffi.string(buf, #msg), #msg
            end"#,
        )
        .eval()
        .unwrap();
    let server: mlua::Function = lua
        .load(
            r#"
            local sock = require'sock'
            local ffi = require'ffi'
            return function(l)
                local c = assert(l:accept(sock.clock() + 5))
                local buf = ffi.new'char[256]'
                local total = 0
                while true do
                    local n = assert(c:recv(buf, 256, sock.clock() + 5))
                    if n == 0 then break end
                    total = total + n
                    assert(c:send(buf, n, sock.clock() + 5))
                end
                c:close()
                return total
            end"#,
        )
        .eval()
        .unwrap();
    let (echoed, n, served) = sockloop::run(async move {
        // Rust server, Lua client.
        let l = sockloop::tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let srv = sockloop::thread(async move {
            let c = l.accept(clock() + 5.0).await?;
            let mut buf = [0u8; 256];
            loop {
                let n = c.recv(&mut buf, clock() + 5.0).await?;
                if n == 0 {
                    return Ok::<(), sockloop::Error>(());
                }
                c.send(&buf[..n], clock() + 5.0).await?;
            }
        });
        let t = sockloop_lua::newthread(&lua, client, Some("client".into())).unwrap();
        sockloop::resume(&t, vec![Value::new(port), Value::new("hello from Lua")]).unwrap();
        let out = t.join(clock() + 10.0).await.unwrap().unwrap();
        let v = out.get::<Vec<Value>>().unwrap();
        let mut v = v.into_iter();
        let echoed = v.next().unwrap().get::<String>().unwrap();
        let n = v.next().unwrap().get::<i64>().unwrap();
        srv.join(clock() + 5.0).await.unwrap().unwrap();

        // Lua server on a Rust listener, Rust client.
        let l = sockloop::tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let t = sockloop_lua::newthread(&lua, server, None).unwrap();
        sockloop::resume(&t, l).unwrap();
        let c = sockloop::tcp().unwrap();
        c.connect(addr, clock() + 5.0).await.unwrap();
        c.send(b"ping pong", clock() + 5.0).await.unwrap();
        let mut buf = [0u8; 9];
        c.recvn(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf, b"ping pong");
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let served = t.join(clock() + 10.0).await.unwrap().unwrap();
        (echoed, n, served.get::<i64>().unwrap())
    });
    assert_eq!(echoed, "hello from Lua");
    assert_eq!(n, 14);
    assert_eq!(served, 9);
}

/// One socket, two threads: a Lua coroutine receives on it while a Rust
/// thread sends on it; an echo peer sends everything back. 1 MiB each way
/// cannot fit in the socket buffers, so this only finishes full-duplex.
#[test]
fn a_lua_coroutine_and_a_rust_thread_share_one_socket_full_duplex() {
    const TOTAL: usize = 1 << 20;
    let lua = lua();
    let reader: mlua::Function = lua
        .load(
            r#"
            local sock = require'sock'
            local ffi = require'ffi'
            return function(s, total)
                local buf = ffi.new('char[?]', total)
                local b, n = s:recvn(buf, total, sock.clock() + 30)
                if not b then return nil, n end
                -- A checksum of what came back, in order.
                local sum = 0
                local p = ffi.cast('uint8_t*', buf)
                for i = 0, total - 1 do sum = (sum * 31 + p[i]) % 1000000007 end
                return n, sum
            end"#,
        )
        .eval()
        .unwrap();
    let data: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
    let want = data
        .iter()
        .fold(0u64, |s, &b| (s * 31 + u64::from(b)) % 1_000_000_007);
    let (n, sum) = sockloop::run(async move {
        let l = sockloop::tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let c = Rc::new(sockloop::tcp().unwrap());
        c.connect(l.local_addr().unwrap(), clock() + 5.0)
            .await
            .unwrap();
        let peer = l.accept(clock() + 5.0).await.unwrap();
        // The echo peer.
        sockloop::thread(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = peer.recv(&mut buf, clock() + 30.0).await?;
                if n == 0 {
                    return Ok::<(), sockloop::Error>(());
                }
                peer.send(&buf[..n], clock() + 30.0).await?;
            }
        });
        let t = sockloop_lua::newthread(&lua, reader, Some("reader".into())).unwrap();
        sockloop::resume(&t, vec![Value::new(c.clone()), Value::new(TOTAL)]).unwrap();
        // The Rust writer on the same socket.
        let w = c.clone();
        let writer = sockloop::thread(async move {
            for chunk in data.chunks(64 * 1024) {
                w.send(chunk, clock() + 30.0).await?;
            }
            Ok::<(), sockloop::Error>(())
        });
        let out = t.join(clock() + 60.0).await.unwrap().unwrap();
        writer.join(clock() + 5.0).await.unwrap().unwrap();
        c.close().unwrap();
        let mut v = out.get::<Vec<Value>>().unwrap().into_iter();
        (
            v.next().unwrap().get::<i64>().unwrap(),
            v.next().unwrap().get::<i64>().unwrap(),
        )
    });
    assert_eq!(n as usize, TOTAL);
    assert_eq!(sum as u64, want);
}

/// Values crossing through resume/suspend/transfer/sleep-job wakeup, a Lua
/// thread resuming a Rust thread, and a table kept as an opaque handle.
#[test]
fn values_cross_both_ways() {
    let lua = lua();
    let f: mlua::Function = lua
        .load(
            r#"
            local sock = require'sock'
            return function(rust_thread, a, b)
                -- Resumed from Rust with (rust_thread, 1.5, 'two').
                local tbl = {k = 'v'}
                local x, y, z = sock.suspend(a * 2, b .. '!', tbl)
                -- Rust resumed with (nil, true, <the same table>).
                local same = (z == tbl)
                -- Lua resumes the Rust thread, which suspends with 'rust says hi'.
                local r = sock.resume(rust_thread, 'from lua')
                return x == nil, y, same, r
            end"#,
        )
        .eval()
        .unwrap();
    let out = sockloop::run(async move {
        let rust = sockloop::newthread_with(|v: Value| async move {
            let got = v.get::<String>().unwrap();
            sockloop::suspend(format!("rust says hi to {got}")).await;
        });
        let t = sockloop_lua::newthread(&lua, f, None).unwrap();
        let v = sockloop::resume(
            &t,
            vec![
                Value::new(rust.untyped()),
                Value::new(1.5f64),
                Value::new("two"),
            ],
        )
        .unwrap()
        .unwrap();
        let mut v = v.get::<Vec<Value>>().unwrap().into_iter();
        assert_eq!(v.next().unwrap().get::<i64>().unwrap(), 3);
        assert_eq!(v.next().unwrap().get::<String>().unwrap(), "two!");
        let tbl = v.next().unwrap().get::<mlua::Value>().unwrap();
        assert!(tbl.is_table());
        // It finishes during this resume: resume returns its results.
        let out = sockloop::resume(&t, vec![Value::new(()), Value::new(true), Value::new(tbl)])
            .unwrap()
            .unwrap();
        assert!(t.is_finished());
        let out = out.get::<sockloop_lua::LuaOutput>().unwrap().unwrap();
        out.get::<Vec<Value>>().unwrap()
    });
    let mut v = out.into_iter();
    assert!(v.next().unwrap().get::<bool>().unwrap());
    assert!(v.next().unwrap().get::<bool>().unwrap());
    assert!(v.next().unwrap().get::<bool>().unwrap());
    assert_eq!(
        v.next().unwrap().get::<String>().unwrap(),
        "rust says hi to from lua"
    );
}

/// A sleep job: Rust wakes a sleeping Lua thread with values.
#[test]
fn a_rust_thread_wakes_a_lua_sleep_job() {
    let lua = lua();
    let (f, sj): (mlua::Function, mlua::Value) = lua
        .load(
            r#"
            local sock = require'sock'
            local sj = sock.sleep_job()
            return function() return sj:sleep(5) end, sj"#,
        )
        .eval()
        .unwrap();
    let wake: mlua::Function = lua
        .load("return function(sj, ...) return sj:wakeup(...) end")
        .eval()
        .unwrap();
    let out = sockloop::run(async move {
        let t = sockloop_lua::newthread(&lua, f, None).unwrap();
        sockloop::resume(&t, ()).unwrap();
        sockloop::sleep(0.01).await;
        let woke: bool = wake.call((sj, "up", 7)).unwrap();
        assert!(woke);
        t.join(clock() + 5.0).await.unwrap().unwrap()
    });
    let mut v = out.get::<Vec<Value>>().unwrap().into_iter();
    assert_eq!(v.next().unwrap().get::<String>().unwrap(), "up");
    assert_eq!(v.next().unwrap().get::<i64>().unwrap(), 7);
}

/// A Lua error ends its thread the way a Rust `Err` does: `join` gives
/// it, and with no handle left `start()` reports `thread_failed`.
#[test]
fn a_lua_error_is_a_thread_error() {
    let lua = lua();
    let f: mlua::Function = lua
        .load("return function() require'sock'.sleep(0.001); error('boom') end")
        .eval()
        .unwrap();
    let t = sockloop_lua::newthread(&lua, f.clone(), Some("bad".into())).unwrap();
    sockloop::resume(&t, ()).unwrap();
    sockloop::start().unwrap();
    let e = t.error().unwrap();
    assert_eq!(e.name(), "thread_failed");
    assert!(e.to_string().contains("boom"), "{e}");
    let msg = sockloop::run(async move { t.join(None).await.unwrap().unwrap_err() });
    assert!(msg.contains("boom"), "{msg}");

    let t = sockloop_lua::newthread(&lua, f, Some("orphan".into())).unwrap();
    sockloop::resume(&t, ()).unwrap();
    drop(t);
    let e = sockloop::start().unwrap_err();
    assert_eq!(e.name(), "thread_failed");
    assert!(
        e.to_string().contains("orphan") && e.to_string().contains("boom"),
        "{e}"
    );
}

/// `Tcp` made in Rust used from Lua, and a Lua socket used from Rust.
#[test]
fn sockets_change_hands() {
    let lua = lua();
    let s: mlua::Value = lua.load("return require'sock'.tcp()").eval().unwrap();
    let tcp: Rc<Tcp> = sockloop_lua::tcp_of(&s).unwrap();
    tcp.bind(("127.0.0.1", 0)).unwrap();
    let port: u16 = lua
        .load("local s = ...; return s:local_addr():port()")
        .call(s.clone())
        .unwrap();
    assert_eq!(port, tcp.local_addr().unwrap().port());
    let fd: i64 = lua.load("return (...).s").call(s).unwrap();
    assert!(fd >= 0);
    let not: mlua::Value = lua.load("return {}").eval().unwrap();
    assert!(sockloop_lua::tcp_of(&not).is_err());
}

/// `start()`'s error text with the thread ids (every run of digits)
/// replaced by `N`.
fn without_ids(e: &sockloop::Error) -> String {
    let mut out = String::new();
    for c in e.to_string().chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

/// When Rust drives the loop, a Lua error in a thread is reported the way
/// a Rust thread's `Err` is: `start()` fails with `thread_failed` and the
/// same text, for a Rust thread, a socketloop `newthread` and a
/// `newserver` handler alike, and the loop stays usable. (When Lua runs
/// it, the Lua call raises the Lua error, as upstream.)
#[test]
fn a_lua_error_is_reported_like_a_rust_threads_error() {
    // A Rust thread whose body returns Err, with no handle left.
    drop(sockloop::ThreadBuilder::new().name("job").thread(async {
        sockloop::sleep(0.001).await;
        Err::<(), String>("boom".into())
    }));
    let rust = sockloop::start().unwrap_err();
    assert_eq!(rust.name(), "thread_failed");
    assert_eq!(
        without_ids(&rust),
        "thread_failed: sockloop thread 'job' (id N) returned Err: boom"
    );

    // The same from Lua: socketloop's newthread, after a wait.
    let lua = lua();
    lua.load(
        "local loop, sock = require'socketloop', require'sock'
         loop.newthread(function() sock.sleep(0.001); error('boom', 0) end)",
    )
    .exec()
    .unwrap();
    let e = sockloop::start().unwrap_err();
    assert_eq!(e.name(), "thread_failed");
    assert_eq!(
        without_ids(&e),
        "thread_failed: sockloop thread N returned Err: boom"
    );
    // When Lua runs the loop, loop.start() raises the Lua error as
    // socketloop does: its message (and traceback), at once.
    let err = lua
        .load(
            "local loop, sock = require'socketloop', require'sock'
             loop.newthread(function() sock.sleep(0.001); error('boom', 0) end)
             loop.start()",
        )
        .exec()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("boom\nstack traceback:") && !err.contains("thread_failed"),
        "{err}"
    );

    // A newserver handler that fails at once: socketloop's start() reports
    // it after the round (sockloop::start() would run on while the server
    // waits, as for a Rust thread), and the server goes on.
    let port: u16 = lua
        .load(
            "local loop = require'socketloop'
             server = assert(loop.newserver('127.0.0.1', 0, function(c)
                 c:close()
                 error('handler boom', 0)
             end))
             return select(2, server:getsockname())",
        )
        .eval()
        .unwrap();
    let client = |n: usize| async move {
        let c = sockloop::tcp()?;
        c.connect(("127.0.0.1", port), clock() + 5.0).await?;
        let mut buf = [0u8; 1];
        let got = c.recv(&mut buf, clock() + 5.0).await?;
        Ok::<(usize, usize), sockloop::Error>((n, got))
    };
    let first = sockloop::thread(client(1));
    let e = sockloop::socketloop::start(None).unwrap_err();
    assert_eq!(e.name(), "thread_failed");
    assert_eq!(
        without_ids(&e),
        "thread_failed: sockloop thread 'socketloop.newserver handler' (id N) returned Err: handler boom"
    );
    // Still accepting: a second client is served (and fails the same way).
    let second = sockloop::thread(client(2));
    let e = sockloop::socketloop::start(None).unwrap_err();
    assert_eq!(e.name(), "thread_failed");
    lua.load("server:close()").exec().unwrap();
    sockloop::start().unwrap();
    let out = sockloop::run(async move {
        (
            first.join(None).await.unwrap().unwrap(),
            second.join(None).await.unwrap().unwrap(),
        )
    });
    assert_eq!(out, ((1, 0), (2, 0))); // each saw the handler's close
    let closed: bool = lua.load("return server:closed()").eval().unwrap();
    assert!(closed);
}

/// socketloop on both sides: a Rust `socketloop::newserver` answers a Lua
/// socketloop client module; the client's async socket then goes to Rust
/// (`asocket_of`), and a Rust `ASocket` to Lua (in a `Value`), each
/// between whole lines.
#[test]
fn socketloop_sockets_cross_both_ways() {
    use sockloop::socketloop::{self as sl, ASocket};
    let lua = lua();
    let (connect, talk): (mlua::Function, mlua::Function) = lua
        .load(
            r#"
            local loop = require'socketloop'
            local function connect(port)
                local c = assert(loop.connect('127.0.0.1', port))
                c:settimeout(5)
                assert(c:send'abc\n')
                return c, assert(c:receive'*l')
            end
            local function talk(c, msg)
                assert(c:send(msg .. '\n'))
                return (c:receive'*l') -- one value: receive answers three
            end
            return connect, talk"#,
        )
        .eval()
        .unwrap();
    let server = sl::newserver("127.0.0.1", 0, |c: ASocket| async move {
        c.settimeout(Some(5.0));
        while let Ok(mut line) = c.receive("*l").await {
            line.reverse();
            line.push(b'\n');
            if c.send(&line).await.is_err() {
                break;
            }
        }
    })
    .unwrap();
    let port = server.local_addr().unwrap().port();
    let (from_lua, from_rust, in_lua) = sockloop::run(async move {
        // Lua connects; its async socket comes back to Rust.
        let t = sockloop_lua::newthread(&lua, connect, None).unwrap();
        sockloop::resume(&t, port).unwrap();
        let out = t.join(clock() + 10.0).await.unwrap().unwrap();
        let mut v = out.get::<Vec<Value>>().unwrap().into_iter();
        let c = v.next().unwrap().get::<mlua::Value>().unwrap();
        let from_lua = v.next().unwrap().get::<String>().unwrap();
        let a = sockloop_lua::asocket_of(&c).unwrap();
        a.send(b"xyz\n").await.unwrap();
        let from_rust = String::from_utf8(a.receive("*l").await.unwrap()).unwrap();
        a.close().unwrap();
        let closed: bool = lua.load("return (...):closed()").call(c).unwrap();
        assert!(closed, "Lua sees the close made from Rust");

        // A Rust ASocket goes to Lua.
        let r = sl::connect("127.0.0.1", port, None, None).await.unwrap();
        let t = sockloop_lua::newthread(&lua, talk, None).unwrap();
        sockloop::resume(&t, vec![Value::new(r), Value::new("rust socket")]).unwrap();
        let out = t.join(clock() + 10.0).await.unwrap().unwrap();
        server.close(); // run() returns once nothing waits
        (from_lua, from_rust, out.get::<String>().unwrap())
    });
    assert_eq!(from_lua, "cba");
    assert_eq!(from_rust, "zyx");
    assert_eq!(in_lua, "tekcos tsur");
}

/// A Copas thread, a sock.lua thread and a Rust thread on one loop: the
/// Copas thread serves a Copas server, the sock.lua thread is its client,
/// the Rust thread pushes into a Copas queue the Copas worker reads, and
/// all three finish in `copas.loop()`.
#[test]
fn copas_sock_and_rust_threads_on_one_loop() {
    let lua = lua();
    let log: mlua::Table = lua
        .load(
            r#"
            local copas, socket, sock = require'copas', require'socket', require'sock'
            local log = {}
            local server = assert(socket.bind('127.0.0.1', 0))
            local _, port = server:getsockname()
            copas.addserver(server, copas.handler(function(c)
                local line = c:receive()
                log[#log + 1] = 'copas server got ' .. line
                c:send(line:upper() .. '\n')
                copas.removeserver(server)
            end), 5)
            sock.thread(function()
                local s = assert(sock.tcp())
                assert(s:connect('127.0.0.1', port, sock.clock() + 5))
                assert(s:send('from sock\n', nil, sock.clock() + 5))
                local buf = require'ffi'.new'char[64]'
                local n = assert(s:recv(buf, 64, sock.clock() + 5))
                log[#log + 1] = 'sock client got ' .. require'ffi'.string(buf, n):gsub('\n', '')
                s:close()
            end)
            rust_queue = copas.queue.new{name = 'from-rust'}
            rust_queue:add_worker(function(item)
                log[#log + 1] = 'copas worker got ' .. item
            end)
            return log"#,
        )
        .eval()
        .unwrap();
    let q: mlua::Table = lua.globals().get("rust_queue").unwrap();
    let push: mlua::Function = q.get("push").unwrap();
    let stop: mlua::Function = q.get("stop").unwrap();
    let copas_loop: mlua::Function = lua.load("return require'copas'.loop").eval().unwrap();
    // The Rust thread: pushes after a sleep, then stops the queue.
    let rust = sockloop::ThreadBuilder::new()
        .name("rust")
        .newthread(async move {
            sockloop::sleep(0.01).await;
            push.call::<()>((q.clone(), "from rust")).unwrap();
            stop.call::<()>(q).unwrap();
        });
    sockloop::resume(&rust, ()).unwrap();
    copas_loop.call::<()>(()).unwrap();
    assert!(rust.is_finished());
    let mut lines: Vec<String> = log.sequence_values().map(|v| v.unwrap()).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "copas server got from sock",
            "copas worker got from rust",
            "sock client got FROM SOCK"
        ]
    );
}
