//! TLS on loopback, the I/O side: each `Stcp` call as its `Tcp` twin —
//! partial counts, `"eof"` on `close_notify`, truncation reported, cancel,
//! `close` waking every waiter, deadlines that bound looping calls, full
//! duplex over one `Rc<Stcp>` — and the Tokio traits, LTN12 sinks and
//! sources over TLS.
//!
//! The kernel is involved everywhere, so times are measured with the real
//! clock and bounded generously.

mod support;

use std::cell::RefCell;
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockloop::luasocket::{pump_all, sink, source};
use sockloop::{client_stcp, clock, server_handshake, sleep, tcp, thread, Error, Stcp};
use support::tls::{configs, listener, pair};
use support::{fnv, pattern, FNV0};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// How late a call may return after its deadline on a busy machine.
const SLACK: Duration = Duration::from_millis(150);

/// The tests that move tens of MiB or more run one at a time, so that
/// they do not starve each other (and the timed ones) of the cores.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run<F: std::future::Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    support::bounded(120, move || sockloop::run(f()));
}

fn assert_on_time(started: Instant, secs: f64, what: &str) {
    let took = started.elapsed();
    let limit = Duration::from_secs_f64(secs) + SLACK;
    assert!(took <= limit, "{what} took {took:?}, more than {limit:?}");
}

/// Runs `body` in a sockloop thread, cancels it once it has parked and
/// returns the error it reported.
async fn cancel_parked<F, Fut>(body: F) -> Error
where
    F: FnOnce(Rc<RefCell<Option<Error>>>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let out = Rc::new(RefCell::new(None));
    let t = thread(body(out.clone()));
    sleep(0.03).await;
    assert!(!t.is_finished(), "the thread should be parked");
    t.cancel();
    let until = clock() + 5.0;
    while !t.is_finished() && clock() < until {
        sleep(0.002).await;
    }
    assert!(t.is_finished(), "the cancel did not wake the thread");
    let e = out.borrow_mut().take().expect("an error");
    e
}

// ===== partial counts, eof, truncation =====

#[test]
fn tls_recvn_recvall_partial_and_eof_on_close_notify() {
    run(|| async {
        let (c, s) = pair().await;
        s.send(b"abc", None).await.unwrap();
        let mut buf = [0u8; 10];
        let e = c.recvn(&mut buf, clock() + 0.2).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.partial(), Some(3));
        assert_eq!(&buf[..3], b"abc");

        s.send(b"de", None).await.unwrap();
        let mut e = c.recvall(clock() + 0.2).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.partial(), Some(2));
        assert_eq!(e.take_data().unwrap(), b"de");

        // close_notify: a clean end, as a FIN for Tcp.
        s.send(b"fg", None).await.unwrap();
        s.shutdown(Shutdown::Write, clock() + 5.0).await.unwrap();
        let e = c.recvn(&mut buf, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "eof");
        assert_eq!(e.partial(), Some(2));
        assert_eq!(&buf[..2], b"fg");
        assert_eq!(c.recv(&mut buf, clock() + 5.0).await.unwrap(), 0);
        assert_eq!(c.recv(&mut buf, None).await.unwrap(), 0, "and again");
        assert_eq!(c.recvall(clock() + 5.0).await.unwrap(), b"");
        let mut r = c.recvall_read(clock() + 5.0).await.unwrap();
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut all).unwrap();
        assert!(all.is_empty());

        // The other direction still works after a half close.
        c.send(b"back", None).await.unwrap();
        c.shutdown(Shutdown::Write, clock() + 5.0).await.unwrap();
        assert_eq!(s.recvall(clock() + 5.0).await.unwrap(), b"back");

        // Writing after our own close_notify.
        let e = s.send(b"late", None).await.unwrap_err();
        assert_eq!(e.name(), "broken_pipe");
        assert_eq!(e.partial(), Some(0));
    });
}

#[test]
fn tls_truncation_is_reported_not_taken_as_eof() {
    run(|| async {
        let (c, s) = pair().await;
        s.send(b"xyz", None).await.unwrap();
        // A TCP close with no close_notify.
        s.get_ref().close().unwrap();
        let mut e = c.recvall(clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "tls_truncated");
        assert_eq!(e.partial(), Some(3));
        assert_eq!(e.take_data().unwrap(), b"xyz");
        assert_eq!(e.luasocket_str(), "closed");
        let mut buf = [0u8; 4];
        assert_eq!(
            c.recv(&mut buf, clock() + 5.0).await.unwrap_err().name(),
            "tls_truncated"
        );
        let e = c.recvn(&mut buf, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "tls_truncated");
        assert_eq!(e.partial(), Some(0));
        // Through AsyncRead it is an io error, not Ok(0).
        let e = (&c).read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(Error::from(e).name(), "tls_truncated");
        // LuaSocket's "*a" over it reports it too, with the data.
        let (c, s) = pair().await;
        s.send(b"body", None).await.unwrap();
        s.get_ref().close().unwrap();
        let mut src = source("until-closed", c.until(clock() + 5.0), None).unwrap();
        let mut out = sink("keep-open", Vec::new()).unwrap();
        let e = pump_all(&mut src, &mut out).await.unwrap_err();
        assert_eq!(e.name(), "tls_truncated");
        assert_eq!(out.get_ref().unwrap(), b"body");
    });
}

#[test]
fn tls_expired_calls_still_get_what_is_there() {
    run(|| async {
        let (c, s) = pair().await;
        s.send(b"queued", None).await.unwrap();
        s.shutdown(Shutdown::Write, clock() + 5.0).await.unwrap();
        sleep(0.05).await;
        let mut buf = [0u8; 6];
        assert_eq!(c.recvn(&mut buf, clock() - 1.0).await.unwrap(), 6);
        assert_eq!(&buf, b"queued");
        assert_eq!(c.recv(&mut buf, clock() - 1.0).await.unwrap(), 0);
        // Nothing there: "timeout" at once.
        let (c, _s) = pair().await;
        let started = Instant::now();
        let e = c.recv(&mut buf, clock() - 1.0).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert!(started.elapsed() < Duration::from_millis(100));
        // An expired send still uses the room there is.
        c.send(b"room", clock() - 1.0).await.unwrap();
    });
}

#[test]
fn tls_small_calls_and_bad_input() {
    run(|| async {
        let (c, s) = pair().await;
        c.send(b"", None).await.unwrap();
        let e = c.recv(&mut [], None).await.unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
        assert_eq!(c.recvn(&mut [], None).await.unwrap(), 0);
        c.send(b"1", None).await.unwrap();
        let mut b = [0u8; 8];
        assert_eq!(s.recv(&mut b, clock() + 5.0).await.unwrap(), 1);
        // Read side shutdown never waits.
        c.shutdown(Shutdown::Read, None).await.unwrap();
    });
}

// ===== a send cut short continues exactly from partial() =====

#[test]
fn tls_send_timeout_partial_then_resume_continues_the_stream() {
    let _serial = heavy();
    run(|| async {
        let (c, s) = pair().await;
        let mut data = vec![0u8; 16 << 20];
        pattern(3, 0, &mut data);
        // The peer does not read: the send stops at its deadline.
        let started = Instant::now();
        let e = c.send(&data, clock() + 0.2).await.unwrap_err();
        assert_on_time(started, 0.2, "send");
        assert_eq!(e.name(), "timeout");
        let p = e.partial().unwrap();
        assert!(p > 0 && p < data.len(), "partial {p}");
        // Now the peer reads all; we send the rest from partial() on.
        let s = Rc::new(s);
        let s2 = s.clone();
        let reader = thread(async move {
            let got = s2.recvall(clock() + 60.0).await.unwrap();
            assert_eq!(got.len(), 16 << 20);
            let mut want = vec![0u8; 16 << 20];
            pattern(3, 0, &mut want);
            assert!(got == want, "the stream is not the data");
        });
        c.send(&data[p..], clock() + 60.0).await.unwrap();
        c.shutdown(Shutdown::Write, clock() + 60.0).await.unwrap();
        while !reader.is_finished() {
            sleep(0.01).await;
        }
    });
}

// ===== cancel, close =====

#[test]
fn tls_cancel_during_recv() {
    run(|| async {
        let (c, s) = pair().await;
        let c = Rc::new(c);
        let c2 = c.clone();
        let e = cancel_parked(|out| async move {
            let mut buf = [0u8; 8];
            *out.borrow_mut() = c2.recv(&mut buf, None).await.err();
        })
        .await;
        assert_eq!(e.name(), "cancelled");
        let c3 = c.clone();
        let e = cancel_parked(|out| async move {
            let mut buf = [0u8; 8];
            *out.borrow_mut() = c3.recvn(&mut buf, clock() + 30.0).await.err();
        })
        .await;
        assert_eq!(e.name(), "cancelled");
        assert_eq!(e.partial(), Some(0));
        // The connection still works.
        s.send(b"alive", None).await.unwrap();
        let mut buf = [0u8; 5];
        c.recvn(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf, b"alive");

        // A cancel reaches a thread parked in AsyncRead too.
        let c4 = c.clone();
        let e = cancel_parked(|out| async move {
            let mut lines = FramedRead::new(&*c4, LinesCodec::new());
            match lines.next().await {
                Some(Err(LinesCodecError::Io(e))) => *out.borrow_mut() = Some(e.into()),
                other => panic!("unexpected {other:?}"),
            }
        })
        .await;
        assert_eq!(e.name(), "cancelled");
    });
}

#[test]
fn tls_close_wakes_every_waiter_with_closed() {
    let _serial = heavy();
    run(|| async {
        let (c, s) = pair().await;
        let c = Rc::new(c);
        let results = Rc::new(RefCell::new(Vec::new()));
        let mut threads = Vec::new();
        // Two readers and a writer parked on one connection.
        for i in 0..2 {
            let (c, r) = (c.clone(), results.clone());
            threads.push(thread(async move {
                let mut buf = [0u8; 16];
                let e = if i == 0 {
                    c.recv(&mut buf, None).await.unwrap_err()
                } else {
                    c.recvn(&mut buf, clock() + 30.0).await.unwrap_err()
                };
                r.borrow_mut().push((e.name().to_string(), e.partial()));
            }));
        }
        let (cw, r) = (c.clone(), results.clone());
        threads.push(thread(async move {
            let big = vec![5u8; 64 << 20]; // the peer never reads
            let e = cw.send(&big, None).await.unwrap_err();
            r.borrow_mut().push((e.name().to_string(), e.partial()));
        }));
        sleep(0.1).await;
        assert!(threads.iter().all(|t| !t.is_finished()), "all parked");
        let started = Instant::now();
        c.close().unwrap();
        while !threads.iter().all(|t| t.is_finished()) {
            assert!(started.elapsed() < Duration::from_secs(2), "not woken");
            sleep(0.001).await;
        }
        let r = results.borrow().clone();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|(n, _)| n == "closed"), "{r:?}");
        assert_eq!(
            r.iter().filter(|(_, p)| *p == Some(0)).count(),
            1,
            "recvn's"
        );
        let sent = r.iter().find_map(|(_, p)| p.filter(|p| *p > 0));
        assert!(sent.is_some(), "the writer had sent some: {r:?}");
        // Every call after close is "closed", close included.
        let mut buf = [0u8; 1];
        assert_eq!(c.recv(&mut buf, None).await.unwrap_err().name(), "closed");
        assert_eq!(c.send(b"x", None).await.unwrap_err().name(), "closed");
        assert_eq!(c.send(b"", None).await.unwrap_err().name(), "closed");
        assert_eq!(
            c.shutdown(Shutdown::Write, None).await.unwrap_err().name(),
            "closed"
        );
        assert_eq!(c.close().unwrap_err().name(), "closed");
        assert!(c.closed());
        assert!(!s.closed(), "a peer's close does not count");
    });
}

#[test]
fn tls_close_sends_close_notify() {
    run(|| async {
        let (c, s) = pair().await;
        c.send(b"bye", None).await.unwrap();
        c.close().unwrap();
        assert_eq!(s.recvall(clock() + 5.0).await.unwrap(), b"bye");
        // Dropping closes the same way.
        let (c, s) = pair().await;
        c.send(b"dropped", None).await.unwrap();
        drop(c);
        assert_eq!(s.recvall(clock() + 5.0).await.unwrap(), b"dropped");
    });
}

// ===== full duplex over one Rc<Stcp> =====

const DUPLEX: usize = 64 << 20;

/// Writes `DUPLEX` pattern bytes (seed `seed`) from one thread and reads
/// `DUPLEX` bytes in another, both on `conn`; returns (hash sent, hash
/// received) once both are done.
async fn duplex(conn: Stcp, seed: u8) -> (u64, u64) {
    let conn = Rc::new(conn);
    let w = conn.clone();
    let sent = Rc::new(RefCell::new(None));
    let sent2 = sent.clone();
    let writer = thread(async move {
        let mut h = FNV0;
        let mut chunk = vec![0u8; 1 << 20];
        let mut pos = 0;
        while pos < DUPLEX {
            pattern(seed, pos, &mut chunk);
            h = fnv(h, &chunk);
            w.send(&chunk, clock() + 60.0).await.unwrap();
            pos += chunk.len();
        }
        *sent2.borrow_mut() = Some(h);
    });
    let r = conn.clone();
    let got = Rc::new(RefCell::new(None));
    let got2 = got.clone();
    let reader = thread(async move {
        let mut h = FNV0;
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0;
        while n < DUPLEX {
            let k = r.recv(&mut buf, clock() + 60.0).await.unwrap();
            assert!(k > 0, "early end after {n} bytes");
            h = fnv(h, &buf[..k]);
            n += k;
        }
        *got2.borrow_mut() = Some(h);
    });
    while !(writer.is_finished() && reader.is_finished()) {
        sleep(0.005).await;
    }
    let s = sent.borrow_mut().take().expect("the writer finished");
    let g = got.borrow_mut().take().expect("the reader finished");
    (s, g)
}

#[test]
fn tls_full_duplex_64_mib_each_way() {
    let _serial = heavy();
    support::bounded(240, || {
        let (_ca, server, client) = configs();
        let (l, addr) = listener();
        // The server side in its own OS thread and loop.
        let srv = std::thread::spawn(move || {
            sockloop::run(async move {
                let a = l.accept(clock() + 10.0).await.unwrap();
                let s = server_handshake(a, &server, clock() + 10.0).await.unwrap();
                duplex(s, 2).await
            })
        });
        let (c_sent, c_got) = sockloop::run(async move {
            let t = tcp().unwrap();
            t.connect(&addr, clock() + 10.0).await.unwrap();
            let c = client_stcp(t, "localhost", &client, clock() + 10.0)
                .await
                .unwrap();
            duplex(c, 1).await
        });
        let (s_sent, s_got) = srv.join().unwrap();
        assert_eq!(c_sent, s_got, "client -> server");
        assert_eq!(s_sent, c_got, "server -> client");
        assert_ne!(c_sent, s_sent);
    });
}

// ===== a deadline bounds a looping call however fast data arrives =====

/// A TLS peer in another OS thread that sends `byte_at(0), byte_at(1),
/// ...` as fast as it can until the connection goes; returns this side.
async fn endless_tls_sender() -> (Stcp, std::thread::JoinHandle<()>) {
    let (_ca, server, client) = configs();
    let (l, addr) = listener();
    let h = std::thread::spawn(move || {
        sockloop::run(async move {
            let t = tcp().unwrap();
            t.connect(&addr, clock() + 10.0).await.unwrap();
            let c = client_stcp(t, "localhost", &client, clock() + 10.0)
                .await
                .unwrap();
            let mut chunk = vec![0u8; 251 * 1024];
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            while c.send(&chunk, None).await.is_ok() {}
        })
    });
    let a = l.accept(clock() + 10.0).await.unwrap();
    let s = server_handshake(a, &server, clock() + 10.0).await.unwrap();
    // Let the sender get going.
    let mut first = [0u8; 1];
    s.recvn(&mut first, clock() + 10.0).await.unwrap();
    assert_eq!(first[0], 0);
    (s, h)
}

fn assert_stream(data: &[u8], from: usize) {
    if let Some(i) = (0..data.len()).find(|&i| data[i] != ((from + i) % 251) as u8) {
        panic!("byte {i} of {} is wrong", data.len());
    }
}

#[test]
fn tls_looping_calls_end_at_their_deadline_under_an_endless_sender() {
    let _serial = heavy();
    support::bounded(60, || {
        sockloop::run(async {
            let (s, h) = endless_tls_sender().await;
            let mut pos = 1;
            let started = Instant::now();
            let mut e = s.recvall(clock() + 0.05).await.unwrap_err();
            assert_on_time(started, 0.05, "recvall");
            assert_eq!(e.name(), "timeout");
            let data = e.take_data().unwrap();
            assert!(!data.is_empty());
            assert_eq!(e.partial(), Some(data.len()));
            assert_stream(&data, pos);
            pos += data.len();

            let mut big = vec![0u8; 1 << 30];
            let started = Instant::now();
            let e = s.recvn(&mut big, clock() + 0.05).await.unwrap_err();
            assert_on_time(started, 0.05, "recvn");
            assert_eq!(e.name(), "timeout");
            let got = e.partial().unwrap();
            assert!(got > 0);
            assert_stream(&big[..got], pos);
            pos += got;

            // An LTN12 pump over the deadline view.
            let started = Instant::now();
            let mut src = source("until-closed", s.until(clock() + 0.05), None).unwrap();
            let mut out = sink("keep-open", Vec::new()).unwrap();
            let e = pump_all(&mut src, &mut out).await.unwrap_err();
            assert_on_time(started, 0.05, "pump_all");
            assert_eq!(e.name(), "timeout");
            let got = out.get_ref().unwrap();
            assert_stream(got, pos);

            s.close().unwrap();
            drop(s);
            h.join().unwrap();
        });
    });
}

#[test]
fn tls_send_of_a_large_buffer_ends_at_its_deadline_and_counts_exactly() {
    let _serial = heavy();
    support::bounded(60, || {
        let (_ca, server, client) = configs();
        let (l, addr) = listener();
        // A reader as fast as it can be, counting until close_notify.
        let rd = std::thread::spawn(move || {
            sockloop::run(async move {
                let a = l.accept(clock() + 10.0).await.unwrap();
                let s = server_handshake(a, &server, clock() + 10.0).await.unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                let mut n = 0u64;
                loop {
                    match s.recv(&mut buf, clock() + 30.0).await.unwrap() {
                        0 => return n,
                        k => {
                            assert!(buf[..k].iter().all(|&b| b == 7));
                            n += k as u64;
                        }
                    }
                }
            })
        });
        let sent = sockloop::run(async move {
            let t = tcp().unwrap();
            t.connect(&addr, clock() + 10.0).await.unwrap();
            let c = client_stcp(t, "localhost", &client, clock() + 10.0)
                .await
                .unwrap();
            let big = vec![7u8; 1 << 30];
            let started = Instant::now();
            let e = c.send(&big, clock() + 0.05).await.unwrap_err();
            assert_on_time(started, 0.05, "send");
            assert_eq!(e.name(), "timeout");
            let n = e.partial().unwrap();
            assert!(n > 0 && n < big.len(), "partial {n}");
            // What partial() counted reaches the peer, and nothing more.
            c.shutdown(Shutdown::Write, clock() + 10.0).await.unwrap();
            n
        });
        assert_eq!(rd.join().unwrap(), sent as u64);
    });
}

// ===== Tokio's traits and the LuaSocket layer over TLS =====

#[test]
fn tls_async_traits_codecs_and_ltn12() {
    run(|| async {
        let (c, s) = pair().await;
        // AsyncWrite on &Stcp: write_all, flush, shutdown (close_notify).
        let mut w = &c;
        w.write_all(b"one\ntwo\n").await.unwrap();
        w.flush().await.unwrap();
        w.write_all(b"three\n").await.unwrap();
        AsyncWriteExt::shutdown(&mut w).await.unwrap();
        let mut lines = FramedRead::new(&s, LinesCodec::new());
        let mut got = Vec::new();
        while let Some(l) = lines.next().await {
            got.push(l.unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);

        // LTN12 the other way: a sink on the connection, a source on the
        // deadline view.
        let mut out = sink("close-when-done", &s).unwrap();
        out.write(Some(b"ltn12 ")).await.unwrap();
        out.write(Some(b"over tls")).await.unwrap();
        out.write(None).await.unwrap(); // shuts the write side: close_notify
        let mut src = source("until-closed", c.until(clock() + 5.0), None).unwrap();
        let mut into = sink("keep-open", Vec::new()).unwrap();
        let n = pump_all(&mut src, &mut into).await.unwrap();
        assert_eq!(n, 14);
        assert_eq!(into.get_ref().unwrap(), b"ltn12 over tls");

        // A by-length source and tokio::io::copy on an owned pair.
        let (c, mut s) = pair().await;
        let data = vec![9u8; 300_000];
        let d = data.clone();
        let writer = thread(async move {
            let mut c = c;
            c.write_all(&d).await.unwrap();
            AsyncWriteExt::shutdown(&mut c).await.unwrap();
        });
        let mut src = source("by-length", &mut s, Some(100_000)).unwrap();
        let mut first = sink("keep-open", Vec::new()).unwrap();
        assert_eq!(pump_all(&mut src, &mut first).await.unwrap(), 100_000);
        // The source may have read ahead past its length.
        let mut rest = src.read_buffer().to_vec();
        drop(src);
        let n = tokio::io::copy(&mut s, &mut rest).await.unwrap();
        assert_eq!(rest.len(), 200_000);
        assert!(n > 0);
        assert!(rest.iter().all(|&b| b == 9));
        assert!(writer.is_finished());
    });
}

// ===== the inventory counts every TLS record, whichever way it moved =====

/// The inventory's `(bytes_in, bytes_out)` of a connection's TCP socket:
/// TLS records, as they went over the wire.
fn wire_counts(c: &Stcp) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    let fd = c.get_ref().with_socket(|s| s.as_raw_fd()).unwrap();
    let inv = sockloop::inventory();
    let row = inv.sockets.iter().find(|x| x.fd == fd).unwrap();
    (row.bytes_in, row.bytes_out)
}

/// A TLS 1.3 record: 5 bytes of header, the content type and a 16-byte
/// AEAD tag around the plaintext.
const RECORD: u64 = 5 + 1 + 16;

/// Every byte one side wrote, the other read: both sides' counters agree.
#[track_caller]
fn assert_wire_agrees(c: &Stcp, s: &Stcp) {
    let (ci, co) = wire_counts(c);
    let (si, so) = wire_counts(s);
    assert_eq!(
        (ci, co),
        (so, si),
        "client (in, out) against server (out, in)"
    );
}

#[test]
fn tls_io_traits_and_calls_are_counted_on_the_wire() {
    use futures_util::SinkExt;
    use tokio_util::codec::Framed;

    run(|| async {
        let (mut c, mut s) = pair().await;
        assert_eq!(c.tls_version(), Some("TLSv1.3"));
        // The handshake (and the alerts and tickets the TLS layer sends on
        // its own) is counted on both sides.
        let (_, c_out) = wire_counts(&c);
        assert!(c_out > 0);
        assert_eq!(wire_counts(&s).0, c_out);

        // write_all + flush on &Stcp: one record; read_exact on &Stcp.
        (&c).write_all(b"abcd").await.unwrap();
        (&c).flush().await.unwrap();
        assert_eq!(wire_counts(&c).1, c_out + 4 + RECORD);
        let mut four = [0u8; 4];
        (&s).read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"abcd");
        assert_eq!(wire_counts(&s).0, c_out + 4 + RECORD);

        // On an owned Stcp, the other way (the client also takes in the
        // server's session tickets with it).
        let (_, s_out) = wire_counts(&s);
        s.write_all(b"12345").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(wire_counts(&s).1, s_out + 5 + RECORD);
        let mut five = [0u8; 5];
        c.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"12345");
        assert_wire_agrees(&c, &s);

        // StcpUntil, and sockloop's own calls, record for record.
        let (_, c_out) = wire_counts(&c);
        c.until(clock() + 5.0).write_all(b"xyz").await.unwrap();
        c.send(b"hello", clock() + 5.0).await.unwrap();
        assert_eq!(wire_counts(&c).1, c_out + 3 + 5 + 2 * RECORD);
        let mut eight = [0u8; 8];
        s.until(clock() + 5.0)
            .read_exact(&mut eight[..3])
            .await
            .unwrap();
        s.recvn(&mut eight[3..], clock() + 5.0).await.unwrap();
        assert_eq!(&eight, b"xyzhello");
        assert_wire_agrees(&c, &s);

        // A codec: each frame one record.
        let (_, s_out) = wire_counts(&s);
        let mut frames = Framed::new(&s, LinesCodec::new());
        frames.send("line one").await.unwrap();
        frames.send("two").await.unwrap();
        assert_eq!(wire_counts(&s).1, s_out + 9 + 4 + 2 * RECORD);
        let mut lines = FramedRead::new(c.until(clock() + 5.0), LinesCodec::new());
        assert_eq!(lines.next().await.unwrap().unwrap(), "line one");
        assert_eq!(lines.next().await.unwrap().unwrap(), "two");
        drop(lines);
        assert_wire_agrees(&c, &s);

        // tokio::io::copy in, then out until close_notify.
        let body = vec![3u8; 100_000];
        let n = tokio::io::copy(&mut &body[..], &mut &c).await.unwrap();
        assert_eq!(n, 100_000);
        AsyncWriteExt::shutdown(&mut &c).await.unwrap();
        let mut got = Vec::new();
        let n = tokio::io::copy(&mut s.until(clock() + 5.0), &mut got)
            .await
            .unwrap();
        assert_eq!((n, got.len()), (100_000, 100_000));
        assert_wire_agrees(&c, &s);
        assert!(wire_counts(&c).1 > c_out + 100_000);
    });
}
