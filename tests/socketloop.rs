//! `sockloop::socketloop`: newserver, step/start, ASocket's LuaSocket
//! methods and call_async, over real loopback sockets.

mod support;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::rc::Rc;

use sockloop::socketloop::{self, wrap, ASocket, Want};
use sockloop::{clock, Error, ErrorKind};
use support::{asocket_pair as pair, bounded, fnv, FNV0};

fn reversed(line: &[u8]) -> Vec<u8> {
    let mut v = line.to_vec();
    v.reverse();
    v
}

#[test]
fn reverse_echo_server_five_clients() {
    let (lines, conns, closes, idle) = bounded(30, || {
        let conns = Rc::new(Cell::new(0u32));
        let closes = Rc::new(Cell::new(0u32));
        let (cn, cl) = (conns.clone(), closes.clone());
        let server = socketloop::newserver("127.0.0.1", 0, move |c: ASocket| {
            cn.set(cn.get() + 1);
            let cl = cl.clone();
            async move {
                loop {
                    match c.receive("*l").await {
                        Ok(line) => {
                            let mut out = reversed(&line);
                            out.push(b'\n');
                            c.send(&out).await.unwrap();
                        }
                        Err(mut e) => {
                            assert_eq!(e.name(), "closed");
                            assert_eq!(e.take_data().unwrap(), b"");
                            cl.set(cl.get() + 1);
                            break;
                        }
                    }
                }
            }
        })
        .unwrap();
        let port = server.local_addr().unwrap().port();
        let server = Rc::new(server);
        let lines = Rc::new(Cell::new(0u32));
        let done = Rc::new(Cell::new(0u32));
        for n in 0..5 {
            let (server, lines, done) = (server.clone(), lines.clone(), done.clone());
            socketloop::newthread(async move {
                let c = socketloop::connect("127.0.0.1", port, None, None)
                    .await
                    .unwrap();
                for i in 0..30 {
                    // CRs are dropped by "*l" on the server side.
                    let line = format!("client {n} line {i}");
                    c.send(format!("{line}\r\n").as_bytes()).await.unwrap();
                    let back = c.receive("*l").await.unwrap();
                    assert_eq!(back, reversed(line.as_bytes()));
                    lines.set(lines.get() + 1);
                    if i % 7 == 0 {
                        sockloop::sleep(0.001).await;
                    }
                }
                c.close().unwrap();
                done.set(done.get() + 1);
                if done.get() == 5 {
                    server.close();
                    server.close(); // a second close does nothing
                }
            });
        }
        socketloop::start(None).unwrap();
        assert!(server.thread().is_finished());
        assert_eq!(server.local_addr().unwrap_err().name(), "closed");
        let idle = !socketloop::step(Some(0.0));
        (lines.get(), conns.get(), closes.get(), idle)
    });
    assert_eq!(lines, 150);
    assert_eq!(conns, 5);
    assert_eq!(closes, 5);
    assert!(idle);
}

#[test]
fn server_close_keeps_accepted_connections() {
    let got = bounded(20, || {
        let server = Rc::new(
            socketloop::newserver("127.0.0.1", 0, |c: ASocket| async move {
                while let Ok(line) = c.receive("*l").await {
                    let _ = c.send(&[&line[..], b"!\n"].concat()).await;
                }
            })
            .unwrap(),
        );
        let port = server.local_addr().unwrap().port();
        let got = Rc::new(RefCell::new(Vec::new()));
        let (g, srv) = (got.clone(), server.clone());
        socketloop::newthread(async move {
            let c = socketloop::connect("127.0.0.1", port, None, None)
                .await
                .unwrap();
            c.send(b"one\n").await.unwrap();
            let one = c.receive("*l").await.unwrap();
            g.borrow_mut().push(one);
            srv.close();
            // The accepted connection still answers.
            c.send(b"two\n").await.unwrap();
            let two = c.receive("*l").await.unwrap();
            g.borrow_mut().push(two);
            // New connections are refused.
            let e = socketloop::connect("127.0.0.1", port, None, None)
                .await
                .unwrap_err();
            assert_eq!(e.name(), "connection_refused");
        });
        socketloop::start(Some(1.0)).unwrap();
        let v = got.borrow().clone();
        v
    });
    assert_eq!(got, [b"one!".to_vec(), b"two!".to_vec()]);
}

#[test]
fn step_is_false_on_an_idle_loop() {
    bounded(10, || {
        assert!(!socketloop::step(Some(0.0)));
        assert!(!socketloop::step(None));
        assert!(!socketloop::try_step(Some(1.0)).unwrap());
        // A thread parked in suspend() does not count as waiting.
        let t = socketloop::newthread(async {
            socketloop::suspend().await;
        });
        assert!(!socketloop::step(None));
        socketloop::resume(&t, ()).unwrap();
        assert!(t.is_finished());
    });
}

#[test]
fn step_returns_true_when_the_timeout_passes() {
    bounded(10, || {
        let t = socketloop::newthread(async { sockloop::sleep(0.2).await });
        let t0 = clock();
        assert!(socketloop::step(Some(0.01)));
        assert!(!t.is_finished());
        assert!(clock() - t0 < 0.19);
        let mut rounds = 0;
        while socketloop::step(None) {
            rounds += 1;
        }
        assert!(rounds >= 1);
        assert!(t.is_finished());
        assert!(!socketloop::step(Some(0.0)));
    });
}

#[test]
fn stop_ends_start() {
    bounded(10, || {
        let ticks = Rc::new(Cell::new(0));
        let t2 = ticks.clone();
        let t = socketloop::newthread(async move {
            loop {
                sockloop::sleep(0.001).await;
                t2.set(t2.get() + 1);
                if t2.get() == 3 {
                    socketloop::stop();
                }
            }
        });
        socketloop::start(None).unwrap();
        assert_eq!(ticks.get(), 3);
        t.cancel();
        while socketloop::step(Some(0.1)) {
            if ticks.get() > 100 {
                break;
            }
        }
    });
}

#[test]
fn newthread_starts_at_once_and_resume_suspend() {
    bounded(10, || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let t = socketloop::newthread(async move {
            assert!(socketloop::current().is_some());
            l.borrow_mut().push(0);
            let v = socketloop::suspend().await;
            l.borrow_mut().push(*v.downcast::<i32>().unwrap());
        });
        assert_eq!(*log.borrow(), [0]); // ran at once
        assert!(socketloop::current().is_none());
        socketloop::resume(&t, 42).unwrap();
        assert_eq!(*log.borrow(), [0, 42]);
        assert_eq!(socketloop::resume(&t, 1).unwrap_err().name(), "thread_dead");
    });
}

#[test]
fn receive_closed_keeps_partial_data() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            c.send(b"abc\r\ndef").await.unwrap();
            c.close().unwrap();
            assert_eq!(s.receive("*l").await.unwrap(), b"abc");
            let mut e = s.receive("*l").await.unwrap_err();
            assert_eq!(e.name(), "closed");
            assert_eq!(e.kind(), ErrorKind::Closed);
            assert_eq!(e.take_data().unwrap(), b"def");
            // After the close, "*a" returns what is left (nothing), no error.
            assert_eq!(s.receive("*a").await.unwrap(), b"");

            let (c, s) = pair().await;
            c.send(b"0123").await.unwrap();
            c.close().unwrap();
            let mut e = s.receive_prefixed(10, b">>").await.unwrap_err();
            assert_eq!(e.name(), "closed");
            assert_eq!(e.take_data().unwrap(), b">>0123");

            let (c, s) = pair().await;
            c.send(b"all of it\nand more").await.unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            assert_eq!(s.receive(3).await.unwrap(), b"all");
            assert_eq!(s.receive("*a").await.unwrap(), b" of it\nand more");
        })
    });
}

#[test]
fn settimeout_times_out_and_receive_resumes_with_prefix() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            s.settimeout(Some(0.05));
            assert_eq!(s.gettimeout(), Some(0.05));
            c.send(b"par").await.unwrap();
            let t0 = clock();
            let mut e = s.receive("*l").await.unwrap_err();
            assert!(clock() - t0 >= 0.05);
            assert_eq!(e.name(), "timeout");
            assert_eq!(e.luasocket_str(), "timeout");
            let part = e.take_data().unwrap();
            assert_eq!(part, b"par");
            c.send(b"tial\n").await.unwrap();
            assert_eq!(s.receive_prefixed("*l", &part).await.unwrap(), b"partial");
            // A negative timeout is LuaSocket's "no limit".
            s.settimeout(Some(-1.0));
            assert_eq!(s.gettimeout(), None);
        })
    });
}

#[test]
fn send_range_indexes() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            let data = b"0123456789";
            assert_eq!(c.send(data).await.unwrap(), 10);
            assert_eq!(c.send_range(data, 3, 5).await.unwrap(), 5); // "234"
            assert_eq!(c.send_range(data, -3, -1).await.unwrap(), 10); // "789"
            assert_eq!(c.send_range(data, 0, 1).await.unwrap(), 1); // "0"
            assert_eq!(c.send_range(data, 9, 100).await.unwrap(), 10); // "89"
            assert_eq!(c.send_range(data, 6, 2).await.unwrap(), 5); // nothing
            assert_eq!(c.send_range(data, -100, -9).await.unwrap(), 2); // "01"
            assert_eq!(c.send_range(b"", 1, -1).await.unwrap(), 0);
            let want = b"0123456789234789089" as &[u8];
            let mut want = want.to_vec();
            want.extend_from_slice(b"01");
            assert_eq!(s.receive(want.len()).await.unwrap(), want);
            // On failure partial() is the index of the last byte sent.
            c.close().unwrap();
            let e = c.send_range(data, 4, 8).await.unwrap_err();
            assert_eq!(e.name(), "closed");
            assert_eq!(e.partial(), Some(3));
        })
    });
}

#[test]
fn concurrent_receive_is_refused() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            let s = Rc::new(s);
            let s2 = s.clone();
            let reader = sockloop::thread(async move {
                assert_eq!(s2.receive("*l").await.unwrap(), b"first");
            });
            let e = s.receive("*l").await.unwrap_err();
            assert_eq!(e.name(), "thread_busy");
            c.send(b"first\nsecond\n").await.unwrap();
            while !reader.is_finished() {
                sockloop::sleep(0.001).await;
            }
            assert_eq!(s.buffered(), 7);
            assert_eq!(s.receive("*l").await.unwrap(), b"second");
        })
    });
}

#[test]
fn line_limit_is_configurable() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            s.set_line_limit(8);
            c.send(b"short\n0123456789abc\n").await.unwrap();
            assert_eq!(s.receive("*l").await.unwrap(), b"short");
            let mut e = s.receive("*l").await.unwrap_err();
            assert_eq!(e.name(), "line_too_long");
            assert_eq!(e.take_data().unwrap(), b"01234567");
        })
    });
}

/// A hand-written non-blocking protocol step: reads a 4-byte big-endian
/// length, then that many bytes, with try-reads on the raw socket.
struct Frame {
    head: Vec<u8>,
    body: Vec<u8>,
    wants: u32,
}

impl Frame {
    fn step(&mut self, sock: &socket2::Socket) -> Result<Vec<u8>, Want> {
        let mut buf = [0u8; 3]; // small reads: many steps
        loop {
            let need = if self.head.len() < 4 {
                4 - self.head.len()
            } else {
                let len =
                    u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
                len as usize - self.body.len()
            };
            if self.head.len() == 4 && need == 0 {
                return Ok(std::mem::take(&mut self.body));
            }
            let want = need.min(buf.len());
            match (&*sock).read(&mut buf[..want]) {
                Ok(0) => return Err(Want::Err(Error::new(ErrorKind::Eof))),
                Ok(n) => {
                    if self.head.len() < 4 {
                        self.head.extend_from_slice(&buf[..n]);
                    } else {
                        self.body.extend_from_slice(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.wants += 1;
                    return Err(Want::Read);
                }
                Err(e) => return Err(Want::from(e)),
            }
        }
    }
}

#[test]
fn call_async_want_read() {
    let (body, wants) = bounded(10, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            let writer = sockloop::thread(async move {
                let msg = b"hello, call_async";
                let mut wire = (msg.len() as u32).to_be_bytes().to_vec();
                wire.extend_from_slice(msg);
                for piece in wire.chunks(5) {
                    sockloop::sleep(0.005).await;
                    c.send(piece).await.unwrap();
                }
            });
            let mut f = Frame {
                head: Vec::new(),
                body: Vec::new(),
                wants: 0,
            };
            let body = s.call_async(|sock| f.step(sock)).await.unwrap();
            assert!(writer.is_finished());
            (body, f.wants)
        })
    });
    assert_eq!(body, b"hello, call_async");
    assert!(wants >= 2, "the step function waited {wants} times");
}

#[test]
fn call_async_want_write_and_errors() {
    let (sent, wants, hash_ok) = bounded(20, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            let s = Rc::new(s);
            let keep = s.clone();
            c.setoption("sndbuf", 4096).unwrap();
            const TOTAL: usize = 4 << 20;
            let data: Vec<u8> = (0..TOTAL).map(|i| (i * 31 % 251) as u8).collect();
            let want_hash = fnv(FNV0, &data);
            let reader = Rc::new(Cell::new(0u64));
            let r = reader.clone();
            sockloop::thread(async move {
                let mut h = FNV0;
                let mut n = 0;
                while n < TOTAL {
                    sockloop::sleep(0.001).await;
                    let chunk = s.receive((TOTAL - n).min(256 * 1024)).await.unwrap();
                    n += chunk.len();
                    h = fnv(h, &chunk);
                }
                r.set(h);
            });
            let mut off = 0;
            let mut wants = 0;
            let sent = c
                .call_async(|sock| loop {
                    if off == data.len() {
                        return Ok(off);
                    }
                    match (&*sock).write(&data[off..]) {
                        Ok(n) => off += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            wants += 1;
                            return Err(Want::Write);
                        }
                        Err(e) => return Err(Want::Err(e.into())),
                    }
                })
                .await
                .unwrap();
            while reader.get() == 0 {
                sockloop::sleep(0.005).await;
            }
            // Want::Err ends the call with that error.
            let e = c
                .call_async(|_| Err::<(), _>(Want::Err(Error::new(ErrorKind::ConnectionReset))))
                .await
                .unwrap_err();
            assert_eq!(e.name(), "connection_reset");
            // A wait under settimeout times out.
            c.settimeout(Some(0.02));
            let e = c
                .call_async(|_| Err::<(), _>(Want::Read))
                .await
                .unwrap_err();
            assert_eq!(e.name(), "timeout");
            drop(keep);
            (sent, wants, reader.get() == want_hash)
        })
    });
    assert_eq!(sent, 4 << 20);
    assert!(wants >= 1, "never had to wait for writing");
    assert!(hash_ok);
}

#[test]
fn wrap_std_tokio_socket2_and_owned_fd() {
    bounded(10, || {
        sockloop::run(async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = wrap(l);
            assert_eq!(server.getsockname().unwrap().port(), addr.port());

            let c1 = wrap(std::net::TcpStream::connect(addr).unwrap());
            let a1 = server.accept().await.unwrap();
            let fd: std::os::fd::OwnedFd = std::net::TcpStream::connect(addr).unwrap().into();
            let c2 = wrap(fd);
            let a2 = server.accept().await.unwrap();
            let c3 = wrap(socket2::Socket::from(
                std::net::TcpStream::connect(addr).unwrap(),
            ));
            let a3 = server.accept().await.unwrap();
            let c4 = wrap(tokio::net::TcpStream::connect(addr).await.unwrap());
            let a4 = server.accept().await.unwrap();
            for (i, (c, a)) in [(c1, a1), (c2, a2), (c3, a3), (c4, a4)].iter().enumerate() {
                c.send(format!("n{i}\n").as_bytes()).await.unwrap();
                assert_eq!(a.receive("*l").await.unwrap(), format!("n{i}").into_bytes());
                assert_eq!(a.getpeername().unwrap(), c.getsockname().unwrap());
            }
        })
    });
}

#[test]
fn tcp_binds_and_socket_can_be_replaced() {
    bounded(10, || {
        sockloop::run(async {
            let a = socketloop::tcp(Some("127.0.0.1"), None).unwrap();
            assert_eq!(a.getsockname().unwrap().ip().to_string(), "127.0.0.1");
            let b = socketloop::tcp(Some("::1"), Some(0)).unwrap();
            assert_eq!(b.getsockname().unwrap().ip().to_string(), "::1");
            assert_eq!(b.getsocket().family(), sockloop::Family::Inet6);

            let l = sockloop::luasocket::bind("127.0.0.1", 0, None).unwrap();
            let port = l.getsockname().unwrap().port();
            let c = socketloop::tcp(None, None).unwrap();
            c.connect(("127.0.0.1", port)).await.unwrap();
            let srv = l.accept().await.unwrap();
            c.setoption("tcp-nodelay", true).unwrap();
            assert_eq!(
                c.getoption("tcp_nodelay").unwrap(),
                sockloop::OptValue::Bool(true)
            );
            // setsocket: the ASocket now talks over another connection.
            let other = sockloop::tcp().unwrap();
            other
                .connect(("127.0.0.1", port), clock() + 5.0)
                .await
                .unwrap();
            let srv2 = l.accept().await.unwrap();
            c.setsocket(other);
            c.send(b"via other\n").await.unwrap();
            assert_eq!(srv2.receive("*l").await.unwrap(), b"via other");
            // The replaced socket was dropped, hence closed: srv sees the FIN.
            srv.settimeout(Some(1.0));
            assert_eq!(srv.receive("*l").await.unwrap_err().name(), "closed");
            c.shutdown(std::net::Shutdown::Write).unwrap();
            assert_eq!(srv2.receive("*a").await.unwrap(), b"");
        })
    });
}
