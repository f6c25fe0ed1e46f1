//! Copas on sockloop: servers on a caller's socket (and removed from a
//! handler), threads, pause/sleep/wakeup, finished/exit, error handlers,
//! and the lock, semaphore, queue and timer objects with their timeouts.
//! Timed tests run on Tokio's paused clock, so times are exact.
//!
//! A Copas thread's failed assertion (or `Err`) goes to Copas' error
//! handler, not to the test: the loops here run through
//! [`support::copas::run_loop`], which collects those reports and fails
//! the test on any, and the tests with a handler of their own assert
//! everything it received.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sockloop::copas::{self, Lock, Queue, Semaphore, Timer, TimerOptions};
use sockloop::{clock, luasocket, socketloop, Error, ErrorKind, ThreadStatus};
use support::copas::{run_loop, Failures};
use support::{bounded, Log};

/// Runs `setup` and then `copas::run_loop()` on a fresh OS thread (a fresh
/// loop and Copas state), with Tokio's clock paused; fails if a Copas
/// thread failed.
fn paused_loop<F>(setup: F)
where
    F: FnOnce() + Send + 'static,
{
    bounded(30, move || {
        copas::addthread(async { tokio::time::pause() });
        setup();
        run_loop();
    })
}

/// As [`paused_loop`], with a log for the threads; returns what they
/// logged.
fn paused_log<F>(setup: F) -> Vec<String>
where
    F: FnOnce(Log) + Send + 'static,
{
    bounded(30, move || {
        let log = Log::default();
        copas::addthread(async { tokio::time::pause() });
        setup(log.clone());
        run_loop();
        log.get()
    })
}

/// `got` is `want` seconds, give or take the loop's timer tick (sleeps
/// are rounded up to the next millisecond, never down).
fn assert_secs(got: f64, want: f64) {
    assert!(
        got >= want && got < want + 0.01,
        "took {got} s, want {want} s"
    );
}

// ===== servers =====

#[test]
fn copas_addserver_on_a_callers_bound_socket_and_removeserver_from_a_handler() {
    bounded(30, || {
        // The caller makes and binds the socket; addserver sets it listening.
        let t = sockloop::tcp().unwrap();
        t.bind(("127.0.0.1", 0)).unwrap();
        let server = Rc::new(socketloop::wrap(t));
        let port = server.getsockname().unwrap().port();
        let log = Log::default();
        let (s, l) = (server.clone(), log.clone());
        copas::addserver(
            &server,
            move |c: copas::Socket| {
                let (s, l) = (s.clone(), l.clone());
                async move {
                    l.push(format!(
                        "{} {:?} {:?} {:?}",
                        copas::getsocketname(&c).unwrap(),
                        copas::getthreadname(None),
                        c.gettimeouts(),
                        c.getoption("tcp_nodelay").map(|_| ()),
                    ));
                    let line = c.receive("*l").await?;
                    c.send(&[&line[..], b"\n"].concat()).await?;
                    if line == b"stop" {
                        copas::removeserver(&s, false)?;
                    }
                    Ok::<(), Error>(())
                }
            },
            Some(5.0),
            Some("srv"),
        )
        .unwrap();
        let l = log.clone();
        copas::addthread(async move {
            for msg in ["one", "stop"] {
                let c = luasocket::connect("127.0.0.1", port, None, None, None).await?;
                c.settimeout(Some(5.0));
                c.send(format!("{msg}\n").as_bytes()).await?;
                assert_eq!(c.receive("*l").await?, msg.as_bytes());
            }
            // The handler closed the listening socket: refused now.
            let e = luasocket::connect("127.0.0.1", port, None, None, None)
                .await
                .unwrap_err();
            l.push(e.name().to_string());
            Ok::<(), Error>(())
        });
        run_loop();
        assert!(server.closed());
        assert_eq!(
            log.get(),
            [
                "srv:client_1 Some(\"srv:handler_1\") (Some(5.0), Some(5.0), Some(5.0)) Ok(())",
                "srv:client_2 Some(\"srv:handler_2\") (Some(5.0), Some(5.0), Some(5.0)) Ok(())",
                "connection_refused",
            ]
        );
    });
}

#[test]
fn copas_removeserver_keep_open_stops_accepting_only() {
    bounded(30, || {
        let server = Rc::new(luasocket::bind("127.0.0.1", 0, None).unwrap());
        let port = server.getsockname().unwrap().port();
        let served = Rc::new(Cell::new(0));
        let n = served.clone();
        copas::addserver(
            &server,
            move |_c| {
                n.set(n.get() + 1);
                async {}
            },
            None,
            None,
        )
        .unwrap();
        let s = server.clone();
        copas::addthread(async move {
            let _a = luasocket::connect("127.0.0.1", port, None, None, None).await?;
            copas::pause(0.05).await;
            copas::removeserver(&s, true)?;
            // Still open: the kernel queues this connection, nobody serves it.
            let _b = luasocket::connect("127.0.0.1", port, None, None, None).await?;
            copas::pause(0.05).await;
            Ok::<(), Error>(())
        });
        // Ends: the accept thread is gone, nothing else waits.
        run_loop();
        assert_eq!(served.get(), 1);
        assert!(!server.closed());
    });
}

#[test]
fn copas_addserver_refuses_an_unbound_socket() {
    bounded(10, || {
        let s = luasocket::tcp().unwrap();
        let e = copas::addserver(&s, |_c| async {}, None, None).unwrap_err();
        assert_eq!(e.name(), "invalid_argument");
    });
}

#[test]
fn copas_socket_timeouts_apply_per_direction() {
    paused_loop(|| {
        let server = luasocket::bind("127.0.0.1", 0, None).unwrap();
        let port = server.getsockname().unwrap().port();
        copas::addthread(async move {
            let c = copas::wrap(luasocket::tcp()?);
            assert_eq!(
                c.settimeout(Some(f64::NAN)).unwrap_err().name(),
                "invalid_argument"
            );
            c.settimeout(Some(30.0))?;
            // None leaves one as it is; a negative removes it.
            c.settimeouts(None, Some(-1.0), Some(2.0))?;
            assert_eq!(c.gettimeouts(), (Some(30.0), None, Some(2.0)));
            c.connect(("127.0.0.1", port)).await?;
            let _peer = server.accept().await?;
            let t0 = clock();
            let e = c.receive("*l").await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            assert_secs(clock() - t0, 2.0);
            copas::setsocketname("client", &c);
            assert_eq!(c.name().as_deref(), Some("client"));
            Ok::<(), Error>(())
        });
    });
}

// ===== threads, pause, sleep, wakeup =====

#[test]
fn copas_addthread_starts_on_the_next_round_in_order() {
    bounded(10, || {
        let log = Log::default();
        for name in ["a", "b"] {
            let l = log.clone();
            copas::addthread(async move {
                l.push(format!("{name}1"));
                copas::pause(0.0).await;
                l.push(format!("{name}2"));
            });
        }
        log.push("added");
        assert!(!copas::finished());
        run_loop();
        assert_eq!(log.get(), ["added", "a1", "b1", "a2", "b2"]);
        assert!(copas::finished());
    });
}

#[test]
fn copas_pause_sleep_and_wakeup() {
    let log = paused_log(|l| {
        let l2 = l.clone();
        let sleeper = copas::addnamedthread("sleeper", async move {
            let slept = copas::pause(3600.0).await;
            l2.push(format!("woke after {slept:.1}"));
            let slept = copas::pauseforever().await;
            l2.push(format!("woke again after {slept:.1}"));
        });
        let l3 = l.clone();
        copas::addthread(async move {
            assert_secs(copas::pause(1.5).await, 1.5);
            assert!(copas::pause(-1.0).await < 1e-6);
            let t0 = clock();
            copas::sleep(None).await;
            copas::sleep(Some(0.5)).await;
            assert_secs(clock() - t0, 0.5);
            copas::wakeup(&sleeper);
            // Deferred, as Copas: the sleeper runs after this thread parks.
            l3.push("woke it");
            copas::pause(2.0).await;
            copas::wakeup(&sleeper);
            copas::wakeup(&sleeper); // not parked any more: nothing
        });
    });
    assert_eq!(log, ["woke it", "woke after 2.0", "woke again after 2.0"]);
}

#[test]
fn copas_pauseforever_does_not_keep_the_loop_running() {
    bounded(10, || {
        let woken = Rc::new(Cell::new(false));
        let w = woken.clone();
        let forever = copas::addthread(async move {
            copas::pauseforever().await;
            w.set(true);
        });
        copas::addthread(async {
            copas::pause(0.01).await;
        });
        run_loop();
        assert!(copas::finished());
        assert_eq!(forever.status(), ThreadStatus::Suspended);
        // removethread drops it for good.
        copas::removethread(&forever);
        run_loop();
        assert!(forever.is_finished());
        assert!(!woken.get());
    });
}

#[test]
fn copas_removethread_drops_the_future() {
    bounded(10, || {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let f = Flag(dropped.clone());
        let reached = Rc::new(Cell::new(false));
        let r = reached.clone();
        let t = copas::addthread(async move {
            let _f = f;
            copas::pause(3600.0).await;
            r.set(true);
        });
        copas::addthread(async move {
            copas::pause(0.01).await;
            copas::removethread(&t);
        });
        run_loop();
        assert!(dropped.get());
        assert!(!reached.get());
    });
}

#[test]
fn copas_finished_exit_and_waitforexit() {
    bounded(10, || {
        assert!(copas::finished());
        assert!(!copas::running());
        let log = Log::default();
        let l = log.clone();
        copas::addthread(async move {
            assert!(copas::running());
            assert!(!copas::exiting());
            copas::waitforexit().await?;
            l.push(format!("exit seen, finished={}", copas::finished()));
            Ok::<(), Error>(())
        });
        let l = log.clone();
        copas::addthread(async move {
            copas::pause(0.02).await;
            l.push("work done");
        });
        assert!(!copas::finished());
        run_loop();
        assert!(copas::exiting());
        assert!(copas::finished());
        assert!(!copas::running());
        assert_eq!(log.get(), ["work done", "exit seen, finished=true"]);
        // copas::exit() from a thread releases the waiters at once.
        let l = log.clone();
        copas::addthread(async move {
            copas::waitforexit().await?;
            l.push("released early");
            Ok::<(), Error>(())
        });
        copas::addthread(async {
            copas::exit();
            copas::pause(0.05).await;
        });
        run_loop();
        assert_eq!(log.get()[2], "released early");
    });
}

#[test]
fn copas_step_runs_one_round() {
    bounded(10, || {
        assert!(!copas::step(Some(0.0)).unwrap()); // nothing to do
        let n = Rc::new(Cell::new(0));
        let m = n.clone();
        copas::addthread(async move {
            m.set(1);
            copas::pause(0.01).await;
            m.set(2);
        });
        let failures = Failures::collect();
        assert!(copas::step(Some(1.0)).unwrap());
        assert_eq!(n.get(), 1);
        while !copas::finished() {
            copas::step(Some(1.0)).unwrap();
        }
        failures.assert_none();
        assert_eq!(n.get(), 2);
    });
}

// ===== error handlers =====

#[test]
fn copas_error_handler_receives_a_threads_error() {
    bounded(10, || {
        let log = Log::default();
        let l = log.clone();
        copas::seterrorhandler(
            move |e, t, skt| {
                l.push(format!(
                    "default: {} in {:?} skt {:?}",
                    e.name(),
                    copas::getthreadname(Some(t)),
                    skt
                ));
            },
            true,
        )
        .unwrap();
        copas::addnamedthread("failing", async {
            Err::<(), _>(Error::new(ErrorKind::Timeout))
        });
        let l = log.clone();
        copas::addnamedthread("own", async move {
            copas::seterrorhandler(
                move |e, _, _| l.push(format!("own: {}", e.message().unwrap_or(""))),
                false,
            )?;
            if copas::pause(0.0).await >= 0.0 {
                panic!("boom");
            }
            Ok::<(), Error>(())
        });
        copas::addnamedthread("fine", async {});
        // A handler that panics does not stop the loop.
        copas::addnamedthread("bad handler", async {
            copas::seterrorhandler(|_, _, _| panic!("handler broke"), false)?;
            Err::<(), _>(Error::new(ErrorKind::Closed))
        });
        copas::run_loop().unwrap();
        let got = log.get();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], "default: timeout in Some(\"failing\") skt None");
        assert!(
            got[1].starts_with("own: ") && got[1].contains("boom"),
            "{got:?}"
        );
        // Outside a thread only the default can be set.
        let e = copas::seterrorhandler(|_, _, _| {}, false).unwrap_err();
        assert_eq!(e.name(), "not_in_thread");
        copas::clearerrorhandler(true).unwrap();
        assert_eq!(
            copas::gettraceback("msg", None, Some("skt")),
            "msg (coroutine: nil, socket: skt)"
        );
    });
}

#[test]
fn copas_server_handler_errors_name_the_client_socket() {
    bounded(30, || {
        let server = Rc::new(luasocket::bind("127.0.0.1", 0, None).unwrap());
        let port = server.getsockname().unwrap().port();
        // Every report, the client thread's own failures included.
        let got = Rc::new(RefCell::new(Vec::<String>::new()));
        let g = got.clone();
        copas::seterrorhandler(
            move |e, _, skt| g.borrow_mut().push(format!("{} {skt:?}", e.name())),
            true,
        )
        .unwrap();
        let s = server.clone();
        copas::addserver(
            &server,
            move |c| {
                let s = s.clone();
                async move {
                    copas::removeserver(&s, false)?;
                    c.receive(5).await.map(drop)
                }
            },
            Some(0.05),
            Some("srv"),
        )
        .unwrap();
        copas::addthread(async move {
            let c = luasocket::connect("127.0.0.1", port, None, None, None).await?;
            copas::pause(0.5).await; // send nothing: the handler times out
            drop(c);
            Ok::<(), Error>(())
        });
        copas::run_loop().unwrap();
        assert_eq!(*got.borrow(), ["timeout Some(\"srv:client_1\")"]);
    });
}

#[test]
fn copas_socket_timeout_errors_flag_is_per_thread() {
    bounded(10, || {
        assert_eq!(
            copas::usesockettimeouterrors(true).unwrap_err().name(),
            "not_in_thread"
        );
        copas::addthread(async {
            assert!(!copas::socket_timeout_errors());
            copas::usesockettimeouterrors(true)?;
            assert!(copas::socket_timeout_errors());
            Ok::<(), Error>(())
        });
        copas::addthread(async { assert!(!copas::socket_timeout_errors()) });
        run_loop();
    });
}

// ===== lock =====

#[test]
fn copas_lock_order_timeouts_and_destroy() {
    let log = paused_log(|l| {
        let lock = Lock::new(None, false).unwrap();
        let (k, lg) = (lock.clone(), l.clone());
        copas::addthread(async move {
            assert_eq!(k.get(None).await?, 0.0);
            assert_eq!(k.get(None).await?, 0.0); // re-entrant
            copas::pause(5.0).await;
            k.release()?;
            k.release()?; // both levels
            lg.push("holder done");
            Ok::<(), Error>(())
        });
        for (name, to) in [
            ("w1", None),
            ("quick", Some(1.0)),
            ("w2", Some(f64::INFINITY)),
        ] {
            let (k, lg) = (lock.clone(), l.clone());
            copas::addthread(async move {
                let t0 = clock();
                match k.get(to).await {
                    Ok(waited) => {
                        lg.push(format!("{name} got it after {waited:.1}"));
                        copas::pause(1.0).await;
                        k.release()
                    }
                    Err(e) => {
                        lg.push(format!("{name}: {} after {:.1}", e.name(), clock() - t0));
                        Ok(())
                    }
                }
            });
        }
        let k = lock.clone();
        copas::addthread(async move {
            assert_eq!(k.get(Some(0.0)).await.unwrap_err().name(), "timeout");
            assert_eq!(k.release().unwrap_err().name(), "invalid_argument");
        });
    });
    assert_eq!(
        log,
        [
            "quick: timeout after 1.0",
            "holder done",
            "w1 got it after 5.0",
            "w2 got it after 6.0",
        ]
    );

    bounded(30, || {
        copas::addthread(async { tokio::time::pause() });
        let lock = Lock::new(Some(2.0), true).unwrap();
        let k = lock.clone();
        copas::addthread(async move {
            k.get(None).await?;
            // Not re-entrant: it waits for itself, until the lock's timeout.
            let t0 = clock();
            assert_eq!(k.get(None).await.unwrap_err().name(), "timeout");
            assert_secs(clock() - t0, 2.0);
            copas::pause(1.0).await;
            k.destroy()
        });
        let k = lock.clone();
        copas::addthread(async move {
            let e = k.get(Some(f64::INFINITY)).await.unwrap_err();
            assert_eq!(e.name(), "destroyed");
            assert_eq!(k.release().unwrap_err().name(), "destroyed");
            assert_eq!(k.destroy().unwrap_err().name(), "destroyed");
        });
        run_loop();
        assert_eq!(
            Lock::new(Some(-1.0), false).unwrap_err().name(),
            "invalid_argument"
        );
        assert_eq!(
            Lock::new(None, false)
                .unwrap()
                .release()
                .unwrap_err()
                .name(),
            "not_in_thread"
        );
    });
}

// ===== semaphore =====

#[test]
fn copas_semaphore_as_copas_own_test() {
    paused_loop(|| {
        copas::addthread(async {
            let sema = Semaphore::new(10, Some(5), Some(1.0))?;
            assert_eq!(sema.get_count()?, 5);
            sema.take(Some(3), None).await?;
            assert_eq!(sema.get_count()?, 2);
            let t0 = clock();
            assert_eq!(
                sema.take(Some(3), Some(0.0)).await.unwrap_err().name(),
                "timeout"
            );
            let e = sema.take(Some(11), None).await.unwrap_err();
            assert_eq!(
                (e.name(), e.luasocket_str().as_ref()),
                ("too_many", "too many")
            );
            assert!(clock() - t0 < 1e-6); // neither waited
            assert_eq!(
                sema.take(Some(10), None).await.unwrap_err().name(),
                "timeout"
            );
            assert_secs(clock() - t0, 1.0);
            assert_eq!(sema.get_count()?, 2);

            // FIFO: two takers of 5.
            let state = Rc::new(Cell::new(0));
            for add in [1, 2] {
                let (s, st) = (sema.clone(), state.clone());
                copas::addthread(async move {
                    s.take(Some(5), Some(f64::INFINITY)).await?;
                    st.set(st.get() + add);
                    Ok::<(), Error>(())
                });
            }
            copas::pause(0.1).await;
            assert_eq!(
                (state.get(), sema.get_count()?, sema.get_wait()?),
                (0, 2, 8)
            );
            sema.give(Some(4))?;
            assert_eq!(sema.get_count()?, 1);
            copas::pause(0.1).await;
            assert_eq!(state.get(), 1);
            sema.give(Some(4))?;
            assert_eq!(sema.get_count()?, 0);
            copas::pause(0.1).await;
            assert_eq!(state.get(), 3);
            assert_eq!(sema.give(Some(100)).unwrap_err().name(), "too_many");
            assert_eq!(sema.get_count()?, 10);
            assert_eq!(sema.get_wait()?, -10);

            // destroy releases the waiters with "destroyed".
            sema.take(Some(10), None).await?;
            let destroyed = Rc::new(Cell::new(0));
            for _ in 0..2 {
                let (s, d) = (sema.clone(), destroyed.clone());
                copas::addthread(async move {
                    if s.take(Some(5), None).await.unwrap_err().name() == "destroyed" {
                        d.set(d.get() + 1);
                    }
                });
            }
            copas::pause(0.1).await;
            sema.destroy()?;
            copas::pause(0.1).await;
            assert_eq!(destroyed.get(), 2);
            for e in [
                sema.destroy().unwrap_err(),
                sema.give(None).unwrap_err(),
                sema.take(None, None).await.unwrap_err(),
                sema.get_count().unwrap_err(),
            ] {
                assert_eq!(e.name(), "destroyed");
            }
            Ok::<(), Error>(())
        });
    });
}

#[test]
fn copas_semaphore_waiter_timeout_leaves_the_line() {
    let got = paused_log(|l| {
        let sema = Semaphore::new(10, Some(0), None).unwrap();
        let (s, lg) = (sema.clone(), l.clone());
        copas::addthread(async move {
            // A large request at the head that gives up after 1 s ...
            let e = s.take(Some(8), Some(1.0)).await.unwrap_err();
            lg.push(format!("big: {}", e.name()));
        });
        let (s, lg) = (sema.clone(), l.clone());
        copas::addthread(async move {
            s.take(Some(2), Some(f64::INFINITY)).await.unwrap();
            lg.push(format!("small at {}", clock().round()));
        });
        let (s, lg) = (sema.clone(), l.clone());
        copas::addthread(async move {
            copas::pause(0.5).await;
            s.give(Some(3)).unwrap(); // not enough for the head
            lg.push("gave 3");
        });
    });
    // ... lets the small one behind it through when it leaves.
    assert_eq!(got[0], "gave 3");
    assert_eq!(got[1], "big: timeout");
    assert!(got[2].starts_with("small at "), "{got:?}");
}

// ===== queue =====

#[test]
fn copas_queue_order_timeouts_workers_and_finish() {
    let got = paused_log(|l| {
        let q: Queue<u32> = Queue::new(None);
        assert!(q.name().starts_with("copas_queue_"));
        let (q2, lg) = (q.clone(), l.clone());
        copas::addthread(async move {
            let t0 = clock();
            assert_eq!(q2.pop(Some(0.0)).await.unwrap_err().name(), "timeout");
            assert_eq!(q2.pop(Some(0.5)).await.unwrap_err().name(), "timeout");
            assert_secs(clock() - t0, 0.5);
            // Two poppers waiting: served first come, first served.
            for name in ["p1", "p2"] {
                let (q, lg) = (q2.clone(), lg.clone());
                copas::addthread(async move {
                    let v = q.pop(Some(5.0)).await?;
                    lg.push(format!("{name}={v}"));
                    Ok::<(), Error>(())
                });
            }
            copas::pause(0.1).await;
            q2.push(1)?;
            q2.push(2)?;
            copas::pause(0.1).await;
            // Workers take the rest, in order.
            let lw = lg.clone();
            let w = q2.add_worker(move |item| {
                let lw = lw.clone();
                async move {
                    copas::pause(1.0).await;
                    lw.push(format!("worker {item}"));
                }
            })?;
            assert_eq!(
                copas::getthreadname(Some(&w.untyped())).unwrap(),
                format!("{}:worker_1", q2.name())
            );
            for i in 3..=5 {
                q2.push(i)?;
            }
            assert_eq!(q2.get_size()?, 3);
            q2.finish(None, false).await?;
            lg.push(format!("finished at {:.1}", clock() - t0));
            assert_eq!(q2.push(9).unwrap_err().name(), "destroyed");
            assert_eq!(q2.get_workers().unwrap_err().name(), "destroyed");
            Ok::<(), Error>(())
        });
    });
    assert_eq!(
        got[..5],
        ["p1=1", "p2=2", "worker 3", "worker 4", "worker 5"]
    );
    assert!(got[5].starts_with("finished at 3.7"), "{got:?}");
}

#[test]
fn copas_queue_destroy_releases_poppers_and_idle_workers_do_not_hold_the_loop() {
    bounded(10, || {
        let q: Queue<&'static str> = Queue::new(Some("jobs"));
        let worker = q.add_worker(|_item| async {}).unwrap();
        let q2 = q.clone();
        let popper = copas::addthread(async move {
            let e = q2.pop(Some(f64::INFINITY)).await.unwrap_err();
            assert_eq!(e.name(), "destroyed");
        });
        // Only threads waiting without end are left: the loop ends.
        run_loop();
        assert_eq!(worker.status(), ThreadStatus::Suspended);
        assert_eq!(q.get_workers().unwrap(), std::slice::from_ref(&worker));
        q.destroy().unwrap();
        run_loop();
        assert!(worker.is_finished() && popper.is_finished());
        assert_eq!(q.destroy().unwrap_err().name(), "destroyed");

        // stop(): no more pushes; the queue destroys itself once empty.
        let q: Queue<u8> = Queue::new(None);
        q.push(1).unwrap();
        q.stop().unwrap();
        assert_eq!(q.push(2).unwrap_err().name(), "destroyed");
        let q2 = q.clone();
        copas::addthread(async move { assert_eq!(q2.pop(None).await.unwrap(), 1) });
        run_loop();
        assert_eq!(q.get_size().unwrap_err().name(), "destroyed");
    });
}

#[test]
fn copas_queue_finish_times_out() {
    paused_loop(|| {
        let q: Queue<u8> = Queue::new(None);
        q.add_worker(|_| async {
            copas::pause(10.0).await;
        })
        .unwrap();
        q.push(1).unwrap();
        q.push(2).unwrap();
        copas::addthread(async move {
            copas::pause(0.1).await;
            let t0 = clock();
            assert_eq!(
                q.finish(Some(3.0), false).await.unwrap_err().name(),
                "timeout"
            );
            assert_secs(clock() - t0, 3.0);
            // Destroyed on the timeout: what was left is dropped.
            assert_eq!(q.get_size().unwrap_err().name(), "destroyed");
        });
    });
}

// ===== timer =====

#[test]
fn copas_timer_once_recurring_cancel_and_errors() {
    let log = paused_log(|l| {
        let t0 = clock();
        let lg = l.clone();
        let once = Timer::new(
            TimerOptions {
                delay: 2.0,
                ..TimerOptions::default()
            },
            move |_t: &Timer| lg.push(format!("once at {:.1}", clock() - t0)),
        )
        .unwrap();
        assert!(once.is_armed());
        assert_eq!(once.arm(None).unwrap_err().name(), "invalid_argument");

        let lg = l.clone();
        let handled = l.clone();
        let opts = TimerOptions {
            name: Some("tick".into()),
            delay: 1.0,
            initial_delay: Some(0.5),
            recurring: true,
            errorhandler: Some(Rc::new(move |e, _, _| {
                handled.push(format!("handler: {}", e.name()))
            })),
        };
        let n = Rc::new(Cell::new(0));
        Timer::new(opts, move |t: &Timer| {
            n.set(n.get() + 1);
            lg.push(format!("{} #{} at {:.1}", t.name(), n.get(), clock() - t0));
            if n.get() == 2 {
                return Err(Error::new(ErrorKind::Timeout)); // goes on
            }
            if n.get() == 3 {
                t.cancel()?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            Timer::new(
                TimerOptions {
                    delay: -1.0,
                    ..TimerOptions::default()
                },
                |_: &Timer| {}
            )
            .unwrap_err()
            .name(),
            "invalid_argument"
        );
    });
    assert_eq!(
        log,
        [
            "tick #1 at 0.5",
            "tick #2 at 1.5",
            "handler: timeout",
            "once at 2.0",
            "tick #3 at 2.5",
        ]
    );
}

#[test]
fn copas_timer_cancel_before_it_fires() {
    paused_loop(|| {
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        let t = Timer::new(
            TimerOptions {
                delay: 5.0,
                ..TimerOptions::default()
            },
            move |_: &Timer| f.set(true),
        )
        .unwrap();
        copas::addthread(async move {
            copas::pause(1.0).await;
            t.cancel()?;
            assert!(!t.is_armed());
            assert_eq!(t.cancel().unwrap_err().name(), "invalid_argument");
            copas::pause(10.0).await;
            assert!(!fired.get());
            // Armed again, it fires.
            t.arm(Some(0.0))?;
            copas::pause(0.1).await;
            assert!(fired.get());
            Ok::<(), Error>(())
        });
    });
}

#[test]
fn copas_stray_wakeup_does_not_end_a_lock_or_semaphore_wait() {
    let got = paused_log(|l| {
        let lock = Lock::new(None, false).unwrap();
        let sema = Semaphore::new(1, Some(0), None).unwrap();
        let k = lock.clone();
        copas::addthread(async move {
            k.get(None).await?;
            copas::pause(10.0).await;
            k.release()
        });
        let mut waiters = Vec::new();
        for what in ["lock", "sema"] {
            let (k, s, lg) = (lock.clone(), sema.clone(), l.clone());
            waiters.push(copas::addthread(async move {
                let t0 = clock();
                let e = match what {
                    "lock" => k.get(Some(2.0)).await.unwrap_err(),
                    _ => s.take(None, Some(2.0)).await.unwrap_err(),
                };
                lg.push(format!("{what}: {} after {:.1}", e.name(), clock() - t0));
            }));
        }
        copas::addthread(async move {
            copas::pause(0.5).await;
            for w in &waiters {
                copas::wakeup(w);
            }
        });
    });
    assert_eq!(got, ["lock: timeout after 2.0", "sema: timeout after 2.0"]);
}

/// A burst of 300 connections at once: every one is accepted and its
/// handler runs (the accept loop must not run down Tokio's cooperative
/// budget in one poll; it stalled after 128 before).
#[test]
fn addserver_accepts_a_burst_of_connections() {
    let failures = Failures::collect();
    let server = Rc::new(luasocket::bind("127.0.0.1", 0, Some(1024)).unwrap());
    let port = server.getsockname().unwrap().port();
    let served = Rc::new(Cell::new(0));
    let n = served.clone();
    copas::addserver(
        &server,
        move |c| {
            let n = n.clone();
            async move {
                let line = c.receive("*l").await?;
                assert_eq!(line, b"hi");
                n.set(n.get() + 1);
                Ok::<(), sockloop::Error>(())
            }
        },
        Some(5.0),
        None,
    )
    .unwrap();
    let s = server.clone();
    let done = served.clone();
    copas::addthread(async move {
        let mut clients = Vec::new();
        for _ in 0..300 {
            let c = sockloop::tcp()?;
            c.connect(("127.0.0.1", port), clock() + 5.0).await?;
            c.send(b"hi\n", clock() + 5.0).await?;
            clients.push(c);
        }
        let deadline = clock() + 10.0;
        while done.get() < 300 && clock() < deadline {
            copas::pause(0.01).await;
        }
        copas::removeserver(&s, false)
    });
    run_loop();
    failures.assert_none();
    assert_eq!(served.get(), 300);
}
