//! Property tests over the parsers and the LuaSocket arithmetic: port and
//! address strings, IP literals, option names and values, receive
//! patterns, `send(data, i, j)`, and the http-chunked sink/source pair.
//! Case counts are kept small so each test runs in about a second.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sockloop::luasocket::{self, Pattern, Sink, SinkMode, Source};
use sockloop::{addr, ErrorKind, Family, OptValue, Port, Tcp, Udp};
use support::{asocket_pair, bounded, BOOLS, INTS, READ_ONLY, TIMES, UNSUPPORTED};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// A current-thread Tokio runtime for the async parsers.
fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ===== ports and addresses =====

/// The value of a string of decimal digits, `None` past `u128`.
fn digits_value(s: &str) -> Option<u128> {
    s.bytes().try_fold(0u128, |v, b| {
        v.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// A numeric port string maps to itself or fails; never to another port.
    #[test]
    fn numeric_port_maps_to_itself_or_fails(s in "[0-9]{1,24}") {
        let value = digits_value(&s);
        match Port::parse(&s) {
            Ok(Port::Number(n)) => prop_assert_eq!(Some(u128::from(n)), value),
            Ok(other) => prop_assert!(false, "{s:?} parsed as {other:?}"),
            Err(e) => {
                prop_assert!(value.is_none_or(|v| v > 65535), "{s:?} rejected: {e}");
                prop_assert_eq!(e.name(), "invalid_address");
                prop_assert!(e.to_string().contains(&s), "{e}");
            }
        }
        match addr("127.0.0.1", s.as_str()) {
            Ok(ai) => {
                prop_assert!(!ai.is_empty());
                for e in &ai {
                    prop_assert_eq!(Some(u128::from(e.addr().port())), value);
                }
            }
            Err(e) => {
                prop_assert!(value.is_none_or(|v| v > 65535), "{s:?}: {e}");
                prop_assert_eq!(e.name(), "invalid_address");
            }
        }
    }

    /// Any string: a number only if it is all digits, a service name kept
    /// as given, or a named error; never a panic.
    #[test]
    fn any_port_string_parses_or_is_named(s in "\\PC{0,10}|[ +-]?[0-9]{1,6}[ a-z]?") {
        match Port::parse(&s) {
            Ok(Port::Number(n)) => {
                prop_assert!(!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(digits_value(&s), Some(u128::from(n)));
            }
            Ok(Port::Service(name)) => {
                prop_assert_eq!(&name, &s);
                prop_assert!(!s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(!s.starts_with(['+', '-']) && !s.contains(char::is_whitespace));
            }
            Err(e) => prop_assert_eq!(e.name(), "invalid_address"),
        }
    }

    /// IP literals (bare, and IPv6 in brackets) go through unchanged, and
    /// an address's `Display` parses back to it.
    #[test]
    fn ip_literals_round_trip(ip in any::<IpAddr>(), port in any::<u16>()) {
        let mut forms = vec![ip.to_string()];
        if ip.is_ipv6() {
            forms.push(format!("[{ip}]"));
        }
        for host in forms {
            let ai = addr(&host, port).unwrap();
            prop_assert!(!ai.is_empty());
            for e in &ai {
                let sa = e.addr();
                prop_assert_eq!(sa.socket_addr(), Some(SocketAddr::new(ip, port)));
                prop_assert_eq!(sa.to_string().parse::<SocketAddr>().unwrap(), SocketAddr::new(ip, port));
            }
        }
    }
}

/// `"127.0.0.1:<digits>"` binds that port or fails with a name; a bad
/// port never binds another one.
#[test]
fn host_port_strings_bind_the_port_they_name() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let ports = prop_oneof![
        (0u32..65536).prop_map(|p| p.to_string()),
        (65536u64..1 << 40).prop_map(|p| p.to_string()),
        "[0-9]{6,22}",
    ];
    runner
        .run(&ports, |p| {
            let value = digits_value(&p);
            let s = Udp::new(Family::Inet).unwrap();
            match s.bind(format!("127.0.0.1:{p}")) {
                Ok(()) => {
                    let got = u128::from(s.local_addr().unwrap().port());
                    prop_assert!(value == Some(got) || value == Some(0), "{p} bound {got}");
                }
                Err(e) if value.is_none_or(|v| v > 65535) => {
                    prop_assert_eq!(e.name(), "invalid_address");
                    prop_assert_eq!(s.local_addr().unwrap().port(), 0);
                }
                // A port in range may be taken or privileged.
                Err(e) => prop_assert!(
                    ["address_already_in_use", "access_denied"].contains(&e.name()),
                    "{p}: {e}"
                ),
            }
            Ok(())
        })
        .unwrap();
}

// ===== socket options =====

fn known(name: &str) -> Option<&'static str> {
    let n = name.strip_prefix("so_").unwrap_or(name);
    [BOOLS, INTS, TIMES, READ_ONLY, UNSUPPORTED]
        .concat()
        .into_iter()
        .find(|k| *k == n)
}

fn option_name() -> impl Strategy<Value = String> {
    let all: Vec<&'static str> = [BOOLS, INTS, TIMES, READ_ONLY, UNSUPPORTED].concat();
    prop_oneof![
        4 => proptest::sample::select(all.clone()).prop_map(String::from),
        1 => proptest::sample::select(all).prop_map(|n| format!("so_{n}")),
        1 => "[a-z_]{1,12}",
    ]
}

fn option_value() -> impl Strategy<Value = OptValue> {
    prop_oneof![
        any::<bool>().prop_map(OptValue::Bool),
        (-3i64..300).prop_map(OptValue::Int),
        (0i64..200_000).prop_map(OptValue::Int),
        any::<i64>().prop_map(OptValue::Int),
        ((i64::from(i32::MAX) - 2)..(i64::from(i32::MAX) + 3)).prop_map(OptValue::Int),
        (0u64..100_000).prop_map(|ms| OptValue::Duration(Duration::from_millis(ms * 20))),
        (0u64..1 << 34, 0u32..1_000_000_000)
            .prop_map(|(s, n)| OptValue::Duration(Duration::new(s, n))),
        "[a-z0-9]{0,4}".prop_map(OptValue::Str),
    ]
}

/// The sysctl limit of a buffer option, if readable.
fn buffer_max(name: &str) -> Option<i64> {
    let file = if name.ends_with("rcvbuf") {
        "rmem_max"
    } else {
        "wmem_max"
    };
    std::fs::read_to_string(format!("/proc/sys/net/core/{file}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Checks what an option reads back after `v` was set on it.
fn check_read_back(name: &str, v: &OptValue, got: &OptValue) -> Result<(), TestCaseError> {
    let secs = |v: &OptValue| match v {
        OptValue::Int(i) => Some(Duration::from_secs(u64::try_from(*i).unwrap())),
        OptValue::Duration(d) => Some(*d),
        _ => None,
    };
    if BOOLS.contains(&name) {
        prop_assert_eq!(got, &OptValue::Bool(v.as_bool().unwrap()));
    } else if name == "rcvbuf" || name == "sndbuf" {
        // The kernel doubles the value (socket(7)), within its limits.
        let (set, got) = (v.as_int().unwrap(), got.as_int().unwrap());
        match buffer_max(name) {
            Some(max) if (4096..=max).contains(&set) => prop_assert_eq!(got, 2 * set),
            _ => prop_assert!(got > 0),
        }
    } else if INTS.contains(&name) {
        prop_assert_eq!(got, v);
    } else if name == "linger" {
        let want = match v {
            OptValue::Bool(false) => OptValue::Bool(false),
            OptValue::Bool(true) => OptValue::Duration(Duration::ZERO),
            v => OptValue::Duration(secs(v).unwrap()),
        };
        prop_assert_eq!(got, &want);
    } else if name == "rcvtimeo" || name == "sndtimeo" {
        // The kernel keeps it in ticks, rounding up (to at most 10 ms).
        let (set, got) = (secs(v).unwrap(), got.as_duration().unwrap());
        prop_assert!(
            got >= set && got - set <= Duration::from_millis(10),
            "{set:?} -> {got:?}"
        );
    } else {
        prop_assert_eq!(got.as_duration(), secs(v));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Set then get returns what was set (as the kernel keeps it), or the
    /// set fails with a named error and changes nothing.
    #[test]
    fn options_set_then_get(name in option_name(), v in option_value()) {
        let n = name.strip_prefix("so_").unwrap_or(&name);
        let fam = if n.starts_with("ipv6_") { Family::Inet6 } else { Family::Inet };
        // Datagram sockets for the IP-level ones (the kernel keeps ECN
        // bits of a TCP socket's TOS), stream sockets for the rest.
        let udp = n.starts_with("ip");
        let (t, u) = (Tcp::new(fam).unwrap(), Udp::new(fam).unwrap());
        let set = |v: OptValue| if udp { u.setopt(&name, v) } else { t.setopt(&name, v) };
        let get = || if udp { u.getopt(&name) } else { t.getopt(&name) };
        let before = get();
        match (known(&name), set(v.clone())) {
            (None, r) => {
                prop_assert_eq!(r.unwrap_err().kind(), ErrorKind::UnknownOption);
                prop_assert_eq!(before.unwrap_err().kind(), ErrorKind::UnknownOption);
            }
            (Some(k), Ok(())) => {
                prop_assert!(!READ_ONLY.contains(&k) && !UNSUPPORTED.contains(&k));
                // tcp_maxseg 0 means "the route's", read back as the default.
                if !(k == "tcp_maxseg" && v == OptValue::Int(0)) {
                    check_read_back(k, &v, &get().unwrap())?;
                }
            }
            (Some(k), Err(e)) => {
                let want: &[&str] = if READ_ONLY.contains(&k) {
                    &["read_only_option"]
                } else if UNSUPPORTED.contains(&k) {
                    &["not_supported"]
                } else {
                    &["invalid_option_value", "access_denied"]
                };
                prop_assert!(want.contains(&e.name()), "{name} {v:?}: {e}");
                if !UNSUPPORTED.contains(&k) && k != "error" {
                    prop_assert_eq!(get().unwrap(), before.unwrap(), "{} changed", name);
                }
            }
        }
    }
}

// ===== LuaSocket receive patterns =====

/// A receive call: a pattern and a prefix.
fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        Just(Pattern::Line),
        Just(Pattern::All),
        (0usize..40).prop_map(Pattern::Bytes),
        "[*]?[a-z0-9 ]{0,4}".prop_map(|s| Pattern::from(s.as_str())),
    ]
}

/// What LuaSocket returns for one receive on `data[*pos..]`, moving `pos`.
fn receive_model(
    data: &[u8],
    pos: &mut usize,
    p: &Pattern,
    prefix: &[u8],
    max_line: usize,
) -> (Result<Vec<u8>, &'static str>, Vec<u8>) {
    let rest = &data[*pos..];
    let no_cr = |b: &[u8]| {
        b.iter()
            .copied()
            .filter(|&c| c != b'\r')
            .collect::<Vec<u8>>()
    };
    let with = |b: Vec<u8>| [prefix, &b].concat();
    match p {
        Pattern::Invalid(_) => (Err("invalid_argument"), vec![]),
        Pattern::All => {
            *pos = data.len();
            (Ok(with(rest.to_vec())), vec![])
        }
        Pattern::Bytes(n) => {
            let need = n.saturating_sub(prefix.len());
            if rest.len() >= need {
                *pos += need;
                (Ok(with(rest[..need].to_vec())), vec![])
            } else {
                *pos = data.len();
                (Err("closed"), with(rest.to_vec()))
            }
        }
        Pattern::Line => {
            let lf = rest.iter().position(|&c| c == b'\n');
            let body = &rest[..lf.unwrap_or(rest.len())];
            if body.len() > max_line {
                *pos += max_line;
                (Err("line_too_long"), with(no_cr(&body[..max_line])))
            } else if let Some(lf) = lf {
                *pos += lf + 1;
                (Ok(with(no_cr(body))), vec![])
            } else {
                *pos = data.len();
                (Err("closed"), with(no_cr(body)))
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// A sequence of receives over a stream cut in random reads gives what
    /// LuaSocket gives, errors and partial data included.
    #[test]
    fn receive_patterns_follow_luasocket(
        data in vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..120),
        calls in vec((pattern(), vec(any::<u8>(), 0..4)), 1..6),
        cap in 1usize..9,
        max_line in 1usize..40,
    ) {
        let rt = rt();
        let mut reader = tokio::io::BufReader::with_capacity(cap, &data[..]);
        let mut pos = 0;
        for (p, prefix) in calls {
            let (want, want_data) = receive_model(&data, &mut pos, &p, &prefix, max_line);
            let got = rt.block_on(luasocket::receive(&mut reader, p.clone(), &prefix, max_line));
            match (got, want) {
                (Ok(g), Ok(w)) => prop_assert_eq!(g, w, "{}", p),
                (Err(mut e), Err(name)) => {
                    prop_assert_eq!(e.name(), name, "{}", p);
                    prop_assert_eq!(e.take_data().unwrap_or_default(), want_data);
                }
                (g, w) => prop_assert!(false, "{p}: got {g:?}, LuaSocket gives {w:?}"),
            }
        }
    }

    /// Pattern strings: `*l...`/`*a...` by their first two characters, a
    /// decimal count as itself, anything else invalid (named), and the
    /// Lua spelling parses back.
    #[test]
    fn pattern_strings_parse(s in "\\PC{0,6}|[*][la]\\PC{0,3}|[0-9]{1,5}") {
        let p = Pattern::from(s.as_str());
        match &p {
            Pattern::Line => prop_assert!(s.starts_with("*l")),
            Pattern::All => prop_assert!(s.starts_with("*a")),
            Pattern::Bytes(n) => prop_assert_eq!(s.trim().parse::<usize>().ok(), Some(*n)),
            Pattern::Invalid(k) => {
                prop_assert_eq!(k, &s);
                prop_assert_eq!(Pattern::parse(&s).unwrap_err().kind(), ErrorKind::InvalidArgument);
            }
        }
        if !matches!(p, Pattern::Invalid(_)) {
            prop_assert_eq!(Pattern::from(p.to_string().as_str()), p);
        }
    }
}

// ===== send(data, i, j) =====

/// Lua 5.1's `string.sub(s, i, j)`.
fn lua_sub(s: &[u8], i: i64, j: i64) -> Vec<u8> {
    let l = i128::try_from(s.len()).unwrap();
    let posrelat = |p: i64| {
        let p = i128::from(p);
        let p = if p < 0 { p + l + 1 } else { p };
        p.max(0)
    };
    let (start, end) = (posrelat(i).max(1), posrelat(j).min(l));
    if start > end {
        return Vec::new();
    }
    s[usize::try_from(start - 1).unwrap()..usize::try_from(end).unwrap()].to_vec()
}

/// LuaSocket's result: the adjusted `i`, minus one, plus the bytes sent.
fn luasocket_send_result(len: usize, i: i64, sent: usize) -> usize {
    let l = i128::try_from(len).unwrap();
    let start = if i < 0 {
        l + i128::from(i) + 1
    } else {
        i128::from(i)
    };
    usize::try_from(start.max(1) - 1).unwrap() + sent
}

/// `ASocket::send_range` sends Lua's `string.sub(data, i, j)` and returns
/// LuaSocket's value, on a real connection.
#[test]
fn send_range_matches_string_sub_and_luasocket() {
    bounded(60, || {
        let (c, s) = sockloop::run(asocket_pair());
        let (c, s) = (Rc::new(c), Rc::new(s));
        let mut runner = TestRunner::new(Config {
            cases: 128,
            ..Config::default()
        });
        let index = || prop_oneof![4 => -40i64..40, 1 => any::<i64>()];
        let case = (vec(any::<u8>(), 0..32), index(), index());
        runner
            .run(&case, |(data, i, j)| {
                let sub = lua_sub(&data, i, j);
                let want = luasocket_send_result(data.len(), i, sub.len());
                let (c, s, n) = (c.clone(), s.clone(), sub.len());
                let (ret, got) = sockloop::run(async move {
                    let ret = c.send_range(&data, i, j).await.unwrap();
                    let got = if n > 0 {
                        s.receive(n).await.unwrap()
                    } else {
                        Vec::new()
                    };
                    (ret, got)
                });
                prop_assert_eq!(ret, want, "i={} j={}", i, j);
                prop_assert_eq!(got, sub);
                Ok(())
            })
            .unwrap();
    });
}

// ===== http-chunked sink and source =====

proptest! {
    #![proptest_config(config(128))]

    /// Chunks written through an http-chunked sink come back from an
    /// http-chunked source, whatever the read sizes; what follows the
    /// body is left unread.
    #[test]
    fn http_chunked_round_trip(
        chunks in vec(vec(any::<u8>(), 0..300), 0..6),
        after in vec(any::<u8>(), 0..20),
        cap in 1usize..64,
    ) {
        let rt = rt();
        let mut wire = Vec::new();
        rt.block_on(async {
            let mut snk = Sink::new(SinkMode::HttpChunked, &mut wire);
            for c in &chunks {
                snk.write(Some(c)).await.unwrap();
            }
            snk.write(None).await.unwrap();
        });
        wire.extend_from_slice(&after);
        let reader = tokio::io::BufReader::with_capacity(cap, &wire[..]);
        let mut src = Source::http_chunked(reader);
        let body = rt.block_on(async {
            let mut body = Vec::new();
            while let Some(c) = src.read().await.unwrap() {
                prop_assert!(!c.is_empty());
                body.extend_from_slice(&c);
            }
            Ok(body)
        })?;
        prop_assert_eq!(body, chunks.concat());
        let mut rest = src.read_buffer().to_vec();
        let mut reader = src.into_inner().unwrap();
        rt.block_on(tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut rest)).unwrap();
        prop_assert_eq!(rest, after);
    }
}
