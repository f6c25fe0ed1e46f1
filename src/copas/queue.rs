//! Copas' `queue`: a FIFO of items with waiting `pop`s and worker threads.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::rc::Rc;

use super::sched::{addnamedthread, me, state, wakeup, ThreadResult};
use super::sync::{wait_for, Semaphore, DEFAULT_TIMEOUT};
use crate::error::{Error, ErrorKind, Result};
use crate::{clock, Thread};

/// A Copas queue (`copas.queue.new([options])`): items pushed in, popped
/// out in order; a `pop` on an empty queue waits (FIFO among poppers).
/// Workers ([`add_worker`](Queue::add_worker)) are threads that pop and
/// handle items until the queue is destroyed. Cheap to clone: clones
/// share the queue.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use sockloop::copas::{self, Queue};
///
/// let q = Queue::new(Some("jobs"));
/// let done = Rc::new(RefCell::new(Vec::new()));
/// let d = done.clone();
/// q.add_worker(move |item: u32| {
///     let d = d.clone();
///     async move { d.borrow_mut().push(item * 10) }
/// })?;
/// for i in 1..=3 {
///     q.push(i)?;
/// }
/// let q2 = q.clone();
/// copas::addthread(async move { q2.finish(None, false).await });
/// copas::run_loop()?;
/// assert_eq!(*done.borrow(), [10, 20, 30]);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub struct Queue<T> {
    inner: Rc<QueueInner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

struct QueueInner<T> {
    name: String,
    items: RefCell<VecDeque<T>>,
    /// One resource per item: `pop` takes one.
    sema: Semaphore,
    stopping: Cell<bool>,
    destroyed: Cell<bool>,
    workers: RefCell<Vec<Thread>>,
    worker_id: Cell<u64>,
    /// Threads in `finish`.
    finishers: RefCell<Vec<Thread>>,
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.inner;
        f.debug_struct("Queue")
            .field("name", &q.name)
            .field("size", &q.items.borrow().len())
            .field("stopping", &q.stopping.get())
            .field("destroyed", &q.destroyed.get())
            .finish()
    }
}

fn destroyed(why: &str) -> Error {
    Error::with_message(ErrorKind::Destroyed, why.to_string())
}

impl<T: 'static> Queue<T> {
    /// `copas.queue.new([options])`: a new queue named `name` (default
    /// `"copas_queue_N"`); its workers are named `"<name>:worker_N"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Queue;
    /// let mail: Queue<String> = Queue::new(Some("mail"));
    /// assert_eq!(mail.name(), "mail");
    /// let q: Queue<u32> = Queue::new(None);
    /// assert!(q.name().starts_with("copas_queue_"));
    /// ```
    #[doc(alias = "queue.new")]
    pub fn new(name: Option<&str>) -> Queue<T> {
        let name = match name {
            Some(n) => n.to_string(),
            None => format!("copas_queue_{}", state().next()),
        };
        Queue {
            inner: Rc::new(QueueInner {
                name,
                items: RefCell::new(VecDeque::new()),
                sema: Semaphore::unbounded(),
                stopping: Cell::new(false),
                destroyed: Cell::new(false),
                workers: RefCell::new(Vec::new()),
                worker_id: Cell::new(0),
                finishers: RefCell::new(Vec::new()),
            }),
        }
    }

    /// `queue.name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Queue;
    /// let q: Queue<u8> = Queue::new(Some("jobs"));
    /// assert_eq!(q.name(), "jobs");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `queue:push(item)`: appends `item`; a waiting `pop` gets it.
    ///
    /// # Errors
    ///
    /// `"destroyed"`: the queue is destroyed, or stopping (Copas says
    /// `"stopping"` then, as does [`Error::luasocket_str`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::copas::Queue;
    /// let q = Queue::new(None);
    /// q.push("a")?;
    /// q.push("b")?;
    /// assert_eq!(q.pop(Some(0.0)).await?, "a");
    /// q.stop()?;
    /// let e = q.push("c").unwrap_err();
    /// assert_eq!((e.name(), &*e.luasocket_str()), ("destroyed", "stopping"));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn push(&self, item: T) -> Result<()> {
        let q = &self.inner;
        if q.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        if q.stopping.get() {
            return Err(destroyed("stopping: the queue takes no more items").with_word("stopping"));
        }
        q.items.borrow_mut().push_back(item);
        q.sema.give(None)
    }

    /// `queue:pop([timeout])`: takes the first item, waiting for one at
    /// most `timeout` seconds (`None`: 10 s, Copas' default;
    /// `Some(0.0)`: not at all; `f64::INFINITY`: without end, and then
    /// the waiting thread does not keep the loop running).
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"destroyed"` (before or while waiting),
    /// `"cancelled"`, `"not_in_thread"` (when it has to wait outside a
    /// thread).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no item is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::copas::{self, Queue};
    /// let q = Queue::new(None);
    /// let producer = q.clone();
    /// copas::addthread(async move {
    ///     copas::pause(0.01).await;
    ///     producer.push("job")
    /// });
    /// assert_eq!(q.pop(Some(5.0)).await?, "job"); // waits for the push
    /// assert_eq!(q.pop(Some(0.0)).await.unwrap_err().name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn pop(&self, timeout: Option<f64>) -> Result<T> {
        let q = &self.inner;
        if q.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        q.sema.take(Some(1), timeout).await?;
        let item = q.items.borrow_mut().pop_front();
        let Some(item) = item else {
            return Err(destroyed("destroyed"));
        };
        if q.stopping.get() && q.items.borrow().is_empty() {
            // The last item of a stopping queue: done.
            self.destroy_now();
        }
        Ok(item)
    }

    /// `queue:get_size()`: the number of items in the queue.
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::Queue;
    /// let q = Queue::new(None);
    /// assert_eq!(q.get_size()?, 0);
    /// q.push(1)?;
    /// q.push(2)?;
    /// assert_eq!(q.get_size()?, 2);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn get_size(&self) -> Result<usize> {
        if self.inner.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        Ok(self.inner.items.borrow().len())
    }

    /// `queue:stop()`: takes no more items; the queue destroys itself once
    /// it is empty (at once if it is).
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::copas::Queue;
    /// let q = Queue::new(None);
    /// q.push(1)?;
    /// q.stop()?;
    /// assert_eq!(q.pop(None).await?, 1); // the last item ...
    /// assert_eq!(q.get_size().unwrap_err().name(), "destroyed"); // ... and it is gone
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn stop(&self) -> Result<()> {
        let q = &self.inner;
        if q.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        if !q.stopping.replace(true) && q.items.borrow().is_empty() {
            self.destroy_now();
        }
        Ok(())
    }

    /// `queue:finish([timeout], [no_destroy_on_timeout])`: [`stop`](Queue::stop)s
    /// the queue, then waits until it is empty and destroyed and every
    /// worker has handled its last item, at most `timeout` seconds
    /// (`None`: 10 s; `f64::INFINITY`: without end). On a timeout the
    /// queue is destroyed (what is left is dropped) unless
    /// `no_destroy_on_timeout`.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"destroyed"` (it already was), `"cancelled"`,
    /// `"not_in_thread"`, `"invalid_argument"` (a negative or NaN
    /// timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the queue stays stopped, nothing else changes.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::{cell::RefCell, rc::Rc};
    /// use sockloop::copas::{self, Queue};
    ///
    /// let q = Queue::new(None);
    /// let done = Rc::new(RefCell::new(Vec::new()));
    /// let d = done.clone();
    /// q.add_worker(move |n: u32| {
    ///     let d = d.clone();
    ///     async move {
    ///         copas::pause(0.01).await;
    ///         d.borrow_mut().push(n);
    ///     }
    /// })?;
    /// q.push(1)?;
    /// q.push(2)?;
    /// q.finish(Some(5.0), false).await?; // both handled
    /// assert_eq!(*done.borrow(), [1, 2]);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn finish(&self, timeout: Option<f64>, no_destroy_on_timeout: bool) -> Result<()> {
        let q = &self.inner;
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_nan() || timeout < 0.0 {
            return Err(Error::with_message(
                ErrorKind::InvalidArgument,
                format!("expected the finish timeout to be a number >= 0, got {timeout}"),
            ));
        }
        self.stop()?;
        let me = me("Queue::finish")?;
        let done = || q.destroyed.get() && self.live_workers().is_empty();
        if done() {
            return Ok(());
        }
        q.finishers.borrow_mut().push(me.clone());
        let r = wait_for(clock(), timeout, "Queue::finish", done).await;
        q.finishers.borrow_mut().retain(|t| *t != me);
        if r.as_ref().is_err_and(|e| e.kind() == ErrorKind::Timeout) && !no_destroy_on_timeout {
            self.destroy_now();
        }
        r
    }

    /// `queue:destroy()`: drops what is left, and every waiting `pop`
    /// wakes with `"destroyed"`; workers end.
    ///
    /// # Errors
    ///
    /// `"destroyed"` if it already was.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::copas::Queue;
    /// let q = Queue::new(None);
    /// q.push(1)?;
    /// q.destroy()?; // the item is dropped
    /// assert_eq!(q.pop(None).await.unwrap_err().name(), "destroyed");
    /// assert_eq!(q.destroy().unwrap_err().name(), "destroyed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn destroy(&self) -> Result<()> {
        if self.inner.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        self.destroy_now();
        Ok(())
    }

    fn destroy_now(&self) {
        let q = &self.inner;
        if q.destroyed.replace(true) {
            return;
        }
        let _ = q.sema.destroy();
        q.items.borrow_mut().clear();
        self.wake_finishers();
    }

    fn wake_finishers(&self) {
        let f = self.inner.finishers.borrow().clone();
        for t in &f {
            wakeup(t);
        }
    }

    fn live_workers(&self) -> Vec<Thread> {
        let mut w = self.inner.workers.borrow_mut();
        w.retain(|t| !t.is_finished());
        w.clone()
    }

    /// `queue:add_worker(func)`: a new thread (named `"<name>:worker_N"`)
    /// that pops items without end and runs `worker(item)` for each, until
    /// the queue is destroyed. A worker that returns `Err` (or panics) ends,
    /// and its error goes to the thread's error handler, as in Copas.
    /// Returns the thread.
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use sockloop::copas::{self, Queue};
    ///
    /// let q = Queue::new(Some("jobs"));
    /// let sum = Rc::new(Cell::new(0));
    /// let s = sum.clone();
    /// let w = q.add_worker(move |n: u32| {
    ///     s.set(s.get() + n);
    ///     async {}
    /// })?;
    /// assert_eq!(w.name(), Some("jobs:worker_1"));
    /// for n in 1..=4 {
    ///     q.push(n)?;
    /// }
    /// copas::run_loop()?; // an idle worker does not keep the loop running
    /// assert_eq!(sum.get(), 10);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn add_worker<W, Fut>(&self, mut worker: W) -> Result<Thread>
    where
        W: FnMut(T) -> Fut + 'static,
        Fut: Future + 'static,
        Fut::Output: ThreadResult,
    {
        let q = &self.inner;
        if q.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        let n = q.worker_id.get() + 1;
        q.worker_id.set(n);
        let me = self.clone();
        let t = addnamedthread(&format!("{}:worker_{n}", q.name), async move {
            let mut out = None;
            while let Ok(item) = me.pop(Some(f64::INFINITY)).await {
                if let Some(e) = worker(item).await.into_error() {
                    out = Some(e);
                    break;
                }
            }
            // This thread is still running: forget it before waking `finish`.
            if let Some(cur) = crate::currentthread() {
                me.inner.workers.borrow_mut().retain(|t| *t != cur);
            }
            me.wake_finishers();
            match out {
                Some(e) => Err(e),
                None => Ok(()),
            }
        });
        q.workers.borrow_mut().push(t.clone());
        Ok(t)
    }

    /// `queue:get_workers()`: the worker threads still running.
    ///
    /// # Errors
    ///
    /// `"destroyed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::copas::{self, Queue};
    /// let q: Queue<()> = Queue::new(None);
    /// let w1 = q.add_worker(|_| async {})?;
    /// let w2 = q.add_worker(|_| async {})?;
    /// assert_eq!(q.get_workers()?, [w1.clone(), w2.clone()]);
    /// copas::removethread(&w1);
    /// copas::run_loop()?;
    /// assert_eq!(q.get_workers()?, [w2]);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn get_workers(&self) -> Result<Vec<Thread>> {
        if self.inner.destroyed.get() {
            return Err(destroyed("destroyed"));
        }
        Ok(self.live_workers())
    }
}
