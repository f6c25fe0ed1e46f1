//! What threads return and what they receive: results through `resume`
//! and `Thread::join`, `?` in a body and where its `Err` goes, the first
//! resume's value, `Value`'s type errors, and thread names in reports.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sockloop::{Error, ErrorKind, Thread, ThreadStatus, Value};
use support::bounded;

/// A value that counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// The text of a caught panic.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

// ===== results through resume =====

#[test]
fn resume_returns_the_finish_value_and_none_for_unit() {
    bounded(10, || {
        let t = sockloop::newthread(async {
            let v = sockloop::suspend("parked").await;
            v.get::<i64>().unwrap() * 2
        });
        let out = sockloop::resume(&t, ()).unwrap().unwrap();
        assert_eq!(out.get::<&str>().unwrap(), "parked");
        let out = sockloop::resume(&t, 21i64).unwrap().unwrap();
        assert_eq!(out.type_name(), "i64");
        assert_eq!(out.get::<i64>().unwrap(), 42);
        assert!(t.is_finished());

        // `()` is no value, as a Lua function that returns nothing.
        let u = sockloop::newthread(async {});
        assert!(sockloop::resume(&u, ()).unwrap().is_none());
        // A finished thread cannot be resumed again.
        assert_eq!(sockloop::resume(&t, ()).unwrap_err().name(), "thread_dead");
    });
}

#[test]
fn a_result_taken_by_resume_is_gone_for_join() {
    bounded(10, || {
        sockloop::run(async {
            let t = sockloop::newthread(async { Err::<u8, _>(Error::from(ErrorKind::Eof)) });
            let out = sockloop::resume(&t, ()).unwrap().unwrap();
            let r = out.get::<sockloop::Result<u8>>().unwrap();
            assert_eq!(r.unwrap_err().name(), "eof");
            let e = t.join(None).await.unwrap_err();
            assert_eq!(e.name(), "thread_dead");
            assert!(e.to_string().contains("already taken"), "{e}");
        });
        // Taken by resume: not reported by the loop either.
        sockloop::thread(async { sockloop::sleep(0.001).await });
        sockloop::start().unwrap();
    });
}

// ===== join =====

#[test]
fn join_waits_for_the_typed_result_under_a_paused_clock() {
    bounded(10, || {
        sockloop::run(async {
            tokio::time::pause();
            let t0 = sockloop::clock();
            let t = sockloop::thread(async {
                sockloop::sleep(2.0).await;
                vec![1u8, 2, 3]
            });
            assert_eq!(t.status(), ThreadStatus::Waiting);
            let v: Vec<u8> = t.join(None).await.unwrap();
            assert_eq!(v, [1, 2, 3]);
            let dt = sockloop::clock() - t0;
            assert!((2.0..2.002).contains(&dt), "joined after {dt} s");
        });
    });
}

#[test]
fn join_times_out_then_still_gets_the_result() {
    bounded(10, || {
        sockloop::run(async {
            tokio::time::pause();
            let t = sockloop::thread(async {
                sockloop::sleep(5.0).await;
                "late"
            });
            let t0 = sockloop::clock();
            let e = t.join(t0 + 1.0).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
            let dt = sockloop::clock() - t0;
            assert!((1.0..1.002).contains(&dt), "timed out after {dt} s");
            assert!(!t.is_finished(), "the thread runs on");
            assert_eq!(t.join(None).await.unwrap(), "late");
            // Taken once.
            assert_eq!(t.join(None).await.unwrap_err().name(), "thread_dead");
        });
    });
}

#[test]
fn join_of_a_finished_thread_with_a_past_deadline_returns_the_result() {
    bounded(10, || {
        sockloop::run(async {
            let t = sockloop::thread(async { 7u16 });
            assert!(t.is_finished());
            assert_eq!(t.join(sockloop::clock() - 1.0).await.unwrap(), 7);
        });
    });
}

#[test]
fn several_joiners_of_a_unit_thread_all_return() {
    bounded(10, || {
        let done = Rc::new(Cell::new(0));
        sockloop::run({
            let done = done.clone();
            async move {
                let t = sockloop::thread(async { sockloop::sleep(0.01).await });
                for _ in 0..3 {
                    let (t, done) = (t.clone(), done.clone());
                    sockloop::thread(async move {
                        t.join(sockloop::clock() + 5.0).await.unwrap();
                        done.set(done.get() + 1);
                    });
                }
            }
        });
        assert_eq!(done.get(), 3);
    });
}

#[test]
fn join_misuse_is_named() {
    bounded(10, || {
        sockloop::run(async {
            // A thread joining itself.
            let t = sockloop::thread(async {
                let me = sockloop::currentthread().unwrap();
                me.join(None).await.unwrap_err().name().to_string()
            });
            assert_eq!(t.join(None).await.unwrap(), "thread_busy");

            // A cancelled joiner.
            let sleeper = sockloop::thread(async { sockloop::sleep(3600.0).await });
            let s2 = sleeper.clone();
            let joiner = sockloop::thread(async move { s2.join(None).await });
            joiner.cancel();
            let r = joiner.join(None).await.unwrap();
            assert_eq!(r.unwrap_err().name(), "cancelled");
            sleeper.cancel();
            sleeper.join(None).await.unwrap();

            // A panicked thread: the error names it.
            let p = sockloop::newthread_named("crasher", async { panic!("kaboom") });
            let id = p.id();
            assert_eq!(
                sockloop::resume(&p, ()).unwrap_err().name(),
                "thread_panicked"
            );
            let e = p.join(None).await.unwrap_err();
            assert_eq!(e.name(), "thread_panicked");
            assert_eq!(
                e.to_string(),
                format!("thread_panicked: sockloop thread 'crasher' (id {id}) panicked: kaboom")
            );
        });
    });
}

#[test]
fn untyped_join_gives_a_value_and_equality_crosses_types() {
    bounded(10, || {
        sockloop::run(async {
            let a = sockloop::thread(async { 1.5f64 });
            let b = sockloop::thread(async {});
            let all: Vec<Thread<Value>> = vec![a.untyped(), b.untyped()];
            assert_eq!(all[0], a);
            assert_ne!(all[1], a);
            let v = all[0].join(None).await.unwrap();
            assert_eq!(v.get::<f64>().unwrap(), 1.5);
            let u = all[1].join(None).await.unwrap();
            assert!(u.is::<()>());
        });
    });
}

// ===== `?` in a thread, and where its `Err` goes =====

/// A body that uses `?` on socket calls: connecting to a closed port.
async fn fetch(port: u16) -> sockloop::Result<usize> {
    let c = sockloop::tcp()?;
    c.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
        .await?;
    Ok(0)
}

fn closed_port() -> u16 {
    let s = sockloop::tcp().unwrap();
    s.bind(("127.0.0.1", 0)).unwrap();
    let port = s.local_addr().unwrap().port();
    s.close().unwrap();
    port
}

#[test]
fn question_mark_in_a_thread_delivers_err_to_the_joiner_only() {
    bounded(10, || {
        let port = closed_port();
        sockloop::run(async move {
            let t = sockloop::thread_named("fetch", fetch(port));
            let e = t.join(sockloop::clock() + 5.0).await.unwrap().unwrap_err();
            assert_eq!(e.name(), "connection_refused");
            // The hook-visible error is there too, naming the thread.
            let f = t.error().unwrap();
            assert_eq!(f.name(), "thread_failed");
            assert!(
                f.to_string().contains("sockloop thread 'fetch' (id ")
                    && f.to_string().ends_with("returned Err: connection_refused"),
                "{f}"
            );
        });
        // Joined: nothing left to report.
        sockloop::thread(async { sockloop::sleep(0.001).await });
        sockloop::start().unwrap();
    });
}

#[test]
fn an_err_nobody_joins_is_reported_by_start_and_seen_by_onthreadfinish() {
    bounded(10, || {
        let port = closed_port();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let other_ran = Rc::new(Cell::new(false));
        let o = other_ran.clone();
        let t = sockloop::thread_named("fetch", fetch(port));
        let id = t.id();
        sockloop::onthreadfinish(&t, move |t| *s.borrow_mut() = t.error());
        drop(t); // nobody can join it now
        sockloop::thread(async move {
            sockloop::sleep(0.01).await;
            o.set(true);
        });
        let e = sockloop::start().unwrap_err();
        assert_eq!(e.name(), "thread_failed");
        assert_eq!(
            e.to_string(),
            format!(
                "thread_failed: sockloop thread 'fetch' (id {id}) returned Err: connection_refused"
            )
        );
        assert!(other_ran.get(), "the other threads ran on");
        let hook = seen.borrow_mut().take().expect("the hook saw the error");
        assert_eq!(hook.name(), "thread_failed");
        // Reported once; the loop stays usable.
        sockloop::thread(async { sockloop::sleep(0.001).await });
        sockloop::start().unwrap();
    });
}

#[test]
fn an_err_kept_in_a_handle_is_reported_when_the_handle_is_dropped() {
    bounded(10, || {
        let t = sockloop::thread(async { Err::<(), _>("no config") });
        assert!(t.is_finished());
        // A handle is alive: someone may still join.
        sockloop::thread(async { sockloop::sleep(0.001).await });
        sockloop::start().unwrap();
        drop(t);
        let e = sockloop::poll(Some(0.0)).unwrap_err();
        assert_eq!(e.name(), "empty", "poll: nothing waits");
        sockloop::thread(async { sockloop::sleep(0.001).await });
        let e = sockloop::start().unwrap_err();
        assert_eq!(e.name(), "thread_failed");
        assert!(e.to_string().ends_with("returned Err: no config"), "{e}");
    });
}

#[test]
fn run_panics_with_an_unjoined_err_of_another_thread() {
    bounded(10, || {
        let r = std::panic::catch_unwind(|| {
            sockloop::run(async {
                sockloop::thread_named("bg", async {
                    sockloop::sleep(0.001).await;
                    Err::<(), _>(Error::from(ErrorKind::ConnectionReset))
                });
                sockloop::sleep(0.01).await;
            })
        });
        let msg = panic_text(r.unwrap_err());
        assert!(
            msg.starts_with("sockloop::run: thread_failed: sockloop thread 'bg'"),
            "{msg}"
        );
        assert!(msg.ends_with("returned Err: connection_reset"), "{msg}");
        // The future's own `Err` is returned, not reported.
        let own: sockloop::Result<()> = sockloop::run(async { Err(ErrorKind::Eof.into()) });
        assert_eq!(own.unwrap_err().name(), "eof");
    });
}

// ===== the first resume's value =====

#[test]
fn newthread_with_receives_the_first_resume_value() {
    bounded(10, || {
        let t = sockloop::newthread_with(|args: Value| async move {
            let (a, b) = args.get::<(i32, &str)>()?;
            let next = sockloop::suspend(a).await;
            Ok::<_, Error>(format!("{b}{}", next.get::<i32>()?))
        });
        let out = sockloop::resume(&t, (7, "x")).unwrap().unwrap();
        assert_eq!(out.get::<i32>().unwrap(), 7);
        let out = sockloop::resume(&t, 8).unwrap().unwrap();
        assert_eq!(
            out.get::<sockloop::Result<String>>().unwrap().unwrap(),
            "x8"
        );
    });
}

#[test]
fn the_first_transfer_value_reaches_a_newthread_with_body() {
    bounded(10, || {
        let got = Rc::new(Cell::new(0u32));
        let g = got.clone();
        let target = sockloop::newthread_with(move |v: Value| async move {
            g.set(v.get::<u32>().unwrap());
        });
        let t2 = target.clone();
        let source = sockloop::newthread(async move {
            sockloop::transfer(&t2, 99u32).await;
        });
        sockloop::resume(&source, ()).unwrap();
        assert_eq!(got.get(), 99);
        assert!(target.is_finished());
        assert_eq!(source.status(), ThreadStatus::Suspended);
        sockloop::resume(&source, ()).unwrap();
    });
}

#[test]
fn a_first_value_given_to_a_body_without_arguments_is_dropped() {
    bounded(10, || {
        let drops = Rc::new(Cell::new(0));
        let t = sockloop::newthread(async {
            sockloop::suspend(()).await;
        });
        sockloop::resume(&t, Counted(drops.clone())).unwrap();
        assert_eq!(drops.get(), 1, "dropped at the first resume");
        sockloop::resume(&t, ()).unwrap();
        assert!(t.is_finished());
    });
}

// ===== Value =====

#[test]
fn a_wrong_type_names_both_types() {
    bounded(10, || {
        let t = sockloop::newthread(async {
            let v = sockloop::suspend(()).await;
            assert_eq!(format!("{v:?}"), "Value { type: i32, value: 42 }");
            v.get::<u64>()
        });
        sockloop::resume(&t, ()).unwrap();
        let out = sockloop::resume(&t, 42).unwrap().unwrap();
        let e = out.get::<sockloop::Result<u64>>().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongType);
        assert_eq!(e.name(), "wrong_type");
        assert_eq!(e.to_string(), "wrong_type: expected u64, got i32");

        let e = Value::new(String::from("s")).get::<Vec<u8>>().unwrap_err();
        assert_eq!(e.message(), Some("expected Vec<u8>, got String"));
        // An unprintable value still says what it is.
        struct Opaque;
        let d = format!("{:?}", Value::new(Opaque));
        assert!(
            d.starts_with("Value { type: ") && d.contains("Opaque"),
            "{d}"
        );
    });
}

// ===== names =====

#[test]
fn names_appear_in_debug_and_panic_reports() {
    bounded(10, || {
        let t = sockloop::thread_named("worker", async {
            sockloop::sleep(0.001).await;
            panic!("worker failed");
        });
        let id = t.id();
        assert_eq!(t.name(), Some("worker"));
        let d = format!("{t:?}");
        assert_eq!(
            d,
            format!("Thread {{ id: {id}, name: \"worker\", status: Waiting }}")
        );
        let e = sockloop::start().unwrap_err();
        assert_eq!(e.name(), "thread_panicked");
        assert_eq!(
            e.to_string(),
            format!("thread_panicked: sockloop thread 'worker' (id {id}) panicked: worker failed")
        );
        assert_eq!(t.error().unwrap().name(), "thread_panicked");

        // An unnamed thread is named by its id.
        let u = sockloop::newthread(async { panic!("plain") });
        let e = sockloop::resume(&u, ()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "thread_panicked: sockloop thread {} panicked: plain",
                u.id()
            )
        );
        assert!(!format!("{u:?}").contains("name"));
    });
}

#[test]
fn run_names_the_thread_that_panicked() {
    bounded(10, || {
        let r = std::panic::catch_unwind(|| {
            sockloop::run(async {
                sockloop::thread_named("helper", async {
                    sockloop::sleep(0.001).await;
                    panic!("helper broke");
                });
                sockloop::sleep(0.01).await;
            })
        });
        let msg = panic_text(r.unwrap_err());
        assert!(msg.starts_with("sockloop thread 'helper' (id "), "{msg}");
        assert!(msg.ends_with("panicked: helper broke"), "{msg}");

        // The future of run itself is the thread named "run".
        let r = std::panic::catch_unwind(|| sockloop::run(async { panic!("in run") }));
        let msg = panic_text(r.unwrap_err());
        assert!(msg.starts_with("sockloop thread 'run' (id "), "{msg}");
    });
}
