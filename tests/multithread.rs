//! Multi-threading: several OS threads, each with its own sockloop loop,
//! sharing one reactor (I/O and timer driver).
//!
//! The tests in this file run one at a time (a file-wide lock), so the fd
//! count of the process is stable while the leak test measures it.

mod support;

use std::rc::Rc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use support::bounded;

static SERIAL: Mutex<()> = Mutex::new(());
/// The most fds seen open while a mesh ran (to show the leak test sees them).
static PEAK_FDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A deterministic byte stream (xorshift64*), so both ends can hash it.
fn stream(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// 4 OS threads share one reactor; each serves and calls the 3 others
/// with checksummed traffic. Returns the per-thread count of verified
/// exchanges.
fn mesh(n: usize, bytes: usize) -> Vec<usize> {
    let ports = Arc::new(Mutex::new(vec![0u16; n]));
    let barrier = Arc::new(Barrier::new(n));
    let (tx, rx) = std::sync::mpsc::channel();
    // The first OS thread makes the reactor; the others join it.
    let reactor = {
        let (rtx, rrx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let r = sockloop::reactor().expect("shared reactor");
            rtx.send(r.clone()).ok();
            r
        });
        let r = rrx.recv().expect("reactor made");
        drop(h.join());
        r
    };
    let mut handles = Vec::new();
    for me in 0..n {
        let (ports, barrier, tx, r) = (ports.clone(), barrier.clone(), tx.clone(), reactor.clone());
        handles.push(std::thread::spawn(move || {
            sockloop::set_reactor(r).expect("set_reactor before the loop runs");
            // Sockets can be made and bound before the loop runs.
            let server = sockloop::tcp().expect("tcp");
            server.listen(("127.0.0.1", 0)).expect("listen");
            ports.lock().unwrap()[me] = server.local_addr().expect("addr").port();
            barrier.wait();
            let ports: Vec<u16> = ports.lock().unwrap().clone();
            let verified = sockloop::run(async move {
                let server = Rc::new(server);
                let ok = Rc::new(std::cell::Cell::new(0usize));
                // Serve the n-1 peers: receive all, answer with the hash.
                let srv = server.clone();
                sockloop::thread(async move {
                    for _ in 0..n - 1 {
                        let c = srv.accept(sockloop::clock() + 20.0).await.expect("accept");
                        sockloop::thread(async move {
                            let data = c.recvall(sockloop::clock() + 20.0).await.expect("recvall");
                            let h = fnv1a(&data);
                            c.send(&h.to_be_bytes(), sockloop::clock() + 20.0)
                                .await
                                .expect("send hash");
                            c.close().expect("close");
                        });
                    }
                });
                // Call every peer.
                for (peer, &port) in ports.iter().enumerate() {
                    if peer == me {
                        continue;
                    }
                    let ok = ok.clone();
                    sockloop::thread(async move {
                        let c = sockloop::tcp().expect("tcp");
                        c.connect(("127.0.0.1", port), sockloop::clock() + 20.0)
                            .await
                            .expect("connect");
                        let data = stream((me * 16 + peer) as u64, bytes);
                        c.send(&data, sockloop::clock() + 20.0).await.expect("send");
                        c.shutdown(std::net::Shutdown::Write).expect("shutdown");
                        let mut h = [0u8; 8];
                        c.recvn(&mut h, sockloop::clock() + 20.0)
                            .await
                            .expect("hash");
                        assert_eq!(u64::from_be_bytes(h), fnv1a(&data), "{me} -> {peer}");
                        PEAK_FDS.fetch_max(open_fds(), std::sync::atomic::Ordering::Relaxed);
                        ok.set(ok.get() + 1);
                    });
                }
                // run() returns once every thread of this loop has finished.
                while ok.get() < n - 1 {
                    sockloop::sleep(0.005).await;
                }
                ok.get()
            });
            tx.send((me, verified)).ok();
        }));
    }
    drop(tx);
    drop(reactor);
    let mut out = vec![0; n];
    for (me, v) in rx {
        out[me] = v;
    }
    for h in handles {
        if let Err(p) = h.join() {
            std::panic::resume_unwind(p);
        }
    }
    out
}

#[test]
fn four_loops_share_one_reactor_and_exchange_checksummed_traffic() {
    let _g = serial();
    let verified = bounded(60, || mesh(4, 256 * 1024));
    assert_eq!(verified, [3, 3, 3, 3]);
}

#[test]
fn loops_shut_down_without_leaking_fds() {
    let _g = serial();
    let before = open_fds();
    let verified = bounded(60, || mesh(4, 4096));
    let peak = PEAK_FDS.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        peak >= before + 12,
        "the mesh held its sockets open: peak {peak}"
    );
    assert_eq!(verified, [3, 3, 3, 3]);
    // The reactor's worker closes its epoll fd after the last loop has
    // gone; give it a moment, bounded.
    let mut after = open_fds();
    for _ in 0..200 {
        if after <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        after = open_fds();
    }
    assert!(after <= before, "fds before {before}, after {after}");
}

#[test]
fn timers_fire_on_time_while_another_loop_is_busy() {
    let _g = serial();
    bounded(30, || {
        let r = {
            let h = std::thread::spawn(sockloop::reactor);
            h.join().expect("join").expect("reactor")
        };
        let start = Arc::new(Barrier::new(3));
        // One loop keeps its OS thread busy for 400 ms without yielding.
        let (r1, s1) = (r.clone(), start.clone());
        let busy = std::thread::spawn(move || {
            sockloop::set_reactor(r1).unwrap();
            sockloop::run(async move {
                s1.wait();
                let t0 = std::time::Instant::now();
                while t0.elapsed() < Duration::from_millis(400) {
                    std::hint::spin_loop();
                }
            })
        });
        // Two others run 10 ms timers meanwhile and record their lateness.
        let timers: Vec<_> = (0..2)
            .map(|_| {
                let (r2, s2) = (r.clone(), start.clone());
                std::thread::spawn(move || {
                    sockloop::set_reactor(r2).unwrap();
                    sockloop::run(async move {
                        s2.wait();
                        let base = sockloop::clock();
                        let lateness = Rc::new(std::cell::RefCell::new(Vec::new()));
                        let l = lateness.clone();
                        let n = Rc::new(std::cell::Cell::new(0u32));
                        let n2 = n.clone();
                        sockloop::runevery(0.01, move || {
                            let k = n2.get() + 1;
                            n2.set(k);
                            let due = base + 0.01 * f64::from(k);
                            l.borrow_mut().push(sockloop::clock() - due);
                            k < 20
                        });
                        while n.get() < 20 {
                            sockloop::sleep(0.01).await;
                        }
                        let v = lateness.borrow().clone();
                        v
                    })
                })
            })
            .collect();
        drop(r);
        for t in timers {
            let lateness = t.join().expect("timer loop");
            assert_eq!(lateness.len(), 20);
            for (i, late) in lateness.iter().enumerate() {
                // fired at or after its due time (a microsecond of f64 slack)
                assert!(*late >= -1e-6, "timer {i} fired {late} s early");
            }
            // The busy loop holds its own OS thread for 400 ms; if the
            // loops were not independent, these timers would be that late.
            let worst = lateness.iter().cloned().fold(0.0, f64::max);
            assert!(worst < 0.3, "timers delayed by another loop: {worst} s");
        }
        busy.join().expect("busy loop");
    });
}

#[test]
fn cross_thread_wakeup_delivers_its_value() {
    let _g = serial();
    bounded(20, || {
        let sj = sockloop::sleep_job();
        let remote = sj.remote();
        // Nothing sleeps yet: refused, value dropped.
        assert!(!remote.wakeup(1u8));
        let got = sockloop::run(async move {
            let waker = std::thread::spawn(move || {
                // Retry until the sleeper has parked.
                let mut tries = 0;
                while !remote.wakeup(String::from("hello from another OS thread")) {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                tries
            });
            let v = sj.sleep(30.0).await;
            assert!(waker.join().is_ok());
            v
        });
        let v = got.expect("woken with a value, not by expiry");
        assert_eq!(
            *v.downcast::<String>().unwrap(),
            "hello from another OS thread"
        );
    });
}

#[test]
fn remote_thread_cancel_and_resume_from_another_os_thread() {
    let _g = serial();
    bounded(20, || {
        let log = support::Log::default();
        let (l1, l2) = (log.clone(), log.clone());
        let sleeper = sockloop::thread(async move {
            sockloop::sleep(3600.0).await;
            l1.push(format!("sleep ended, cancelled={}", sockloop::cancelled()));
        });
        let parked = sockloop::thread(async move {
            let v = sockloop::suspend(()).await;
            l2.push(format!(
                "resumed with {}",
                v.downcast::<u32>().map_or(0, |b| *b)
            ));
        });
        let (rs, rp) = (sleeper.remote(), parked.remote());
        std::thread::spawn(move || {
            rp.resume(7u32);
            rs.cancel();
        })
        .join()
        .expect("remote thread");
        sockloop::start().unwrap();
        assert_eq!(log.get(), ["resumed with 7", "sleep ended, cancelled=true"]);
        assert!(sleeper.is_finished() && parked.is_finished());
    });
}

#[test]
fn reactor_misuse_is_named() {
    let _g = serial();
    bounded(20, || {
        // A loop that already ran on its own driver cannot switch.
        sockloop::run(async {});
        assert_eq!(sockloop::reactor().unwrap_err().name(), "loop_busy");
        let other = std::thread::spawn(sockloop::reactor)
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(
            sockloop::set_reactor(other).unwrap_err().name(),
            "loop_busy"
        );
        assert_eq!(sockloop::epoll_fd().unwrap_err().name(), "not_supported");
    });
}
