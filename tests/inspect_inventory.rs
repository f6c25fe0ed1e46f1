//! The live inventory: threads and what they wait on, sockets, timers,
//! the `Send` handle and the loopback server.

mod support;

use std::rc::Rc;

use sockloop::{ThreadStatus, TimerKind, WaitDir, WaitOn};
use support::{bounded, tcp_pair};

fn fd_of(t: &sockloop::Tcp) -> i32 {
    use std::os::fd::AsRawFd;
    t.with_socket(|s| s.as_raw_fd()).unwrap()
}

#[test]
fn parked_recv_shows_socket_direction_since_and_deadline() {
    bounded(20, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            let c = Rc::new(c);
            let fd = fd_of(&c);
            let expires = sockloop::clock() + 30.0;
            let c2 = c.clone();
            let t0 = sockloop::clock();
            let reader = sockloop::thread_named("reader", async move {
                let mut buf = [0u8; 16];
                c2.recv(&mut buf, expires).await
            });
            sockloop::sleep(0.05).await;
            let inv = sockloop::inventory();
            let me = inv.threads.iter().find(|x| x.id == reader.id()).unwrap();
            assert_eq!(me.name.as_deref(), Some("reader"));
            assert_eq!(me.status, ThreadStatus::Waiting);
            let w = me.waiting.as_ref().unwrap();
            match &w.on {
                WaitOn::Socket {
                    fd: f,
                    dir,
                    local,
                    remote,
                } => {
                    assert_eq!(*f, fd);
                    assert_eq!(*dir, WaitDir::Read);
                    assert_eq!(local.as_ref(), Some(&c.local_addr().unwrap()));
                    assert_eq!(remote.as_ref(), Some(&s.local_addr().unwrap()));
                }
                other => panic!("waits on {other:?}"),
            }
            let since = w.since;
            assert!(
                since >= t0 - 0.001 && since <= inv.now,
                "{since} {t0} {}",
                inv.now
            );
            assert!((w.deadline.unwrap() - expires).abs() < 0.001);
            let sock = inv.sockets.iter().find(|x| x.fd == fd).unwrap();
            assert_eq!(sock.waiting, vec![(reader.id(), WaitDir::Read)]);
            let text = inv.to_string();
            assert!(text.contains("reader"), "{text}");
            assert!(text.contains(&format!("read on fd {fd}")), "{text}");
            assert!(text.contains("deadline in 29."), "{text}");

            // Data ends the wait: the thread finishes and is gone.
            s.send(b"hi", None).await.unwrap();
            let got = reader.join(sockloop::clock() + 5.0).await.unwrap().unwrap();
            assert_eq!(got, 2);
            let inv = sockloop::inventory();
            assert!(!inv.threads.iter().any(|x| x.id == reader.id()));
            let sock = inv.sockets.iter().find(|x| x.fd == fd).unwrap();
            assert!(sock.waiting.is_empty());
            assert_eq!((sock.bytes_in, sock.bytes_out), (2, 0));
            let peer = inv
                .sockets
                .iter()
                .find(|x| x.local.as_ref() == Some(&s.local_addr().unwrap()) && x.remote.is_some())
                .unwrap();
            assert_eq!((peer.bytes_in, peer.bytes_out), (0, 2));

            // Closed sockets leave the list.
            c.close().unwrap();
            assert!(!sockloop::inventory().sockets.iter().any(|x| x.fd == fd));
        });
    });
}

#[test]
fn stuck_thread_has_no_deadline_and_close_ends_it() {
    bounded(20, || {
        sockloop::run(async {
            let (c, _s) = tcp_pair().await;
            let c = Rc::new(c);
            let c2 = c.clone();
            let stuck = sockloop::thread_named("stuck", async move {
                let mut buf = [0u8; 1];
                c2.recv(&mut buf, None).await
            });
            sockloop::sleep(0.02).await;
            let inv = sockloop::inventory();
            let w = inv
                .threads
                .iter()
                .find(|x| x.id == stuck.id())
                .and_then(|x| x.waiting.clone())
                .unwrap();
            assert_eq!(w.deadline, None);
            assert!(inv.to_string().contains("no deadline"));
            c.close().unwrap();
            let e = stuck.join(None).await.unwrap().unwrap_err();
            assert_eq!(e.name(), "closed");
            assert!(!sockloop::inventory()
                .threads
                .iter()
                .any(|x| x.id == stuck.id()));
        });
    });
}

#[test]
fn sleep_suspend_and_timers_are_listed_and_removed() {
    bounded(20, || {
        sockloop::run(async {
            let sleeper = sockloop::thread_named("sleeper", async { sockloop::sleep(60.0).await });
            let susp = sockloop::thread(async {
                sockloop::suspend(()).await;
            });
            let once = sockloop::runafter(50.0, || {});
            let every = sockloop::runevery(10.0, || true);
            let inv = sockloop::inventory();
            let w = |id| {
                inv.threads
                    .iter()
                    .find(|x| x.id == id)
                    .and_then(|x| x.waiting.clone())
                    .unwrap()
            };
            let s = w(sleeper.id());
            assert_eq!(s.on, WaitOn::Sleep);
            assert!((s.deadline.unwrap() - inv.now - 60.0).abs() < 0.5);
            let p = w(susp.id());
            assert_eq!(p.on, WaitOn::Suspend);
            assert!(p.since <= inv.now && p.deadline.is_none());
            let kinds: Vec<_> = inv.timers.iter().map(|t| (t.kind, t.period)).collect();
            assert_eq!(
                kinds,
                [
                    (TimerKind::Every, Some(10.0)),
                    (TimerKind::Once, None),
                    (TimerKind::Sleep, None)
                ]
            );
            once.cancel();
            every.cancel();
            sleeper.cancel();
            susp.cancel();
            sockloop::sleep(0.01).await;
            let inv = sockloop::inventory();
            assert!(inv.timers.is_empty(), "{inv}");
            assert!(!inv
                .threads
                .iter()
                .any(|x| x.id == sleeper.id() || x.id == susp.id()));
        });
    });
}

#[test]
fn handle_works_from_another_os_thread() {
    bounded(20, || {
        let h = sockloop::inventory_handle();
        // Nothing runs the loop yet: the request times out.
        let h2 = h.clone();
        let e = std::thread::spawn(move || h2.get(sockloop::clock() + 0.1))
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.name(), "timeout");
        let t = sockloop::thread_named("worker", async { sockloop::sleep(0.3).await });
        let other = std::thread::spawn(move || h.get(sockloop::clock() + 10.0));
        sockloop::start().unwrap();
        let inv = other.join().unwrap().unwrap();
        let me = inv.threads.iter().find(|x| x.id == t.id()).unwrap();
        assert_eq!(me.name.as_deref(), Some("worker"));
        assert_eq!(me.waiting.as_ref().unwrap().on, WaitOn::Sleep);
    });
}

#[test]
fn served_on_loopback_only() {
    bounded(20, || {
        sockloop::run(async {
            for bad in ["0.0.0.0:0", "[::]:0"] {
                let e = sockloop::serve_inventory(bad).unwrap_err();
                assert_eq!(e.name(), "invalid_address", "{bad}");
            }
            let (server, addr) = sockloop::serve_inventory("127.0.0.1:0").unwrap();
            let _napper = sockloop::thread_named("napper", async { sockloop::sleep(0.5).await });
            let c = sockloop::tcp().unwrap();
            c.connect(&addr, sockloop::clock() + 5.0).await.unwrap();
            let text =
                String::from_utf8(c.recvall(sockloop::clock() + 5.0).await.unwrap()).unwrap();
            assert!(text.starts_with("sockloop inventory"), "{text}");
            assert!(
                text.contains("napper") && text.contains("sockloop-inspect"),
                "{text}"
            );
            server.cancel();
            assert!(server.join(sockloop::clock() + 5.0).await.is_ok());
        });
    });
}

/// A call woken by data that does not end it (half of a `recvn`) goes on
/// waiting since its first park; the next call's wait starts anew. No
/// earlier inventory call is needed to see either.
#[test]
fn since_spans_a_call_and_restarts_with_the_next() {
    bounded(20, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            let c = Rc::new(c);
            let c2 = c.clone();
            let t0 = sockloop::clock();
            let reader = sockloop::thread_named("recvn", async move {
                let mut buf = [0u8; 10];
                c2.recvn(&mut buf, None).await?;
                c2.recv(&mut buf, None).await
            });
            sockloop::sleep(0.3).await;
            s.send(b"12345", None).await.unwrap();
            sockloop::sleep(0.1).await;
            let waiting = |inv: &sockloop::Inventory| {
                inv.threads
                    .iter()
                    .find(|x| x.id == reader.id())
                    .and_then(|x| x.waiting.clone())
                    .unwrap()
            };
            let inv = sockloop::inventory();
            let w = waiting(&inv);
            assert!(matches!(
                w.on,
                WaitOn::Socket {
                    dir: WaitDir::Read,
                    ..
                }
            ));
            // Still since the recvn's first park, before the 5 bytes came.
            assert!(w.since < t0 + 0.25, "since {} t0 {t0}", w.since);
            assert_eq!(w.deadline, None);

            s.send(b"67890", None).await.unwrap();
            let t1 = sockloop::clock();
            sockloop::sleep(0.1).await;
            let inv = sockloop::inventory();
            let w = waiting(&inv);
            // The recv after the recvn: a new wait.
            assert!(w.since >= t1 - 0.05, "since {} t1 {t1}", w.since);
            s.send(b"x", None).await.unwrap();
            let n = reader.join(sockloop::clock() + 5.0).await.unwrap().unwrap();
            assert_eq!(n, 1);
        });
    });
}
