//! A socketloop-style reverse-echo server: `newserver` answers each line
//! reversed; three clients, each in its own thread, send a few lines and
//! print what comes back. The server closes when the last client is done
//! and `start` returns by itself.
//!
//! ```text
//! cargo run --example reverse_echo
//! ```
//!
//! The Lua original this mirrors:
//!
//! ```lua
//! local loop = require'socketloop'
//! loop.newserver('127.0.0.1', 0, function(skt)
//!     while true do
//!         local line = skt:receive'*l'
//!         if not line then break end
//!         skt:send(line:reverse() .. '\n')
//!     end
//! end)
//! ```

use std::cell::Cell;
use std::rc::Rc;

use sockloop::socketloop::{self, ASocket};

const CLIENTS: usize = 3;

fn main() -> Result<(), sockloop::Error> {
    let server = socketloop::newserver("127.0.0.1", 0, |c: ASocket| async move {
        let peer = c
            .getpeername()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| e.to_string());
        loop {
            match c.receive("*l").await {
                Ok(mut line) => {
                    line.reverse();
                    line.push(b'\n');
                    if let Err(e) = c.send(&line).await {
                        println!("[server] {peer}: send failed: {e}");
                        break;
                    }
                }
                Err(e) => {
                    // "closed" is the peer hanging up, as in LuaSocket.
                    println!("[server] {peer}: {}", e.luasocket_str());
                    break;
                }
            }
        }
    })?;
    let port = server.local_addr()?.port();
    println!("[server] listening on 127.0.0.1:{port}");

    let server = Rc::new(server);
    let done = Rc::new(Cell::new(0));
    for n in 1..=CLIENTS {
        let (server, done) = (server.clone(), done.clone());
        socketloop::newthread(async move {
            if let Err(e) = client(n, port).await {
                println!("[client {n}] failed: {e}");
            }
            done.set(done.get() + 1);
            if done.get() == CLIENTS {
                println!("[main] all clients done; closing the server");
                server.close();
            }
        });
    }

    socketloop::start(None)?;
    println!("[main] the loop ran out of work; bye");
    Ok(())
}

async fn client(n: usize, port: u16) -> sockloop::Result<()> {
    let c = socketloop::connect("127.0.0.1", port, None, None).await?;
    for word in ["hello", "socketloop", "from Lua to Rust"] {
        let line = format!("{word} #{n}");
        c.send(format!("{line}\r\n").as_bytes()).await?;
        let back = c.receive("*l").await?;
        println!(
            "[client {n}] {line:?} -> {:?}",
            String::from_utf8_lossy(&back)
        );
        sockloop::sleep(0.005).await;
    }
    c.close()
}
