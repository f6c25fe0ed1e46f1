//! UDP on loopback: empty datagrams, connect filtering and unfiltering,
//! deadlines, close.

mod support;

use std::rc::Rc;

use sockloop::{clock, udp, Family, Udp};
use support::local;

fn bound(family: Family, host: &str) -> Udp {
    let s = Udp::new(family).unwrap();
    s.bind((host, 0)).unwrap();
    s
}

#[tokio::test]
async fn udp_empty_datagram_and_sender_address() {
    local(10, async {
        for (fam, host) in [(Family::Inet, "127.0.0.1"), (Family::Inet6, "::1")] {
            let a = bound(fam, host);
            let b = bound(fam, host);
            b.connect(&a.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            assert_eq!(b.send(b"", None).await.unwrap(), 0);
            let mut buf = [0u8; 16];
            let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(n, 0);
            assert_eq!(from, b.local_addr().unwrap());
            assert_eq!(b.send(b"data", None).await.unwrap(), 4);
            assert_eq!(a.recv(&mut buf, clock() + 5.0).await.unwrap(), 4);
            assert_eq!(&buf[..4], b"data");
            assert_eq!(b.remote_addr().unwrap(), a.local_addr().unwrap());
        }
    })
    .await;
}

#[tokio::test]
async fn udp_connect_filters_and_star_zero_unfilters() {
    local(10, async {
        let a = bound(Family::Inet, "127.0.0.1");
        let b = bound(Family::Inet, "127.0.0.1");
        let c = bound(Family::Inet, "127.0.0.1");
        let aa = a.local_addr().unwrap();
        a.connect(&b.local_addr().unwrap(), None).await.unwrap();
        c.sendto(&aa, b"from c", None).await.unwrap();
        b.sendto(&aa, b"from b", None).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf[..n], b"from b");
        assert_eq!(from, b.local_addr().unwrap());
        // Nothing else queued: c's datagram was filtered out.
        assert_eq!(
            a.recv(&mut buf, clock() + 0.1).await.unwrap_err().name(),
            "timeout"
        );

        a.connect(("*", 0), None).await.unwrap();
        assert_eq!(
            a.local_addr().unwrap(),
            aa,
            "explicit bind survives the disconnect"
        );
        assert_eq!(a.remote_addr().unwrap_err().name(), "not_connected");
        c.sendto(&aa, b"c again", None).await.unwrap();
        let (n, from) = a.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf[..n], b"c again");
        assert_eq!(from, c.local_addr().unwrap());
    })
    .await;
}

#[tokio::test]
async fn udp_timeout_close_and_sync_use() {
    local(10, async {
        let a = Rc::new(bound(Family::Inet, "127.0.0.1"));
        let mut buf = [0u8; 4];
        let t0 = clock();
        assert_eq!(
            a.recv(&mut buf, clock() + 0.1).await.unwrap_err().name(),
            "timeout"
        );
        assert!(clock() - t0 >= 0.1);
        let a2 = a.clone();
        let w = tokio::task::spawn_local(async move {
            let mut buf = [0u8; 4];
            a2.recvnext(&mut buf, None).await.map(|_| ())
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        a.close().unwrap();
        assert_eq!(w.await.unwrap().unwrap_err().name(), "closed");
        assert_eq!(
            a.sendto(("127.0.0.1", 9), b"x", None)
                .await
                .unwrap_err()
                .name(),
            "closed"
        );
    })
    .await;
}

#[test]
fn udp_without_runtime() {
    let s = udp().unwrap();
    s.setopt("broadcast", true).unwrap();
    assert_eq!(s.getopt("so_broadcast").unwrap().as_bool(), Some(true));
    s.bind(("*", 0)).unwrap();
    assert_eq!(s.getopt("type").unwrap().as_str(), Some("udp"));
    assert_eq!(s.protocol(), sockloop::Protocol::Udp);
    // Waiting needs a loop: an error, not a panic.
    let mut buf = [0u8; 1];
    let r = futures_util::FutureExt::now_or_never(s.recv(&mut buf, None));
    assert_eq!(r.unwrap().unwrap_err().name(), "not_in_thread");
}

#[tokio::test]
async fn udp_tokio_conversions() {
    local(10, async {
        let t = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ta = t.local_addr().unwrap();
        let s = Udp::from(t);
        let b = bound(Family::Inet, "127.0.0.1");
        b.sendto(ta, b"hi", None).await.unwrap();
        let mut buf = [0u8; 4];
        let (n, _) = s.recvnext(&mut buf, clock() + 5.0).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
        let back = s.into_tokio().unwrap();
        assert_eq!(back.local_addr().unwrap(), ta);
    })
    .await;
}
