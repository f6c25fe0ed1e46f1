//! Copas' own lock test (lunarmodules/copas `tests/lock.lua`), ported to
//! `sockloop::copas`: what it checks, step by step, with the same numbers.
//!
//! 1. A non-reentrant lock's holder asking for it again with a 1 s timeout
//!    gets `"timeout"` after that second, still holding the lock.
//! 2. Releasing twice: `"cannot release a lock not owned"`; a destroyed
//!    lock answers `"destroyed"`.
//! 3. 750 threads line up for a lock: the first 250 (timeout 1 s) get it
//!    in turn; the 250th keeps it 3 s, so the next 250 (timeout 2 s) time
//!    out; then it releases and destroys the lock, and the last 250
//!    (timeout 60 s) get `"destroyed"`.
//!
//! Copas reports a failing thread to its error handler rather than ending
//! the loop, so every failure here is collected by a default handler and
//! asserted after the loop. Tokio's clock is paused: the timings are
//! exact and the test takes no real seconds.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use sockloop::copas::{self, Lock};
use sockloop::{clock, Error};
use support::bounded;
use support::copas::Failures;

/// Copas' string for an error (`luasocket_str()` gives Copas' words).
fn copas_err(e: &Error) -> String {
    e.luasocket_str().into_owned()
}

#[test]
fn copas_lock_lua() {
    let (complete, failures) = bounded(60, || {
        let failures = Failures::collect();
        let complete = Rc::new(Cell::new(false));
        let done = complete.clone();
        copas::addthread(async { tokio::time::pause() });
        copas::run_loop_with(
            async move {
                let lock1 = Lock::new(None, true)?; // not re-entrant
                lock1.get(None).await?;
                let s = clock();
                let err = lock1.get(Some(1.0)).await.unwrap_err();
                let duration = clock() - s;
                assert_eq!(copas_err(&err), "timeout", "got error: {err}");
                assert_eq!(err.name(), "timeout");
                assert!(
                    (1.0..1.2).contains(&duration),
                    "expected a timeout of 1 second, but took {duration}"
                );

                // Let go and reacquire: the first release works, so the
                // timed-out `get` left the lock held.
                lock1.release()?;
                let err = lock1.release().unwrap_err();
                assert_eq!(copas_err(&err), "cannot release a lock not owned");

                lock1.get(None).await?;
                lock1.destroy()?;
                let err = lock1.release().unwrap_err();
                assert_eq!(copas_err(&err), "destroyed");

                // Scale: hold a lock, then line up threads for it.
                let lock1 = Lock::new(Some(10.0), false)?;
                lock1.get(None).await?;
                let success = Rc::new(Cell::new(0));
                let timeout = Rc::new(Cell::new(0));
                let destroyed = Rc::new(Cell::new(0));
                let size = 750; // a multiple of 3
                let left = Rc::new(Cell::new(size));
                for i in 1..=size {
                    let (lock1, left) = (lock1.clone(), left.clone());
                    let (success, timeout, destroyed) =
                        (success.clone(), timeout.clone(), destroyed.clone());
                    copas::addthread(async move {
                        let wait = if i > size * 2 / 3 {
                            60.0 // the ones to hit "destroyed"
                        } else if i > size / 3 {
                            2.0 // the ones to hit "timeout"
                        } else {
                            1.0 // the ones to succeed
                        };
                        let r = lock1.get(Some(wait)).await;
                        left.set(left.get() - 1);
                        match r {
                            Ok(_) => {
                                success.set(success.get() + 1);
                                if i == size / 3 {
                                    // Long enough for the next 250 to time out.
                                    copas::pause(3.0).await;
                                    lock1.release()?;
                                    // The last 250 fail on "destroyed".
                                    lock1.destroy()?;
                                } else {
                                    lock1.release()?;
                                }
                            }
                            Err(e) if copas_err(&e) == "timeout" => timeout.set(timeout.get() + 1),
                            Err(e) if copas_err(&e) == "destroyed" => {
                                destroyed.set(destroyed.get() + 1)
                            }
                            Err(e) => panic!("didn't expect error '{e}' in thread {i}"),
                        }
                        Ok::<(), Error>(())
                    });
                }
                lock1.release()?;
                while left.get() > 0 {
                    copas::pause(0.1).await;
                }
                assert_eq!(success.get(), size / 3);
                assert_eq!(timeout.get(), size / 3);
                assert_eq!(destroyed.get(), size / 3);
                done.set(true);
                Ok::<(), Error>(())
            },
            None,
        )
        .unwrap();
        (complete.get(), failures.get())
    });
    assert!(failures.is_empty(), "{failures:?}");
    assert!(complete, "test did not complete");
}
