//! Scheduler cases sized for `valgrind --tool=callgrind`: one case, run a
//! given number of times, once. `bench/callgrind_sched.sh` runs each case
//! at two counts and divides the difference in instructions by the
//! difference in counts, so start-up and exit cancel out.
//!
//! ```text
//! sched_cg switch-main N     N resume -> suspend round trips, resumed from main
//! sched_cg switch-loop N     the same inside sockloop::run (a thread resuming a thread)
//! sched_cg spawn N           newthread + resume to the end, N times
//! sched_cg tokio-pingpong N  N Notify ping-pong round trips between two spawn_local tasks
//! sched_cg tokio-spawn N     spawn_local + await of an empty task, N times
//! sched_cg sleepers N        N threads asleep in sockloop::sleep: live heap bytes per thread
//! sched_cg tokio-sleepers N  N spawn_local tasks in tokio::time::sleep, likewise
//! ```
//!
//! The heap figure is counted by this binary's allocator (bytes allocated
//! and not yet freed), so it is the same on every run, unlike RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counter is a
// side effect that never touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn switches(n: u64) {
    let t = sockloop::newthread(async {
        loop {
            black_box(sockloop::suspend(()).await);
        }
    });
    sockloop::resume(&t, ()).expect("first resume");
    for _ in 0..n {
        black_box(sockloop::resume(&t, ()).expect("resume"));
    }
    t.cancel();
}

fn spawns(n: u64) {
    for _ in 0..n {
        let t = sockloop::newthread(async {});
        sockloop::resume(&t, ()).expect("resume");
        black_box(&t);
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tokio_pingpong(n: u64) {
    let rt = tokio_rt();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let ping = Rc::new(tokio::sync::Notify::new());
        let pong = Rc::new(tokio::sync::Notify::new());
        let (p2, q2) = (ping.clone(), pong.clone());
        let peer = tokio::task::spawn_local(async move {
            for _ in 0..n {
                p2.notified().await;
                q2.notify_one();
            }
        });
        let driver = tokio::task::spawn_local(async move {
            for _ in 0..n {
                ping.notify_one();
                pong.notified().await;
            }
        });
        driver.await.expect("driver");
        peer.await.expect("peer");
    });
}

fn tokio_spawns(n: u64) {
    let rt = tokio_rt();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        for _ in 0..n {
            tokio::task::spawn_local(async {}).await.expect("task");
        }
    });
}

/// Live heap bytes per sleeping thread.
fn sleepers(n: u64) -> f64 {
    // Warm the loop (its slabs and timer wheel levels) with one sleeper.
    sockloop::thread(async { sockloop::sleep(3600.0).await }).cancel();
    let before = LIVE.load(Ordering::Relaxed);
    let ts: Vec<_> = (0..n)
        .map(|_| sockloop::thread(async { sockloop::sleep(3600.0).await }))
        .collect();
    let after = LIVE.load(Ordering::Relaxed);
    black_box(&ts);
    // The handles' vector is the benchmark's, not the threads'.
    let vec_bytes = (ts.capacity() * std::mem::size_of_val(&ts[0])) as isize;
    (after - before - vec_bytes) as f64 / n as f64
}

fn tokio_sleepers(n: u64) -> f64 {
    let rt = tokio_rt();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        tokio::task::spawn_local(tokio::time::sleep(Duration::from_secs(3600)));
        tokio::task::yield_now().await;
        let before = LIVE.load(Ordering::Relaxed);
        let hs: Vec<_> = (0..n)
            .map(|_| tokio::task::spawn_local(tokio::time::sleep(Duration::from_secs(3600))))
            .collect();
        // Let every task run once so that each sleep is registered.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let after = LIVE.load(Ordering::Relaxed);
        black_box(&hs);
        let vec_bytes = (hs.capacity() * std::mem::size_of_val(&hs[0])) as isize;
        (after - before - vec_bytes) as f64 / n as f64
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map(String::as_str).unwrap_or("");
    let n: u64 = match args.get(2).map(|s| s.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: sched_cg CASE COUNT (see the file's header)");
            std::process::exit(2);
        }
    };
    match case {
        "switch-main" => switches(n),
        "switch-loop" => sockloop::run(async move { switches(n) }),
        "spawn" => spawns(n),
        "tokio-pingpong" => tokio_pingpong(n),
        "tokio-spawn" => tokio_spawns(n),
        "sleepers" => println!("heap_bytes_per_thread {:.1}", sleepers(n)),
        "tokio-sleepers" => println!("heap_bytes_per_thread {:.1}", tokio_sleepers(n)),
        _ => {
            eprintln!("unknown case {case:?} (see the file's header)");
            std::process::exit(2);
        }
    }
}
