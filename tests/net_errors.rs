//! Error names a porter branches on, and cancellation of sockets parked
//! in a sockloop thread (the socket stays usable afterwards).

use std::cell::RefCell;
use std::rc::Rc;

mod support;

use sockloop::{clock, tcp, udp, ErrorKind, Tcp};
use support::bounded;

type Slot = Rc<RefCell<Option<Result<usize, String>>>>;

async fn pair() -> (Tcp, Tcp) {
    let server = tcp().unwrap();
    server.listen(("127.0.0.1", 0)).unwrap();
    let addr = server.local_addr().unwrap();
    let client = tcp().unwrap();
    let srv = Rc::new(server);
    let s2 = srv.clone();
    let slot: Rc<RefCell<Option<Tcp>>> = Rc::default();
    let out = slot.clone();
    sockloop::thread(async move {
        *out.borrow_mut() = Some(s2.accept(clock() + 5.0).await.unwrap());
    });
    client.connect(&addr, clock() + 5.0).await.unwrap();
    while slot.borrow().is_none() {
        sockloop::sleep(0.001).await;
    }
    let conn = slot.borrow_mut().take().unwrap();
    (client, conn)
}

#[test]
fn net_errors_names() {
    bounded(30, || {
        sockloop::run(async {
            // connect to a closed loopback port
            let probe = tcp().unwrap();
            probe.bind(("127.0.0.1", 0)).unwrap();
            let port = probe.local_addr().unwrap().port();
            drop(probe);
            let e = tcp()
                .unwrap()
                .connect(("127.0.0.1", port), clock() + 5.0)
                .await
                .unwrap_err();
            assert_eq!(e.name(), "connection_refused");
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
            // bind twice
            let l = tcp().unwrap();
            l.listen(("127.0.0.1", 0)).unwrap();
            let e = tcp().unwrap().bind(l.local_addr().unwrap()).unwrap_err();
            assert_eq!(e.name(), "address_already_in_use");
            // after close
            l.close().unwrap();
            assert_eq!(l.accept(None).await.unwrap_err().name(), "closed");
            assert_eq!(l.close().unwrap_err().name(), "closed");
            // unknown option, malformed address
            let u = udp().unwrap();
            assert_eq!(u.setopt("bogus", 1).unwrap_err().name(), "unknown_option");
            let e = u.sendto("[::1", b"x", None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidAddress);
            assert!(e.to_string().contains("[::1"), "{e}");
            // io::Error conversion keeps the kind
            let io: std::io::Error = e.into();
            assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        })
    });
}

#[test]
fn net_errors_cancel_recv_then_socket_still_works() {
    bounded(30, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            let s = Rc::new(s);
            let s2 = s.clone();
            let slot: Slot = Rc::default();
            let out = slot.clone();
            let t = sockloop::thread(async move {
                let mut buf = [0u8; 8];
                let r = s2.recv(&mut buf, clock() + 10.0).await;
                *out.borrow_mut() = Some(r.map_err(|e| e.name().to_string()));
            });
            sockloop::sleep(0.02).await;
            assert!(slot.borrow().is_none(), "recv must be parked");
            t.cancel();
            sockloop::sleep(0.02).await;
            assert_eq!(slot.borrow_mut().take(), Some(Err("cancelled".to_string())));
            // The socket still works both ways.
            c.send(b"after", clock() + 5.0).await.unwrap();
            let mut buf = [0u8; 5];
            s.recvn(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(&buf, b"after");
            s.send(b"back", clock() + 5.0).await.unwrap();
            let mut buf = [0u8; 4];
            c.recvn(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(&buf, b"back");
        })
    });
}

#[test]
fn net_errors_cancel_accept_and_connect() {
    bounded(30, || {
        sockloop::run(async {
            let l = Rc::new(tcp().unwrap());
            l.listen(("127.0.0.1", 0)).unwrap();
            let l2 = l.clone();
            let slot: Slot = Rc::default();
            let out = slot.clone();
            let t = sockloop::thread(async move {
                let r = l2.accept(None).await.map(|_| 0);
                *out.borrow_mut() = Some(r.map_err(|e| e.name().to_string()));
            });
            sockloop::sleep(0.02).await;
            t.cancel();
            sockloop::sleep(0.02).await;
            assert_eq!(slot.borrow_mut().take(), Some(Err("cancelled".to_string())));
            // Still listening: a connection is accepted.
            let c = tcp().unwrap();
            c.connect(&l.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let conn = l.accept(clock() + 5.0).await.unwrap();
            assert_eq!(conn.remote_addr().unwrap(), c.local_addr().unwrap());

            // A cancelled udp recv leaves the socket usable.
            let u = Rc::new(udp().unwrap());
            u.bind(("127.0.0.1", 0)).unwrap();
            let u2 = u.clone();
            let out = slot.clone();
            let t = sockloop::thread(async move {
                let mut buf = [0u8; 8];
                let r = u2.recv(&mut buf, None).await;
                *out.borrow_mut() = Some(r.map_err(|e| e.name().to_string()));
            });
            sockloop::sleep(0.02).await;
            t.cancel();
            sockloop::sleep(0.02).await;
            assert_eq!(slot.borrow_mut().take(), Some(Err("cancelled".to_string())));
            let v = udp().unwrap();
            v.sendto(&u.local_addr().unwrap(), b"ok", None)
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(u.recv(&mut buf, clock() + 5.0).await.unwrap(), 2);
        })
    });
}

#[test]
fn net_errors_cancel_parked_connect() {
    bounded(30, || {
        sockloop::run(async {
            // A listener whose accept queue is full: new SYNs are dropped, so
            // a connect parks (Linux).
            let l = tcp().unwrap();
            l.listen_backlog(0, ("127.0.0.1", 0)).unwrap();
            let addr = l.local_addr().unwrap();
            let mut fillers = Vec::new();
            let mut parked = None;
            for _ in 0..8 {
                let c = tcp().unwrap();
                match c.connect(&addr, clock() + 0.2).await {
                    Ok(()) => fillers.push(c),
                    Err(e) => {
                        assert_eq!(e.name(), "timeout");
                        parked = Some(c);
                        break;
                    }
                }
            }
            let Some(_first) = parked else {
                println!("the kernel never dropped a SYN; nothing parks here");
                return;
            };
            let c = Rc::new(tcp().unwrap());
            let c2 = c.clone();
            let slot: Slot = Rc::default();
            let out = slot.clone();
            let t = sockloop::thread(async move {
                let r = c2.connect(&addr, clock() + 10.0).await.map(|_| 0);
                *out.borrow_mut() = Some(r.map_err(|e| e.name().to_string()));
            });
            sockloop::sleep(0.05).await;
            assert!(slot.borrow().is_none(), "connect must be parked");
            t.cancel();
            sockloop::sleep(0.02).await;
            assert_eq!(slot.borrow_mut().take(), Some(Err("cancelled".to_string())));
            // The socket is still open and answers.
            assert_eq!(c.getopt("type").unwrap().as_str(), Some("tcp"));
            c.close().unwrap();
        })
    });
}

#[test]
fn net_errors_cancel_is_kept_for_the_call_that_parks() {
    bounded(30, || {
        sockloop::run(async {
            let (c, s) = pair().await;
            c.send(b"ready", None).await.unwrap();
            sockloop::sleep(0.02).await;
            let slot: Slot = Rc::default();
            let out = slot.clone();
            sockloop::thread(async move {
                // Cancel while running: delivered to the next call that parks.
                sockloop::currentthread().unwrap().cancel();
                let mut buf = [0u8; 5];
                // Data is there: completes at once and keeps the cancel.
                assert_eq!(s.recvn(&mut buf, clock() + 5.0).await.unwrap(), 5);
                // Nothing more to read: parks, takes the cancel.
                let r = s.recv(&mut buf, clock() + 5.0).await;
                *out.borrow_mut() = Some(r.map_err(|e| e.name().to_string()));
            });
            sockloop::sleep(0.05).await;
            assert_eq!(slot.borrow_mut().take(), Some(Err("cancelled".to_string())));
        })
    });
}
