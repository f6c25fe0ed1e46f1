//! Unix-domain stream and datagram sockets on paths in the temp dir.

mod support;

use sockloop::{clock, Family, Tcp, Udp};
use support::{local, temp_path};

#[tokio::test]
async fn unix_stream_roundtrip() {
    local(10, async {
        let path = temp_path("stream");
        let server = Tcp::new(Family::Unix).unwrap();
        server.listen(path.as_path()).unwrap();
        assert_eq!(server.local_addr().unwrap().path(), Some(path.as_path()));
        assert_eq!(server.family(), Family::Unix);
        let client = Tcp::new(Family::Unix).unwrap();
        let (c, a) = tokio::join!(
            client.connect(path.as_path(), clock() + 5.0),
            server.accept(clock() + 5.0)
        );
        c.unwrap();
        let conn = a.unwrap();
        client.send(b"over unix", None).await.unwrap();
        let mut buf = [0u8; 9];
        conn.recvn(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf, b"over unix");
        conn.send(b"back", None).await.unwrap();
        conn.close().unwrap();
        assert_eq!(client.recvall(clock() + 5.0).await.unwrap(), b"back");
        // A second listener on the same path: in use.
        let again = Tcp::new(Family::Unix).unwrap();
        assert_eq!(
            again.listen(path.as_path()).unwrap_err().name(),
            "address_already_in_use"
        );
        // An IP address for a unix socket is malformed.
        assert_eq!(
            again
                .bind("127.0.0.1:80".parse::<std::net::SocketAddr>().unwrap())
                .unwrap_err()
                .kind(),
            sockloop::ErrorKind::InvalidAddress
        );
        drop(server);
        let _ = std::fs::remove_file(&path);
    })
    .await;
}

#[tokio::test]
async fn unix_datagram_roundtrip() {
    local(10, async {
        let pa = temp_path("dgram-a");
        let pb = temp_path("dgram-b");
        let a = Udp::new(Family::Unix).unwrap();
        a.bind(pa.as_path()).unwrap();
        let b = Udp::new(Family::Unix).unwrap();
        b.bind(pb.to_str().unwrap()).unwrap();
        b.sendto(pa.as_path(), b"dgram", None).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf[..n], b"dgram");
        assert_eq!(from.path(), Some(pb.as_path()));
        assert_eq!(from.family(), Family::Unix);
        b.connect(pa.as_path(), None).await.unwrap();
        assert_eq!(b.send(b"", None).await.unwrap(), 0);
        assert_eq!(a.recv(&mut buf, clock() + 5.0).await.unwrap(), 0);
        let _ = std::fs::remove_file(&pa);
        let _ = std::fs::remove_file(&pb);
    })
    .await;
}
