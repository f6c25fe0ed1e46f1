//! The loop-wide state of the compatibility layers (Copas' thread names,
//! error handlers and parked threads, its server list): one value per
//! type, made on first use. The loop holds the store, so these values are
//! dropped after the threads' futures and before the runtime, and are
//! left alone, as the futures are, when the process exits from inside
//! the loop.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

/// A type-keyed store of `Rc` values.
#[derive(Default)]
pub(crate) struct Layers {
    values: RefCell<Vec<Rc<dyn Any>>>,
}

impl Layers {
    /// The value of type `T`, made with `T::default()` on first use. The
    /// borrow ends before this returns, so `T`'s methods may call back
    /// into the loop.
    pub(crate) fn get<T: Default + 'static>(&self) -> Rc<T> {
        if let Some(t) = self
            .values
            .borrow()
            .iter()
            .find_map(|l| l.clone().downcast::<T>().ok())
        {
            return t;
        }
        let t = Rc::new(T::default());
        self.values.borrow_mut().push(t.clone());
        t
    }

    /// Drops every value (at loop teardown, after the threads).
    pub(crate) fn clear(&mut self) {
        self.values.get_mut().clear();
    }

    /// Leaves every value to the OS (the process exits from inside the
    /// loop; see the loop's `Drop`).
    pub(crate) fn forget(&mut self) {
        std::mem::forget(std::mem::take(self.values.get_mut()));
    }
}
