//! TLS on loopback, sockloop's `Stcp` against raw tokio-rustls over
//! `tokio::net::TcpStream`, in the same run: bulk throughput and full
//! handshakes per second.
//!
//! ```text
//! cargo bench --bench tls --features tls                 # ~1 minute
//! cargo bench --bench tls --features tls -- --pairs 3 --mib 128 --secs 1
//! ```
//!
//! Both implementations run the same topology: the server on its own OS
//! thread with its own current-thread loop (`sockloop::run`, or a Tokio
//! current-thread runtime + `LocalSet`), the client on the main thread
//! with another; the same rustls configs (ring, TLS 1.3, an ECDSA P-256
//! certificate made at start-up, no session resumption so every handshake
//! is a full one). Runs alternate sockloop/tokio (which goes first
//! alternates too); the table gives medians and their ratios.
//!
//! * bulk: the client sends `--mib` MiB in 64 KiB writes, then
//!   `close_notify`; the server reads until the end and answers one byte;
//!   the time is from the first write to that byte.
//! * handshakes: for `--secs` seconds the client connects, runs the
//!   handshake and reads one byte the server sends after its side of the
//!   handshake; then both close.
//!
//! Each case is reported twice: by the wall clock (MB/s, handshakes/s)
//! and per CPU second of the whole process, client and server threads
//! together (utime + stime from `/proc/self/stat`), which a machine
//! shared with other work disturbs far less.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use sockloop::TlsConfig;

const CHUNK: usize = 64 * 1024;

struct Args {
    pairs: usize,
    mib: usize,
    secs: f64,
    /// `--only sockloop|tokio`: one run of one case, for callgrind.
    only: Option<String>,
    /// `--case bulk|handshakes` with `--only`.
    case: String,
    /// `--count N` with `--only`: N handshakes (or N MiB of bulk).
    count: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        pairs: 5,
        mib: 512,
        secs: 2.0,
        only: None,
        case: "handshakes".to_string(),
        count: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        // `cargo bench` passes `--bench`.
        if k == "--bench" {
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let bad = || format!("bad value for {k}: {v:?}");
        match k.as_str() {
            "--pairs" => a.pairs = v.parse().map_err(|_| bad())?,
            "--mib" => a.mib = v.parse().map_err(|_| bad())?,
            "--secs" => a.secs = v.parse().map_err(|_| bad())?,
            "--only" => a.only = Some(v),
            "--case" => a.case = v,
            "--count" => a.count = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

/// The rustls configs both implementations use.
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::try_from(ck.key_pair.serialize_der()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    server.send_tls13_tickets = 0;
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("root");
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    (Arc::new(server), Arc::new(client))
}

/// CPU seconds used by this process so far, all threads (user + system).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    ticks / 100.0 // USER_HZ on Linux
}

/// Runs `f` and returns its result with the CPU seconds it took.
fn with_cpu(f: impl FnOnce() -> f64) -> (f64, f64) {
    let c0 = cpu_secs();
    let r = f();
    (r, cpu_secs() - c0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

// ===== sockloop =====

/// Runs `serve` on a server thread with its own sockloop loop; returns
/// the port and the thread.
fn sockloop_server<F, Fut>(serve: F) -> (u16, std::thread::JoinHandle<()>)
where
    F: FnOnce(sockloop::Tcp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let l = sockloop::tcp().expect("tcp");
    l.listen(("127.0.0.1", 0)).expect("listen");
    let port = l.local_addr().expect("addr").port();
    (port, std::thread::spawn(move || sockloop::run(serve(l))))
}

fn sockloop_bulk(sc: &Arc<ServerConfig>, cc: &Arc<ClientConfig>, bytes: usize) -> f64 {
    let scfg = TlsConfig::from_rustls_server(sc.clone());
    let ccfg = TlsConfig::from_rustls_client(cc.clone());
    let (port, h) = sockloop_server(move |l| async move {
        let c = l.accept(None).await.expect("accept");
        let s = sockloop::server_handshake(c, &scfg, None)
            .await
            .expect("handshake");
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0;
        loop {
            match s.recv(&mut buf, None).await.expect("recv") {
                0 => break,
                k => n += k,
            }
        }
        assert_eq!(n, bytes);
        s.send(b"!", None).await.expect("ack");
    });
    let secs = sockloop::run(async move {
        let t = sockloop::tcp().expect("tcp");
        t.connect(("127.0.0.1", port), None).await.expect("connect");
        let c = sockloop::client_stcp(t, "localhost", &ccfg, None)
            .await
            .expect("handshake");
        let buf = vec![7u8; CHUNK];
        let t0 = Instant::now();
        let mut sent = 0;
        while sent < bytes {
            c.send(&buf, None).await.expect("send");
            sent += CHUNK;
        }
        c.shutdown(std::net::Shutdown::Write, None)
            .await
            .expect("close_notify");
        let mut ack = [0u8; 1];
        c.recvn(&mut ack, None).await.expect("ack");
        t0.elapsed().as_secs_f64()
    });
    h.join().expect("server");
    secs
}

/// How long a handshake loop runs: seconds, or a number of handshakes.
#[derive(Clone, Copy)]
enum Stop {
    Secs(f64),
    Count(u64),
}

impl Stop {
    fn done(self, t0: Instant, n: u64) -> bool {
        match self {
            Stop::Secs(s) => t0.elapsed().as_secs_f64() >= s,
            Stop::Count(c) => n >= c,
        }
    }
}

fn sockloop_handshakes(sc: &Arc<ServerConfig>, cc: &Arc<ClientConfig>, stop: Stop) -> f64 {
    let scfg = TlsConfig::from_rustls_server(sc.clone());
    let ccfg = TlsConfig::from_rustls_client(cc.clone());
    let l = sockloop::tcp().expect("tcp");
    l.listen(("127.0.0.1", 0)).expect("listen");
    let port = l.local_addr().expect("addr").port();
    // The client closes the listener when it is done, which wakes the
    // server's accept with "closed" (no deadline: `clock()` is not
    // available under valgrind, whose vDSO rustix cannot read).
    let server = Arc::new(sockloop::server_stcp(l, &scfg).expect("server_stcp"));
    let l = server.clone();
    let h = std::thread::spawn(move || {
        sockloop::run(async move {
            while let Ok(s) = l.accept(None).await {
                if s.send(b"!", None).await.is_err() {
                    break;
                }
                let mut end = [0u8; 1];
                let _ = s.recv(&mut end, None).await; // the client's close_notify
            }
        })
    });
    let rate = sockloop::run(async move {
        let t0 = Instant::now();
        let mut n = 0u64;
        while !stop.done(t0, n) {
            let t = sockloop::tcp().expect("tcp");
            t.connect(("127.0.0.1", port), None).await.expect("connect");
            let c = sockloop::client_stcp(t, "localhost", &ccfg, None)
                .await
                .expect("handshake");
            let mut one = [0u8; 1];
            c.recvn(&mut one, None).await.expect("byte");
            c.close().expect("close");
            n += 1;
        }
        n as f64 / t0.elapsed().as_secs_f64()
    });
    server.close().expect("close the listener");
    h.join().expect("server");
    rate
}

// ===== tokio-rustls =====

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tokio_server<F, Fut>(serve: F) -> (u16, std::thread::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let local = tokio::task::LocalSet::new();
        local.block_on(&tokio_rt(), async move {
            serve(tokio::net::TcpListener::from_std(l).expect("listener")).await;
        });
    });
    (port, h)
}

fn tokio_bulk(sc: &Arc<ServerConfig>, cc: &Arc<ClientConfig>, bytes: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = tokio_rustls::TlsAcceptor::from(sc.clone());
    let connector = tokio_rustls::TlsConnector::from(cc.clone());
    let (port, h) = tokio_server(move |l| async move {
        let (c, _) = l.accept().await.expect("accept");
        let mut s = acceptor.accept(c).await.expect("handshake");
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0;
        loop {
            match s.read(&mut buf).await.expect("read") {
                0 => break,
                k => n += k,
            }
        }
        assert_eq!(n, bytes);
        s.write_all(b"!").await.expect("ack");
        s.flush().await.expect("flush");
    });
    let secs = tokio_rt().block_on(async move {
        let t = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let mut c = connector.connect(name, t).await.expect("handshake");
        let buf = vec![7u8; CHUNK];
        let t0 = Instant::now();
        let mut sent = 0;
        while sent < bytes {
            c.write_all(&buf).await.expect("write");
            sent += CHUNK;
        }
        c.shutdown().await.expect("close_notify");
        let mut ack = [0u8; 1];
        c.read_exact(&mut ack).await.expect("ack");
        t0.elapsed().as_secs_f64()
    });
    h.join().expect("server");
    secs
}

fn tokio_handshakes(sc: &Arc<ServerConfig>, cc: &Arc<ClientConfig>, stop: Stop) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = tokio_rustls::TlsAcceptor::from(sc.clone());
    let connector = tokio_rustls::TlsConnector::from(cc.clone());
    let (port, h) = tokio_server(move |l| async move {
        loop {
            let Ok(Ok((c, _))) = tokio::time::timeout(Duration::from_secs(2), l.accept()).await
            else {
                break;
            };
            let Ok(mut s) = acceptor.accept(c).await else {
                break;
            };
            if s.write_all(b"!").await.is_err() || s.flush().await.is_err() {
                break;
            }
            let mut end = [0u8; 1];
            let _ = s.read(&mut end).await;
        }
    });
    let rate = tokio_rt().block_on(async move {
        let t0 = Instant::now();
        let mut n = 0u64;
        while !stop.done(t0, n) {
            let t = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let name = ServerName::try_from("localhost").expect("name");
            let mut c = connector.connect(name, t).await.expect("handshake");
            let mut one = [0u8; 1];
            c.read_exact(&mut one).await.expect("byte");
            c.shutdown().await.expect("close_notify");
            n += 1;
        }
        n as f64 / t0.elapsed().as_secs_f64()
    });
    h.join().expect("server");
    rate
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tls bench: {e}");
            eprintln!("usage: tls [--pairs N] [--mib MIB] [--secs S]");
            std::process::exit(2);
        }
    };
    let (sc, cc) = configs();
    if let Some(imp) = &a.only {
        let sockloop = imp == "sockloop";
        match a.case.as_str() {
            "bulk" => {
                let bytes = (a.count as usize) << 20;
                if sockloop {
                    sockloop_bulk(&sc, &cc, bytes);
                } else {
                    tokio_bulk(&sc, &cc, bytes);
                }
            }
            _ => {
                let stop = Stop::Count(a.count);
                if sockloop {
                    sockloop_handshakes(&sc, &cc, stop);
                } else {
                    tokio_handshakes(&sc, &cc, stop);
                }
            }
        }
        return;
    }
    let bytes = a.mib << 20;
    let mb = bytes as f64 / 1e6;
    // Wall rates and rates per CPU second: [bulk MB/s, handshakes/s].
    let mut wall = [[vec![], vec![]], [vec![], vec![]]]; // [impl][case]
    let mut cpu = [[vec![], vec![]], [vec![], vec![]]];
    for i in 0..a.pairs {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for imp in order {
            let (secs, c) = with_cpu(|| {
                if imp == 0 {
                    sockloop_bulk(&sc, &cc, bytes)
                } else {
                    tokio_bulk(&sc, &cc, bytes)
                }
            });
            wall[imp][0].push(mb / secs);
            cpu[imp][0].push(mb / c);
            let mut n = 0.0;
            let (rate, c) = with_cpu(|| {
                let r = if imp == 0 {
                    sockloop_handshakes(&sc, &cc, Stop::Secs(a.secs))
                } else {
                    tokio_handshakes(&sc, &cc, Stop::Secs(a.secs))
                };
                n = r * a.secs;
                r
            });
            wall[imp][1].push(rate);
            cpu[imp][1].push(n / c);
        }
        eprintln!(
            "pair {}: bulk MB/s {:.0}/{:.0}, per CPU-s {:.0}/{:.0}; handshakes/s {:.0}/{:.0}, per CPU-s {:.0}/{:.0} (sockloop/tokio)",
            i + 1,
            wall[0][0][i],
            wall[1][0][i],
            cpu[0][0][i],
            cpu[1][0][i],
            wall[0][1][i],
            wall[1][1][i],
            cpu[0][1][i],
            cpu[1][1][i],
        );
    }
    println!(
        "TLS on loopback, medians of {} alternating pairs ({} MiB bulk, {} s of handshakes)",
        a.pairs, a.mib, a.secs
    );
    println!();
    println!("| case | sockloop | tokio-rustls | sockloop/tokio |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, table, case) in [
        ("bulk, MB/s", 0, 0),
        ("bulk, MB per CPU second", 1, 0),
        ("full handshakes/s", 0, 1),
        ("full handshakes per CPU second", 1, 1),
    ] {
        let t = if table == 0 { &mut wall } else { &mut cpu };
        let (sl, sh) = spread(&t[0][case]);
        let (tl, th) = spread(&t[1][case]);
        let (sm, tm) = (median(&mut t[0][case]), median(&mut t[1][case]));
        println!(
            "| {name} (min–max) | {sm:.0} ({sl:.0}–{sh:.0}) | {tm:.0} ({tl:.0}–{th:.0}) | {:.3} |",
            sm / tm
        );
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)))
}
