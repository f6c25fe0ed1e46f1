//! The park note: what the thread being polled parks on, written by the
//! calls that park (sockets, sleeps, sleep jobs, `suspend`), moved into the
//! thread by its step, read by the inventory ([`inspect`](crate::inspect)).
//!
//! Made for the hot path: a call notes only when it parks (one that
//! completes at once notes nothing), with three stores into this OS
//! thread's slot (the one `thread_local!` here) and no clock read. "Since"
//! is the round's time stamp, also kept in the slot: a round is a driver
//! round or an outermost step (a `resume` from outside any thread), and
//! its first park reads the clock for all of them, so a chain of switches
//! inside a round reads it once, not once per park. A thread keeps its
//! note in 20 bytes (a packed word, a [`Stamp`] and a [`Since`]). The bottom of the
//! layering: it knows no socket, thread or loop, only a packed word and
//! two instants.

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
    /// time stamp of the outermost step under way.
    static SLOT: Slot = const {
        Slot {
            on: Cell::new(0),
            deadline: Cell::new(None),
            fresh: Cell::new(true),
            open: Cell::new(false),
            stamp: Cell::new(None),
            epoch: Cell::new(None),
            tick: Cell::new(None),
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
    /// A round is under way: a driver round, or an outermost step (a
    /// `resume` from outside any thread, a sleep job's `wakeup`).
    open: Cell<bool>,
    /// The clock as read by the round's first park (`None` until one
    /// parks; packed once): every park of the round starts at this stamp,
    /// so a round reads the clock at most once, however many threads it
    /// switches.
    stamp: Cell<Option<Since>>,
    /// The instant that [`Stamp`]s and [`Since`]s count from (read once
    /// per OS thread).
    epoch: Cell<Option<Instant>>,
    /// The millisecond that the last [`Since`] packed fell in: a stamp in
    /// the same one packs to the same value without arithmetic.
    tick: Cell<Option<Tick>>,
}

/// A millisecond after the epoch, `[start, end)`, and its packed value.
#[derive(Clone, Copy)]
struct Tick {
    start: Instant,
    end: Instant,
    ms: u32,
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

/// An instant packed in 8 bytes: nanoseconds after this OS thread's
/// epoch, plus one (0: none). What a parked thread keeps of its note's
/// "since" and deadline (16 bytes, where two `Option<Instant>` take 32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// No instant.
    pub(crate) const NONE: Stamp = Stamp(0);

    fn pack(at: Option<Instant>, s: &Slot) -> Stamp {
        let Some(at) = at else { return Stamp::NONE };
        let epoch = epoch(s);
        let ns = at.saturating_duration_since(epoch).as_nanos();
        Stamp(u64::try_from(ns).unwrap_or(u64::MAX - 1).saturating_add(1))
    }

    /// The instant, if any.
    pub(crate) fn get(self) -> Option<Instant> {
        let ns = self.0.checked_sub(1)?;
        let epoch = SLOT.try_with(epoch).ok()?;
        epoch.checked_add(std::time::Duration::from_nanos(ns))
    }
}

/// A parked thread's "since", packed in 4 bytes (so that it fits beside
/// the thread's flags): the milliseconds after this OS thread's epoch,
/// modulo 2^32, rounded down. Read back as the latest such instant not
/// after the reader's clock: exact to the millisecond for a wait shorter
/// than 49.7 days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Since(u32);

impl Since {
    /// Packs `at`: two comparisons when it falls in the millisecond of the
    /// previous pack (a server's rounds come a few microseconds apart, and
    /// the subtraction from the epoch is most of what a pack would cost).
    #[inline]
    fn pack(at: Instant, s: &Slot) -> Since {
        match s.tick.get() {
            Some(t) if t.start <= at && at < t.end => Since(t.ms),
            _ => Since::pack_new_tick(at, s),
        }
    }

    /// Packs `at` by subtraction, and keeps its millisecond for the next
    /// packs.
    fn pack_new_tick(at: Instant, s: &Slot) -> Since {
        let epoch = epoch(s);
        let ms = u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX);
        let packed = (ms % (1 << 32)) as u32;
        let start = epoch.checked_add(std::time::Duration::from_millis(ms));
        let end = start.and_then(|t| t.checked_add(std::time::Duration::from_millis(1)));
        s.tick.set(match (start, end) {
            (Some(start), Some(end)) => Some(Tick {
                start,
                end,
                ms: packed,
            }),
            _ => None,
        });
        Since(packed)
    }

    /// The instant, read at `now` (`None` before any park on this OS
    /// thread).
    pub(crate) fn at(self, now: Instant) -> Option<Instant> {
        let epoch = SLOT.try_with(|s| s.epoch.get()).ok().flatten()?;
        let now_ms = u64::try_from(now.saturating_duration_since(epoch).as_millis()).ok()?;
        let mut ms = (now_ms & !0xFFFF_FFFF) | u64::from(self.0);
        if ms > now_ms {
            ms = ms.checked_sub(1 << 32)?;
        }
        epoch.checked_add(std::time::Duration::from_millis(ms))
    }
}

/// This OS thread's epoch: a day before the first park it saw (so that a
/// deadline already past still packs exactly).
fn epoch(s: &Slot) -> Instant {
    if let Some(e) = s.epoch.get() {
        return e;
    }
    let now = Instant::now();
    let e = now
        .checked_sub(std::time::Duration::from_secs(86_400))
        .unwrap_or(now);
    s.epoch.set(Some(e));
    e
}

/// Takes the park noted during the step that just ended, leaving the slot
/// clear: what (a packed [`Park`]), until when, and, when the wait starts
/// here (`fresh`, or `on` differs from `prev_on`, the thread's previous
/// park), since when: the round's stamp (the clock is read by the round's
/// first park only).
#[inline]
pub(crate) fn take_note(prev_on: usize) -> (usize, Stamp, Option<Since>) {
    SLOT.try_with(|s| {
        let on = s.on.replace(0);
        let fresh = s.fresh.replace(true);
        let deadline = Stamp::pack(s.deadline.get(), s);
        let since = (fresh || on != prev_on).then(|| match s.stamp.get() {
            Some(at) => at,
            None => {
                let now = Since::pack(Instant::now(), s);
                if s.open.get() {
                    s.stamp.set(Some(now));
                }
                now
            }
        });
        (on, deadline, since)
    })
    .unwrap_or((0, Stamp::NONE, None))
}

/// A round under way (see [`open_round`]); dropping it ends the round.
pub(crate) struct Round(bool);

/// Starts a round if none is under way (a driver round, or a step from
/// outside any round): its parks share one clock read. The round ends when
/// the returned guard is dropped; a nested call returns a guard that ends
/// nothing.
#[inline]
pub(crate) fn open_round() -> Round {
    Round(SLOT.try_with(|s| !s.open.replace(true)).unwrap_or(false))
}

impl Drop for Round {
    #[inline]
    fn drop(&mut self) {
        if self.0 {
            let _ = SLOT.try_with(|s| {
                s.open.set(false);
                s.stamp.set(None);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What a pack must give: the milliseconds after the epoch, modulo 2^32.
    fn by_subtraction(at: Instant, s: &Slot) -> Since {
        let ms = at.saturating_duration_since(epoch(s)).as_millis();
        Since((ms % (1 << 32)) as u32)
    }

    /// The millisecond kept from the previous pack gives the same value as
    /// the subtraction, inside it, at its edges, after it, and for an
    /// instant before it (the clocks of two runtimes on one OS thread need
    /// not agree).
    #[test]
    fn pack_with_the_kept_millisecond_matches_the_subtraction() {
        SLOT.with(|s| {
            let base = Instant::now();
            let e = epoch(s);
            let off = base.saturating_duration_since(e);
            // The start of base's millisecond after the epoch.
            let ms_start = e + Duration::from_millis(off.as_millis() as u64);
            let steps_us: [i64; 12] = [0, 1, 999, 1000, 1001, 250, -1, -1000, -1001, 5000, 5999, 0];
            for us in steps_us {
                let at = if us >= 0 {
                    ms_start + Duration::from_micros(us as u64)
                } else {
                    ms_start - Duration::from_micros(us.unsigned_abs())
                };
                assert_eq!(Since::pack(at, s), by_subtraction(at, s), "{us} us");
            }
            // An instant before the epoch packs as the epoch.
            let before = e - Duration::from_millis(3);
            assert_eq!(Since::pack(before, s), Since(0));
            assert_eq!(Since::pack(e, s), Since(0));
            assert_eq!(Since::pack(before, s), Since(0));
        });
    }
}
