//! An echo server: one sockloop thread per connection, idle clients
//! closed after a deadline.
//!
//! ```text
//! cargo run --example echo_server [PORT] [--idle SECS] [--exit-after SECS]
//! nc 127.0.0.1 PORT
//! ```

use std::rc::Rc;

use sockloop::{clock, tcp, Tcp};

struct Args {
    port: u16,
    idle: f64,
    exit_after: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        idle: 30.0,
        exit_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> Result<f64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{what} needs a number of seconds"))
        };
        match a.as_str() {
            "--idle" => args.idle = num("--idle")?,
            "--exit-after" => args.exit_after = Some(num("--exit-after")?),
            p => args.port = p.parse().map_err(|_| format!("bad port {p:?}"))?,
        }
    }
    Ok(args)
}

async fn serve(conn: Tcp, idle: f64) {
    let peer = conn
        .remote_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Each read must come within `idle` seconds.
        match conn.recv(&mut buf, clock() + idle).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = conn.send(&buf[..n], clock() + idle).await {
                    eprintln!("{peer}: send: {e}");
                    break;
                }
            }
            Err(e) if e.name() == "timeout" => {
                eprintln!("{peer}: idle for {idle} s, closing");
                break;
            }
            Err(e) => {
                eprintln!("{peer}: recv: {e}");
                break;
            }
        }
    }
    let _ = conn.close();
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("echo_server: {e}");
            eprintln!("usage: echo_server [PORT] [--idle SECS] [--exit-after SECS]");
            std::process::exit(2);
        }
    };
    // Sockets can be made and bound before the loop runs.
    let server = match tcp().and_then(|s| s.listen(("127.0.0.1", args.port)).map(|()| s)) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            eprintln!("echo_server: listen: {e}");
            std::process::exit(1);
        }
    };
    match server.local_addr() {
        Ok(a) => println!("listening on {a} (port {})", a.port()),
        Err(e) => eprintln!("echo_server: {e}"),
    }
    let idle = args.idle;
    let exit_after = args.exit_after;
    sockloop::run(async move {
        if let Some(secs) = exit_after {
            let s = server.clone();
            sockloop::thread(async move {
                sockloop::sleep(secs).await;
                // Wakes the accept loop below with "closed".
                let _ = s.close();
            });
        }
        loop {
            match server.accept(None).await {
                Ok(conn) => {
                    sockloop::thread(serve(conn, idle));
                }
                Err(e) if e.name() == "closed" => break,
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });
    println!("bye");
}
