//! TLS sockets on loopback.

mod support;

use sockloop::{client_stcp, clock, server_stcp, tcp, thread, TlsConfig};
use support::certs::Ca;

#[test]
fn smoke() {
    support::bounded(20, || {
        sockloop::run(async {
            let ca = Ca::new("test ca");
            let leaf = ca.server(&["localhost"]);
            let scfg = TlsConfig::server()
                .cert_pem(&leaf.chain, &leaf.key)
                .alpn(["h2"])
                .build()
                .unwrap();
            let ccfg = TlsConfig::client()
                .ca_pem(&ca.pem)
                .alpn(["h2", "http/1.1"])
                .build()
                .unwrap();
            let l = tcp().unwrap();
            l.listen(("127.0.0.1", 0)).unwrap();
            let addr = l.local_addr().unwrap();
            let l = server_stcp(l, &scfg).unwrap();
            let t = thread(async move {
                let c = l.accept(clock() + 5.0).await.unwrap();
                let mut buf = [0u8; 5];
                c.recvn(&mut buf, clock() + 5.0).await.unwrap();
                c.send(&buf, clock() + 5.0).await.unwrap();
                assert_eq!(c.server_name(), Some("localhost"));
                c.shutdown(std::net::Shutdown::Write, clock() + 5.0)
                    .await
                    .unwrap();
            });
            let s = tcp().unwrap();
            s.connect(&addr, clock() + 5.0).await.unwrap();
            let c = client_stcp(s, "localhost", &ccfg, clock() + 5.0)
                .await
                .unwrap();
            assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
            c.send(b"hello", None).await.unwrap();
            assert_eq!(c.recvall(clock() + 5.0).await.unwrap(), b"hello");
            println!("{c:?}");
            let _ = t;
        });
    });
}
