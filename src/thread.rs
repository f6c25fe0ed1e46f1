//! Threads: newthread, resume, suspend, transfer, cancel. (Being written.)

/// Consumes a pending cancel of the current sockloop thread: `true` means
/// the caller (a parked sockloop call) must end with `"cancelled"`.
/// Outside a sockloop thread it is always `false`.
pub(crate) fn take_cancel() -> bool {
    false
}
