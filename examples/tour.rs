//! A walk through sockloop: threads, suspend/resume, transfer, sleep jobs,
//! timers, cancellation, sockets and threads that return `Result`s, with
//! readable output.
//!
//! `cargo run --example tour`

use std::cell::RefCell;
use std::rc::Rc;

fn section(title: &str) {
    println!("\n== {title} ==");
}

fn main() -> anyhow::Result<()> {
    section("1. threads are created suspended; resume runs them synchronously");
    let t = sockloop::newthread(async {
        println!("  [worker] started, suspending with \"hello\"");
        let v = sockloop::suspend("hello").await;
        let n = v.get::<i32>().unwrap_or(-1);
        println!("  [worker] resumed with {n}, finishing");
    });
    println!("  [main] newthread returned; status = {:?}", t.status());
    let out = sockloop::resume(&t, ())?;
    let word = out.and_then(|v| v.get::<&str>().ok());
    println!(
        "  [main] resume returned {word:?}; status = {:?}",
        t.status()
    );
    sockloop::resume(&t, 42)?;
    println!(
        "  [main] second resume returned; finished = {}",
        t.is_finished()
    );

    section("2. misuse is a named error, not a panic");
    match sockloop::resume(&t, ()) {
        Err(e) => println!("  resume of a finished thread: Err({})", e.name()),
        Ok(_) => println!("  unexpected Ok"),
    }
    let v = sockloop::Value::new(42);
    let shown = format!("{v:?}");
    match v.get::<u64>() {
        Err(e) => println!("  {shown} taken as a u64: Err({e})"),
        Ok(_) => println!("  unexpected Ok"),
    }

    section("3. transfer: symmetric hand-off between two threads");
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let ping_slot: Rc<RefCell<Option<sockloop::Thread>>> = Rc::default();
    let (l1, l2, slot) = (log.clone(), log.clone(), ping_slot.clone());
    let pong = sockloop::newthread(async move {
        let mut v = sockloop::suspend(()).await;
        for _ in 0..3 {
            let n = v.get::<u32>().unwrap_or(0);
            l2.borrow_mut().push(format!("pong {n}"));
            let ping = slot.borrow().clone();
            match ping {
                Some(ping) => v = sockloop::transfer(&ping, n + 1).await,
                None => return,
            }
        }
    });
    sockloop::resume(&pong, ())?; // park pong in suspend
    let pong2 = pong.clone();
    let ping = sockloop::newthread(async move {
        let mut n = 0u32;
        for _ in 0..3 {
            l1.borrow_mut().push(format!("ping {n}"));
            let v = sockloop::transfer(&pong2, n + 1).await;
            n = v.get::<u32>().unwrap_or(0);
        }
        sockloop::suspend(()).await;
    });
    *ping_slot.borrow_mut() = Some(ping.clone());
    sockloop::resume(&ping, ())?;
    println!("  {}", log.borrow().join(" -> "));

    section("4. sleeping threads and timers run in deadline order");
    let t0 = sockloop::clock();
    for (name, dt) in [("slow", 0.03), ("fast", 0.01), ("middle", 0.02)] {
        sockloop::thread(async move {
            sockloop::sleep(dt).await;
            println!(
                "  [{name}] woke after {:.0} ms",
                (sockloop::clock() - t0) * 1000.0
            );
        });
    }
    let ticks = Rc::new(RefCell::new(0));
    let ticks2 = ticks.clone();
    sockloop::runevery(0.012, move || {
        *ticks2.borrow_mut() += 1;
        println!(
            "  [runevery] tick {} at {:.0} ms",
            ticks2.borrow(),
            (sockloop::clock() - t0) * 1000.0
        );
        *ticks2.borrow() < 3 // false stops the timer
    });
    sockloop::start()?;

    section("5. a sleep job woken early with a value");
    let sj = Rc::new(sockloop::sleep_job());
    let sj2 = sj.clone();
    sockloop::thread(async move {
        println!("  [sleeper] sleeping for an hour...");
        match sj2.sleep(3600.0).await {
            Some(v) => println!(
                "  [sleeper] woken early with {:?}",
                v.get::<&str>().unwrap_or("?")
            ),
            None => println!("  [sleeper] slept the full hour"),
        }
    });
    sockloop::runafter(0.01, move || {
        let delivered = sj.wakeup("wake up!");
        println!("  [timer] wakeup delivered: {delivered}");
    });
    sockloop::start()?;

    section("6. cancellation the thread can see and recover from");
    let worker = sockloop::thread(async {
        sockloop::sleep(3600.0).await;
        if sockloop::cancelled() {
            println!("  [worker] cancelled while sleeping; cleaning up and finishing normally");
        }
    });
    sockloop::runafter(0.01, move || worker.cancel());
    sockloop::start()?;

    section("7. sockets: a client/server exchange with deadlines");
    let dead_port = sockloop::run(async {
        let server = sockloop::tcp()?;
        server.listen(("127.0.0.1", 0))?;
        let port = server.local_addr()?.port();
        println!("  [server] listening on 127.0.0.1:{port}");
        // The server thread returns a Result: `?` works inside it, and the
        // value (or the error) goes to whoever joins it.
        let srv = sockloop::thread_named("server", async move {
            let conn = server.accept(sockloop::clock() + 5.0).await?;
            let peer = conn.remote_addr()?.to_string();
            let mut buf = [0u8; 4];
            conn.recvn(&mut buf, sockloop::clock() + 5.0).await?;
            println!(
                "  [server] got {:?} from {peer}",
                String::from_utf8_lossy(&buf)
            );
            conn.send(b"pong", sockloop::clock() + 5.0).await?;
            // Then the server goes quiet: the client's next recv times out.
            sockloop::sleep(0.2).await;
            Ok::<_, sockloop::Error>(peer)
        });
        let client = sockloop::tcp()?;
        client
            .connect(("127.0.0.1", port), sockloop::clock() + 5.0)
            .await?;
        client.send(b"ping", sockloop::clock() + 5.0).await?;
        let mut buf = [0u8; 4];
        client.recvn(&mut buf, sockloop::clock() + 5.0).await?;
        println!("  [client] got {:?}", String::from_utf8_lossy(&buf));
        let e = client
            .recv(&mut buf, sockloop::clock() + 0.05)
            .await
            .unwrap_err();
        println!("  [client] recv with a 50 ms deadline: Err({})", e.name());
        client.close()?;
        println!(
            "  [client] after close(): Err({})",
            client.close().unwrap_err().name()
        );
        // A closed port: the error has a name a porter can branch on.
        let closed = sockloop::tcp()?;
        closed.bind(("127.0.0.1", 0))?;
        let dead_port = closed.local_addr()?.port();
        closed.close()?;
        let e = sockloop::tcp()?
            .connect(("127.0.0.1", dead_port), sockloop::clock() + 5.0)
            .await
            .unwrap_err();
        println!("  [client] connect to a closed port: Err({})", e.name());
        let peer = srv.join(sockloop::clock() + 5.0).await??;
        println!(
            "  [main] joined {:?}: it served {peer}",
            srv.name().unwrap_or("?")
        );
        Ok::<_, sockloop::Error>(dead_port)
    })?;

    section("8. threads that fail: the joiner gets the Err, or start() reports it");
    sockloop::run(async move {
        let fetch = |port: u16| async move {
            let c = sockloop::tcp()?;
            c.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
                .await?; // fails: `?`
            Ok::<usize, sockloop::Error>(0)
        };
        let t = sockloop::thread_named("fetch", fetch(dead_port));
        match t.join(sockloop::clock() + 5.0).await {
            Ok(Err(e)) => println!("  [main] join -> the thread's own Err({})", e.name()),
            other => println!("  [main] unexpected {other:?}"),
        }
    });
    sockloop::thread_named("orphan", async move {
        let c = sockloop::tcp()?;
        c.connect(("127.0.0.1", dead_port), sockloop::clock() + 5.0)
            .await?;
        Ok::<(), sockloop::Error>(())
    }); // handle dropped: nobody can join it
    match sockloop::start() {
        Err(e) => println!("  start() -> Err({})\n    {e}", e.name()),
        Ok(()) => println!("  start() -> Ok (unexpected)"),
    }

    section("9. run(): one call from main, returns the future's output");
    let answer = sockloop::run(async {
        sockloop::sleep(0.005).await;
        6 * 7
    });
    println!("  run returned {answer}");

    section("10. socketloop: a line server with newserver, driven by step()");
    use sockloop::socketloop;
    let server = Rc::new(socketloop::newserver(
        "127.0.0.1",
        0,
        |c: socketloop::ASocket| async move {
            while let Ok(line) = c.receive("*l").await {
                let reply = format!("{} bytes\n", line.len());
                if c.send(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        },
    )?);
    let port = server.local_addr()?.port();
    let srv = server.clone();
    socketloop::newthread(async move {
        // socketloop's newthread runs at once, up to the first wait.
        match socketloop::connect("127.0.0.1", port, None, None).await {
            Ok(c) => {
                for line in ["hello", "socketloop"] {
                    let sent = c.send(format!("{line}\r\n").as_bytes()).await;
                    let reply = c.receive("*l").await;
                    if let (Ok(_), Ok(reply)) = (sent, reply) {
                        println!(
                            "  [client] {line:?} -> {:?}",
                            String::from_utf8_lossy(&reply)
                        );
                    }
                }
            }
            Err(e) => println!("  [client] connect failed: {e}"),
        }
        srv.close();
    });
    let mut steps = 0;
    while socketloop::step(Some(1.0)) {
        steps += 1;
    }
    println!("  step() returned false after {steps} rounds: nothing waits any more");
    Ok(())
}
