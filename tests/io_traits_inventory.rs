//! The Tokio I/O traits on `Tcp`, `&Tcp` and `Until` go through the same
//! call path as sockloop's own calls: every byte moved by `write_all`,
//! `read_exact`, `tokio::io::copy` or a `Framed` codec shows in the
//! inventory's `bytes_in`/`bytes_out`, exactly, next to the bytes moved by
//! `send`/`recv`.

mod support;

use futures_util::{SinkExt, StreamExt};
use sockloop::{clock, Tcp};
use support::{bounded, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

/// The inventory's `(bytes_in, bytes_out)` of `t`.
fn counts(t: &Tcp) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    let fd = t.with_socket(|s| s.as_raw_fd()).unwrap();
    let inv = sockloop::inventory();
    let row = inv
        .sockets
        .iter()
        .find(|x| x.fd == fd)
        .expect("the socket is listed");
    (row.bytes_in, row.bytes_out)
}

/// Asserts the inventory's counts of the client `c` and the server `s`:
/// what went from `c` to `s` and back.
#[track_caller]
fn assert_moved(c: &Tcp, s: &Tcp, to_server: u64, to_client: u64) {
    assert_eq!(counts(c), (to_client, to_server), "client (in, out)");
    assert_eq!(counts(s), (to_server, to_client), "server (in, out)");
}

#[test]
fn write_all_and_read_exact_on_ref_owned_and_until_are_counted() {
    bounded(20, || {
        sockloop::run(async {
            let (mut c, mut s) = tcp_pair().await;
            let exp = clock() + 5.0;

            // sockloop's own calls, for reference.
            c.send(b"hi", exp).await.unwrap();
            let mut two = [0u8; 2];
            s.recvn(&mut two, exp).await.unwrap();
            assert_moved(&c, &s, 2, 0);

            // &Tcp
            (&c).write_all(b"abcd").await.unwrap();
            let mut four = [0u8; 4];
            (&s).read_exact(&mut four).await.unwrap();
            assert_eq!(&four, b"abcd");
            assert_moved(&c, &s, 6, 0);

            // Tcp
            s.write_all(b"12345").await.unwrap();
            let mut five = [0u8; 5];
            c.read_exact(&mut five).await.unwrap();
            assert_eq!(&five, b"12345");
            assert_moved(&c, &s, 6, 5);

            // Until
            c.until(exp).write_all(b"xyz").await.unwrap();
            let mut three = [0u8; 3];
            s.until(exp).read_exact(&mut three).await.unwrap();
            assert_eq!(&three, b"xyz");
            assert_moved(&c, &s, 9, 5);
        })
    });
}

#[test]
fn tokio_io_copy_is_counted_both_ways() {
    bounded(20, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            let body = vec![7u8; 100_000];

            // Into the socket: `copy` writes through `&Tcp`.
            let n = tokio::io::copy(&mut &body[..], &mut &c).await.unwrap();
            assert_eq!(n, 100_000);
            c.shutdown(std::net::Shutdown::Write).unwrap();

            // Out of it, until the peer's end, through `Until`.
            let mut got = Vec::new();
            let n = tokio::io::copy(&mut s.until(clock() + 5.0), &mut got)
                .await
                .unwrap();
            assert_eq!((n, got.len()), (100_000, 100_000));
            assert_moved(&c, &s, 100_000, 0);

            // And back, socket to socket: `copy` reads `&Tcp`, writes `Until`.
            s.send(b"back to the client", None).await.unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let (c2, s2) = tcp_pair().await;
            let n = tokio::io::copy(&mut &c, &mut c2.until(clock() + 5.0))
                .await
                .unwrap();
            assert_eq!(n, 18);
            let mut echo = [0u8; 18];
            s2.recvn(&mut echo, clock() + 5.0).await.unwrap();
            assert_eq!(&echo, b"back to the client");
            assert_moved(&c, &s, 100_000, 18);
            assert_moved(&c2, &s2, 18, 0);
        })
    });
}

#[test]
fn framed_lines_are_counted() {
    bounded(20, || {
        sockloop::run(async {
            let (c, s) = tcp_pair().await;
            {
                let mut client = Framed::new(&c, LinesCodec::new());
                let mut server = Framed::new(s.until(clock() + 5.0), LinesCodec::new());
                client.send("hello").await.unwrap(); // 6 bytes with "\n"
                client.send("framed world").await.unwrap(); // 13
                assert_eq!(server.next().await.unwrap().unwrap(), "hello");
                assert_eq!(server.next().await.unwrap().unwrap(), "framed world");
                server.send("ok").await.unwrap(); // 3
                assert_eq!(client.next().await.unwrap().unwrap(), "ok");
            }
            assert_moved(&c, &s, 19, 3);

            // A codec over an owned `Tcp`.
            let mut owned = Framed::new(c, LinesCodec::new());
            owned.send("last").await.unwrap(); // 5
            let mut line = [0u8; 5];
            s.recvn(&mut line, clock() + 5.0).await.unwrap();
            assert_eq!(&line, b"last\n");
            assert_moved(owned.get_ref(), &s, 24, 3);
        })
    });
}
