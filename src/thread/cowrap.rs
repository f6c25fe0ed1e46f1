//! Generators: `cowrap`, [`CoWrap`] and its [`Yielder`].

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

// ===== cowrap =====

/// A generator made by [`cowrap`]: each `next` resumes the generator's
/// body until it yields a value (or finishes).
///
/// As a [`futures_core::Stream`] (or with [`CoWrap::next`]) the body may also
/// wait on I/O and timers; as an [`Iterator`] it must only yield: a body
/// that would wait ends the iteration.
///
/// # Send
///
/// Not `Send`: the body need not be.
///
/// # Examples
///
/// ```
/// let mut evens = sockloop::cowrap(|y| async move {
///     for i in (0..).step_by(2) {
///         y.yield_(i).await;
///     }
/// });
/// assert_eq!(Iterator::next(&mut evens), Some(0)); // not the async `CoWrap::next`
/// assert_eq!(evens.take(3).collect::<Vec<_>>(), [2, 4, 6]);
/// ```
pub struct CoWrap<T> {
    fut: Option<Pin<Box<dyn Future<Output = ()>>>>,
    slot: Rc<Cell<Option<T>>>,
}

super::output::generic_outputs!(CoWrap<T>);

impl<T> fmt::Debug for CoWrap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoWrap")
            .field("finished", &self.fut.is_none())
            .finish()
    }
}

/// The handle a [`cowrap`] body yields values through (`sock.yield(v)`
/// inside a `sock.cowrap` function). Clone it to yield from helpers.
///
/// # Examples
///
/// ```
/// async fn twice(y: &sockloop::Yielder<&'static str>, v: &'static str) {
///     y.yield_(v).await;
///     y.yield_(v).await;
/// }
/// let g = sockloop::cowrap(|y| async move {
///     twice(&y, "a").await;
///     twice(&y, "b").await;
/// });
/// assert_eq!(g.collect::<Vec<_>>(), ["a", "a", "b", "b"]);
/// ```
pub struct Yielder<T> {
    slot: Rc<Cell<Option<T>>>,
}

impl<T> fmt::Debug for Yielder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Yielder")
    }
}

impl<T> Clone for Yielder<T> {
    fn clone(&self) -> Self {
        Yielder {
            slot: self.slot.clone(),
        }
    }
}

impl<T> Yielder<T> {
    /// Hands `v` to the consumer and parks until it asks for the next value
    /// (`coroutine.yield(v)` in a `sock.cowrap` function; `yield` is a Rust
    /// keyword).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the consumer took `v` loses `v`.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = sockloop::cowrap(|y| async move { y.yield_("only").await });
    /// assert_eq!(g.collect::<Vec<_>>(), ["only"]);
    /// ```
    #[doc(alias = "yield")]
    pub async fn yield_(&self, v: T) {
        self.slot.set(Some(v));
        let slot = &self.slot;
        std::future::poll_fn(|_cx| {
            // Parked until the consumer took the value and polls again.
            let v = slot.take();
            match v {
                Some(v) => {
                    slot.set(Some(v));
                    Poll::Pending
                }
                None => Poll::Ready(()),
            }
        })
        .await
    }
}

/// Makes a generator from `f` (`sock.cowrap`): `f` gets a [`Yielder`] and
/// yields values through it; the returned [`CoWrap`] produces them.
///
/// The generator runs inline in whoever consumes it, like Lua's
/// `coroutine.wrap`, so it can be used both as an `Iterator` (pure
/// generators) and as a `Stream` (generators that also do I/O).
///
/// # Examples
///
/// ```
/// let squares = sockloop::cowrap(|y| async move {
///     for i in 1..=4u32 {
///         y.yield_(i * i).await;
///     }
/// });
/// assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
/// ```
pub fn cowrap<T, F, Fut>(f: F) -> CoWrap<T>
where
    T: 'static,
    F: FnOnce(Yielder<T>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let slot = Rc::new(Cell::new(None));
    let fut = f(Yielder { slot: slot.clone() });
    CoWrap {
        fut: Some(Box::pin(fut)),
        slot,
    }
}

impl<T> CoWrap<T> {
    fn poll_gen(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(None);
        };
        match fut.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fut = None;
                Poll::Ready(self.slot.take())
            }
            Poll::Pending => match self.slot.take() {
                Some(v) => Poll::Ready(Some(v)),
                None => Poll::Pending,
            },
        }
    }

    /// The next value, waiting while the body waits on I/O or timers;
    /// `None` when the body has finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a value is taken only when returned.
    ///
    /// # Examples
    ///
    /// ```
    /// sockloop::run(async {
    ///     let mut ticks = sockloop::cowrap(|y| async move {
    ///         for i in 0..3 {
    ///             sockloop::sleep(0.001).await;       // a generator that waits
    ///             y.yield_(i).await;
    ///         }
    ///     });
    ///     let mut got = Vec::new();
    ///     while let Some(i) = ticks.next().await {
    ///         got.push(i);
    ///     }
    ///     assert_eq!(got, [0, 1, 2]);
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_gen(cx)).await
    }
}

impl<T> Iterator for CoWrap<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.poll_gen(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => {
                // The body waits on something only a loop can deliver:
                // a synchronous iterator cannot wait, so it ends here.
                self.fut = None;
                None
            }
        }
    }
}

impl<T> futures_core::Stream for CoWrap<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_gen(cx)
    }
}

impl<T> Unpin for CoWrap<T> {}
