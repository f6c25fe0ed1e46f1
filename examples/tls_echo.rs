//! A TLS echo server and its clients on loopback, with a certificate made
//! at start-up (rcgen): the server echoes each connection until the
//! client's `close_notify`; each client prints the protocol the handshake
//! settled on (TLS version, cipher suite, ALPN), sends a few lines and
//! checks the echo. One client uses the LuaSec-style `ssl` layer. The
//! server closes after the last client and the program ends by itself.
//!
//! ```text
//! cargo run --example tls_echo --features tls
//! ```
//!
//! The Lua original this mirrors (luapower's sock + sock_libtls):
//!
//! ```lua
//! local stls = require'sock_libtls'
//! local sstcp = stls.server_stcp(tcp, {cert = cert, key = key, alpn = 'echo/1'})
//! thread(function()
//!     while true do
//!         local c = sstcp:accept()
//!         thread(function()
//!             local buf = ffi.new'char[4096]'
//!             while true do
//!                 local n = c:recv(buf, 4096)
//!                 if not n or n == 0 then break end
//!                 c:send(buf, n)
//!             end
//!             c:close()
//!         end)
//!     end
//! end)
//! ```

use std::cell::Cell;
use std::rc::Rc;

use sockloop::{client_stcp, clock, server_stcp, ssl, tcp, thread, Error, TlsConfig};

const CLIENTS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A self-signed certificate for this run.
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let (cert, key) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    let server_cfg = TlsConfig::server()
        .cert_pem(&cert, &key)
        .alpn(["echo/1"])
        .build()?;
    let client_cfg = TlsConfig::client().ca_pem(&cert).alpn(["echo/1"]).build()?;

    let listener = tcp()?;
    listener.listen(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    let server = Rc::new(server_stcp(listener, &server_cfg)?);
    println!("[server] TLS on {addr}");

    let s = server.clone();
    thread(async move {
        loop {
            // One client's failed handshake must not stop the server.
            let conn = match s.accept(None).await {
                Ok(conn) => conn,
                Err(e) if e.name() == "closed" => break,
                Err(e) => {
                    println!("[server] a client failed: {e}");
                    continue;
                }
            };
            let peer = conn
                .remote_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string());
            thread(async move {
                let mut buf = [0u8; 4096];
                let mut total = 0;
                loop {
                    match conn.recv(&mut buf, clock() + 5.0).await {
                        Ok(0) => break, // the client's close_notify
                        Ok(n) => {
                            if conn.send(&buf[..n], clock() + 5.0).await.is_err() {
                                break;
                            }
                            total += n;
                        }
                        Err(e) => {
                            println!("[server] {peer}: {e}");
                            break;
                        }
                    }
                }
                println!("[server] {peer}: echoed {total} bytes");
            });
        }
    });

    let done = Rc::new(Cell::new(0));
    for n in 1..=CLIENTS {
        let (cfg, done, server, addr) = (
            client_cfg.clone(),
            done.clone(),
            server.clone(),
            addr.clone(),
        );
        thread(async move {
            if let Err(e) = client(n, &addr, &cfg).await {
                println!("[client {n}] failed: {e}");
                std::process::exit(1);
            }
            done.set(done.get() + 1);
            if done.get() == CLIENTS {
                let _ = server.close();
            }
        });
    }
    sockloop::start()?;
    assert_eq!(done.get(), CLIENTS, "every client finished");
    println!("all {CLIENTS} clients done");
    Ok(())
}

async fn client(n: usize, addr: &sockloop::SockAddr, cfg: &TlsConfig) -> Result<(), Error> {
    let t = tcp()?;
    t.connect(addr, clock() + 5.0).await?;
    if n == CLIENTS {
        // LuaSec's way: ssl.wrap, sni, dohandshake, then LuaSocket's receive.
        let conn = ssl::wrap(t, cfg);
        conn.sni("localhost");
        conn.settimeout(Some(5.0));
        conn.dohandshake().await?;
        let (version, suite) = conn.info().unwrap_or(("?", "?"));
        let alpn = conn.getalpn().unwrap_or_default();
        println!(
            "[client {n}] ssl.wrap: {version}, {suite}, ALPN {}",
            String::from_utf8_lossy(&alpn)
        );
        conn.send(b"hello from LuaSec's API\n").await?;
        let line = conn.receive("*l").await?;
        println!("[client {n}] got {:?}", String::from_utf8_lossy(&line));
        return conn.close();
    }
    let conn = client_stcp(t, "localhost", cfg, clock() + 5.0).await?;
    println!(
        "[client {n}] {}, {}, ALPN {}",
        conn.tls_version().unwrap_or("?"),
        conn.cipher_suite().unwrap_or("?"),
        String::from_utf8_lossy(conn.alpn_protocol().unwrap_or_default())
    );
    for i in 1..=3 {
        let msg = format!("client {n}, line {i}\n");
        conn.send(msg.as_bytes(), clock() + 5.0).await?;
        let mut back = vec![0u8; msg.len()];
        conn.recvn(&mut back, clock() + 5.0).await?;
        assert_eq!(back, msg.as_bytes());
    }
    println!("[client {n}] 3 lines echoed");
    conn.shutdown(std::net::Shutdown::Write, clock() + 5.0)
        .await?;
    // The server's close_notify ends the stream cleanly.
    assert!(conn.recvall(clock() + 5.0).await?.is_empty());
    Ok(())
}
