//! Scheduler primitives against bare Tokio, measured in the same run.
//!
//! `cargo bench --bench sched` prints a table; BENCHMARKS.md records it.
//!
//! * switch: one `resume` -> `suspend` round trip, against a `Notify`
//!   ping-pong between two `spawn_local` tasks (one hand-off each way).
//! * spawn: `newthread` + resume to the end, against `spawn_local` of an
//!   empty task run to the end.
//! * memory: RSS per parked thread with 100,000 threads in `sleep`,
//!   against 100,000 tasks in `tokio::time::sleep`; each in a fresh child
//!   process so the allocator's history does not mix them.

use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

const SWITCHES: u32 = 2_000_000;
const SPAWNS: u32 = 500_000;
const SLEEPERS: usize = 100_000;
const REPEAT: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ns_per(d: Duration, n: u32) -> f64 {
    d.as_nanos() as f64 / f64::from(n)
}

// ===== switch =====

/// A thread that suspends forever, resumed `SWITCHES` times: ns per round trip.
fn time_switches() -> f64 {
    let t = sockloop::newthread(async {
        loop {
            black_box(sockloop::suspend(()).await);
        }
    });
    sockloop::resume(&t, ()).unwrap();
    let t0 = Instant::now();
    for _ in 0..SWITCHES {
        black_box(sockloop::resume(&t, ()).unwrap());
    }
    let ns = ns_per(t0.elapsed(), SWITCHES);
    t.cancel(); // its suspend returns; it suspends again and stays parked
    ns
}

/// Resumed from plain `main`: each resume enters the loop's runtime.
fn sockloop_switch() -> f64 {
    time_switches()
}

/// The same switch, resumed from inside a running loop (a sockloop thread
/// resuming another), where no runtime has to be entered per call.
fn sockloop_switch_in_loop() -> f64 {
    sockloop::run(async { time_switches() })
}

fn tokio_notify_pingpong(rt: &tokio::runtime::Runtime) -> f64 {
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async {
        let ping = Rc::new(tokio::sync::Notify::new());
        let pong = Rc::new(tokio::sync::Notify::new());
        let (p2, q2) = (ping.clone(), pong.clone());
        // Both sides are spawn_local tasks, so each hand-off is a LocalSet
        // task switch (not a trip through the runtime's block_on).
        let peer = tokio::task::spawn_local(async move {
            for _ in 0..SWITCHES {
                p2.notified().await;
                q2.notify_one();
            }
        });
        let driver = tokio::task::spawn_local(async move {
            let t0 = Instant::now();
            for _ in 0..SWITCHES {
                ping.notify_one();
                pong.notified().await;
            }
            t0.elapsed()
        });
        let d = driver.await.unwrap();
        peer.await.unwrap();
        // One round trip is two hand-offs; report per round trip.
        ns_per(d, SWITCHES)
    })
}

// ===== spawn =====

fn sockloop_spawn() -> f64 {
    let t0 = Instant::now();
    for _ in 0..SPAWNS {
        let t = sockloop::newthread(async {});
        sockloop::resume(&t, ()).unwrap();
        black_box(&t);
    }
    ns_per(t0.elapsed(), SPAWNS)
}

fn sockloop_thread_spawn() -> f64 {
    let t0 = Instant::now();
    for _ in 0..SPAWNS {
        black_box(sockloop::thread(async {}));
    }
    ns_per(t0.elapsed(), SPAWNS)
}

fn tokio_spawn(rt: &tokio::runtime::Runtime) -> f64 {
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async {
        let t0 = Instant::now();
        for _ in 0..SPAWNS {
            let h = tokio::task::spawn_local(async {});
            h.await.unwrap();
        }
        ns_per(t0.elapsed(), SPAWNS)
    })
}

// ===== memory =====

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mem_child(which: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before;
    let after;
    match which {
        "sockloop" => {
            // Warm the loop and allocator paths.
            sockloop::thread(async { sockloop::sleep(3600.0).await }).cancel();
            before = rss_bytes();
            let mut ts = Vec::with_capacity(SLEEPERS);
            for _ in 0..SLEEPERS {
                ts.push(sockloop::thread(async { sockloop::sleep(3600.0).await }));
            }
            after = rss_bytes();
            // Handles are part of the cost a caller keeps; drop them before
            // measuring would be fairer to sockloop, so keep them.
            black_box(&ts);
        }
        _ => {
            let local = tokio::task::LocalSet::new();
            let (b, a) = local.block_on(&rt, async {
                tokio::task::spawn_local(async {
                    tokio::time::sleep(Duration::from_secs(3600)).await
                });
                tokio::task::yield_now().await;
                let before = rss_bytes();
                let mut hs = Vec::with_capacity(SLEEPERS);
                for _ in 0..SLEEPERS {
                    hs.push(tokio::task::spawn_local(async {
                        tokio::time::sleep(Duration::from_secs(3600)).await
                    }));
                }
                // Let every task run once so each sleep is registered.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let after = rss_bytes();
                black_box(&hs);
                (before, after)
            });
            before = b;
            after = a;
        }
    }
    println!(
        "{}",
        (after.saturating_sub(before)) as f64 / SLEEPERS as f64
    );
    std::process::exit(0);
}

fn mem_of(which: &str) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .arg("--mem-child")
        .arg(which)
        .output()
        .expect("spawn the memory child");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--mem-child") {
        mem_child(args.get(i + 1).map(String::as_str).unwrap_or("tokio"));
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut sw_s = Vec::new();
    let mut sw_t = Vec::new();
    let mut sw_in = Vec::new();
    let mut sp_s = Vec::new();
    let mut sp_th = Vec::new();
    let mut sp_t = Vec::new();
    for _ in 0..REPEAT {
        // Alternate so drift on a shared machine hits both sides.
        sw_s.push(sockloop_switch());
        sw_t.push(tokio_notify_pingpong(&rt));
        sw_in.push(sockloop_switch_in_loop());
        sp_s.push(sockloop_spawn());
        sp_th.push(sockloop_thread_spawn());
        sp_t.push(tokio_spawn(&rt));
    }
    let (sw_s, sw_t, sw_in) = (median(sw_s), median(sw_t), median(sw_in));
    let (sp_s, sp_th, sp_t) = (median(sp_s), median(sp_th), median(sp_t));
    let mut mem_s = Vec::new();
    let mut mem_t = Vec::new();
    for _ in 0..3 {
        mem_s.push(mem_of("sockloop"));
        mem_t.push(mem_of("tokio"));
    }
    let (mem_s, mem_t) = (median(mem_s), median(mem_t));

    println!("sockloop scheduler vs bare Tokio (median of {REPEAT} runs)");
    println!(
        "{:<52} {:>10} {:>10} {:>7}",
        "case", "sockloop", "tokio", "ratio"
    );
    println!(
        "{:<52} {:>8.1}ns {:>8.1}ns {:>7.2}",
        "resume->suspend round trip vs Notify ping-pong",
        sw_s,
        sw_t,
        sw_s / sw_t
    );
    println!(
        "{:<52} {:>8.1}ns {:>8.1}ns {:>7.2}",
        "  per switch (round trip / 2)",
        sw_s / 2.0,
        sw_t / 2.0,
        sw_s / sw_t
    );
    println!(
        "{:<52} {:>8.1}ns {:>8.1}ns {:>7.2}",
        "  per switch, resumed inside a running loop",
        sw_in / 2.0,
        sw_t / 2.0,
        sw_in / sw_t
    );
    println!(
        "{:<52} {:>8.1}ns {:>8.1}ns {:>7.2}",
        "newthread+resume to finish vs spawn_local+await",
        sp_s,
        sp_t,
        sp_s / sp_t
    );
    println!(
        "{:<52} {:>8.1}ns {:>8.1}ns {:>7.2}",
        "thread() to finish vs spawn_local+await",
        sp_th,
        sp_t,
        sp_th / sp_t
    );
    println!(
        "{:<52} {:>9.0}B {:>9.0}B {:>7.2}",
        "RSS per sleeping thread (100k) vs tokio sleep task",
        mem_s,
        mem_t,
        mem_s / mem_t
    );
}
