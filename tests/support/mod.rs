//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod copas;
#[cfg(feature = "tls")]
pub mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a fresh OS thread (so it gets a fresh sockloop loop) and
/// fails the test if it does not finish within `secs` seconds. A panic in
/// `f` fails the test with `f`'s message.
pub fn bounded<T, F>(secs: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
    }
}

/// A shared log of events, to assert the order threads ran in.
#[derive(Clone, Default)]
pub struct Log(std::rc::Rc<std::cell::RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Runs `fut` on a `LocalSet` with a time bound.
pub async fn local<F: Future>(secs: u64, fut: F) -> F::Output {
    let set = tokio::task::LocalSet::new();
    match tokio::time::timeout(Duration::from_secs(secs), set.run_until(fut)).await {
        Ok(v) => v,
        Err(_) => panic!("test took more than {secs} s"),
    }
}

/// A unique path in the temp dir (removed first if it exists).
pub fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("sockloop-{}-{tag}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// 64-bit FNV-1a, continued from `h`.
pub fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

pub const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

/// Deterministic test bytes for position `pos`.
pub fn pattern(seed: u8, pos: usize, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = (pos + i) as u64;
        *b = (x.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed;
    }
}

/// A connected pair of socketloop `ASocket`s on loopback: (client, server
/// side). Needs a running loop.
pub async fn asocket_pair() -> (sockloop::socketloop::ASocket, sockloop::socketloop::ASocket) {
    use sockloop::socketloop;
    let l = sockloop::tcp().unwrap();
    l.listen(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let c = socketloop::connect("127.0.0.1", port, None, None)
        .await
        .unwrap();
    let s = socketloop::wrap(l.accept(sockloop::clock() + 5.0).await.unwrap());
    (c, s)
}

/// Two UDP sockets bound to 127.0.0.1 (any port).
pub fn udp_pair() -> (sockloop::Udp, sockloop::Udp) {
    let bound = || {
        let s = sockloop::udp().unwrap();
        s.bind(("127.0.0.1", 0)).unwrap();
        s
    };
    (bound(), bound())
}

/// A connected TCP pair on 127.0.0.1: (client, accepted side). Needs a
/// Tokio runtime.
pub async fn tcp_pair() -> (sockloop::Tcp, sockloop::Tcp) {
    let deadline = sockloop::clock() + 5.0;
    let l = sockloop::tcp().unwrap();
    l.listen(("127.0.0.1", 0)).unwrap();
    let c = sockloop::tcp().unwrap();
    c.connect(&l.local_addr().unwrap(), deadline).await.unwrap();
    let s = l.accept(deadline).await.unwrap();
    (c, s)
}

// The socket option names by value type (sockloop's table in src/opt.rs).

/// Flags.
pub const BOOLS: &[&str] = &[
    "reuseaddr",
    "reuseport",
    "keepalive",
    "broadcast",
    "oobinline",
    "tcp_nodelay",
    "tcp_quickack",
    "ip_multicast_loop",
    "ipv6_v6only",
    "ipv6_multicast_loop",
];
/// Integers.
pub const INTS: &[&str] = &[
    "ip_ttl",
    "ip_tos",
    "ip_multicast_ttl",
    "ipv6_unicast_hops",
    "ipv6_multicast_hops",
    "priority",
    "tcp_keepcnt",
    "tcp_maxseg",
    "rcvbuf",
    "sndbuf",
];
/// Times.
pub const TIMES: &[&str] = &[
    "linger",
    "tcp_keepidle",
    "tcp_keepintvl",
    "tcp_user_timeout",
    "rcvtimeo",
    "sndtimeo",
];
/// Read-only.
pub const READ_ONLY: &[&str] = &["error", "type", "acceptconn"];
/// Known, without a safe call.
pub const UNSUPPORTED: &[&str] = &["rcvlowat", "sndlowat", "dontroute"];
