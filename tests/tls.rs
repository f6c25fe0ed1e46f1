//! TLS on loopback, the handshake side: SNI and ALPN, the certificate
//! error names, mutual TLS, handshake deadlines and cancels, config
//! errors, and LuaSec's `ssl.wrap` + `dohandshake` layer. Certificates
//! are made in the test with rcgen.

mod support;

use std::time::{Duration, Instant};

use sockloop::{
    client_stcp, clock, server_handshake, server_stcp, ssl, tcp, thread, ClientAuth, Error,
    ErrorKind, TlsConfig,
};
use support::tls::{configs, listener, pair, try_pair, Ca};

/// How late a call may return after its deadline on a busy machine.
const SLACK: Duration = Duration::from_millis(150);

fn run<F: std::future::Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    support::bounded(60, move || sockloop::run(f()));
}

/// The rustls error kept as the source of a TLS error.
fn rustls_source(e: &Error) -> &sockloop::rustls::Error {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<sockloop::rustls::Error>())
        .unwrap_or_else(|| panic!("no rustls source in {e:?}"))
}

// ===== a good handshake =====

#[test]
fn tls_handshake_with_sni_and_alpn() {
    run(|| async {
        let ca = Ca::new("ca");
        let leaf = ca.server(&["localhost", "127.0.0.1"]);
        let server = TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .alpn(["h2", "http/1.1"])
            .build()
            .unwrap();
        let client = TlsConfig::client()
            .ca_pem(&ca.pem)
            .alpn(["http/1.1", "spdy/1"])
            .build()
            .unwrap();
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let (c, s) = (c.unwrap(), s.unwrap());
        // The server's preference among what the client offers.
        assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(s.server_name(), Some("localhost"), "SNI reached the server");
        assert_eq!(c.server_name(), Some("localhost"));
        assert_eq!(c.tls_version(), Some("TLSv1.3"));
        assert_eq!(s.tls_version(), Some("TLSv1.3"));
        assert!(c.cipher_suite().unwrap().starts_with("TLS13_"));
        assert_eq!(c.cipher_suite(), s.cipher_suite());
        // The client saw the server's chain (leaf, CA); the server no
        // client certificate.
        let chain = c.peer_certificates();
        assert_eq!(chain.len(), 2);
        assert!(leaf.chain.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(s.peer_certificates().is_empty());
        assert_eq!(c.remote_addr().unwrap(), s.local_addr().unwrap());
        assert_eq!(s.remote_addr().unwrap(), c.local_addr().unwrap());

        // An IP address is checked against the certificate, never sent as SNI.
        let (c, s) = try_pair(&server, &client, "127.0.0.1").await;
        assert_eq!(c.unwrap().server_name(), Some("127.0.0.1"));
        assert_eq!(s.unwrap().server_name(), None);

        // sni(false): no name sent, the certificate still checked.
        let quiet = TlsConfig::client()
            .ca_pem(&ca.pem)
            .sni(false)
            .build()
            .unwrap();
        let (c, s) = try_pair(&server, &quiet, "localhost").await;
        assert!(c.is_ok());
        assert_eq!(s.unwrap().server_name(), None);
        assert_eq!(c.unwrap().alpn_protocol(), None, "no ALPN offered");
    });
}

#[test]
fn tls_alpn_with_nothing_in_common_fails_the_handshake() {
    run(|| async {
        let ca = Ca::new("ca");
        let leaf = ca.server(&["localhost"]);
        let server = TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .alpn(["h2"])
            .build()
            .unwrap();
        let client = TlsConfig::client()
            .ca_pem(&ca.pem)
            .alpn(["imap"])
            .build()
            .unwrap();
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let (c, s) = (c.unwrap_err(), s.unwrap_err());
        assert_eq!(s.name(), "tls_handshake_failed");
        assert_eq!(c.name(), "tls_handshake_failed");
        assert!(c.to_string().contains("NoApplicationProtocol"), "{c}");
    });
}

// ===== the certificate error names =====

#[test]
fn tls_certificate_errors_have_their_names() {
    run(|| async {
        let ca = Ca::new("ca");
        let client = TlsConfig::client().ca_pem(&ca.pem).build().unwrap();
        let server_with = |leaf: support::tls::Leaf| {
            TlsConfig::server()
                .cert_pem(&leaf.chain, &leaf.key)
                .build()
                .unwrap()
        };

        // Expired.
        let server = server_with(ca.expired_server(&["localhost"]));
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let c = c.unwrap_err();
        assert_eq!(c.name(), "certificate_expired");
        assert_eq!(c.kind(), ErrorKind::CertificateExpired);
        assert!(c.to_string().contains("expired"), "{c}");
        assert!(matches!(
            rustls_source(&c),
            sockloop::rustls::Error::InvalidCertificate(_)
        ));
        // The server learns of it from the client's alert.
        let s = s.unwrap_err();
        assert_eq!(s.name(), "tls_handshake_failed");
        assert!(s.to_string().contains("alert"), "{s}");

        // Valid, but for another name.
        let server = server_with(ca.server(&["example.org"]));
        let (c, _) = try_pair(&server, &client, "localhost").await;
        let c = c.unwrap_err();
        assert_eq!(c.name(), "name_mismatch");
        assert!(c.to_string().contains("not valid for name"), "{c}");

        // Signed by a CA the client does not trust.
        let other = Ca::new("other ca");
        let server = server_with(other.server(&["localhost"]));
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let c = c.unwrap_err();
        assert_eq!(c.name(), "unknown_issuer");
        assert!(c.to_string().contains("UnknownIssuer"), "{c}");
        assert_eq!(s.unwrap_err().name(), "tls_handshake_failed");

        // The loudly named switch accepts all three at once.
        let insecure = TlsConfig::client()
            .dangerous_skip_verification_for_tests()
            .build()
            .unwrap();
        let server = server_with(other.expired_server(&["example.org"]));
        let (c, s) = try_pair(&server, &insecure, "localhost").await;
        let (c, s) = (c.unwrap(), s.unwrap());
        c.send(b"ok", None).await.unwrap();
        let mut b = [0u8; 2];
        s.recvn(&mut b, clock() + 5.0).await.unwrap();
        assert_eq!(&b, b"ok");
    });
}

#[test]
fn tls_peer_that_is_not_tls_fails_the_handshake() {
    run(|| async {
        let (_ca, _server, client) = configs();
        let (l, addr) = listener();
        thread(async move {
            let c = l.accept(clock() + 5.0).await.unwrap();
            let mut buf = [0u8; 512];
            let _ = c.recv(&mut buf, clock() + 5.0).await;
            let _ = c.send(b"HTTP/1.0 400 Bad Request\r\n\r\n", None).await;
            c.shutdown(std::net::Shutdown::Write).unwrap();
            sockloop::sleep(0.5).await;
        });
        let t = tcp().unwrap();
        t.connect(&addr, clock() + 5.0).await.unwrap();
        let e = client_stcp(t, "localhost", &client, clock() + 5.0)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "tls_handshake_failed");
    });
}

// ===== mutual TLS =====

#[test]
fn tls_mutual_auth() {
    run(|| async {
        let ca = Ca::new("ca");
        let leaf = ca.server(&["localhost"]);
        let server = TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .ca_pem(&ca.pem)
            .client_auth(ClientAuth::Required)
            .build()
            .unwrap();
        let me = ca.client("client-1");
        let client = TlsConfig::client()
            .ca_pem(&ca.pem)
            .cert_pem(&me.chain, &me.key)
            .build()
            .unwrap();

        // A client with a certificate from the CA.
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let (c, s) = (c.unwrap(), s.unwrap());
        assert_eq!(
            s.peer_certificates().len(),
            2,
            "the server saw the client's chain"
        );
        c.send(b"mtls", None).await.unwrap();
        let mut b = [0u8; 4];
        s.recvn(&mut b, clock() + 5.0).await.unwrap();
        assert_eq!(&b, b"mtls");

        // A client with no certificate: the server refuses it; in TLS 1.3
        // the client learns it on its first read.
        let anon = TlsConfig::client().ca_pem(&ca.pem).build().unwrap();
        let (c, s) = try_pair(&server, &anon, "localhost").await;
        let s = s.unwrap_err();
        assert_eq!(s.name(), "tls_handshake_failed");
        assert!(matches!(
            rustls_source(&s),
            sockloop::rustls::Error::NoCertificatesPresented
        ));
        let mut b = [0u8; 1];
        let e = c.unwrap().recv(&mut b, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "tls_handshake_failed");
        assert!(e.to_string().contains("CertificateRequired"), "{e}");

        // A client certificate from another CA.
        let other = Ca::new("other");
        let stranger = other.client("mallory");
        let bad = TlsConfig::client()
            .ca_pem(&ca.pem)
            .cert_pem(&stranger.chain, &stranger.key)
            .build()
            .unwrap();
        let (c, s) = try_pair(&server, &bad, "localhost").await;
        assert_eq!(s.unwrap_err().name(), "unknown_issuer");
        let e = c.unwrap().recv(&mut b, clock() + 5.0).await.unwrap_err();
        assert_eq!(e.name(), "tls_handshake_failed");

        // Optional: no certificate is fine, a bad one is not.
        let optional = TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .ca_pem(&ca.pem)
            .client_auth(ClientAuth::Optional)
            .build()
            .unwrap();
        let (c, s) = try_pair(&optional, &anon, "localhost").await;
        assert!(c.is_ok());
        assert!(s.unwrap().peer_certificates().is_empty());
        let (_, s) = try_pair(&optional, &bad, "localhost").await;
        assert_eq!(s.unwrap_err().name(), "unknown_issuer");
    });
}

// ===== deadlines and cancels in the handshake =====

#[test]
fn tls_handshake_deadline_against_a_silent_peer() {
    run(|| async {
        let (_ca, server, client) = configs();
        // The kernel completes the TCP handshake; nobody ever answers.
        let (silent, addr) = listener();
        let t = tcp().unwrap();
        t.connect(&addr, clock() + 5.0).await.unwrap();
        let started = Instant::now();
        let e = client_stcp(t, "localhost", &client, clock() + 0.2)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(e.name(), "timeout");
        assert!(took >= Duration::from_millis(200), "early: {took:?}");
        assert!(took <= Duration::from_millis(200) + SLACK, "late: {took:?}");

        // The server side: a client that connects and says nothing holds
        // `accept` until its deadline.
        let (l, addr) = listener();
        let l = server_stcp(l, &server).unwrap();
        let mute = tcp().unwrap();
        mute.connect(&addr, clock() + 5.0).await.unwrap();
        let started = Instant::now();
        let e = l.accept(clock() + 0.2).await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert!(started.elapsed() <= Duration::from_millis(200) + SLACK);
        drop(silent);
    });
}

#[test]
fn tls_cancel_during_the_handshake() {
    run(|| async {
        let (_ca, _server, client) = configs();
        let (_silent, addr) = listener();
        let t = tcp().unwrap();
        t.connect(&addr, clock() + 5.0).await.unwrap();
        let out = std::rc::Rc::new(std::cell::RefCell::new(None));
        let o = out.clone();
        let th = thread(async move {
            let r = client_stcp(t, "localhost", &client, clock() + 30.0).await;
            *o.borrow_mut() = Some(r.map(drop));
        });
        sockloop::sleep(0.05).await;
        assert!(!th.is_finished(), "parked in the handshake");
        let started = Instant::now();
        th.cancel();
        while !th.is_finished() {
            sockloop::sleep(0.001).await;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        let e = out.borrow_mut().take().unwrap().unwrap_err();
        assert_eq!(e.name(), "cancelled");
    });
}

// ===== configuration errors are named at build time =====

#[test]
fn tls_config_errors_are_named() {
    let ca = Ca::new("ca");
    let leaf = ca.server(&["localhost"]);
    let other = ca.server(&["localhost"]);
    let bad = |b: sockloop::TlsConfigBuilder, what: &str| {
        let e = b.build().unwrap_err();
        assert_eq!(e.name(), "invalid_tls_config", "{what}: {e}");
        e.to_string()
    };
    let m = bad(TlsConfig::server(), "no cert");
    assert!(m.contains("needs a certificate"), "{m}");
    let m = bad(
        TlsConfig::server().cert_pem("garbage", &leaf.key),
        "no cert in PEM",
    );
    assert!(m.contains("no CERTIFICATE"), "{m}");
    let m = bad(
        TlsConfig::server().cert_pem(&leaf.chain, "garbage"),
        "no key",
    );
    assert!(m.contains("no PRIVATE KEY"), "{m}");
    let broken = leaf.chain.replacen("MII", "M!I", 1);
    bad(
        TlsConfig::server().cert_pem(&broken, &leaf.key),
        "bad base64",
    );
    let m = bad(
        TlsConfig::server().cert_pem(&leaf.chain, &other.key),
        "key mismatch",
    );
    assert!(m.contains("cert_pem"), "{m}");
    bad(TlsConfig::client().ca_pem(""), "empty CA");
    bad(TlsConfig::client().alpn([""]), "empty ALPN name");
    bad(
        TlsConfig::client().alpn([vec![b'x'; 256]]),
        "long ALPN name",
    );
    bad(
        TlsConfig::client().client_auth(ClientAuth::Required),
        "client_auth on a client",
    );
    let m = bad(
        TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .client_auth(ClientAuth::Required),
        "client_auth without CA",
    );
    assert!(m.contains("CA"), "{m}");
    bad(
        TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .dangerous_skip_verification_for_tests(),
        "skip verification on a server",
    );
    let m = bad(
        TlsConfig::server().cert_file("/nonexistent/cert.pem", "/nonexistent/key.pem"),
        "missing file",
    );
    assert!(m.contains("/nonexistent/cert.pem"), "{m}");
    bad(
        TlsConfig::client().ca_file("/nonexistent/ca.pem"),
        "missing CA file",
    );
    // The first mistake is the one reported.
    let m = bad(TlsConfig::client().ca_pem("").alpn([""]), "two mistakes");
    assert!(m.contains("ca_pem"), "{m}");

    // Files that exist work.
    let dir = std::env::temp_dir().join(format!("sockloop-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, capath) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&cert, &leaf.chain).unwrap();
    std::fs::write(&key, &leaf.key).unwrap();
    std::fs::write(&capath, &ca.pem).unwrap();
    assert!(TlsConfig::server()
        .cert_file(&cert, &key)
        .build()
        .unwrap()
        .is_server());
    assert!(!TlsConfig::client()
        .ca_file(&capath)
        .build()
        .unwrap()
        .is_server());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_calls_check_the_config_side_and_the_server_name() {
    run(|| async {
        let (_ca, server, client) = configs();
        let (l, _) = listener();
        let e = server_stcp(l, &client).unwrap_err();
        assert_eq!(e.name(), "invalid_tls_config");
        assert!(e.to_string().contains("server config"), "{e}");

        let (l, _) = listener();
        let t = tcp().unwrap();
        t.connect(&l.local_addr().unwrap(), clock() + 5.0)
            .await
            .unwrap();
        let e = client_stcp(t, "localhost", &server, clock() + 5.0)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "invalid_tls_config");

        let a = l.accept(clock() + 5.0).await.unwrap();
        let e = server_handshake(a, &client, clock() + 5.0)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "invalid_tls_config");

        for name in ["", "bad name!", "a..b"] {
            let t = tcp().unwrap();
            t.connect(&l.local_addr().unwrap(), clock() + 5.0)
                .await
                .unwrap();
            let e = client_stcp(t, name, &client, clock() + 5.0)
                .await
                .unwrap_err();
            assert_eq!(e.name(), "invalid_argument", "{name:?}");
        }

        // A closed socket.
        let t = tcp().unwrap();
        t.close().unwrap();
        let e = client_stcp(t, "localhost", &client, clock() + 5.0)
            .await
            .unwrap_err();
        assert_eq!(e.name(), "closed");
    });
}

#[test]
fn tls_default_client_trusts_the_system_roots() {
    // rustls-native-certs reads SSL_CERT_FILE first: point it at a test
    // CA, so the default (system roots) path is exercised for real.
    let ca = Ca::new("system ca");
    let path = std::env::temp_dir().join(format!("sockloop-roots-{}.pem", std::process::id()));
    std::fs::write(&path, &ca.pem).unwrap();
    let before = std::env::var_os("SSL_CERT_FILE");
    std::env::set_var("SSL_CERT_FILE", &path);
    let client = TlsConfig::client().build();
    match before {
        Some(v) => std::env::set_var("SSL_CERT_FILE", v),
        None => std::env::remove_var("SSL_CERT_FILE"),
    }
    std::fs::remove_file(&path).unwrap();
    let client = client.unwrap();
    let leaf = ca.server(&["localhost"]);
    let server = TlsConfig::server()
        .cert_pem(&leaf.chain, &leaf.key)
        .build()
        .unwrap();
    run(move || async move {
        let (c, s) = try_pair(&server, &client, "localhost").await;
        assert!(c.is_ok() && s.is_ok());
    });
}

// ===== LuaSec: ssl.wrap + dohandshake, LuaSocket's methods over TLS =====

#[test]
fn tls_luasec_wrap_dohandshake_and_receive_patterns() {
    run(|| async {
        let ca = Ca::new("ca");
        let leaf = ca.server(&["localhost"]);
        let server = TlsConfig::server()
            .cert_pem(&leaf.chain, &leaf.key)
            .alpn(["x-test"])
            .build()
            .unwrap();
        let client = TlsConfig::client()
            .ca_pem(&ca.pem)
            .alpn(["x-test"])
            .build()
            .unwrap();

        let (l, addr) = listener();
        let srv = thread(async move {
            let conn = ssl::wrap(l.accept(clock() + 5.0).await.unwrap(), &server);
            conn.settimeout(Some(5.0));
            conn.dohandshake().await.unwrap();
            assert_eq!(conn.getsniname().as_deref(), Some("localhost"));
            assert_eq!(conn.getalpn().as_deref(), Some(&b"x-test"[..]));
            // Lines (CRs dropped), a byte count, then "*a" to the clean end.
            assert_eq!(conn.receive("*l").await.unwrap(), b"first line");
            assert_eq!(conn.receive(5usize).await.unwrap(), b"12345");
            assert!(conn.dirty(), "bytes read ahead are buffered");
            assert_eq!(conn.receive_prefixed("*l", b">").await.unwrap(), b">x");
            assert_eq!(conn.receive("*a").await.unwrap(), b"the rest");
            // The stream ended: a pattern not satisfied is "closed".
            let mut e = conn.receive(3usize).await.unwrap_err();
            assert_eq!(e.name(), "closed");
            assert_eq!(e.take_data().unwrap(), b"");
            assert_eq!(conn.send_range(b"hello world", 7, -1).await.unwrap(), 11);
            conn.close().unwrap();
        });

        let t = tcp().unwrap();
        t.connect(&addr, clock() + 5.0).await.unwrap();
        let conn = ssl::wrap(t, &client);
        // Before the handshake.
        assert_eq!(
            conn.receive("*l").await.unwrap_err().name(),
            "not_connected"
        );
        assert_eq!(conn.send(b"x").await.unwrap_err().name(), "not_connected");
        assert_eq!(
            conn.dohandshake().await.unwrap_err().name(),
            "invalid_argument",
            "a client must name the server"
        );
        conn.sni("localhost");
        conn.settimeout(Some(5.0));
        conn.dohandshake().await.unwrap();
        conn.dohandshake().await.unwrap(); // once is enough
        let (version, suite) = conn.info().unwrap();
        assert_eq!(version, "TLSv1.3");
        assert!(suite.starts_with("TLS13_"));
        assert!(conn.getpeercertificate().is_some());
        assert_eq!(conn.getpeerchain().len(), 2);
        assert_eq!(conn.getsniname(), None, "a client's is its own sni()");
        assert_eq!(
            conn.send(b"first\r line\r\n12345x\nthe rest")
                .await
                .unwrap(),
            28
        );
        let stcp = conn.getstcp().unwrap();
        stcp.shutdown(std::net::Shutdown::Write, clock() + 5.0)
            .await
            .unwrap();
        assert_eq!(conn.receive("*a").await.unwrap(), b"world");
        assert!(srv.is_finished());

        // A timeout from settimeout, with the data so far.
        let (l, addr) = listener();
        let (_ca, server, client) = configs();
        thread(async move {
            let conn = ssl::wrap(l.accept(clock() + 5.0).await.unwrap(), &server);
            conn.dohandshake().await.unwrap();
            conn.send(b"ready\nno newline").await.unwrap();
            sockloop::sleep(1.0).await;
        });
        let t = tcp().unwrap();
        t.connect(&addr, clock() + 5.0).await.unwrap();
        let conn = ssl::wrap(t, &client);
        conn.sni("localhost");
        conn.dohandshake().await.unwrap();
        conn.settimeout(Some(5.0));
        // Both parts came in one record: the second is there by now.
        assert_eq!(conn.receive("*l").await.unwrap(), b"ready");
        conn.settimeout(Some(0.1));
        let mut e = conn.receive("*l").await.unwrap_err();
        assert_eq!(e.name(), "timeout");
        assert_eq!(e.take_data().unwrap(), b"no newline");
        conn.close().unwrap();
        assert_eq!(conn.close().unwrap_err().name(), "closed");
        assert_eq!(conn.receive("*l").await.unwrap_err().name(), "closed");
    });
}

#[test]
fn tls_configs_made_by_hand_with_rustls() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use sockloop::rustls;
    use std::sync::Arc;

    let ca = Ca::new("ca");
    let leaf = ca.server(&["localhost"]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<_> = CertificateDer::pem_slice_iter(leaf.chain.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    sc.alpn_protocols = vec![b"old".to_vec()];
    let server = TlsConfig::from_rustls_server(Arc::new(sc));
    assert!(server.is_server());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let mut cc = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cc.alpn_protocols = vec![b"old".to_vec()];
    let client = TlsConfig::from_rustls_client(Arc::new(cc));
    run(move || async move {
        let (c, s) = try_pair(&server, &client, "localhost").await;
        let (c, s) = (c.unwrap(), s.unwrap());
        assert_eq!(c.tls_version(), Some("TLSv1.2"));
        assert_eq!(s.tls_version(), Some("TLSv1.2"));
        assert_eq!(c.alpn_protocol(), Some(&b"old"[..]));
        c.send(b"twelve", None).await.unwrap();
        c.shutdown(std::net::Shutdown::Write, clock() + 5.0)
            .await
            .unwrap();
        assert_eq!(s.recvall(clock() + 5.0).await.unwrap(), b"twelve");
    });
}

#[test]
fn tls_types_are_send_and_sync() {
    // As `Tcp`: a connection can move to (or be shared with) another OS
    // thread's loop.
    fn check<T: Send + Sync>() {}
    check::<sockloop::Stcp>();
    check::<sockloop::StcpServer>();
    check::<TlsConfig>();
}

#[test]
fn tls_pair_helper_smoke() {
    run(|| async {
        let (c, s) = pair().await;
        c.send(b"ping", None).await.unwrap();
        let mut b = [0u8; 4];
        s.recvn(&mut b, clock() + 5.0).await.unwrap();
        assert_eq!(&b, b"ping");
    });
}
