//! See inside a running loop: a small echo server, two clients that get
//! their echo, and one client stuck waiting for a reply it never asked
//! for. After two seconds another OS thread takes the loop's inventory
//! through an `InventoryHandle` and prints it: the stuck thread shows as
//! "waiting ... read on fd N 127.0.0.1:A -> 127.0.0.1:PORT since 2.0 s,
//! no deadline".
//!
//! ```text
//! cargo run --example inspect                # print once and exit
//! cargo run --example inspect -- --serve     # also serve it: nc 127.0.0.1 PORT
//! ```
//!
//! With `--serve` the program keeps running and serves the same table on
//! a loopback port (`sockloop::serve_inventory`) until it is stopped.

use std::rc::Rc;

use sockloop::{clock, tcp, thread_named, Tcp};

async fn echo(c: Tcp) -> sockloop::Result<()> {
    let mut buf = [0u8; 512];
    loop {
        let n = c.recv(&mut buf, clock() + 30.0).await?;
        if n == 0 {
            return Ok(());
        }
        c.send(&buf[..n], clock() + 30.0).await?;
    }
}

fn main() -> sockloop::Result<()> {
    // The waits' bookkeeping runs from here on (a load per park before).
    let serve = std::env::args().any(|a| a == "--serve");
    let server = Rc::new(tcp()?);
    server.listen("127.0.0.1:0")?;
    let addr = server.local_addr()?;
    println!("echo server on {addr}");

    let srv = server.clone();
    let acceptor = thread_named("acceptor", async move {
        let mut n = 0;
        while let Ok(c) = srv.accept(None).await {
            n += 1;
            thread_named(format!("conn {n}"), echo(c));
        }
    });

    // Two clients that behave: one echo each, then they leave.
    for i in 0..2 {
        let a = addr.clone();
        thread_named(format!("client {i}"), async move {
            let c = tcp()?;
            c.connect(&a, clock() + 5.0).await?;
            c.send(b"hello", None).await?;
            let mut buf = [0u8; 5];
            c.recvn(&mut buf, clock() + 5.0).await?;
            c.close()
        });
    }

    // The stuck one: it waits for a reply to a request it never sent,
    // with no deadline.
    let a = addr.clone();
    let stuck = thread_named("stuck client", async move {
        let c = tcp()?;
        c.connect(&a, clock() + 5.0).await?;
        let mut buf = [0u8; 5];
        c.recvn(&mut buf, None).await
    });

    let handle = sockloop::inventory_handle();
    let printer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        handle.get(clock() + 5.0)
    });

    sockloop::run(async move {
        let served = if serve {
            let (t, a) = sockloop::serve_inventory("127.0.0.1:0")?;
            println!("inventory served on {a} (nc 127.0.0.1 {})", a.port());
            Some(t)
        } else {
            None
        };
        // Wait for the printer without blocking the loop.
        while !printer.is_finished() {
            sockloop::sleep(0.05).await;
        }
        match printer.join() {
            Ok(inv) => {
                let inv = inv?;
                print!("{inv}");
                let st = inv
                    .threads
                    .iter()
                    .find(|t| t.name.as_deref() == Some("stuck client"));
                assert!(st.is_some_and(|t| t.waiting.is_some()));
            }
            Err(_) => eprintln!("the printer thread panicked"),
        }
        if let Some(t) = served {
            while !t.is_finished() {
                sockloop::sleep(1.0).await;
            }
        }
        stuck.cancel();
        let e = stuck.join(clock() + 5.0).await?.unwrap_err();
        println!("stuck client cancelled: {e}");
        acceptor.cancel();
        sockloop::Result::Ok(())
    })
}
