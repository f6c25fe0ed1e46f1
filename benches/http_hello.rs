//! HTTP/1.1 keep-alive "hello" responders for `bench/run.sh`, plus the
//! idle-connection client used for the memory figure.
//!
//! ```text
//! http_hello sockloop  [--port P] [--loops N [--reactor shared|own]] [--exit-after SECS] [--exit-on-eof] [--deadline SECS]
//! http_hello sockloop-tasks ...   (diagnostic: sockloop sockets, but one
//!                                  Tokio `spawn_local` task per connection)
//! http_hello tokio     [--port P] [--exit-after SECS] [--exit-on-eof]
//! http_hello tokio-mt  [--port P] [--workers N] [--exit-after SECS] [--exit-on-eof]
//! http_hello idle-client --port P --conns N [--hold SECS]
//! ```
//!
//! Every server prints `port N` on stdout once it listens and exits by
//! itself after `--exit-after` seconds (default 30), or with `--exit-on-eof`
//! as soon as its stdin is closed, printing its own CPU time (utime + stime
//! from `/proc/self/stat`) and the requests it answered on stderr. The script
//! measures the CPU of a wrk run itself, from `/proc/PID/stat`.
//!
//! Each connection reads into a 4 KiB buffer, counts the complete requests
//! (ending in `\r\n\r\n`) in it, keeps an incomplete tail, and sends one
//! fixed response per complete request (so pipelining works).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
const BUF: usize = 4096;

/// Requests answered, printed at exit (to normalise instruction counts).
static SERVED: AtomicU64 = AtomicU64::new(0);

struct Args {
    mode: String,
    port: u16,
    loops: usize,
    workers: usize,
    exit_after: f64,
    deadline: Option<f64>,
    /// With `--loops N`: `shared` (one reactor for all loops) or `own`
    /// (each loop its own Tokio driver; nothing shared).
    reactor: String,
    conns: usize,
    hold: f64,
    /// Also exit when stdin reaches end of file.
    exit_on_eof: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("missing mode")?;
    let mut a = Args {
        mode,
        port: 0,
        loops: 1,
        workers: 2,
        exit_after: 30.0,
        deadline: None,
        reactor: "shared".to_string(),
        conns: 10_000,
        hold: 30.0,
        exit_on_eof: false,
    };
    while let Some(k) = it.next() {
        if k == "--exit-on-eof" {
            a.exit_on_eof = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let bad = || format!("bad value for {k}: {v:?}");
        match k.as_str() {
            "--port" => a.port = v.parse().map_err(|_| bad())?,
            "--loops" => a.loops = v.parse().map_err(|_| bad())?,
            "--workers" => a.workers = v.parse().map_err(|_| bad())?,
            "--exit-after" => a.exit_after = v.parse().map_err(|_| bad())?,
            "--deadline" => a.deadline = Some(v.parse().map_err(|_| bad())?),
            "--reactor" if v == "shared" || v == "own" => a.reactor = v,
            "--conns" => a.conns = v.parse().map_err(|_| bad())?,
            "--hold" => a.hold = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

/// utime + stime of this process, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime, stime are fields 14 and 15 (1-based); state (field 3) is f[0].
    (ticks(11) + ticks(12)) / 100.0
}

/// Prints this process's CPU time and the requests answered on stderr,
/// then exits 0.
fn report_and_exit() -> ! {
    eprintln!(
        "cpu_secs {:.3} requests {}",
        cpu_secs(),
        SERVED.load(Ordering::Relaxed)
    );
    std::process::exit(0);
}

/// Exits the process after `secs`, from a plain OS thread (so no loop has
/// to be told to stop). With `on_eof`, also exits as soon as stdin reaches
/// end of file (`bench/callgrind.sh` stops a server that way, so that the
/// count is printed and callgrind writes its output).
fn exit_after(secs: f64, on_eof: bool) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(secs));
        report_and_exit();
    });
    if on_eof {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            report_and_exit();
        });
    }
}

fn announce(port: u16) {
    println!("port {port}");
    let _ = std::io::stdout().flush();
}

/// Counts the complete requests at the start of `buf[..len]`, returns
/// (count, bytes they take).
fn complete_requests(buf: &[u8]) -> (usize, usize) {
    let mut n = 0;
    let mut end = 0;
    let mut i = 0;
    while i + 4 <= buf.len() {
        if &buf[i..i + 4] == b"\r\n\r\n" {
            n += 1;
            i += 4;
            end = i;
        } else {
            i += 1;
        }
    }
    (n, end)
}

/// Moves the incomplete tail to the front; returns the new fill.
fn keep_tail(buf: &mut [u8], used: usize, fill: usize) -> usize {
    buf.copy_within(used..fill, 0);
    fill - used
}

/// The responses for `n` requests (one `send` even when pipelined).
fn responses(n: usize, scratch: &mut Vec<u8>) -> &[u8] {
    SERVED.fetch_add(n as u64, Ordering::Relaxed);
    if n == 1 {
        return RESPONSE;
    }
    scratch.clear();
    for _ in 0..n {
        scratch.extend_from_slice(RESPONSE);
    }
    scratch
}

// ===== sockloop =====

async fn sockloop_conn(conn: sockloop::Tcp, deadline: Option<f64>) {
    let mut buf = vec![0u8; BUF];
    let mut fill = 0;
    let mut scratch = Vec::new();
    let exp = || deadline.map(|d| sockloop::clock() + d);
    loop {
        if fill == buf.len() {
            return; // a request larger than the buffer: give up
        }
        let n = match conn.recv(&mut buf[fill..], exp()).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        fill += n;
        let (reqs, used) = complete_requests(&buf[..fill]);
        if reqs == 0 {
            continue;
        }
        if conn
            .send(responses(reqs, &mut scratch), exp())
            .await
            .is_err()
        {
            return;
        }
        fill = keep_tail(&mut buf, used, fill);
    }
}

fn sockloop_listener(port: u16, reuseport: bool) -> sockloop::Tcp {
    let server = sockloop::tcp().expect("tcp");
    if reuseport {
        server.setopt("reuseport", true).expect("reuseport");
    }
    server.listen(("127.0.0.1", port)).expect("listen");
    server
}

fn sockloop_serve(server: sockloop::Tcp, deadline: Option<f64>, tasks: bool) {
    sockloop::run(async move {
        loop {
            match server.accept(None).await {
                Ok(conn) if tasks => {
                    tokio::task::spawn_local(sockloop_conn(conn, deadline));
                }
                Ok(conn) => {
                    sockloop::thread(sockloop_conn(conn, deadline));
                }
                Err(e) if e.name() == "closed" => break,
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });
}

fn sockloop_main(a: &Args) {
    let tasks = a.mode == "sockloop-tasks";
    if a.loops <= 1 {
        let server = sockloop_listener(a.port, false);
        announce(server.local_addr().expect("addr").port());
        exit_after(a.exit_after, a.exit_on_eof);
        sockloop_serve(server, a.deadline, tasks);
        return;
    }
    // N OS threads, each its own loop and SO_REUSEPORT listener, all on
    // one shared I/O + timer driver (or, with `--reactor own`, each on its
    // own driver).
    let r = (a.reactor == "shared").then(|| sockloop::reactor().expect("reactor"));
    let first = sockloop_listener(a.port, true);
    let port = first.local_addr().expect("addr").port();
    let mut listeners = vec![first];
    for _ in 1..a.loops {
        listeners.push(sockloop_listener(port, true));
    }
    announce(port);
    exit_after(a.exit_after, a.exit_on_eof);
    let deadline = a.deadline;
    let joins: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            // A socket made here moves to its loop's OS thread as a plain
            // std listener (Tcp itself is Send-agnostic; go through std).
            let std_l = l.into_std().expect("into_std");
            let r = r.clone();
            std::thread::spawn(move || {
                if let Some(r) = r {
                    sockloop::set_reactor(r).expect("set_reactor");
                }
                sockloop_serve(sockloop::Tcp::from(std_l), deadline, tasks);
            })
        })
        .collect();
    for j in joins {
        let _ = j.join();
    }
}

// ===== tokio =====

async fn tokio_conn(mut conn: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; BUF];
    let mut fill = 0;
    let mut scratch = Vec::new();
    loop {
        if fill == buf.len() {
            return;
        }
        let n = match conn.read(&mut buf[fill..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        fill += n;
        let (reqs, used) = complete_requests(&buf[..fill]);
        if reqs == 0 {
            continue;
        }
        if conn.write_all(responses(reqs, &mut scratch)).await.is_err() {
            return;
        }
        fill = keep_tail(&mut buf, used, fill);
    }
}

fn std_listener(port: u16) -> std::net::TcpListener {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    l
}

fn tokio_main(a: &Args) {
    let l = std_listener(a.port);
    announce(l.local_addr().expect("addr").port());
    exit_after(a.exit_after, a.exit_on_eof);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let l = tokio::net::TcpListener::from_std(l).expect("listener");
        loop {
            match l.accept().await {
                Ok((conn, _)) => {
                    tokio::task::spawn_local(tokio_conn(conn));
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });
}

fn tokio_mt_main(a: &Args) {
    let l = std_listener(a.port);
    announce(l.local_addr().expect("addr").port());
    exit_after(a.exit_after, a.exit_on_eof);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.workers)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let l = tokio::net::TcpListener::from_std(l).expect("listener");
        loop {
            match l.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(tokio_conn(conn));
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });
}

// ===== idle client =====

/// Opens `conns` connections from source addresses 127.0.0.2-127.0.0.9,
/// prints `ready`, holds them for `hold` seconds, exits.
fn idle_client(a: &Args) {
    let target: std::net::SocketAddr = ([127, 0, 0, 1], a.port).into();
    let mut held = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        let src: std::net::SocketAddr = ([127, 0, 0, 2 + (i % 8) as u8], 0).into();
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        s.bind(&src.into()).expect("bind source");
        if let Err(e) = s.connect(&target.into()) {
            eprintln!("idle-client: connect #{i}: {e}");
            std::process::exit(1);
        }
        held.push(s);
    }
    println!("ready {}", held.len());
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs_f64(a.hold));
}

fn main() {
    // With the `tracing` feature: a subscriber at level `info` (sockloop's
    // debug and trace events are filtered out), as a program would run.
    #[cfg(feature = "tracing")]
    {
        use tracing_subscriber::layer::SubscriberExt;
        let sub =
            tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::INFO);
        if tracing::subscriber::set_global_default(sub).is_err() {
            eprintln!("http_hello: a tracing subscriber is already set");
        }
    }
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("http_hello: {e}");
            eprintln!("usage: http_hello sockloop|sockloop-tasks|tokio|tokio-mt|idle-client [--port P] [--loops N] [--reactor shared|own] [--workers N] [--exit-after S] [--exit-on-eof] [--deadline S] [--conns N] [--hold S]");
            std::process::exit(2);
        }
    };
    match a.mode.as_str() {
        "sockloop" | "sockloop-tasks" => sockloop_main(&a),
        "tokio" => tokio_main(&a),
        "tokio-mt" => tokio_mt_main(&a),
        "idle-client" => idle_client(&a),
        m => {
            eprintln!("http_hello: unknown mode {m}");
            std::process::exit(2);
        }
    }
}
