//! Raw ICMP echo to 127.0.0.1 (needs root or CAP_NET_RAW).

mod support;

use sockloop::{clock, raw, Protocol};
use support::local;

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let w = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[tokio::test]
async fn raw_icmp_echo_loopback() {
    local(10, async {
        let s = match raw(Protocol::Icmp) {
            Ok(s) => s,
            Err(e) => {
                println!("raw socket refused by the kernel: {e}");
                assert_eq!(e.name(), "access_denied");
                return;
            }
        };
        assert_eq!(s.socktype(), sockloop::SockType::Raw);
        assert_eq!(s.protocol(), Protocol::Icmp);
        let id = (std::process::id() & 0xffff) as u16;
        let mut req = vec![8u8, 0, 0, 0];
        req.extend_from_slice(&id.to_be_bytes());
        req.extend_from_slice(&1u16.to_be_bytes());
        req.extend_from_slice(b"sockloop ping");
        let c = checksum(&req);
        req[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            s.sendto(("127.0.0.1", 0), &req, None).await.unwrap(),
            req.len()
        );
        let mut buf = [0u8; 1500];
        loop {
            let (n, from) = s.recvnext(&mut buf, clock() + 5.0).await.unwrap();
            assert_eq!(from.ip().to_string(), "127.0.0.1");
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let icmp = &buf[ihl..n];
            // Our own request comes back too on loopback; wait for the reply.
            if icmp[0] == 0 && icmp[4..6] == id.to_be_bytes() {
                assert_eq!(&icmp[8..], b"sockloop ping");
                break;
            }
        }
        s.close().unwrap();
    })
    .await;
}
