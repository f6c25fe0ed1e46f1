//! Socket options: set then read back, per option, for IPv4 and IPv6.

use std::time::Duration;

use sockloop::{ErrorKind, Family, OptValue, Tcp, Udp};

fn secs(s: u64) -> OptValue {
    OptValue::Duration(Duration::from_secs(s))
}

/// (name, value to set, expected read-back; None = same as set)
fn tcp_table(family: Family) -> Vec<(&'static str, OptValue, Option<OptValue>)> {
    let mut t = vec![
        ("reuseaddr", OptValue::Bool(true), None),
        ("so_reuseaddr", OptValue::Bool(false), None),
        ("reuseport", OptValue::Bool(true), None),
        ("keepalive", OptValue::Bool(true), None),
        ("linger", secs(3), None),
        ("linger", OptValue::Bool(false), None),
        (
            "rcvtimeo",
            OptValue::Duration(Duration::from_millis(1500)),
            None,
        ),
        ("sndtimeo", secs(2), None),
        ("sndtimeo", OptValue::Int(0), Some(secs(0))),
        ("oobinline", OptValue::Bool(true), None),
        ("tcp_nodelay", OptValue::Bool(true), None),
        ("tcp_keepidle", secs(77), None),
        ("tcp_keepintvl", OptValue::Int(9), Some(secs(9))),
        ("tcp_keepcnt", OptValue::Int(5), None),
        ("tcp_quickack", OptValue::Bool(true), None),
        (
            "tcp_user_timeout",
            OptValue::Duration(Duration::from_millis(2500)),
            None,
        ),
    ];
    match family {
        Family::Inet => {
            t.push(("ip_ttl", OptValue::Int(42), None));
            t.push(("ip_tos", OptValue::Int(0x10), None));
        }
        _ => {
            t.push(("ipv6_v6only", OptValue::Bool(true), None));
            t.push(("ipv6_unicast_hops", OptValue::Int(42), None));
        }
    }
    t
}

fn udp_table(family: Family) -> Vec<(&'static str, OptValue, Option<OptValue>)> {
    let mut t = vec![("broadcast", OptValue::Bool(true), None)];
    match family {
        Family::Inet => {
            t.push(("ip_multicast_ttl", OptValue::Int(7), None));
            t.push(("ip_multicast_loop", OptValue::Bool(false), None));
        }
        _ => {
            t.push(("ipv6_multicast_hops", OptValue::Int(7), None));
            t.push(("ipv6_multicast_loop", OptValue::Bool(false), None));
        }
    }
    t
}

#[test]
fn opts_set_then_read_back_v4_v6() {
    for fam in [Family::Inet, Family::Inet6] {
        let s = Tcp::new(fam).unwrap();
        for (name, v, want) in tcp_table(fam) {
            s.setopt(name, v.clone())
                .unwrap_or_else(|e| panic!("{fam} setopt {name}: {e}"));
            let got = s
                .getopt(name)
                .unwrap_or_else(|e| panic!("{fam} getopt {name}: {e}"));
            assert_eq!(got, want.unwrap_or(v), "{fam} {name}");
        }
        let u = Udp::new(fam).unwrap();
        for (name, v, want) in udp_table(fam) {
            u.setopt(name, v.clone())
                .unwrap_or_else(|e| panic!("{fam} setopt {name}: {e}"));
            assert_eq!(u.getopt(name).unwrap(), want.unwrap_or(v), "{fam} {name}");
        }
        // Buffer sizes: the kernel doubles and clamps; it must be at least what was asked.
        s.setopt("rcvbuf", 65536).unwrap();
        assert!(s.getopt("rcvbuf").unwrap().as_int().unwrap() >= 65536);
        s.setopt("sndbuf", 65536u32).unwrap();
        assert!(s.getopt("so_sndbuf").unwrap().as_int().unwrap() >= 65536);
        s.setopt("tcp_maxseg", 1200).unwrap();
        assert!(s.getopt("tcp_maxseg").unwrap().as_int().unwrap() > 0);
        // Read-only ones read.
        assert_eq!(s.getopt("type").unwrap(), OptValue::from("tcp"));
        assert_eq!(s.getopt("error").unwrap(), OptValue::Int(0));
        assert_eq!(s.getopt("acceptconn").unwrap(), OptValue::Bool(false));
    }
}

#[test]
fn opts_errors() {
    let s = Tcp::new(Family::Inet).unwrap();
    assert_eq!(
        s.setopt("nosuch", true).unwrap_err().name(),
        "unknown_option"
    );
    assert_eq!(s.getopt("so_nosuch").unwrap_err().name(), "unknown_option");
    for ro in ["error", "type", "acceptconn", "so_error"] {
        assert_eq!(s.setopt(ro, 1).unwrap_err().name(), "read_only_option");
    }
    assert_eq!(
        s.setopt("tcp_nodelay", "yes").unwrap_err().name(),
        "invalid_option_value"
    );
    assert_eq!(
        s.setopt("rcvbuf", -1).unwrap_err().name(),
        "invalid_option_value"
    );
    let e = s.setopt("rcvlowat", 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert_eq!(e.name(), "not_supported");
    assert!(e.to_string().contains("rcvlowat"), "{e}");
    s.close().unwrap();
    assert_eq!(s.getopt("tcp_nodelay").unwrap_err().name(), "closed");
}
