//! The sockloop side of PORTING.md rows corrected or added by issue 18,
//! and the README's sentence on threads without a `LocalSet`:
//!
//! * addresses print as the address they are (upstream prints
//!   `0.0.0.0:443` for any IPv6 socket address, `::1` with shifted groups);
//! * a signed or spaced port string is `"invalid_address"` (upstream: the
//!   resolver's `Servname not supported for ai_socktype`, or port 80);
//! * `connect` on a connected socket is `"already_connected"` (upstream
//!   too, under the OS text);
//! * (a) outside any loop every socket call is `"not_in_thread"`, also
//!   one that would not block;
//! * (b) `poll()` before any `start()` runs the thread it wakes;
//! * (c) socketloop's `receive` returns a line it already holds at once;
//! * without a `LocalSet`, `thread` panics while `try_thread` and `resume`
//!   return `Err("no_local_set")`.

mod support;

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use sockloop::{clock, SockAddr};
use support::{asocket_pair, bounded, tcp_pair, udp_pair};

#[test]
fn porting_addresses_print_as_themselves() {
    let sa: SockAddr = "[::1]:443".parse::<std::net::SocketAddr>().unwrap().into();
    assert_eq!(sa.to_string(), "[::1]:443");
    assert_eq!(sa.ip().to_string(), "::1");
    let ai = sockloop::addr("::1", 443).unwrap();
    assert!(ai.first().is_some());
    for e in &ai {
        assert_eq!(e.to_string(), "[::1]:443"); // ai:tostring()
        assert_eq!(e.addr().ip().to_string(), "::1"); // ip:tostring()
    }
    let any: SockAddr = "0.0.0.0:0".parse::<std::net::SocketAddr>().unwrap().into();
    assert_eq!(any.to_string(), "0.0.0.0:0");
}

#[test]
fn porting_signed_or_spaced_ports_and_connect_on_a_connected_socket() {
    for port in ["-1", "+80", " 80", "80 "] {
        let e = sockloop::addr("127.0.0.1", port).unwrap_err();
        assert_eq!(e.name(), "invalid_address", "port {port:?}");
    }
    bounded(30, || {
        sockloop::run(async {
            let (c, _s) = tcp_pair().await;
            let peer = c.remote_addr().unwrap();
            let e = c.connect(&peer, clock() + 5.0).await.unwrap_err();
            assert_eq!(e.name(), "already_connected");
            assert_eq!(c.remote_addr().unwrap(), peer);
        });
    });
}

/// Polls `fut` once with no executor and no Tokio runtime: outside any
/// loop.
fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn porting_a_outside_any_loop_every_socket_call_is_not_in_thread() {
    bounded(30, || {
        let (a, b) = udp_pair();
        let to = b.local_addr().unwrap();
        // A sendto that would not block.
        let Poll::Ready(r) = poll_once(a.sendto(to.clone(), b"x", None)) else {
            panic!("pending outside any loop");
        };
        assert_eq!(r.unwrap_err().name(), "not_in_thread");
        // A datagram already queued: the receive would not block either.
        sockloop::run(async move {
            a.sendto(to, b"queued", None).await.unwrap();
        });
        let mut buf = [0u8; 16];
        let Poll::Ready(r) = poll_once(b.recv(&mut buf, None)) else {
            panic!("pending outside any loop");
        };
        assert_eq!(r.unwrap_err().name(), "not_in_thread");
        // In a loop the same receive gets the datagram.
        let n = sockloop::run(async move { b.recv(&mut buf, clock() + 5.0).await.unwrap() });
        assert_eq!(n, 6);
    });
}

#[test]
fn porting_b_poll_before_any_start_runs_the_woken_thread() {
    bounded(30, || {
        let done = Rc::new(std::cell::Cell::new(false));
        let d = done.clone();
        let t = sockloop::thread(async move {
            sockloop::sleep(0.01).await;
            d.set(true);
        });
        while !t.is_finished() {
            sockloop::poll(Some(1.0)).unwrap();
        }
        assert!(done.get());
    });
}

#[test]
fn porting_c_socketloop_receive_returns_a_held_line_at_once() {
    bounded(30, || {
        sockloop::run(async {
            let (c, s) = asocket_pair().await;
            s.send(b"one\ntwo\n").await.unwrap();
            c.settimeout(Some(5.0));
            sockloop::sleep(0.01).await; // both lines are in the kernel
            assert_eq!(c.receive("*l").await.unwrap(), b"one");
            assert_eq!(c.buffered(), 4); // "two\n" read ahead with it
                                         // "two" is in the read-ahead buffer: no new bytes are needed,
                                         // so even a call that may not wait at all gets it.
            c.settimeout(Some(0.0));
            assert_eq!(c.receive("*l").await.unwrap(), b"two");
            assert_eq!(c.receive("*l").await.unwrap_err().name(), "timeout");
        });
    });
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn readme_without_a_local_set_thread_panics_try_thread_and_resume_return_err() {
    bounded(30, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let e = sockloop::try_thread(async {}).unwrap_err();
            assert_eq!(e.name(), "no_local_set");
            let t = sockloop::newthread(async {});
            assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "no_local_set");
            let p = std::panic::catch_unwind(|| sockloop::thread(async {})).unwrap_err();
            assert!(panic_text(p).contains("no_local_set"));
            // Inside a LocalSet the same thread runs.
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async { assert!(sockloop::resume(&t, ()).is_ok()) })
                .await;
            assert!(t.is_finished());
        });
    });
}
