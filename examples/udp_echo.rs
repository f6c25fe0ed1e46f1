//! LuaSocket's UDP echo samples, `echosrvr.lua` and `echoclnt.lua`,
//! ported line by line onto `sockloop::luasocket`: the server and a client
//! run as two threads of one loop.
//!
//! ```text
//! cargo run --example udp_echo [--port PORT] [--send TEXT]... [--server-only] [--exit-after SECS]
//! nc -u 127.0.0.1 PORT        # with --server-only
//! ```
//!
//! Without `--server-only` the client sends each `--send` line (default:
//! three lines), prints the echoes and the program ends. `--exit-after`
//! closes the server after SECS seconds in any case.

use std::rc::Rc;

use sockloop::luasocket::{self, dns};

struct Args {
    port: u16,
    lines: Vec<String>,
    server_only: bool,
    exit_after: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        lines: Vec::new(),
        server_only: false,
        exit_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let p = it.next().ok_or("--port needs a number")?;
                args.port = p.parse().map_err(|_| format!("bad port {p:?}"))?;
            }
            "--send" => args.lines.push(it.next().ok_or("--send needs a text")?),
            "--server-only" => args.server_only = true,
            "--exit-after" => {
                let s = it.next().ok_or("--exit-after needs seconds")?;
                args.exit_after = Some(s.parse().map_err(|_| format!("bad seconds {s:?}"))?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.lines.is_empty() {
        args.lines = ["hello", "from LuaSocket", "on sockloop"]
            .map(String::from)
            .to_vec();
    }
    Ok(args)
}

/// echosrvr.lua's loop: echo every datagram back to its sender.
async fn echo_server(udp: Rc<luasocket::UdpObject>) {
    loop {
        // dgram, ip, port = udp:receivefrom()
        match udp.receivefrom(None).await {
            Ok((dgram, ip, port)) => {
                println!(
                    "Echoing '{}' to {ip}:{port}",
                    String::from_utf8_lossy(&dgram)
                );
                if let Err(e) = udp.sendto(&dgram, &ip, port).await {
                    println!("{e}");
                }
            }
            // close() from main (or --exit-after) ends the server.
            Err(e) if e.name() == "closed" => break,
            // As the Lua sample: print the error ("timeout") and go on.
            Err(e) => println!("{}", e.luasocket_str()),
        }
    }
}

/// echoclnt.lua: send each line, print the echo.
async fn echo_client(port: u16, lines: Vec<String>) -> sockloop::Result<()> {
    // host = socket.dns.toip(host)
    let (host, _) = dns::toip("localhost").await?;
    let host = host.to_string();
    let udp = luasocket::udp()?;
    udp.setpeername(&host, port).await?;
    udp.settimeout(Some(5.0));
    println!("Using remote host '{host}' and port {port}...");
    for line in lines {
        udp.send(line.as_bytes()).await?;
        let dgram = udp.receive(None).await?;
        println!("{}", String::from_utf8_lossy(&dgram));
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("udp_echo: {e}");
            eprintln!(
                "usage: udp_echo [--port PORT] [--send TEXT]... [--server-only] [--exit-after SECS]"
            );
            std::process::exit(2);
        }
    };
    let host = "127.0.0.1";
    println!("Binding to host '{host}' and port {}...", args.port);
    // udp = assert(socket.udp()); assert(udp:setsockname(host, port))
    let udp = match luasocket::udp().and_then(|u| u.setsockname(host, args.port).map(|()| u)) {
        Ok(u) => Rc::new(u),
        Err(e) => {
            eprintln!("udp_echo: {e}");
            std::process::exit(1);
        }
    };
    udp.settimeout(Some(5.0));
    let (ip, port, _) = match udp.getsockname() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("udp_echo: {e}");
            std::process::exit(1);
        }
    };
    println!("Waiting packets on {ip}:{port}...");

    let failed = sockloop::run(async move {
        let server = sockloop::thread(echo_server(udp.clone()));
        let deadline = args.exit_after.map(|secs| {
            let u = udp.clone();
            sockloop::runafter(secs, move || u.close())
        });
        let mut failed = false;
        if !args.server_only {
            if let Err(e) = echo_client(port, args.lines).await {
                eprintln!("udp_echo: client: {e}");
                failed = true;
            }
            let _ = udp.close();
        }
        while !server.is_finished() {
            sockloop::sleep(0.01).await;
        }
        if let Some(t) = deadline {
            t.cancel();
        }
        failed
    });
    println!("bye");
    if failed {
        std::process::exit(1);
    }
}
