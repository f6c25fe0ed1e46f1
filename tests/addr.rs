//! Address lookup: literals, "*", hints, service names, ToAddr, errors.

use std::net::{IpAddr, SocketAddr};

use sockloop::{
    addr, addr_with, ErrorKind, Family, Hints, IpAddrExt, Protocol, SockAddr, SockType,
};

#[test]
fn addr_literal_all_types() {
    let ai = addr("127.0.0.1", 8080).unwrap();
    let types: Vec<SockType> = ai.iter().map(|e| e.socktype()).collect();
    assert_eq!(types, [SockType::Tcp, SockType::Udp, SockType::Raw]);
    for e in &ai {
        assert_eq!(e.family(), Family::Inet);
        assert_eq!(e.addr().port(), 8080);
        assert_eq!(e.to_string(), "127.0.0.1:8080");
    }
    assert_eq!(ai.iter().next().unwrap().protocol(), Protocol::Tcp);
}

#[test]
fn addr_ipv6_display_and_brackets() {
    let ai = addr("[::1]", 53).unwrap();
    let sa = ai.first().unwrap().addr();
    assert_eq!(sa.family(), Family::Inet6);
    assert_eq!(sa.to_string(), "[::1]:53");
    assert_eq!(sa.ip(), "::1".parse::<IpAddr>().unwrap());
}

#[test]
fn addr_star_is_any_with_hints() {
    let h = Hints {
        socktype: Some(SockType::Tcp),
        family: Some(Family::Inet6),
        ..Hints::default()
    };
    let ai = addr_with("*", 0, &h).unwrap();
    assert_eq!(ai.len(), 1);
    assert_eq!(ai.first().unwrap().to_string(), "[::]:0");
}

#[test]
fn addr_names_and_services() {
    let h = Hints {
        socktype: Some(SockType::Tcp),
        family: Some(Family::Inet),
        ..Hints::default()
    };
    let ai = addr_with("localhost", "http", &h).unwrap();
    assert!(
        ai.iter().any(|e| e.addr().to_string() == "127.0.0.1:80"),
        "{ai}"
    );
    let ai = addr_with("127.0.0.1", "https", &h).unwrap();
    assert_eq!(ai.first().unwrap().addr().port(), 443);
    let mut hc = h;
    hc.flags.canonname = true;
    let ai = addr_with("localhost", 1, &hc).unwrap();
    assert!(ai.first().unwrap().name().is_some());
}

#[test]
fn addr_errors() {
    let e = addr("127.0.0.1", "no-such-service-sockloop").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Lookup);
    assert!(!e.name().is_empty());
    let e = addr("bad host", 80).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidAddress);
    assert!(e.to_string().contains("bad host"), "{e}");
    let e = addr("[::1", 80).unwrap_err();
    assert_eq!(e.name(), "invalid_address");
    let h = Hints {
        flags: sockloop::Flags {
            numerichost: true,
            ..Default::default()
        },
        ..Hints::default()
    };
    assert_eq!(
        addr_with("localhost", 80, &h).unwrap_err().name(),
        "invalid_address"
    );
}

#[test]
fn addr_enums_and_tobinary() {
    for n in ["tcp", "udp", "raw"] {
        assert_eq!(n.parse::<SockType>().unwrap().to_string(), n);
    }
    for n in ["inet", "inet6", "unix"] {
        assert_eq!(n.parse::<Family>().unwrap().to_string(), n);
    }
    for n in ["ip", "ipv6", "tcp", "udp", "raw", "icmp", "igmp", "icmpv6"] {
        let p = n.parse::<Protocol>().unwrap();
        assert_eq!(p.to_string(), n);
        assert_eq!(Protocol::from_number(p.number()), Some(p));
    }
    assert_eq!(
        "bogus".parse::<Family>().unwrap_err().name(),
        "invalid_argument"
    );
    let v6: IpAddr = "::1".parse().unwrap();
    let (b, n) = v6.tobinary();
    assert_eq!(n, 16);
    assert_eq!(b[15], 1);
    let sa = SockAddr::from("10.0.0.1:5".parse::<SocketAddr>().unwrap());
    assert_eq!(sa.ip().tobinary().1, 4);
}

#[tokio::test]
async fn addr_async_lookup() {
    let h = Hints {
        family: Some(Family::Inet),
        socktype: Some(SockType::Udp),
        ..Hints::default()
    };
    let ai = sockloop::addr_async("localhost", 9, &h).await.unwrap();
    assert_eq!(ai.first().unwrap().socktype(), SockType::Udp);
    let ai = sockloop::addr_async("127.0.0.1", 9, &h).await.unwrap();
    assert_eq!(ai.len(), 1);
}

#[test]
fn addr_toaddr_forms_bind() {
    let s = sockloop::tcp().unwrap();
    s.bind("127.0.0.1:0").unwrap();
    let a = s.local_addr().unwrap();
    let t = sockloop::tcp().unwrap();
    t.bind((IpAddr::from([127, 0, 0, 1]), 0)).unwrap();
    let u = sockloop::tcp().unwrap();
    u.bind(("127.0.0.1", "0")).unwrap();
    let ai = addr("127.0.0.1", 0).unwrap();
    let v = sockloop::tcp().unwrap();
    v.bind(&ai).unwrap();
    assert_ne!(a.port(), 0);
    let e = sockloop::tcp().unwrap().bind("not an address").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidAddress);
    assert!(e.to_string().contains("not an address"));
    let e = sockloop::tcp().unwrap().bind(("::1", 0)).unwrap_err();
    assert_eq!(e.name(), "invalid_address", "{e}");
}
