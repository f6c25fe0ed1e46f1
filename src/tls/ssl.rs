//! LuaSec's `ssl` module (`require "ssl"`) over sockloop's TLS: wrap a
//! connected or accepted TCP socket, run the handshake, then use
//! LuaSocket's methods on the TLS connection — `receive` with its
//! patterns, `send` with its ranges, `settimeout` — as Copas and LuaSec
//! programs do.
//!
//! | LuaSec | sockloop |
//! | --- | --- |
//! | `ssl.newcontext(params)` | [`TlsConfig::client`] / [`TlsConfig::server`] + [`build`](crate::TlsConfigBuilder::build) |
//! | `ssl.wrap(sock, params)` | [`wrap`]`(tcp, &config)` |
//! | `conn:sni(name)` | [`SslSocket::sni`] (a client must name the server: rustls checks the certificate against it) |
//! | `conn:dohandshake()` | [`SslSocket::dohandshake`] |
//! | `conn:receive(pattern, prefix)` | [`SslSocket::receive`], [`SslSocket::receive_prefixed`] |
//! | `conn:send(data, i, j)` | [`SslSocket::send`], [`SslSocket::send_range`] |
//! | `conn:settimeout(t)` | [`SslSocket::settimeout`] |
//! | `conn:close()` | [`SslSocket::close`] |
//! | `conn:getalpn()` | [`SslSocket::getalpn`] |
//! | `conn:getpeercertificate()`, `conn:getpeerchain()` | [`SslSocket::getpeercertificate`], [`SslSocket::getpeerchain`] |
//! | `conn:getsniname()` | [`SslSocket::getsniname`] |
//! | `conn:info()` | [`SslSocket::info`] |
//! | `conn:dirty()` | [`SslSocket::dirty`] |
//!
//! The LTN12 sinks and sources of [`luasocket`](crate::luasocket) work on
//! the TLS connection itself ([`SslSocket::getstcp`], or a [`Stcp`]):
//! `sink("keep-open", &*stcp)`, `source("until-closed", stcp.until(t), None)`.
//!
//! # Examples
//!
//! ```
//! # sockloop::run(async {
//! use sockloop::{clock, ssl, tcp, thread, TlsConfig};
//! # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
//! # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
//! let server_cfg = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
//! let client_cfg = TlsConfig::client().ca_pem(&cert_pem).build()?;
//!
//! let l = tcp()?;
//! l.listen(("127.0.0.1", 0))?;
//! let addr = l.local_addr()?;
//! thread(async move {
//!     let conn = ssl::wrap(l.accept(clock() + 5.0).await.unwrap(), &server_cfg);
//!     conn.settimeout(Some(5.0));
//!     conn.dohandshake().await.unwrap();
//!     while let Ok(line) = conn.receive("*l").await {
//!         conn.send(&[&line[..], b"\n"].concat()).await.unwrap();
//!     }
//! });
//!
//! let t = tcp()?;
//! t.connect(&addr, clock() + 5.0).await?;
//! let conn = ssl::wrap(t, &client_cfg);
//! conn.sni("localhost");
//! conn.settimeout(Some(5.0));
//! conn.dohandshake().await?;
//! conn.send(b"hello\r\n").await?;
//! assert_eq!(conn.receive("*l").await?, b"hello");
//! # Ok::<(), sockloop::Error>(())
//! # }).unwrap();
//! ```

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use rustls_pki_types::CertificateDer;

use crate::error::{Error, ErrorKind, Result};
use crate::luasocket::buffer::Buffer;
use crate::luasocket::Pattern;
use crate::{client_stcp, server_handshake, Stcp, Tcp, TlsConfig};

/// `ssl.wrap(sock, params)`: a TLS connection-to-be over `tcp` (a
/// connected or accepted socket) with `config`'s side and settings. Nothing
/// is sent until [`dohandshake`](SslSocket::dohandshake).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, ssl, tcp, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let t = tcp()?;
/// t.connect(&l.local_addr()?, clock() + 5.0).await?;
/// let a = l.accept(clock() + 5.0).await?;
///
/// let conn = ssl::wrap(t, &client_cfg);
/// let peer = ssl::wrap(a, &server_cfg);
/// // No TLS connection yet.
/// assert!(conn.getstcp().is_none());
/// assert_eq!(conn.receive("*l").await.unwrap_err().name(), "not_connected");
///
/// conn.sni("localhost");
/// conn.settimeout(Some(5.0));
/// peer.settimeout(Some(5.0));
/// let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
/// c?;
/// s?;
/// assert!(conn.getstcp().is_some());
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn wrap(tcp: impl Into<Tcp>, config: &TlsConfig) -> SslSocket {
    SslSocket {
        state: RefCell::new(State::Plain(Some(tcp.into()))),
        config: config.clone(),
        sni: RefCell::new(None),
        core: Buffer::new(),
    }
}

enum State {
    /// Before the handshake (`None` while it runs, or after it failed).
    Plain(Option<Tcp>),
    /// After it.
    Tls(Rc<Stcp>),
}

/// LuaSec's connection object (from [`wrap`]): LuaSocket's TCP methods
/// over TLS, with Copas' and LuaSec's semantics (`receive` patterns,
/// `"closed"` for a peer close, `settimeout` per call).
///
/// Methods take `&self`: share it with `Rc` to read in one thread and
/// write in another. One `receive` at a time: a concurrent one gets
/// `"thread_busy"`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// # use sockloop::{clock, ssl, tcp, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// # let l = tcp()?;
/// # l.listen(("127.0.0.1", 0))?;
/// # let t = tcp()?;
/// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
/// # let a = l.accept(clock() + 5.0).await?;
/// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
/// # conn.sni("localhost");
/// # conn.settimeout(Some(5.0));
/// # peer.settimeout(Some(5.0));
/// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
/// # c?;
/// # s?;
/// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
/// use std::rc::Rc;
/// use sockloop::thread;
///
/// // One thread reads while another writes.
/// let conn = Rc::new(conn);
/// let reader = thread({
///     let conn = conn.clone();
///     async move { conn.receive("*l").await }
/// });
/// conn.send(b"ping\n").await?;
/// assert_eq!(peer.receive("*l").await?, b"ping");
/// peer.send(b"pong\n").await?;
/// assert_eq!(reader.join(clock() + 5.0).await??, b"pong");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub struct SslSocket {
    state: RefCell<State>,
    config: TlsConfig,
    sni: RefCell<Option<String>>,
    /// The read-ahead receive core (shared with the other LuaSocket-style
    /// objects): buffer, timeout, line limit.
    core: Buffer,
}

impl fmt::Debug for SslSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.state.borrow() {
            State::Plain(Some(_)) => "wrapped",
            State::Plain(None) => "handshaking or failed",
            State::Tls(_) => "tls",
        };
        f.debug_struct("SslSocket")
            .field("state", &state)
            .field("server", &self.config.is_server())
            .field("sni", &self.sni.borrow())
            .field("timeout", &self.core.gettimeout())
            .finish()
    }
}

fn not_yet() -> Error {
    Error::with_message(
        ErrorKind::NotConnected,
        "no TLS connection yet: call dohandshake first",
    )
}

impl SslSocket {
    /// `conn:sni(name)`: on a client, the server name to ask for (SNI)
    /// and to check the server's certificate against; needed before
    /// [`dohandshake`](SslSocket::dohandshake). No effect on a server.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// // The server reads the name the client asked for.
    /// assert_eq!(peer.getsniname().as_deref(), Some("localhost"));
    ///
    /// // A client with no name cannot check the server's certificate.
    /// let nameless = ssl::wrap(tcp()?, &client_cfg);
    /// assert_eq!(nameless.dohandshake().await.unwrap_err().name(), "invalid_argument");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn sni(&self, name: &str) {
        *self.sni.borrow_mut() = Some(name.to_owned());
    }

    /// `conn:settimeout(t)`: each later call (the handshake included) may
    /// wait at most `t` seconds, then fails with `"timeout"`; `None`, a
    /// negative or a NaN `t` waits without limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// conn.settimeout(Some(0.05));
    /// // The peer sends nothing.
    /// assert_eq!(conn.receive("*l").await.unwrap_err().name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn settimeout(&self, t: Option<f64>) {
        self.core.settimeout(t);
    }

    /// The longest line a `"*l"` receive accepts (see
    /// [`ASocket::set_line_limit`](crate::socketloop::ASocket::set_line_limit)).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// conn.set_line_limit(8);
    /// peer.send(b"a line longer than eight bytes\n").await?;
    /// assert_eq!(conn.receive("*l").await.unwrap_err().name(), "line_too_long");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_line_limit(&self, max: usize) {
        self.core.set_line_limit(max);
    }

    /// `conn:dohandshake()`: runs the TLS handshake, within the
    /// [`settimeout`](SslSocket::settimeout) time. A second call after a
    /// handshake that succeeded does nothing.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` on a client with no [`sni`](SslSocket::sni)
    /// name, the names of [`client_stcp`] and [`server_handshake`]
    /// (`"unknown_issuer"`, `"tls_handshake_failed"`, `"timeout"`, ...).
    /// A failed handshake closes the socket: later calls give `"closed"`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future closes the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// // A plain TCP server that never answers the TLS hello.
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let t = tcp()?;
    /// t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// let _a = l.accept(clock() + 5.0).await?;
    ///
    /// let conn = ssl::wrap(t, &client_cfg);
    /// conn.sni("localhost");
    /// conn.settimeout(Some(0.1));
    /// assert_eq!(conn.dohandshake().await.unwrap_err().name(), "timeout");
    /// // The failed handshake closed the socket.
    /// assert_eq!(conn.send(b"x").await.unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn dohandshake(&self) -> Result<()> {
        let tcp = match &mut *self.state.borrow_mut() {
            State::Tls(_) => return Ok(()),
            State::Plain(tcp) => {
                if !self.config.is_server() && self.sni.borrow().is_none() {
                    return Err(Error::with_message(
                        ErrorKind::InvalidArgument,
                        "a client needs sni(name) before dohandshake: the server's certificate is checked against that name",
                    ));
                }
                tcp.take().ok_or_else(Error::closed)?
            }
        };
        let expires = self.core.expires();
        let stcp = if self.config.is_server() {
            server_handshake(tcp, &self.config, expires).await?
        } else {
            let name = self.sni.borrow().clone().unwrap_or_default();
            client_stcp(tcp, &name, &self.config, expires).await?
        };
        *self.state.borrow_mut() = State::Tls(Rc::new(stcp));
        Ok(())
    }

    /// The TLS connection, once the handshake is done.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// // The Stcp under it, for its own calls (deadlines, AsyncRead/AsyncWrite).
    /// let stcp = conn.getstcp().unwrap();
    /// stcp.send(b"raw\n", clock() + 5.0).await?;
    /// assert_eq!(peer.receive("*l").await?, b"raw");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getstcp(&self) -> Option<Rc<Stcp>> {
        match &*self.state.borrow() {
            State::Tls(s) => Some(s.clone()),
            State::Plain(_) => None,
        }
    }

    fn stcp(&self) -> Result<Rc<Stcp>> {
        match &*self.state.borrow() {
            State::Tls(s) => Ok(s.clone()),
            State::Plain(Some(_)) => Err(not_yet()),
            State::Plain(None) => Err(Error::closed()),
        }
    }

    /// `conn:receive(pattern)`: LuaSocket's patterns over TLS — `"*l"`,
    /// `"*a"` or a byte count (see [`luasocket::receive`](crate::luasocket::receive)).
    ///
    /// # Errors
    ///
    /// `"closed"` when the peer's TLS stream ends before the pattern is
    /// satisfied (the bytes so far in [`Error::take_data`]), also after
    /// [`close`](SslSocket::close); `"tls_truncated"` when the peer closes
    /// the connection without `close_notify` (data so far in
    /// `take_data()`, also for `"*a"`); `"timeout"`; `"line_too_long"`;
    /// `"invalid_argument"` (bad pattern); `"not_connected"` before the
    /// handshake; `"thread_busy"` while another `receive` runs;
    /// `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: bytes consumed for an unfinished pattern are lost
    /// if the future is dropped (bytes read ahead past it are kept).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// peer.send(b"line\r\nrest").await?;
    /// peer.close()?;
    /// assert_eq!(conn.receive("*l").await?, b"line");
    /// assert_eq!(conn.receive(2).await?, b"re");
    /// assert_eq!(conn.receive("*a").await?, b"st");
    /// // Nothing more: the peer closed cleanly.
    /// assert_eq!(conn.receive(1).await.unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(&self, pattern: impl Into<Pattern>) -> Result<Vec<u8>> {
        self.core.receive(&*self.stcp()?, pattern, b"").await
    }

    /// `conn:receive(pattern, prefix)`: as [`receive`](SslSocket::receive)
    /// with `prefix` placed before the bytes (a byte count counts it), as
    /// [`ASocket::receive_prefixed`](crate::socketloop::ASocket::receive_prefixed)
    /// does over plain TCP: both are views of one read-ahead receive core.
    ///
    /// # Errors
    ///
    /// Those of [`receive`](SslSocket::receive); `take_data()` includes
    /// `prefix`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, for the reason [`receive`](SslSocket::receive) gives.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, ssl, tcp, thread, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let server_cfg = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
    /// let client_cfg = TlsConfig::client().ca_pem(&cert_pem).build()?;
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let t = tcp()?;
    /// t.connect(l.local_addr()?, clock() + 5.0).await?;
    /// let server = thread(async move {
    ///     let conn = ssl::wrap(l.accept(clock() + 5.0).await?, &server_cfg);
    ///     conn.dohandshake().await?;
    ///     conn.send(b"lo world").await
    /// });
    /// let conn = ssl::wrap(t, &client_cfg);
    /// conn.sni("localhost");
    /// conn.settimeout(Some(5.0));
    /// conn.dohandshake().await?;
    /// assert_eq!(conn.receive_prefixed(5, b"hel").await?, b"hello"); // the count includes the prefix
    /// assert_eq!(conn.receive(6).await?, b" world");
    /// # server.join(clock() + 5.0).await??;
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive_prefixed(
        &self,
        pattern: impl Into<Pattern>,
        prefix: &[u8],
    ) -> Result<Vec<u8>> {
        let stcp = self.stcp()?;
        self.core.receive(&stcp, pattern, prefix).await
    }

    /// `conn:send(data)`: sends all of `data`, returning its length
    /// (LuaSocket's index of the last byte sent).
    ///
    /// # Errors
    ///
    /// As [`Stcp::send`]; `partial()` is the index of the last byte
    /// committed (LuaSocket's third return value). `"not_connected"`
    /// before the handshake.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a prefix of `data` may have been sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// assert_eq!(conn.send(b"hello\n").await?, 6);
    /// assert_eq!(peer.receive("*l").await?, b"hello");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, data: &[u8]) -> Result<usize> {
        self.send_range(data, 1, -1).await
    }

    /// `conn:send(data, i, j)`: sends the bytes `i..=j` of `data`
    /// (LuaSocket's 1-based, inclusive, negative-from-the-end range; see
    /// [`ASocket::send_range`](crate::socketloop::ASocket::send_range)).
    ///
    /// # Errors
    ///
    /// As [`send`](SslSocket::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](SslSocket::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// assert_eq!(conn.send_range(b"<<hello>>", 3, -3).await?, 7); // "hello"
    /// assert_eq!(conn.send_range(b"\n!", 1, 1).await?, 1); // "\n"
    /// assert_eq!(peer.receive("*l").await?, b"hello");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_range(&self, data: &[u8], i: i64, j: i64) -> Result<usize> {
        let stcp = self.stcp()?;
        self.core.send_range(&stcp, data, i, j).await
    }

    /// `conn:close()`: sends `close_notify` if the kernel takes it at
    /// once and closes the socket; parked calls wake with `"closed"`.
    ///
    /// # Errors
    ///
    /// `"closed"` if it was already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// conn.close()?;
    /// // The peer sees a clean end (close_notify): "*a" gives what was sent.
    /// assert_eq!(peer.receive("*a").await?, b"");
    /// assert_eq!(conn.send(b"x").await.unwrap_err().name(), "closed");
    /// assert_eq!(conn.close().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> Result<()> {
        match &mut *self.state.borrow_mut() {
            State::Tls(s) => s.close(),
            State::Plain(tcp) => tcp.take().ok_or_else(Error::closed)?.close(),
        }
    }

    /// `conn:getalpn()`: the ALPN protocol the handshake chose.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let server_cfg = TlsConfig::server().cert_pem(&cert_pem, &key_pem).alpn(["h2"]).build()?;
    /// let client_cfg = TlsConfig::client().ca_pem(&cert_pem).alpn(["h2", "http/1.1"]).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` and `peer` are the two ends of a connection made with them.
    /// assert_eq!(conn.getalpn().as_deref(), Some(&b"h2"[..]));
    /// assert_eq!(peer.getalpn().as_deref(), Some(&b"h2"[..]));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getalpn(&self) -> Option<Vec<u8>> {
        self.getstcp()?.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// `conn:getpeercertificate()`: the peer's certificate (DER).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// assert_eq!(conn.getpeercertificate(), Some(ck.cert.der().clone()));
    /// assert_eq!(peer.getpeercertificate(), None); // the client presented none
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getpeercertificate(&self) -> Option<CertificateDer<'static>> {
        self.getstcp()?.peer_certificates().first().cloned()
    }

    /// `conn:getpeerchain()`: the peer's certificate chain, leaf first.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// // The server's chain is its one self-signed certificate.
    /// assert_eq!(conn.getpeerchain(), [ck.cert.der().clone()]);
    /// assert!(peer.getpeerchain().is_empty());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getpeerchain(&self) -> Vec<CertificateDer<'static>> {
        self.getstcp()
            .map(|s| s.peer_certificates().to_vec())
            .unwrap_or_default()
    }

    /// `conn:getsniname()`: on a server, the name the client asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// assert_eq!(peer.getsniname().as_deref(), Some("localhost"));
    /// assert_eq!(conn.getsniname(), None); // a client's own name is not reported
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getsniname(&self) -> Option<String> {
        let s = self.getstcp()?;
        if self.config.is_server() {
            s.server_name().map(str::to_owned)
        } else {
            None
        }
    }

    /// `conn:info()`: the TLS version and cipher suite
    /// (`("TLSv1.3", "TLS13_AES_256_GCM_SHA384")`), after the handshake.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// let (version, suite) = conn.info().unwrap();
    /// assert_eq!(version, "TLSv1.3");
    /// assert!(suite.starts_with("TLS13_"), "{suite}");
    /// assert_eq!(peer.info(), Some((version, suite)));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn info(&self) -> Option<(&'static str, &'static str)> {
        let s = self.getstcp()?;
        Some((s.tls_version()?, s.cipher_suite()?))
    }

    /// `conn:dirty()`: `true` when `receive` has bytes buffered, so a
    /// `select` would find it readable.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, ssl, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server_cfg = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client_cfg = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// # let (conn, peer) = (ssl::wrap(t, &client_cfg), ssl::wrap(a, &server_cfg));
    /// # conn.sni("localhost");
    /// # conn.settimeout(Some(5.0));
    /// # peer.settimeout(Some(5.0));
    /// # let (c, s) = tokio::join!(conn.dohandshake(), peer.dohandshake());
    /// # c?;
    /// # s?;
    /// // `conn` is a client's LuaSec connection, `peer` the server's end of it.
    /// peer.send(b"one\ntwo\n").await?;
    /// assert_eq!(conn.receive("*l").await?, b"one");
    /// assert!(conn.dirty()); // "two\n" is buffered
    /// assert_eq!(conn.receive("*l").await?, b"two");
    /// assert!(!conn.dirty());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dirty(&self) -> bool {
        self.core.buffered() > 0
    }
}
