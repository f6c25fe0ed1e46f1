//! Copas' `timer`: a callback after a delay, once or recurring, run in a
//! Copas thread of its own.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::sched::{
    addnamedthread, pause, removethread, report, seterrorhandler, state, wakeup, ErrorHandler,
    ThreadResult,
};
use crate::error::{Error, ErrorKind, Result};
use crate::Thread;

/// The options of [`Timer::new`] (`copas.timer.new(options)`), but the
/// callback. `params` is what the callback captures.
///
/// # Examples
///
/// ```
/// use sockloop::copas::{self, Timer, TimerOptions};
/// let opts = TimerOptions {
///     name: Some("heartbeat".into()),
///     delay: 30.0,
///     initial_delay: Some(0.0), // the first call at once
///     recurring: true,
///     ..TimerOptions::default() // errorhandler: the thread's
/// };
/// let t = Timer::new(opts, |_: &Timer| {})?;
/// assert_eq!(t.name(), "heartbeat");
/// t.cancel()?;
/// copas::run_loop()?;
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TimerOptions {
    /// `options.name`: the timer thread's name (default `"copas_timer_N"`).
    pub name: Option<String>,
    /// `options.delay`: seconds between the calls (>= 0).
    pub delay: f64,
    /// `options.initial_delay`: seconds before the first call (default
    /// `delay`).
    pub initial_delay: Option<f64>,
    /// `options.recurring`: call again every `delay` seconds until
    /// cancelled.
    pub recurring: bool,
    /// `options.errorhandler`: receives the callback's `Err` or panic (the
    /// timer goes on); default: the thread's error handler.
    pub errorhandler: Option<ErrorHandler>,
}

impl fmt::Debug for TimerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerOptions")
            .field("name", &self.name)
            .field("delay", &self.delay)
            .field("initial_delay", &self.initial_delay)
            .field("recurring", &self.recurring)
            .field("errorhandler", &self.errorhandler.is_some())
            .finish()
    }
}

type Callback = Box<dyn FnMut(&Timer) -> Option<Error>>;

/// A Copas timer (`copas.timer.new(options)`): calls its callback in a
/// thread of its own after a delay, once or every `delay` seconds, until
/// [`cancel`](Timer::cancel)ed. An armed timer keeps the loop running.
/// Cheap to clone: clones share the timer.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use sockloop::copas::{self, Timer, TimerOptions};
///
/// let n = Rc::new(Cell::new(0));
/// let n2 = n.clone();
/// let opts = TimerOptions { delay: 0.01, recurring: true, ..TimerOptions::default() };
/// Timer::new(opts, move |t: &Timer| {
///     n2.set(n2.get() + 1);
///     if n2.get() == 3 {
///         t.cancel()?;
///     }
///     Ok::<(), sockloop::Error>(())
/// })?;
/// copas::run_loop()?;
/// assert_eq!(n.get(), 3);
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Clone)]
pub struct Timer {
    inner: Rc<TimerInner>,
}

struct TimerInner {
    name: String,
    delay: f64,
    recurring: bool,
    errorhandler: Option<ErrorHandler>,
    callback: RefCell<Callback>,
    thread: RefCell<Option<Thread>>,
    cancelled: Cell<bool>,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("name", &self.inner.name)
            .field("delay", &self.inner.delay)
            .field("recurring", &self.inner.recurring)
            .field("armed", &self.is_armed())
            .finish()
    }
}

/// `"invalid_argument"` with Copas' `word` as message and
/// [`luasocket_str`](Error::luasocket_str).
fn copas_error(word: &'static str) -> Error {
    Error::with_message(ErrorKind::InvalidArgument, word).with_word(word)
}

fn bad_delay(what: &str, d: f64) -> Error {
    Error::with_message(
        ErrorKind::InvalidArgument,
        format!("{what} must be greater than or equal to 0, got {d}"),
    )
}

impl Timer {
    /// `copas.timer.new(options)`: a timer, armed at once (its first call
    /// comes after `initial_delay`, default `delay`). `callback(timer)`
    /// may return `()` or a `Result`; an `Err` or a panic goes to the
    /// timer's error handler and the timer goes on.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"`: a negative or NaN delay.
    ///
    /// # Panics
    ///
    /// As [`addthread`](super::addthread).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use sockloop::{clock, copas::{self, Timer, TimerOptions}};
    ///
    /// let fired_at = Rc::new(Cell::new(f64::NAN));
    /// let f = fired_at.clone();
    /// let t0 = clock();
    /// let opts = TimerOptions { delay: 0.02, ..TimerOptions::default() };
    /// Timer::new(opts, move |_: &Timer| f.set(clock()))?;
    /// copas::run_loop()?; // an armed timer keeps the loop running
    /// assert!(fired_at.get() - t0 >= 0.02);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "timer.new")]
    pub fn new<F, R>(options: TimerOptions, mut callback: F) -> Result<Timer>
    where
        F: FnMut(&Timer) -> R + 'static,
        R: ThreadResult,
    {
        if options.delay.is_nan() || options.delay < 0.0 {
            return Err(bad_delay("delay", options.delay));
        }
        let name = match options.name {
            Some(n) => n,
            None => format!("copas_timer_{}", state().next()),
        };
        let t = Timer {
            inner: Rc::new(TimerInner {
                name,
                delay: options.delay,
                recurring: options.recurring,
                errorhandler: options.errorhandler,
                callback: RefCell::new(Box::new(move |t: &Timer| callback(t).into_error())),
                thread: RefCell::new(None),
                cancelled: Cell::new(false),
            }),
        };
        t.arm(options.initial_delay)?;
        Ok(t)
    }

    /// The timer's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::{Timer, TimerOptions};
    /// let t = Timer::new(TimerOptions { delay: 60.0, ..TimerOptions::default() }, |_: &Timer| {})?;
    /// assert!(t.name().starts_with("copas_timer_"));
    /// # t.cancel()?;
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `true` while the timer is armed (its thread runs).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::{self, Timer, TimerOptions};
    /// let t = Timer::new(TimerOptions { delay: 0.01, ..TimerOptions::default() }, |_: &Timer| {})?;
    /// assert!(t.is_armed());
    /// copas::run_loop()?; // one-shot: it fired
    /// assert!(!t.is_armed());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn is_armed(&self) -> bool {
        self.inner
            .thread
            .borrow()
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// `timer:arm([initial_delay])`: arms a timer that was cancelled or
    /// has fired (a one-shot timer may re-arm itself from its callback).
    ///
    /// # Errors
    ///
    /// `"invalid_argument"`: already armed (Copas' `"already armed"`, the
    /// message and [`Error::luasocket_str`]), or a negative or NaN delay.
    ///
    /// # Panics
    ///
    /// As [`addthread`](super::addthread).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use sockloop::copas::{self, Timer, TimerOptions};
    ///
    /// let calls = Rc::new(Cell::new(0));
    /// let c = calls.clone();
    /// // A one-shot timer that re-arms itself twice.
    /// let opts = TimerOptions { delay: 0.01, ..TimerOptions::default() };
    /// let t = Timer::new(opts, move |t: &Timer| {
    ///     c.set(c.get() + 1);
    ///     if c.get() < 3 { t.arm(None) } else { Ok(()) }
    /// })?;
    /// assert_eq!(t.arm(None).unwrap_err().luasocket_str(), "already armed");
    /// copas::run_loop()?;
    /// assert_eq!(calls.get(), 3);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn arm(&self, initial_delay: Option<f64>) -> Result<()> {
        let first = initial_delay.unwrap_or(self.inner.delay);
        if first.is_nan() || first < 0.0 {
            return Err(bad_delay("initial_delay", first));
        }
        if self.is_armed() {
            return Err(copas_error("already armed"));
        }
        self.inner.cancelled.set(false);
        let me = self.clone();
        let t = addnamedthread(&self.inner.name, async move { me.expire(first).await });
        *self.inner.thread.borrow_mut() = Some(t);
        Ok(())
    }

    /// `timer:cancel()`: no more calls; the timer thread ends.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"`: not armed (Copas' `"not armed"`, the message
    /// and [`Error::luasocket_str`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use sockloop::copas::{self, Timer, TimerOptions};
    ///
    /// let fired = Rc::new(Cell::new(false));
    /// let f = fired.clone();
    /// let opts = TimerOptions { delay: 3600.0, ..TimerOptions::default() };
    /// let t = Timer::new(opts, move |_: &Timer| f.set(true))?;
    /// t.cancel()?;
    /// copas::run_loop()?; // returns at once: nothing waits
    /// assert!(!fired.get());
    /// assert_eq!(t.cancel().unwrap_err().luasocket_str(), "not armed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn cancel(&self) -> Result<()> {
        let t = self.inner.thread.borrow_mut().take();
        match t {
            Some(t) if !t.is_finished() && !self.inner.cancelled.get() => {
                self.inner.cancelled.set(true);
                wakeup(&t);
                removethread(&t);
                Ok(())
            }
            _ => Err(copas_error("not armed")),
        }
    }

    /// The timer thread's body.
    async fn expire(&self, first: f64) {
        let i = &self.inner;
        if let Some(h) = &i.errorhandler {
            let h = h.clone();
            let _ = seterrorhandler(move |e, t, s| h(e, t, s), false);
        }
        pause(first).await;
        loop {
            if !i.cancelled.get() {
                if !i.recurring {
                    i.cancelled.set(true);
                    i.thread.borrow_mut().take();
                    self.call();
                    return;
                }
                self.call();
            }
            if i.cancelled.get() {
                return;
            }
            pause(i.delay).await;
        }
    }

    /// Runs the callback; its error or panic goes to the error handler.
    fn call(&self) {
        let r = catch_unwind(AssertUnwindSafe(|| {
            (self.inner.callback.borrow_mut())(self)
        }));
        let err = match r {
            Ok(e) => e,
            Err(p) => Some(crate::panics::panic_error(None, &p)),
        };
        if let (Some(e), Some(me)) = (err, crate::currentthread()) {
            report(&e, &me, None);
        }
    }
}
