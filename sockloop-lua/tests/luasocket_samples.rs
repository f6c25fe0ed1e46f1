//! LuaSocket programs run unchanged by the `sockloop-lua` runner: Lua
//! programs written like LuaSocket's `samples/` (listener/talker,
//! echosrvr/echoclnt, daytimeclnt, forward.lua with dispatch.lua,
//! tinyirc.lua), blocking in their main chunk, each a process of its own
//! talking over loopback to another runner process or to a Rust peer.
//! (LuaSocket's own samples and test suite run against real LuaSocket in
//! `tools/luasocket-suite.sh`, which fetches them.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/lua/samples/{name}.lua"))
}

/// A runner process; killed if a test leaves it behind.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sockloop-lua tests/lua/samples/NAME.lua ARGS`, its stdout read
/// line by line.
fn start(name: &str, args: &[&str]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockloop-lua"))
        .arg(sample(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out: ChildStdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc { child, lines }
}

impl Proc {
    /// The next line it prints (within the time limit).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .expect("the program printed nothing more within the time limit")
    }

    /// The port in its first line (`port N ...`, `ports N M`).
    fn ports(&self) -> Vec<u16> {
        let line = self.line();
        let mut words = line.split('\t');
        assert!(words.next().unwrap().starts_with("port"), "{line}");
        words.filter_map(|w| w.parse().ok()).collect()
    }

    fn input(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the exit; the rest of what it printed.
    fn finish(mut self) -> Vec<String> {
        drop(self.child.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                break;
            }
            assert!(start.elapsed() < LIMIT, "the program did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        rest
    }
}

#[test]
fn listener_prints_what_the_talker_sends() {
    let listener = start("listener", &[]);
    let port = listener.ports()[0].to_string();
    let mut talker = start("talker", &["127.0.0.1", &port]);
    talker.input("hello\nworld\n\nnot sent\n");
    assert!(talker.finish().is_empty());
    assert_eq!(listener.finish(), ["hello", "world", "closed"]);
}

#[test]
fn udp_echo_server_and_client() {
    let server = start("echo_server", &["2"]);
    let port = server.ports()[0].to_string();
    let mut client = start("echo_client", &["localhost", &port]);
    client.input("ping\n");
    assert_eq!(client.line(), "ping");
    client.input("pong\n\n");
    assert_eq!(client.finish(), ["pong"]);
    assert_eq!(server.finish(), ["echoing 'ping'", "echoing 'pong'"]);
}

#[test]
fn daytime_client_against_a_local_server_and_a_closed_port() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(LIMIT)).unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let answer = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        server
            .send_to(b"Fri Jan  1 00:00:00 2038\r\n", from)
            .unwrap();
        buf[..n].to_vec()
    });
    let client = start("daytime_client", &["127.0.0.1", &port]);
    assert_eq!(client.finish(), ["Fri Jan  1 00:00:00 2038"]);
    assert_eq!(answer.join().unwrap(), b"anything");

    // Nobody listens: the ICMP error comes back as LuaSocket's words.
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let client = start("daytime_client", &["127.0.0.1", &port]);
    assert_eq!(client.finish(), ["connection refused"]);
}

#[test]
fn forwarder_with_coroutines_over_select() {
    // The forwarded-to server: echoes until the client stops sending.
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port().to_string();
    let echo = std::thread::spawn(move || {
        let (mut c, _) = target.accept().unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break total;
            }
            total += n;
            c.write_all(&buf[..n]).unwrap();
        }
    });
    let fwd = start("forwarder", &[&target_port]);
    let port = fwd.ports()[0];
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    // More than one receive(2048) and one send from an index.
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut back = vec![0u8; payload.len()];
    let writer = {
        let mut w = c.try_clone().unwrap();
        let payload = payload.clone();
        std::thread::spawn(move || w.write_all(&payload).unwrap())
    };
    c.read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == payload, "the echo came back changed");
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(echo.join().unwrap(), payload.len());
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(fwd.finish(), [format!("forwarded\t{}", 2 * payload.len())]);
}

#[test]
fn irc_broadcasts_between_select_sets() {
    let irc = start("irc", &["2"]);
    let ports = irc.ports();
    assert_eq!(ports.len(), 2);
    let mut a = TcpStream::connect(("127.0.0.1", ports[0])).unwrap();
    assert_eq!(irc.line(), "client\t1");
    let b = TcpStream::connect(("127.0.0.1", ports[1])).unwrap();
    assert_eq!(irc.line(), "client\t2");
    b.set_read_timeout(Some(LIMIT)).unwrap();
    a.write_all(b"hello irc\n").unwrap();
    assert_eq!(irc.line(), "broadcasting\thello irc");
    let mut line = String::new();
    BufReader::new(&b).read_line(&mut line).unwrap();
    assert_eq!(line, "hello irc\n");
    drop(a);
    assert_eq!(irc.line(), "left\t1\tclosed");
    drop(b);
    assert_eq!(irc.finish(), ["left\t2\tclosed"]);
}
