//! TCP on loopback: connect/accept, send/recv/recvn/recvall, deadlines,
//! close, full duplex over one shared socket, Tokio I/O traits.

mod support;

use std::rc::Rc;

use futures_util::StreamExt;
use sockloop::{clock, tcp, Family, Tcp};
use support::{fnv, local, pattern, FNV0};
use tokio_util::codec::{FramedRead, LinesCodec};

async fn pair(family: Family, host: &str) -> (Tcp, Tcp) {
    let server = Tcp::new(family).unwrap();
    server.listen((host, 0)).unwrap();
    let addr = server.local_addr().unwrap();
    let client = Tcp::new(family).unwrap();
    let (c, a) = tokio::join!(
        client.connect(&addr, clock() + 5.0),
        server.accept(clock() + 5.0)
    );
    c.unwrap();
    (client, a.unwrap())
}

#[tokio::test]
async fn tcp_basic_v4_and_v6() {
    local(10, async {
        for (fam, host) in [(Family::Inet, "127.0.0.1"), (Family::Inet6, "::1")] {
            let (c, s) = pair(fam, host).await;
            assert_eq!(s.remote_addr().unwrap(), c.local_addr().unwrap());
            assert_eq!(c.remote_addr().unwrap(), s.local_addr().unwrap());
            assert_eq!(c.family(), fam);
            assert_eq!(c.socktype(), sockloop::SockType::Tcp);
            c.send(b"hello world", clock() + 5.0).await.unwrap();
            c.send(b"", None).await.unwrap();
            let mut buf = [0u8; 11];
            assert_eq!(s.recvn(&mut buf, clock() + 5.0).await.unwrap(), 11);
            assert_eq!(&buf, b"hello world");
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut b2 = [0u8; 4];
            assert_eq!(s.recv(&mut b2, clock() + 5.0).await.unwrap(), 0);
        }
    })
    .await;
}

#[test]
fn tcp_sync_setup_without_runtime() {
    let s = tcp().unwrap();
    s.setopt("reuseaddr", true).unwrap();
    s.bind(("127.0.0.1", 0)).unwrap();
    s.listen(("127.0.0.1", 0)).unwrap();
    assert_eq!(s.getopt("acceptconn").unwrap().as_bool(), Some(true));
    assert_ne!(s.local_addr().unwrap().port(), 0);
    s.close().unwrap();
    assert_eq!(s.close().unwrap_err().name(), "closed");
    assert_eq!(s.local_addr().unwrap_err().name(), "closed");
}

#[tokio::test]
async fn tcp_recvn_eof_and_timeout_partial() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        c.send(b"abc", None).await.unwrap();
        let mut buf = [0u8; 10];
        let e = s.recvn(&mut buf, clock() + 0.2).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.partial(), Some(3));
        assert_eq!(&buf[..3], b"abc");
        c.send(b"de", None).await.unwrap();
        c.close().unwrap();
        let e = s.recvn(&mut buf, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "eof");
        assert_eq!(e.partial(), Some(2));
        assert_eq!(&buf[..2], b"de");
    })
    .await;
}

#[tokio::test]
async fn tcp_accept_timeout() {
    local(10, async {
        let s = tcp().unwrap();
        s.listen(("127.0.0.1", 0)).unwrap();
        let t0 = clock();
        let e = s.accept(clock() + 0.1).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert!(clock() - t0 >= 0.1);
        // Past deadline: times out at once.
        assert_eq!(s.accept(clock() - 1.0).await.unwrap_err().name(), "timeout");
    })
    .await;
}

#[tokio::test]
async fn tcp_recvall_and_recvall_read() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let d2 = data.clone();
        let w = tokio::task::spawn_local(async move {
            c.send(&d2, None).await.unwrap();
            c.close().unwrap();
        });
        let got = s.recvall(clock() + 5.0).await.unwrap();
        w.await.unwrap();
        assert_eq!(got, data);

        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        c.send(b"partial", None).await.unwrap();
        let mut e = s.recvall(clock() + 0.2).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.partial(), Some(7));
        assert_eq!(e.take_data().unwrap(), b"partial");

        c.send(b"line1\nline2\n", None).await.unwrap();
        c.close().unwrap();
        use std::io::BufRead;
        let r = s.recvall_read(clock() + 5.0).await.unwrap();
        let lines: Vec<String> = r.lines().map(|l| l.unwrap()).collect();
        assert_eq!(lines, ["line1", "line2"]);
    })
    .await;
}

#[tokio::test]
async fn tcp_close_wakes_parked_reader_and_acceptor() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        let s = Rc::new(s);
        let s2 = s.clone();
        let reader = tokio::task::spawn_local(async move {
            let mut buf = [0u8; 8];
            s2.recv(&mut buf, clock() + 5.0).await
        });
        let s3 = s.clone();
        let reader2 = tokio::task::spawn_local(async move {
            let mut buf = [0u8; 8];
            s3.recv(&mut buf, None).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.close().unwrap();
        assert_eq!(reader.await.unwrap().unwrap_err().name(), "closed");
        assert_eq!(reader2.await.unwrap().unwrap_err().name(), "closed");
        // The peer sees the FIN at once.
        let mut buf = [0u8; 8];
        assert_eq!(c.recv(&mut buf, clock() + 5.0).await.unwrap(), 0);
        let mut b = [0u8; 1];
        assert_eq!(s.recv(&mut b, None).await.unwrap_err().name(), "closed");
        assert_eq!(s.send(b"x", None).await.unwrap_err().name(), "closed");

        let l = Rc::new(tcp().unwrap());
        l.listen(("127.0.0.1", 0)).unwrap();
        let l2 = l.clone();
        let acc = tokio::task::spawn_local(async move { l2.accept(None).await.map(|_| ()) });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        l.close().unwrap();
        assert_eq!(acc.await.unwrap().unwrap_err().name(), "closed");
    })
    .await;
}

/// Two tasks parked in `recv` on one socket: the second one parking must
/// not make the first one miss its wake-up (one waker slot per direction
/// in Tokio), and a waiter that found nothing parks again.
#[tokio::test]
async fn tcp_two_readers_on_one_socket_both_wake() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        let s = Rc::new(s);
        let spawn_reader = |s: Rc<Tcp>| {
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; 1];
                s.recv(&mut buf, None).await.map(|n| (n, buf[0]))
            })
        };
        let r1 = spawn_reader(s.clone());
        tokio::task::yield_now().await; // r1 parks alone
        let r2 = spawn_reader(s.clone());
        tokio::task::yield_now().await; // r2 parks beside it
        c.send(b"a", None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c.send(b"b", None).await.unwrap();
        let mut got = vec![r1.await.unwrap().unwrap(), r2.await.unwrap().unwrap()];
        got.sort();
        assert_eq!(got, vec![(1, b'a'), (1, b'b')]);

        // The same socket keeps working for a single reader afterwards.
        let r3 = spawn_reader(s.clone());
        tokio::task::yield_now().await;
        c.send(b"c", None).await.unwrap();
        assert_eq!(r3.await.unwrap().unwrap(), (1, b'c'));
    })
    .await;
}

#[tokio::test]
async fn tcp_close_with_unread_data_resets_peer() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        c.send(b"unread data", None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.close().unwrap(); // unread data -> RST
        let mut buf = [0u8; 8];
        let e = c.recv(&mut buf, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "connection_reset");
    })
    .await;
}

#[tokio::test]
async fn tcp_errors_refused_and_in_use() {
    local(10, async {
        let probe = tcp().unwrap();
        probe.bind(("127.0.0.1", 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        probe.close().unwrap();
        let c = tcp().unwrap();
        let e = c
            .connect(("127.0.0.1", port), clock() + 5.0)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "connection_refused");

        let l = tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let l2 = tcp().unwrap();
        assert_eq!(
            l2.listen(&addr).unwrap_err().name(),
            "address_already_in_use"
        );
        assert_eq!(
            tcp().unwrap().bind(&addr).unwrap_err().name(),
            "address_already_in_use"
        );
    })
    .await;
}

#[tokio::test]
async fn tcp_send_timeout_has_partial() {
    local(20, async {
        let (c, _s) = pair(Family::Inet, "127.0.0.1").await;
        c.setopt("sndbuf", 4096).unwrap();
        let big = vec![7u8; 16 << 20];
        let e = c.send(&big, clock() + 0.3).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        let p = e.partial().unwrap();
        assert!(p > 0 && p < big.len(), "partial {p}");
    })
    .await;
}

const MIB64: usize = 64 << 20;

async fn writer(s: Rc<Tcp>, seed: u8) -> u64 {
    let mut h = FNV0;
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0;
    while pos < MIB64 {
        let n = buf.len().min(MIB64 - pos);
        pattern(seed, pos, &mut buf[..n]);
        h = fnv(h, &buf[..n]);
        s.send(&buf[..n], clock() + 30.0).await.unwrap();
        pos += n;
    }
    h
}

async fn reader(s: Rc<Tcp>) -> u64 {
    let mut h = FNV0;
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < MIB64 {
        let n = s.recv(&mut buf, clock() + 30.0).await.unwrap();
        assert!(n > 0, "early eof at {got}");
        h = fnv(h, &buf[..n]);
        got += n;
    }
    h
}

#[tokio::test]
async fn tcp_full_duplex_64mib_each_way() {
    local(300, async {
        let (a, b) = pair(Family::Inet, "127.0.0.1").await;
        let (a, b) = (Rc::new(a), Rc::new(b));
        let wa = tokio::task::spawn_local(writer(a.clone(), 1));
        let ra = tokio::task::spawn_local(reader(a.clone()));
        let wb = tokio::task::spawn_local(writer(b.clone(), 2));
        let rb = tokio::task::spawn_local(reader(b.clone()));
        let (wa, ra, wb, rb) = (
            wa.await.unwrap(),
            ra.await.unwrap(),
            wb.await.unwrap(),
            rb.await.unwrap(),
        );
        assert_eq!(wa, rb, "a -> b hash");
        assert_eq!(wb, ra, "b -> a hash");
        assert_ne!(wa, wb);
    })
    .await;
}

#[tokio::test]
async fn tcp_framed_lines_on_ref() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        c.send(b"one\ntwo\nthree\n", None).await.unwrap();
        c.close().unwrap();
        let mut lines = FramedRead::new(&s, LinesCodec::new());
        let mut got = Vec::new();
        while let Some(l) = lines.next().await {
            got.push(l.unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);
    })
    .await;
}

#[tokio::test]
async fn tcp_tokio_io_traits_and_conversions() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    local(10, async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let c = tcp().unwrap();
        let (r, a) = tokio::join!(c.connect(addr, clock() + 5.0), l.accept());
        r.unwrap();
        let (ts, _) = a.unwrap();
        let mut s = Tcp::from(ts);
        let mut cref = &c;
        cref.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        s.write_all(b"pong").await.unwrap();
        AsyncWriteExt::shutdown(&mut s).await.unwrap();
        let mut rest = Vec::new();
        (&c).read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"pong");
        let std = c.into_std().unwrap();
        assert_eq!(std.peer_addr().unwrap(), addr);
        let back = Tcp::from(std);
        assert_eq!(back.remote_addr().unwrap().socket_addr(), Some(addr));
        let t = back.into_tokio().unwrap();
        assert_eq!(t.peer_addr().unwrap(), addr);
    })
    .await;
}

#[test]
fn tcp_and_udp_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tcp>();
    check::<sockloop::Udp>();
    check::<sockloop::Raw>();
}

#[tokio::test]
async fn tcp_drop_sends_fin_and_linger_zero_sends_rst() {
    local(10, async {
        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        drop(s);
        let mut buf = [0u8; 4];
        assert_eq!(c.recv(&mut buf, clock() + 5.0).await.unwrap(), 0);

        let (c, s) = pair(Family::Inet, "127.0.0.1").await;
        s.setopt("linger", 0).unwrap();
        assert_eq!(
            s.getopt("linger").unwrap(),
            sockloop::OptValue::Duration(std::time::Duration::ZERO)
        );
        s.close().unwrap();
        let e = c.recv(&mut buf, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "connection_reset");
    })
    .await;
}

/// Several tasks on a multi-thread runtime (so on different OS threads)
/// read one socket at once, one byte per call, while the peer trickles
/// bytes: every byte is received exactly once and nobody is left parked
/// (a lost wake-up would hang and fail the bound).
#[test]
fn tcp_readers_on_several_os_threads_share_one_socket() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const BYTES: usize = 3000;
    const READERS: usize = 4;
    support::bounded(30, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let addr = server.local_addr().unwrap();
            let client = tcp().unwrap();
            let (c, a) = tokio::join!(client.connect(&addr, None), server.accept(None));
            c.unwrap();
            let conn = Arc::new(a.unwrap());
            let got = Arc::new(AtomicUsize::new(0));
            let mut readers = Vec::new();
            for _ in 0..READERS {
                let conn = conn.clone();
                let got = got.clone();
                readers.push(tokio::spawn(async move {
                    let mut sum = 0usize;
                    let mut b = [0u8; 1];
                    loop {
                        match conn.recv(&mut b, None).await {
                            Ok(0) => return sum,
                            Ok(_) => {
                                sum += usize::from(b[0]);
                                got.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("recv: {e}"),
                        }
                    }
                }));
            }
            for i in 0..BYTES {
                client.send(&[(i % 7) as u8 + 1], None).await.unwrap();
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let mut total = 0;
            for r in readers {
                total += r.await.unwrap();
            }
            let want: usize = (0..BYTES).map(|i| i % 7 + 1).sum();
            assert_eq!(got.load(Ordering::Relaxed), BYTES);
            assert_eq!(total, want);
        });
    });
}
