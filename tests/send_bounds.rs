//! Which futures and handles are `Send`, as their docs say: socket
//! futures are (they work in `tokio::spawn`); threads, sleeps, `suspend`
//! and sleep jobs are not (they belong to one OS thread's loop). The
//! negative cases are `compile_fail` doctests on the items themselves.

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>(_: &T) {}

/// Never run: only its compilation matters.
#[allow(dead_code, unused_must_use, clippy::let_underscore_future)]
async fn futures_are_send(
    tcp: &sockloop::Tcp,
    udp: &sockloop::Udp,
    raw: &sockloop::Raw,
    buf: &mut [u8],
) {
    send(&tcp.connect(("127.0.0.1", 1), None));
    send(&tcp.accept(None));
    send(&tcp.send(b"x", None));
    send(&tcp.recv(buf, None));
    send(&tcp.recvn(buf, None));
    send(&tcp.recvall(None));
    send(&tcp.recvall_read(None));
    send(&tcp.readable(None));
    send(&tcp.writable(None));
    send(&udp.connect(("127.0.0.1", 1), None));
    send(&udp.send(b"x", None));
    send(&udp.recv(buf, None));
    send(&udp.sendto(("127.0.0.1", 1), b"x", None));
    send(&udp.recvnext(buf, None));
    send(&raw.send(b"x", None));
    send(&raw.recv(buf, None));
    send(&sockloop::addr_async(
        "localhost",
        80,
        &sockloop::Hints::default(),
    ));
}

#[test]
fn sockets_are_send_and_sync_and_work_in_tokio_spawn() {
    let tcp = sockloop::tcp().unwrap();
    let udp = sockloop::udp().unwrap();
    send_sync(&tcp);
    send_sync(&udp);
    send_sync(&sockloop::Error::from(sockloop::ErrorKind::Timeout));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let l = sockloop::tcp().unwrap();
        l.listen(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        // A sockloop socket in a multi-thread runtime's spawned task.
        let server = tokio::spawn(async move {
            let c = l.accept(sockloop::clock() + 5.0).await?;
            let mut b = [0u8; 5];
            c.recvn(&mut b, sockloop::clock() + 5.0).await?;
            Ok::<_, sockloop::Error>(b)
        });
        let c = sockloop::tcp().unwrap();
        c.connect(("127.0.0.1", port), sockloop::clock() + 5.0)
            .await
            .unwrap();
        c.send(b"hello", sockloop::clock() + 5.0).await.unwrap();
        server.await.unwrap().unwrap()
    });
    assert_eq!(&got, b"hello");
}
