//! `expires` (absolute [`clock()`](crate::clock) seconds) -> Tokio instants,
//! and the one place that turns an expiry into a `"timeout"` error.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorKind, Result};

/// The process-wide reference instant of `clock()` (where it reads
/// [`offset`]). Shared by every OS thread so an `expires` computed on one
/// thread means the same instant on another.
fn base() -> std::time::Instant {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

/// `clock()` at [`base`]: the system's monotonic clock then (seconds
/// since boot on Linux), so that `clock()` reads like sock.lua's and a
/// relative timeout passed as `expires` is visibly in the past.
fn offset() -> f64 {
    static OFFSET: OnceLock<f64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        let base = base();
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let since_base = std::time::Instant::now().duration_since(base).as_secs_f64();
        mono.tv_sec as f64 + mono.tv_nsec as f64 * 1e-9 - since_base
    })
}

/// Now, on Tokio's clock (paused in tests), as `clock()` seconds.
pub(crate) fn now_secs() -> f64 {
    to_secs(Instant::now())
}

/// A Tokio instant as `clock()` seconds (the inverse of [`to_instant`],
/// up to its rounding to the nanosecond).
fn to_secs(at: Instant) -> f64 {
    let base = base();
    let at = at.into_std();
    let d = match at.checked_duration_since(base) {
        Some(d) => d.as_secs_f64(),
        None => -(base.duration_since(at).as_secs_f64()),
    };
    offset() + d
}

/// Far enough to mean "never" without overflowing `Instant` arithmetic.
const FAR: Duration = Duration::from_secs(86400 * 365 * 30);

/// Converts an absolute `clock()` value to a Tokio instant, rounding up to
/// the next nanosecond so that a deadline never fires early. NaN and +inf
/// mean "no deadline" (`None`); -inf and any past value give a past instant.
pub(crate) fn to_instant(t: f64) -> Option<Instant> {
    if t.is_nan() || t == f64::INFINITY {
        return None;
    }
    let base = base();
    // Exact while `t` is within a factor 2 of the offset (Sterbenz), as
    // every deadline near now is.
    let t = t - offset();
    let at = if t >= 0.0 {
        let d = secs_to_duration_ceil(t).min(FAR);
        base + d
    } else {
        let d = secs_to_duration_ceil(-t).min(FAR);
        base.checked_sub(d).unwrap_or(base)
    };
    Some(Instant::from_std(at))
}

/// `Duration::from_secs_f64`, rounded up, saturating, never panicking.
pub(crate) fn secs_to_duration_ceil(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    if s >= FAR.as_secs_f64() {
        return FAR;
    }
    let whole = s.trunc();
    let nanos = ((s - whole) * 1e9).ceil();
    let (secs, nanos) = if nanos >= 1e9 {
        (whole as u64 + 1, 0)
    } else {
        (whole as u64, nanos as u32)
    };
    Duration::new(secs, nanos)
}

/// The instant `s` seconds from now (rounded up), or `None` for "never".
pub(crate) fn after(s: f64) -> Option<Instant> {
    if s.is_nan() || s == f64::INFINITY {
        return None;
    }
    Some(Instant::now() + secs_to_duration_ceil(s))
}

/// A deadline for a socket call. The Tokio timer is created only when the
/// call actually parks (`poll_expired` after a first `Pending`), so calls
/// that complete at once never touch the timer wheel.
#[derive(Debug)]
#[allow(dead_code)] // the socket layer's
pub(crate) struct Deadline {
    at: Option<Instant>,
    /// Armed on the first park. In a `ManuallyDrop` so that dropping a
    /// deadline that never armed (nearly every call) is one inline test
    /// (see the `Drop` impl): it is always emptied there, nothing leaks.
    sleep: ManuallyDrop<Option<Pin<Box<Sleep>>>>,
}

impl Drop for Deadline {
    #[inline]
    fn drop(&mut self) {
        if self.sleep.is_some() {
            self.drop_sleep();
        }
    }
}

#[allow(dead_code)] // the socket layer's
impl Deadline {
    /// From an `expires` argument.
    #[inline]
    pub(crate) fn new(expires: Option<f64>) -> Deadline {
        Deadline {
            at: expires.and_then(to_instant),
            sleep: ManuallyDrop::new(None),
        }
    }

    /// `true` when there is no deadline.
    /// The deadline as an instant (`None`: none).
    #[inline]
    pub(crate) fn at(&self) -> Option<Instant> {
        self.at
    }

    #[allow(dead_code)] // used by some socket kinds only
    pub(crate) fn is_none(&self) -> bool {
        self.at.is_none()
    }

    /// `true` once the deadline has passed, by the clock itself (never by
    /// the Tokio timer, which the cooperative budget can hold back).
    #[inline]
    pub(crate) fn expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Call when the operation returned `Pending`: reports whether the
    /// deadline has passed and, if not, arms the timer (on first use) so
    /// that `cx`'s waker is woken at the deadline.
    #[inline]
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        match self.at {
            None => false,
            Some(at) => self.poll_expired_at(at, cx),
        }
    }

    /// [`poll_expired`](Deadline::poll_expired) with a deadline: kept out
    /// of line so that the common "no deadline" case costs one test.
    #[inline(never)]
    fn poll_expired_at(&mut self, at: Instant, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= at {
            return true;
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        sleep.as_mut().poll(cx).is_ready()
    }

    /// Drops the armed timer (out of line: rare).
    #[inline(never)]
    fn drop_sleep(&mut self) {
        drop(self.sleep.take());
    }

    /// The `"timeout"` error, at the moment the expiry was seen. See
    /// [`error_seen_at`](Deadline::error_seen_at).
    pub(crate) fn error(&self) -> Error {
        self.error_seen_at(Instant::now())
    }

    /// The `"timeout"` error of a call that saw its deadline passed at
    /// `seen`. A deadline that was already past at the call's first look
    /// at the clock (the timer was never armed) was past when the call
    /// started: then the message says by how much, and that `expires` is
    /// absolute. Worked out here, on the error path only: the calls read
    /// the clock no more often for it and store nothing for it.
    pub(crate) fn error_seen_at(&self, seen: Instant) -> Error {
        match self.at {
            Some(at) if self.sleep.is_none() => late(at, seen),
            _ => Error::timeout(),
        }
    }

    /// Runs `fut` until it finishes or the deadline passes (then
    /// `Err("timeout")`). Cancellation of the current sockloop thread ends
    /// the wait with `Err("cancelled")`.
    pub(crate) async fn run<T, F>(expires: Option<f64>, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let mut fut = std::pin::pin!(fut);
        let mut deadline = Deadline::new(expires);
        std::future::poll_fn(|cx| {
            if crate::thread::take_cancel() {
                return Poll::Ready(Err(Error::cancelled()));
            }
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            if deadline.poll_expired(cx) {
                return Poll::Ready(Err(deadline.error()));
            }
            Poll::Pending
        })
        .await
    }
}

/// How far a deadline must have been in the past when a call started for
/// its `"timeout"` to say so: more than scheduling noise, so that a poll
/// (`expires` = `clock()`, or LuaSocket's `settimeout(0)`) stays a plain
/// `"timeout"`.
const LATE: Duration = Duration::from_millis(10);

/// The `"timeout"` of a call whose deadline `at` was already past when it
/// started (seen so at `seen`, a syscall or two after the start): plain
/// when it was past by at most [`LATE`], else with a message saying how
/// far in the past it was and that `expires` is absolute. When `expires`
/// is nearer to 0 than to now, it looks like a relative time passed by
/// mistake, and the message shows the call that was meant.
#[cold]
#[inline(never)]
fn late(at: Instant, seen: Instant) -> Error {
    let past = seen.saturating_duration_since(at);
    if past <= LATE {
        return Error::timeout();
    }
    let past = past.as_secs_f64();
    let expires = (to_secs(at) * 1e6).round() / 1e6;
    let ago = if past < 1.0 {
        format!("{past:.3}")
    } else {
        format!("{past:.1}")
    };
    let hint = if (0.0..past).contains(&expires) {
        format!("use clock() + {expires:?}")
    } else {
        "a clock() time, such as clock() + 5.0".to_string()
    };
    Error::with_message(
        ErrorKind::Timeout,
        format!(
            "expires was {ago} s in the past when the call started (expires is absolute: {hint})"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_never_rounds_down() {
        assert_eq!(secs_to_duration_ceil(0.0), Duration::ZERO);
        assert_eq!(secs_to_duration_ceil(-1.0), Duration::ZERO);
        assert_eq!(secs_to_duration_ceil(f64::NAN), Duration::ZERO);
        assert!(secs_to_duration_ceil(0.1).as_secs_f64() >= 0.1);
        assert!(secs_to_duration_ceil(1.000_000_000_4) >= Duration::new(1, 1));
        assert_eq!(secs_to_duration_ceil(1e300), FAR);
    }

    #[test]
    fn late_says_how_far_and_shows_the_meant_call() {
        let at = to_instant(5.0).unwrap();
        let e = late(at, at + Duration::from_millis(955_300));
        assert_eq!(e.name(), "timeout");
        assert_eq!(
            e.message(),
            Some(
                "expires was 955.3 s in the past when the call started \
                 (expires is absolute: use clock() + 5.0)"
            )
        );
        let e = late(at, at + Duration::from_millis(250));
        assert!(e.message().unwrap().starts_with("expires was 0.250 s"));
        // An absolute time that is merely old: the general hint.
        let at = to_instant(2000.0).unwrap();
        let e = late(at, at + Duration::from_secs(1500));
        assert!(e
            .message()
            .unwrap()
            .ends_with("(expires is absolute: a clock() time, such as clock() + 5.0)"));
        // A poll's deadline, a few ms old: plain.
        let e = late(at, at + LATE);
        assert_eq!((e.name(), e.message()), ("timeout", None));
    }

    #[test]
    fn infinite_means_no_deadline() {
        assert!(to_instant(f64::INFINITY).is_none());
        assert!(to_instant(f64::NAN).is_none());
        assert!(to_instant(f64::NEG_INFINITY).is_some());
    }
}
