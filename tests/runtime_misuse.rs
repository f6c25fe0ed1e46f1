//! The wrong setting gets a clear signal that names the fix, never a
//! thread that silently never runs: a Tokio runtime without a `LocalSet`,
//! no runtime at all, a runtime without timers. And the right setting
//! (`LocalSet::run_until`) keeps working.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sockloop::ThreadStatus;
use support::bounded;

/// The message of a caught panic.
fn message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        panic!("a panic without a message")
    }
}

/// Runs `f`, which must panic, and returns the panic's message.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(p) => message(p),
    }
}

/// Asserts that `msg` is sockloop's "no LocalSet" signal naming both fixes.
fn assert_names_the_fix(msg: &str, call: &str) {
    assert!(msg.starts_with(call), "{msg}");
    assert!(msg.contains("no_local_set"), "{msg}");
    assert!(msg.contains("LocalSet::run_until"), "{msg}");
    assert!(msg.contains("sockloop::run"), "{msg}");
    assert!(!msg.contains("`spawn_local` called"), "not Tokio's: {msg}");
}

fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Nothing waits on this OS thread's loop: no thread or timer was left
/// behind to hang. Call outside any runtime.
fn assert_loop_empty() {
    assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
}

// ===== inside a Tokio runtime, outside a LocalSet =====

#[test]
fn thread_without_local_set_panics_naming_the_fix_before_the_body_runs() {
    bounded(10, || {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let msg = current_thread_rt().block_on(async move {
            panic_message(move || {
                sockloop::thread(async move {
                    r.set(true);
                    sockloop::sleep(0.01).await;
                })
            })
        });
        assert_names_the_fix(&msg, "sockloop::thread");
        assert!(!ran.get(), "the body must not run where it cannot continue");
        assert_loop_empty();
    });
}

#[test]
fn try_thread_and_newserver_without_local_set_are_no_local_set() {
    bounded(10, || {
        let dropped = Rc::new(Cell::new(false));
        current_thread_rt().block_on(async {
            struct OnDrop(Rc<Cell<bool>>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    self.0.set(true);
                }
            }
            let guard = OnDrop(dropped.clone());
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            let e = sockloop::try_thread(async move {
                let _guard = guard;
                r.set(true);
            })
            .unwrap_err();
            assert_eq!(e.name(), "no_local_set");
            assert!(e.to_string().contains("LocalSet::run_until"), "{e}");
            assert!(!ran.get(), "not run");
            assert!(dropped.get(), "the future is dropped, not kept");

            let e = sockloop::socketloop::newserver("127.0.0.1", 0, |_c| async {})
                .map(|_| ())
                .unwrap_err();
            assert_eq!(e.name(), "no_local_set");
        });
        assert_loop_empty();
    });
}

#[test]
fn resume_without_local_set_is_no_local_set_and_works_later_in_one() {
    bounded(10, || {
        let log = support::Log::default();
        let l = log.clone();
        let rt = current_thread_rt();
        rt.block_on(async move {
            let t = sockloop::newthread(async move {
                l.push("ran");
                sockloop::sleep(0.01).await;
                l.push("slept");
            });
            let e = sockloop::resume(&t, ()).unwrap_err();
            assert_eq!(e.name(), "no_local_set");
            assert_eq!(e.kind(), sockloop::ErrorKind::NoLocalSet);
            assert!(e.to_string().contains("LocalSet::run_until"), "{e}");
            assert!(e.to_string().contains("sockloop::run"), "{e}");
            assert_eq!(t.status(), ThreadStatus::New, "untouched");
            // Refused every time, not only once.
            assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "no_local_set");
            assert!(log.get().is_empty());

            // The same thread runs to the end inside a LocalSet.
            support::local(10, async {
                sockloop::resume(&t, ()).unwrap();
                assert_eq!(t.status(), ThreadStatus::Waiting);
                while !t.is_finished() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert!(!t.is_panicked());
            assert_eq!(log.get(), ["ran", "slept"]);
        });
    });
}

#[test]
fn thread_in_a_tokio_spawn_task_panics_naming_the_fix() {
    // `#[tokio::main]`'s default flavor; a spawned task is never in a LocalSet.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let msg = rt.block_on(async {
        let task = tokio::spawn(async {
            sockloop::thread(async {});
        });
        let joined = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("bounded");
        message(joined.unwrap_err().into_panic())
    });
    assert_names_the_fix(&msg, "sockloop::thread");
}

#[test]
fn timers_without_local_set_panic_naming_the_fix_and_are_not_queued() {
    bounded(10, || {
        let fired = Rc::new(Cell::new(0));
        current_thread_rt().block_on(async {
            let f = fired.clone();
            let msg = panic_message(|| sockloop::runafter(0.0, move || f.set(f.get() + 1)));
            assert_names_the_fix(&msg, "sockloop::runafter");
            let f = fired.clone();
            let msg = panic_message(|| sockloop::runat(sockloop::clock(), move || f.set(1)));
            assert_names_the_fix(&msg, "sockloop::runat");
            let f = fired.clone();
            let msg = panic_message(|| sockloop::runevery(0.001, move || f.set(1)));
            assert_names_the_fix(&msg, "sockloop::runevery");
            // A timer that never fires needs no driver and is not refused.
            assert!(!sockloop::runafter(f64::INFINITY, || ()).is_active());
        });
        assert_loop_empty();
        assert_eq!(fired.get(), 0);
    });
}

#[test]
fn cancel_that_needs_a_driver_panics_outside_a_local_set_and_is_kept() {
    bounded(10, || {
        current_thread_rt().block_on(async {
            let saw = Rc::new(Cell::new(None));
            let s = saw.clone();
            let set = tokio::task::LocalSet::new();
            let t = set
                .run_until(async move {
                    sockloop::thread(async move {
                        sockloop::suspend(()).await;
                        s.set(Some(sockloop::cancelled()));
                    })
                })
                .await;
            assert_eq!(t.status(), ThreadStatus::Suspended);
            drop(set); // its driver goes with it
            let msg = panic_message(|| t.cancel());
            assert_names_the_fix(&msg, "Thread::cancel");
            assert_eq!(saw.get(), None);
            // Inside a LocalSet the pending cancel is delivered.
            support::local(10, async {
                t.cancel();
                while !t.is_finished() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert_eq!(saw.get(), Some(true));
        });
    });
}

#[test]
fn sleep_job_wakeup_without_a_driver_panics_before_the_sleeper_runs() {
    bounded(10, || {
        current_thread_rt().block_on(async {
            let sj = Rc::new(sockloop::sleep_job());
            let got = Rc::new(Cell::new(0));
            let (sj2, g) = (sj.clone(), got.clone());
            let set = tokio::task::LocalSet::new();
            let t = set
                .run_until(async move {
                    sockloop::thread(async move {
                        let v = sj2.sleep(60.0).await.expect("woken");
                        g.set(*v.downcast::<i32>().unwrap());
                    })
                })
                .await;
            drop(set);
            let msg = panic_message(|| sj.wakeup(7));
            assert_names_the_fix(&msg, "SleepJob::wakeup");
            assert_eq!(got.get(), 0, "the sleeper did not run");
            assert_eq!(t.status(), ThreadStatus::Waiting);
            // A LocalSet later: a new driver delivers the kept value.
            support::local(10, async {
                sockloop::runafter(0.0, || ()); // starts a driver
                while !t.is_finished() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert_eq!(got.get(), 7);
        });
    });
}

// ===== no runtime at all, or one without timers =====

/// Polls `fut` once on no executor at all (a bare `block_on` would do
/// the same at its first poll).
fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn assert_no_runtime_message(msg: &str) {
    assert!(msg.starts_with("sockloop:"), "{msg}");
    assert!(msg.contains("outside any Tokio runtime"), "{msg}");
    assert!(msg.contains("sockloop::run"), "{msg}");
    assert!(msg.contains("#[tokio::main]"), "{msg}");
    assert!(!msg.contains("no reactor running"), "not Tokio's: {msg}");
}

#[test]
fn sleep_outside_any_runtime_panics_with_sockloops_message() {
    bounded(10, || {
        assert_no_runtime_message(&panic_message(|| poll_once(sockloop::sleep(0.01))));
        let t = sockloop::clock() + 0.01;
        assert_no_runtime_message(&panic_message(|| poll_once(sockloop::sleep_until(t))));
        let sj = sockloop::sleep_job();
        assert_no_runtime_message(&panic_message(|| poll_once(sj.sleep(0.01))));
        assert!(!sj.is_sleeping(), "the failed sleep left no sleeper behind");
        assert_no_runtime_message(&panic_message(|| poll_once(sj.sleep_until(t))));
        // No deadline needs no timer: pending, no panic.
        assert!(poll_once(sockloop::sleep(f64::INFINITY)).is_pending());
        assert!(poll_once(sj.sleep(f64::INFINITY)).is_pending());
        // Inside a sockloop thread the same sleep works without a runtime.
        sockloop::run(sockloop::sleep(0.001));
    });
}

#[test]
fn sleep_in_a_runtime_without_timers_panics_with_sockloops_message() {
    bounded(10, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let msg = panic_message(|| rt.block_on(sockloop::sleep(0.01)));
        assert!(msg.starts_with("sockloop:"), "{msg}");
        assert!(msg.contains("timers disabled"), "{msg}");
        assert!(msg.contains("enable_time()"), "{msg}");
        let sj = sockloop::sleep_job();
        let msg = panic_message(|| rt.block_on(sj.sleep(0.01)));
        assert!(msg.contains("enable_time()"), "{msg}");
    });
}

#[test]
fn threads_in_a_runtime_without_timers_are_refused() {
    bounded(10, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let set = tokio::task::LocalSet::new();
        set.block_on(&rt, async {
            let msg = panic_message(|| sockloop::thread(async {}));
            assert!(msg.starts_with("sockloop::thread: not_supported"), "{msg}");
            assert!(msg.contains("enable_time()"), "{msg}");
            let t = sockloop::newthread(async {});
            let e = sockloop::resume(&t, ()).unwrap_err();
            assert_eq!(e.name(), "not_supported");
            assert!(e.to_string().contains("enable_time()"), "{e}");
        });
    });
}

// ===== the right setting =====

#[test]
fn inside_a_local_set_threads_timers_sockets_and_cancel_work() {
    // `#[tokio::main]`'s default multi-thread flavor, with a LocalSet.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let set = tokio::task::LocalSet::new();
    let (echoed, fired, cancelled) = set.block_on(&rt, async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let server = sockloop::tcp().unwrap();
            server.listen(("127.0.0.1", 0)).unwrap();
            let port = server.local_addr().unwrap().port();
            let srv = sockloop::thread(async move {
                let c = server.accept(sockloop::clock() + 5.0).await.unwrap();
                let mut buf = [0u8; 5];
                c.recvn(&mut buf, sockloop::clock() + 5.0).await.unwrap();
                c.send(&buf, sockloop::clock() + 5.0).await.unwrap();
            });
            let fired = Rc::new(Cell::new(false));
            let f = fired.clone();
            sockloop::runafter(0.001, move || f.set(true));
            let sleeper = sockloop::thread(async {
                sockloop::sleep(3600.0).await;
                assert!(sockloop::cancelled());
            });
            // A plain Tokio task, on a worker thread, is the client.
            let client = tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                s.write_all(b"hello").await.unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                buf
            });
            let echoed = client.await.unwrap();
            sleeper.cancel();
            while !(srv.is_finished() && sleeper.is_finished() && fired.get()) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(!srv.is_panicked() && !sleeper.is_panicked());
            (echoed, fired.get(), sleeper.is_cancelled())
        })
        .await
        .expect("bounded")
    });
    assert_eq!(&echoed, b"hello");
    assert!(fired && cancelled);
}

// ===== nothing of Tokio's panic reaches the user =====

/// Run by [`no_tokio_panic_is_printed`] in a child process.
#[test]
#[ignore = "run by no_tokio_panic_is_printed in a child process"]
fn child_misuse_scenario() {
    if std::env::var_os("SOCKLOOP_MISUSE_CHILD").is_none() {
        return;
    }
    current_thread_rt().block_on(async {
        let t = sockloop::newthread(async {});
        assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "no_local_set");
        eprintln!("--- resume refused ---");
        let _ = catch_unwind(|| sockloop::thread(async {}));
    });
}

#[test]
fn no_tokio_panic_is_printed() {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "child_misuse_scenario",
            "--exact",
            "--nocapture",
            "--include-ignored",
        ])
        .env("SOCKLOOP_MISUSE_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the child did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let (before, after) = err
        .split_once("--- resume refused ---")
        .unwrap_or_else(|| panic!("the child did not get far: {err}"));
    assert!(
        !before.contains("panicked"),
        "resume printed a panic: {before}"
    );
    // The refused thread() prints sockloop's panic, through the hook that
    // was there before, and nothing of Tokio's.
    assert!(after.contains("no_local_set"), "{after}");
    assert!(!err.contains("`spawn_local` called"), "{err}");
    assert_eq!(err.matches("panicked").count(), 1, "{err}");
}
