//! Bulk loopback throughput for `bench/run.sh`: a client sends 64 KiB
//! chunks for a fixed time to a server that discards them.
//!
//! ```text
//! bulk server sockloop|tokio [--exit-after SECS]        prints "port N"
//! bulk client sockloop|tokio --port P [--secs SECS]     prints "mb_per_s X"
//! ```
//!
//! The script runs the server and the client of the same implementation
//! on different cores. The client reports MB/s (10^6 bytes) of what the
//! kernel accepted during the timed window.

use std::io::Write;
use std::time::{Duration, Instant};

const CHUNK: usize = 64 * 1024;

struct Args {
    role: String,
    imp: String,
    port: u16,
    secs: f64,
    exit_after: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let role = it.next().ok_or("missing role")?;
    let imp = it.next().ok_or("missing implementation")?;
    let mut a = Args {
        role,
        imp,
        port: 0,
        secs: 3.0,
        exit_after: 30.0,
    };
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let bad = || format!("bad value for {k}: {v:?}");
        match k.as_str() {
            "--port" => a.port = v.parse().map_err(|_| bad())?,
            "--secs" => a.secs = v.parse().map_err(|_| bad())?,
            "--exit-after" => a.exit_after = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

fn exit_after(secs: f64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(secs));
        std::process::exit(0);
    });
}

fn announce(port: u16) {
    println!("port {port}");
    let _ = std::io::stdout().flush();
}

fn report(bytes: u64, took: Duration) {
    println!("mb_per_s {:.1}", bytes as f64 / took.as_secs_f64() / 1e6);
}

// ===== sockloop =====

fn sockloop_server() {
    let server = sockloop::tcp().expect("tcp");
    server.listen(("127.0.0.1", 0)).expect("listen");
    announce(server.local_addr().expect("addr").port());
    sockloop::run(async move {
        while let Ok(conn) = server.accept(None).await {
            sockloop::thread(async move {
                let mut buf = vec![0u8; CHUNK];
                while let Ok(n) = conn.recv(&mut buf, None).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
}

fn sockloop_client(port: u16, secs: f64) {
    sockloop::run(async move {
        let conn = sockloop::tcp().expect("tcp");
        conn.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
            .await
            .expect("connect");
        let buf = vec![7u8; CHUNK];
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs_f64(secs);
        let mut sent = 0u64;
        while Instant::now() < end {
            conn.send(&buf, None).await.expect("send");
            sent += CHUNK as u64;
        }
        report(sent, t0.elapsed());
    });
}

// ===== tokio =====

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tokio_server() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    announce(l.local_addr().expect("addr").port());
    let local = tokio::task::LocalSet::new();
    local.block_on(&tokio_rt(), async move {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::from_std(l).expect("listener");
        while let Ok((mut conn, _)) = l.accept().await {
            tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; CHUNK];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
}

fn tokio_client(port: u16, secs: f64) {
    tokio_rt().block_on(async move {
        use tokio::io::AsyncWriteExt;
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let buf = vec![7u8; CHUNK];
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs_f64(secs);
        let mut sent = 0u64;
        while Instant::now() < end {
            conn.write_all(&buf).await.expect("send");
            sent += CHUNK as u64;
        }
        report(sent, t0.elapsed());
    });
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bulk: {e}");
            eprintln!(
                "usage: bulk server|client sockloop|tokio [--port P] [--secs S] [--exit-after S]"
            );
            std::process::exit(2);
        }
    };
    match (a.role.as_str(), a.imp.as_str()) {
        ("server", imp) => {
            exit_after(a.exit_after);
            if imp == "sockloop" {
                sockloop_server();
            } else {
                tokio_server();
            }
        }
        ("client", "sockloop") => sockloop_client(a.port, a.secs),
        ("client", _) => tokio_client(a.port, a.secs),
        (r, _) => {
            eprintln!("bulk: unknown role {r}");
            std::process::exit(2);
        }
    }
}
