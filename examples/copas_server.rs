//! A Copas-style job server on `sockloop::copas`: `addserver` on a socket
//! the program made and bound itself, a semaphore-limited worker pool, and
//! a handler that removes the server (the `shutdown` command).
//!
//! ```text
//! cargo run --example copas_server [--port PORT] [--workers N] [--server-only] [--exit-after SECS]
//! nc 127.0.0.1 PORT     # with --server-only; type "job 1", ..., "shutdown"
//! ```
//!
//! Without `--server-only`, five demo clients send jobs at once, then one
//! sends `shutdown`; the loop ends when everything is done. `--exit-after`
//! removes the server after SECS seconds in any case.

use std::cell::Cell;
use std::rc::Rc;

use sockloop::copas::{self, Semaphore, Socket};
use sockloop::socketloop::ASocket;
use sockloop::{luasocket, Error};

struct Args {
    port: u16,
    workers: usize,
    server_only: bool,
    exit_after: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        workers: 2,
        server_only: false,
        exit_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{what} needs a value"));
        match a.as_str() {
            "--port" => {
                let p = value("--port")?;
                args.port = p.parse().map_err(|_| format!("bad port {p:?}"))?;
            }
            "--workers" => {
                let n = value("--workers")?;
                args.workers = n.parse().map_err(|_| format!("bad count {n:?}"))?;
            }
            "--server-only" => args.server_only = true,
            "--exit-after" => {
                let s = value("--exit-after")?;
                args.exit_after = Some(s.parse().map_err(|_| format!("bad seconds {s:?}"))?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// What the pool measured.
#[derive(Default)]
struct Stats {
    busy: Cell<usize>,
    most: Cell<usize>,
    jobs: Cell<usize>,
}

/// A job: takes a worker from the pool (waiting in line for at most 5 s),
/// "works" for 50 ms, gives the worker back.
async fn run_job(pool: &Semaphore, stats: &Stats, n: &str) -> sockloop::Result<String> {
    pool.take(Some(1), Some(5.0)).await?;
    stats.busy.set(stats.busy.get() + 1);
    stats.most.set(stats.most.get().max(stats.busy.get()));
    copas::pause(0.05).await;
    stats.busy.set(stats.busy.get() - 1);
    stats.jobs.set(stats.jobs.get() + 1);
    pool.give(None)?;
    Ok(format!("done {n}"))
}

/// What the handlers share: the server (to remove it), the worker pool,
/// the stats, and the `--exit-after` timer (cancelled on `shutdown`).
struct Shared {
    server: Rc<ASocket>,
    pool: Semaphore,
    stats: Stats,
    deadline: Cell<Option<sockloop::Timer>>,
}

/// The connection handler: one command per line.
async fn handle(client: Socket, shared: Rc<Shared>) -> sockloop::Result<()> {
    let who = copas::getsocketname(&client).unwrap_or_default();
    loop {
        let line = match client.receive("*l").await {
            Ok(l) => String::from_utf8_lossy(&l).into_owned(),
            Err(e) if e.name() == "closed" => return Ok(()),
            Err(e) => return Err(e),
        };
        let reply = match line.split_once(' ') {
            Some(("job", n)) => run_job(&shared.pool, &shared.stats, n).await?,
            _ if line == "shutdown" => {
                println!("{who}: shutdown");
                // The handler removes its own server: no more accepts.
                copas::removeserver(&shared.server, false)?;
                if let Some(t) = shared.deadline.take() {
                    t.cancel();
                }
                "bye".to_string()
            }
            _ => format!("unknown command {line:?}"),
        };
        client.send(format!("{reply}\n").as_bytes()).await?;
    }
}

/// A demo client: sends `jobs` jobs and checks the answers.
async fn demo_client(port: u16, id: usize, jobs: usize) -> sockloop::Result<()> {
    let c = copas::wrap(luasocket::connect("127.0.0.1", port, None, None, None).await?);
    c.settimeout(Some(10.0))?;
    for j in 0..jobs {
        c.send(format!("job {id}.{j}\n").as_bytes()).await?;
        let answer = c.receive("*l").await?;
        assert_eq!(answer, format!("done {id}.{j}").as_bytes());
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("copas_server: {e}");
            eprintln!(
                "usage: copas_server [--port PORT] [--workers N] [--server-only] [--exit-after SECS]"
            );
            std::process::exit(2);
        }
    };
    // The program makes and binds the socket itself; addserver listens on it.
    let made = sockloop::tcp().and_then(|t| {
        t.setopt("reuseaddr", true)?;
        t.bind(("127.0.0.1", args.port))?;
        Ok(t)
    });
    let server = match made {
        Ok(t) => Rc::new(sockloop::socketloop::wrap(t)),
        Err(e) => {
            eprintln!("copas_server: {e}");
            std::process::exit(1);
        }
    };
    let port = server.getsockname().map(|a| a.port()).unwrap_or(0);
    let pool = match Semaphore::new(args.workers.max(1), Some(args.workers.max(1)), None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("copas_server: {e}");
            std::process::exit(2);
        }
    };
    let shared = Rc::new(Shared {
        server: server.clone(),
        pool,
        stats: Stats::default(),
        deadline: Cell::new(None),
    });
    let failed = Rc::new(Cell::new(false));
    copas::seterrorhandler(
        {
            let failed = failed.clone();
            move |e: &Error, t, skt| {
                failed.set(true);
                eprintln!("{}", copas::gettraceback(&e.to_string(), Some(t), skt));
            }
        },
        true,
    )
    .unwrap_or_else(|e| eprintln!("copas_server: {e}"));

    let sh = shared.clone();
    let added = copas::addserver(
        &server,
        move |client| handle(client, sh.clone()),
        Some(30.0),
        Some("jobs"),
    );
    if let Err(e) = added {
        eprintln!("copas_server: {e}");
        std::process::exit(1);
    }
    println!(
        "listening on 127.0.0.1:{port} with {} workers",
        args.workers
    );

    if let Some(secs) = args.exit_after {
        let s = server.clone();
        let t = sockloop::runafter(secs, move || copas::removeserver(&s, false));
        shared.deadline.set(Some(t));
    }
    if !args.server_only {
        copas::addnamedthread("demo", async move {
            let clients: Vec<_> = (0..5)
                .map(|id| copas::addthread(demo_client(port, id, 3)))
                .collect();
            while clients.iter().any(|c| !c.is_finished()) {
                copas::pause(0.01).await;
            }
            let c = copas::wrap(luasocket::connect("127.0.0.1", port, None, None, None).await?);
            c.settimeout(Some(10.0))?;
            c.send(b"shutdown\n").await?;
            assert_eq!(c.receive("*l").await?, b"bye");
            Ok::<(), Error>(())
        });
    }
    let ran = copas::run_loop();
    let stats = &shared.stats;
    println!(
        "{} jobs done, at most {} at a time (pool of {})",
        stats.jobs.get(),
        stats.most.get(),
        args.workers
    );
    if let Err(e) = ran {
        eprintln!("copas_server: {e}");
        std::process::exit(1);
    }
    if failed.get() {
        std::process::exit(1);
    }
}
