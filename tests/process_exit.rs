//! `std::process::exit` from inside a running loop ends the process with
//! the code asked for. C's `exit` runs the calling OS thread's TLS
//! destructors on the stack of the loop's `block_on`; the loop must not
//! shut its Tokio runtime down there (that panics, and a panic in a TLS
//! destructor aborts the process with SIGABRT instead of the exit code).
//!
//! Each case runs this test binary again as a child process (selected by
//! an environment variable), so the exit ends the child only.

use std::process::Command;
use std::time::Duration;

const CASE: &str = "SOCKLOOP_EXIT_CASE";

/// Runs `case` in a child process and returns its exit code (`None`: it
/// was killed by a signal, e.g. SIGABRT).
fn child(test: &str, case: &str) -> Option<i32> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut c = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, case)
        .spawn()
        .expect("spawn the test binary");
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = c.try_wait().expect("wait for the child") {
            return st.code();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = c.kill();
            let _ = c.wait();
            panic!("the child process did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn exit_from_a_thread_inside_run() {
    if std::env::var(CASE).as_deref() == Ok("thread") {
        sockloop::run(async {
            let _t = sockloop::thread(async {
                // A socket and a sleeping thread are live at exit.
                let _s = sockloop::tcp().unwrap();
                sockloop::sleep(0.01).await;
                std::process::exit(7);
            });
            let _sleeper = sockloop::thread(async { sockloop::sleep(60.0).await });
            sockloop::sleep(30.0).await;
        });
        std::process::exit(1);
    }
    assert_eq!(child("exit_from_a_thread_inside_run", "thread"), Some(7));
}

#[test]
fn exit_from_a_timer_inside_start() {
    if std::env::var(CASE).as_deref() == Ok("timer") {
        let _keep = sockloop::runafter(30.0, || {});
        let _ = sockloop::runafter(0.01, || std::process::exit(9));
        let _ = sockloop::start();
        std::process::exit(1);
    }
    assert_eq!(child("exit_from_a_timer_inside_start", "timer"), Some(9));
}

#[test]
fn exit_after_the_loop_ran_drops_it_normally() {
    if std::env::var(CASE).as_deref() == Ok("after") {
        sockloop::run(async { sockloop::sleep(0.01).await });
        std::process::exit(5);
    }
    assert_eq!(
        child("exit_after_the_loop_ran_drops_it_normally", "after"),
        Some(5)
    );
}
