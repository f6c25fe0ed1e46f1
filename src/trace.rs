//! (private) The `tracing` shim: with the `tracing` feature these macros
//! are `tracing`'s own (target = the calling module's path); without it
//! they expand to nothing, so no code runs and no field is evaluated.

/// A `debug`-level event (thread lifecycle).
#[cfg(feature = "tracing")]
macro_rules! debug_event {
    ($($t:tt)*) => { ::tracing::debug!($($t)*) };
}

/// A `debug`-level event (thread lifecycle): nothing without `tracing`.
#[cfg(not(feature = "tracing"))]
macro_rules! debug_event {
    ($($t:tt)*) => {};
}

pub(crate) use debug_event;
