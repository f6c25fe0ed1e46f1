//! LuaSocket's UDP objects on loopback: return shapes, `settimeout`
//! (relative, `None` blocks, 0 is non-blocking), `setpeername("*")`
//! unfiltering, `receivefrom` addresses, the connected/unconnected rules,
//! `udp()`'s deferred family, close.

mod support;

use std::rc::Rc;

use sockloop::luasocket::{self, udp, udp4, udp6, UdpObject};
use sockloop::{clock, Family};
use support::bounded;

/// Runs `f` in `sockloop::run` on a fresh OS thread, bounded.
fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    bounded(30, move || sockloop::run(f()))
}

/// As [`run`], with Tokio's clock paused (deadlines are exact).
fn paused<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    bounded(30, move || {
        sockloop::run(async move {
            tokio::time::pause();
            f().await
        })
    })
}

fn bound(host: &str) -> UdpObject {
    let u = if host.contains(':') { udp6() } else { udp4() }.unwrap();
    u.setsockname(host, 0).unwrap();
    u
}

#[test]
fn udp_return_shapes_of_the_echo_pair() {
    run(|| async {
        // echosrvr.lua
        let server = udp().unwrap();
        server.setsockname("127.0.0.1", 0).unwrap();
        server.settimeout(Some(5.0));
        let (ip, port, family) = server.getsockname().unwrap();
        assert_eq!((ip.as_str(), family), ("127.0.0.1", Family::Inet));
        assert_ne!(port, 0);
        // echoclnt.lua
        let client = udp().unwrap();
        client.setpeername(&ip, port).await.unwrap();
        assert!(client.is_connected());
        assert_eq!(
            client.getpeername().unwrap(),
            (ip.clone(), port, Family::Inet)
        );
        assert_eq!(client.send(b"hello").await.unwrap(), 5);
        let (dgram, from_ip, from_port) = server.receivefrom(None).await.unwrap();
        assert_eq!(dgram, b"hello");
        assert_eq!(from_ip, "127.0.0.1");
        assert_eq!(from_port, client.getsockname().unwrap().1);
        assert_eq!(server.sendto(&dgram, &from_ip, from_port).await.unwrap(), 5);
        client.settimeout(Some(5.0));
        assert_eq!(client.receive(None).await.unwrap(), b"hello");
        // An empty datagram is a datagram.
        assert_eq!(client.send(b"").await.unwrap(), 0);
        assert_eq!(server.receive(None).await.unwrap(), b"");
    });
}

#[test]
fn udp_receive_size_truncates_and_drops_the_rest() {
    run(|| async {
        let a = bound("127.0.0.1");
        let b = bound("127.0.0.1");
        let (ip, port, _) = a.getsockname().unwrap();
        b.sendto(b"abcdef", &ip, port).await.unwrap();
        b.sendto(b"xyz", &ip, port).await.unwrap();
        a.settimeout(Some(5.0));
        assert_eq!(a.receive(Some(3)).await.unwrap(), b"abc");
        // "def" went with its datagram; the next one is whole.
        assert_eq!(a.receive(Some(100)).await.unwrap(), b"xyz");
        let e = a.receive(Some(0)).await.unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
        // A size over the largest datagram is capped, not allocated.
        b.sendto(b"big", &ip, port).await.unwrap();
        assert_eq!(a.receive(Some(usize::MAX)).await.unwrap(), b"big");
    });
}

#[test]
fn udp_settimeout_is_relative_per_call() {
    paused(|| async {
        let a = bound("127.0.0.1");
        a.settimeout(Some(2.5));
        assert_eq!(a.gettimeout(), Some(2.5));
        let t0 = clock();
        assert_eq!(a.receive(None).await.unwrap_err().name(), "timeout");
        let dt = clock() - t0;
        assert!((2.5..2.51).contains(&dt), "waited {dt}");
        // Each call waits its own 2.5 s again.
        let t1 = clock();
        let e = a.receivefrom(None).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.luasocket_str(), "timeout");
        let dt = clock() - t1;
        assert!((2.5..2.51).contains(&dt), "waited {dt}");
    });
}

#[test]
fn udp_settimeout_zero_is_non_blocking() {
    paused(|| async {
        let a = bound("127.0.0.1");
        let b = bound("127.0.0.1");
        let (ip, port, _) = a.getsockname().unwrap();
        a.settimeout(Some(0.0));
        let t0 = clock();
        assert_eq!(a.receive(None).await.unwrap_err().name(), "timeout");
        assert!(clock() - t0 < 0.01);
        // A datagram already queued is taken at once.
        b.sendto(b"now", &ip, port).await.unwrap();
        assert_eq!(a.receive(None).await.unwrap(), b"now");
    });
}

#[test]
fn udp_settimeout_none_or_negative_blocks() {
    paused(|| async {
        let a = Rc::new(bound("127.0.0.1"));
        let (ip, port, _) = a.getsockname().unwrap();
        a.settimeout(Some(1.0));
        a.settimeout(Some(-1.0));
        assert_eq!(a.gettimeout(), None);
        a.settimeout(Some(f64::NAN));
        assert_eq!(a.gettimeout(), None);
        a.settimeout(None);
        sockloop::thread(async move {
            sockloop::sleep(600.0).await;
            let b = udp4().unwrap();
            b.sendto(b"late", &ip, port).await.unwrap();
        });
        let t0 = clock();
        assert_eq!(a.receive(None).await.unwrap(), b"late");
        assert!(clock() - t0 >= 600.0);
    });
}

#[test]
fn udp_setpeername_star_unfilters() {
    run(|| async {
        let a = bound("127.0.0.1");
        let b = bound("127.0.0.1");
        let c = bound("127.0.0.1");
        let (aip, aport, _) = a.getsockname().unwrap();
        let (bip, bport, _) = b.getsockname().unwrap();
        let cport = c.getsockname().unwrap().1;
        a.setpeername(&bip, bport).await.unwrap();
        c.sendto(b"from c", &aip, aport).await.unwrap();
        b.sendto(b"from b", &aip, aport).await.unwrap();
        a.settimeout(Some(5.0));
        assert_eq!(a.receive(None).await.unwrap(), b"from b");
        a.settimeout(Some(0.05));
        assert_eq!(a.receive(None).await.unwrap_err().name(), "timeout");
        // The connected rules, as LuaSocket's udp{connected} class.
        let e = a.receivefrom(None).await.unwrap_err();
        assert_eq!(e.name(), "already_connected");
        let e = a.sendto(b"x", &bip, bport).await.unwrap_err();
        assert_eq!(e.name(), "already_connected");
        assert_eq!(
            a.setsockname("127.0.0.1", 0).unwrap_err().name(),
            "already_connected"
        );

        a.setpeername("*", 0).await.unwrap();
        assert!(!a.is_connected());
        assert_eq!(a.getpeername().unwrap_err().name(), "not_connected");
        assert_eq!(a.send(b"x").await.unwrap_err().name(), "not_connected");
        // The local address survives the disconnect.
        assert_eq!(a.getsockname().unwrap(), (aip.clone(), aport, Family::Inet));
        c.sendto(b"from c again", &aip, aport).await.unwrap();
        a.settimeout(Some(5.0));
        let (d, ip, port) = a.receivefrom(None).await.unwrap();
        assert_eq!(d, b"from c again");
        assert_eq!((ip.as_str(), port), ("127.0.0.1", cport));
    });
}

#[test]
fn udp_receivefrom_gives_ipv6_addresses_as_text() {
    run(|| async {
        let a = bound("::1");
        let b = bound("::1");
        assert_eq!(a.getoption("ipv6-v6only").unwrap().as_bool(), Some(true));
        let (ip, port, family) = a.getsockname().unwrap();
        assert_eq!((ip.as_str(), family), ("::1", Family::Inet6));
        b.sendto(b"six", "::1", port).await.unwrap();
        a.settimeout(Some(5.0));
        let (d, from, from_port) = a.receivefrom(None).await.unwrap();
        assert_eq!(d, b"six");
        assert_eq!(from, "::1");
        assert_eq!(from_port, b.getsockname().unwrap().1);
        // Another family's address is refused, naming it.
        let e = a.sendto(b"x", "127.0.0.1", port).await.unwrap_err();
        assert_eq!(e.name(), "invalid_address");
    });
}

#[test]
fn udp_sendto_takes_numeric_addresses_only() {
    run(|| async {
        let a = udp4().unwrap();
        let e = a.sendto(b"x", "localhost", 9).await.unwrap_err();
        assert_eq!(e.name(), "invalid_address");
        assert!(e.to_string().contains("localhost"), "{e}");
    });
}

#[test]
fn udp_family_of_udp_is_chosen_by_first_use() {
    run(|| async {
        let u = udp().unwrap();
        assert_eq!(u.getfd(), luasocket::SOCKETINVALID);
        let e = u.getsockname().unwrap_err();
        assert_eq!(e.name(), "closed");
        assert!(e.to_string().contains("no socket yet"), "{e}");
        assert_eq!(u.setoption("broadcast", true).unwrap_err().name(), "closed");
        let target = bound("::1");
        let port = target.getsockname().unwrap().1;
        assert_eq!(u.sendto(b"hi", "::1", port).await.unwrap(), 2);
        assert_eq!(u.getfamily(), Family::Inet6);
        assert!(u.getfd() >= 0);
        assert_eq!(u.getsockname().unwrap().2, Family::Inet6);

        // setpeername with a name: looked up off the loop, family from it.
        let v = udp().unwrap();
        let server = bound("127.0.0.1");
        let port = server.getsockname().unwrap().1;
        v.setpeername("localhost", port).await.unwrap();
        assert_eq!(v.getpeername().unwrap().1, port);
    });
}

#[test]
fn udp_options_use_luasocket_names() {
    let u = udp4().unwrap();
    u.setoption("broadcast", true).unwrap();
    assert_eq!(u.getoption("broadcast").unwrap().as_bool(), Some(true));
    u.setoption("ip-multicast-ttl", 7).unwrap();
    assert_eq!(u.getoption("ip-multicast-ttl").unwrap().as_int(), Some(7));
    u.setoption("recv-buffer-size", 65536).unwrap();
    assert!(u.getoption("recv-buffer-size").unwrap().as_int().unwrap() >= 65536);
    u.setoption("reuseaddr", true).unwrap();
    assert_eq!(u.getoption("reuseaddr").unwrap().as_bool(), Some(true));
    let e = u.setoption("ip-add-membership", "224.0.0.1").unwrap_err();
    assert_eq!(e.name(), "unknown_option");
    assert!(!u.dirty());
}

#[test]
fn udp_close_wakes_a_parked_receive_and_is_idempotent() {
    run(|| async {
        let a = Rc::new(bound("127.0.0.1"));
        let a2 = a.clone();
        let reader = sockloop::thread(async move {
            let e = a2.receive(None).await.unwrap_err();
            assert_eq!(e.name(), "closed");
        });
        sockloop::sleep(0.01).await;
        a.close().unwrap();
        a.close().unwrap();
        sockloop::sleep(0.01).await;
        assert!(reader.is_finished());
        assert_eq!(a.getfd(), luasocket::SOCKETINVALID);
        assert_eq!(a.receive(None).await.unwrap_err().name(), "closed");
        assert_eq!(a.setsockname("127.0.0.1", 0).unwrap_err().name(), "closed");
        assert_eq!(a.setpeername("*", 0).await.unwrap_err().name(), "closed");
    });
}

#[test]
fn udp_from_a_connected_udp_is_connected() {
    run(|| async {
        let a = bound("127.0.0.1");
        let (ip, port, _) = a.getsockname().unwrap();
        let u = sockloop::udp().unwrap();
        u.connect((ip.as_str(), port), None).await.unwrap();
        let o = UdpObject::from(u);
        assert!(o.is_connected());
        assert_eq!(o.send(b"via sock").await.unwrap(), 8);
        a.settimeout(Some(5.0));
        assert_eq!(a.receive(None).await.unwrap(), b"via sock");
        assert_eq!(o.getsocket().unwrap().family(), Family::Inet);
    });
}

#[test]
fn tcp_constructors_tcp4_tcp6() {
    run(|| async {
        let s6 = luasocket::tcp6().unwrap();
        assert_eq!(s6.getoption("ipv6-v6only").unwrap().as_bool(), Some(true));
        assert_eq!(s6.getsocket().family(), Family::Inet6);
        assert_eq!(
            luasocket::tcp4().unwrap().getsocket().family(),
            Family::Inet
        );
        // connect6 to a v6 server, from a tcp6 master object.
        let server = sockloop::Tcp::new(Family::Inet6).unwrap();
        server.listen(("::1", 0)).unwrap();
        let port = server.local_addr().unwrap().port();
        let c = luasocket::connect6("::1", port, None, None).await.unwrap();
        assert_eq!(c.getpeername().unwrap().port(), port);
        s6.settimeout(Some(5.0));
        s6.connect(("::1", port)).await.unwrap();
        assert_eq!(
            s6.getpeername().unwrap().to_string(),
            format!("[::1]:{port}")
        );
    });
}
