//! [`Value`]: what `resume`, `suspend`, `transfer` and sleep-job wake-ups
//! pass between threads.

use std::any::{Any, TypeId};
use std::fmt;

use crate::error::{Error, ErrorKind, Result};

/// A value passed between threads by [`resume`](crate::resume),
/// [`suspend`](crate::suspend), [`transfer`](crate::transfer) and sleep-job
/// wake-ups: Lua's untyped values, type-erased, that remember what they
/// are.
///
/// Any `'static` value goes in ([`Value::new`], or the `v` of `resume`);
/// several values travel as a tuple, Lua's `nil` as `()`. The receiver
/// takes it out by type with [`get`](Value::get), whose error names both
/// types when they differ: `"wrong_type"`, `expected u64, got i32`.
/// `Debug` shows the type, and the value for the common printable types.
///
/// A `Value` is not `Send` (its content need not be); a value for another
/// OS thread goes through [`RemoteThread::resume`](crate::RemoteThread::resume)
/// or [`RemoteSleepJob::wakeup`](crate::RemoteSleepJob::wakeup), which take
/// `Send` values.
///
/// # Examples
///
/// ```
/// use sockloop::Value;
///
/// let v = Value::new(42);                    // an i32
/// assert!(v.is::<i32>());
/// assert_eq!(format!("{v:?}"), "Value { type: i32, value: 42 }");
///
/// let e = v.get::<u64>().unwrap_err();       // the wrong type: a named error
/// assert_eq!(e.name(), "wrong_type");
/// assert_eq!(e.message(), Some("expected u64, got i32"));
///
/// let (a, b) = Value::new((1, "two")).get::<(i32, &str)>().unwrap();
/// assert_eq!((a, b), (1, "two"));
/// ```
pub struct Value(Box<dyn Erased>);

/// `Any` plus the name of the type, read through the vtable so that a
/// `Value` stays two words.
trait Erased: Any {
    fn type_name(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any> Erased for T {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Boxes `v` as a [`Value`], without boxing twice when `v` already is one.
pub(crate) fn into_value<V: Any>(v: V) -> Value {
    Value::new(v)
}

impl Value {
    /// Wraps `v`. A `Value` given here is returned as it is, not wrapped
    /// twice.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = sockloop::Value::new(String::from("hi"));
    /// let again = sockloop::Value::new(v); // still the String, not a Value in a Value
    /// assert_eq!(again.get::<String>().unwrap(), "hi");
    /// ```
    pub fn new<T: Any>(v: T) -> Value {
        if TypeId::of::<T>() == TypeId::of::<Value>() {
            let b: Box<dyn Any> = Box::new(v);
            return b.downcast::<Value>().map_or_else(lost, |inner| *inner);
        }
        Value(Box::new(v))
    }

    /// Takes the value out as a `T`.
    ///
    /// `get::<Value>()` returns the value itself.
    ///
    /// # Errors
    ///
    /// `"wrong_type"` when the value is not a `T`; the message names both
    /// types (`expected u64, got i32`), and the value is dropped. To keep
    /// it on a mismatch, use [`downcast`](Value::downcast).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {
    ///     let v = sockloop::suspend(()).await;
    ///     let e = v.get::<u64>().unwrap_err();     // resumed with an i32
    ///     assert_eq!(e.to_string(), "wrong_type: expected u64, got i32");
    /// });
    /// sockloop::resume(&t, ()).unwrap();
    /// sockloop::resume(&t, 5).unwrap();
    /// assert!(t.is_finished() && !t.is_panicked());
    /// ```
    pub fn get<T: Any>(self) -> Result<T> {
        match self.downcast::<T>() {
            Ok(b) => Ok(*b),
            Err(v) => Err(v.mismatch::<T>()),
        }
    }

    /// Takes the value out as a `Box<T>`, or gives it back unchanged when
    /// it is not a `T` (like `Box<dyn Any>::downcast`).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = sockloop::Value::new(7u8);
    /// let v = v.downcast::<i64>().unwrap_err(); // not an i64: kept
    /// assert_eq!(*v.downcast::<u8>().unwrap(), 7);
    /// ```
    pub fn downcast<T: Any>(self) -> std::result::Result<Box<T>, Value> {
        if TypeId::of::<T>() == TypeId::of::<Value>() {
            let b: Box<dyn Any> = Box::new(self);
            return b.downcast::<T>().map_err(lost);
        }
        if !(*self.0).as_any().is::<T>() {
            return Err(self);
        }
        Erased::into_any(self.0).downcast::<T>().map_err(lost)
    }

    /// A reference to the value if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = sockloop::Value::new(vec![1, 2, 3]);
    /// assert_eq!(v.downcast_ref::<Vec<i32>>().map(Vec::len), Some(3));
    /// assert!(v.downcast_ref::<String>().is_none());
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        if TypeId::of::<T>() == TypeId::of::<Value>() {
            return (self as &dyn Any).downcast_ref::<T>();
        }
        (*self.0).as_any().downcast_ref::<T>()
    }

    /// A mutable reference to the value if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut v = sockloop::Value::new(1u32);
    /// *v.downcast_mut::<u32>().unwrap() += 1;
    /// assert_eq!(v.get::<u32>().unwrap(), 2);
    /// ```
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        if TypeId::of::<T>() == TypeId::of::<Value>() {
            return (self as &mut dyn Any).downcast_mut::<T>();
        }
        (*self.0).as_any_mut().downcast_mut::<T>()
    }

    /// `true` if the value is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = sockloop::Value::new("text");
    /// assert!(v.is::<&str>());
    /// assert!(!v.is::<String>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }

    /// The full name of the value's type, as `std::any::type_name` gives
    /// it (`"alloc::string::String"`, `"i32"`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(sockloop::Value::new(1.5f64).type_name(), "f64");
    /// assert!(sockloop::Value::new(String::new()).type_name().ends_with("String"));
    /// ```
    pub fn type_name(&self) -> &'static str {
        // Every call goes through `*self.0`: the box itself is `Any` too,
        // and method lookup would pick its impl first.
        (*self.0).type_name()
    }

    /// The [`TypeId`] of the value's type: one look instead of one
    /// [`is`](Value::is) per candidate, for code that dispatches on many
    /// types (a bridge converting values to another language).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::TypeId;
    /// let v = sockloop::Value::new(2.5f64);
    /// assert_eq!(v.type_id(), TypeId::of::<f64>());
    /// assert_ne!(v.type_id(), TypeId::of::<sockloop::Value>());
    /// ```
    pub fn type_id(&self) -> TypeId {
        // Through `*self.0`, as in `type_name`: the box is `Any` too.
        (*self.0).as_any().type_id()
    }

    /// The value as a plain `Box<dyn Any>` (its type name is lost).
    ///
    /// # Examples
    ///
    /// ```
    /// let any = sockloop::Value::new(5i16).into_any();
    /// assert_eq!(*any.downcast::<i16>().unwrap(), 5);
    /// ```
    pub fn into_any(self) -> Box<dyn Any> {
        Erased::into_any(self.0)
    }

    /// The `"wrong_type"` error for a `T` asked of this value.
    fn mismatch<T: Any>(&self) -> Error {
        Error::with_message(
            ErrorKind::WrongType,
            format!(
                "expected {}, got {}",
                short_type_name(std::any::type_name::<T>()),
                short_type_name(self.type_name())
            ),
        )
    }
}

/// The other side of a downcast whose type was checked just before, which
/// cannot fail: the box is kept as an opaque value instead of panicking.
fn lost(b: Box<dyn Any>) -> Value {
    Value(Box::new(b))
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = short_type_name(self.type_name());
        let mut d = f.debug_struct("Value");
        d.field("type", &format_args!("{name}"));
        macro_rules! printable {
            ($($t:ty),* $(,)?) => {
                $(
                    if let Some(v) = self.downcast_ref::<$t>() {
                        return d.field("value", v).finish();
                    }
                )*
            };
        }
        printable!(
            (),
            bool,
            char,
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            f32,
            f64,
            &'static str,
            String,
            Vec<u8>,
            std::time::Duration,
            std::net::SocketAddr,
            std::net::IpAddr,
            crate::SockAddr,
            Error,
        );
        d.finish_non_exhaustive()
    }
}

/// `type_name` without module paths: `alloc::string::String` -> `String`,
/// `core::option::Option<alloc::vec::Vec<u8>>` -> `Option<Vec<u8>>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    // Where the path being read starts in `out`: a `::` cuts it back.
    let mut start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(start);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                start = out.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("core::option::Option<alloc::vec::Vec<u8>>"),
            "Option<Vec<u8>>"
        );
        assert_eq!(short_type_name("(i32, &str)"), "(i32, &str)");
        assert_eq!(short_type_name("dyn core::any::Any"), "dyn Any");
        assert_eq!(short_type_name("[u8; 4]"), "[u8; 4]");
    }

    #[test]
    fn value_is_two_words() {
        assert_eq!(
            std::mem::size_of::<Value>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn a_value_of_a_value_is_not_nested() {
        let v = Value::new(Value::new(3u8));
        assert_eq!(v.type_name(), "u8");
        assert!(v.is::<Value>());
        let inner: Value = v.get().unwrap();
        assert_eq!(inner.get::<u8>().unwrap(), 3);
    }
}
