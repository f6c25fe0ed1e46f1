//! [`TlsConfig`]: what a TLS client or server presents and trusts, checked
//! when it is built (libtls' `tls_config`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{Error, ErrorKind, Result};

/// Whether a TLS server asks its clients for a certificate
/// ([`TlsConfigBuilder::client_auth`]; libtls' `verify_client`).
///
/// # Examples
///
/// Mutual TLS: the server trusts one CA for client certificates, and the
/// client presents one it signed.
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, client_stcp, server_handshake, tcp, ClientAuth, TlsConfig};
/// # use rcgen::{CertificateParams, IsCa, BasicConstraints, KeyPair};
/// # let ca_key = KeyPair::generate().unwrap();
/// # let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
/// # p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
/// # let ca = p.self_signed(&ca_key).unwrap();
/// # let leaf = |name: &str| {
/// #     let k = KeyPair::generate().unwrap();
/// #     let c = CertificateParams::new(vec![name.to_string()]).unwrap()
/// #         .signed_by(&k, &ca, &ca_key).unwrap();
/// #     (c.pem(), k.serialize_pem())
/// # };
/// # let (ca_pem, (server_cert, server_key), (client_cert, client_key)) =
/// #     (ca.pem(), leaf("localhost"), leaf("client-1"));
/// let server = TlsConfig::server()
///     .cert_pem(&server_cert, &server_key)
///     .ca_pem(&ca_pem)
///     .client_auth(ClientAuth::Required)
///     .build()?;
/// let client = TlsConfig::client()
///     .ca_pem(&ca_pem)
///     .cert_pem(&client_cert, &client_key)
///     .build()?;
///
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let t = tcp()?;
/// t.connect(&l.local_addr()?, clock() + 5.0).await?;
/// let a = l.accept(clock() + 5.0).await?;
/// let (c, s) = tokio::join!(
///     client_stcp(t, "localhost", &client, clock() + 5.0),
///     server_handshake(a, &server, clock() + 5.0),
/// );
/// let (_c, s) = (c?, s?);
/// assert_eq!(s.peer_certificates().len(), 1); // the client's certificate
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for (the default).
    #[default]
    None,
    /// A client may present a certificate; if it does, it must chain to
    /// the CA roots (libtls' `verify_client_optional`).
    Optional,
    /// Every client must present a certificate that chains to the CA
    /// roots (mutual TLS; libtls' `verify_client`).
    Required,
}

/// A TLS configuration for [`client_stcp`](crate::client_stcp) (made with
/// [`TlsConfig::client`]) or for [`server_stcp`](crate::server_stcp) and
/// [`server_handshake`](crate::server_handshake) (made with
/// [`TlsConfig::server`]): luapower's `stls.config` / libtls' `tls_config`.
///
/// Cloning is cheap (one `Arc`); one config serves any number of
/// connections, on any OS thread. Every mistake in a configuration is an
/// `Err` named `"invalid_tls_config"` from
/// [`build`](TlsConfigBuilder::build), never a failure at handshake time.
///
/// The crypto is rustls' `ring` provider, given to each config (no
/// process-wide default provider is installed or needed). `ring` is used
/// because it builds with nothing beyond a C compiler; rustls' default,
/// `aws-lc-rs`, also needs CMake (and NASM or Clang on some targets).
///
/// # Examples
///
/// ```
/// use sockloop::TlsConfig;
/// # let ca_pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
///
/// // A client that trusts one CA and offers HTTP/2 and HTTP/1.1.
/// let client = TlsConfig::client()
///     .ca_pem(ca_pem.as_bytes())
///     .alpn(["h2", "http/1.1"])
///     .build()?;
/// assert!(!client.is_server());
///
/// // Mistakes are named errors when the config is built.
/// let err = TlsConfig::server().build().unwrap_err();
/// assert_eq!(err.name(), "invalid_tls_config");
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    side: Side,
}

#[derive(Clone)]
enum Side {
    Client(Arc<ClientConfig>),
    Server(Arc<ServerConfig>),
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (side, alpn) = match &self.side {
            Side::Client(c) => ("client", &c.alpn_protocols),
            Side::Server(c) => ("server", &c.alpn_protocols),
        };
        let alpn: Vec<_> = alpn.iter().map(|p| String::from_utf8_lossy(p)).collect();
        f.debug_struct("TlsConfig")
            .field("side", &side)
            .field("alpn", &alpn)
            .finish_non_exhaustive()
    }
}

fn config_error(msg: impl Into<String>) -> Error {
    Error::with_message(ErrorKind::InvalidTlsConfig, msg.into())
}

/// The crypto provider of every config sockloop builds.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// A builder for a client configuration. By default it trusts the
    /// system's root certificates (unless [`ca_pem`](TlsConfigBuilder::ca_pem)
    /// or [`ca_file`](TlsConfigBuilder::ca_file) give others), sends SNI,
    /// offers no ALPN protocol and presents no certificate.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// # let server = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
    /// // Trust the server's self-signed certificate instead of the system roots.
    /// let client = TlsConfig::client().ca_pem(&cert_pem).build()?;
    ///
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let t = tcp()?;
    /// t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// let a = l.accept(clock() + 5.0).await?;
    /// let (c, s) = tokio::join!(
    ///     client_stcp(t, "localhost", &client, clock() + 5.0),
    ///     server_handshake(a, &server, clock() + 5.0),
    /// );
    /// let (c, _s) = (c?, s?);
    /// assert_eq!(c.server_name(), Some("localhost"));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn client() -> TlsConfigBuilder {
        TlsConfigBuilder::new(false)
    }

    /// A builder for a server configuration. It needs a certificate chain
    /// and key ([`cert_pem`](TlsConfigBuilder::cert_pem) or
    /// [`cert_file`](TlsConfigBuilder::cert_file)); by default it asks
    /// clients for no certificate and accepts no ALPN protocol.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let server = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
    /// assert!(server.is_server());
    ///
    /// // A server without a certificate is a named error when it is built.
    /// let err = TlsConfig::server().build().unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn server() -> TlsConfigBuilder {
        TlsConfigBuilder::new(true)
    }

    /// Wraps a rustls client configuration made by hand, for what the
    /// builder does not offer (session resumption settings, key logging,
    /// another crypto provider, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::sync::Arc;
    /// use sockloop::rustls::{self, ClientConfig, RootCertStore};
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// let mut roots = RootCertStore::empty();
    /// roots.add(ck.cert.der().clone()).unwrap();
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let client = TlsConfig::from_rustls_client(Arc::new(config));
    /// assert!(!client.is_server());
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (c, s) = tokio::join!(
    /// #     client_stcp(t, "localhost", &client, clock() + 5.0),
    /// #     server_handshake(a, &server, clock() + 5.0),
    /// # );
    /// # let (c, _s) = (c?, s?);
    ///
    /// // `c` is a connection made with it to a server using that certificate.
    /// assert_eq!(c.peer_certificates(), [ck.cert.der().clone()]);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_rustls_client(config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig {
            side: Side::Client(config),
        }
    }

    /// Wraps a rustls server configuration made by hand.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::sync::Arc;
    /// use sockloop::rustls::pki_types::PrivatePkcs8KeyDer;
    /// use sockloop::rustls::{self, ServerConfig};
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let key = PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der());
    /// let mut config = ServerConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_no_client_auth()
    ///     .with_single_cert(vec![ck.cert.der().clone()], key.into())
    ///     .unwrap();
    /// config.alpn_protocols = vec![b"h2".to_vec()];
    /// let server = TlsConfig::from_rustls_server(Arc::new(config));
    /// assert!(server.is_server());
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (c, s) = tokio::join!(
    /// #     client_stcp(t, "localhost", &client, clock() + 5.0),
    /// #     server_handshake(a, &server, clock() + 5.0),
    /// # );
    /// # let (_c, s) = (c?, s?);
    ///
    /// // `s` is a connection it accepted from a client that offered no ALPN.
    /// assert_eq!(s.alpn_protocol(), None);
    /// assert_eq!(s.server_name(), Some("localhost"));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_rustls_server(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            side: Side::Server(config),
        }
    }

    /// `true` for a server configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// let server = TlsConfig::server()
    ///     .cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem())
    ///     .build()?;
    /// let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// assert!(server.is_server());
    /// assert!(!client.is_server());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn is_server(&self) -> bool {
        matches!(self.side, Side::Server(_))
    }

    /// The client side, or `"invalid_tls_config"` naming `call`.
    pub(crate) fn client_side(&self, call: &str) -> Result<Arc<ClientConfig>> {
        match &self.side {
            Side::Client(c) => Ok(c.clone()),
            Side::Server(_) => Err(config_error(format!(
                "{call} needs a client config (TlsConfig::client()), not a server config"
            ))),
        }
    }

    /// The server side, or `"invalid_tls_config"` naming `call`.
    pub(crate) fn server_side(&self, call: &str) -> Result<Arc<ServerConfig>> {
        match &self.side {
            Side::Server(c) => Ok(c.clone()),
            Side::Client(_) => Err(config_error(format!(
                "{call} needs a server config (TlsConfig::server()), not a client config"
            ))),
        }
    }
}

/// Builds a [`TlsConfig`]; see [`TlsConfig::client`] and
/// [`TlsConfig::server`]. Setters never fail: the first mistake is
/// remembered and [`build`](TlsConfigBuilder::build) returns it.
///
/// # Examples
///
/// ```
/// use sockloop::TlsConfig;
///
/// // The setters chain; the first mistake is the error `build` returns.
/// let err = TlsConfig::client()
///     .ca_pem("not a PEM")
///     .alpn([""])
///     .build()
///     .unwrap_err();
/// assert_eq!(err.name(), "invalid_tls_config");
/// assert!(err.to_string().contains("ca_pem"), "{err}");
/// ```
pub struct TlsConfigBuilder {
    server: bool,
    chain: Vec<CertificateDer<'static>>,
    key: Option<PrivateKeyDer<'static>>,
    ca: Vec<CertificateDer<'static>>,
    native_roots: bool,
    alpn: Vec<Vec<u8>>,
    sni: bool,
    client_auth: ClientAuth,
    skip_verification: bool,
    error: Option<Error>,
}

impl fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("server", &self.server)
            .field("chain_len", &self.chain.len())
            .field("has_key", &self.key.is_some())
            .field("ca_len", &self.ca.len())
            .field("native_roots", &self.native_roots)
            .field("alpn_len", &self.alpn.len())
            .field("sni", &self.sni)
            .field("client_auth", &self.client_auth)
            .field("skip_verification", &self.skip_verification)
            .field("error", &self.error)
            .finish()
    }
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| config_error(format!("{what}: cannot read {}: {e}", path.display())))
}

fn parse_certs(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("{what}: bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{what}: no CERTIFICATE section in the PEM"
        )));
    }
    Ok(certs)
}

fn parse_key(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => config_error(format!(
            "{what}: no PRIVATE KEY section (PKCS#8, PKCS#1 or SEC1) in the PEM"
        )),
        e => config_error(format!("{what}: bad PEM: {e}")),
    })
}

impl TlsConfigBuilder {
    fn new(server: bool) -> TlsConfigBuilder {
        TlsConfigBuilder {
            server,
            chain: Vec::new(),
            key: None,
            ca: Vec::new(),
            native_roots: false,
            alpn: Vec::new(),
            sni: true,
            client_auth: ClientAuth::None,
            skip_verification: false,
            error: None,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// This side's certificate chain (leaf first) and private key, as PEM
    /// (libtls' `cert`/`key`): a server's certificate, or a client's for
    /// mutual TLS. The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    ///
    /// [`build`](Self::build) fails with `"invalid_tls_config"` if either
    /// PEM has no such section, does not decode, or the key does not
    /// belong to the certificate.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let server = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
    /// assert!(server.is_server());
    ///
    /// // A key that does not belong to the certificate.
    /// # let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    /// let err = TlsConfig::server().cert_pem(&cert_pem, &other_key).build().unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn cert_pem(self, chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        let parsed = parse_certs("cert_pem: the chain", chain.as_ref())
            .and_then(|c| Ok((c, parse_key("cert_pem: the key", key.as_ref())?)));
        match parsed {
            Ok((chain, key)) => TlsConfigBuilder {
                chain,
                key: Some(key),
                ..self
            },
            Err(e) => self.fail(e),
        }
    }

    /// As [`cert_pem`](Self::cert_pem), read from two PEM files (they may
    /// be the same file). The files are read here.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let dir = std::env::temp_dir().join(format!("sockloop-doc-cert-file-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// // One file holding the certificate and its key.
    /// let both = dir.join("server.pem");
    /// std::fs::write(&both, ck.cert.pem() + &ck.key_pair.serialize_pem()).unwrap();
    /// let server = TlsConfig::server().cert_file(&both, &both).build()?;
    /// assert!(server.is_server());
    ///
    /// let err = TlsConfig::server()
    ///     .cert_file(dir.join("missing.pem"), &both)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config"); // "cert_file: cannot read ..."
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn cert_file(self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        let files = read_file("cert_file", chain.as_ref())
            .and_then(|c| Ok((c, read_file("cert_file", key.as_ref())?)));
        match files {
            Ok((c, k)) => self.cert_pem(c, k),
            Err(e) => self.fail(e),
        }
    }

    /// Trusts the CA certificates in `pem` (one or more, libtls'
    /// `ca_mem`): on a client, for the server's certificate (replacing
    /// the system roots unless [`native_roots`](Self::native_roots) is
    /// also called); on a server, for clients' certificates (see
    /// [`client_auth`](Self::client_auth)). Can be called more than once.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let mut other = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    /// # other.distinguished_name.push(rcgen::DnType::CommonName, "another CA");
    /// # let other_ca_pem = other.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem();
    /// // A client that trusts only a CA that did not sign the server's certificate.
    /// let client = TlsConfig::client().ca_pem(&other_ca_pem).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// let (c, _s) = tokio::join!(
    ///     client_stcp(t, "localhost", &client, clock() + 5.0),
    ///     server_handshake(a, &server, clock() + 5.0),
    /// );
    /// assert_eq!(c.unwrap_err().name(), "unknown_issuer");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        match parse_certs("ca_pem", pem.as_ref()) {
            Ok(certs) => {
                self.ca.extend(certs);
                self
            }
            Err(e) => self.fail(e),
        }
    }

    /// As [`ca_pem`](Self::ca_pem), read from a PEM file (libtls'
    /// `ca_file`). The file is read here.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ca_pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
    /// # let dir = std::env::temp_dir().join(format!("sockloop-doc-ca-file-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("ca.pem");
    /// std::fs::write(&path, &ca_pem).unwrap();
    /// let client = TlsConfig::client().ca_file(&path).build()?;
    /// assert!(!client.is_server());
    ///
    /// let err = TlsConfig::client().ca_file(dir.join("missing.pem")).build().unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn ca_file(self, path: impl AsRef<Path>) -> Self {
        match read_file("ca_file", path.as_ref()) {
            Ok(pem) => self.ca_pem(pem),
            Err(e) => self.fail(e),
        }
    }

    /// Trusts the system's root certificates (loaded by
    /// `rustls-native-certs` when the config is built), also when CA
    /// certificates are given. A client trusts them by default when it
    /// is given no CA.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ca_pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
    /// // Trust a private CA as well as the system's roots.
    /// match TlsConfig::client().ca_pem(&ca_pem).native_roots().build() {
    ///     Ok(client) => assert!(!client.is_server()),
    ///     // A system without root certificates.
    ///     Err(e) => assert_eq!(e.name(), "invalid_tls_config"),
    /// }
    /// ```
    pub fn native_roots(mut self) -> Self {
        self.native_roots = true;
        self
    }

    /// The ALPN protocols this side offers (client) or accepts (server),
    /// in order of preference (libtls' `alpn`). A server that has ALPN
    /// protocols fails the handshake of a client that offers only others.
    /// [`build`](Self::build) fails on an empty name or one longer than
    /// 255 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let client = TlsConfig::client().ca_pem(&cert_pem).alpn(["h2", "http/1.1"]).build()?;
    /// let server = TlsConfig::server()
    ///     .cert_pem(&cert_pem, &key_pem)
    ///     .alpn(["http/1.1"])
    ///     .build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (c, s) = tokio::join!(
    /// #     client_stcp(t, "localhost", &client, clock() + 5.0),
    /// #     server_handshake(a, &server, clock() + 5.0),
    /// # );
    /// # let (c, s) = (c?, s?);
    /// // `c` and `s` are the two ends of a connection made with them.
    /// assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
    /// assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
    ///
    /// let err = TlsConfig::client().alpn([""]).build().unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn alpn<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let protocols: Vec<Vec<u8>> = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        if let Some(bad) = protocols.iter().find(|p| p.is_empty() || p.len() > 255) {
            let e = config_error(format!(
                "alpn: a protocol name must be 1 to 255 bytes, got {} bytes",
                bad.len()
            ));
            return self.fail(e);
        }
        self.alpn = protocols;
        self
    }

    /// Whether a client sends the server name (SNI) in its hello; on by
    /// default. Names that are IP addresses are never sent. No effect on
    /// a server, which reads the client's name with
    /// [`Stcp::server_name`](crate::Stcp::server_name).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// let client = TlsConfig::client().ca_pem(ck.cert.pem()).sni(false).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (c, s) = tokio::join!(
    /// #     client_stcp(t, "localhost", &client, clock() + 5.0),
    /// #     server_handshake(a, &server, clock() + 5.0),
    /// # );
    /// # let (c, s) = (c?, s?);
    /// // The certificate is still checked against "localhost", but the server
    /// // (`s`) was not told the name.
    /// assert_eq!(c.server_name(), Some("localhost"));
    /// assert_eq!(s.server_name(), None);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn sni(mut self, on: bool) -> Self {
        self.sni = on;
        self
    }

    /// Whether a server asks clients for a certificate, verified against
    /// the CA certificates of [`ca_pem`](Self::ca_pem) /
    /// [`ca_file`](Self::ca_file) / [`native_roots`](Self::native_roots).
    /// [`build`](Self::build) fails if a client config sets it, or if a
    /// server asks with no CA to verify against.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{ClientAuth, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// // The CA that signs the clients' certificates (here: the server's own).
    /// let server = TlsConfig::server()
    ///     .cert_pem(&cert_pem, &key_pem)
    ///     .ca_pem(&cert_pem)
    ///     .client_auth(ClientAuth::Optional)
    ///     .build()?;
    /// assert!(server.is_server());
    ///
    /// // With no CA to verify clients against, it is a named error.
    /// let err = TlsConfig::server()
    ///     .cert_pem(&cert_pem, &key_pem)
    ///     .client_auth(ClientAuth::Required)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn client_auth(mut self, mode: ClientAuth) -> Self {
        self.client_auth = mode;
        self
    }

    /// **Turns off every check of the server's certificate**: any
    /// certificate, for any name, from anyone, expired or not, is
    /// accepted (the handshake signature is still checked against it).
    /// The connection is encrypted but not authenticated: anyone on the
    /// path can read and change it. For tests only (libtls'
    /// `insecure_noverifycert` + `insecure_noverifyname`). Client configs
    /// only: [`build`](Self::build) fails on a server config.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// // No CA given, and the name does not match the certificate: accepted anyway.
    /// let client = TlsConfig::client().dangerous_skip_verification_for_tests().build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// let (c, s) = tokio::join!(
    ///     client_stcp(t, "not-the-name.example", &client, clock() + 5.0),
    ///     server_handshake(a, &server, clock() + 5.0),
    /// );
    /// let (c, _s) = (c?, s?);
    /// assert_eq!(c.tls_version(), Some("TLSv1.3"));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dangerous_skip_verification_for_tests(mut self) -> Self {
        self.skip_verification = true;
        self
    }

    /// Checks everything and builds the config.
    ///
    /// # Errors
    ///
    /// `"invalid_tls_config"`, with a message naming the part: a PEM
    /// with no certificate or key or that does not decode, a file that
    /// cannot be read, a key that does not match its certificate, a
    /// server with no certificate, client verification with no CA, a
    /// client option on a server config or the reverse, no system root
    /// certificates where they are needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::TlsConfig;
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// assert!(!client.is_server());
    ///
    /// // A client option on a server config.
    /// let err = TlsConfig::server()
    ///     .cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem())
    ///     .dangerous_skip_verification_for_tests()
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.name(), "invalid_tls_config");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn build(self) -> Result<TlsConfig> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.server {
            self.build_server()
        } else {
            self.build_client()
        }
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        for c in &self.ca {
            roots
                .add(c.clone())
                .map_err(|e| config_error(format!("a CA certificate is not usable: {e}")))?;
        }
        let native = self.native_roots || (!self.server && self.ca.is_empty());
        if native {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), ToString::to_string);
                return Err(config_error(format!(
                    "no system root certificates could be loaded ({why}); give the CA with ca_pem or ca_file"
                )));
            }
        }
        Ok(roots)
    }

    fn build_client(self) -> Result<TlsConfig> {
        if self.client_auth != ClientAuth::None {
            return Err(config_error(
                "client_auth is a server option; a client presents a certificate with cert_pem/cert_file",
            ));
        }
        let p = provider();
        let b = ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?;
        let b = if self.skip_verification {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipVerification(p)))
        } else {
            b.with_root_certificates(self.roots()?)
        };
        let mut c = match self.key {
            Some(key) => b
                .with_client_auth_cert(self.chain, key)
                .map_err(|e| config_error(format!("cert_pem: {e}")))?,
            None => b.with_no_client_auth(),
        };
        c.alpn_protocols = self.alpn;
        c.enable_sni = self.sni;
        Ok(TlsConfig::from_rustls_client(Arc::new(c)))
    }

    fn build_server(self) -> Result<TlsConfig> {
        if self.skip_verification {
            return Err(config_error(
                "dangerous_skip_verification_for_tests is for client configs only",
            ));
        }
        let no_cert = || {
            config_error(
                "a server config needs a certificate chain and key (cert_pem or cert_file)",
            )
        };
        if self.key.is_none() {
            return Err(no_cert());
        }
        let p = provider();
        let b = ServerConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?;
        let b = match self.client_auth {
            ClientAuth::None => b.with_no_client_auth(),
            mode => {
                if self.ca.is_empty() && !self.native_roots {
                    return Err(config_error(
                        "client_auth needs the CA to verify clients against (ca_pem, ca_file or native_roots)",
                    ));
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), p);
                let v = if mode == ClientAuth::Optional {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                let v = v
                    .build()
                    .map_err(|e| config_error(format!("client_auth: {e}")))?;
                b.with_client_cert_verifier(v)
            }
        };
        let TlsConfigBuilder {
            chain, key, alpn, ..
        } = self;
        let mut c = b
            .with_single_cert(chain, key.ok_or_else(no_cert)?)
            .map_err(|e| config_error(format!("cert_pem: {e}")))?;
        c.alpn_protocols = alpn;
        Ok(TlsConfig::from_rustls_server(Arc::new(c)))
    }
}

/// The verifier of [`TlsConfigBuilder::dangerous_skip_verification_for_tests`]:
/// any certificate is accepted; the handshake signature is still checked
/// against it, with the provider's algorithms.
#[derive(Debug)]
struct SkipVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
