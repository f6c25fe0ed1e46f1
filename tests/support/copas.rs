//! Copas test helpers. A Copas thread does not fail the loop: its `Err`,
//! panic or failed `assert!` goes to an error handler, whose default only
//! prints it. A test collects those reports and asserts on them after the
//! loop, so an assertion inside a Copas thread can fail the test.

use std::cell::RefCell;
use std::rc::Rc;

use sockloop::copas;

/// What the Copas threads of this OS thread's loop reported, each as
/// Copas' traceback line (`"msg (coroutine: name, socket: name)"`).
#[derive(Clone, Default)]
pub struct Failures(Rc<RefCell<Vec<String>>>);

impl Failures {
    /// Makes a new collector the default Copas error handler of this OS
    /// thread's loop (replacing any other default handler). Threads with
    /// a handler of their own still report there.
    pub fn collect() -> Failures {
        let failures = Failures::default();
        let f = failures.clone();
        copas::seterrorhandler(
            move |e, t, skt| {
                let line = copas::gettraceback(&e.to_string(), Some(t), skt);
                f.0.borrow_mut().push(line);
            },
            true,
        )
        .expect("a default error handler can be set outside a thread");
        failures
    }

    /// The reports so far.
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    /// Fails the test if any thread reported a failure.
    #[track_caller]
    pub fn assert_none(&self) {
        let got = self.get();
        assert!(got.is_empty(), "Copas threads failed: {got:#?}");
    }
}

/// `copas::run_loop()`, failing the test if it errs or if a Copas thread
/// failed meanwhile. It makes a [`Failures`] collector the default error
/// handler first: a test with a default handler of its own calls
/// `copas::run_loop()` itself.
#[track_caller]
pub fn run_loop() {
    let failures = Failures::collect();
    copas::run_loop().expect("copas::run_loop");
    failures.assert_none();
}
