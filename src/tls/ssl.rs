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
    pub fn sni(&self, name: &str) {
        *self.sni.borrow_mut() = Some(name.to_owned());
    }

    /// `conn:settimeout(t)`: each later call (the handshake included) may
    /// wait at most `t` seconds, then fails with `"timeout"`; `None`, a
    /// negative or a NaN `t` waits without limit.
    pub fn settimeout(&self, t: Option<f64>) {
        self.core.settimeout(t);
    }

    /// The longest line a `"*l"` receive accepts (see
    /// [`ASocket::set_line_limit`](crate::socketloop::ASocket::set_line_limit)).
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
    pub fn close(&self) -> Result<()> {
        match &mut *self.state.borrow_mut() {
            State::Tls(s) => s.close(),
            State::Plain(tcp) => tcp.take().ok_or_else(Error::closed)?.close(),
        }
    }

    /// `conn:getalpn()`: the ALPN protocol the handshake chose.
    pub fn getalpn(&self) -> Option<Vec<u8>> {
        self.getstcp()?.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// `conn:getpeercertificate()`: the peer's certificate (DER).
    pub fn getpeercertificate(&self) -> Option<CertificateDer<'static>> {
        self.getstcp()?.peer_certificates().first().cloned()
    }

    /// `conn:getpeerchain()`: the peer's certificate chain, leaf first.
    pub fn getpeerchain(&self) -> Vec<CertificateDer<'static>> {
        self.getstcp()
            .map(|s| s.peer_certificates().to_vec())
            .unwrap_or_default()
    }

    /// `conn:getsniname()`: on a server, the name the client asked for.
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
    pub fn info(&self) -> Option<(&'static str, &'static str)> {
        let s = self.getstcp()?;
        Some((s.tls_version()?, s.cipher_suite()?))
    }

    /// `conn:dirty()`: `true` when `receive` has bytes buffered, so a
    /// `select` would find it readable.
    pub fn dirty(&self) -> bool {
        self.core.buffered() > 0
    }
}
