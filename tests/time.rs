//! Time: clock, sleep, sleep_until, sleep_job, runat, runafter, runevery,
//! Timer::cancel. Deterministic tests run under Tokio's paused clock.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use support::{bounded, Log};

/// Runs `f` inside `sockloop::run` with Tokio's clock paused.
fn paused<F, Fut>(f: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future + 'static,
    Fut::Output: Send + 'static,
{
    bounded(20, move || {
        sockloop::run(async move {
            tokio::time::pause();
            f().await
        })
    })
}

#[test]
fn clock_follows_tokios_paused_clock() {
    paused(|| async {
        let t0 = sockloop::clock();
        tokio::time::advance(std::time::Duration::from_millis(1500)).await;
        let dt = sockloop::clock() - t0;
        assert!((dt - 1.5).abs() < 1e-6, "dt = {dt}");
    });
}

/// The system's monotonic clock (seconds since boot on Linux), read
/// directly.
fn monotonic_secs() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[test]
fn clock_reads_the_system_monotonic_clock_like_sock_lua() {
    bounded(10, || {
        let before = monotonic_secs();
        let c = sockloop::clock();
        let after = monotonic_secs();
        // The same scale as clock_gettime(CLOCK_MONOTONIC), not a
        // per-process zero.
        assert!(
            before - 0.001 <= c && c <= after + 0.001,
            "clock() = {c}, monotonic {before}..{after}"
        );
    });
}

#[test]
fn clock_keeps_its_scale_under_a_paused_clock() {
    paused(|| async {
        let mono = monotonic_secs();
        let t0 = sockloop::clock();
        assert!((t0 - mono).abs() < 1.0, "clock() = {t0}, monotonic {mono}");
        tokio::time::advance(std::time::Duration::from_secs(100)).await;
        let dt = sockloop::clock() - t0;
        assert!((dt - 100.0).abs() < 1e-6, "dt = {dt}");
        // Paused: the real monotonic clock moved on far less.
        assert!(monotonic_secs() - mono < 50.0);
    });
}

#[test]
fn a_relative_timeout_passed_as_expires_fails_at_once() {
    paused(|| async {
        let l = sockloop::tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let c = sockloop::tcp().unwrap();
        c.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
            .await
            .unwrap();
        let _peer = l.accept(sockloop::clock() + 5.0).await.unwrap();
        let t0 = sockloop::clock();
        let mut buf = [0u8; 4];
        // The porter's mistake: 0.5 meant as "half a second from now" is
        // an instant near boot, long past.
        let e = c.recv(&mut buf, 0.5).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(sockloop::clock(), t0, "no time passed: it failed at once");
        // The intended form waits.
        let e = c.recv(&mut buf, sockloop::clock() + 0.5).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert!(sockloop::clock() - t0 >= 0.5);
    });
}

#[test]
fn sleep_and_sleep_until_are_exact_under_paused_clock() {
    paused(|| async {
        let t0 = sockloop::clock();
        sockloop::sleep(2.5).await;
        let dt = sockloop::clock() - t0;
        assert!((2.5..2.5 + 0.002).contains(&dt), "slept {dt}");
        let target = sockloop::clock() + 10.0;
        sockloop::sleep_until(target).await;
        assert!(sockloop::clock() >= target);
        // A past deadline returns (after letting others run).
        sockloop::sleep_until(target - 100.0).await;
        sockloop::sleep(0.0).await;
        sockloop::sleep(-1.0).await;
    });
}

#[test]
fn sleep_outside_a_thread_uses_tokio_time() {
    bounded(10, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let t0 = sockloop::clock();
            sockloop::sleep(3.0).await;
            assert!(sockloop::clock() - t0 >= 3.0);
        });
    });
}

#[test]
fn runevery_counts_and_cancel_under_paused_clock() {
    paused(|| async {
        let n = Rc::new(Cell::new(0u32));
        let n2 = n.clone();
        let t = sockloop::runevery(1.0, move || n2.set(n2.get() + 1));
        sockloop::sleep(3.5).await;
        assert_eq!(n.get(), 3, "fired at 1, 2, 3");
        assert!(t.cancel());
        assert!(!t.cancel(), "second cancel reports inactive");
        sockloop::sleep(5.0).await;
        assert_eq!(n.get(), 3, "no firing after cancel");
    });
}

#[test]
fn runevery_false_stops_and_is_fixed_rate() {
    paused(|| async {
        let times = Rc::new(RefCell::new(Vec::new()));
        let t2 = times.clone();
        let start = sockloop::clock();
        let timer = sockloop::runevery(0.5, move || {
            t2.borrow_mut().push(sockloop::clock() - start);
            t2.borrow().len() < 4
        });
        sockloop::sleep(10.0).await;
        assert!(!timer.is_active());
        let times = times.borrow();
        assert_eq!(times.len(), 4, "false stops it");
        for (i, t) in times.iter().enumerate() {
            let due = 0.5 * (i + 1) as f64;
            assert!(*t >= due && *t < due + 0.002, "call {i} at {t}, due {due}");
        }
    });
}

#[test]
fn runevery_does_not_accumulate_lag() {
    // A callback that blocks the loop for 30 ms each time, every 50 ms:
    // fixed-rate means call n is still due at start + n * 50 ms.
    bounded(20, || {
        let times = Rc::new(RefCell::new(Vec::new()));
        let t2 = times.clone();
        let start = sockloop::clock();
        sockloop::runevery(0.05, move || {
            t2.borrow_mut().push(sockloop::clock() - start);
            std::thread::sleep(std::time::Duration::from_millis(30));
            t2.borrow().len() < 6
        });
        sockloop::start().unwrap();
        let times = times.borrow();
        assert_eq!(times.len(), 6);
        for (i, t) in times.iter().enumerate() {
            let due = 0.05 * (i + 1) as f64;
            assert!(*t >= due, "call {i} at {t} fired before {due}");
        }
        // With fixed delay the 6th call would come at >= 6*80 ms = 0.48 s.
        assert!(times[5] < 0.45, "lag accumulated: {:?}", *times);
    });
}

#[test]
fn runat_fires_in_deadline_order_ties_in_creation_order() {
    paused(|| async {
        let log = Log::default();
        let now = sockloop::clock();
        for (name, dt) in [
            ("d", 3.0),
            ("b1", 2.0),
            ("a", 1.0),
            ("b2", 2.0),
            ("b3", 2.0),
        ] {
            let l = log.clone();
            sockloop::runat(now + dt, move || l.push(name));
        }
        let l = log.clone();
        sockloop::runafter(2.5, move || l.push("after 2.5"));
        // A past deadline fires at once (on the next round).
        let l = log.clone();
        sockloop::runat(now - 5.0, move || l.push("past"));
        sockloop::sleep(5.0).await;
        assert_eq!(log.get(), ["past", "a", "b1", "b2", "b3", "after 2.5", "d"]);
    });
}

#[test]
fn timers_never_fire_early_on_the_real_clock() {
    bounded(20, || {
        let early = Rc::new(Cell::new(0u32));
        let fired = Rc::new(Cell::new(0u32));
        let base = sockloop::clock();
        for i in 0..50 {
            let due = base + 0.001 * f64::from(i % 10) + 0.0003;
            let (e, f) = (early.clone(), fired.clone());
            sockloop::runat(due, move || {
                if sockloop::clock() < due {
                    e.set(e.get() + 1);
                }
                f.set(f.get() + 1);
            });
        }
        sockloop::start().unwrap();
        assert_eq!(fired.get(), 50);
        assert_eq!(early.get(), 0);
    });
}

#[test]
fn timer_cancel_before_firing_and_drop_does_not_cancel() {
    paused(|| async {
        let log = Log::default();
        let l = log.clone();
        let t = sockloop::runafter(1.0, move || l.push("cancelled one"));
        let l = log.clone();
        drop(sockloop::runafter(1.0, move || l.push("dropped handle")));
        assert!(t.is_active());
        assert!(t.cancel());
        sockloop::sleep(2.0).await;
        assert_eq!(log.get(), ["dropped handle"]);
        assert!(!t.is_active());
    });
}

#[test]
fn runevery_can_cancel_itself_from_its_callback() {
    paused(|| async {
        let n = Rc::new(Cell::new(0));
        let slot: Rc<RefCell<Option<sockloop::Timer>>> = Rc::default();
        let (n2, s2) = (n.clone(), slot.clone());
        let t = sockloop::runevery(1.0, move || {
            n2.set(n2.get() + 1);
            if n2.get() == 2 {
                if let Some(t) = s2.borrow().as_ref() {
                    t.cancel();
                }
            }
        });
        *slot.borrow_mut() = Some(t.clone());
        sockloop::sleep(10.0).await;
        assert_eq!(n.get(), 2);
        assert!(!t.is_active());
        slot.borrow_mut().take();
    });
}

#[test]
fn sleep_job_woken_early_with_a_value() {
    paused(|| async {
        let sj = Rc::new(sockloop::sleep_job());
        let log = Log::default();
        let (sj2, l) = (sj.clone(), log.clone());
        let t0 = sockloop::clock();
        let sleeper = sockloop::thread(async move {
            let v = sj2.sleep(100.0).await;
            let v = *v.expect("woken with a value").downcast::<u32>().unwrap();
            l.push(format!("got {v} after {:.1}", sockloop::clock() - t0));
        });
        assert!(sj.is_sleeping());
        sockloop::sleep(2.0).await;
        // wakeup runs the sleeper synchronously.
        assert!(sj.wakeup(7u32));
        assert_eq!(log.get(), ["got 7 after 2.0"]);
        assert!(sleeper.is_finished());
        assert!(!sj.wakeup(8u32), "not sleeping any more");
    });
}

#[test]
fn sleep_job_expires_by_itself_with_none() {
    paused(|| async {
        let sj = sockloop::sleep_job();
        let t0 = sockloop::clock();
        assert!(sj.sleep(1.5).await.is_none());
        assert!(sockloop::clock() - t0 >= 1.5);
        let target = sockloop::clock() + 1.0;
        assert!(sj.sleep_until(target).await.is_none());
        assert!(sockloop::clock() >= target);
        assert!(!sj.wakeup(()), "nothing sleeps");
    });
}

#[test]
fn sleep_job_wakeup_from_a_timer_and_from_tokio_task() {
    paused(|| async {
        let sj = Rc::new(sockloop::sleep_job());
        let sj2 = sj.clone();
        sockloop::runafter(1.0, move || assert!(sj2.wakeup("timer")));
        let v = sj.sleep(50.0).await.unwrap();
        assert_eq!(*v.downcast::<&str>().unwrap(), "timer");

        // The sleeper is a plain Tokio task (not a sockloop thread).
        let sj3 = sj.clone();
        let h = tokio::task::spawn_local(async move { sj3.sleep(50.0).await.is_some() });
        sockloop::sleep(1.0).await;
        assert!(sj.wakeup(()));
        assert!(h.await.unwrap());
    });
}
