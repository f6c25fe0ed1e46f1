//! An echo server that uses every core: one sockloop loop per OS thread,
//! all sharing one reactor, each with its own `SO_REUSEPORT` listener on
//! the same port, so the kernel spreads connections across the loops.
//!
//! ```sh
//! cargo run --example multicore_echo                 # serve, run a demo client, exit
//! cargo run --example multicore_echo -- --serve 60   # serve for 60 s: nc 127.0.0.1 PORT
//! cargo run --example multicore_echo -- --loops 4 --port 9000 --serve 30
//! cargo run --example multicore_echo -- --own-drivers  # independent loops
//! ```
//!
//! With `--own-drivers` each loop runs on its own Tokio driver instead of
//! the shared reactor: cheaper per request when loops share nothing but
//! the port (see BENCHMARKS.md).
//!
//! Each reply line is prefixed with the loop that served it. Shutdown uses
//! `RemoteThread::cancel`: the main thread cancels every accept loop from
//! its own OS thread, and each loop finishes cleanly.

use std::sync::mpsc;

use anyhow::{anyhow, Context as _};

struct Args {
    loops: usize,
    port: u16,
    serve: Option<f64>,
    own_drivers: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        loops: std::thread::available_parallelism().map_or(2, |n| n.get()),
        port: 0,
        serve: None,
        own_drivers: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match a.as_str() {
            "--loops" => args.loops = val("--loops")?.parse().context("--loops")?,
            "--port" => args.port = val("--port")?.parse().context("--port")?,
            "--serve" => args.serve = Some(val("--serve")?.parse().context("--serve")?),
            "--own-drivers" => args.own_drivers = true,
            other => return Err(anyhow!("unknown argument {other:?}")),
        }
    }
    args.loops = args.loops.max(1);
    Ok(args)
}

/// One serving loop: its own listener on the shared port, a thread per
/// connection. Reports its port and its accept thread (as a `Send`
/// handle) to the main thread, then runs until that thread is cancelled.
fn serve_loop(
    id: usize,
    reactor: Option<sockloop::Reactor>,
    port: u16,
    ready: mpsc::Sender<(u16, sockloop::RemoteThread)>,
) -> anyhow::Result<usize> {
    if let Some(r) = reactor {
        sockloop::set_reactor(r)?;
    }
    let listener = sockloop::tcp()?;
    listener.setopt("reuseport", true)?;
    listener.listen(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let served = sockloop::run(async move {
        let served = std::rc::Rc::new(std::cell::Cell::new(0usize));
        let s = served.clone();
        let acceptor = sockloop::thread(async move {
            loop {
                let client = match listener.accept(None).await {
                    Ok(c) => c,
                    Err(e) if e.name() == "cancelled" => break, // asked to stop
                    Err(e) => {
                        eprintln!("[loop {id}] accept: {e}");
                        continue;
                    }
                };
                s.set(s.get() + 1);
                sockloop::thread(async move {
                    let mut buf = [0u8; 4096];
                    let mut line = Vec::new();
                    // Echo line by line, closing clients idle for 30 s.
                    while let Ok(n) = client.recv(&mut buf, sockloop::clock() + 30.0).await {
                        if n == 0 {
                            break;
                        }
                        line.extend_from_slice(&buf[..n]);
                        while let Some(pos) = line.iter().position(|&b| b == b'\n') {
                            let rest = line.split_off(pos + 1);
                            let mut reply = format!("[loop {id}] ").into_bytes();
                            reply.extend_from_slice(&line);
                            line = rest;
                            if client.send(&reply, sockloop::clock() + 30.0).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            let _ = listener.close();
        });
        let _ = ready.send((port, acceptor.remote()));
        // Keep running until the acceptor has been cancelled and every
        // connection thread has finished.
        while !acceptor.is_finished() {
            sockloop::sleep(0.05).await;
        }
        served.get()
    });
    Ok(served)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // The main thread's loop makes the shared reactor; the serving loops
    // join it (unless each runs its own driver).
    let reactor = if args.own_drivers {
        None
    } else {
        Some(sockloop::reactor()?)
    };

    // The first loop picks the port (when 0); the others bind the same one.
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    let mut acceptors = Vec::new();
    let mut port = args.port;
    for id in 0..args.loops {
        let (r, tx) = (reactor.clone(), tx.clone());
        handles.push(std::thread::spawn(move || serve_loop(id, r, port, tx)));
        let (p, acceptor) = rx
            .recv()
            .map_err(|_| anyhow!("loop {id} failed to start"))?;
        port = p;
        acceptors.push(acceptor);
    }
    println!(
        "multicore_echo: {} loops {}, listening on 127.0.0.1:{port}",
        args.loops,
        if args.own_drivers {
            "each on its own driver"
        } else {
            "sharing one reactor"
        }
    );

    match args.serve {
        Some(secs) => {
            println!("serving for {secs} s (try: nc 127.0.0.1 {port})");
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
        }
        None => {
            // A demo client on the main thread's loop: 16 connections at once.
            let replies = sockloop::run(async move {
                let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
                let mut clients = Vec::new();
                for i in 0..16 {
                    let out = out.clone();
                    clients.push(sockloop::thread(async move {
                        let run = async {
                            let c = sockloop::tcp()?;
                            c.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
                                .await?;
                            c.send(format!("hello {i}\n").as_bytes(), sockloop::clock() + 5.0)
                                .await?;
                            let mut buf = [0u8; 256];
                            let n = c.recv(&mut buf, sockloop::clock() + 5.0).await?;
                            c.close()?;
                            Ok::<_, sockloop::Error>(
                                String::from_utf8_lossy(&buf[..n]).into_owned(),
                            )
                        };
                        match run.await {
                            Ok(r) => out.borrow_mut().push(r),
                            Err(e) => out.borrow_mut().push(format!("client {i}: {e}\n")),
                        }
                    }));
                }
                while clients.iter().any(|t| !t.is_finished()) {
                    sockloop::sleep(0.01).await;
                }
                let v = out.borrow().clone();
                v
            });
            let mut per_loop = std::collections::BTreeMap::new();
            for r in &replies {
                print!("  {r}");
                if let Some(id) = r.strip_prefix("[loop ").and_then(|s| s.split(']').next()) {
                    *per_loop.entry(id.to_string()).or_insert(0) += 1;
                }
            }
            println!("connections per loop: {per_loop:?}");
        }
    }

    // Stop: cancel every accept thread from this OS thread.
    for a in &acceptors {
        a.cancel();
    }
    for (id, h) in handles.into_iter().enumerate() {
        let served = h.join().map_err(|_| anyhow!("a serving loop panicked"))??;
        println!("loop {id} stopped after serving {served} connections");
    }
    Ok(())
}
