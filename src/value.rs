//! [`Value`]: what `resume`, `suspend`, `transfer` and sleep-job wake-ups
//! pass between threads.

use std::any::Any;

/// A value passed between threads by `resume`, `suspend`, `transfer` and
/// sleep-job wake-ups: Lua's untyped values, type-erased.
///
/// Get the concrete value back with `downcast`:
/// `*v.downcast::<i32>().unwrap()`, or [`Value`]'s `downcast_ref`.
pub type Value = Box<dyn Any>;

/// Boxes `v` as a [`Value`], without boxing twice when `v` already is one.
pub(crate) fn into_value<V: Any>(v: V) -> Value {
    let b: Box<dyn Any> = Box::new(v);
    match b.downcast::<Value>() {
        Ok(inner) => *inner,
        Err(b) => b,
    }
}
