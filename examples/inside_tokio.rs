//! sockloop inside a Tokio program: `#[tokio::main]` with a `LocalSet`, a
//! sockloop echo server (one sockloop thread per connection), plain Tokio
//! tasks as its clients, and a graceful Ctrl-C shutdown.
//!
//! ```text
//! cargo run --example inside_tokio [--clients N] [--exit-after SECS]
//! ```
//!
//! * `--clients N`: how many Tokio client tasks ping the server (default 2).
//! * `--exit-after SECS`: shut down after SECS seconds as if Ctrl-C had
//!   been pressed (for unattended runs such as CI). Without it, the
//!   program runs until Ctrl-C.
//!
//! Shutdown: the accept thread and every connection thread are cancelled
//! with `Thread::cancel` (each connection thread says "bye" to its peer and
//! closes), the listener is closed, and `main` waits for every sockloop
//! thread and client to finish. Exit status 1 if anything went wrong.
//!
//! The `LocalSet` is what makes this work: sockloop threads are `!Send`
//! and run on a driver task spawned on it. Without one, `sockloop::thread`
//! panics with `"no_local_set"` instead of making a thread nothing runs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use sockloop::{clock, Tcp, Thread};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Args {
    clients: usize,
    exit_after: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 2,
        exit_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--clients" => {
                let v = val()?;
                args.clients = v.parse().map_err(|_| format!("bad --clients {v:?}"))?;
            }
            "--exit-after" => {
                let v = val()?;
                let secs: f64 = v.parse().map_err(|_| format!("bad --exit-after {v:?}"))?;
                if !(secs >= 0.0 && secs.is_finite()) {
                    return Err(format!("bad --exit-after {v:?}"));
                }
                args.exit_after = Some(secs);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// The live sockloop threads, by id, so shutdown can cancel them.
#[derive(Clone, Default)]
struct Threads {
    live: Rc<RefCell<HashMap<u64, Thread>>>,
    /// Signalled each time one finishes.
    finished: Rc<tokio::sync::Notify>,
}

impl Threads {
    fn add(&self, t: Thread) {
        if t.is_finished() {
            return;
        }
        self.live.borrow_mut().insert(t.id(), t.clone());
        let me = self.clone();
        sockloop::onthreadfinish(&t, move |t| {
            me.live.borrow_mut().remove(&t.id());
            me.finished.notify_one();
        });
    }

    fn cancel_all(&self) {
        let all: Vec<Thread> = self.live.borrow().values().cloned().collect();
        for t in all {
            t.cancel();
        }
    }

    /// Waits until every thread has finished, or `secs` have passed.
    async fn join(&self, secs: u64) -> bool {
        let all = async {
            while !self.live.borrow().is_empty() {
                self.finished.notified().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(secs), all)
            .await
            .is_ok()
    }
}

/// One connection: echo until the peer leaves, the connection idles for
/// 30 s, or the thread is cancelled (then say "bye" first).
async fn serve(conn: Tcp, errors: Rc<Cell<u32>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        match conn.recv(&mut buf, clock() + 30.0).await {
            Ok(0) => break,
            Ok(n) => {
                if conn.send(&buf[..n], clock() + 5.0).await.is_err() {
                    break;
                }
            }
            Err(e) if e.name() == "cancelled" => {
                let _ = conn.send(b"bye\n", clock() + 1.0).await;
                break;
            }
            Err(e) => {
                eprintln!("[server] recv: {e}");
                errors.set(errors.get() + 1);
                break;
            }
        }
    }
    let _ = conn.close();
}

/// A plain Tokio client (it runs on a worker thread): pings until the
/// server says "bye" or hangs up; returns the number of echoed pings.
async fn client(port: u16, id: usize) -> Result<u64, String> {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (rd, mut wr) = s.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        let ping = format!("ping {id} {n}\n");
        if wr.write_all(ping.as_bytes()).await.is_err() {
            return Ok(n); // the server has gone
        }
        line.clear();
        match rd.read_line(&mut line).await {
            Ok(0) => return Ok(n),
            Ok(_) if line == "bye\n" => return Ok(n),
            Ok(_) if line == ping => {}
            Ok(_) => return Err(format!("sent {ping:?}, got {line:?}")),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(n),
            Err(e) => return Err(format!("read: {e}")),
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(args: Args) -> Result<(), String> {
    let server = Rc::new(sockloop::tcp().map_err(|e| e.to_string())?);
    server
        .listen(("127.0.0.1", 0))
        .map_err(|e| format!("listen: {e}"))?;
    let port = server.local_addr().map_err(|e| e.to_string())?.port();
    println!("sockloop echo server on 127.0.0.1:{port}; Ctrl-C to stop");

    let threads = Threads::default();
    let errors = Rc::new(Cell::new(0u32));

    // The accept loop, a sockloop thread; each connection gets its own.
    let acceptor = {
        let (server, threads, errors) = (server.clone(), threads.clone(), errors.clone());
        sockloop::thread(async move {
            loop {
                match server.accept(None).await {
                    Ok(conn) => threads.add(sockloop::thread(serve(conn, errors.clone()))),
                    // Cancelled, or the listener closed: stop accepting.
                    Err(e) if matches!(e.name(), "cancelled" | "closed") => break,
                    Err(e) => eprintln!("[server] accept: {e}"),
                }
            }
        })
    };
    threads.add(acceptor.clone());

    // The clients: plain Tokio tasks on the runtime's worker threads.
    let clients: Vec<_> = (0..args.clients)
        .map(|id| tokio::spawn(client(port, id)))
        .collect();

    // Wait for Ctrl-C (or the --exit-after timer).
    let why = match args.exit_after {
        Some(secs) => tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "Ctrl-C").map_err(|e| e.to_string())?,
            _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => "--exit-after",
        },
        None => tokio::signal::ctrl_c()
            .await
            .map(|()| "Ctrl-C")
            .map_err(|e| e.to_string())?,
    };
    println!("{why}: shutting down");

    // Stop accepting, close the listener, cancel every connection thread.
    acceptor.cancel();
    let _ = server.close();
    threads.cancel_all();
    if !threads.join(5).await {
        return Err(format!(
            "{} sockloop threads did not finish within 5 s",
            threads.live.borrow().len()
        ));
    }

    let mut ok = errors.get() == 0;
    for (id, c) in clients.into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(5), c).await {
            Ok(Ok(Ok(n))) => println!("client {id}: {n} pings echoed"),
            Ok(Ok(Err(e))) => {
                eprintln!("client {id}: {e}");
                ok = false;
            }
            Ok(Err(e)) => {
                eprintln!("client {id}: {e}");
                ok = false;
            }
            Err(_) => {
                eprintln!("client {id}: did not finish within 5 s");
                ok = false;
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err("errors during the run".into())
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("inside_tokio: {e}");
            eprintln!("usage: inside_tokio [--clients N] [--exit-after SECS]");
            std::process::exit(2);
        }
    };
    // Everything sockloop runs inside this LocalSet.
    let local = tokio::task::LocalSet::new();
    match local.run_until(run(args)).await {
        Ok(()) => println!("bye"),
        Err(e) => {
            eprintln!("inside_tokio: {e}");
            std::process::exit(1);
        }
    }
}
