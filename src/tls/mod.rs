//! TLS sockets (feature `tls`): luapower's `sock_libtls` on rustls.
//!
//! A [`Stcp`] is the one [`Socket`] type over the [`Tls`] transport: a
//! [`Tcp`] with a rustls connection on top, driven by sockloop itself.
//! The stream calls are the stream core's, and every TLS record goes
//! through the same wait path as a `Tcp` call (try first, park, absolute
//! deadline read from the clock between syscalls, cancel, `"closed"` on
//! close, the inventory's counters), so each `Stcp` call behaves as its
//! `Tcp` twin. The rustls state is behind a lock held only within one
//! poll, so a reading thread and a writing thread can share one
//! `Rc<Stcp>` (full duplex), as with `Tcp`.

mod config;
mod names;
pub mod ssl;

use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::task::{ready, Context, Poll};

use parking_lot::{Mutex, MutexGuard};
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};
use rustls::{ClientConnection, Connection, ServerConnection};
use rustls_pki_types::{CertificateDer, ServerName};

use crate::error::{Error, ErrorKind, Result};
use crate::sock::{rx, Call, Op, Sock};
use crate::socket::{sealed, Kind, Socket, Transport};
use crate::{SockAddr, Tcp, Until};

pub use config::{ClientAuth, TlsConfig, TlsConfigBuilder};

/// A TLS connection over a [`Tcp`]: luapower's `cstcp` (from
/// [`client_stcp`], [`StcpServer::accept`] or [`server_handshake`]). It is
/// the [`Socket`] of the [`Tls`] kind: the stream calls and the calls every
/// socket has are [`Socket`]'s, written once for TCP and TLS; the TLS
/// layer is the transport under them, its records going through the same
/// wait path as a `Tcp` call's bytes.
///
/// Its calls are those of [`Tcp`], with the same rules: absolute
/// `expires` deadlines (a looping call ends within a few milliseconds of
/// its deadline however fast data arrives; an expired call still takes
/// what is already there), `partial()` on every error of `send`, `recvn`
/// and `recvall`, [`Error::take_data`] from `recvall`, `"cancelled"` when
/// the thread is cancelled while parked, `"closed"` after
/// [`close`](Stcp::close), which wakes every parked call. Methods take
/// `&self`: one `Rc<Stcp>` can be read by one thread and written by
/// another at once.
///
/// A clean end of the peer's data is its TLS `close_notify`: `recv` then
/// returns `Ok(0)` and `recvn` fails with `"eof"`, as a TCP FIN does for
/// `Tcp`. A TCP close without `close_notify` may be an attacker cutting
/// the stream short, and is reported as `"tls_truncated"`.
///
/// `Stcp` and `&Stcp` implement Tokio's `AsyncRead` and `AsyncWrite` (no
/// deadline; [`until`](Stcp::until) gives a view bounded by one), so
/// codecs and the LuaSocket layer's sinks and sources work over TLS.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, client_stcp, server_stcp, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
///
/// let server = TlsConfig::server().cert_pem(&cert_pem, &key_pem).build()?;
/// let client = TlsConfig::client().ca_pem(&cert_pem).build()?;
///
/// let listener = tcp()?;
/// listener.listen(("127.0.0.1", 0))?;
/// let addr = listener.local_addr()?;
/// let listener = server_stcp(listener, &server)?;
/// thread(async move {
///     let conn = listener.accept(clock() + 5.0).await.unwrap();
///     let mut buf = [0u8; 5];
///     conn.recvn(&mut buf, clock() + 5.0).await.unwrap();
///     conn.send(&buf, clock() + 5.0).await.unwrap();
/// });
///
/// let t = tcp()?;
/// t.connect(&addr, clock() + 5.0).await?;
/// let conn = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// conn.send(b"hello", clock() + 5.0).await?;
/// let mut buf = [0u8; 5];
/// conn.recvn(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(conn.tls_version(), Some("TLSv1.3"));
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub type Stcp = Socket<Tls>;

/// A [`Stcp`] whose `AsyncRead`/`AsyncWrite` calls share one deadline:
/// see [`Socket::until`].
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// # use sockloop::{clock, client_stcp, server_stcp, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// # let l = tcp()?;
/// # l.listen(("127.0.0.1", 0))?;
/// # let addr = l.local_addr()?;
/// # let l = server_stcp(l, &server)?;
/// # thread(async move {
/// #     let c = l.accept(clock() + 5.0).await.unwrap();
/// #     let mut buf = [0u8; 5];
/// #     c.recvn(&mut buf, clock() + 5.0).await.unwrap();
/// #     c.send(&buf, clock() + 5.0).await.unwrap();
/// # });
/// # let t = tcp()?;
/// # t.connect(&addr, clock() + 5.0).await?;
/// # let conn = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// use sockloop::StcpUntil;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// // `conn` is a TLS connection to an echo server.
/// let mut view: StcpUntil<'_> = conn.until(clock() + 5.0);
/// view.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// view.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub type StcpUntil<'a> = Until<'a, Tls>;

/// The kind of a [`Stcp`]: a TLS connection (rustls) over a [`Tcp`], the
/// transport under the stream calls.
///
/// # Examples
///
/// ```
/// use sockloop::kind::Tls;
/// use sockloop::Socket;
///
/// // A `Stcp` is a `Socket<Tls>`.
/// fn version(conn: &Socket<Tls>) -> Option<&'static str> {
///     conn.tls_version()
/// }
/// # let _ = version;
/// ```
pub struct Tls {
    tcp: Tcp,
    session: Mutex<Session>,
    info: Info,
}

/// The rustls connection and what this side has done to it.
struct Session {
    conn: Connection,
    /// [`Stcp::close`] ran: every call is `"closed"`.
    closed: bool,
    /// `close_notify` is queued: no more application data may be sent.
    write_shut: bool,
}

/// What the handshake settled, kept so that reading it takes no lock.
#[derive(Debug, Default)]
struct Info {
    alpn: Option<Vec<u8>>,
    version: Option<&'static str>,
    suite: Option<&'static str>,
    peer: Vec<CertificateDer<'static>>,
    server_name: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stcp")
            .field("tcp", &self.tcp)
            .field("version", &self.info.version)
            .field("suite", &self.info.suite)
            .field(
                "alpn",
                &self.info.alpn.as_deref().map(String::from_utf8_lossy),
            )
            .field("server_name", &self.info.server_name)
            .field("peer_certificates", &self.info.peer.len())
            .finish()
    }
}

// ===== the socket as rustls' transport =====

/// One non-blocking syscall per rustls read or write; remembers how much
/// was asked for and moved, so the wait path knows whether the socket is
/// likely drained (as `Tcp`'s own reads and writes tell it).
struct Wire<'a> {
    s: &'a socket2::Socket,
    asked: usize,
    moved: usize,
}

impl<'a> Wire<'a> {
    fn new(s: &'a socket2::Socket) -> Wire<'a> {
        Wire {
            s,
            asked: 0,
            moved: 0,
        }
    }

    /// `true` when the last syscall moved less than it was offered.
    fn short(&self) -> bool {
        self.moved > 0 && self.moved < self.asked
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked = buf.len();
        let (n, _) = rustix::net::recv(self.s, buf, RecvFlags::empty()).map_err(rx)?;
        self.moved = n;
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.asked = bufs.iter().map(|b| b.len()).sum();
        let n = rustix::net::sendmsg(
            self.s,
            bufs,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        )
        .map_err(rx)?;
        self.moved = n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One read of TLS bytes from the socket into `conn`: `(n, drained)`.
fn read_wire(conn: &mut Connection, s: &socket2::Socket) -> io::Result<(usize, bool)> {
    let mut w = Wire::new(s);
    match conn.read_tls(&mut w) {
        Ok(n) => Ok((n, w.short())),
        Err(e) => Err(names::from_rustls_io(e)),
    }
}

/// One write of queued TLS bytes from `conn` to the socket: `(n, short)`.
fn write_wire(conn: &mut Connection, s: &socket2::Socket) -> io::Result<(usize, bool)> {
    let mut w = Wire::new(s);
    match conn.write_tls(&mut w) {
        Ok(n) => Ok((n, w.short())),
        Err(e) => Err(names::from_rustls_io(e)),
    }
}

fn write_shut_error() -> Error {
    Error::with_message(
        ErrorKind::BrokenPipe,
        "the TLS write side is shut down (close_notify was sent)",
    )
}

// ===== the TLS transport =====

impl Tls {
    fn new(tcp: Tcp, conn: Connection) -> Tls {
        Tls {
            tcp,
            session: Mutex::new(Session {
                conn,
                closed: false,
                write_shut: false,
            }),
            info: Info::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock()
    }

    fn poll_handshake(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Poll::Ready(Err(Error::closed()));
            }
            ready!(self.poll_flush_call(cx, call, &mut st))?;
            if !st.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            let conn = &mut st.conn;
            let n = ready!(self
                .tcp
                .sock()
                .poll_call(cx, call, Op::Recv, &mut |s| read_wire(conn, s)))?;
            if n == 0 {
                return Poll::Ready(Err(Error::with_message(
                    ErrorKind::TlsHandshakeFailed,
                    "the peer closed the connection during the TLS handshake",
                )));
            }
            self.process(&mut st, true)?;
        }
    }

    /// Decrypts what `read_tls` brought in. New TLS bytes this made
    /// (an alert, a key update reply) go out now if the kernel takes them,
    /// else with the next write.
    fn process(&self, st: &mut Session, handshaking: bool) -> Result<()> {
        let queued = st.conn.wants_write();
        match st.conn.process_new_packets() {
            Ok(_) => {
                if !queued && st.conn.wants_write() {
                    self.flush_now(st);
                }
                Ok(())
            }
            Err(e) => {
                self.flush_now(st);
                Err(names::from_rustls(e, handshaking))
            }
        }
    }

    /// Writes queued TLS bytes while the kernel takes them at once, never
    /// waiting (a best effort: what is left goes with the next write).
    fn flush_now(&self, st: &mut Session) {
        let sock = self.tcp.sock();
        while st.conn.wants_write() {
            let conn = &mut st.conn;
            if !matches!(sock.try_io(Op::Send, |s| write_wire(conn, s)), Some(Ok(_))) {
                break;
            }
        }
    }

    /// Takes in (and decrypts) what the kernel has received, never
    /// waiting: at close, so that TLS messages the application never
    /// reads (TLS 1.3 session tickets) do not turn the FIN into a RST,
    /// which would make the peer drop data still in flight to it.
    /// Application data beyond rustls' plaintext buffer stays unread, and
    /// then the kernel sends a RST, as for `Tcp`.
    fn drain_now(&self, st: &mut Session) {
        let sock = self.tcp.sock();
        for _ in 0..64 {
            let conn = &mut st.conn;
            match sock.try_io(Op::Recv, |s| read_wire(conn, s)) {
                Some(Ok(n)) if n > 0 => {
                    if st.conn.process_new_packets().is_err() {
                        break;
                    }
                }
                _ => break,
            }
        }
    }

    /// Polls until every queued TLS byte is in the kernel.
    fn poll_flush_call(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        st: &mut Session,
    ) -> Poll<Result<()>> {
        while st.conn.wants_write() {
            let conn = &mut st.conn;
            ready!(self
                .tcp
                .sock()
                .poll_call(cx, call, Op::Send, &mut |s| write_wire(conn, s)))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `close_notify` (once) and polls until it is in the kernel.
    fn poll_close_notify(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>> {
        let mut st = self.lock();
        if st.closed {
            return Poll::Ready(Err(Error::closed()));
        }
        if !st.write_shut {
            st.conn.send_close_notify();
            st.write_shut = true;
        }
        self.poll_flush_call(cx, call, &mut st)
    }
}

impl sealed::Kind for Tls {
    #[inline]
    fn sock(&self) -> &Sock {
        self.tcp.sock()
    }

    fn close(&self) -> Result<()> {
        {
            let mut st = self.lock();
            if !st.closed {
                st.closed = true;
                self.drain_now(&mut st);
                if !st.write_shut && !st.conn.is_handshaking() {
                    st.conn.send_close_notify();
                    st.write_shut = true;
                }
                self.flush_now(&mut st);
            }
        }
        self.tcp.close()
    }

    fn closed(&self) -> bool {
        self.lock().closed || self.tcp.closed()
    }
}

impl Kind for Tls {}

impl sealed::Transport for Tls {
    /// A plaintext read: `Ok(0)` after the peer's `close_notify`.
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        call: &mut Call,
        dst: &mut [u8],
    ) -> Poll<Result<usize>> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Poll::Ready(Err(Error::closed()));
            }
            match st.conn.reader().read(dst) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(names::truncated()))
                }
                Err(e) => return Poll::Ready(Err(e.into())),
            }
            let conn = &mut st.conn;
            ready!(self
                .tcp
                .sock()
                .poll_call(cx, call, Op::Recv, &mut |s| read_wire(conn, s)))?;
            self.process(&mut st, false)?;
        }
    }

    /// Queued TLS bytes go out first, then as much of `src` as the TLS
    /// layer takes is encrypted and queued, and its count returned (a
    /// start is made on sending it).
    fn poll_write(&self, cx: &mut Context<'_>, call: &mut Call, src: &[u8]) -> Poll<Result<usize>> {
        let mut st = self.lock();
        if st.closed {
            return Poll::Ready(Err(Error::closed()));
        }
        ready!(self.poll_flush_call(cx, call, &mut st))?;
        if st.write_shut {
            return Poll::Ready(Err(write_shut_error()));
        }
        let n = st.conn.writer().write(src)?;
        if n == 0 {
            return Poll::Ready(Err(Error::with_message(
                ErrorKind::TlsError,
                "the TLS layer took no data",
            )));
        }
        self.flush_now(&mut st);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>> {
        let mut st = self.lock();
        if st.closed {
            return Poll::Ready(Err(Error::closed()));
        }
        self.poll_flush_call(cx, call, &mut st)
    }

    /// `close_notify`, then the TCP write side.
    fn poll_shutdown(&self, cx: &mut Context<'_>, call: &mut Call) -> Poll<Result<()>> {
        ready!(self.poll_close_notify(cx, call))?;
        Poll::Ready(self.tcp.shutdown(Shutdown::Write))
    }
}

impl Transport for Tls {}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = sealed::Kind::close(self);
    }
}

// ===== what a TLS connection adds =====

impl Socket<Tls> {
    fn new(tcp: Tcp, conn: Connection) -> Stcp {
        Socket {
            kind: Tls::new(tcp, conn),
        }
    }

    /// Runs the handshake as one sockloop call, then records what it
    /// settled.
    async fn handshake(mut self, expires: Option<f64>) -> Result<Stcp> {
        let mut call = Call::new(expires);
        poll_fn(|cx| self.kind.poll_handshake(cx, &mut call)).await?;
        let st = self.kind.lock();
        let c = &st.conn;
        let info = Info {
            alpn: c.alpn_protocol().map(<[u8]>::to_vec),
            version: c.protocol_version().map(|v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
                v => v.as_str().unwrap_or("unknown"),
            }),
            suite: c.negotiated_cipher_suite().and_then(|s| s.suite().as_str()),
            peer: c.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
            server_name: match c {
                Connection::Server(s) => s.server_name().map(str::to_owned),
                // The client's was set before the handshake.
                Connection::Client(_) => None,
            },
        };
        drop(st);
        let asked = self.kind.info.server_name.take();
        self.kind.info = Info {
            server_name: info.server_name.or(asked),
            ..info
        };
        Ok(self)
    }

    /// Shuts down reading, writing or both (`cstcp:shutdown('r'|'w'|'rw')`).
    /// Shutting down the write side first sends the TLS `close_notify`
    /// (after any bytes still queued), so the peer sees a clean end of
    /// stream, then shuts down the TCP write side; this waits for the
    /// kernel to take those bytes, bounded by `expires`. Shutting down
    /// the read side never waits.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"not_connected"`, `"connection_reset"`, `"closed"`,
    /// `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the `close_notify` stays queued and a later call
    /// sends it.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// use std::net::Shutdown;
    ///
    /// c.send(b"bye", clock() + 5.0).await?;
    /// c.shutdown(Shutdown::Write, clock() + 5.0).await?; // sends close_notify
    /// // The server reads to the clean end of the stream.
    /// assert_eq!(s.recvall(clock() + 5.0).await?, b"bye");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn shutdown(&self, how: Shutdown, expires: impl Into<Option<f64>>) -> Result<()> {
        if how != Shutdown::Read {
            let mut call = Call::new(expires.into());
            poll_fn(|cx| self.kind.poll_close_notify(cx, &mut call)).await?;
        } else if self.kind.lock().closed {
            return Err(Error::closed());
        }
        self.kind.tcp.shutdown(how)
    }

    /// The ALPN protocol the handshake settled on, if any (libtls'
    /// `tls_conn_alpn_selected`).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    /// let server = TlsConfig::server().cert_pem(&cert_pem, &key_pem).alpn(["h2"]).build()?;
    /// let client = TlsConfig::client().ca_pem(&cert_pem).alpn(["h2", "http/1.1"]).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let t = tcp()?;
    /// # t.connect(&l.local_addr()?, clock() + 5.0).await?;
    /// # let a = l.accept(clock() + 5.0).await?;
    /// let (c, s) = tokio::join!(
    ///     client_stcp(t, "localhost", &client, clock() + 5.0),
    ///     server_handshake(a, &server, clock() + 5.0),
    /// );
    /// let (c, s) = (c?, s?);
    /// assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
    /// assert_eq!(s.alpn_protocol(), Some(&b"h2"[..]));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "tls_conn_alpn_selected")]
    #[doc(alias = "getalpn")]
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.kind.info.alpn.as_deref()
    }

    /// The TLS version: `"TLSv1.3"` or `"TLSv1.2"` (libtls'
    /// `tls_conn_version`).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// assert_eq!(c.tls_version(), Some("TLSv1.3"));
    /// assert_eq!(s.tls_version(), c.tls_version());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "tls_conn_version")]
    pub fn tls_version(&self) -> Option<&'static str> {
        self.kind.info.version
    }

    /// The cipher suite, as IANA names it (`"TLS13_AES_256_GCM_SHA384"`;
    /// libtls' `tls_conn_cipher`).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// let suite = c.cipher_suite().unwrap();
    /// assert!(suite.starts_with("TLS13_"), "{suite}");
    /// assert_eq!(s.cipher_suite(), Some(suite));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "tls_conn_cipher")]
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.kind.info.suite
    }

    /// The peer's certificate chain, leaf first, as DER (empty when the
    /// peer presented none, e.g. a client without a certificate).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// // The client sees the server's self-signed certificate; the server
    /// // asked the client for none.
    /// assert_eq!(c.peer_certificates(), [ck.cert.der().clone()]);
    /// assert!(s.peer_certificates().is_empty());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "getpeercertificate")]
    #[doc(alias = "getpeerchain")]
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.kind.info.peer
    }

    /// The server name: on a client, the one it asked for; on a server,
    /// the one the client sent (SNI), if any (libtls' `tls_conn_servername`).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// // Both ends know the name the client asked for ("localhost").
    /// assert_eq!(c.server_name(), Some("localhost"));
    /// assert_eq!(s.server_name(), Some("localhost"));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "tls_conn_servername")]
    #[doc(alias = "getsniname")]
    pub fn server_name(&self) -> Option<&str> {
        self.kind.info.server_name.as_deref()
    }

    /// The TCP socket under the TLS connection, for its options
    /// (`setopt`/`getopt`). Reading or writing it directly corrupts the
    /// TLS stream; closing it closes the connection without
    /// `close_notify`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// # use sockloop::{clock, client_stcp, server_handshake, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
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
    /// // `c` is a client's TLS connection, `s` the server's end of it.
    /// c.get_ref().setopt("tcp_nodelay", true)?;
    /// assert_eq!(c.get_ref().getopt("tcp_nodelay")?.as_bool(), Some(true));
    /// assert_eq!(c.get_ref().local_addr()?, s.get_ref().remote_addr()?);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &Tcp {
        &self.kind.tcp
    }
}

// ===== making connections =====

/// Makes `tcp`, a connected socket, the client side of a TLS connection
/// to `servername` and runs the handshake, bounded by `expires`
/// (`stls.client_stcp(tcp, servername, opt)`, which upstream leaves to the
/// first I/O call). `servername` is checked against the server's
/// certificate (a DNS name or an IP address) and sent as SNI unless it is
/// an IP address or [`sni(false)`](TlsConfigBuilder::sni) was set.
///
/// # Errors
///
/// `"invalid_tls_config"` (a server config), `"invalid_argument"` (a
/// `servername` that is neither a DNS name nor an IP address),
/// `"certificate_expired"`, `"unknown_issuer"`, `"name_mismatch"`,
/// `"certificate_invalid"`, `"tls_handshake_failed"` (each with rustls'
/// reason in the message), `"timeout"`, `"connection_reset"`,
/// `"closed"`, `"cancelled"`. On any error `tcp` is closed.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future closes `tcp` mid-handshake.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, client_stcp, server_handshake, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// // A server whose certificate is for "localhost", taking two connections.
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let addr = l.local_addr()?;
/// thread(async move {
///     for _ in 0..2 {
///         let Ok(a) = l.accept(clock() + 5.0).await else { return };
///         if let Ok(s) = server_handshake(a, &server, clock() + 5.0).await {
///             let _ = s.send(b"hi", clock() + 5.0).await;
///         }
///     }
/// });
///
/// let t = tcp()?;
/// t.connect(&addr, clock() + 5.0).await?;
/// let c = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// let mut buf = [0u8; 2];
/// c.recvn(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf, b"hi");
///
/// // The same server, asked for under another name.
/// let t = tcp()?;
/// t.connect(&addr, clock() + 5.0).await?;
/// let err = client_stcp(t, "example.com", &client, clock() + 5.0).await.unwrap_err();
/// assert_eq!(err.name(), "name_mismatch");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "tls_connect")]
pub async fn client_stcp(
    tcp: Tcp,
    servername: &str,
    config: &TlsConfig,
    expires: impl Into<Option<f64>>,
) -> Result<Stcp> {
    let expires = expires.into();
    let cfg = config.client_side("client_stcp")?;
    let name = ServerName::try_from(servername.to_owned()).map_err(|e| {
        Error::with_message(
            ErrorKind::InvalidArgument,
            format!("invalid TLS server name {servername:?}: {e}"),
        )
    })?;
    let conn = ClientConnection::new(cfg, name).map_err(|e| names::from_rustls(e, true))?;
    let mut s = Stcp::new(tcp, Connection::Client(conn));
    s.kind.info.server_name = Some(servername.to_owned());
    s.handshake(expires).await
}

/// Makes `tcp`, an accepted connection, the server side of a TLS
/// connection and runs the handshake, bounded by `expires` (LuaSec's
/// `ssl.wrap` + `dohandshake` on a server; libtls' `tls_accept_socket`).
/// [`StcpServer::accept`] is this after `accept`; call it yourself to run
/// each handshake in the connection's own thread, so a slow client does
/// not hold up the accepting one.
///
/// # Errors
///
/// `"invalid_tls_config"` (a client config), the certificate names
/// (client certificates, see [`ClientAuth`]), `"tls_handshake_failed"`,
/// `"timeout"`, `"connection_reset"`, `"closed"`, `"cancelled"`. On any
/// error `tcp` is closed.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future closes `tcp` mid-handshake.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, client_stcp, server_handshake, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let addr = l.local_addr()?;
/// thread(async move {
///     // (A server would loop here.)
///     let c = l.accept(clock() + 5.0).await.unwrap();
///     thread(async move {
///         // The handshake runs in the connection's own thread.
///         let Ok(c) = server_handshake(c, &server, clock() + 5.0).await else { return };
///         let _ = c.send(b"hi", clock() + 5.0).await;
///         let _ = c.shutdown(std::net::Shutdown::Write, clock() + 5.0).await;
///     });
/// });
/// let t = tcp()?;
/// t.connect(&addr, clock() + 5.0).await?;
/// let c = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// assert_eq!(c.recvall(clock() + 5.0).await?, b"hi");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "tls_accept_socket")]
#[doc(alias = "dohandshake")]
pub async fn server_handshake(
    tcp: Tcp,
    config: &TlsConfig,
    expires: impl Into<Option<f64>>,
) -> Result<Stcp> {
    let expires = expires.into();
    let cfg = config.server_side("server_handshake")?;
    let conn = ServerConnection::new(cfg).map_err(|e| names::from_rustls(e, true))?;
    Stcp::new(tcp, Connection::Server(conn))
        .handshake(expires)
        .await
}

/// Makes `tcp`, a listening socket, a TLS server
/// (`stls.server_stcp(tcp, opt)`): its [`accept`](StcpServer::accept)
/// gives TLS connections.
///
/// # Errors
///
/// `"invalid_tls_config"` for a client config, `"closed"`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::{clock, client_stcp, server_stcp, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let addr = l.local_addr()?;
/// let listener = server_stcp(l, &server)?;
/// thread(async move {
///     let s = listener.accept(clock() + 5.0).await.unwrap();
///     s.send(b"hi", clock() + 5.0).await.unwrap();
/// });
/// # let t = tcp()?;
/// # t.connect(&addr, clock() + 5.0).await?;
/// # let c = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// # let mut buf = [0u8; 2];
/// # c.recvn(&mut buf, clock() + 5.0).await?;
/// # assert_eq!(&buf, b"hi");
///
/// // A client config is a named error.
/// let err = server_stcp(tcp()?, &client).unwrap_err();
/// assert_eq!(err.name(), "invalid_tls_config");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn server_stcp(tcp: Tcp, config: &TlsConfig) -> Result<StcpServer> {
    config.server_side("server_stcp")?;
    if tcp.closed() {
        return Err(Error::closed());
    }
    Ok(StcpServer {
        tcp,
        config: config.clone(),
    })
}

/// A listening TLS socket: luapower's `sstcp` (from [`server_stcp`]).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use std::rc::Rc;
/// use sockloop::{clock, client_stcp, server_stcp, tcp, thread, TlsConfig};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
/// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
/// let l = tcp()?;
/// l.listen(("127.0.0.1", 0))?;
/// let listener = Rc::new(server_stcp(l, &server)?);
/// let addr = listener.local_addr()?;
///
/// // An accept loop: it goes on after a TLS error and ends on "closed".
/// let server_loop = thread({
///     let listener = listener.clone();
///     async move {
///         loop {
///             match listener.accept(clock() + 5.0).await {
///                 Ok(s) => {
///                     let _ = s.send(b"hi", clock() + 5.0).await;
///                 }
///                 Err(e) if e.name() == "closed" => return Ok(()),
///                 Err(e) if e.name() == "timeout" => return Err(e),
///                 Err(_) => {} // one client's failed handshake
///             }
///         }
///     }
/// });
///
/// let t = tcp()?;
/// t.connect(&addr, clock() + 5.0).await?;
/// let c = client_stcp(t, "localhost", &client, clock() + 5.0).await?;
/// let mut buf = [0u8; 2];
/// c.recvn(&mut buf, clock() + 5.0).await?;
/// assert_eq!(&buf, b"hi");
///
/// listener.close()?;
/// server_loop.join(clock() + 5.0).await??;
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct StcpServer {
    tcp: Tcp,
    config: TlsConfig,
}

impl StcpServer {
    /// Accepts a connection and runs the server side of its handshake,
    /// both within `expires` (`sstcp:accept()`). A client that stalls
    /// its handshake holds this call up to `expires`; to serve others
    /// meanwhile, accept on [`get_ref`](StcpServer::get_ref) and run
    /// [`server_handshake`] in the connection's own thread.
    ///
    /// # Errors
    ///
    /// As [`Tcp::accept`] and [`server_handshake`]. A failed handshake
    /// closes that connection and the server keeps listening: an accept
    /// loop should go on after a TLS error (one client with a bad
    /// certificate or a port scanner must not stop the server) and end on
    /// `"closed"`, as `examples/tls_echo.rs` does.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe once a connection is taken: dropping the future
    /// mid-handshake closes it.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_stcp, tcp, thread, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let listener = server_stcp(l, &server)?;
    /// # let addr = listener.local_addr()?;
    /// // `listener` is a TLS server; a plain TCP client sends no TLS hello.
    /// let t = tcp()?;
    /// t.connect(&addr, clock() + 5.0).await?;
    /// t.send(b"GET / HTTP/1.0\r\n\r\n", clock() + 5.0).await?;
    /// let err = listener.accept(clock() + 5.0).await.unwrap_err();
    /// assert_eq!(err.name(), "tls_handshake_failed");
    ///
    /// // The listener keeps listening: the next client is served.
    /// let client_side = thread(async move {
    ///     let t = tcp()?;
    ///     t.connect(&addr, clock() + 5.0).await?;
    ///     client_stcp(t, "localhost", &client, clock() + 5.0).await
    /// });
    /// let s = listener.accept(clock() + 5.0).await?;
    /// assert_eq!(s.server_name(), Some("localhost"));
    /// let _c = client_side.join(clock() + 5.0).await??;
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self, expires: impl Into<Option<f64>>) -> Result<Stcp> {
        let expires = expires.into();
        let c = self.tcp.accept(expires).await?;
        server_handshake(c, &self.config, expires).await
    }

    /// Closes the listening socket (`sstcp:close()`); parked `accept`s
    /// wake with `"closed"`.
    ///
    /// # Errors
    ///
    /// `"closed"` if it was already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::rc::Rc;
    /// use sockloop::{clock, server_stcp, tcp, thread, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let listener = Rc::new(server_stcp(l, &server)?);
    /// let parked = thread({
    ///     let listener = listener.clone();
    ///     async move { listener.accept(clock() + 5.0).await.map(|_| ()) }
    /// });
    /// sockloop::sleep(0.01).await; // let it park
    /// listener.close()?;
    /// assert_eq!(parked.join(clock() + 5.0).await?.unwrap_err().name(), "closed");
    /// assert_eq!(listener.close().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> Result<()> {
        self.tcp.close()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// An OS error, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use sockloop::{server_stcp, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let listener = server_stcp(l, &server)?;
    /// let addr = listener.local_addr()?;
    /// assert_eq!(addr, listener.get_ref().local_addr()?);
    /// println!("listening on {addr}");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn local_addr(&self) -> Result<SockAddr> {
        self.tcp.local_addr()
    }

    /// The listening socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, client_stcp, server_handshake, server_stcp, tcp, thread, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// # let client = TlsConfig::client().ca_pem(ck.cert.pem()).build()?;
    /// # let l = tcp()?;
    /// # l.listen(("127.0.0.1", 0))?;
    /// # let listener = server_stcp(l, &server)?;
    /// # let addr = listener.local_addr()?;
    /// # let client_side = thread(async move {
    /// #     let t = tcp()?;
    /// #     t.connect(&addr, clock() + 5.0).await?;
    /// #     client_stcp(t, "localhost", &client, clock() + 5.0).await
    /// # });
    /// // Accept the TCP connection here, and run its handshake in its own
    /// // thread so that a slow client does not hold up the accepting one.
    /// let a = listener.get_ref().accept(clock() + 5.0).await?;
    /// let config = listener.config().clone();
    /// let conn = thread(async move { server_handshake(a, &config, clock() + 5.0).await });
    /// let s = conn.join(clock() + 5.0).await??;
    /// assert_eq!(s.server_name(), Some("localhost"));
    /// # let _c = client_side.join(clock() + 5.0).await??;
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &Tcp {
        &self.tcp
    }

    /// The configuration its connections use.
    ///
    /// # Examples
    ///
    /// ```
    /// # use sockloop::{server_stcp, tcp, TlsConfig};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let server = TlsConfig::server().cert_pem(ck.cert.pem(), ck.key_pair.serialize_pem()).build()?;
    /// let l = tcp()?;
    /// l.listen(("127.0.0.1", 0))?;
    /// let listener = server_stcp(l, &server)?;
    /// assert!(listener.config().is_server());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn config(&self) -> &TlsConfig {
        &self.config
    }
}
