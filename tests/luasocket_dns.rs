//! `socket.dns`: lookups of `localhost` and of literals (which need no
//! resolver and no runtime), LuaSocket's result shapes, and the error words
//! of a failing lookup.

mod support;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use sockloop::luasocket::dns::{self, Resolved, ResolvedAddr};
use sockloop::{ErrorKind, Family};
use support::bounded;

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    bounded(60, move || sockloop::run(f()))
}

/// Polls `fut` once, with no runtime at all.
fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    pin!(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn dns_literals_need_no_resolver_and_no_runtime() {
    let Poll::Ready(r) = poll_once(dns::toip("10.1.2.3")) else {
        panic!("toip of a literal waited");
    };
    let (ip, resolved) = r.unwrap();
    assert_eq!(ip, IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
    assert_eq!(
        resolved,
        Resolved {
            name: "10.1.2.3".into(),
            alias: vec![],
            ip: vec![ip],
        }
    );
    let Poll::Ready(r) = poll_once(dns::getaddrinfo("fe80::1")) else {
        panic!("getaddrinfo of a literal waited");
    };
    let list = r.unwrap();
    assert_eq!(
        list,
        [ResolvedAddr {
            family: Family::Inet6,
            addr: "fe80::1".parse().unwrap(),
        }]
    );
    assert_eq!(list[0].family.to_string(), "inet6");
    // A name outside any runtime: a named error, not a blocking call.
    let Poll::Ready(r) = poll_once(dns::toip("localhost")) else {
        panic!("toip outside a runtime waited");
    };
    assert_eq!(r.unwrap_err().name(), "not_in_thread");
}

#[test]
fn dns_localhost_lookups() {
    run(|| async {
        let (ip, resolved) = dns::toip("localhost").await.unwrap();
        assert!(ip.is_ipv4() && ip.is_loopback(), "{ip}");
        assert_eq!(resolved.ip[0], ip);
        assert!(resolved.ip.iter().all(IpAddr::is_ipv4));
        assert!(!resolved.name.is_empty());
        assert!(resolved.alias.is_empty());

        let list = dns::getaddrinfo("localhost").await.unwrap();
        assert!(list
            .iter()
            .any(|e| e.family == Family::Inet && e.addr == ip));
        assert!(list.iter().all(|e| e.addr.is_loopback()));

        let (name, resolved) = dns::tohostname("localhost").await.unwrap();
        assert_eq!(name, resolved.name);
        assert!(resolved.ip.contains(&ip));

        // A reverse lookup of the loopback address finds a name.
        let (name, resolved) = dns::tohostname("127.0.0.1").await.unwrap();
        assert!(!name.is_empty());
        assert_eq!(resolved.ip, ["127.0.0.1".parse::<IpAddr>().unwrap()]);

        let (names, service) = dns::getnameinfo(Some("127.0.0.1"), Some("80"))
            .await
            .unwrap();
        assert_eq!(names.len(), 1);
        assert!(!names[0].is_empty());
        assert!(service.is_some_and(|s| !s.is_empty()));
        // No host: no names, only the service.
        let (names, service) = dns::getnameinfo(None, Some("80")).await.unwrap();
        assert!(names.is_empty());
        assert!(service.is_some());

        assert!(!dns::gethostname().unwrap().is_empty());
    });
}

#[test]
fn dns_failing_lookups_use_luasocket_words() {
    run(|| async {
        // Deterministic: an unknown service name.
        let e = dns::getnameinfo(Some("127.0.0.1"), Some("no-such-service-xyz"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Lookup);
        assert_eq!(e.name(), "service not supported for socket type");
        let e = dns::getnameinfo(None, None).await.unwrap_err();
        assert_eq!(e.name(), "invalid_argument");

        // A name under `.invalid` (RFC 2606) never exists; without a
        // reachable DNS server the resolver says "try again" instead.
        let e = dns::toip("no-such-host.invalid").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Lookup);
        assert!(
            ["host not found", "Host name lookup failure"].contains(&e.name()),
            "{e}"
        );
        assert!(e.to_string().starts_with(e.name()), "{e}");
        let e = dns::getaddrinfo("no-such-host.invalid").await.unwrap_err();
        assert!(
            [
                "host or service not provided, or not known",
                "temporary failure in name resolution"
            ]
            .contains(&e.name()),
            "{e}"
        );
        let e = dns::tohostname("no-such-host.invalid").await.unwrap_err();
        assert!(
            ["host not found", "Host name lookup failure"].contains(&e.name()),
            "{e}"
        );
    });
}

#[test]
fn dns_lookup_does_not_block_the_loop() {
    run(|| async {
        // While one thread waits for the resolver, another keeps running:
        // the ticker is queued again each round (`yield_now`), ahead of
        // the wake-up the lookup's end sends from the blocking pool.
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0));
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        sockloop::thread(async move {
            while !s.get() {
                t.set(t.get() + 1);
                sockloop::yield_now().await;
            }
        });
        // A lookup waits for the blocking pool: the loop runs the ticker
        // meanwhile. (On a busy machine the pool can finish one before its
        // first poll; a blocking call would never let the ticker in, so
        // the test asks for at least one of up to 50 lookups.)
        let mut overlapped = false;
        for _ in 0..50 {
            let before = ticks.get();
            assert!(dns::toip("localhost").await.is_ok());
            if ticks.get() > before {
                overlapped = true;
                break;
            }
        }
        stop.set(true);
        assert!(overlapped, "the ticker never ran during a lookup");
    });
}
