//! Issue 9, items 8–12: behaviours that now match sock.lua/socketloop:
//! `stop()` before `start()`, `threadenv` cleared at the finish, `step()`
//! after the last server closed, `closed()`, `recvnext` flags.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use sockloop::socketloop::{self, ASocket};
use sockloop::{clock, tcp, Family, RecvFlags, Tcp, Udp};
use support::{bounded, local, tcp_pair, udp_pair, Log};

/// A thread that sleeps `n` times 1 ms, counting the wake-ups in `count`.
fn ticker(n: u32, count: Rc<Cell<u32>>) -> sockloop::Thread {
    sockloop::thread(async move {
        for _ in 0..n {
            sockloop::sleep(0.001).await;
            count.set(count.get() + 1);
        }
    })
}

// ===== 8. stop() before start() =====

#[test]
fn item8_stop_before_start_polls_once_then_is_used_up() {
    bounded(10, || {
        let n = Rc::new(Cell::new(0));
        let t = ticker(3, n.clone());
        sockloop::stop();
        sockloop::start().unwrap();
        assert_eq!(n.get(), 1, "one poll, then start returned");
        assert!(!t.is_finished());
        sockloop::start().unwrap();
        assert_eq!(n.get(), 3, "the request was used up");
        assert!(t.is_finished());
        // With nothing to poll, start returns at once and still uses it up.
        sockloop::stop();
        sockloop::start().unwrap();
        let t = ticker(2, n.clone());
        sockloop::start().unwrap();
        assert!(t.is_finished());
        assert_eq!(n.get(), 5);
    });
}

#[test]
fn item8_a_poll_round_does_not_use_up_a_stop_request() {
    bounded(10, || {
        let n = Rc::new(Cell::new(0));
        let t = ticker(4, n.clone());
        sockloop::stop();
        assert!(sockloop::poll(Some(5.0)).unwrap());
        assert_eq!(n.get(), 1);
        sockloop::start().unwrap(); // still stopped: one more round
        assert_eq!(n.get(), 2);
        sockloop::start().unwrap();
        assert_eq!(n.get(), 4);
        assert!(t.is_finished());
    });
}

#[test]
fn item8_socketloop_stop_before_start_steps_once() {
    bounded(10, || {
        let n = Rc::new(Cell::new(0));
        let t = ticker(3, n.clone());
        socketloop::stop();
        socketloop::start(None).unwrap();
        assert_eq!(n.get(), 1);
        socketloop::start(None).unwrap();
        assert_eq!(n.get(), 3);
        assert!(t.is_finished());
        // sockloop's own start was not left stopped by the layer above.
        let t = ticker(2, n.clone());
        sockloop::start().unwrap();
        assert!(t.is_finished());
    });
}

// ===== 9. the env is cleared when the thread finishes =====

/// Counts its drops.
struct Tracked(Rc<Cell<u32>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn item9_env_is_cleared_after_the_finish_hooks() {
    bounded(10, || {
        let drops = Rc::new(Cell::new(0));
        let log = Log::default();
        let t = sockloop::newthread(async {
            sockloop::sleep(0.001).await;
        });
        t.env().insert(Tracked(drops.clone()));
        t.env().insert(String::from("name"));
        let (l, d) = (log.clone(), drops.clone());
        sockloop::onthreadfinish(&t, move |t| {
            // The hook still sees the env, nothing dropped yet.
            l.push(format!("hook {:?} {}", t.env().get::<String>(), d.get()));
        });
        sockloop::resume(&t, ()).unwrap();
        assert!(t.env().contains::<String>(), "cleared before the finish");
        sockloop::start().unwrap();
        assert!(t.is_finished());
        assert_eq!(log.get(), ["hook Some(\"name\") 0"]);
        assert!(!t.env().contains::<String>());
        assert!(!t.env().contains::<Tracked>());
        assert_eq!(drops.get(), 1, "the value was dropped at the finish");
        // A panicking thread's env is cleared too.
        let t = sockloop::newthread(async { panic!("boom") });
        t.env().insert(Tracked(drops.clone()));
        assert_eq!(
            sockloop::resume(&t, ()).unwrap_err().name(),
            "thread_panicked"
        );
        assert_eq!(drops.get(), 2);
    });
}

// ===== 10. step() after the last Server::close() =====

#[test]
fn item10_closing_the_last_server_leaves_nothing_to_step() {
    bounded(10, || {
        let server = socketloop::newserver("127.0.0.1", 0, |_c: ASocket| async {}).unwrap();
        assert!(socketloop::step(Some(0.0)), "the server waits for clients");
        assert!(!server.closed());
        server.close();
        assert!(server.closed());
        assert!(
            server.thread().is_finished(),
            "the accept thread ended in close()"
        );
        assert!(!socketloop::step(Some(0.0)));
        assert!(!socketloop::step(None));
        assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
    });
}

#[test]
fn item10_server_closed_from_a_handler_ends_the_loop() {
    let served = bounded(10, || {
        let served = Rc::new(Cell::new(0));
        let slot: Rc<Cell<Option<Rc<socketloop::Server>>>> = Rc::new(Cell::new(None));
        let (s2, sl) = (served.clone(), slot.clone());
        let server = Rc::new(
            socketloop::newserver("127.0.0.1", 0, move |c: ASocket| {
                let (s2, sl) = (s2.clone(), sl.clone());
                async move {
                    let line = c.receive("*l").await.unwrap();
                    c.send(&[&line[..], b"\n"].concat()).await.unwrap();
                    s2.set(s2.get() + 1);
                    if let Some(srv) = sl.take() {
                        srv.close();
                    }
                }
            })
            .unwrap(),
        );
        slot.set(Some(server.clone()));
        let port = server.local_addr().unwrap().port();
        socketloop::newthread(async move {
            let c = socketloop::connect("127.0.0.1", port, None, None)
                .await
                .unwrap();
            c.send(b"hi\n").await.unwrap();
            assert_eq!(c.receive("*l").await.unwrap(), b"hi");
        });
        let mut rounds = 0;
        while socketloop::step(None) {
            rounds += 1;
            assert!(rounds < 1000, "step() never ran out of work");
        }
        assert!(server.thread().is_finished());
        served.get()
    });
    assert_eq!(served, 1);
}

// ===== 11. closed() =====

#[test]
fn item11_closed_on_every_socket_kind_and_wrapper() {
    let t = tcp().unwrap();
    let u = Udp::new(Family::Inet6).unwrap();
    let x = Tcp::new(Family::Unix).unwrap();
    assert!(!t.closed() && !u.closed() && !x.closed());
    t.close().unwrap();
    u.close().unwrap();
    x.close().unwrap();
    assert!(t.closed() && u.closed() && x.closed());
    match sockloop::raw(sockloop::Protocol::Icmp) {
        Ok(r) => {
            assert!(!r.closed());
            r.close().unwrap();
            assert!(r.closed());
        }
        Err(e) => assert_eq!(e.name(), "access_denied"),
    }
    let a = socketloop::tcp(Some("127.0.0.1"), None).unwrap();
    assert!(!a.closed());
    let shared = a.getsocket();
    shared.close().unwrap(); // closed through another handle
    assert!(a.closed());
    let server = sockloop::luasocket::bind("127.0.0.1", 0, None).unwrap();
    assert!(!server.closed());
    server.close().unwrap();
    assert!(server.closed());
    // A peer's close is not this socket's close.
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            s.close().unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(c.recv(&mut buf, clock() + 5.0).await.unwrap(), 0);
            assert!(!c.closed());
        })
    });
}

// ===== 12. recvnext with flags =====

#[tokio::test]
async fn item12_recvnext_peek_leaves_the_datagram_queued() {
    local(10, async {
        let (a, b) = udp_pair();
        b.sendto(&a.local_addr().unwrap(), b"first", None)
            .await
            .unwrap();
        b.sendto(&a.local_addr().unwrap(), b"second", None)
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        for _ in 0..2 {
            let (n, from) = a
                .recvnext_flags(&mut buf, clock() + 5.0, RecvFlags::PEEK)
                .await
                .unwrap();
            assert_eq!(
                (&buf[..n], &from),
                (&b"first"[..], &b.local_addr().unwrap())
            );
        }
        let (n, _) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        // TRUNC: the real length of a datagram longer than the buffer.
        let mut small = [0u8; 3];
        let flags = RecvFlags {
            peek: true,
            trunc: true,
        };
        let (n, _) = a
            .recvnext_flags(&mut small, clock() + 5.0, flags)
            .await
            .unwrap();
        assert_eq!((n, &small), (6, b"sec"));
        let (n, _) = a
            .recvnext_flags(&mut small, clock() + 5.0, RecvFlags::default())
            .await
            .unwrap();
        assert_eq!((n, &small), (3, b"sec"));
        let e = a
            .recvnext_flags(&mut buf, clock() + 0.05, RecvFlags::PEEK)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "timeout");
    })
    .await;
}
