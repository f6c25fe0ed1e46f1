//! The wait path every socket call goes through: a deadline bounds a call
//! however fast data arrives, an expired call still gets what is there,
//! a pending socket error wakes its waiters, a call that can never succeed
//! fails at once every time, `connect` on a connected socket is refused,
//! and a cancel reaches a thread parked in Tokio's I/O traits.
//!
//! The kernel is involved everywhere here, so times are measured with the
//! real clock and bounded generously ("returned within deadline + 100 ms").

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockloop::luasocket::{pump_all, select, sink, source};
use sockloop::socketloop::ASocket;
use sockloop::{clock, sleep, tcp, thread, udp, Error, Tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// The tests that move hundreds of MiB run one at a time, so that they do
/// not starve each other of the machine's cores.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How late a call may return after its deadline on a busy shared machine.
const SLACK: Duration = Duration::from_millis(100);

/// The byte at stream position `i` of [`endless_writer`]'s stream.
fn byte_at(i: u64) -> u8 {
    (i % 251) as u8
}

/// Checks that `data` is the writer's stream from position 0.
fn assert_stream_prefix(data: &[u8]) {
    if let Some(i) = (0..data.len()).find(|&i| data[i] != byte_at(i as u64)) {
        panic!("byte {i} of {} is wrong", data.len());
    }
}

/// Lets the kernel queue `bytes` (doubled by Linux) on `s`'s send side
/// (`SO_SNDBUFFORCE`, which needs `CAP_NET_ADMIN`); `false` if refused.
fn force_sndbuf(s: &UnixStream, bytes: usize) -> bool {
    rustix::net::sockopt::set_socket_send_buffer_size_force(s, bytes).is_ok()
}

/// Queued before a bounded call starts (where `SO_SNDBUFFORCE` is allowed).
const PREQUEUE: u64 = 384 << 20;

/// A std thread that writes the stream `byte_at(0), byte_at(1), ...` into
/// `s` as fast as the kernel takes it, until the reader goes away. With a
/// forced large send buffer, returns once [`PREQUEUE`] bytes are queued,
/// so the reader starts with hundreds of MiB waiting.
fn endless_writer(mut s: UnixStream) -> JoinHandle<u64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let big = force_sndbuf(&s, 256 << 20);
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let h = std::thread::spawn(move || {
        const CHUNK: usize = 251 * 4096;
        let pat: Vec<u8> = (0..CHUNK as u64 + 251).map(byte_at).collect();
        let mut pos = 0u64;
        loop {
            let off = (pos % 251) as usize;
            match s.write(&pat[off..off + CHUNK]) {
                Ok(n) => {
                    pos += n as u64;
                    w.store(pos, Ordering::Release);
                }
                Err(_) => return pos,
            }
        }
    });
    if big {
        let until = Instant::now() + Duration::from_secs(10);
        while written.load(Ordering::Acquire) < PREQUEUE && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    h
}

/// A std thread that reads and checks everything from `s` until EOF or an
/// error; returns the byte count.
fn endless_reader(mut s: UnixStream, expect: u8) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => {
                    assert!(buf[..n].iter().all(|&b| b == expect), "corrupt stream");
                    total += n as u64;
                }
            }
        }
    })
}

/// `deadline` seconds from now as `expires`, and the real-clock instant
/// the call must have returned by.
fn deadline(s: f64) -> (f64, Instant) {
    (
        clock() + s,
        Instant::now() + Duration::from_secs_f64(s) + SLACK,
    )
}

fn assert_on_time(by: Instant, what: &str) {
    let now = Instant::now();
    assert!(
        now <= by,
        "{what} returned {:?} after its deadline + slack",
        now - by
    );
}

/// Runs `body` in a sockloop loop on the reading end of a Unix stream
/// whose other end an [`endless_writer`] feeds, one such test at a time.
fn under_endless_sender<F, Fut>(body: F)
where
    F: FnOnce(Tcp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let _serial = heavy();
    support::bounded(30, || {
        let (a, b) = UnixStream::pair().unwrap();
        let w = endless_writer(b);
        sockloop::run(body(Tcp::from(a)));
        w.join().unwrap();
    });
}

// ===== 1. a deadline bounds the call while data keeps arriving =====

#[test]
fn wait_recvall_ends_at_its_deadline_under_an_endless_sender() {
    under_endless_sender(|r| async move {
        let (expires, by) = deadline(0.05);
        let mut e = r.recvall(expires).await.unwrap_err();
        assert_on_time(by, "recvall");
        assert_eq!(e.name(), "timeout");
        let data = e.take_data().unwrap();
        assert!(!data.is_empty());
        assert_eq!(e.partial(), Some(data.len()));
        assert_stream_prefix(&data);
        // recvall_read is recvall: same bound.
        let (expires, by) = deadline(0.05);
        let e = r.recvall_read(expires).await.unwrap_err();
        assert_on_time(by, "recvall_read");
        assert_eq!(e.name(), "timeout");
        assert!(e.partial().unwrap() > 0);
    });
}

#[test]
fn wait_recvn_ends_at_its_deadline_under_an_endless_sender() {
    under_endless_sender(|r| async move {
        // 4 GiB, mapped lazily: only what arrives is touched.
        let mut buf = vec![0u8; 4 << 30];
        let (expires, by) = deadline(0.05);
        let e = r.recvn(&mut buf, expires).await.unwrap_err();
        assert_on_time(by, "recvn");
        assert_eq!(e.name(), "timeout");
        let got = e.partial().unwrap();
        assert!(got > 0 && got < buf.len(), "partial {got}");
        assert_stream_prefix(&buf[..got]);
    });
}

#[test]
fn wait_send_of_a_large_buffer_ends_at_its_deadline() {
    let _serial = heavy();
    support::bounded(30, || {
        let (a, b) = UnixStream::pair().unwrap();
        // Room for 512 MiB: the sends do not block while the reader drains.
        force_sndbuf(&a, 256 << 20);
        let rd = endless_reader(b, 7);
        let sent = sockloop::run(async move {
            let w = Tcp::from(a);
            let big = vec![7u8; 4 << 30];
            let (expires, by) = deadline(0.05);
            let e = w.send(&big, expires).await.unwrap_err();
            assert_on_time(by, "send");
            assert_eq!(e.name(), "timeout");
            let n = e.partial().unwrap();
            assert!(n > 0 && n < big.len(), "partial {n}");
            n
        });
        // The reader saw exactly what send counted.
        assert_eq!(rd.join().unwrap(), sent as u64);
    });
}

#[test]
fn wait_luasocket_receive_patterns_end_at_their_deadline() {
    under_endless_sender(|a| async move {
        let s = ASocket::new(a);
        s.settimeout(Some(0.05));
        let by = Instant::now() + Duration::from_millis(50) + SLACK;
        let mut e = s.receive("*a").await.unwrap_err();
        assert_on_time(by, "receive(\"*a\")");
        assert_eq!(e.name(), "timeout");
        let first = e.take_data().unwrap();
        assert!(!first.is_empty());
        assert_stream_prefix(&first);

        let by = Instant::now() + Duration::from_millis(50) + SLACK;
        let mut e = s.receive(1usize << 33).await.unwrap_err();
        assert_on_time(by, "receive(n)");
        assert_eq!(e.name(), "timeout");
        assert!(!e.take_data().unwrap().is_empty());
    });
}

#[test]
fn wait_ltn12_pump_over_until_ends_at_its_deadline() {
    under_endless_sender(|r| async move {
        let (expires, by) = deadline(0.05);
        let mut src = source("until-closed", r.until(expires), None).unwrap();
        let mut out = sink("keep-open", Vec::new()).unwrap();
        let e = pump_all(&mut src, &mut out).await.unwrap_err();
        assert_on_time(by, "pump_all");
        assert_eq!(e.name(), "timeout");
        let got = out.get_ref().unwrap();
        assert!(!got.is_empty());
        assert_stream_prefix(got);

        // tokio::io::copy through the same kind of view.
        let (expires, by) = deadline(0.05);
        let mut view = r.until(expires);
        let e = tokio::io::copy(&mut view, &mut tokio::io::sink())
            .await
            .unwrap_err();
        assert_on_time(by, "tokio::io::copy");
        assert_eq!(Error::from(e).name(), "timeout");
    });
}

// ===== 2. try first: an expired call still gets what is there =====

#[test]
fn wait_expired_calls_still_get_what_is_queued() {
    support::bounded(20, || {
        sockloop::run(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let addr = server.local_addr().unwrap();
            let port = addr.port();
            // A first wait registers the socket and clears its readiness.
            let e = server.accept(clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            // A blocking connect: the loop does not turn meanwhile.
            let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let conn = server.accept(clock()).await.unwrap();

            let mut buf = [0u8; 8];
            let e = conn.recv(&mut buf, clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            peer.write_all(b"x").unwrap();
            assert_eq!(conn.recv(&mut buf, clock()).await.unwrap(), 1);
            assert_eq!(buf[0], b'x');
            peer.write_all(b"yz").unwrap();
            assert_eq!(conn.recvn(&mut buf[..2], clock() - 1.0).await.unwrap(), 2);
            assert_eq!(&buf[..2], b"yz");
            // Nothing queued: an expired call times out at once.
            let t0 = Instant::now();
            let e = conn.recv(&mut buf, clock() - 1.0).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            assert!(t0.elapsed() < SLACK);
        });
    });
}

#[test]
fn wait_expired_send_uses_the_room_there_is() {
    support::bounded(20, || {
        let (a, mut b) = UnixStream::pair().unwrap();
        sockloop::run(async move {
            let w = Tcp::from(a);
            let big = vec![3u8; 64 << 20];
            let e = w.send(&big, clock() + 0.02).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            let filled = e.partial().unwrap();
            assert!(filled > 0);
            // The peer drains the socket; the loop does not turn.
            b.set_nonblocking(true).unwrap();
            let mut sink = vec![0u8; 1 << 20];
            let mut drained = 0;
            loop {
                match b.read(&mut sink) {
                    Ok(n) if n > 0 => drained += n,
                    _ => break,
                }
            }
            assert_eq!(drained, filled);
            w.send(b"more", clock() - 1.0).await.unwrap();
            b.set_nonblocking(false).unwrap();
            let mut got = [0u8; 4];
            b.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"more");
        });
    });
}

#[test]
fn wait_expired_udp_recv_gets_a_queued_datagram() {
    support::bounded(20, || {
        sockloop::run(async {
            let u = udp().unwrap();
            u.bind(("127.0.0.1", 0)).unwrap();
            let port = u.local_addr().unwrap().port();
            let mut buf = [0u8; 16];
            let e = u.recv(&mut buf, clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            peer.send_to(b"dgram", ("127.0.0.1", port)).unwrap();
            assert_eq!(u.recv(&mut buf, clock()).await.unwrap(), 5);
            assert_eq!(&buf[..5], b"dgram");
        });
    });
}

// ===== 3. a pending socket error wakes every waiter =====

/// A loopback UDP port with nothing bound to it.
fn closed_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

#[test]
fn wait_udp_error_wakes_a_parked_reader() {
    support::bounded(20, || {
        sockloop::run(async {
            let u = udp().unwrap();
            u.connect(("127.0.0.1", closed_udp_port()), None)
                .await
                .unwrap();
            let mut buf = [0u8; 16];
            // Registered, readiness cleared.
            let e = u.recv(&mut buf, clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            // A reader parked with no deadline wakes with the ICMP error.
            let t0 = Instant::now();
            let (r, s) = tokio::join!(u.recv(&mut buf, None), async {
                sleep(0.02).await;
                u.send(b"ping", None).await
            });
            assert_eq!(s.unwrap(), 4);
            assert_eq!(r.unwrap_err().name(), "connection_refused");
            assert!(t0.elapsed() < Duration::from_secs(2));
            // The error was taken: the next call waits for data again.
            let e = u.recv(&mut buf, clock() + 0.02).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            // An error that is pending before the call parks.
            u.send(b"ping", None).await.unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let e = u.recv(&mut buf, None).await.unwrap_err();
            assert_eq!(e.name(), "connection_refused");
        });
    });
}

#[test]
fn wait_udp_error_wakes_every_waiter() {
    support::bounded(20, || {
        sockloop::run(async {
            let u = Rc::new(udp().unwrap());
            u.connect(("127.0.0.1", closed_udp_port()), None)
                .await
                .unwrap();
            let got = Rc::new(RefCell::new(Vec::new()));
            let mut ts = Vec::new();
            for _ in 0..2 {
                let (u, got) = (u.clone(), got.clone());
                ts.push(thread(async move {
                    let mut buf = [0u8; 16];
                    let r = u.recv(&mut buf, clock() + 5.0).await;
                    got.borrow_mut().push(r.map_err(|e| e.name().to_string()));
                }));
            }
            u.send(b"ping", None).await.unwrap();
            sleep(0.05).await;
            // One reader takes the error; the other wakes, finds nothing
            // and parks again: cancel it to end the test.
            let refused = got
                .borrow()
                .iter()
                .filter(|r| matches!(r, Err(n) if n == "connection_refused"))
                .count();
            assert_eq!(refused, 1, "{:?}", got.borrow());
            for t in &ts {
                t.cancel();
            }
            while ts.iter().any(|t| !t.is_finished()) {
                sleep(0.005).await;
            }
        });
    });
}

#[test]
fn wait_tcp_reset_wakes_a_parked_reader() {
    support::bounded(20, || {
        sockloop::run(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let c = tcp().unwrap();
            c.connect(&server.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let s = server.accept(clock() + 5.0).await.unwrap();
            let mut buf = [0u8; 8];
            let (r, _) = tokio::join!(s.recvn(&mut buf, None), async {
                c.send(b"abc", None).await.unwrap();
                sleep(0.02).await;
                c.setopt("linger", Duration::ZERO).unwrap();
                c.close().unwrap();
            });
            let e = r.unwrap_err();
            assert_eq!(e.name(), "connection_reset");
            assert_eq!(e.partial(), Some(3));
        });
    });
}

// ===== 4. a call that can never succeed fails at once, every time =====

/// Runs `f` three times; each must fail within 1 s, all with `name`.
async fn fails_at_once<F, Fut, T>(name: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = sockloop::Result<T>>,
    T: std::fmt::Debug,
{
    for k in 0..3 {
        let t0 = Instant::now();
        let e = f().await.unwrap_err();
        assert_eq!(e.name(), name, "call {k}");
        assert!(t0.elapsed() < Duration::from_secs(1), "call {k} waited");
    }
}

#[test]
fn wait_wrong_state_calls_fail_at_once_every_time() {
    support::bounded(30, || {
        sockloop::run(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let e = server.accept(clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            fails_at_once("not_connected", || async {
                server.recv(&mut [0u8; 8], None).await
            })
            .await;
            let mut buf = [0u8; 8];
            for _ in 0..3 {
                let e = server.recvn(&mut buf, None).await.unwrap_err();
                assert_eq!((e.name(), e.partial()), ("not_connected", Some(0)));
            }
            fails_at_once("not_connected", || server.recvall(None)).await;
            fails_at_once("broken_pipe", || server.send(b"x", None)).await;

            // A socket that never connected.
            let nc = tcp().unwrap();
            nc.bind(("127.0.0.1", 0)).unwrap();
            fails_at_once("broken_pipe", || nc.send(b"x", None)).await;
            fails_at_once("not_connected", || async {
                nc.recv(&mut [0u8; 8], None).await
            })
            .await;

            // accept on a connected socket, after it waited to read.
            let c = tcp().unwrap();
            c.connect(&server.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let s = server.accept(clock() + 5.0).await.unwrap();
            let e = s.recv(&mut buf, clock() + 0.01).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            fails_at_once("invalid_argument", || s.accept(None)).await;
            // The socket still works.
            c.send(b"ok", None).await.unwrap();
            assert_eq!(s.recvn(&mut buf[..2], clock() + 5.0).await.unwrap(), 2);
        });
    });
}

#[test]
fn wait_luasocket_send_on_a_listener_after_select_fails_at_once() {
    support::bounded(20, || {
        sockloop::run(async {
            let server = sockloop::luasocket::bind("127.0.0.1", 0, None).unwrap();
            let e = select(&[&server], &[], Some(0.0)).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            fails_at_once("broken_pipe", || server.send(b"x")).await;
            fails_at_once("not_connected", || server.receive("*l")).await;
        });
    });
}

// ===== 5. connect on a connected socket =====

#[test]
fn wait_connect_on_a_connected_socket_is_refused_and_changes_nothing() {
    support::bounded(20, || {
        sockloop::run(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let other = tcp().unwrap();
            other.listen(("127.0.0.1", 0)).unwrap();
            let c = tcp().unwrap();
            c.connect(&server.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let s = server.accept(clock() + 5.0).await.unwrap();
            for _ in 0..2 {
                let e = c
                    .connect(&other.local_addr().unwrap(), clock() + 5.0)
                    .await
                    .unwrap_err();
                assert_eq!(e.name(), "already_connected");
            }
            assert_eq!(c.remote_addr().unwrap(), s.local_addr().unwrap());
            c.send(b"still", None).await.unwrap();
            let mut buf = [0u8; 5];
            s.recvn(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(&buf, b"still");
            let e = other.accept(clock() + 0.05).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
        });
    });
}

#[test]
fn wait_connect_on_a_connected_unix_socket_is_refused() {
    support::bounded(20, || {
        let (a, _b) = UnixStream::pair().unwrap();
        let path = support::temp_path("already");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        sockloop::run(async move {
            let c = Tcp::from(a);
            let e = c
                .connect(path.to_str().unwrap(), clock() + 5.0)
                .await
                .unwrap_err();
            assert_eq!(e.name(), "already_connected");
            l.set_nonblocking(true).unwrap();
            assert!(l.accept().is_err()); // nothing reached the listener
            let _ = std::fs::remove_file(&path);
        });
    });
}

// ===== 6. cancellation reaches a thread parked in Tokio's I/O traits =====

/// Runs `body` in a sockloop thread, cancels it once it parked, and
/// returns the `io::Error` the body reported.
async fn cancel_parked<F, Fut>(body: F) -> std::io::Error
where
    F: FnOnce(Rc<RefCell<Option<std::io::Error>>>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let out = Rc::new(RefCell::new(None));
    let t = thread(body(out.clone()));
    sleep(0.02).await;
    assert!(!t.is_finished(), "the thread should be parked");
    t.cancel();
    let until = clock() + 5.0;
    while !t.is_finished() && clock() < until {
        sleep(0.002).await;
    }
    assert!(
        t.is_finished(),
        "the cancel did not wake the thread ({:?})",
        t.status()
    );
    let e = out.borrow_mut().take().expect("an error");
    e
}

#[test]
fn wait_cancel_reaches_asyncread_and_asyncwrite() {
    support::bounded(20, || {
        sockloop::run(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let c = Rc::new(tcp().unwrap());
            c.connect(&server.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let s = Rc::new(server.accept(clock() + 5.0).await.unwrap());

            // A codec reading lines.
            let s2 = s.clone();
            let e = cancel_parked(|out| async move {
                let mut lines = FramedRead::new(&*s2, LinesCodec::new());
                match lines.next().await {
                    Some(Err(LinesCodecError::Io(e))) => *out.borrow_mut() = Some(e),
                    other => panic!("unexpected {other:?}"),
                }
            })
            .await;
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
            assert_eq!(Error::from(e).name(), "cancelled");

            // tokio::io::copy on the owned socket's `&Tcp`.
            let s3 = s.clone();
            let e = cancel_parked(|out| async move {
                let r = tokio::io::copy(&mut &*s3, &mut tokio::io::sink()).await;
                *out.borrow_mut() = r.err();
            })
            .await;
            assert_eq!(Error::from(e).name(), "cancelled");

            // A read through the owned `Tcp` impl.
            let s4 = s.clone();
            let e = cancel_parked(|out| async move {
                let mut buf = [0u8; 8];
                let r = (&*s4).read(&mut buf).await;
                *out.borrow_mut() = r.err();
            })
            .await;
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);

            // A writer parked on a full send buffer.
            let c2 = c.clone();
            let e = cancel_parked(|out| async move {
                let big = vec![1u8; 64 << 20];
                let r = (&*c2).write_all(&big).await;
                *out.borrow_mut() = r.err();
            })
            .await;
            // write_all retries `Interrupted`: it ends on the repeat of
            // the cancel, still named "cancelled".
            assert_eq!(Error::from(e).name(), "cancelled");

            // The sockets still work.
            let mut buf = [0u8; 4];
            assert_eq!(s.recv(&mut buf, clock() + 5.0).await.unwrap(), 4);
        });
    });
}
