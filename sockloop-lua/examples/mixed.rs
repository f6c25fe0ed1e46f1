//! A Rust program that still runs one unported Lua function: the server
//! was ported to Rust, the client is the old sock.lua code, both on one
//! loop. The README's "Porting a code base step by step" shows it.
//!
//! `cargo run -p sockloop-lua --example mixed`

fn main() {
    let lua = sockloop_lua::new_lua().unwrap();
    // The unported Lua client: one function, as it was.
    let client: mlua::Function = lua
        .load(
            r#"
        local sock, ffi = require'sock', require'ffi'
        return function(port)
            local c = assert(sock.tcp())
            assert(c:connect('127.0.0.1', port, sock.clock() + 5))
            assert(c:send('hello'))
            local buf = ffi.new'char[5]'
            assert(c:recvn(buf, 5, sock.clock() + 5))
            c:close()
            return ffi.string(buf, 5)
        end"#,
        )
        .eval()
        .unwrap();
    let echoed = sockloop::run(async move {
        // The ported server, in Rust.
        let l = sockloop::tcp()?;
        l.listen(("127.0.0.1", 0))?;
        let port = l.local_addr()?.port();
        sockloop::thread(async move {
            let c = l.accept(sockloop::clock() + 5.0).await?;
            let mut buf = [0u8; 5];
            c.recvn(&mut buf, sockloop::clock() + 5.0).await?;
            c.send(&buf, sockloop::clock() + 5.0).await
        });
        // The Lua function as a sockloop thread; resume's value is its arguments.
        let t = sockloop_lua::newthread(&lua, client, None).unwrap();
        sockloop::resume(&t, port)?;
        let out = t.join(sockloop::clock() + 10.0).await?;
        out.unwrap().get::<String>()
    });
    assert_eq!(echoed.unwrap(), "hello");
    println!("echoed: hello");
}
