//! Time: clock, sleep, sleep jobs and timers. (Being written.)

/// Seconds on a monotonic clock: the base of every `expires` argument.
///
/// It follows Tokio's clock, so `tokio::time::pause()` drives it in tests.
pub fn clock() -> f64 {
    crate::deadline::now_secs()
}
