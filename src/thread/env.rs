//! [`Env`]: the per-thread typed map (`sock.threadenv`).

use std::any::{Any, TypeId};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fmt;

// ===== impl Env =====

/// A per-thread typed map: one value per type (`sock.threadenv[thread]`).
///
/// Values are reached through [`Thread::env`](crate::Thread::env); a
/// newtype per meaning keeps two values of the same type apart.
///
/// # Examples
///
/// ```
/// #[derive(Clone, Debug, PartialEq)]
/// struct User(&'static str);
///
/// let t = sockloop::newthread(async {
///     let me = sockloop::currentthread().unwrap();
///     me.env().with(|hits: &mut u32| *hits += 1);
/// });
/// t.env().insert(User("ann"));
/// t.env().insert(0u32);
/// sockloop::onthreadfinish(&t, |t| assert_eq!(t.env().get::<u32>(), Some(1)));
/// sockloop::resume(&t, ()).unwrap();
/// ```
#[doc(alias = "threadenv")]
#[derive(Default)]
pub struct Env {
    // Allocated on first insert: most threads never use their env (8
    // bytes in every thread).
    map: OnceCell<Box<RefCell<EnvMap>>>,
}

type EnvMap = HashMap<TypeId, Box<dyn Any>>;

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("len", &self.map.get().map_or(0, |m| m.borrow().len()))
            .finish()
    }
}

impl Env {
    /// Stores `v`, returning the value of the same type it replaces.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {});
    /// assert_eq!(t.env().insert(1u8), None);
    /// assert_eq!(t.env().insert(2u8), Some(1));
    /// ```
    pub fn insert<T: 'static>(&self, v: T) -> Option<T> {
        let old = self
            .map
            .get_or_init(Box::default)
            .borrow_mut()
            .insert(TypeId::of::<T>(), Box::new(v));
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// A clone of the stored value of type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {});
    /// t.env().insert(String::from("worker"));
    /// assert_eq!(t.env().get::<String>().as_deref(), Some("worker"));
    /// assert_eq!(t.env().get::<u32>(), None);
    /// ```
    pub fn get<T: Clone + 'static>(&self) -> Option<T> {
        self.map
            .get()?
            .borrow()
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// Runs `f` on the stored value of type `T`, if any, and returns its
    /// result. Returns `None` without running `f` when no `T` is stored,
    /// or when called from inside another `with` on the same `Env`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {});
    /// t.env().insert(vec![1, 2]);
    /// let len = t.env().with(|v: &mut Vec<i32>| {
    ///     v.push(3);
    ///     v.len()
    /// });
    /// assert_eq!(len, Some(3));
    /// ```
    pub fn with<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut map = self.map.get()?.try_borrow_mut().ok()?;
        let v = map.get_mut(&TypeId::of::<T>())?.downcast_mut::<T>()?;
        Some(f(v))
    }

    /// Removes and returns the stored value of type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {});
    /// t.env().insert(5i64);
    /// assert_eq!(t.env().remove::<i64>(), Some(5));
    /// assert_eq!(t.env().remove::<i64>(), None);
    /// ```
    pub fn remove<T: 'static>(&self) -> Option<T> {
        let old = self.map.get()?.borrow_mut().remove(&TypeId::of::<T>());
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// `true` if a value of type `T` is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = sockloop::newthread(async {});
    /// assert!(!t.env().contains::<bool>());
    /// t.env().insert(true);
    /// assert!(t.env().contains::<bool>());
    /// ```
    pub fn contains<T: 'static>(&self) -> bool {
        self.map
            .get()
            .is_some_and(|m| m.borrow().contains_key(&TypeId::of::<T>()))
    }

    /// Takes every value out (the thread finished). The values are
    /// dropped by the caller, after the borrow is released, so a value
    /// whose `Drop` reads the env finds it empty instead of panicking.
    pub(super) fn take_all(&self) -> Option<EnvMap> {
        self.map.get().map(|m| std::mem::take(&mut *m.borrow_mut()))
    }
}
