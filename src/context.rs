//! The per-OS-thread loop: its state, behind this file's one
//! `thread_local!` (`LOOP`, and `LOOP_ID` beside it so a waker can tell
//! "same loop" without touching the loop).
//!
//! Nothing outside this file touches the thread-local; everything goes
//! through [`with_loop`]. The loop holds the thread slab, the FIFO ready
//! queue (plus [`Remote`], the locked queue through which other OS threads
//! wake threads and post commands), the driver's waker, the counters that
//! decide when `start()` returns and the failures it reports; and, as
//! values whose code lives in their own files, the timer queue
//! (`timers`), the Tokio runtime (`rt`) and the compatibility layers'
//! state (`layers`); its `Drop` says in which order they go.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;

use parking_lot::Mutex;

use crate::layers::Layers;
use crate::panics::Failure;
use crate::rt::LoopRt;
use crate::thread::ThreadInner;
use crate::timers::{TimerHost, TimerQueue};
use crate::value::Value;

static NEXT_LOOP_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This OS thread's loop id, 0 until the loop is made. Kept apart from
    /// `LOOP` so a waker can tell "same loop" without touching the loop.
    static LOOP_ID: Cell<usize> = const { Cell::new(0) };
    static LOOP: Loop = Loop::new();
}

/// Runs `f` with this OS thread's loop, creating it on first use.
pub(crate) fn with_loop<R>(f: impl FnOnce(&Loop) -> R) -> R {
    LOOP.with(f)
}

/// Like [`with_loop`], but `None` while the thread-local is being destroyed.
pub(crate) fn try_with_loop<R>(f: impl FnOnce(&Loop) -> R) -> Option<R> {
    LOOP.try_with(f).ok()
}

/// A thread's slab key: index in the low 32 bits, generation in the high.
pub(crate) type Key = u64;

fn key(index: usize, gen: u32) -> Key {
    (u64::from(gen) << 32) | index as u64
}

/// The part of a loop that other OS threads may touch: the remote ready
/// queue and the driver's waker.
#[derive(Debug)]
pub(crate) struct Remote {
    loop_id: usize,
    pending: AtomicBool,
    state: Mutex<RemoteState>,
}

/// A closure posted from another OS thread, run on the loop's thread.
pub(crate) type Command = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct RemoteState {
    queue: Vec<Key>,
    cmds: Vec<Command>,
    driver: Option<Waker>,
}

impl std::fmt::Debug for RemoteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteState")
            .field("queue", &self.queue.len())
            .field("cmds", &self.cmds.len())
            .finish()
    }
}

impl Remote {
    /// `true` on the loop's own OS thread.
    pub(crate) fn is_local(&self) -> bool {
        LOOP_ID.try_with(Cell::get).ok() == Some(self.loop_id)
    }

    /// Queues `key` for this loop from whatever OS thread the caller is on.
    pub(crate) fn wake(&self, key: Key) {
        if LOOP_ID.try_with(Cell::get).ok() == Some(self.loop_id) {
            let done = try_with_loop(|l| l.push_ready(key)).is_some();
            if done {
                return;
            }
        }
        let driver = {
            let mut st = self.state.lock();
            st.queue.push(key);
            st.driver.clone()
        };
        self.pending.store(true, Ordering::Release);
        if let Some(w) = driver {
            w.wake();
        }
    }

    /// Runs `f` on the loop's OS thread, at its driver's next round (or
    /// the next `start`/`run`/`poll`). Callable from any OS thread.
    pub(crate) fn post(&self, f: Command) {
        let driver = {
            let mut st = self.state.lock();
            st.cmds.push(f);
            st.driver.clone()
        };
        self.pending.store(true, Ordering::Release);
        if let Some(w) = driver {
            w.wake();
        }
    }

    fn take_queue(&self) -> (Vec<Key>, Vec<Command>) {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return (Vec::new(), Vec::new());
        }
        let mut st = self.state.lock();
        (std::mem::take(&mut st.queue), std::mem::take(&mut st.cmds))
    }

    fn set_driver(&self, waker: Option<&Waker>) {
        let mut st = self.state.lock();
        match (waker, &st.driver) {
            (Some(w), Some(old)) if old.will_wake(w) => {}
            (w, _) => st.driver = w.cloned(),
        }
    }
}

#[derive(Default)]
struct Slab {
    slots: Vec<(u32, Option<Rc<ThreadInner>>)>,
    free: Vec<usize>,
    live: usize,
}

/// One OS thread's sockloop loop.
pub(crate) struct Loop {
    remote: Arc<Remote>,
    slab: RefCell<Slab>,
    ready: RefCell<VecDeque<Key>>,
    /// The sockloop thread being polled right now.
    current: RefCell<Option<Rc<ThreadInner>>>,
    /// A `transfer` waiting for the trampoline in `thread::step`.
    pub(crate) transfer: Cell<Option<(Rc<ThreadInner>, Value)>>,
    pub(crate) timers: RefCell<TimerQueue>,
    /// Threads parked on I/O, a sleep or a timer.
    waiting: Cell<usize>,
    /// Live `runat`/`runafter`/`runevery` timers.
    jobs: Cell<usize>,
    pub(crate) stop: Cell<bool>,
    /// `socketloop::stop()`/`socket2::stop()`: ends those layers' `start`
    /// loops, which run `poll` rounds (each round clears `stop`).
    pub(crate) compat_stop: Cell<bool>,
    /// A driver task is spawned on a caller's `LocalSet` (embedded mode).
    pub(crate) embedded: Cell<bool>,
    driver: RefCell<Option<Waker>>,
    driver_notified: Cell<bool>,
    /// A step ran down Tokio's cooperative budget (see
    /// `thread::step`): the driver must let Tokio run before it steps
    /// the thread again.
    pub(crate) out_of_budget: Cell<bool>,
    /// Panics and unjoined `Err`s for the next `start`/`run`/`poll` to report.
    failures: RefCell<Vec<Failure>>,
    /// The Tokio runtime the loop blocks on (dropped after the futures).
    pub(crate) rt: LoopRt,
    /// The loop-wide state of the compatibility layers (Copas).
    pub(crate) layers: Layers,
}

impl Loop {
    fn new() -> Loop {
        let id = NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed);
        let _ = LOOP_ID.try_with(|c| c.set(id));
        Loop {
            remote: Arc::new(Remote {
                loop_id: id,
                pending: AtomicBool::new(false),
                state: Mutex::new(RemoteState::default()),
            }),
            slab: RefCell::default(),
            ready: RefCell::default(),
            current: RefCell::new(None),
            transfer: Cell::new(None),
            timers: RefCell::default(),
            waiting: Cell::new(0),
            jobs: Cell::new(0),
            stop: Cell::new(false),
            compat_stop: Cell::new(false),
            embedded: Cell::new(false),
            driver: RefCell::new(None),
            driver_notified: Cell::new(false),
            out_of_budget: Cell::new(false),
            failures: RefCell::default(),
            rt: LoopRt::default(),
            layers: Layers::default(),
        }
    }

    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    // ===== threads =====

    /// Adds a thread made by `make(key)` to the slab.
    pub(crate) fn insert_thread(
        &self,
        make: impl FnOnce(Key) -> Rc<ThreadInner>,
    ) -> Rc<ThreadInner> {
        let mut slab = self.slab.borrow_mut();
        let index = match slab.free.pop() {
            Some(i) => i,
            None => {
                slab.slots.push((0, None));
                slab.slots.len() - 1
            }
        };
        let gen = slab.slots[index].0;
        let t = make(key(index, gen));
        slab.slots[index].1 = Some(t.clone());
        slab.live += 1;
        t
    }

    /// Removes a finished thread from the slab.
    pub(crate) fn remove_thread(&self, k: Key) -> Option<Rc<ThreadInner>> {
        let index = (k & 0xffff_ffff) as usize;
        let gen = (k >> 32) as u32;
        let mut slab = self.slab.borrow_mut();
        let slot = slab.slots.get_mut(index)?;
        if slot.0 != gen {
            return None;
        }
        let t = slot.1.take();
        slot.0 = slot.0.wrapping_add(1);
        if t.is_some() {
            slab.free.push(index);
            slab.live -= 1;
        }
        t
    }

    pub(crate) fn get_thread(&self, k: Key) -> Option<Rc<ThreadInner>> {
        let index = (k & 0xffff_ffff) as usize;
        let gen = (k >> 32) as u32;
        let slab = self.slab.borrow();
        match slab.slots.get(index) {
            Some((g, Some(t))) if *g == gen => Some(t.clone()),
            _ => None,
        }
    }

    /// Drops every thread (their futures) and timer; used at loop teardown.
    fn clear(&self) {
        let slots = std::mem::take(&mut self.slab.borrow_mut().slots);
        drop(slots);
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        drop(timers);
    }

    /// Every live thread.
    pub(crate) fn threads(&self) -> Vec<Rc<ThreadInner>> {
        let slab = self.slab.borrow();
        slab.slots.iter().filter_map(|s| s.1.clone()).collect()
    }

    pub(crate) fn current(&self) -> Option<Rc<ThreadInner>> {
        self.current.borrow().clone()
    }

    /// `f` on the current thread without cloning the `Rc`.
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(Option<&Rc<ThreadInner>>) -> R) -> R {
        f(self.current.borrow().as_ref())
    }

    pub(crate) fn set_current(&self, t: Option<Rc<ThreadInner>>) -> Option<Rc<ThreadInner>> {
        self.current.replace(t)
    }

    pub(crate) fn waiting_add(&self, d: isize) {
        self.waiting.set(self.waiting.get().wrapping_add_signed(d));
    }

    pub(crate) fn jobs_add(&self, d: isize) {
        self.jobs.set(self.jobs.get().wrapping_add_signed(d));
    }

    /// Nothing will ever wake a thread: no thread waits, no timer job is
    /// live, nothing is queued.
    pub(crate) fn idle(&self) -> bool {
        self.waiting.get() == 0
            && self.jobs.get() == 0
            && self.ready.borrow().is_empty()
            && !self.remote.pending.load(Ordering::Acquire)
    }

    // ===== ready queue and driver =====

    pub(crate) fn push_ready(&self, k: Key) {
        self.ready.borrow_mut().push_back(k);
        self.notify_driver();
    }

    pub(crate) fn pop_ready(&self) -> Option<Key> {
        self.drain_remote();
        self.ready.borrow_mut().pop_front()
    }

    pub(crate) fn ready_len(&self) -> usize {
        self.drain_remote();
        self.ready.borrow().len()
    }

    /// Keeps only the queued wake-ups for which `keep` is `true`.
    pub(crate) fn retain_ready(&self, keep: impl FnMut(&Key) -> bool) {
        self.drain_remote();
        self.ready.borrow_mut().retain(keep);
    }

    /// Moves wake-ups from other OS threads onto the local queue and runs
    /// the commands they posted (no loop borrow is held meanwhile).
    /// Takes what other OS threads queued (one load when nothing was).
    #[inline]
    fn drain_remote(&self) {
        if self.remote.pending.load(Ordering::Acquire) {
            self.drain_remote_slow();
        }
    }

    #[inline(never)]
    fn drain_remote_slow(&self) {
        let (keys, cmds) = self.remote.take_queue();
        self.ready.borrow_mut().extend(keys);
        for cmd in cmds {
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(cmd)) {
                self.record_panic(p);
            }
        }
    }

    fn notify_driver(&self) {
        if self.driver_notified.replace(true) {
            return;
        }
        if let Some(w) = self.driver.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Called by a driver at the top of its poll.
    pub(crate) fn driver_enter(&self, waker: &Waker) {
        {
            let mut d = self.driver.borrow_mut();
            match d.as_ref() {
                Some(old) if old.will_wake(waker) => {}
                _ => {
                    *d = Some(waker.clone());
                    self.remote.set_driver(Some(waker));
                }
            }
        }
        self.driver_notified.set(true);
    }

    /// [`driver_enter`](Loop::driver_enter) by a driver whose waker is
    /// registered already.
    pub(crate) fn driver_reenter(&self) {
        self.driver_notified.set(true);
    }

    /// Called by a driver before it returns `Pending`: later wakes notify it.
    pub(crate) fn driver_park(&self) {
        self.driver_notified.set(false);
    }

    /// Called by a driver that finishes.
    pub(crate) fn driver_exit(&self) {
        *self.driver.borrow_mut() = None;
        self.remote.set_driver(None);
        self.driver_notified.set(false);
    }

    // ===== failures =====

    /// A panic outside any thread (a timer callback, a finish hook, a
    /// command posted from another OS thread).
    pub(crate) fn record_panic(&self, p: Box<dyn Any + Send>) {
        self.record_failure(Failure::Panic(None, p));
    }

    pub(crate) fn record_failure(&self, f: Failure) {
        // A handle dropped while the list is being taken loses its report
        // rather than panicking in a `Drop`.
        if let Ok(mut v) = self.failures.try_borrow_mut() {
            v.push(f);
        }
    }

    pub(crate) fn take_failures(&self) -> Vec<Failure> {
        std::mem::take(&mut *self.failures.borrow_mut())
    }
}

impl TimerHost for Loop {
    #[inline]
    fn timers(&self) -> &RefCell<TimerQueue> {
        &self.timers
    }

    fn job_ended(&self) {
        self.jobs_add(-1);
    }

    fn timer_panicked(&self, p: Box<dyn Any + Send>) {
        self.record_panic(p);
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // Dropped while it runs or steps a thread: the process is exiting
        // from inside the loop (`std::process::exit`, Lua's `os.exit`),
        // and C's `exit` runs this thread's TLS destructors on the stack
        // of `block_on`. Tokio cannot shut a runtime down from inside its
        // own `block_on` (it panics, and a panic here aborts), and the
        // threads' futures may reach for this very TLS value: leave it
        // all to the OS, which is about to take the whole process.
        if self.rt.running.get() || self.current.get_mut().is_some() {
            std::mem::forget(std::mem::take(&mut self.slab.get_mut().slots));
            std::mem::forget(std::mem::take(self.timers.get_mut()));
            self.layers.forget();
            std::mem::forget(self.current.get_mut().take());
            std::mem::forget(self.transfer.get_mut().take());
            self.rt.forget();
            return;
        }
        // Futures first (they may hold sockets registered with the
        // runtime), then the runtime itself.
        self.clear();
        self.layers.clear();
        self.current.get_mut().take();
        self.transfer.get_mut().take();
    }
}
