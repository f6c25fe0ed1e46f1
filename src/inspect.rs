//! A live inventory of a loop: its threads (and what each waits on), its
//! sockets and its timers, as plain data ([`Inventory`]), taken on the
//! loop's own OS thread ([`inventory`]) or from any other one
//! ([`InventoryHandle`]), and served as text on a loopback TCP port
//! ([`serve_inventory`]).
//!
//! This file only reads and reports. The bookkeeping it reads always
//! runs, so an inventory shows every wait, also those that began before
//! anyone asked: the park notes the calls write and the threads keep
//! (`park_note`, made for a hot path that does not notice it), the list
//! of this OS thread's sockets (`sock_list`), the loop's threads and its
//! timer queue.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use tokio::time::Instant;

use crate::addr::{Family, SockAddr, SockType, ToAddr};
use crate::context::{with_loop, Loop, Remote};
use crate::error::{Error, ErrorKind, Result};
use crate::park_note::{Park, WaitDir, TAGS};
use crate::thread::{Thread, ThreadStatus};
use crate::timers::TimerKind;

// ===== the public inventory =====

/// What a parked thread waits on ([`Waiting::on`]).
///
/// # Examples
///
/// ```
/// use sockloop::WaitOn;
/// sockloop::run(async {
///     let t = sockloop::thread(async { let _ = sockloop::suspend(()).await; });
///     let inv = sockloop::inventory();
///     let me = inv.threads.iter().find(|x| x.id == t.id()).unwrap();
///     assert_eq!(me.waiting.as_ref().unwrap().on, WaitOn::Suspend);
///     assert_eq!(WaitOn::Suspend.to_string(), "suspend");
///     t.cancel();
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitOn {
    /// A socket call.
    Socket {
        /// The socket's descriptor (`-1` once closed).
        fd: i32,
        /// Read or write.
        dir: WaitDir,
        /// The socket's local address, if it has one.
        local: Option<SockAddr>,
        /// The socket's peer, if connected.
        remote: Option<SockAddr>,
    },
    /// [`sleep`](crate::sleep) or [`sleep_until`](crate::sleep_until).
    Sleep,
    /// [`SleepJob::sleep`](crate::SleepJob::sleep).
    SleepJob,
    /// [`suspend`](crate::suspend) or [`transfer`](crate::transfer): only a
    /// `resume` (or a cancel) wakes it.
    Suspend,
    /// Something else (a Tokio channel, a [`Thread::join`], ...).
    Other,
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOn::Socket {
                fd,
                dir,
                local,
                remote,
            } => {
                write!(f, "{dir} on fd {fd}")?;
                match (local, remote) {
                    (Some(l), Some(r)) => write!(f, " {l} -> {r}"),
                    (Some(l), None) => write!(f, " {l}"),
                    (None, Some(r)) => write!(f, " -> {r}"),
                    (None, None) => Ok(()),
                }
            }
            WaitOn::Sleep => f.write_str("sleep"),
            WaitOn::SleepJob => f.write_str("sleep job"),
            WaitOn::Suspend => f.write_str("suspend"),
            WaitOn::Other => f.write_str("other"),
        }
    }
}

/// A parked thread's wait ([`ThreadInfo::waiting`]).
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let t = sockloop::thread(async { sockloop::sleep(30.0).await });
///     let inv = sockloop::inventory();
///     let w = inv.threads.iter().find(|x| x.id == t.id()).unwrap().waiting.clone().unwrap();
///     assert_eq!(w.on, sockloop::WaitOn::Sleep);
///     assert!(w.since <= inv.now);
///     assert!((w.deadline.unwrap() - inv.now - 30.0).abs() < 1.0);
///     t.cancel();
/// });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Waiting {
    /// On what.
    pub on: WaitOn,
    /// Since when ([`clock()`](crate::clock) seconds): the first park of
    /// the loop round in which the wait began (a round reads the clock once,
    /// at its first park, not at every park; a `resume` from outside any
    /// thread is a round of its own).
    pub since: f64,
    /// Until when ([`clock()`](crate::clock) seconds): the call's `expires`
    /// or the sleep's end; `None` without a deadline.
    pub deadline: Option<f64>,
}

/// One thread of the loop ([`Inventory::threads`]).
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let t = sockloop::thread_named("worker", async { sockloop::sleep(30.0).await });
///     let inv = sockloop::inventory();
///     let me = inv.threads.iter().find(|x| x.id == t.id()).unwrap();
///     assert_eq!(me.name.as_deref(), Some("worker"));
///     assert_eq!(me.status, sockloop::ThreadStatus::Waiting);
///     t.cancel();
/// });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// [`Thread::id`].
    pub id: u64,
    /// [`Thread::name`].
    pub name: Option<String>,
    /// [`Thread::status`].
    pub status: ThreadStatus,
    /// What it waits on (a waiting or suspended thread).
    pub waiting: Option<Waiting>,
}

/// One open socket made on the loop's OS thread ([`Inventory::sockets`]).
///
/// # Examples
///
/// ```
/// # fn main() -> sockloop::Result<()> {
/// let s = sockloop::udp()?;
/// s.bind("127.0.0.1:0")?;
/// let port = s.local_addr()?.port();
/// let inv = sockloop::inventory();
/// let me = inv.sockets.iter().find(|x| x.local.as_ref().map(|a| a.port()) == Some(port)).unwrap();
/// assert_eq!(me.socktype, sockloop::SockType::Udp);
/// assert_eq!((me.bytes_in, me.bytes_out), (0, 0));
/// assert!(me.waiting.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The descriptor.
    pub fd: i32,
    /// TCP, UDP or raw.
    pub socktype: SockType,
    /// `inet`, `inet6` or `unix`.
    pub family: Family,
    /// The local address, if bound.
    pub local: Option<SockAddr>,
    /// The peer, if connected.
    pub remote: Option<SockAddr>,
    /// The threads parked on it ([`Thread::id`]) and in which direction.
    pub waiting: Vec<(u64, WaitDir)>,
    /// Bytes received by sockloop calls (and `AsyncRead`).
    pub bytes_in: u64,
    /// Bytes sent by sockloop calls (and `AsyncWrite`).
    pub bytes_out: u64,
}

/// One pending timer of the loop ([`Inventory::timers`]).
///
/// # Examples
///
/// ```
/// let t = sockloop::runevery(5.0, || true);
/// let inv = sockloop::inventory();
/// let me = inv.timers.iter().find(|x| x.kind == sockloop::TimerKind::Every).unwrap();
/// assert_eq!(me.period, Some(5.0));
/// assert!(me.deadline > inv.now);
/// t.cancel();
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TimerInfo {
    /// A sleep, a one-shot job or a periodic one.
    pub kind: TimerKind,
    /// When it fires next ([`clock()`](crate::clock) seconds).
    pub deadline: f64,
    /// The period of a [`runevery`](crate::runevery) job, in seconds.
    pub period: Option<f64>,
}

/// A snapshot of one loop: its threads, sockets and timers.
///
/// `Debug` gives the fields; `Display` a readable table (the text
/// [`serve_inventory`] serves).
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let t = sockloop::thread_named("napper", async { sockloop::sleep(60.0).await });
///     let inv = sockloop::inventory();
///     let me = inv.threads.iter().find(|x| x.id == t.id()).unwrap();
///     assert_eq!(me.name.as_deref(), Some("napper"));
///     assert_eq!(me.waiting.as_ref().unwrap().on, sockloop::WaitOn::Sleep);
///     assert!(inv.to_string().contains("napper"));
///     t.cancel();
/// });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Inventory {
    /// When it was taken ([`clock()`](crate::clock) seconds).
    pub now: f64,
    /// Every live thread, by id.
    pub threads: Vec<ThreadInfo>,
    /// Every open socket made on this OS thread, by descriptor.
    pub sockets: Vec<SocketInfo>,
    /// Every pending timer, earliest first.
    pub timers: Vec<TimerInfo>,
}

fn opt_addr(a: &Option<SockAddr>) -> String {
    a.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sockloop inventory at clock {:.3}: {} threads, {} sockets, {} timers",
            self.now,
            self.threads.len(),
            self.sockets.len(),
            self.timers.len()
        )?;
        writeln!(f, "threads:")?;
        writeln!(
            f,
            "  {:>12}  {:<20} {:<10} waiting for",
            "id", "name", "status"
        )?;
        for t in &self.threads {
            let status = format!("{:?}", t.status).to_lowercase();
            write!(
                f,
                "  {:>12}  {:<20} {:<10}",
                t.id,
                t.name.as_deref().unwrap_or("-"),
                status
            )?;
            if let Some(w) = &t.waiting {
                write!(f, " {}", w.on)?;
                write!(f, " since {:.1} s", (self.now - w.since).max(0.0))?;
                match w.deadline {
                    Some(d) => write!(f, ", deadline in {:.1} s", d - self.now)?,
                    None => write!(f, ", no deadline")?,
                }
            }
            writeln!(f)?;
        }
        writeln!(f, "sockets:")?;
        writeln!(
            f,
            "  {:>5}  {:<4} {:<5} {:<24} {:<24} {:>10} {:>10}  waiting",
            "fd", "type", "fam", "local", "remote", "bytes in", "bytes out"
        )?;
        for s in &self.sockets {
            write!(
                f,
                "  {:>5}  {:<4} {:<5} {:<24} {:<24} {:>10} {:>10} ",
                s.fd,
                s.socktype.to_string(),
                s.family.to_string(),
                opt_addr(&s.local),
                opt_addr(&s.remote),
                s.bytes_in,
                s.bytes_out
            )?;
            for (id, dir) in &s.waiting {
                write!(f, " {id}:{dir}")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "timers:")?;
        for t in &self.timers {
            write!(
                f,
                "  {:<6} in {:.3} s",
                format!("{:?}", t.kind).to_lowercase(),
                t.deadline - self.now
            )?;
            if let Some(p) = t.period {
                write!(f, ", every {p:.3} s")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `at` in [`clock()`](crate::clock) seconds, with `base` = (now as an
/// instant, now in seconds).
fn secs(at: Instant, base: (Instant, f64)) -> f64 {
    if at >= base.0 {
        base.1 + (at - base.0).as_secs_f64()
    } else {
        base.1 - (base.0 - at).as_secs_f64()
    }
}

fn collect(l: &Loop) -> Inventory {
    let base = (Instant::now(), crate::deadline::now_secs());
    let mut sockets: Vec<(usize, SocketInfo)> = crate::sock_list::rows()
        .into_iter()
        .map(|r| {
            let info = SocketInfo {
                fd: r.fd,
                socktype: r.socktype,
                family: r.family,
                local: r.local,
                remote: r.remote,
                waiting: Vec::new(),
                bytes_in: r.moved[0],
                bytes_out: r.moved[1],
            };
            (r.key, info)
        })
        .collect();
    // Socket key -> index: a loop with 10,000 parked connections is
    // listed in linear time, not 10,000 x 10,000 comparisons.
    let index: std::collections::HashMap<usize, usize> = sockets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0 & !TAGS, i))
        .collect();
    let mut threads = Vec::new();
    for t in l.threads() {
        let status = t.status();
        let waiting = match status {
            ThreadStatus::Waiting | ThreadStatus::Suspended => {
                let n = t.wait_note(base.0);
                let on = match (status, n.park()) {
                    (ThreadStatus::Suspended, _) | (_, Park::Suspend) => WaitOn::Suspend,
                    (_, Park::Sleep) => WaitOn::Sleep,
                    (_, Park::SleepJob) => WaitOn::SleepJob,
                    (_, Park::Other) => WaitOn::Other,
                    (_, Park::Socket(id, dir)) => match index.get(&id).map(|&i| &mut sockets[i]) {
                        Some((_, s)) => {
                            s.waiting.push((t.id(), dir));
                            WaitOn::Socket {
                                fd: s.fd,
                                dir,
                                local: s.local.clone(),
                                remote: s.remote.clone(),
                            }
                        }
                        None => WaitOn::Socket {
                            fd: -1,
                            dir,
                            local: None,
                            remote: None,
                        },
                    },
                };
                Some(Waiting {
                    on,
                    since: n.since.map_or(base.1, |s| secs(s, base)),
                    deadline: n.deadline.map(|d| secs(d, base)),
                })
            }
            _ => None,
        };
        threads.push(ThreadInfo {
            id: t.id(),
            name: t.name().map(str::to_string),
            status,
            waiting,
        });
    }
    threads.sort_by_key(|t| t.id);
    let mut sockets: Vec<SocketInfo> = sockets.into_iter().map(|(_, s)| s).collect();
    sockets.sort_by_key(|s| s.fd);
    let timers = crate::timers::list(l)
        .into_iter()
        .map(|(at, kind, period)| TimerInfo {
            kind,
            deadline: secs(at, base),
            period: period.map(|p| p.as_secs_f64()),
        })
        .collect();
    Inventory {
        now: base.1,
        threads,
        sockets,
        timers,
    }
}

/// Takes the inventory of this OS thread's loop: its live threads (what
/// each waits on, since when, until when), the open sockets made on this
/// OS thread (descriptor, kind, addresses, waiting threads, bytes in and
/// out) and the pending timers.
///
/// Callable anywhere on the loop's OS thread, from a sockloop thread or
/// not. From another OS thread, use an [`InventoryHandle`].
///
/// # Examples
///
/// ```
/// # fn main() -> sockloop::Result<()> {
/// let s = sockloop::tcp()?;
/// s.listen("127.0.0.1:0")?;
/// let port = s.local_addr()?.port();
/// let inv = sockloop::inventory();
/// assert!(inv.sockets.iter().any(|x| x.local.as_ref().map(|a| a.port()) == Some(port)));
/// s.close()?;
/// let inv = sockloop::inventory();
/// assert!(!inv.sockets.iter().any(|x| x.local.as_ref().map(|a| a.port()) == Some(port)));
/// # Ok(()) }
/// ```
pub fn inventory() -> Inventory {
    with_loop(collect)
}

/// A `Send + Sync` handle on this OS thread's loop that takes its
/// [`Inventory`] from any OS thread ([`InventoryHandle::get`]).
///
/// # Examples
///
/// ```
/// let h = sockloop::inventory_handle();
/// let t = sockloop::thread_named("sleeper", async { sockloop::sleep(0.2).await });
/// let other = std::thread::spawn(move || h.get(sockloop::clock() + 5.0));
/// sockloop::start().unwrap();          // the loop runs the request
/// let inv = other.join().unwrap().unwrap();
/// assert!(inv.threads.iter().any(|x| x.name.as_deref() == Some("sleeper")));
/// # drop(t);
/// ```
pub fn inventory_handle() -> InventoryHandle {
    InventoryHandle {
        remote: with_loop(|l| l.remote().clone()),
    }
}

/// See [`inventory_handle`].
///
/// # Examples
///
/// ```
/// let h = sockloop::inventory_handle();
/// // Taken on the loop's own OS thread: at once.
/// let inv = h.get(sockloop::clock() + 1.0).unwrap();
/// assert!(inv.threads.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct InventoryHandle {
    remote: Arc<Remote>,
}

impl InventoryHandle {
    /// Takes the loop's inventory: on the loop's own OS thread at once;
    /// from another one, the request runs on the loop's next round, and
    /// this blocks until then or until `expires` ([`clock()`](crate::clock)
    /// seconds; `None`: no limit).
    ///
    /// # Errors
    ///
    /// `"timeout"` when the loop did not run the request by `expires`
    /// (it is not running: nothing drives it); `"closed"` when the loop's
    /// OS thread has ended.
    ///
    /// # Examples
    ///
    /// See [`inventory_handle`].
    pub fn get(&self, expires: impl Into<Option<f64>>) -> Result<Inventory> {
        if self.remote.is_local() {
            return Ok(inventory());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.remote.post(Box::new(move || {
            let _ = tx.send(inventory());
        }));
        let gone = || Error::with_message(ErrorKind::Closed, "the loop's OS thread has ended");
        match expires.into() {
            None => rx.recv().map_err(|_| gone()),
            Some(t) => {
                let left = crate::deadline::secs_to_duration_ceil(t - crate::clock());
                rx.recv_timeout(left).map_err(|e| match e {
                    std::sync::mpsc::RecvTimeoutError::Timeout => Error::with_message(
                        ErrorKind::Timeout,
                        "the loop did not take the inventory in time (is it running?)",
                    ),
                    std::sync::mpsc::RecvTimeoutError::Disconnected => gone(),
                })
            }
        }
    }
}

// ===== serving it =====

/// Serves this loop's [`Inventory`] as text on a loopback TCP address:
/// every connection gets the table and is closed (`nc 127.0.0.1 PORT`, or
/// `curl` is not needed). The server is a sockloop thread named
/// `"sockloop-inspect"`; cancel it to stop serving. Returns it and the
/// bound address (port `0` picks a free one).
///
/// Only loopback addresses are accepted: the inventory shows a program's
/// peers and its internals.
///
/// # Errors
///
/// `"invalid_address"` for an address that is not a loopback one; the
/// errors of [`Tcp::listen`](crate::Tcp::listen).
///
/// # Examples
///
/// ```
/// sockloop::run(async {
///     let (server, addr) = sockloop::serve_inventory("127.0.0.1:0").unwrap();
///     let c = sockloop::tcp().unwrap();
///     c.connect(&addr, None).await.unwrap();
///     let text = String::from_utf8(c.recvall(None).await.unwrap()).unwrap();
///     assert!(text.contains("sockloop-inspect"));
///     server.cancel();
/// });
/// ```
pub fn serve_inventory(addr: impl ToAddr) -> Result<(Thread<()>, SockAddr)> {
    let addrs = addr.to_addr()?.resolve(&crate::addr::Hints::default())?;
    let Some(a) = addrs.first() else {
        return Err(Error::with_message(
            ErrorKind::InvalidAddress,
            "no address to serve the inventory on",
        ));
    };
    if a.family() == Family::Unix || !a.ip().is_loopback() {
        return Err(Error::with_message(
            ErrorKind::InvalidAddress,
            format!("the inventory is served on loopback addresses only, not {a}"),
        ));
    }
    let srv = Rc::new(crate::Tcp::new(a.family())?);
    srv.listen(a)?;
    let bound = srv.local_addr()?;
    let t = crate::thread_named("sockloop-inspect", async move {
        while let Ok(c) = srv.accept(None).await {
            let text = inventory().to_string();
            // A client that does not read is dropped after a few seconds.
            let _ = c.send(text.as_bytes(), crate::clock() + 5.0).await;
            let _ = c.close();
        }
    });
    Ok((t, bound))
}
