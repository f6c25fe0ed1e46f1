//! Reliability under load and faults, on real loopback sockets:
//!
//! * 10,000 concurrent echo connections with checksummed payloads (the
//!   clients run in a child process: the hard `RLIMIT_NOFILE` here is
//!   20,000 per process and both ends need one descriptor each);
//! * the peer resets the connection (linger 0, close) in the middle of a
//!   `recvn`, a `recvall` and a `send`;
//! * `accept` with no descriptor left (`EMFILE`), and serving again after
//!   descriptors are freed;
//! * after each case the process has exactly as many open descriptors as
//!   before it.
//!
//! The tests take one lock, so they run one at a time: descriptor counts
//! and `RLIMIT_NOFILE` are per process. Run with `--nocapture` to see the
//! figures.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use sockloop::{clock, tcp, ErrorKind, Tcp};

mod support;
use support::{bounded, fnv, pattern, FNV0};

/// How many echo connections the load test holds at once.
const CONNS: usize = 10_000;
/// The child process's role and the server's address.
const CLIENT_ENV: &str = "SOCKLOOP_STRESS_CLIENT";
/// How many connections the child opens (defaults to [`CONNS`]).
const CONNS_ENV: &str = "SOCKLOOP_STRESS_CONNS";
/// Marks the `EMFILE` child process.
const EMFILE_ENV: &str = "SOCKLOOP_STRESS_EMFILE";
/// `EMFILE` on Linux: sockloop's error table has no name for it, so it
/// is an `ErrorKind::Os` error named by the OS message.
const EMFILE: i32 = 24;

// ===== shared helpers =====

/// One test of this file at a time (descriptor counts and limits are per
/// process). A failed test does not block the others.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Open descriptors of this process (the directory handle itself
/// included, so two counts compare).
/// The descriptor count a test starts from, taken after one Tokio runtime
/// has run in this process: Tokio keeps a few process-wide descriptors for
/// good once the first runtime is built (with the `signal` feature, the
/// socket pair its signal driver listens on).
fn baseline_fds() -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    drop(rt);
    fd_count()
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns it.
fn raise_nofile() -> u64 {
    let lim = getrlimit(Resource::Nofile);
    let hard = lim.maximum.unwrap_or(1 << 20);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: lim.maximum,
        },
    )
    .expect("raise RLIMIT_NOFILE to the hard limit");
    hard
}

/// A child process running one `#[ignore]`d test of this binary, with
/// its output collected by two reader threads (so a chatty child cannot
/// block on a full pipe).
struct ChildTest {
    child: Child,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl ChildTest {
    fn spawn(test: &str, env: &[(&str, String)]) -> ChildTest {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        cmd.args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the child test process");
        let out = child.stdout.take().map(reader);
        let err = child.stderr.take().map(reader);
        ChildTest { child, out, err }
    }

    /// Has it exited? (`Some(success)`.)
    fn exited(&mut self) -> Option<bool> {
        self.child
            .try_wait()
            .expect("try_wait")
            .map(|s| s.success())
    }

    /// Kills it (if still running) and waits for it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `secs` (killing it after that); returns whether it
    /// succeeded and its stdout and stderr.
    fn finish(mut self, secs: f64) -> (bool, String, String) {
        let t0 = Instant::now();
        let ok = loop {
            if let Some(ok) = self.exited() {
                break ok;
            }
            if t0.elapsed().as_secs_f64() > secs {
                self.kill();
                break false;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = self.out.take().map(join_text).unwrap_or_default();
        let err = self.err.take().map(join_text).unwrap_or_default();
        (ok, out, err)
    }
}

impl Drop for ChildTest {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

fn join_text(h: std::thread::JoinHandle<String>) -> String {
    h.join().unwrap_or_default()
}

/// The line of `out` that starts with `tag`, without the tag.
fn tagged<'a>(out: &'a str, tag: &str) -> Option<&'a str> {
    // libtest may print "test name ... " before the tag on the same line.
    out.lines()
        .find_map(|l| l.split_once(tag).map(|(_, rest)| rest))
}

/// A connected loopback TCP pair `(client, accepted)`. `before_connect`
/// configures the client socket before it connects (buffer sizes).
async fn tcp_pair(before_connect: impl FnOnce(&Tcp)) -> (Tcp, Tcp) {
    let l = tcp().unwrap();
    l.listen(("127.0.0.1", 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let c = tcp().unwrap();
    before_connect(&c);
    let (conn, acc) = tokio::join!(c.connect(&addr, clock() + 5.0), l.accept(clock() + 5.0));
    conn.unwrap();
    (c, acc.unwrap())
}

/// Polls `done` every millisecond until it is true; panics after `secs`.
async fn until(secs: f64, what: &str, done: impl Fn() -> bool) {
    let end = clock() + secs;
    while !done() {
        assert!(clock() < end, "{what}: not within {secs} s");
        sockloop::sleep(0.001).await;
    }
}

// ===== 10,000 concurrent echo connections =====

/// The frame connection `i` sends: `[index u32][body length u32][body]
/// [FNV-1a of the body u64]`, 1 to 8 KiB of pseudo-random bytes.
fn frame(i: usize) -> Vec<u8> {
    let len = 1024 + (i * 7919) % (7 * 1024);
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let body: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut f = Vec::with_capacity(len + 16);
    f.extend_from_slice(&(i as u32).to_le_bytes());
    f.extend_from_slice(&(len as u32).to_le_bytes());
    f.extend_from_slice(&body);
    f.extend_from_slice(&fnv(FNV0, &body).to_le_bytes());
    f
}

/// What the server saw.
#[derive(Default)]
struct ServerStats {
    live: Cell<usize>,
    peak: Cell<usize>,
    echoed: Cell<usize>,
    finished: Cell<usize>,
    bytes: Cell<u64>,
    errors: RefCell<Vec<String>>,
}

impl ServerStats {
    fn error(&self, e: String) {
        let mut v = self.errors.borrow_mut();
        if v.len() < 8 {
            v.push(e);
        }
    }
}

/// One server connection: read a frame, check its checksum, echo it,
/// then hold the connection until every connection has been echoed, and
/// close first.
async fn serve_one(
    c: Tcp,
    st: Rc<ServerStats>,
    all_echoed: Rc<tokio::sync::watch::Sender<bool>>,
    n: usize,
    end: f64,
) {
    st.live.set(st.live.get() + 1);
    st.peak.set(st.peak.get().max(st.live.get()));
    let r: Result<(), String> = async {
        let mut head = [0u8; 8];
        c.recvn(&mut head, end)
            .await
            .map_err(|e| format!("recvn head: {e}"))?;
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len > 64 * 1024 {
            return Err(format!("bad length {len}"));
        }
        let mut rest = vec![0u8; len + 8];
        c.recvn(&mut rest, end)
            .await
            .map_err(|e| format!("recvn body: {e}"))?;
        let (body, sum) = rest.split_at(len);
        let mut want = [0u8; 8];
        want.copy_from_slice(sum);
        if fnv(FNV0, body) != u64::from_le_bytes(want) {
            return Err("checksum mismatch at the server".into());
        }
        c.send(&head, end).await.map_err(|e| format!("send: {e}"))?;
        c.send(&rest, end).await.map_err(|e| format!("send: {e}"))?;
        st.bytes.set(st.bytes.get() + (len + 16) as u64);
        st.echoed.set(st.echoed.get() + 1);
        if st.echoed.get() == n {
            all_echoed.send_replace(true);
        }
        let mut rx = all_echoed.subscribe();
        let wait = rx.wait_for(|all| *all);
        let left = Duration::from_secs_f64((end - clock()).max(0.0));
        let held = matches!(tokio::time::timeout(left, wait).await, Ok(Ok(_)));
        if held {
            Ok(())
        } else {
            Err("timed out holding the connection".into())
        }
    }
    .await;
    if let Err(e) = r {
        st.error(e);
    }
    drop(c);
    st.live.set(st.live.get() - 1);
    st.finished.set(st.finished.get() + 1);
}

#[test]
fn stress_echo_10k_connections() {
    let _g = serial();
    raise_nofile();
    let base = baseline_fds();
    let n: usize = std::env::var(CONNS_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CONNS);
    let (peak, bytes, client_line, secs) = bounded(58, move || {
        sockloop::run(async move {
            let t0 = Instant::now();
            let end = clock() + 45.0;
            let l = tcp().unwrap();
            l.listen(("127.0.0.1", 0)).unwrap();
            let addr = l.local_addr().unwrap();
            let mut child = ChildTest::spawn(
                "stress_echo_client",
                &[(CLIENT_ENV, addr.to_string()), (CONNS_ENV, n.to_string())],
            );
            let st = Rc::new(ServerStats::default());
            let all_echoed = Rc::new(tokio::sync::watch::channel(false).0);
            let acceptor = {
                let st = st.clone();
                sockloop::thread(async move {
                    for _ in 0..n {
                        match l.accept(end).await {
                            Ok(c) => {
                                sockloop::thread(serve_one(
                                    c,
                                    st.clone(),
                                    all_echoed.clone(),
                                    n,
                                    end,
                                ));
                            }
                            Err(e) => {
                                st.error(format!("accept: {e}"));
                                return;
                            }
                        }
                    }
                })
            };
            // Watch the child: a failed or hung client fails the test now.
            while st.finished.get() < n {
                let accept_failed = acceptor.is_finished() && !st.errors.borrow().is_empty();
                if child.exited() == Some(false) || accept_failed {
                    {
                        child.kill();
                        let (_, out, err) = child.finish(0.0);
                        panic!(
                            "client process failed; server errors {:?}\n--- client stdout\n{out}\n--- client stderr\n{err}",
                            st.errors.borrow()
                        );
                    }
                }
                if clock() > end + 2.0 {
                    child.kill();
                    let (_, out, err) = child.finish(0.0);
                    panic!(
                        "echo test hung: {} of {n} connections finished, server errors {:?}\n--- client stdout\n{out}\n--- client stderr\n{err}",
                        st.finished.get(),
                        st.errors.borrow()
                    );
                }
                sockloop::sleep(0.02).await;
            }
            let (ok, out, err) = child.finish(10.0);
            assert!(
                ok,
                "client process failed\n--- stdout\n{out}\n--- stderr\n{err}"
            );
            assert!(
                st.errors.borrow().is_empty(),
                "server errors: {:?}",
                st.errors.borrow()
            );
            assert_eq!(st.echoed.get(), n);
            assert_eq!(st.live.get(), 0);
            let line = tagged(&out, "STRESS-CLIENT ")
                .unwrap_or_else(|| panic!("no STRESS-CLIENT line in:\n{out}"))
                .to_string();
            (
                st.peak.get(),
                st.bytes.get(),
                line,
                t0.elapsed().as_secs_f64(),
            )
        })
    });
    // Every connection was open at the server at one moment.
    assert_eq!(peak, n, "connections held concurrently at the server");
    println!(
        "stress_echo: {n} connections; server: held {peak} at once, checksummed {bytes} bytes \
         received; client: {client_line}; whole test {secs:.2} s"
    );
    assert_eq!(fd_count(), base, "descriptors after the echo test");
}

/// The client side of [`stress_echo_10k_connections`], run in a child
/// process by it (does nothing when run otherwise).
#[test]
#[ignore = "the child process of stress_echo_10k_connections"]
fn stress_echo_client() {
    let Ok(addr) = std::env::var(CLIENT_ENV) else {
        return;
    };
    let addr: SocketAddr = addr.parse().expect("server address");
    let n: usize = std::env::var(CONNS_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CONNS);
    raise_nofile();
    sockloop::run(async move {
        let t0 = Instant::now();
        let end = clock() + 40.0;
        let live = Rc::new(Cell::new(0usize));
        let peak = Rc::new(Cell::new(0usize));
        let done = Rc::new(Cell::new(0usize));
        let bytes = Rc::new(Cell::new(0u64));
        let errors: Rc<RefCell<Vec<String>>> = Rc::default();
        // Connects in flight at once: the listen and SYN backlogs are finite.
        let gate = Rc::new(tokio::sync::Semaphore::new(256));
        for i in 0..n {
            let (live, peak, done, bytes, errors, gate) = (
                live.clone(),
                peak.clone(),
                done.clone(),
                bytes.clone(),
                errors.clone(),
                gate.clone(),
            );
            sockloop::thread(async move {
                let r: Result<(), String> = async {
                    let permit = gate.acquire().await.map_err(|e| e.to_string())?;
                    let s = tcp().map_err(|e| format!("tcp: {e}"))?;
                    // 127.0.0.2 .. 127.0.0.9: eight ephemeral port ranges.
                    let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8));
                    s.bind((src, 0)).map_err(|e| format!("bind {src}: {e}"))?;
                    s.connect(addr, end)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    drop(permit);
                    live.set(live.get() + 1);
                    peak.set(peak.get().max(live.get()));
                    let f = frame(i);
                    s.send(&f, end).await.map_err(|e| format!("send: {e}"))?;
                    let mut back = vec![0u8; f.len()];
                    s.recvn(&mut back, end)
                        .await
                        .map_err(|e| format!("recvn: {e}"))?;
                    if back != f {
                        return Err(format!(
                            "connection {i}: the echo differs from what was sent"
                        ));
                    }
                    bytes.set(bytes.get() + back.len() as u64);
                    // The server closes first, once every connection is echoed.
                    let mut one = [0u8; 1];
                    match s.recv(&mut one, end).await {
                        Ok(0) => {}
                        Ok(_) => return Err("extra bytes after the echo".into()),
                        Err(e) => return Err(format!("recv eof: {e}")),
                    }
                    drop(s);
                    live.set(live.get() - 1);
                    Ok(())
                }
                .await;
                if let Err(e) = r {
                    let mut v = errors.borrow_mut();
                    if v.len() < 8 {
                        v.push(e);
                    }
                }
                done.set(done.get() + 1);
            });
        }
        until(45.0, "client connections", || done.get() == n).await;
        assert!(
            errors.borrow().is_empty(),
            "client errors: {:?}",
            errors.borrow()
        );
        println!(
            "STRESS-CLIENT held {} at once, compared {} echoed bytes byte for byte, {:.2} s",
            peak.get(),
            bytes.get(),
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(peak.get(), n, "connections held concurrently at the client");
    });
}

// ===== peer RST in the middle of a call =====

/// Resets `peer`'s connection: linger 0, then close (a RST, not a FIN).
fn reset(peer: &Tcp) -> Instant {
    peer.setopt("linger", 0).unwrap();
    let t = Instant::now();
    peer.close().unwrap();
    t
}

type Outcome<T> = Rc<RefCell<Option<(sockloop::Result<T>, Instant)>>>;

/// Checks that the call behind `out` is still parked, resets `peer`,
/// waits for the call to return and checks it failed within 5 s of the
/// reset. Returns the error and how long after the reset it came.
async fn after_reset<T>(what: &str, out: &Outcome<T>, peer: &Tcp) -> (sockloop::Error, Duration) {
    assert!(out.borrow().is_none(), "{what} returned before the reset");
    let t_rst = reset(peer);
    until(10.0, what, || out.borrow().is_some()).await;
    let (r, at) = out.borrow_mut().take().unwrap();
    let Err(e) = r else {
        panic!("{what} succeeded although the peer reset the connection");
    };
    let waited = at.duration_since(t_rst);
    assert!(
        waited < Duration::from_secs(5),
        "{what} returned {waited:?} after the reset"
    );
    (e, waited)
}

#[test]
fn stress_rst_mid_recvn() {
    let _g = serial();
    let base = baseline_fds();
    bounded(20, || {
        sockloop::run(async {
            let (peer, conn) = tcp_pair(|_| {}).await;
            let out: Outcome<usize> = Rc::default();
            let got: Rc<RefCell<Vec<u8>>> = Rc::new(RefCell::new(vec![0u8; 10_000]));
            let (o, g) = (out.clone(), got.clone());
            sockloop::thread(async move {
                let mut buf = vec![0u8; 10_000];
                let r = conn.recvn(&mut buf, None).await;
                *g.borrow_mut() = buf;
                *o.borrow_mut() = Some((r, Instant::now()));
            });
            let mut sent = vec![0u8; 3000];
            pattern(7, 0, &mut sent);
            peer.send(&sent, clock() + 5.0).await.unwrap();
            // Let recvn take those bytes and park for the rest.
            sockloop::sleep(0.05).await;
            let (e, waited) = after_reset("recvn", &out, &peer).await;
            assert_eq!(e.name(), "connection_reset", "{e:?}");
            assert_eq!(e.kind(), ErrorKind::ConnectionReset);
            assert_eq!(e.partial(), Some(3000), "{e:?}");
            assert!(
                got.borrow()[..3000] == sent[..],
                "the bytes before the reset"
            );
            println!(
                "stress_rst_mid_recvn: connection_reset, partial 3000, {waited:?} after the RST"
            );
        })
    });
    assert_eq!(fd_count(), base, "descriptors after the recvn reset");
}

#[test]
fn stress_rst_mid_recvall() {
    let _g = serial();
    let base = baseline_fds();
    bounded(20, || {
        sockloop::run(async {
            let (peer, conn) = tcp_pair(|_| {}).await;
            let out: Outcome<Vec<u8>> = Rc::default();
            let o = out.clone();
            sockloop::thread(async move {
                let r = conn.recvall(None).await;
                *o.borrow_mut() = Some((r, Instant::now()));
            });
            let mut sent = vec![0u8; 5000];
            pattern(9, 0, &mut sent);
            peer.send(&sent[..2000], clock() + 5.0).await.unwrap();
            sockloop::sleep(0.02).await;
            peer.send(&sent[2000..], clock() + 5.0).await.unwrap();
            sockloop::sleep(0.05).await;
            let (mut e, waited) = after_reset("recvall", &out, &peer).await;
            assert_eq!(e.name(), "connection_reset", "{e:?}");
            assert_eq!(e.partial(), Some(5000), "{e:?}");
            assert_eq!(
                e.take_data().as_deref(),
                Some(&sent[..]),
                "the data before the reset"
            );
            println!(
                "stress_rst_mid_recvall: connection_reset, partial 5000 (data kept), {waited:?} after the RST"
            );
        })
    });
    assert_eq!(fd_count(), base, "descriptors after the recvall reset");
}

#[test]
fn stress_rst_mid_send() {
    let _g = serial();
    let base = baseline_fds();
    bounded(20, || {
        sockloop::run(async {
            // Small buffers, so the bytes in flight are few and known.
            let (peer, conn) = tcp_pair(|c| c.setopt("rcvbuf", 32 * 1024).unwrap()).await;
            conn.setopt("sndbuf", 32 * 1024).unwrap();
            let sndbuf = conn.getopt("sndbuf").unwrap().as_int().unwrap() as usize;
            let rcvbuf = peer.getopt("rcvbuf").unwrap().as_int().unwrap() as usize;
            const TOTAL: usize = 8 << 20;
            const READ: usize = 100_000;
            let out: Outcome<()> = Rc::default();
            let conn = Rc::new(conn);
            let (o, c) = (out.clone(), conn.clone());
            sockloop::thread(async move {
                let mut big = vec![0u8; TOTAL];
                pattern(3, 0, &mut big);
                let r = c.send(&big, None).await;
                *o.borrow_mut() = Some((r, Instant::now()));
            });
            // The peer reads a known amount (and checks it), then resets.
            let mut got = vec![0u8; READ];
            peer.recvn(&mut got, clock() + 5.0).await.unwrap();
            let mut want = vec![0u8; READ];
            pattern(3, 0, &mut want);
            assert!(got == want, "the bytes before the reset differ");
            sockloop::sleep(0.05).await;
            let (e, waited) = after_reset("send", &out, &peer).await;
            // Linux reports the pending ECONNRESET first, then EPIPE.
            assert_eq!(e.name(), "connection_reset", "{e:?}");
            let p = e.partial().expect("send sets partial on every error");
            // Written = read by the peer + what sat in the two buffers.
            assert!(
                p >= READ && p <= READ + sndbuf + rcvbuf,
                "partial {p}: the peer read {READ}, buffers {sndbuf} + {rcvbuf}"
            );
            // The next send gets EPIPE at once.
            let t = Instant::now();
            let e2 = conn.send(b"more", None).await.unwrap_err();
            assert_eq!(e2.name(), "broken_pipe", "{e2:?}");
            assert_eq!(e2.partial(), Some(0), "{e2:?}");
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the second send took {:?}",
                t.elapsed()
            );
            println!(
                "stress_rst_mid_send: connection_reset, partial {p} (peer read {READ}, buffers \
                 {sndbuf}+{rcvbuf}), {waited:?} after the RST"
            );
        })
    });
    assert_eq!(fd_count(), base, "descriptors after the send reset");
}

// ===== EMFILE during accept =====

#[test]
fn stress_emfile_accept() {
    let _g = serial();
    let base = baseline_fds();
    let child = ChildTest::spawn("stress_emfile_child", &[(EMFILE_ENV, "1".into())]);
    let (ok, out, err) = child.finish(30.0);
    assert!(
        ok,
        "EMFILE child failed\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    let line = tagged(&out, "STRESS-EMFILE ")
        .unwrap_or_else(|| panic!("no STRESS-EMFILE line in:\n{out}"));
    println!("stress_emfile_accept: {line}");
    assert_eq!(fd_count(), base, "descriptors after the EMFILE test");
}

/// The child of [`stress_emfile_accept`]: lowers its own `RLIMIT_NOFILE`,
/// uses up the descriptors, and checks that `accept` fails at once with
/// "too many open files", then serves again once descriptors are free.
#[test]
#[ignore = "the child process of stress_emfile_accept"]
fn stress_emfile_child() {
    if std::env::var(EMFILE_ENV).is_err() {
        return;
    }
    sockloop::run(async {
        let base = baseline_fds();
        let l = Rc::new(tcp().unwrap());
        l.listen(("127.0.0.1", 0)).unwrap();
        let addr = l.local_addr().unwrap().socket_addr().unwrap();
        // The server: accept in a loop, echo 4 bytes per connection; on an
        // error record it and go on, as a server does.
        let errors: Rc<RefCell<Vec<(sockloop::Error, Duration)>>> = Rc::default();
        let served = Rc::new(Cell::new(0usize));
        let server = {
            let (l, errors, served) = (l.clone(), errors.clone(), served.clone());
            sockloop::thread(async move {
                let mut accepted = 0;
                while accepted < 2 {
                    let t = Instant::now();
                    match l.accept(clock() + 10.0).await {
                        Ok(c) => {
                            accepted += 1;
                            let served = served.clone();
                            sockloop::thread(async move {
                                let mut b = [0u8; 4];
                                c.recvn(&mut b, clock() + 5.0).await.unwrap();
                                c.send(&b, clock() + 5.0).await.unwrap();
                                served.set(served.get() + 1);
                            });
                        }
                        Err(e) if e.name() == "closed" => return,
                        Err(e) => {
                            errors.borrow_mut().push((e, t.elapsed()));
                            sockloop::sleep(0.01).await;
                        }
                    }
                }
            })
        };
        // Let the server park in accept (the listener joins the reactor).
        sockloop::sleep(0.02).await;
        // A client that connects now sits in the backlog; then the
        // descriptors run out.
        let mut c1 = std::net::TcpStream::connect(addr).unwrap();
        let old = getrlimit(Resource::Nofile);
        let have = fd_count() as u64;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(have + 8),
                maximum: old.maximum,
            },
        )
        .unwrap();
        let mut burned = Vec::new();
        let t_full = Instant::now();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => burned.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(EMFILE), "{e}");
                    break;
                }
            }
            assert!(burned.len() < 64, "RLIMIT_NOFILE was not lowered");
        }
        until(5.0, "an accept error", || !errors.borrow().is_empty()).await;
        let first_after = t_full.elapsed();
        {
            let errs = errors.borrow();
            let (e, took) = &errs[0];
            assert_eq!(e.os_error(), Some(EMFILE), "{e:?}");
            assert_eq!(e.kind(), ErrorKind::Os, "{e:?}");
            assert_eq!(e.name(), "Too many open files", "{e:?}");
            // It failed at once, not at its deadline 10 s later.
            assert!(
                *took < Duration::from_secs(2),
                "accept took {took:?} to fail"
            );
        }
        // Still out of descriptors a while later: every retry fails at once.
        sockloop::sleep(0.05).await;
        let failures = errors.borrow().len();
        assert!(failures >= 2, "accept retried {failures} times in 50 ms");
        assert!(
            errors
                .borrow()
                .iter()
                .all(|(e, took)| e.os_error() == Some(EMFILE) && *took < Duration::from_secs(2)),
            "{:?}",
            errors.borrow()
        );
        assert_eq!(served.get(), 0);
        // Free the descriptors: the waiting client is served.
        drop(burned);
        setrlimit(Resource::Nofile, old).unwrap();
        c1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c1.write_all(b"ping").unwrap();
        until(5.0, "the first connection served", || served.get() == 1).await;
        let mut b = [0u8; 4];
        c1.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        // And a new one too.
        let mut c2 = std::net::TcpStream::connect(addr).unwrap();
        c2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c2.write_all(b"pong").unwrap();
        until(5.0, "the second connection served", || served.get() == 2).await;
        c2.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
        until(5.0, "the server thread", || server.is_finished()).await;
        drop((c1, c2));
        let fails = errors.borrow().len();
        errors.borrow_mut().clear();
        l.close().unwrap();
        drop(l);
        assert_eq!(
            fd_count(),
            base,
            "descriptors in the child after the EMFILE test"
        );
        println!(
            "STRESS-EMFILE accept failed {fails} times with os error 24 (\"Too many open files\", \
             the first {first_after:?} after the descriptors ran out), then served 2 connections"
        );
    });
}
