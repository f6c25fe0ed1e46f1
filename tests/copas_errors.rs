//! Copas' errors (issue 18): a wait that ran out is `Err("timeout")` for
//! every Copas primitive (a non-reentrant lock's holder asking again
//! included); `copas::run_loop()`/`step()` inside a running loop name
//! themselves and the fix; `luasocket_str()` gives Copas' exact string
//! for every Copas error. Copas threads report failures to an error
//! handler, not to the loop, so each test collects them and asserts
//! after the loop. Tokio's clock is paused: waits are exact.

mod support;

use std::future::Future;

use sockloop::copas::{self, Lock, Queue, Semaphore, Timer, TimerOptions};
use sockloop::{clock, Error};
use support::bounded;
use support::copas::Failures;

/// Runs `body` as the Copas initializer thread on a fresh loop with a
/// paused clock; returns every failure reported by a Copas thread.
fn copas_run<F, Fut>(body: F) -> Vec<String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + 'static,
{
    bounded(30, move || {
        let failures = Failures::collect();
        copas::addthread(async { tokio::time::pause() });
        copas::run_loop_with(body(), None).unwrap();
        failures.get()
    })
}

#[track_caller]
fn assert_waited(t0: f64, want: f64) {
    let got = clock() - t0;
    assert!(
        got >= want && got < want + 0.01,
        "waited {got} s, want {want} s"
    );
}

#[test]
fn copas_lock_holder_of_a_non_reentrant_lock_times_out_still_holding_it() {
    let failures = copas_run(|| async {
        let lock = Lock::new(None, true)?;
        assert_eq!(lock.get(None).await?, 0.0);
        let t0 = clock();
        let e = lock.get(Some(1.0)).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_waited(t0, 1.0);
        // Still held: another thread cannot take it, the holder releases it.
        let other = lock.clone();
        let t = copas::addthread(async move {
            let e = other.get(Some(0.0)).await.unwrap_err();
            assert_eq!(e.name(), "timeout");
        });
        copas::pause(0.01).await;
        assert!(t.is_finished());
        lock.release()?;
        assert_eq!(lock.release().unwrap_err().name(), "invalid_argument");
        // The holder's self-wait ended by a cancel neither hands the lock
        // on nor frees it.
        lock.get(None).await?;
        let me = sockloop::currentthread().unwrap();
        copas::addthread(async move { me.cancel() });
        let e = lock.get(Some(5.0)).await.unwrap_err();
        assert_eq!(e.name(), "cancelled");
        lock.release()?;
        Ok(())
    });
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn copas_semaphore_and_queue_waits_that_run_out_are_errors() {
    let failures = copas_run(|| async {
        let sema = Semaphore::new(2, Some(0), Some(0.5))?;
        let t0 = clock();
        assert_eq!(sema.take(None, None).await.unwrap_err().name(), "timeout");
        assert_waited(t0, 0.5);
        let t0 = clock();
        let e = sema.take(Some(2), Some(0.25)).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_waited(t0, 0.25);
        assert_eq!(sema.get_wait()?, 0); // nobody left in line

        let q: Queue<u32> = Queue::new(Some("q"));
        let t0 = clock();
        assert_eq!(q.pop(Some(0.5)).await.unwrap_err().name(), "timeout");
        assert_waited(t0, 0.5);
        // finish with a busy worker: runs out, destroys the queue.
        q.add_worker(|_: u32| async {
            copas::pause(10.0).await;
        })?;
        q.push(1)?;
        q.push(2)?;
        copas::pause(0.01).await;
        let t0 = clock();
        assert_eq!(
            q.finish(Some(1.0), false).await.unwrap_err().name(),
            "timeout"
        );
        assert_waited(t0, 1.0);
        assert_eq!(q.get_size().unwrap_err().name(), "destroyed");
        Ok(())
    });
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn copas_run_loop_inside_sockloop_run_names_run_loop_and_the_fix() {
    bounded(30, || {
        sockloop::run(async {
            copas::addthread(async {});
            for (call, e) in [
                ("copas::run_loop()", copas::run_loop().unwrap_err()),
                (
                    "copas::run_loop_with()",
                    copas::run_loop_with(async {}, None).unwrap_err(),
                ),
                ("copas::step()", copas::step(Some(0.0)).unwrap_err()),
            ] {
                assert_eq!(e.name(), "loop_busy");
                let msg = e.to_string();
                assert!(msg.contains(call), "{msg}");
                assert!(!msg.contains("poll()"), "{msg}");
                assert!(msg.contains("await"), "{msg}");
                assert!(msg.contains(&format!("call {call} from main")), "{msg}");
            }
        });
        // From main it runs (the thread added inside already ran there).
        copas::run_loop().unwrap();
    });
}

#[test]
fn copas_errors_give_copas_exact_strings() {
    let failures = copas_run(|| async {
        let word = |e: Error| (e.name().to_string(), e.luasocket_str().into_owned());
        let s = |n: &str, w: &str| (n.to_string(), w.to_string());

        let lock = Lock::new(None, false)?;
        assert_eq!(
            word(lock.release().unwrap_err()),
            s("invalid_argument", "cannot release a lock not owned")
        );
        lock.get(None).await?;
        let other = lock.clone();
        copas::addthread(async move {
            let e = other.get(Some(0.0)).await.unwrap_err();
            assert_eq!(word(e), s("timeout", "timeout"));
        });
        copas::pause(0.01).await;
        lock.destroy()?;
        assert_eq!(
            word(lock.get(None).await.unwrap_err()),
            s("destroyed", "destroyed")
        );

        let sema = Semaphore::new(2, None, None)?;
        assert_eq!(
            word(sema.take(Some(3), None).await.unwrap_err()),
            s("too_many", "too many")
        );
        assert_eq!(
            word(sema.give(Some(3)).unwrap_err()),
            s("too_many", "too many")
        );
        assert_eq!(sema.get_count()?, 2); // given up to the maximum
        sema.take(Some(2), None).await?;
        assert_eq!(
            word(sema.take(None, Some(0.0)).await.unwrap_err()),
            s("timeout", "timeout")
        );

        let q: Queue<u8> = Queue::new(None);
        q.push(1)?;
        q.stop()?; // not empty: stopping, not yet destroyed
        assert_eq!(word(q.push(2).unwrap_err()), s("destroyed", "stopping"));
        assert_eq!(q.pop(Some(0.0)).await?, 1); // the last item destroys it
        assert_eq!(word(q.push(3).unwrap_err()), s("destroyed", "destroyed"));

        let timer = Timer::new(
            TimerOptions {
                delay: 10.0,
                ..TimerOptions::default()
            },
            |_: &Timer| (),
        )?;
        assert_eq!(
            word(timer.arm(None).unwrap_err()),
            s("invalid_argument", "already armed")
        );
        timer.cancel()?;
        assert_eq!(
            word(timer.cancel().unwrap_err()),
            s("invalid_argument", "not armed")
        );
        // The message says the same words.
        assert_eq!(timer.cancel().unwrap_err().message(), Some("not armed"));
        Ok(())
    });
    assert!(failures.is_empty(), "{failures:?}");
}
