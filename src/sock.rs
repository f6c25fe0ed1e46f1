//! (private) The socket state machine under every [`Socket`](crate::Socket)
//! kind, and the one wait entry: [`Sock::poll_call`], through which every
//! I/O path (sockloop's calls, the Tokio I/O traits, the TLS records, the
//! compatibility objects) makes its syscalls.
//!
//! A socket starts as a plain non-blocking `socket2::Socket` (so it can be
//! made, bound and configured with no Tokio runtime) and is registered with
//! Tokio's reactor on its first wait. Tokio keeps one waker per direction:
//! a task that parks alone registers its own waker there; when several
//! park in one direction, a fan-out waker that wakes them all is
//! registered instead. Every parked task is also listed in its direction's
//! fan, so `close()` (which swaps the state to `Closed`, closing the
//! descriptor at once) fires the fan and every parked call wakes and
//! sees `"closed"`. The state and both directions' lists share one lock
//! and one allocation.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use socket2::Socket;
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};
use tokio::time::Instant;

use crate::addr::{Family, Protocol, SockAddr, SockType};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};

/// Which readiness a call waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Dir {
    Read = 0,
    Write = 1,
}

/// The kind of syscall a call makes.
///
/// Tokio's cached readiness is a fact about the socket's buffers, not
/// about a particular call: a listening socket that was never readable for
/// `accept` is no more readable for `recv`, which would fail at once.
/// "Not ready" is therefore trusted to mean "would block" only by the kind
/// of call whose `EAGAIN` last cleared it; any other kind tries its
/// syscall first and so gets its error (or its data) without waiting.
///
/// The low bit of the discriminant is the direction ([`Dir`]), so that
/// [`Op::dir`] is one `and` on the wait path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    /// `recv`, `recvfrom`, `read`.
    Recv = 0,
    /// `accept`.
    Accept = 2,
    /// `send`, `sendto`, `write`.
    Send = 1,
    /// Finishing a non-blocking `connect`.
    Connect = 3,
    /// A zero-timeout `poll(2)` for reading (`readable()`).
    PollRead = 4,
    /// A zero-timeout `poll(2)` for writing (`writable()`).
    PollWrite = 5,
}

impl Op {
    #[inline]
    fn dir(self) -> Dir {
        if self as u8 & 1 == 0 {
            Dir::Read
        } else {
            Dir::Write
        }
    }
}

enum State {
    /// Not registered with Tokio yet: sync calls only so far.
    Plain(Socket),
    /// Registered with the reactor of the runtime that first waited on it.
    /// Shared only with the error watch (see [`Inner::errwatch`]), which
    /// `close()` drops together with it, so the descriptor still closes
    /// at once.
    Reg(Arc<AsyncFd<Socket>>),
    /// `close()`d or dropped: every call returns `"closed"`.
    Closed,
}

/// A future that completes when Tokio sees `EPOLLERR` on the socket.
type ErrWatch = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The state and the tasks parked on the socket, per direction, under one
/// lock. Its `Arc` is the fan-out waker registered with Tokio when several
/// tasks park in one direction.
///
/// A list is kept across wake-ups (cleared only when the fan fires), so a
/// task that parks again finds itself already there: no clone, no
/// allocation. When a list holds just the caller, the caller's own waker
/// is registered with Tokio (a readiness event then wakes it directly).
/// A stale entry costs at most one spurious wake-up.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    socktype: SockType,
    family: Family,
    protocol: Protocol,
    /// The peer, remembered at accept/connect (it stays known after the
    /// peer goes away).
    remote: Mutex<Option<SockAddr>>,
    /// Bytes moved by sockloop calls, per direction (read, write), for
    /// the inventory.
    moved: [AtomicU64; 2],
}

struct Inner {
    state: State,
    waiters: [Waiters; 2],
    /// Per direction: the kind of call whose `EAGAIN` last cleared Tokio's
    /// readiness (see [`Op`]).
    blocked: [Option<Op>; 2],
    /// Tokio's read and write readiness do not include `EPOLLERR`, the
    /// only event the kernel raises for, e.g., an ICMP "port unreachable"
    /// on a connected UDP socket. This watch, made on the first park and
    /// registered with the fan, wakes every parked call when an error is
    /// pending; the woken calls then try their syscall, which returns it.
    /// Datagram sockets only (see [`Sock::poll_locked`]).
    errwatch: Option<ErrWatch>,
    /// The fan fired since the watch was last polled: poll it again.
    errwatch_stale: bool,
}

/// The tasks parked in one direction. The first one is stored inline, so
/// the common check "am I the only waiter?" reads no other cache line.
/// `rest` is non-empty only when `first` is set.
#[derive(Default)]
struct Waiters {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Waiters {
    /// Adds `w` unless it is there already; returns how many wait.
    #[inline]
    fn join(&mut self, w: &Waker) -> usize {
        match &self.first {
            None => self.first = Some(w.clone()),
            Some(f) if f.will_wake(w) => {}
            Some(_) => {
                if !self.rest.iter().any(|x| x.will_wake(w)) {
                    self.rest.push(w.clone());
                }
            }
        }
        1 + self.rest.len()
    }

    /// Empties the list.
    fn take(&mut self) -> impl Iterator<Item = Waker> {
        self.first
            .take()
            .into_iter()
            .chain(std::mem::take(&mut self.rest))
    }
}

impl Shared {
    #[inline]
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Wakes (and forgets) every parked task, both directions. The lock is
    /// released before any waker runs.
    fn fire(&self) {
        let [mut r, mut w] = {
            let mut inner = self.lock();
            inner.errwatch_stale = true;
            std::mem::take(&mut inner.waiters)
        };
        for x in r.take().chain(w.take()) {
            x.wake();
        }
    }
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.fire();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fire();
    }
}

/// One socket: its kind and the shared state. (`pub` in this private
/// module, not outside the crate: the sealed kind traits name it.)
pub struct Sock {
    shared: Arc<Shared>,
    /// `Waker::from(shared)`, made once.
    fan: Waker,
}

impl std::fmt::Debug for Sock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        let (state, fd) = match &st.state {
            State::Plain(s) => ("plain", raw_fd(s)),
            State::Reg(a) => ("registered", raw_fd(a.get_ref())),
            State::Closed => ("closed", -1),
        };
        f.debug_struct("Sock")
            .field("socktype", &self.shared.socktype)
            .field("family", &self.shared.family)
            .field("protocol", &self.shared.protocol)
            .field("state", &state)
            .field("fd", &fd)
            .finish()
    }
}

/// The protocol a socket of `socktype` and `family` has when none is
/// asked for: TCP or UDP, none (`Ip`) for Unix and raw sockets.
pub(crate) fn default_protocol(socktype: SockType, family: Family) -> Protocol {
    match socktype {
        SockType::Tcp if family != Family::Unix => Protocol::Tcp,
        SockType::Udp if family != Family::Unix => Protocol::Udp,
        _ => Protocol::Ip,
    }
}

fn raw_fd(s: &Socket) -> i32 {
    use std::os::fd::AsRawFd;
    s.as_raw_fd()
}

/// `true` for the error a non-blocking call gives when it would block.
pub(crate) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// One try of a syscall: `None` if it would block (`EINTR` is retried).
#[inline]
fn attempt<T>(
    s: &Socket,
    f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
) -> Option<Result<T>> {
    loop {
        match f(s) {
            Ok((v, _)) => return Some(Ok(v)),
            Err(e) if would_block(&e) => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Err(e.into())),
        }
    }
}

/// The progress of one sockloop call (`recv`, `recvn`, `recvall`, `send`,
/// `accept`, a LuaSocket `receive`, ...) across its syscalls and parks:
/// the one place that decides "try now / park / expired / cancelled".
///
/// * The first syscall of a call is always tried, whatever the deadline
///   (as sock.lua: an already-expired call still gets what is there).
/// * Once the deadline has passed, the call goes on making syscalls, whatever
///   Tokio's (possibly stale) readiness says, as long as they complete at
///   once and for at most [`GRACE`] after it saw the deadline pass: so an
///   expired `recvall` still takes what is queued, and data that came in
///   at the last moment is not reported as a timeout. The first syscall
///   that would block, or the end of the grace, gives `"timeout"`.
/// * Between the iterations of a looping call the clock itself is read,
///   so a call bounded by a deadline ends on time however fast data
///   arrives (Tokio's timer can be held back by the cooperative budget;
///   the clock cannot).
/// * A cancel of the current sockloop thread is taken once the call has
///   parked.
///
/// (`pub` in this private module, not outside the crate: the sealed
/// transport trait names it.)
#[derive(Debug)]
pub struct Call {
    deadline: Deadline,
    /// A syscall has been tried (or readiness consulted) for this call.
    started: bool,
    /// A look at the clock found the deadline still ahead: a later
    /// `"timeout"` is a plain one (see [`Call::timeout`]).
    ahead: bool,
    /// The call has parked at least once.
    parked: bool,
    /// When the syscalls after the deadline must stop (set when the call
    /// first sees the deadline passed).
    grace: Option<Instant>,
    /// A syscall after the deadline would block: no more syscalls.
    done: bool,
    /// Bytes moved so far (the `partial()` of a traced error).
    #[cfg(feature = "tracing")]
    moved: usize,
}

/// How long a call whose deadline has passed goes on taking what the
/// kernel has ready (see [`Call`]): a few milliseconds, a handful of
/// [`MAX_IO`](crate::tcp)-sized copies.
const GRACE: Duration = Duration::from_millis(3);

impl Call {
    /// A call with this absolute `expires` (`clock()` seconds).
    #[inline]
    pub(crate) fn new(expires: Option<f64>) -> Call {
        Call {
            deadline: Deadline::new(expires),
            started: false,
            ahead: false,
            parked: false,
            grace: None,
            done: false,
            #[cfg(feature = "tracing")]
            moved: 0,
        }
    }

    /// This call's `"timeout"`. When its first look at the clock already
    /// found the deadline passed, the deadline was past when the call
    /// started, and the error says how far (see `deadline.rs`); the
    /// moment it was seen is when the grace began, or now.
    #[cold]
    fn timeout(&self) -> Error {
        if self.ahead {
            return Error::timeout();
        }
        let seen = self.grace.map_or_else(Instant::now, |end| end - GRACE);
        self.deadline.error_seen_at(seen)
    }
}

impl Sock {
    /// A new non-blocking socket of the given kind.
    pub(crate) fn new(socktype: SockType, family: Family, protocol: Protocol) -> Result<Sock> {
        let ty = match socktype {
            SockType::Tcp => socket2::Type::STREAM,
            SockType::Udp => socket2::Type::DGRAM,
            SockType::Raw => socket2::Type::RAW,
        };
        let proto = match (family, protocol) {
            (Family::Unix, _) | (_, Protocol::Ip) => None,
            (_, p) => Some(p.to_socket2()),
        };
        let s = Socket::new(family.to_domain(), ty, proto).map_err(|e| {
            Error::from(e).context(format!("creating a {family} {socktype} socket"))
        })?;
        s.set_nonblocking(true)?;
        Ok(Sock::from_parts(s, socktype, family, protocol))
    }

    /// Wraps an existing socket (made non-blocking).
    pub(crate) fn from_parts(
        s: Socket,
        socktype: SockType,
        family: Family,
        protocol: Protocol,
    ) -> Sock {
        // A failure here shows on the first call that would block.
        let _ = s.set_nonblocking(true);
        Sock::with_state(State::Plain(s), socktype, family, protocol)
    }

    /// A socket that is already closed (an IPv4 one of `socktype`).
    pub(crate) fn closed(socktype: SockType) -> Sock {
        let protocol = default_protocol(socktype, Family::Inet);
        Sock::with_state(State::Closed, socktype, Family::Inet, protocol)
    }

    fn with_state(state: State, socktype: SockType, family: Family, protocol: Protocol) -> Sock {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                state,
                waiters: Default::default(),
                blocked: [None; 2],
                errwatch: None,
                errwatch_stale: false,
            }),
            socktype,
            family,
            protocol,
            remote: Mutex::new(None),
            moved: [AtomicU64::new(0), AtomicU64::new(0)],
        });
        crate::sock_list::add(Arc::downgrade(&shared) as Weak<dyn crate::sock_list::Listed>);
        Sock {
            fan: Waker::from(shared.clone()),
            shared,
        }
    }

    /// Wraps an existing socket, reading its kind from the socket itself.
    pub(crate) fn from_socket(s: Socket, default_type: SockType) -> Sock {
        let socktype = match s.r#type() {
            Ok(t) if t == socket2::Type::STREAM => SockType::Tcp,
            Ok(t) if t == socket2::Type::DGRAM => SockType::Udp,
            Ok(t) if t == socket2::Type::RAW => SockType::Raw,
            _ => default_type,
        };
        let family = match s.local_addr().map(|a| a.domain()) {
            Ok(d) if d == socket2::Domain::IPV6 => Family::Inet6,
            Ok(d) if d == socket2::Domain::UNIX => Family::Unix,
            _ => Family::Inet,
        };
        let protocol = match s.protocol() {
            Ok(Some(p)) => Protocol::from_socket2(p).unwrap_or(Protocol::Ip),
            _ => default_protocol(socktype, family),
        };
        Sock::from_parts(s, socktype, family, protocol)
    }

    pub(crate) fn socktype(&self) -> SockType {
        self.shared.socktype
    }

    pub(crate) fn family(&self) -> Family {
        self.shared.family
    }

    pub(crate) fn protocol(&self) -> Protocol {
        self.shared.protocol
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    /// Runs a synchronous call on the socket (no runtime needed).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Socket) -> Result<T>) -> Result<T> {
        let st = self.lock();
        match &st.state {
            State::Plain(s) => f(s),
            State::Reg(a) => f(a.get_ref()),
            State::Closed => Err(Error::closed()),
        }
    }

    /// Binds to the first address that works.
    pub(crate) fn bind_any(&self, addrs: &[SockAddr]) -> Result<()> {
        let mut last = Error::with_message(ErrorKind::InvalidAddress, "no address to bind to");
        for a in addrs {
            let sa = a.to_socket2()?;
            match self.with(|s| Ok(s.bind(&sa))) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last = Error::from(e).context(format!("bind {a}")),
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// The local address.
    pub(crate) fn local_addr(&self) -> Result<SockAddr> {
        let sa = self.with(|s| Ok(s.local_addr()?))?;
        SockAddr::from_socket2(&sa).ok_or_else(|| {
            Error::with_message(ErrorKind::Other, "local address of an unknown family")
        })
    }

    /// Remembers the peer's address.
    pub(crate) fn set_remote(&self, a: Option<SockAddr>) {
        *self.shared.remote.lock() = a;
    }

    /// The peer's address.
    pub(crate) fn remote_addr(&self) -> Result<SockAddr> {
        let sa = self.with(|s| Ok(s.peer_addr()))?;
        if let Some(a) = self.shared.remote.lock().clone() {
            return Ok(a);
        }
        let sa = sa?;
        SockAddr::from_socket2(&sa).ok_or_else(|| {
            Error::with_message(ErrorKind::Other, "peer address of an unknown family")
        })
    }

    /// Swaps the state to `Closed` and wakes every parked call; returns
    /// the old state with the error watch already dropped (so the old
    /// state holds the only reference to a registered descriptor).
    fn detach(&self) -> State {
        let (old, watch) = {
            let mut inner = self.lock();
            inner.blocked = [None; 2];
            (
                std::mem::replace(&mut inner.state, State::Closed),
                inner.errwatch.take(),
            )
        };
        drop(watch);
        self.shared.fire();
        old
    }

    /// Closes the descriptor now and wakes every parked call.
    pub(crate) fn close(&self) -> Result<()> {
        // Dropping the socket (deregistering it first) closes the fd.
        match self.detach() {
            State::Closed => Err(Error::closed()),
            _ => Ok(()),
        }
    }

    /// Takes the socket out (deregistering it), leaving the state closed.
    pub(crate) fn take(&self) -> Result<Socket> {
        match self.detach() {
            State::Plain(s) => Ok(s),
            State::Reg(a) => match Arc::try_unwrap(a) {
                Ok(a) => Ok(a.into_inner()),
                // Unreachable: `detach` dropped the only other reference.
                Err(_) => Err(Error::with_message(
                    ErrorKind::Other,
                    "the socket is still in use by the reactor",
                )),
            },
            State::Closed => Err(Error::closed()),
        }
    }

    /// One poll of `f`, a syscall of kind `op`: registers with Tokio on
    /// first use, waits for readiness, runs `f`; `f` returns the value
    /// and whether the socket is likely drained (then readiness is
    /// cleared, as Tokio's own `poll_read` does after a short read). Only
    /// [`poll_call`](Sock::poll_call) uses it: every I/O path, the
    /// `AsyncRead`/`AsyncWrite` impls included, is a sockloop call.
    #[inline]
    fn poll_op<T>(
        &self,
        cx: &mut Context<'_>,
        op: Op,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Poll<Result<T>> {
        // Set when the other waiters must be woken once the lock is
        // released (rare: see below).
        let mut refan = false;
        let r = self.poll_locked(&mut self.lock(), cx, op, f, &mut refan);
        if refan {
            self.shared.fire();
        }
        r
    }

    #[inline]
    fn poll_locked<T>(
        &self,
        inner: &mut Inner,
        cx: &mut Context<'_>,
        op: Op,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
        refan: &mut bool,
    ) -> Poll<Result<T>> {
        let Inner {
            state,
            waiters,
            blocked,
            errwatch,
            errwatch_stale,
        } = inner;
        let dir = op.dir();
        let d = dir as usize;
        if let State::Plain(_) = state {
            if let Err(e) = register(state) {
                return Poll::Ready(Err(e));
            }
            if let State::Reg(fd) = state {
                // Tokio learns a new socket's readiness only on the next
                // reactor turn: try once now so a call that can complete
                // at once does (and does not park).
                match attempt(fd.get_ref(), f) {
                    Some(r) => return Poll::Ready(r),
                    None => blocked[d] = Some(op),
                }
            }
        }
        let State::Reg(fd) = state else {
            return Poll::Ready(Err(Error::closed()));
        };
        let list = &mut waiters[d];
        loop {
            // Poll with the caller's own waker: most calls find the socket
            // ready; a lone waiter that parks is then registered with Tokio
            // directly.
            let mut ready = poll_ready(fd, dir, cx);
            if ready.is_pending() {
                // "Not ready" means "would block" only for the kind of
                // call that saw the EAGAIN (see `Op`).
                if blocked[d] != Some(op) {
                    match attempt(fd.get_ref(), f) {
                        Some(r) => return Poll::Ready(r),
                        None => blocked[d] = Some(op),
                    }
                }
                // A pending socket error (EPOLLERR) wakes the fan. Only
                // datagram sockets need the watch: a stream socket's
                // errors (reset, refused, timed out) end the connection,
                // and the kernel's EPOLLHUP that comes with them is read
                // and write readiness to Tokio. Stream sockets (most
                // connections, often parked for long) keep no watch.
                if self.shared.socktype != SockType::Tcp && (*errwatch_stale || errwatch.is_none())
                {
                    *errwatch_stale = false;
                    let w = errwatch.get_or_insert_with(|| watch_errors(fd.clone()));
                    if w.as_mut()
                        .poll(&mut Context::from_waker(&self.fan))
                        .is_ready()
                    {
                        *errwatch = None;
                        // The syscall returns the error; if another call
                        // took it first, watch again.
                        if let Some(r) = attempt(fd.get_ref(), f) {
                            return Poll::Ready(r);
                        }
                        continue;
                    }
                }
                // Join the list. With other waiters, this poll may have
                // displaced the fan's waker from Tokio's one slot: put it
                // back (the lock makes concurrent joiners, maybe on other
                // OS threads, agree on who is registered).
                let w = cx.waker();
                if list.join(w) > 1 {
                    ready = poll_ready(fd, dir, &mut Context::from_waker(&self.fan));
                    if ready.is_ready() {
                        // Readiness came in between and woke only us: the
                        // others lost their registration, so wake them all
                        // to poll (and register) again.
                        *refan = true;
                    }
                }
            }
            let mut guard = match ready {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Ready(Ok(g)) => g,
            };
            match f(guard.get_inner()) {
                Ok((v, drained)) => {
                    if drained {
                        guard.clear_ready();
                        blocked[d] = Some(op);
                    }
                    return Poll::Ready(Ok(v));
                }
                Err(e) if would_block(&e) => {
                    guard.clear_ready();
                    blocked[d] = Some(op);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    /// One try of `f` now, whatever Tokio's readiness says: `None` if it
    /// would block.
    fn try_now<T>(
        &self,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Option<Result<T>> {
        let inner = self.lock();
        match &inner.state {
            State::Plain(s) => attempt(s, f),
            State::Reg(fd) => attempt(fd.get_ref(), f),
            State::Closed => Some(Err(Error::closed())),
        }
    }

    /// One syscall of kind `op` now, outside any call: no wait and no
    /// deadline, but counted for the inventory as a call's syscalls are.
    /// `None` if it would block. For what the TLS layer moves on its own
    /// (an alert or a key update reply sent at once, records taken in at
    /// close).
    #[cfg(feature = "tls")]
    pub(crate) fn try_io<T: Moved>(
        &self,
        op: Op,
        mut f: impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Option<Result<T>> {
        let r = self.try_now(&mut f);
        if let Some(Ok(v)) = &r {
            self.count_n(op, v.moved());
        }
        r
    }

    /// One poll of a sockloop call: see [`Call`] for the rules. `f` is one
    /// syscall of kind `op`; a looping call (recvn, recvall, send) polls
    /// each iteration with the same `call`.
    #[inline]
    pub(crate) fn poll_call<T: Moved>(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        op: Op,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Poll<Result<T>> {
        let r = self.poll_call_inner(cx, call, op, f);
        #[cfg(feature = "tracing")]
        if let Poll::Ready(Err(e)) = &r {
            self.trace_error(op, call, e);
        }
        r
    }

    /// Adds `n` bytes to the socket's counter for `op`'s direction.
    #[inline]
    fn count_n(&self, op: Op, n: usize) {
        self.shared.moved[op.dir() as usize].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds what a syscall moved to the socket's counters.
    #[inline]
    fn count<T: Moved>(&self, op: Op, r: &io::Result<(T, bool)>) {
        if let Ok((v, _)) = r {
            self.count_n(op, v.moved());
        }
    }

    /// Notes for the inventory that the current thread parks on this
    /// socket (a call that completes at once notes nothing); `first`: the
    /// call's first park, where its wait starts.
    #[inline]
    fn note_park(&self, op: Op, call: &Call, first: bool) {
        crate::park_note::note_park(
            crate::park_note::Park::Socket(
                Arc::as_ptr(&self.shared) as usize,
                match op.dir() {
                    Dir::Read => crate::park_note::WaitDir::Read,
                    Dir::Write => crate::park_note::WaitDir::Write,
                },
            ),
            call.deadline.at(),
            first,
        );
    }

    /// The one place a sockloop call's error is traced (at `trace`
    /// level): its name, the bytes moved before it, the addresses.
    #[cfg(feature = "tracing")]
    #[cold]
    fn trace_error(&self, op: Op, call: &Call, e: &Error) {
        tracing::trace!(
            error = e.name(),
            partial = call.moved,
            op = ?op,
            local = %self.local_addr().map_or_else(|_| "-".to_string(), |a| a.to_string()),
            remote = %self.remote_addr().map_or_else(|_| "-".to_string(), |a| a.to_string()),
            "socket call failed"
        );
    }

    #[inline]
    fn poll_call_inner<T: Moved>(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        op: Op,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Poll<Result<T>> {
        if call.parked && crate::thread::take_cancel() {
            return Poll::Ready(Err(Error::cancelled()));
        }
        if call.started {
            if call.deadline.expired() {
                return Poll::Ready(self.after_deadline(call, op, f));
            }
            call.ahead = true;
        }
        call.started = true;
        let mut tried = false;
        let r = self.poll_op(cx, op, &mut |s: &Socket| {
            tried = true;
            f(s)
        });
        if r.is_ready() {
            if let Poll::Ready(Ok(v)) = &r {
                self.count_n(op, v.moved());
            }
            #[cfg(feature = "tracing")]
            if let Poll::Ready(Ok(v)) = &r {
                call.moved += v.moved();
            }
            return r;
        }
        let first = !call.parked;
        if first {
            call.parked = true;
            if crate::thread::take_cancel() {
                return Poll::Ready(Err(Error::cancelled()));
            }
        }
        if call.deadline.poll_expired(cx) {
            if tried {
                // The syscall has just said it would block.
                call.done = true;
                return Poll::Ready(Err(call.timeout()));
            }
            return Poll::Ready(self.after_deadline(call, op, f));
        }
        self.note_park(op, call, first);
        Poll::Pending
    }

    /// The deadline has passed: a syscall while the grace lasts, else
    /// `"timeout"`.
    fn after_deadline<T: Moved>(
        &self,
        call: &mut Call,
        op: Op,
        f: &mut impl FnMut(&Socket) -> io::Result<(T, bool)>,
    ) -> Result<T> {
        let now = Instant::now();
        let end = *call.grace.get_or_insert(now + GRACE);
        if call.done || now > end {
            return Err(call.timeout());
        }
        let r = self.try_now(&mut |s: &Socket| {
            let r = f(s);
            self.count(op, &r);
            #[cfg(feature = "tracing")]
            {
                call.moved += r.as_ref().map_or(0, |(v, _)| v.moved());
            }
            r
        });
        match r {
            Some(r) => r,
            None => {
                call.done = true;
                Err(call.timeout())
            }
        }
    }

    /// Forgets which kind of call last saw `EAGAIN` (see [`Op`]): after a
    /// change of the socket's state that the kernel may not signal (our own
    /// `shutdown`, a datagram `connect`), the next call of every kind tries
    /// its syscall first.
    pub(crate) fn forget_blocked(&self) {
        self.lock().blocked = [None; 2];
    }

    /// Runs `f` (one syscall of kind `op`) until it succeeds, fails, the
    /// call's deadline passes (`"timeout"`), the socket is closed
    /// (`"closed"`) or the current sockloop thread is cancelled while the
    /// call is parked (`"cancelled"`). See [`Call`].
    #[inline]
    pub(crate) fn wait<'a, T: Moved>(
        &'a self,
        op: Op,
        call: &'a mut Call,
        mut f: impl FnMut(&Socket) -> io::Result<(T, bool)> + 'a,
    ) -> impl Future<Output = Result<T>> + 'a {
        poll_fn(move |cx| self.poll_call(cx, call, op, &mut f))
    }

    /// `true` once the socket is closed (by `close()`, or taken out).
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.lock().state, State::Closed)
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// How many bytes a call's result moved (for the sockets' counters).
pub(crate) trait Moved {
    fn moved(&self) -> usize;
}

impl Moved for usize {
    #[inline]
    fn moved(&self) -> usize {
        *self
    }
}

impl Moved for () {
    #[inline]
    fn moved(&self) -> usize {
        0
    }
}

impl<A> Moved for (usize, A) {
    #[inline]
    fn moved(&self) -> usize {
        self.0
    }
}

impl Moved for (Socket, socket2::SockAddr) {
    #[inline]
    fn moved(&self) -> usize {
        0
    }
}

impl crate::sock_list::Listed for Shared {
    /// The inventory's view of a live, open socket: its key in the
    /// threads' park notes (the shared state's address) and its row.
    fn row(&self) -> Option<crate::sock_list::Row> {
        let (fd, local) = {
            let inner = self.lock();
            let sock = match &inner.state {
                State::Plain(x) => x,
                State::Reg(a) => a.get_ref(),
                State::Closed => return None,
            };
            let local = sock
                .local_addr()
                .ok()
                .and_then(|a| SockAddr::from_socket2(&a));
            (raw_fd(sock), local)
        };
        Some(crate::sock_list::Row {
            key: self as *const Shared as usize,
            fd,
            socktype: self.socktype,
            family: self.family,
            local,
            remote: self.remote.lock().clone(),
            moved: [
                self.moved[0].load(Ordering::Relaxed),
                self.moved[1].load(Ordering::Relaxed),
            ],
        })
    }
}

/// Tokio's readiness poll for `dir`, registering `cx`'s waker on `Pending`.
#[inline]
fn poll_ready<'a>(
    fd: &'a AsyncFd<Socket>,
    dir: Dir,
    cx: &mut Context<'_>,
) -> Poll<io::Result<tokio::io::unix::AsyncFdReadyGuard<'a, Socket>>> {
    match dir {
        Dir::Read => fd.poll_read_ready(cx),
        Dir::Write => fd.poll_write_ready(cx),
    }
}

/// The error watch of a registered socket: completes when Tokio sees
/// `EPOLLERR`, consuming that readiness (the woken calls' syscalls then
/// return the error).
fn watch_errors(fd: Arc<AsyncFd<Socket>>) -> ErrWatch {
    Box::pin(async move {
        // `ready` fails only when the reactor is gone; the syscalls then
        // say what is wrong.
        if let Ok(mut g) = fd.ready(Interest::ERROR).await {
            g.clear_ready_matching(Ready::ERROR);
        }
    })
}

/// Hands a plain socket to the current Tokio runtime's reactor.
fn register(st: &mut State) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::with_message(
            ErrorKind::NotInThread,
            "waiting on a socket needs a running loop (no Tokio runtime here)",
        ));
    }
    let State::Plain(s) = std::mem::replace(st, State::Closed) else {
        return Ok(());
    };
    // `try_new` is deprecated in favour of the `unsafe` `register`, whose
    // contract (the fd stays open and the same while registered) holds
    // for an owned `socket2::Socket`; the crate forbids `unsafe`.
    #[allow(deprecated)]
    let registered = AsyncFd::try_new(s);
    match registered {
        Ok(fd) => {
            *st = State::Reg(Arc::new(fd));
            Ok(())
        }
        Err(e) => {
            let (s, err) = e.into_parts();
            *st = State::Plain(s);
            Err(err.into())
        }
    }
}

/// Converts a rustix error into an `io::Error`.
pub(crate) fn rx(e: rustix::io::Errno) -> io::Error {
    io::Error::from(e)
}
