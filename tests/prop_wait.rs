//! Property tests of the wait path: random sequences of `send`, `recv`,
//! `recvn`, `recvall`, `shutdown`, `close`, concurrent transfers and
//! cancels, with random deadlines (none, already passed, now, soon), on
//! Unix-domain socket pairs and loopback TCP pairs, each call made from a
//! sockloop thread.
//!
//! Checked for every call: no panic; it returns no later than its deadline
//! (or its cancel) + 100 ms; the bytes received are exactly the next bytes
//! of what the other side sent (never reordered, duplicated or invented;
//! `partial()` and `take_data()` count on errors); the error names are the
//! ones the state allows; and a call whose answer is already in the kernel
//! (queued data, a pending end of stream or error, room to write) returns
//! it even when its deadline has passed. At the end every byte sent is
//! received exactly once.
//!
//! "Already in the kernel" is decided without touching the socket's
//! readiness: `FIONREAD` on the receiver must show every byte in flight
//! (and `poll(2)` a pending hang-up where one is expected). Where the
//! kernel has not settled (a full TCP window), only the weaker checks
//! apply.

use std::future::Future;
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sockloop::{clock, tcp, Error, Tcp};

mod support;
use support::bounded;

/// How late a call may return after its deadline or its cancel.
const SLACK: f64 = 0.1;
/// A call with no deadline and no cancel is cancelled after this long
/// (else a call that rightly waits forever would hang the test).
const FORCED_CANCEL_MS: u16 = 30;

// ===== the generated program =====

/// A deadline, as sock.lua's `expires` made just before the call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dl {
    /// No deadline.
    None,
    /// Passed this many milliseconds ago.
    Past(u16),
    /// `clock()` itself.
    Now,
    /// This many milliseconds from now.
    In(u16),
}

impl Dl {
    fn expires(self) -> Option<f64> {
        match self {
            Dl::None => None,
            Dl::Past(ms) => Some(clock() - f64::from(ms) / 1000.0),
            Dl::Now => Some(clock()),
            Dl::In(ms) => Some(clock() + f64::from(ms) / 1000.0),
        }
    }

    /// Seconds from the call to the deadline (0 for a passed one).
    fn rel(self) -> Option<f64> {
        match self {
            Dl::None => None,
            Dl::Past(_) | Dl::Now => Some(0.0),
            Dl::In(ms) => Some(f64::from(ms) / 1000.0),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Send {
        side: usize,
        len: usize,
        dl: Dl,
    },
    Recv {
        side: usize,
        max: usize,
        dl: Dl,
    },
    Recvn {
        side: usize,
        len: usize,
        dl: Dl,
    },
    Recvall {
        side: usize,
        dl: Dl,
    },
    Shutdown {
        side: usize,
        how: Shutdown,
    },
    Close {
        side: usize,
    },
    /// `from` sends `len` bytes while the other side `recvn`s `len`, at once.
    Pump {
        from: usize,
        len: usize,
        dl: Dl,
    },
}

#[derive(Clone, Copy, Debug)]
struct Step {
    op: Op,
    /// `Thread::cancel()` this many milliseconds after the call starts.
    cancel_ms: Option<u16>,
}

fn dl() -> impl Strategy<Value = Dl> {
    prop_oneof![
        2 => Just(Dl::None),
        2 => (1u16..500).prop_map(Dl::Past),
        1 => Just(Dl::Now),
        4 => (0u16..=60).prop_map(Dl::In),
    ]
}

fn side() -> impl Strategy<Value = usize> {
    0usize..2
}

fn op() -> impl Strategy<Value = Op> {
    let send_len = prop_oneof![
        Just(0usize),
        1usize..100,
        100usize..5000,
        5000usize..300_000
    ];
    let how = prop_oneof![
        Just(Shutdown::Read),
        Just(Shutdown::Write),
        Just(Shutdown::Both)
    ];
    prop_oneof![
        5 => (side(), send_len, dl()).prop_map(|(side, len, dl)| Op::Send { side, len, dl }),
        4 => (side(), 1usize..=8192, dl()).prop_map(|(side, max, dl)| Op::Recv { side, max, dl }),
        3 => (side(), 1usize..=20_000, dl()).prop_map(|(side, len, dl)| Op::Recvn { side, len, dl }),
        2 => (side(), dl()).prop_map(|(side, dl)| Op::Recvall { side, dl }),
        1 => (side(), how).prop_map(|(side, how)| Op::Shutdown { side, how }),
        1 => side().prop_map(|side| Op::Close { side }),
        2 => (side(), 16_384usize..=1 << 20, dl()).prop_map(|(from, len, dl)| Op::Pump { from, len, dl }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (op(), proptest::option::weighted(0.25, 0u16..=40))
        .prop_map(|(op, cancel_ms)| Step { op, cancel_ms });
    proptest::collection::vec(step, 1..=20)
}

// ===== the byte streams =====

/// The byte at position `pos` of the stream side `dir` sends: a hash of
/// the position, so a repeated or moved run of bytes does not match.
fn stream(dir: usize, pos: usize, len: usize) -> Vec<u8> {
    let seed = [0x9E37_79B9_7F4A_7C15u64, 0xC2B2_AE3D_27D4_EB4F][dir];
    (pos..pos + len)
        .map(|x| {
            let mut z = (x as u64 / 8) ^ seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> (8 * (x % 8))) as u8
        })
        .collect()
}

// ===== the model =====

/// What the two sockets have been through. Side `s` sends to side `1 - s`.
#[derive(Debug, Default)]
struct Model {
    unix: bool,
    closed: [bool; 2],
    shut_rd: [bool; 2],
    shut_wr: [bool; 2],
    /// Bytes side `s` has written (the `Ok` sends and the `partial()` of
    /// failed ones).
    sent: [usize; 2],
    /// Bytes side `s` has received.
    recvd: [usize; 2],
    /// Side `s` may get a reset: the peer closed with bytes unread, or
    /// (TCP) side `s` sent to a closed peer.
    rst: [bool; 2],
}

impl Model {
    /// Bytes sent to side `s` and not yet received by it.
    fn queued(&self, s: usize) -> usize {
        self.sent[1 - s] - self.recvd[s]
    }

    /// Side `s` may see the end of the stream.
    fn eof(&self, s: usize) -> bool {
        self.shut_rd[s] || self.shut_wr[1 - s] || self.closed[1 - s]
    }

    /// (TCP) side `s`'s connection may be fully closed in the kernel
    /// (`TCP_CLOSE`): the peer closed or reset it, or both sides sent FIN.
    fn tcp_gone(&self, s: usize) -> bool {
        self.closed[1 - s] || self.rst[s] || (self.shut_wr[s] && self.shut_wr[1 - s])
    }

    fn disturbed(&self) -> bool {
        (0..2).any(|s| self.closed[s] || self.shut_rd[s] || self.shut_wr[s] || self.rst[s])
    }
}

/// Has the kernel settled for receiver `s`: are all `queued` bytes in its
/// receive queue (`FIONREAD`), and, if `hup`, an end of stream or error
/// pending (`poll(2)`)? Neither call touches Tokio's readiness. Waits up
/// to 100 ms for it.
async fn settled(sock: &Tcp, queued: usize, hup: bool) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    for _ in 0..100 {
        let ok = sock.with_socket(|s| {
            let inq = rustix::io::ioctl_fionread(s).ok();
            let want = PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR;
            let mut fds = [PollFd::new(s, want)];
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let hung = rustix::event::poll(&mut fds, Some(&zero)).is_ok()
                && fds[0].revents().intersects(want);
            inq == Some(queued as u64) && (!hup || hung)
        });
        match ok {
            Ok(true) => return true,
            Ok(false) => sockloop::sleep(0.001).await,
            Err(_) => return false,
        }
    }
    false
}

// ===== running a call =====

/// A call's result and how long it took (measured in its thread).
type Timed<T> = (T, Duration);

/// Runs `call` (given its `expires`) in a new sockloop thread, cancels the
/// thread after `cancel` seconds if it has not returned, and waits for it
/// (failing the test if it has not returned 3 s after that).
async fn in_thread<T, F, Fut>(dl: Dl, cancel: Option<f64>, call: F) -> Timed<T>
where
    T: 'static,
    F: FnOnce(Option<f64>) -> Fut + 'static,
    Fut: Future<Output = T> + 'static,
{
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let t = sockloop::thread(async move {
        let expires = dl.expires();
        let t0 = Instant::now();
        let r = call(expires).await;
        let _ = tx.send((r, t0.elapsed()));
    });
    if let Some(c) = cancel {
        if let Ok(r) = tokio::time::timeout(Duration::from_secs_f64(c), &mut rx).await {
            return r.expect("the call's thread died");
        }
        if !t.is_finished() {
            t.cancel();
        }
    }
    match tokio::time::timeout(Duration::from_secs(3), rx).await {
        Ok(r) => r.expect("the call's thread died"),
        Err(_) => panic!("the call did not return 3 s after its deadline or cancel"),
    }
}

/// The names a call that had to wait may end with.
fn wait_names(dl: Dl, cancel: Option<f64>) -> Vec<&'static str> {
    let mut v = Vec::new();
    if dl != Dl::None {
        v.push("timeout");
    }
    if cancel.is_some() {
        v.push("cancelled");
    }
    v
}

struct Case {
    socks: [Rc<Tcp>; 2],
    m: Model,
    /// For failure messages.
    log: Vec<String>,
}

impl Case {
    fn fail(&self, what: String) -> ! {
        panic!(
            "{what}\nmodel: {:?}\nsteps so far:\n  {}",
            self.m,
            self.log.join("\n  ")
        );
    }

    fn check_time(&self, took: Duration, dl: Dl, cancel: Option<f64>) {
        let bound = match (dl.rel(), cancel) {
            (Some(d), Some(c)) => d.min(c),
            (Some(d), None) => d,
            (None, Some(c)) => c,
            (None, None) => unreachable!("every call has a deadline or a cancel"),
        };
        if took.as_secs_f64() > bound + SLACK {
            self.fail(format!(
                "returned after {took:?}, its deadline/cancel was {bound:.3} s (+{SLACK} s allowed)"
            ));
        }
    }

    /// Checks `got` is the next part of what side `1 - s` sent to side `s`
    /// and counts it as received.
    fn take(&mut self, s: usize, got: &[u8]) {
        let q = self.m.queued(s);
        if got.len() > q {
            self.fail(format!(
                "side {s} received {} bytes, only {q} were sent and not yet received",
                got.len()
            ));
        }
        if got != stream(1 - s, self.m.recvd[s], got.len()) {
            self.fail(format!(
                "side {s} received {} bytes at stream offset {} that differ from what was sent \
                 (reordered, duplicated or corrupted)",
                got.len(),
                self.m.recvd[s]
            ));
        }
        self.m.recvd[s] += got.len();
    }

    /// A reset as a receive reports it: `connection_reset`, or on TCP
    /// `broken_pipe` (Linux's error for a reset in `CLOSE_WAIT`).
    fn reset_name(&self, e: &Error) -> bool {
        e.name() == "connection_reset" || !self.m.unix && e.name() == "broken_pipe"
    }

    fn expect_name(&self, e: &Error, allowed: &[&str], what: &str) {
        if !allowed.contains(&e.name()) {
            self.fail(format!("{what}: error {e:?}, allowed here: {allowed:?}"));
        }
    }

    async fn step(&mut self, st: Step) {
        let cancel = st
            .cancel_ms
            .or(match st.op {
                Op::Send { dl: Dl::None, .. }
                | Op::Recv { dl: Dl::None, .. }
                | Op::Recvn { dl: Dl::None, .. }
                | Op::Recvall { dl: Dl::None, .. } => Some(FORCED_CANCEL_MS),
                _ => None,
            })
            .map(|ms| f64::from(ms) / 1000.0);
        self.log.push(format!("{:?} cancel {cancel:?}", st.op));
        match st.op {
            Op::Send { side, len, dl } => self.send(side, len, dl, cancel).await,
            Op::Recv { side, max, dl } => self.recv(side, max, dl, cancel).await,
            Op::Recvn { side, len, dl } => self.recvn(side, len, dl, cancel).await,
            Op::Recvall { side, dl } => self.recvall(side, dl, cancel).await,
            Op::Shutdown { side, how } => self.shutdown(side, how),
            Op::Close { side } => self.close(side),
            Op::Pump { from, len, dl } => self.pump(from, len, dl, cancel).await,
        }
    }

    async fn send(&mut self, s: usize, len: usize, dl: Dl, cancel: Option<f64>) {
        let p = 1 - s;
        let unix = self.m.unix;
        // Is the peer's receive queue what the model says (nothing in flight)?
        let calm = !self.m.closed[p] && settled(&self.socks[p], self.m.queued(p), false).await;
        let data = stream(s, self.m.sent[s], len);
        let sock = self.socks[s].clone();
        let (r, took) = in_thread(
            dl,
            cancel,
            move |exp| async move { sock.send(&data, exp).await },
        )
        .await;
        let m = &self.m;
        let (closed, shut, dead_peer) = (m.closed[s], m.shut_wr[s], m.closed[p] || m.rst[s]);
        let unix_pipe = unix && (m.closed[p] || m.shut_rd[p]);
        match r {
            Ok(()) => {
                if len > 0 && (closed || shut || unix_pipe) {
                    self.fail(format!(
                        "send of {len} succeeded on a socket that cannot send"
                    ));
                }
                if closed {
                    self.fail("a zero-length send succeeded on a closed socket".into());
                }
                self.m.sent[s] += len;
            }
            Err(e) => {
                let Some(k) = e.partial() else {
                    self.fail(format!("send error without partial(): {e:?}"));
                };
                if k >= len && len > 0 {
                    self.fail(format!("send failed after writing all {len} bytes: {e:?}"));
                }
                if closed {
                    self.expect_name(&e, &["closed"], "send on a closed socket");
                } else if len == 0 {
                    self.fail(format!("a zero-length send failed: {e:?}"));
                } else if shut || unix_pipe {
                    // A pending TCP reset is reported before the shutdown.
                    let ok: &[&str] = if !unix && self.m.rst[s] {
                        &["broken_pipe", "connection_reset"]
                    } else {
                        &["broken_pipe"]
                    };
                    self.expect_name(&e, ok, "send after a shutdown");
                } else if dead_peer && !unix {
                    let mut ok = vec!["connection_reset", "broken_pipe"];
                    ok.extend(wait_names(dl, cancel));
                    self.expect_name(&e, &ok, "send to a closed TCP peer");
                } else {
                    self.expect_name(&e, &wait_names(dl, cancel), "send");
                    // Room to write is used even past the deadline.
                    if calm && self.m.queued(p) + len <= 4096 {
                        self.fail(format!(
                            "send of {len} with {} bytes queued at the peer failed: {e:?}",
                            self.m.queued(p)
                        ));
                    }
                    if calm && self.m.queued(p) == 0 && k < len.min(4096) {
                        self.fail(format!(
                            "send into an empty connection wrote only {k} of {len} bytes: {e:?}"
                        ));
                    }
                }
                if k > 0 && (closed || shut || unix_pipe) {
                    self.fail(format!(
                        "send wrote {k} bytes on a socket that cannot send: {e:?}"
                    ));
                }
                self.m.sent[s] += k;
            }
        }
        if !unix && len > 0 && self.m.closed[p] {
            // A TCP peer that is gone answers data with a reset.
            self.m.rst[s] = true;
        }
        if !unix && len > 0 && self.m.shut_rd[p] && self.m.shut_wr[p] {
            // Data for a TCP socket that shut down both ways (FIN_WAIT with
            // its receive side shut) resets the connection on both sides.
            self.m.rst = [true, true];
        }
        self.check_time(took, dl, cancel);
    }

    /// For a receive on side `s`: the bytes queued for it, whether an end
    /// of stream or a reset may be pending, and whether the kernel shows
    /// exactly that (see [`settled`]).
    async fn before_receive(&self, s: usize) -> (usize, bool, bool) {
        let q = self.m.queued(s);
        let hup = self.m.eof(s) || self.m.rst[s];
        let calm = !self.m.closed[s] && settled(&self.socks[s], q, hup).await;
        (q, hup, calm)
    }

    async fn recv(&mut self, s: usize, max: usize, dl: Dl, cancel: Option<f64>) {
        let (q, hup, calm) = self.before_receive(s).await;
        let sock = self.socks[s].clone();
        let ((r, buf), took) = in_thread(dl, cancel, move |exp| async move {
            let mut buf = vec![0u8; max];
            let r = sock.recv(&mut buf, exp).await;
            (r, buf)
        })
        .await;
        match r {
            Ok(0) => {
                if self.m.closed[s] || !self.m.eof(s) || (calm && q > 0) {
                    self.fail(format!(
                        "recv returned 0 (end of stream) with {q} bytes queued"
                    ));
                }
            }
            Ok(n) => self.take(s, &buf[..n]),
            Err(e) => {
                if self.m.closed[s] {
                    self.expect_name(&e, &["closed"], "recv on a closed socket");
                } else if self.reset_name(&e) {
                    if !self.m.rst[s] {
                        self.fail(format!("recv: unexpected reset {e:?}"));
                    }
                } else {
                    self.expect_name(&e, &wait_names(dl, cancel), "recv");
                    if calm && (q > 0 || hup) {
                        self.fail(format!(
                            "recv answered {e:?} although {q} bytes were queued in the kernel \
                             (end of stream or reset pending: {hup})"
                        ));
                    }
                }
            }
        }
        self.check_time(took, dl, cancel);
    }

    async fn recvn(&mut self, s: usize, len: usize, dl: Dl, cancel: Option<f64>) {
        let (q, hup, calm) = self.before_receive(s).await;
        let sock = self.socks[s].clone();
        let ((r, buf), took) = in_thread(dl, cancel, move |exp| async move {
            let mut buf = vec![0u8; len];
            let r = sock.recvn(&mut buf, exp).await;
            (r, buf)
        })
        .await;
        match r {
            Ok(n) => {
                if n != len {
                    self.fail(format!("recvn of {len} returned Ok({n})"));
                }
                self.take(s, &buf);
            }
            Err(e) => {
                let Some(k) = e.partial() else {
                    self.fail(format!("recvn error without partial(): {e:?}"));
                };
                if k >= len {
                    self.fail(format!("recvn of {len} failed with partial {k}: {e:?}"));
                }
                self.take(s, &buf[..k]);
                let (name, closed, rst, eof) =
                    (e.name(), self.m.closed[s], self.m.rst[s], self.m.eof(s));
                if closed {
                    self.expect_name(&e, &["closed"], "recvn on a closed socket");
                } else if name == "eof" && !eof || self.reset_name(&e) && !rst {
                    self.fail(format!("recvn: unexpected {e:?}"));
                } else if name != "eof" && !self.reset_name(&e) {
                    self.expect_name(&e, &wait_names(dl, cancel), "recvn");
                    if calm && hup {
                        self.fail(format!(
                            "recvn answered {e:?} with an end of stream pending"
                        ));
                    }
                }
                if calm && q >= len {
                    self.fail(format!(
                        "recvn of {len} failed with {q} bytes queued: {e:?}"
                    ));
                }
                if calm && !closed && k != q {
                    self.fail(format!(
                        "recvn took {k} bytes before {e:?}, {q} were queued in the kernel"
                    ));
                }
            }
        }
        self.check_time(took, dl, cancel);
    }

    async fn recvall(&mut self, s: usize, dl: Dl, cancel: Option<f64>) {
        let (q, hup, calm) = self.before_receive(s).await;
        let sock = self.socks[s].clone();
        let (r, took) = in_thread(
            dl,
            cancel,
            move |exp| async move { sock.recvall(exp).await },
        )
        .await;
        match r {
            Ok(data) => {
                if self.m.closed[s] || !self.m.eof(s) {
                    self.fail(format!(
                        "recvall returned Ok({} bytes) with no end of stream",
                        data.len()
                    ));
                }
                if calm && data.len() != q {
                    self.fail(format!(
                        "recvall returned {} bytes, {q} were queued",
                        data.len()
                    ));
                }
                self.take(s, &data);
            }
            Err(mut e) => {
                let data = e.take_data().unwrap_or_default();
                if e.partial() != Some(data.len()) {
                    self.fail(format!(
                        "recvall error's partial() is not the length of its data ({}): {e:?}",
                        data.len()
                    ));
                }
                self.take(s, &data);
                if self.m.closed[s] {
                    self.expect_name(&e, &["closed"], "recvall on a closed socket");
                } else if self.reset_name(&e) {
                    if !self.m.rst[s] {
                        self.fail(format!("recvall: unexpected reset {e:?}"));
                    }
                } else {
                    self.expect_name(&e, &wait_names(dl, cancel), "recvall");
                    if calm && hup {
                        self.fail(format!(
                            "recvall answered {e:?} with an end of stream pending"
                        ));
                    }
                    if calm && data.len() != q {
                        self.fail(format!(
                            "recvall kept {} bytes before {e:?}, {q} were queued in the kernel",
                            data.len()
                        ));
                    }
                }
            }
        }
        self.check_time(took, dl, cancel);
    }

    fn shutdown(&mut self, s: usize, how: Shutdown) {
        let t0 = Instant::now();
        let r = self.socks[s].shutdown(how);
        if t0.elapsed() > Duration::from_secs_f64(SLACK) {
            self.fail(format!("shutdown blocked for {:?}", t0.elapsed()));
        }
        match r {
            Ok(()) => {
                if self.m.closed[s] {
                    self.fail("shutdown of a closed socket succeeded".into());
                }
                let (rd, wr) = match how {
                    Shutdown::Read => (true, false),
                    Shutdown::Write => (false, true),
                    Shutdown::Both => (true, true),
                };
                self.m.shut_rd[s] |= rd;
                self.m.shut_wr[s] |= wr;
                if !self.m.unix && self.m.shut_rd[s] && self.m.shut_wr[s] && self.m.queued(s) > 0 {
                    // Bytes still in flight to it will reset the connection.
                    self.m.rst = [true, true];
                }
            }
            Err(e) => {
                if self.m.closed[s] {
                    self.expect_name(&e, &["closed"], "shutdown of a closed socket");
                } else if !self.m.unix && self.m.tcp_gone(s) {
                    self.expect_name(&e, &["not_connected"], "shutdown after the peer closed");
                } else {
                    self.fail(format!("shutdown failed: {e:?}"));
                }
            }
        }
    }

    fn close(&mut self, s: usize) {
        let r = self.socks[s].close();
        if self.m.closed[s] {
            match r {
                Err(e) => self.expect_name(&e, &["closed"], "second close"),
                Ok(()) => self.fail("a second close succeeded".into()),
            }
            return;
        }
        if let Err(e) = r {
            self.fail(format!("close failed: {e:?}"));
        }
        self.m.closed[s] = true;
        if self.m.queued(s) > 0 {
            // Closing with bytes unread resets the connection.
            self.m.rst[1 - s] = true;
        }
    }

    async fn pump(&mut self, from: usize, len: usize, dl: Dl, cancel: Option<f64>) {
        if self.m.disturbed() {
            self.log.push("(skipped: the pair is not intact)".into());
            return;
        }
        let to = 1 - from;
        // With no deadline and no cancel both must finish; a safety cancel
        // turns a hang into a failure.
        let (cancel, must_finish) = match (dl, cancel) {
            (Dl::None, None) => (Some(2.0), true),
            (_, c) => (c, false),
        };
        let data = stream(from, self.m.sent[from], len);
        // The receiver takes what was queued before too, so that the
        // sender always has room to finish.
        let want = self.m.queued(to) + len;
        let (tx, rx) = (self.socks[from].clone(), self.socks[to].clone());
        let sender = in_thread(
            dl,
            cancel,
            move |exp| async move { tx.send(&data, exp).await },
        );
        let receiver = in_thread(dl, cancel, move |exp| async move {
            let mut buf = vec![0u8; want];
            let r = rx.recvn(&mut buf, exp).await;
            (r, buf)
        });
        let ((sr, stook), ((rr, buf), rtook)) = tokio::join!(sender, receiver);
        let names = wait_names(dl, cancel);
        match sr {
            Ok(()) => self.m.sent[from] += len,
            Err(e) => {
                if must_finish {
                    self.fail(format!(
                        "pump: send of {len} with no deadline failed: {e:?}"
                    ));
                }
                self.expect_name(&e, &names, "pump: send");
                let k = e.partial().unwrap_or(usize::MAX);
                if k >= len {
                    self.fail(format!("pump: send error with partial {k} of {len}: {e:?}"));
                }
                self.m.sent[from] += k;
            }
        }
        match rr {
            Ok(_) => self.take(to, &buf),
            Err(e) => {
                if must_finish {
                    self.fail(format!(
                        "pump: recvn of {want} with no deadline failed: {e:?}"
                    ));
                }
                self.expect_name(&e, &names, "pump: recvn");
                let k = e.partial().unwrap_or(usize::MAX);
                if k >= want {
                    self.fail(format!(
                        "pump: recvn error with partial {k} of {want}: {e:?}"
                    ));
                }
                self.take(to, &buf[..k]);
            }
        }
        self.check_time(stook, dl, cancel);
        self.check_time(rtook, dl, cancel);
    }

    /// Every byte sent is received exactly once: each direction that can
    /// still be read is ended by the sender and read to its end.
    async fn drain(&mut self) {
        for s in 0..2 {
            let p = 1 - s;
            if self.m.closed[p] || self.m.shut_rd[p] || self.m.rst[p] || self.m.rst[s] {
                continue;
            }
            if !self.m.closed[s] && !self.m.shut_wr[s] {
                if let Err(e) = self.socks[s].shutdown(Shutdown::Write) {
                    self.fail(format!("drain: shutdown(Write) of side {s}: {e:?}"));
                }
                self.m.shut_wr[s] = true;
            }
            let t0 = Instant::now();
            match self.socks[p].recvall(clock() + 5.0).await {
                Ok(data) => {
                    let q = self.m.queued(p);
                    self.take(p, &data);
                    if data.len() != q {
                        self.fail(format!(
                            "drain: side {p} got {} bytes to the end of stream, {q} were still due",
                            data.len()
                        ));
                    }
                }
                Err(e) => self.fail(format!(
                    "drain: recvall on side {p}: {e:?} after {:?}",
                    t0.elapsed()
                )),
            }
        }
    }
}

/// A connected pair: a Unix socket pair or a loopback TCP connection
/// (Nagle off, so small writes are not held back).
async fn pair(unix: bool) -> [Rc<Tcp>; 2] {
    if unix {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        return [Rc::new(Tcp::from(a)), Rc::new(Tcp::from(b))];
    }
    let l = tcp().unwrap();
    l.listen(("127.0.0.1", 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let c = tcp().unwrap();
    let (conn, acc) = tokio::join!(c.connect(&addr, clock() + 5.0), l.accept(clock() + 5.0));
    conn.unwrap();
    let a = acc.unwrap();
    c.setopt("tcp_nodelay", true).unwrap();
    a.setopt("tcp_nodelay", true).unwrap();
    [Rc::new(c), Rc::new(a)]
}

fn run_case(unix: bool, steps: Vec<Step>) {
    bounded(60, move || {
        sockloop::run(async move {
            let mut case = Case {
                socks: pair(unix).await,
                m: Model {
                    unix,
                    ..Model::default()
                },
                log: Vec::new(),
            };
            for st in steps {
                case.step(st).await;
            }
            case.drain().await;
        })
    });
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        max_shrink_time: 20_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_wait_unix_pair(steps in steps()) {
        run_case(true, steps);
    }

    #[test]
    fn prop_wait_tcp_pair(steps in steps()) {
        run_case(false, steps);
    }
}
