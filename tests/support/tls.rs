//! TLS test helpers: certificates made with rcgen (a CA and the leaves it
//! signs, for names, expired or not, for servers or clients), configs,
//! and connected `Stcp` pairs on loopback.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A test certificate authority.
pub struct Ca {
    /// The CA certificate, PEM.
    pub pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A leaf certificate: its chain (leaf, then the CA) and key, PEM.
pub struct Leaf {
    pub chain: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    fn sign(&self, names: &[&str], client: bool, expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "sockloop test");
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            p.not_before = date_time_ymd(2000, 1, 1);
            p.not_after = date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            chain: format!("{}{}", cert.pem(), self.pem),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Leaf {
        self.sign(names, false, false)
    }

    /// A server certificate for `names` that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> Leaf {
        self.sign(names, false, true)
    }

    /// A client certificate.
    pub fn client(&self, name: &str) -> Leaf {
        self.sign(&[name], true, false)
    }
}

/// A CA, a server config for `localhost` and `127.0.0.1` signed by it,
/// and a client config that trusts it.
pub fn configs() -> (Ca, sockloop::TlsConfig, sockloop::TlsConfig) {
    let ca = Ca::new("sockloop test CA");
    let leaf = ca.server(&["localhost", "127.0.0.1"]);
    let server = sockloop::TlsConfig::server()
        .cert_pem(&leaf.chain, &leaf.key)
        .build()
        .unwrap();
    let client = sockloop::TlsConfig::client()
        .ca_pem(&ca.pem)
        .build()
        .unwrap();
    (ca, server, client)
}

/// A listening TCP socket on 127.0.0.1 and its address.
pub fn listener() -> (sockloop::Tcp, sockloop::SockAddr) {
    let l = sockloop::tcp().unwrap();
    l.listen(("127.0.0.1", 0)).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Both handshakes of one connection, run at once: (client, server).
pub async fn try_pair(
    server: &sockloop::TlsConfig,
    client: &sockloop::TlsConfig,
    name: &str,
) -> (
    sockloop::Result<sockloop::Stcp>,
    sockloop::Result<sockloop::Stcp>,
) {
    let (l, addr) = listener();
    let deadline = sockloop::clock() + 10.0;
    let c = sockloop::tcp().unwrap();
    c.connect(&addr, deadline).await.unwrap();
    let s = l.accept(deadline).await.unwrap();
    tokio::join!(
        sockloop::client_stcp(c, name, client, deadline),
        sockloop::server_handshake(s, server, deadline)
    )
}

/// A connected TLS pair for `localhost`: (client, server).
pub async fn pair() -> (sockloop::Stcp, sockloop::Stcp) {
    let (_ca, server, client) = configs();
    let (c, s) = try_pair(&server, &client, "localhost").await;
    (c.unwrap(), s.unwrap())
}
