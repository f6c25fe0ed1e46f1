//! Issue 9, items 1–7: bad input is rejected with a named error that
//! says what was wrong, and nothing is consumed or changed; LuaSocket's
//! `send(data, i, j)` return value.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sockloop::{
    addr, addr_async, addr_with, clock, tcp, udp, ErrorKind, Family, Hints, OptValue, SockType,
    Tcp, Udp,
};
use support::{asocket_pair, bounded, local, tcp_pair, temp_path, udp_pair, BOOLS};

/// Asserts `r` is an `Err` named `name` whose message quotes `part`.
#[track_caller]
fn assert_err<T: std::fmt::Debug>(r: sockloop::Result<T>, name: &str, part: &str) {
    let e = r.expect_err("expected an error");
    assert_eq!(e.name(), name, "{e}");
    assert!(e.to_string().contains(part), "{e:?} does not name {part:?}");
}

/// The local port of `s` (0: unbound).
fn port_of(s: &Tcp) -> u16 {
    s.local_addr().unwrap().port()
}

// ===== 1. port and host strings =====

#[test]
fn item1_port_out_of_range_is_rejected_not_wrapped() {
    for p in [
        "65536",
        "70000",
        "99999",
        "4294967377",
        "18446744073709551697",
    ] {
        let hints = Hints::default();
        assert_err(addr_with("127.0.0.1", p, &hints), "invalid_address", p);
        assert_err(addr("localhost", p), "invalid_address", p);
        // Every form a socket takes, and nothing is bound.
        let s = tcp().unwrap();
        assert_err(s.bind(("127.0.0.1", p)), "invalid_address", p);
        assert_err(s.bind(format!("127.0.0.1:{p}")), "invalid_address", p);
        assert_err(s.bind(format!("[::1]:{p}")), "invalid_address", p);
        assert_err(
            s.bind((String::from("127.0.0.1"), String::from(p))),
            "invalid_address",
            p,
        );
        assert_err(s.listen(("127.0.0.1", p)), "invalid_address", p);
        assert_eq!(port_of(&s), 0, "{p}: the socket was bound");
        // listen changed nothing either: reuseaddr is set only for a good address.
        assert_eq!(s.getopt("reuseaddr").unwrap(), OptValue::Bool(false));
    }
    // The valid forms keep working.
    assert_eq!(
        addr("127.0.0.1", "0")
            .unwrap()
            .first()
            .unwrap()
            .addr()
            .port(),
        0
    );
    assert_eq!(
        addr("127.0.0.1", "65535")
            .unwrap()
            .first()
            .unwrap()
            .addr()
            .port(),
        65535
    );
    assert_eq!(
        addr("127.0.0.1", "00080")
            .unwrap()
            .first()
            .unwrap()
            .addr()
            .port(),
        80
    );
    let tcp_hints = Hints {
        socktype: Some(SockType::Tcp),
        ..Hints::default()
    };
    let http = addr_with("127.0.0.1", "http", &tcp_hints).unwrap();
    assert_eq!(http.first().unwrap().addr().port(), 80);
}

#[test]
fn item1_connect_and_sendto_to_an_out_of_range_port_reach_nothing() {
    bounded(10, || {
        sockloop::run(async {
            // Whatever listens on the port 99999 used to wrap to must not
            // be reached. (Skip that part if the port is taken.)
            let wrapped = tcp().unwrap();
            let listening = wrapped
                .listen(("127.0.0.1", (99999 % 65536) as u16))
                .is_ok();
            let c = tcp().unwrap();
            let e = c.connect(("127.0.0.1", "99999"), clock() + 5.0).await;
            assert_err(e, "invalid_address", "99999");
            assert_eq!(c.remote_addr().unwrap_err().name(), "not_connected");
            assert_eq!(port_of(&c), 0);
            if listening {
                let got = wrapped.accept(clock() + 0.05).await.map(|_| ());
                assert_eq!(got.unwrap_err().name(), "timeout");
            }
            let u = udp().unwrap();
            let e = u.sendto("127.0.0.1:99999", b"x", None).await;
            assert_err(e, "invalid_address", "99999");
            assert_eq!(u.local_addr().unwrap().port(), 0, "sendto bound the socket");
        })
    });
}

#[test]
fn item1_empty_port_and_empty_host_are_rejected() {
    let hints = Hints::default();
    assert_err(
        addr_with("127.0.0.1", "", &hints),
        "invalid_address",
        "port \"\"",
    );
    assert_err(addr("", 80), "invalid_address", "host \"\"");
    let s = tcp().unwrap();
    assert_err(s.bind(("127.0.0.1", "")), "invalid_address", "port \"\"");
    assert_err(s.bind("127.0.0.1:"), "invalid_address", "port \"\"");
    assert_err(s.bind(("", 0)), "invalid_address", "host \"\"");
    assert_err(s.bind(":8080"), "invalid_address", "host \"\"");
    // Strings getaddrinfo would read as a (wrapping) number.
    for p in ["-1", "+80", " 80", "80 ", "8\u{0}0"] {
        assert_err(s.bind(("127.0.0.1", p)), "invalid_address", "port");
    }
    assert_eq!(port_of(&s), 0);
}

// ===== 2. Unix paths =====

fn temp_dir(tag: &str) -> PathBuf {
    let d = temp_path(tag).with_extension("d");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn item2_unix_path_with_nul_is_rejected_not_truncated() {
    let d = temp_dir("nul");
    let bad = d.join("a\0suffix.sock");
    let s = Tcp::new(Family::Unix).unwrap();
    assert_err(s.bind(bad.as_path()), "invalid_address", "NUL");
    assert_err(s.listen(bad.clone()), "invalid_address", "NUL");
    let u = Udp::new(Family::Unix).unwrap();
    assert_err(u.bind(bad.to_str().unwrap()), "invalid_address", "NUL");
    let hints = Hints {
        family: Some(Family::Unix),
        ..Hints::default()
    };
    assert_err(
        addr_with(bad.to_str().unwrap(), 0, &hints),
        "invalid_address",
        "NUL",
    );
    // Nothing was created: neither the truncated path nor anything else.
    assert!(!d.join("a").exists());
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    bounded(10, move || {
        sockloop::run(async move {
            let c = Tcp::new(Family::Unix).unwrap();
            assert_err(
                c.connect(bad.as_path(), clock() + 5.0).await,
                "invalid_address",
                "NUL",
            );
            let u = Udp::new(Family::Unix).unwrap();
            assert_err(
                u.sendto(bad.as_path(), b"x", None).await,
                "invalid_address",
                "NUL",
            );
        })
    });
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn item2_unix_path_longer_than_sun_path_is_rejected() {
    let d = temp_dir("long");
    let long = d.join("x".repeat(120));
    let s = Tcp::new(Family::Unix).unwrap();
    assert_err(s.bind(long.as_path()), "invalid_address", "sun_path");
    let u = Udp::new(Family::Unix).unwrap();
    assert_err(u.bind(long.as_path()), "invalid_address", "sun_path");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    // The longest path that fits still binds.
    let room = 107 - d.as_os_str().len() - 1;
    let fits = d.join("y".repeat(room));
    assert_eq!(fits.as_os_str().len(), 107);
    u.bind(fits.as_path()).unwrap();
    assert_eq!(u.local_addr().unwrap().path(), Some(fits.as_path()));
    drop(u);
    std::fs::remove_dir_all(&d).unwrap();
}

// ===== 3. option values that do not fit =====

/// (option, socket family, values that do not fit its field)
fn misfits() -> Vec<(&'static str, Family, Vec<OptValue>)> {
    use OptValue::{Bool, Duration as D, Int, Str};
    let secs = |s: u64| D(Duration::from_secs(s));
    let big = [
        Int(-1),
        Int(1 << 31),
        Int(1 << 32),
        Int(i64::MAX),
        Int(i64::MIN),
    ];
    let byte = [Int(-1), Int(256), Int(1 << 32), Str("1".into())];
    let flag = [Str("yes".into()), secs(1)];
    let mut t = vec![
        (
            "linger",
            Family::Inet,
            vec![
                secs(1 << 31),
                secs(1 << 32),
                Int(1 << 32),
                Int(-1),
                D(Duration::from_millis(1500)),
                Str("x".into()),
            ],
        ),
        (
            "tcp_keepidle",
            Family::Inet,
            vec![
                secs(1 << 31),
                Int(1 << 40),
                Int(-5),
                D(Duration::from_millis(10)),
            ],
        ),
        (
            "tcp_keepintvl",
            Family::Inet,
            vec![secs(1 << 32), D(Duration::from_nanos(1))],
        ),
        (
            "tcp_user_timeout",
            Family::Inet,
            vec![
                D(Duration::from_millis(1 << 31)),
                D(Duration::from_micros(1500)),
                Bool(true),
            ],
        ),
        (
            "rcvtimeo",
            Family::Inet,
            vec![secs(1 << 31), D(Duration::from_nanos(1500)), Int(-1)],
        ),
        (
            "sndtimeo",
            Family::Inet,
            vec![secs(u64::MAX), Int(i64::MIN)],
        ),
        ("ip_ttl", Family::Inet, vec![Int(0), Int(256), Int(-1)]),
        ("ip_tos", Family::Inet, byte.to_vec()),
        ("ip_multicast_ttl", Family::Inet, byte.to_vec()),
        ("ipv6_unicast_hops", Family::Inet6, byte.to_vec()),
        ("ipv6_multicast_hops", Family::Inet6, byte.to_vec()),
    ];
    for name in ["rcvbuf", "sndbuf", "priority", "tcp_keepcnt", "tcp_maxseg"] {
        t.push((name, Family::Inet, big.to_vec()));
    }
    for &name in BOOLS {
        let fam = if name.starts_with("ipv6_") {
            Family::Inet6
        } else {
            Family::Inet
        };
        t.push((name, fam, flag.to_vec()));
    }
    t
}

#[test]
fn item3_option_values_that_do_not_fit_are_rejected_and_change_nothing() {
    for (name, fam, values) in misfits() {
        // A socket kind the option applies to.
        let multicast = name.contains("multicast");
        let (t, u) = (Tcp::new(fam).unwrap(), Udp::new(fam).unwrap());
        let set = |n: &str, v: OptValue| {
            if multicast {
                u.setopt(n, v)
            } else {
                t.setopt(n, v)
            }
        };
        let get = |n: &str| if multicast { u.getopt(n) } else { t.getopt(n) };
        let before = get(name).unwrap();
        for v in values {
            let shown = format!("{v:?}");
            let e = set(name, v).expect_err(&format!("{name} accepted {shown}"));
            assert_eq!(e.name(), "invalid_option_value", "{name} {shown}: {e}");
            assert!(e.to_string().contains(name), "{e}");
            assert_eq!(get(name).unwrap(), before, "{name} changed by {shown}");
            let e = set(&format!("so_{name}"), OptValue::Str("?".into())).unwrap_err();
            assert_eq!(e.name(), "invalid_option_value");
        }
    }
}

#[test]
fn item3_linger_keeps_its_value_when_a_wrapping_value_is_rejected() {
    let s = tcp().unwrap();
    s.setopt("linger", Duration::from_secs(5)).unwrap();
    for secs in [1u64 << 31, 1 << 32, (1 << 32) + 7] {
        let e = s.setopt("linger", Duration::from_secs(secs)).unwrap_err();
        assert_eq!(e.name(), "invalid_option_value");
        assert!(e.to_string().contains("linger"), "{e}");
    }
    assert_eq!(
        s.getopt("linger").unwrap(),
        OptValue::Duration(Duration::from_secs(5))
    );
    // The largest value the field holds is taken and read back whole.
    let max = Duration::from_secs(i32::MAX as u64);
    s.setopt("linger", max).unwrap();
    assert_eq!(s.getopt("linger").unwrap(), OptValue::Duration(max));
}

#[test]
fn item3_a_value_the_kernel_refuses_is_invalid_option_value_too() {
    let s = tcp().unwrap();
    s.setopt("tcp_keepcnt", 5).unwrap();
    for bad in [0, 1000] {
        let e = s.setopt("tcp_keepcnt", bad).unwrap_err();
        assert_eq!(e.name(), "invalid_option_value", "{e}");
        assert!(e.to_string().contains("tcp_keepcnt"), "{e}");
    }
    assert_eq!(s.getopt("tcp_keepcnt").unwrap(), OptValue::Int(5));
    // Setting a keepalive field must not leave SO_KEEPALIVE turned on.
    assert_eq!(s.getopt("keepalive").unwrap(), OptValue::Bool(false));
    assert!(s.setopt("tcp_keepidle", 1 << 20).is_err());
    assert_eq!(s.getopt("keepalive").unwrap(), OptValue::Bool(false));
}

// ===== 4. rcvlowat, sndlowat, dontroute, priority =====

#[test]
fn item4_lowat_and_dontroute_are_not_supported_with_the_reason() {
    let s = tcp().unwrap();
    for name in ["rcvlowat", "sndlowat", "dontroute", "so_rcvlowat"] {
        for e in [s.setopt(name, 1).unwrap_err(), s.getopt(name).unwrap_err()] {
            assert_eq!(e.name(), "not_supported", "{e}");
            assert_eq!(e.kind(), ErrorKind::NotSupported);
            let msg = e.to_string();
            assert!(msg.contains(name) && msg.contains("safe call"), "{msg}");
        }
    }
}

#[test]
fn item4_priority_sets_and_reads_back() {
    for fam in [Family::Inet, Family::Inet6] {
        let t = Tcp::new(fam).unwrap();
        let u = Udp::new(fam).unwrap();
        for p in [0, 3, 6] {
            t.setopt("priority", p).unwrap();
            assert_eq!(t.getopt("priority").unwrap(), OptValue::Int(p));
            u.setopt("so_priority", p).unwrap();
            assert_eq!(u.getopt("so_priority").unwrap(), OptValue::Int(p));
        }
        // Over 6 needs CAP_NET_ADMIN: set, or refused with a name.
        match t.setopt("priority", 7) {
            Ok(()) => assert_eq!(t.getopt("priority").unwrap(), OptValue::Int(7)),
            Err(e) => assert_eq!(e.name(), "access_denied"),
        }
    }
}

// ===== 5. empty receive buffers =====

#[tokio::test]
async fn item5_tcp_recv_into_an_empty_buffer_is_an_error_not_a_close() {
    local(10, async {
        let (c, s) = tcp_pair().await;
        c.send(b"data", None).await.unwrap();
        let e = s.recv(&mut [], clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
        assert!(e.to_string().contains("empty buffer"), "{e}");
        let mut buf = [0u8; 8];
        let mut got = 0;
        while got < 4 {
            got += s.recv(&mut buf[got..], clock() + 5.0).await.unwrap();
        }
        assert_eq!(&buf[..4], b"data");
    })
    .await;
}

#[tokio::test]
async fn item5_udp_recv_into_an_empty_buffer_keeps_the_datagram() {
    local(10, async {
        let (a, b) = udp_pair();
        let to = a.local_addr().unwrap();
        b.sendto(&to, b"one", None).await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            a.recv(&mut [], clock() + 5.0).await.unwrap_err().name(),
            "invalid_argument"
        );
        let e = a.recvnext(&mut [], clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
        let e = a
            .recvnext_flags(&mut [], clock() + 5.0, sockloop::RecvFlags::PEEK)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
        let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], b.local_addr().unwrap()));
        b.sendto(&to, b"two", None).await.unwrap();
        assert_eq!(
            a.recv(&mut [], clock() + 5.0).await.unwrap_err().name(),
            "invalid_argument"
        );
        assert_eq!(a.recv(&mut buf, clock() + 5.0).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
    })
    .await;
}

// ===== 6. resolver errors carry the resolver's own text =====

/// What glibc's `gai_strerror` says for an unknown service name.
const NO_SERVICE: &str = "Servname not supported for ai_socktype";

#[track_caller]
fn assert_gai<T: std::fmt::Debug>(r: sockloop::Result<T>) {
    let e = r.expect_err("expected a lookup error");
    assert_eq!(e.kind(), ErrorKind::Lookup, "{e}");
    assert_eq!(e.name(), NO_SERVICE, "{e:?}");
}

#[test]
fn item6_lookup_error_names_are_the_gai_strerror_text() {
    let svc = "no-such-service-sockloop";
    assert_gai(addr("127.0.0.1", svc));
    assert_gai(addr_with("127.0.0.1", svc, &Hints::default()));
    let s = tcp().unwrap();
    assert_gai(s.bind(("127.0.0.1", svc)));
    assert_gai(s.listen(("127.0.0.1", svc)));
    assert_eq!(port_of(&s), 0);
    // A name that does not resolve: whatever the resolver says, its text.
    let e = addr("nonexistent.invalid", 80).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Lookup);
    assert!(
        [
            "Name or service not known",
            "Temporary failure in name resolution",
            "No address associated with hostname",
        ]
        .contains(&e.name()),
        "{e:?}"
    );
    bounded(10, move || {
        sockloop::run(async move {
            assert_gai(addr_async("127.0.0.1", svc, &Hints::default()).await);
            assert_gai(
                tcp()
                    .unwrap()
                    .connect(("127.0.0.1", svc), clock() + 5.0)
                    .await,
            );
            assert_gai(udp().unwrap().sendto(("127.0.0.1", svc), b"x", None).await);
            assert_gai(udp().unwrap().connect(("127.0.0.1", svc), None).await);
        })
    });
}

// ===== 7. send(data, i, j) returns what LuaSocket returns =====

#[test]
fn item7_send_range_returns_luasocket_index() {
    bounded(10, || {
        sockloop::run(async {
            let (c, s) = asocket_pair().await;
            // (data, i, j, LuaSocket's result, bytes sent)
            type Case = (&'static [u8], i64, i64, usize, &'static [u8]);
            let cases: [Case; 8] = [
                (b"", 2, 0, 1, b""),
                (b"abc", 9, 12, 8, b""),
                (b"abc", 1, -1, 3, b"abc"),
                (b"abc", -2, -1, 3, b"bc"),
                (b"abc", -10, 1, 1, b"a"),
                (b"abcdef", 3, 4, 4, b"cd"),
                (b"abc", 3, 1, 2, b""),
                (b"abc", 0, 0, 0, b""),
            ];
            let mut want = Vec::new();
            for (data, i, j, ret, sent) in cases {
                assert_eq!(
                    c.send_range(data, i, j).await.unwrap(),
                    ret,
                    "{data:?} {i} {j}"
                );
                want.extend_from_slice(sent);
            }
            assert_eq!(s.receive(want.len()).await.unwrap(), want);
            // On an error the partial count is also i - 1 + bytes sent.
            c.close().unwrap();
            let e = c.send_range(b"abcdef", 3, 5).await.unwrap_err();
            assert_eq!((e.name(), e.partial()), ("closed", Some(2)));
        })
    });
}

#[test]
fn unix_paths_in_hints_and_strings_share_the_check() {
    // A path with a NUL given as a `&Path` and as a string: the same error.
    let p = Path::new("/tmp/x\0y");
    let a = Udp::new(Family::Unix).unwrap().bind(p).unwrap_err();
    let b = Udp::new(Family::Unix)
        .unwrap()
        .bind("/tmp/x\0y")
        .unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
}
