//! Scheduling: newthread, resume, suspend, thread, transfer, yield, cowrap,
//! currentthread, onthreadfinish, env, poll, start, stop, run, cancel.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sockloop::{ThreadStatus, Value};
use support::{bounded, Log};

fn int(v: Value) -> i64 {
    *v.downcast::<i64>().expect("an i64 value")
}

#[test]
fn newthread_is_suspended_and_resume_runs_synchronously() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        let t = sockloop::newthread(async move {
            l.push("a");
            sockloop::suspend(()).await;
            l.push("b");
        });
        assert!(log.get().is_empty(), "newthread must not run anything");
        assert_eq!(t.status(), ThreadStatus::New);
        sockloop::resume(&t, ()).unwrap();
        assert_eq!(log.get(), ["a"]);
        assert_eq!(t.status(), ThreadStatus::Suspended);
        sockloop::resume(&t, ()).unwrap();
        assert_eq!(log.get(), ["a", "b"]);
        assert!(t.is_finished());
    });
}

#[test]
fn thread_runs_until_first_park() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        let t = sockloop::thread(async move {
            l.push("a");
            sockloop::suspend(()).await;
            l.push("b");
        });
        assert_eq!(log.get(), ["a"], "right after thread() returns");
        sockloop::resume(&t, ()).unwrap();
        assert_eq!(log.get(), ["a", "b"], "right after resume() returns");
    });
}

#[test]
fn values_pass_both_ways() {
    bounded(10, || {
        let t = sockloop::newthread(async {
            let mut acc: i64 = 0;
            loop {
                let v = sockloop::suspend(acc).await;
                let n = int(v);
                if n < 0 {
                    break;
                }
                acc += n;
            }
        });
        assert!(sockloop::resume(&t, ()).unwrap().is_some());
        assert_eq!(int(sockloop::resume(&t, 10i64).unwrap().unwrap()), 10);
        assert_eq!(int(sockloop::resume(&t, 5i64).unwrap().unwrap()), 15);
        // Finishing returns no value.
        assert!(sockloop::resume(&t, -1i64).unwrap().is_none());
        assert!(t.is_finished());
    });
}

#[test]
fn ten_thousand_threads_round_robin() {
    bounded(60, || {
        const N: usize = 10_000;
        const ROUNDS: usize = 5;
        let order = Rc::new(RefCell::new(Vec::with_capacity(N * ROUNDS)));
        let threads: Vec<_> = (0..N)
            .map(|i| {
                let order = order.clone();
                sockloop::newthread(async move {
                    for _ in 0..ROUNDS {
                        order.borrow_mut().push(i);
                        sockloop::suspend(()).await;
                    }
                })
            })
            .collect();
        for _ in 0..ROUNDS {
            for t in &threads {
                sockloop::resume(t, ()).unwrap();
            }
        }
        let order = order.borrow();
        assert_eq!(order.len(), N * ROUNDS);
        for (k, &i) in order.iter().enumerate() {
            assert_eq!(i, k % N, "thread {i} ran out of turn at step {k}");
        }
        for t in &threads {
            assert_eq!(t.status(), ThreadStatus::Suspended);
            sockloop::resume(t, ()).unwrap();
            assert!(t.is_finished());
        }
    });
}

#[test]
fn transfer_chain_returns_to_resumer_on_suspend() {
    bounded(10, || {
        let log = Log::default();
        let (la, lb) = (log.clone(), log.clone());
        let b: Rc<RefCell<Option<sockloop::Thread>>> = Rc::default();
        let b2 = b.clone();
        let a = sockloop::newthread(async move {
            la.push("a1");
            let target = b2.borrow().clone().unwrap();
            let v = sockloop::transfer(&target, 1i64).await;
            la.push(format!("a2:{}", int(v)));
            sockloop::suspend(100i64).await;
            la.push("a3");
        });
        let a2 = a.clone();
        *b.borrow_mut() = Some(sockloop::newthread(async move {
            let v = sockloop::suspend(()).await; // parked until the transfer
            lb.push(format!("b1:{}", int(v)));
            let _ = sockloop::transfer(&a2, 2i64).await;
            lb.push("b2");
        }));
        let bt = b.borrow().clone().unwrap();
        sockloop::resume(&bt, ()).unwrap(); // b parks in suspend
        let out = sockloop::resume(&a, ()).unwrap();
        assert_eq!(int(out.unwrap()), 100, "the chain's suspend value");
        assert_eq!(log.get(), ["a1", "b1:1", "a2:2"]);
        assert_eq!(bt.status(), ThreadStatus::Suspended);
        sockloop::resume(&a, ()).unwrap();
        assert!(a.is_finished());
        sockloop::resume(&bt, ()).unwrap();
        assert_eq!(log.get(), ["a1", "b1:1", "a2:2", "a3", "b2"]);
    });
}

#[test]
fn transfer_to_busy_thread_is_an_error() {
    bounded(10, || {
        let t = sockloop::thread(async {
            let me = sockloop::currentthread().unwrap();
            let e = sockloop::try_transfer(&me, ()).await.unwrap_err();
            assert_eq!(e.name(), "thread_busy");
        });
        assert!(t.is_finished());
        assert!(!t.is_panicked());
    });
}

#[test]
fn currentthread_inside_and_outside() {
    bounded(10, || {
        assert!(sockloop::currentthread().is_none());
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let t = sockloop::thread(async move {
            *s.borrow_mut() = sockloop::currentthread();
        });
        assert!(seen.borrow().as_ref().is_some_and(|c| *c == t));
        assert!(sockloop::currentthread().is_none());
    });
}

#[test]
fn onthreadfinish_runs_hooks_in_order_also_on_panic() {
    bounded(10, || {
        let log = Log::default();
        let t = sockloop::newthread(async {
            sockloop::suspend(()).await;
        });
        let (l1, l2) = (log.clone(), log.clone());
        sockloop::onthreadfinish(&t, move |th| {
            assert!(th.is_finished());
            l1.push("first")
        });
        sockloop::onthreadfinish(&t, move |_| l2.push("second"));
        sockloop::resume(&t, ()).unwrap();
        assert!(log.get().is_empty());
        sockloop::resume(&t, ()).unwrap();
        assert_eq!(log.get(), ["first", "second"]);

        let p = sockloop::newthread(async { panic!("boom") });
        let l3 = log.clone();
        sockloop::onthreadfinish(&p, move |th| {
            assert!(th.is_panicked());
            l3.push("after panic")
        });
        let e = sockloop::resume(&p, ()).unwrap_err();
        assert_eq!(e.name(), "thread_panicked");
        assert!(e.to_string().contains("boom"));
        assert_eq!(log.get().last().map(String::as_str), Some("after panic"));

        // On a finished thread the hook runs at once.
        let l4 = log.clone();
        sockloop::onthreadfinish(&t, move |_| l4.push("late"));
        assert_eq!(log.get().last().map(String::as_str), Some("late"));
    });
}

#[test]
fn env_is_per_thread_and_typed() {
    bounded(10, || {
        #[derive(Clone, Debug, PartialEq)]
        struct User(&'static str);
        let t1 = sockloop::newthread(async {
            let me = sockloop::currentthread().unwrap();
            assert_eq!(me.env().get::<User>(), Some(User("ann")));
            me.env().with(|n: &mut u32| *n += 1);
            sockloop::suspend(()).await;
        });
        let t2 = sockloop::newthread(async {
            let me = sockloop::currentthread().unwrap();
            assert_eq!(me.env().get::<User>(), None);
        });
        t1.env().insert(User("ann"));
        t1.env().insert(41u32);
        sockloop::resume(&t1, ()).unwrap();
        sockloop::resume(&t2, ()).unwrap();
        assert!(!t2.is_panicked());
        assert_eq!(t1.env().get::<u32>(), Some(42));
        assert_eq!(t1.env().remove::<User>(), Some(User("ann")));
        assert!(!t1.env().contains::<User>());
    });
}

#[test]
fn yield_now_interleaves_ready_threads() {
    bounded(10, || {
        let log = Log::default();
        for name in ["x", "y"] {
            let l = log.clone();
            sockloop::thread(async move {
                for i in 0..3 {
                    l.push(format!("{name}{i}"));
                    sockloop::yield_now().await;
                }
            });
        }
        assert_eq!(log.get(), ["x0", "y0"]);
        sockloop::start().unwrap();
        assert_eq!(log.get(), ["x0", "y0", "x1", "y1", "x2", "y2"]);
    });
}

#[test]
fn cowrap_as_iterator_and_as_stream_with_io() {
    bounded(10, || {
        let fib = sockloop::cowrap(|y| async move {
            let (mut a, mut b) = (0u64, 1u64);
            for _ in 0..8 {
                y.yield_(a).await;
                (a, b) = (b, a + b);
            }
        });
        assert_eq!(fib.collect::<Vec<_>>(), [0, 1, 1, 2, 3, 5, 8, 13]);

        // A generator that sleeps between values, consumed from a thread.
        let got = sockloop::run(async {
            let mut g = sockloop::cowrap(|y| async move {
                for i in 0..3 {
                    sockloop::sleep(0.001).await;
                    y.yield_(i).await;
                }
            });
            let mut got = Vec::new();
            while let Some(v) = g.next().await {
                got.push(v);
            }
            got
        });
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn start_returns_while_threads_are_only_suspended() {
    bounded(10, || {
        let t = sockloop::thread(async {
            sockloop::suspend(()).await;
        });
        // A suspended thread does not count as waiting.
        sockloop::start().unwrap();
        assert_eq!(t.status(), ThreadStatus::Suspended);
        assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
    });
}

#[test]
fn poll_dispatches_one_round() {
    bounded(10, || {
        assert_eq!(sockloop::poll(None).unwrap_err().name(), "empty");
        let log = Log::default();
        let l = log.clone();
        sockloop::thread(async move {
            sockloop::sleep(0.01).await;
            l.push("woke");
        });
        // Nothing ready within 0 s.
        assert!(!sockloop::poll(Some(0.0)).unwrap());
        assert!(log.get().is_empty());
        assert!(sockloop::poll(Some(5.0)).unwrap());
        assert_eq!(log.get(), ["woke"]);
        assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
    });
}

#[test]
fn stop_keeps_due_wakeups_for_next_start() {
    bounded(10, || {
        let n = Rc::new(Cell::new(0));
        let n2 = n.clone();
        let timer = sockloop::runevery(0.001, move || {
            n2.set(n2.get() + 1);
            if n2.get() == 3 {
                sockloop::stop();
            }
        });
        sockloop::start().unwrap();
        assert_eq!(n.get(), 3, "stop() ends start() at once");
        assert!(timer.is_active());
        let n3 = n.clone();
        let t2 = timer.clone();
        sockloop::runafter(0.0, move || {
            if n3.get() >= 3 {
                // Let a few more ticks happen, then cancel.
            }
            let _ = &t2;
        });
        let t3 = timer.clone();
        let n4 = n.clone();
        sockloop::runevery(0.001, move || {
            if n4.get() >= 6 {
                t3.cancel();
                false
            } else {
                true
            }
        });
        sockloop::start().unwrap();
        assert!(n.get() >= 6, "the loop went on after the second start");
        assert!(!timer.is_active());
    });
}

#[test]
fn run_returns_the_output() {
    bounded(10, || {
        let v = sockloop::run(async {
            let t = sockloop::thread(async { sockloop::sleep(0.001).await });
            sockloop::sleep(0.002).await;
            assert!(t.is_finished());
            "done"
        });
        assert_eq!(v, "done");
    });
}

#[test]
fn run_reraises_a_panic_and_the_loop_stays_usable() {
    bounded(10, || {
        let r = std::panic::catch_unwind(|| {
            sockloop::run(async {
                sockloop::sleep(0.001).await;
                assert_eq!(1 + 1, 3, "inner assertion");
            })
        });
        let p = r.unwrap_err();
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("inner assertion"), "got {msg:?}");
        // The loop is still usable.
        assert_eq!(sockloop::run(async { 7 }), 7);
    });
}

#[test]
fn run_reports_a_future_left_suspended() {
    bounded(10, || {
        let r = std::panic::catch_unwind(|| {
            sockloop::run(async {
                sockloop::suspend(()).await;
            })
        });
        let p = r.unwrap_err();
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("did not finish"), "got {msg:?}");
    });
}

#[test]
fn start_reports_a_thread_panic_and_others_run_on() {
    bounded(10, || {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        sockloop::thread(async {
            sockloop::sleep(0.001).await;
            panic!("worker failed");
        });
        sockloop::thread(async move {
            sockloop::sleep(0.005).await;
            d.set(true);
        });
        let e = sockloop::start().unwrap_err();
        assert_eq!(e.name(), "thread_panicked");
        assert!(e.to_string().contains("worker failed"));
        assert!(done.get(), "the other thread ran to the end");
        // Usable afterwards.
        sockloop::thread(async { sockloop::sleep(0.001).await });
        sockloop::start().unwrap();
    });
}

#[test]
fn threads_wake_in_deadline_order_then_creation_order() {
    bounded(10, || {
        let log = Log::default();
        sockloop::run({
            let log = log.clone();
            async move {
                tokio::time::pause();
                let now = sockloop::clock();
                for (name, dt) in [
                    ("c", 0.3),
                    ("a", 0.1),
                    ("b1", 0.2),
                    ("b2", 0.2),
                    ("b3", 0.2),
                ] {
                    let l = log.clone();
                    sockloop::thread(async move {
                        sockloop::sleep_until(now + dt).await;
                        l.push(name);
                    });
                }
            }
        });
        assert_eq!(log.get(), ["a", "b1", "b2", "b3", "c"]);
    });
}

// ===== cancellation =====

#[test]
fn cancel_wakes_a_sleep_and_the_thread_cleans_up() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        let t = sockloop::thread(async move {
            let t0 = sockloop::clock();
            sockloop::sleep(3600.0).await;
            l.push(format!("cancelled={}", sockloop::cancelled()));
            assert!(sockloop::clock() - t0 < 60.0);
            // The thread goes on normally after a cancel.
            sockloop::sleep(0.001).await;
            l.push("cleaned up");
        });
        assert!(!t.is_cancelled());
        sockloop::runafter(0.005, move || t.cancel());
        sockloop::start().unwrap();
        assert_eq!(log.get(), ["cancelled=true", "cleaned up"]);
    });
}

#[test]
fn cancel_wakes_suspend_and_sleep_job() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        let t = sockloop::thread(async move {
            let v = sockloop::suspend(()).await;
            l.push(format!("suspend returned unit={}", v.is::<()>()));
            let sj = sockloop::sleep_job();
            let r = sj.sleep(3600.0).await;
            l.push(format!("sleep_job returned {:?}", r.is_some()));
        });
        t.cancel();
        assert_eq!(t.status(), ThreadStatus::Suspended);
        // The driver delivers the cancel to suspend; the thread then sleeps
        // on a job, and a timer cancels that sleep too.
        let t2 = t.clone();
        let l2 = log.clone();
        sockloop::runafter(0.005, move || {
            l2.push(format!("waiting={}", t2.status() == ThreadStatus::Waiting));
            t2.cancel();
        });
        sockloop::start().unwrap();
        assert_eq!(
            log.get(),
            [
                "suspend returned unit=true",
                "waiting=true",
                "sleep_job returned false"
            ]
        );
        assert!(t.is_finished());
        assert!(t.is_cancelled());
    });
}

#[test]
fn cancel_of_a_running_thread_reaches_its_next_park() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        sockloop::thread(async move {
            sockloop::currentthread().unwrap().cancel();
            assert!(!sockloop::cancelled(), "not delivered yet");
            sockloop::sleep(3600.0).await; // returns at once
            l.push(format!("{}", sockloop::cancelled()));
            // Delivered once: the next sleep is a real one.
            let t0 = sockloop::clock();
            sockloop::sleep(0.01).await;
            assert!(sockloop::clock() - t0 >= 0.01);
            l.push("slept");
        });
        sockloop::start().unwrap();
        assert_eq!(log.get(), ["true", "slept"]);
    });
}

// ===== inside an existing Tokio runtime =====

#[tokio::test]
async fn works_inside_tokio_main_with_localset() {
    let local = tokio::task::LocalSet::new();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        local.run_until(async {
            let log = Log::default();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let l = log.clone();
            let t = sockloop::thread(async move {
                l.push("start");
                let v = sockloop::suspend(()).await;
                l.push(format!("resumed {}", int(v)));
                sockloop::sleep(0.01).await; // the embedded driver wakes it
                l.push("slept");
                let _ = tx.send(());
            });
            assert_eq!(log.get(), ["start"]);
            sockloop::resume(&t, 5i64).unwrap();
            rx.await.unwrap();
            assert!(t.is_finished());
            // Timers work too.
            let (tx2, rx2) = tokio::sync::oneshot::channel();
            let mut tx2 = Some(tx2);
            let n = Rc::new(Cell::new(0));
            let n2 = n.clone();
            sockloop::runevery(0.001, move || {
                n2.set(n2.get() + 1);
                if n2.get() == 3 {
                    if let Some(tx) = tx2.take() {
                        let _ = tx.send(());
                    }
                    return false;
                }
                true
            });
            rx2.await.unwrap();
            assert_eq!(n.get(), 3);
            // start() is refused inside a runtime.
            assert_eq!(sockloop::start().unwrap_err().name(), "loop_busy");
            log.get()
        }),
    )
    .await
    .expect("bounded");
    assert_eq!(out, ["start", "resumed 5", "slept"]);
}

#[tokio::test]
async fn cancel_of_a_suspended_thread_inside_tokio_is_delivered() {
    let local = tokio::task::LocalSet::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        local.run_until(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let t = sockloop::thread(async move {
                sockloop::suspend(()).await;
                let _ = tx.send(sockloop::cancelled());
            });
            // No thread waits, so no driver runs yet; cancel must start one.
            t.cancel();
            assert!(rx.await.expect("the thread finished"));
            assert!(t.is_finished());
        }),
    )
    .await
    .expect("bounded");
}

#[tokio::test]
async fn socket_threads_inside_tokio_with_localset() {
    let local = tokio::task::LocalSet::new();
    let got = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        local.run_until(async {
            let server = sockloop::tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let port = server.local_addr().unwrap().port();
            // A sockloop thread serves; a plain Tokio task is the client.
            let srv = sockloop::thread(async move {
                let c = server.accept(sockloop::clock() + 5.0).await.unwrap();
                let mut buf = [0u8; 4];
                c.recvn(&mut buf, sockloop::clock() + 5.0).await.unwrap();
                buf.reverse();
                c.send(&buf, sockloop::clock() + 5.0).await.unwrap();
            });
            assert_eq!(srv.status(), ThreadStatus::Waiting);
            let client = tokio::task::spawn_local(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                s.write_all(b"abcd").await.unwrap();
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).await.unwrap();
                buf
            });
            let buf = client.await.unwrap();
            assert!(srv.is_finished() && !srv.is_panicked());
            buf
        }),
    )
    .await
    .expect("bounded");
    assert_eq!(&got, b"dcba");
}
