//! Tokio's cooperative budget: a thread whose calls run it down parks with
//! a wake-up Tokio defers to the end of the task's poll. Those wake-ups
//! must survive the end of a `poll()` round (each round is a `block_on`
//! of its own, and Tokio drops what was deferred in it).

mod support;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use support::bounded;

/// More calls than Tokio's budget (128 per poll).
const N: usize = 600;

/// Runs `poll()` rounds until `done()` or 10 s have passed.
fn poll_until(done: impl Fn() -> bool) {
    let deadline = sockloop::clock() + 10.0;
    while !done() && sockloop::clock() < deadline {
        if let Err(e) = sockloop::poll(Some(0.05)) {
            assert_eq!(e.name(), "empty", "poll: {e}");
            break;
        }
    }
}

/// `N` connections queued on a listener whose accept call had parked:
/// each accept after the first 128 of one round used to park with a
/// wake-up that the end of the round dropped, and nothing accepted again.
fn accept_burst(drive: impl FnOnce(&dyn Fn() -> bool)) {
    let listener = sockloop::tcp().unwrap();
    listener.listen_backlog(1024, ("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = Rc::new(Cell::new(0usize));
    let n = served.clone();
    let accepter = sockloop::thread(async move {
        for _ in 0..N {
            let c = listener.accept(None).await?;
            let n = n.clone();
            sockloop::thread(async move {
                let mut b = [0u8; 1];
                let got = c.recv(&mut b, sockloop::clock() + 10.0).await?;
                c.send(&b[..got], sockloop::clock() + 10.0).await?;
                n.set(n.get() + 1);
                Ok::<(), sockloop::Error>(())
            });
        }
        Ok::<(), sockloop::Error>(())
    });
    // The accept call has parked (it saw EAGAIN); now the burst.
    assert_eq!(accepter.status(), sockloop::ThreadStatus::Waiting);
    let clients: Vec<TcpStream> = (0..N)
        .map(|i| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(&[i as u8]).unwrap();
            c
        })
        .collect();
    drive(&|| served.get() == N);
    assert_eq!(served.get(), N, "connections served");
    assert!(accepter.is_finished());
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i as u8);
    }
}

#[test]
fn accept_burst_in_poll_rounds() {
    bounded(30, || accept_burst(|done| poll_until(done)));
}

#[test]
fn accept_burst_under_start() {
    bounded(30, || {
        accept_burst(|_| sockloop::start().unwrap());
    });
}

/// One thread making `N` one-byte `recv` calls on data that is all there,
/// without parking in between (its first call parked, so every later one
/// asks Tokio's readiness, which takes from the budget).
#[test]
fn recv_on_ready_data_past_the_budget_in_poll_rounds() {
    bounded(30, || {
        let listener = sockloop::tcp().unwrap();
        listener.listen(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut peer = TcpStream::connect(&addr).unwrap();
        let got = Rc::new(Cell::new(0usize));
        let g = got.clone();
        let t = sockloop::thread(async move {
            let c = listener.accept(sockloop::clock() + 10.0).await?;
            let mut sum = 0usize;
            let mut b = [0u8; 1];
            for _ in 0..N {
                sum += c.recv(&mut b, None).await?;
                g.set(sum);
            }
            Ok::<usize, sockloop::Error>(sum)
        });
        // Accepted at once; the first `recv` parks (nothing sent yet).
        assert_eq!(t.status(), sockloop::ThreadStatus::Waiting);
        peer.write_all(&[7u8; N]).unwrap();
        poll_until(|| got.get() == N);
        assert_eq!(got.get(), N, "bytes received");
        assert!(t.is_finished());
    });
}
