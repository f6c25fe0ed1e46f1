//! `sockloop::socket2`: the earlier luapower API's differences.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use sockloop::{clock, socket2, ThreadStatus};
use support::bounded;

#[test]
fn newthread_starts_at_once() {
    bounded(10, || {
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        let t = socket2::newthread(async move {
            r.set(1);
            sockloop::sleep(0.01).await;
            r.set(2);
        });
        assert_eq!(ran.get(), 1);
        assert_eq!(t.status(), ThreadStatus::Waiting);
        socket2::start(None).unwrap();
        assert_eq!(ran.get(), 2);
        assert!(t.is_finished());
    });
}

#[test]
fn poll_true_timeout_and_empty() {
    bounded(10, || {
        assert_eq!(socket2::poll(Some(0.0)).unwrap_err().name(), "empty");
        let t = socket2::newthread(async { sockloop::sleep(0.05).await });
        let t0 = clock();
        let e = socket2::poll(Some(0.01)).unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert!(clock() - t0 >= 0.01);
        while !t.is_finished() {
            match socket2::poll(Some(1.0)) {
                Ok(()) => {}
                Err(e) => panic!("poll failed: {e}"),
            }
        }
        assert_eq!(socket2::poll(None).unwrap_err().name(), "empty");
    });
}

#[test]
fn start_with_timeout_returns_when_nothing_happens() {
    bounded(10, || {
        let t = socket2::newthread(async { sockloop::sleep(5.0).await });
        let t0 = clock();
        socket2::start(Some(0.05)).unwrap();
        let took = clock() - t0;
        assert!((0.05..4.0).contains(&took), "took {took}");
        assert!(!t.is_finished());
        t.cancel();
        socket2::start(None).unwrap();
        assert!(t.is_finished());
    });
}

#[test]
fn stop_ends_start() {
    bounded(10, || {
        let n = Rc::new(Cell::new(0));
        let n2 = n.clone();
        let t = socket2::newthread(async move {
            while !sockloop::cancelled() {
                sockloop::sleep(0.001).await;
                n2.set(n2.get() + 1);
                if n2.get() == 5 {
                    socket2::stop();
                }
            }
        });
        socket2::start(None).unwrap();
        assert_eq!(n.get(), 5);
        t.cancel();
        socket2::start(None).unwrap();
        assert!(t.is_finished());
    });
}

#[test]
fn udp_send_and_recv_with_an_address() {
    let got = bounded(10, || {
        sockloop::run(async {
            let a = sockloop::udp().unwrap();
            a.bind(("127.0.0.1", 0)).unwrap();
            let b = sockloop::udp().unwrap();
            b.bind(("127.0.0.1", 0)).unwrap();
            let noise = sockloop::udp().unwrap();
            let a_addr = a.local_addr().unwrap();
            let b_addr = b.local_addr().unwrap();
            assert_eq!(
                socket2::udp_send(&noise, b"noise", &a_addr).await.unwrap(),
                5
            );
            assert_eq!(
                socket2::udp_send(&b, b"from b", ("127.0.0.1", a_addr.port()))
                    .await
                    .unwrap(),
                6
            );
            socket2::udp_send(&noise, b"more noise", &a_addr)
                .await
                .unwrap();
            let mut buf = [0u8; 64];
            // Only b's datagram is returned; the noise before it is dropped.
            let n = socket2::udp_recv(&a, &mut buf, &b_addr).await.unwrap();
            let first = buf[..n].to_vec();
            // The datagram after it is still queued.
            let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(from.port(), noise.local_addr().unwrap().port());
            (first, buf[..n].to_vec())
        })
    });
    assert_eq!(got.0, b"from b");
    assert_eq!(got.1, b"more noise");
}

#[test]
fn epoll_fd_and_iocp_point_to_the_shared_reactor() {
    bounded(10, || {
        // Before the loop first runs, as socket.iocp() before any I/O.
        let r = socket2::iocp().unwrap();
        let r2 = socket2::reactor().unwrap();
        // Another OS thread joins the same driver.
        let joined = std::thread::spawn(move || {
            socket2::set_reactor(r).map(|()| sockloop::run(async { 7 }))
        })
        .join()
        .unwrap();
        assert_eq!(joined.unwrap(), 7);
        drop(r2);
        // Tokio does not expose its epoll fd: a named error, not a panic.
        match socket2::epoll_fd() {
            Ok(fd) => assert!(fd >= 0),
            Err(e) => assert!(!e.name().is_empty()),
        }
    });
}
