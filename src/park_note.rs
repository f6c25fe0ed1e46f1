//! The park note: what the thread being polled parks on, written by the
//! calls that park (sockets, sleeps, sleep jobs, `suspend`), moved into the
//! thread by its step, read by the inventory ([`inspect`](crate::inspect)).
//!
//! Made for the hot path: a call notes only when it parks (one that
//! completes at once notes nothing), with three stores into this OS
//! thread's slot (the one `thread_local!` here) and no clock read; "since"
//! is the driver round's time stamp, also kept in the slot (one clock read
//! per round, not per park). The bottom of the layering: it knows no
//! socket, thread or loop, only a packed word and two instants.

use std::cell::Cell;
use std::fmt;

use tokio::time::Instant;

/// A direction of a socket wait.
///
/// # Examples
///
/// ```
/// use sockloop::{WaitDir, WaitOn};
/// sockloop::run(async {
///     let l = sockloop::tcp().unwrap();
///     l.listen("127.0.0.1:0").unwrap();
///     let l = std::rc::Rc::new(l);
///     let l2 = l.clone();
///     let t = sockloop::thread(async move { let _ = l2.accept(None).await; });
///     let inv = sockloop::inventory();
///     let me = inv.threads.iter().find(|x| x.id == t.id()).unwrap();
///     let on = &me.waiting.as_ref().unwrap().on;
///     assert!(matches!(on, WaitOn::Socket { dir: WaitDir::Read, .. }));
///     assert_eq!(WaitDir::Read.to_string(), "read");
///     t.cancel();
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitDir {
    /// Waiting to read (`recv`, `accept`, `readable`).
    Read,
    /// Waiting to write (`send`, `connect`, `writable`).
    Write,
}

impl fmt::Display for WaitDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitDir::Read => "read",
            WaitDir::Write => "write",
        })
    }
}

/// What a thread parked on, as noted at the park (see [`note_park`];
/// decoded from [`Note::on`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Park {
    /// Nothing noted: a future sockloop does not know (a channel, a join).
    Other,
    /// A socket (its shared state's address, the key of the sockets list)
    /// and direction.
    Socket(usize, WaitDir),
    Sleep,
    SleepJob,
    Suspend,
}

/// A park: on what (a [`Park`] packed in one word: a socket's address
/// with the direction and kind in its low bits), since when, until when.
/// Small and `Copy`: it is written on every park.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Note {
    pub(crate) on: usize,
    pub(crate) since: Option<Instant>,
    pub(crate) deadline: Option<Instant>,
}

const TAG_OTHER: usize = 0;
const TAG_SLEEP: usize = 1;
const TAG_SLEEP_JOB: usize = 2;
const TAG_SUSPEND: usize = 3;
const TAG_READ: usize = 4;
const TAG_WRITE: usize = 5;
/// The low bits of a packed park that hold its tag.
pub(crate) const TAGS: usize = 7;

impl Park {
    /// The park packed in one word (a socket's key is the address of its
    /// shared state, aligned to 8 bytes, so the low 3 bits hold the tag).
    #[inline]
    pub(crate) fn pack(self) -> usize {
        match self {
            Park::Other => TAG_OTHER,
            Park::Sleep => TAG_SLEEP,
            Park::SleepJob => TAG_SLEEP_JOB,
            Park::Suspend => TAG_SUSPEND,
            Park::Socket(k, WaitDir::Read) => (k & !TAGS) | TAG_READ,
            Park::Socket(k, WaitDir::Write) => (k & !TAGS) | TAG_WRITE,
        }
    }
}

impl Note {
    /// What the park is on.
    pub(crate) fn park(&self) -> Park {
        match self.on & TAGS {
            TAG_SLEEP => Park::Sleep,
            TAG_SLEEP_JOB => Park::SleepJob,
            TAG_SUSPEND => Park::Suspend,
            TAG_READ => Park::Socket(self.on & !TAGS, WaitDir::Read),
            TAG_WRITE => Park::Socket(self.on & !TAGS, WaitDir::Write),
            _ => Park::Other,
        }
    }
}

// ===== this OS thread's slot =====

thread_local! {
    /// The park noted by the call being polled (moved into the thread
    /// when its step ends in a park; cleared when a step starts), and the
    /// driver round's time stamp.
    static SLOT: Slot = const {
        Slot {
            on: Cell::new(0),
            deadline: Cell::new(None),
            fresh: Cell::new(true),
            stamp: Cell::new(None),
        }
    };
}

struct Slot {
    /// What (a packed [`Park`]; 0: nothing noted).
    on: Cell<usize>,
    deadline: Cell<Option<Instant>>,
    /// The wait starts here (a call's first park), rather than going on
    /// from the thread's previous park.
    fresh: Cell<bool>,
    /// When the driver's current round started (`None` between rounds):
    /// a parked thread's "since", without a clock read per park.
    stamp: Cell<Option<Instant>>,
}

/// Notes what the current poll parks on, until when, and whether the
/// wait starts here (`fresh`) or goes on from the thread's previous park
/// (a call polled again after a wake-up that did not end it). Called on
/// `Pending` only: three stores, no clock read.
#[inline]
pub(crate) fn note_park(p: Park, deadline: Option<Instant>, fresh: bool) {
    let on = p.pack();
    let _ = SLOT.try_with(|s| {
        s.on.set(on);
        s.deadline.set(deadline);
        s.fresh.set(fresh);
    });
}

/// Forgets a noted park (a thread finished after a call noted one): the
/// slot is clear at the start of every step, so a step that parks without
/// a note parks on something sockloop does not know.
#[inline]
pub(crate) fn clear_note() {
    let _ = SLOT.try_with(|s| {
        s.on.set(0);
        s.fresh.set(true);
    });
}

/// Takes the park noted during the step that just ended (what, until
/// when, whether it starts a wait), leaving the slot clear.
#[inline]
pub(crate) fn take_note() -> (usize, Option<Instant>, bool) {
    SLOT.try_with(|s| (s.on.replace(0), s.deadline.get(), s.fresh.replace(true)))
        .unwrap_or((0, None, true))
}

/// Sets (at the start of a driver round) or clears (at its end) the
/// round's time stamp.
#[inline]
pub(crate) fn set_stamp(t: Option<Instant>) {
    let _ = SLOT.try_with(|s| s.stamp.set(t));
}

/// The current driver round's start, or the clock outside a round.
#[inline]
pub(crate) fn round_now() -> Instant {
    SLOT.try_with(|s| s.stamp.get())
        .ok()
        .flatten()
        .unwrap_or_else(Instant::now)
}
