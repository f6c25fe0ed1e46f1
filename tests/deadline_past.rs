//! A deadline already past when a call started (issue 18): the error is
//! still named `"timeout"`, and its message says how far in the past
//! `expires` was and that it is absolute, for every socket kind and call
//! that can wait. A deadline that passes while the call waits, or a poll
//! (`expires` = now), stays a plain `"timeout"`.

mod support;

use sockloop::{clock, Error, Family, Protocol, Tcp, Udp};
use support::{bounded, tcp_pair, temp_path};
use tokio::io::AsyncReadExt;

/// The mistake the hint is for: a relative time where `expires` is an
/// absolute `clock()` time.
const RELATIVE: f64 = 5.0;

/// `e` is the `"timeout"` of a call whose deadline was already past when
/// it started: named so, its message saying so and giving the fix.
#[track_caller]
fn assert_past(e: &Error, what: &str) {
    assert_eq!(e.name(), "timeout", "{what}: {e}");
    let text = e.to_string();
    assert!(
        text.starts_with("timeout: expires was ")
            && text.contains(" s in the past when the call started")
            && text.contains("(expires is absolute: "),
        "{what}: {text}"
    );
    // `clock()` is seconds since boot: 5.0 is long past, and reads as the
    // relative time it was meant to be.
    if clock() > 2.0 * RELATIVE {
        assert!(text.contains("use clock() + 5.0)"), "{what}: {text}");
    }
}

/// `e` is a plain `"timeout"`, with no message.
#[track_caller]
fn assert_plain(e: &Error, what: &str) {
    assert_eq!(e.name(), "timeout", "{what}: {e}");
    assert_eq!(e.message(), None, "{what}: {e}");
    assert!(!e.to_string().contains("expires"), "{what}: {e}");
}

#[test]
fn deadline_past_tcp_calls_say_how_far_and_that_expires_is_absolute() {
    bounded(30, || {
        sockloop::run(async {
            let listener = sockloop::tcp().unwrap();
            listener.listen(("127.0.0.1", 0)).unwrap();
            let e = listener.accept(RELATIVE).await.unwrap_err();
            assert_past(&e, "accept");

            let (c, s) = tcp_pair().await;
            let mut buf = [0u8; 16];
            assert_past(&c.recv(&mut buf, RELATIVE).await.unwrap_err(), "recv");
            let e = c.recvn(&mut buf, RELATIVE).await.unwrap_err();
            assert_past(&e, "recvn");
            assert_eq!(e.partial(), Some(0));
            assert_past(&c.recvall(RELATIVE).await.unwrap_err(), "recvall");
            // Data first, then the wait: the deadline was past all along.
            s.send(b"some", None).await.unwrap();
            c.readable(clock() + 5.0).await.unwrap();
            let mut e = c.recvall(RELATIVE).await.unwrap_err();
            assert_past(&e, "recvall after data");
            assert_eq!(e.take_data().as_deref(), Some(&b"some"[..]));
            assert_past(&c.recvall_read(RELATIVE).await.unwrap_err(), "recvall_read");
            assert_past(&c.readable(RELATIVE).await.unwrap_err(), "readable");
            let err = c.until(RELATIVE).read(&mut buf).await.unwrap_err();
            let e = Error::from(err);
            assert_past(&e, "until(..).read");

            // Try first: what is queued is still returned at once.
            s.send(b"queued", None).await.unwrap();
            c.readable(clock() + 5.0).await.unwrap();
            assert_eq!(c.recv(&mut buf, RELATIVE).await.unwrap(), 6);

            // A send that would block: fill the peer's window first.
            let chunk = vec![7u8; 1 << 16];
            loop {
                match s.send(&chunk, clock() + 0.2).await {
                    Ok(()) => {}
                    Err(e) => {
                        assert_eq!(e.name(), "timeout");
                        break;
                    }
                }
            }
            let e = s.send(&chunk, RELATIVE).await.unwrap_err();
            assert_past(&e, "send");
            assert!(e.partial().is_some());
        });
    });
}

#[test]
fn deadline_past_udp_raw_and_unix_calls_say_so() {
    bounded(30, || {
        sockloop::run(async {
            let mut buf = [0u8; 64];
            let u = sockloop::udp().unwrap();
            u.bind(("127.0.0.1", 0)).unwrap();
            assert_past(&u.recv(&mut buf, RELATIVE).await.unwrap_err(), "udp recv");
            assert_past(
                &u.recvnext(&mut buf, RELATIVE).await.unwrap_err(),
                "udp recvnext",
            );

            match sockloop::raw(Protocol::Icmp) {
                Ok(r) => {
                    // An ICMP socket sees every ICMP packet of the host:
                    // drain what is queued, then the wait is the test.
                    let e = loop {
                        match r.recvnext(&mut buf, RELATIVE).await {
                            Ok(_) => continue,
                            Err(e) => break e,
                        }
                    };
                    assert_past(&e, "raw recvnext");
                }
                Err(e) => {
                    println!("raw socket refused by the kernel: {e}");
                    assert_eq!(e.name(), "access_denied");
                }
            }

            let path = temp_path("past-stream");
            let l = Tcp::new(Family::Unix).unwrap();
            l.listen(path.as_path()).unwrap();
            assert_past(&l.accept(RELATIVE).await.unwrap_err(), "unix accept");
            let c = Tcp::new(Family::Unix).unwrap();
            c.connect(path.as_path(), clock() + 5.0).await.unwrap();
            let s = l.accept(clock() + 5.0).await.unwrap();
            assert_past(&c.recv(&mut buf, RELATIVE).await.unwrap_err(), "unix recv");
            assert_past(&s.recvall(RELATIVE).await.unwrap_err(), "unix recvall");
            let _ = std::fs::remove_file(&path);

            let path = temp_path("past-dgram");
            let d = Udp::new(Family::Unix).unwrap();
            d.bind(path.as_path()).unwrap();
            assert_past(
                &d.recvnext(&mut buf, RELATIVE).await.unwrap_err(),
                "unix datagram recvnext",
            );
            let _ = std::fs::remove_file(&path);
        });
    });
}

#[test]
fn deadline_past_join_says_so_too() {
    bounded(30, || {
        sockloop::run(async {
            let t = sockloop::thread(async { sockloop::sleep(0.2).await });
            assert_past(&t.join(RELATIVE).await.unwrap_err(), "Thread::join");
            t.cancel();
        });
    });
}

#[test]
fn deadline_passing_during_the_call_or_a_poll_is_a_plain_timeout() {
    bounded(30, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            let mut buf = [0u8; 16];
            // Passes while the call waits.
            let e = c.recv(&mut buf, clock() + 0.05).await.unwrap_err();
            assert_plain(&e, "recv until clock() + 0.05");
            // A looping call: data first, then the deadline passes.
            s.send(b"some", None).await.unwrap();
            let e = c.recvall(clock() + 0.05).await.unwrap_err();
            assert_plain(&e, "recvall after data");
            // `expires` = now: a poll, not a mistake.
            let e = c.recv(&mut buf, clock()).await.unwrap_err();
            assert_plain(&e, "recv(clock())");
            // No deadline at all, and one far ahead: the data comes.
            s.send(b"x", None).await.unwrap();
            assert_eq!(c.recv(&mut buf, None).await.unwrap(), 1);
        });
    });
}

#[test]
fn deadline_past_sleep_until_returns_at_once_without_error() {
    bounded(30, || {
        // Not a socket call: a sleep to a past time has nothing to fail,
        // it returns at once (as sock.lua's `sleep_until`).
        sockloop::run(async {
            let t0 = clock();
            sockloop::sleep_until(RELATIVE).await;
            assert!(clock() - t0 < 1.0);
        });
    });
}

#[cfg(feature = "tls")]
#[test]
fn deadline_past_tls_calls_say_so() {
    bounded(30, || {
        sockloop::run(async {
            let (_ca, server, client) = support::tls::configs();
            // The handshake: the server side never answers.
            let (l, addr) = support::tls::listener();
            let c = sockloop::tcp().unwrap();
            c.connect(&addr, clock() + 5.0).await.unwrap();
            let _quiet = l.accept(clock() + 5.0).await.unwrap();
            let e = sockloop::client_stcp(c, "localhost", &client, RELATIVE)
                .await
                .unwrap_err();
            assert_past(&e, "client_stcp");

            let (l, _) = support::tls::listener();
            let srv = sockloop::server_stcp(l, &server).unwrap();
            assert_past(
                &srv.accept(RELATIVE).await.unwrap_err(),
                "StcpServer::accept",
            );

            let (c, _s) = support::tls::pair().await;
            let mut buf = [0u8; 16];
            assert_past(&c.recv(&mut buf, RELATIVE).await.unwrap_err(), "tls recv");
            assert_past(&c.recvn(&mut buf, RELATIVE).await.unwrap_err(), "tls recvn");
            assert_past(&c.recvall(RELATIVE).await.unwrap_err(), "tls recvall");
        });
    });
}
