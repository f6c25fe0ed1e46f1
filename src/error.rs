//! The crate's one error type: [`Error`] over [`ErrorKind`], with sock.lua's
//! normalized names, the `partial` count and the OS error number.
//!
//! Nothing outside this file knows errno numbers.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// `Result<T, sockloop::Error>`, what every fallible sockloop call returns.
///
/// # Examples
///
/// ```
/// fn port_of(s: &sockloop::Tcp) -> sockloop::Result<u16> {
///     Ok(s.local_addr()?.port())
/// }
/// let s = sockloop::tcp()?;
/// s.bind(("127.0.0.1", 0))?;
/// assert_ne!(port_of(&s)?, 0);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a matchable enum.
///
/// Each kind has the normalized Lua name that [`Error::name`] returns
/// (see [`ErrorKind::as_str`]). An OS error that has no normalized name is
/// [`ErrorKind::Os`], and its name is the OS message, as in sock.lua.
///
/// # Examples
///
/// ```
/// use sockloop::ErrorKind;
///
/// # sockloop::run(async {
/// let s = sockloop::tcp().unwrap();
/// s.bind(("127.0.0.1", 0)).unwrap();
/// let port = s.local_addr().unwrap().port();
/// drop(s); // nothing listens there now
/// let e = sockloop::tcp().unwrap().connect(("127.0.0.1", port), None).await.unwrap_err();
/// match e.kind() {
///     ErrorKind::ConnectionRefused => assert_eq!(e.name(), "connection_refused"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `"timeout"`: the `expires` deadline passed (or `ETIMEDOUT`).
    Timeout,
    /// `"eof"`: the peer closed before the call got all it asked for (`recvn`).
    Eof,
    /// `"closed"`: the socket was closed by this side, or (LuaSocket layer)
    /// the peer closed before the pattern was satisfied.
    Closed,
    /// `"connection_refused"` (`ECONNREFUSED`).
    ConnectionRefused,
    /// `"connection_reset"` (`ECONNRESET`).
    ConnectionReset,
    /// `"connection_aborted"` (`ECONNABORTED`).
    ConnectionAborted,
    /// `"address_already_in_use"` (`EADDRINUSE`).
    AddressInUse,
    /// `"access_denied"` (`EACCES`, `EPERM`).
    AccessDenied,
    /// `"broken_pipe"` (`EPIPE`).
    BrokenPipe,
    /// `"not_connected"` (`ENOTCONN`).
    NotConnected,
    /// `"already_connected"` (`EISCONN`).
    AlreadyConnected,
    /// `"host_unreachable"` (`EHOSTUNREACH`, `EHOSTDOWN`).
    HostUnreachable,
    /// `"network_unreachable"` (`ENETUNREACH`, `ENETDOWN`).
    NetworkUnreachable,
    /// `"address_not_available"` (`EADDRNOTAVAIL`).
    AddressNotAvailable,
    /// `"address_family_not_supported"` (`EAFNOSUPPORT`).
    AddressFamilyNotSupported,
    /// `"message_too_long"` (`EMSGSIZE`): a datagram larger than the socket allows.
    MessageTooLong,
    /// `"no_buffer_space"` (`ENOBUFS`, `ENOMEM`).
    NoBufferSpace,
    /// `"empty"`: [`poll`](crate::poll) was called with no thread waiting.
    Empty,
    /// `"cancelled"`: the thread was cancelled with [`Thread::cancel`](crate::Thread::cancel).
    Cancelled,
    /// `"thread_busy"`: resuming a thread that runs or waits on I/O or a timer.
    ThreadBusy,
    /// `"thread_dead"`: resuming a thread that has finished.
    ThreadDead,
    /// `"thread_panicked"`: the thread panicked; it is finished.
    ThreadPanicked,
    /// `"thread_failed"`: a thread's body returned `Err` and nobody took
    /// its result (see [`Thread::join`](crate::Thread::join)); the message
    /// names the thread and says what the error was.
    ThreadFailed,
    /// `"wrong_type"`: a [`Value`](crate::Value) was asked for as a type it
    /// is not; the message names both (`expected u64, got i32`).
    WrongType,
    /// `"not_in_thread"`: a call that needs a sockloop thread was made outside one.
    NotInThread,
    /// `"loop_busy"`: `start`/`run`/`poll` called while that loop is already
    /// running, or from inside a Tokio runtime.
    LoopBusy,
    /// `"no_local_set"`: inside a Tokio runtime, a sockloop thread or timer
    /// was started (or resumed, or cancelled) outside a
    /// `tokio::task::LocalSet`, where nothing could ever run it. Run the
    /// code inside `LocalSet::run_until`, or drive sockloop from
    /// synchronous code with [`run`](crate::run)/[`start`](crate::start).
    NoLocalSet,
    /// `"unknown_option"`: `setopt`/`getopt` with a name sockloop does not know.
    UnknownOption,
    /// `"read_only_option"`: `setopt` on an option that can only be read.
    ReadOnlyOption,
    /// `"invalid_option_value"`: a value of the wrong type or range for an option.
    InvalidOptionValue,
    /// `"invalid_address"`: an address that does not parse or does not fit the socket.
    InvalidAddress,
    /// `"invalid_argument"`: any other bad argument (the message says which).
    InvalidArgument,
    /// `"not_supported"`: the operation has no equivalent on this platform
    /// or runtime (the message says why).
    NotSupported,
    /// `"line_too_long"`: a LuaSocket-style `"*l"` receive (or a framing
    /// line such as an HTTP chunk-size line) exceeded its length limit.
    LineTooLong,
    /// `"invalid_data"`: the peer sent bytes that break the expected framing
    /// (e.g. a malformed HTTP chunk size); the message says what was wrong.
    InvalidData,
    /// `"destroyed"`: the Copas lock, semaphore or queue was destroyed
    /// (before or while the call waited).
    Destroyed,
    /// `"too_many"`: more resources than a Copas semaphore can hold were
    /// requested or given (Copas' `"too many"`, which
    /// [`Error::luasocket_str`] gives).
    TooMany,
    /// `"tls_handshake_failed"`: the TLS handshake failed for a reason
    /// other than the peer's certificate (no common protocol version,
    /// cipher suite or ALPN protocol, a peer that is not speaking TLS, an
    /// alert from a peer that rejected ours); the message has rustls'
    /// reason.
    TlsHandshakeFailed,
    /// `"certificate_invalid"`: the peer's certificate is malformed,
    /// revoked, not yet valid, badly signed or not for this purpose; the
    /// message has rustls' reason.
    CertificateInvalid,
    /// `"certificate_expired"`: the peer's certificate has expired.
    CertificateExpired,
    /// `"unknown_issuer"`: the peer's certificate does not chain to a
    /// trusted root.
    UnknownIssuer,
    /// `"name_mismatch"`: the peer's certificate is valid, but not for the
    /// server name asked for.
    NameMismatch,
    /// `"tls_truncated"`: the peer closed the TCP connection without a
    /// TLS `close_notify`, so the data may have been cut short by an
    /// attacker (a clean TLS close is `Ok(0)` / `"eof"`, as for TCP).
    TlsTruncated,
    /// `"tls_error"`: the TLS connection failed after the handshake (a
    /// record that does not decrypt, a fatal alert from the peer, ...);
    /// the message has rustls' reason.
    TlsError,
    /// `"invalid_tls_config"`: a TLS configuration that cannot work (no
    /// certificate in the PEM, a key that does not match, a file that
    /// cannot be read, a client config given to a server call, ...); the
    /// message says which part.
    InvalidTlsConfig,
    /// The resolver (getaddrinfo) failed; the name is the resolver's message.
    Lookup,
    /// An OS error with no normalized name; the name is the OS message.
    Os,
    /// Anything else; the name is the message.
    Other,
}

impl ErrorKind {
    /// The normalized name of this kind, or `None` for the kinds whose
    /// name is a message ([`Os`](ErrorKind::Os), [`Lookup`](ErrorKind::Lookup),
    /// [`Other`](ErrorKind::Other)).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::ErrorKind;
    /// assert_eq!(ErrorKind::Timeout.as_str(), Some("timeout"));
    /// assert_eq!(ErrorKind::Os.as_str(), None); // named by the OS message
    /// ```
    pub fn as_str(self) -> Option<&'static str> {
        use ErrorKind::*;
        Some(match self {
            Timeout => "timeout",
            Eof => "eof",
            Closed => "closed",
            ConnectionRefused => "connection_refused",
            ConnectionReset => "connection_reset",
            ConnectionAborted => "connection_aborted",
            AddressInUse => "address_already_in_use",
            AccessDenied => "access_denied",
            BrokenPipe => "broken_pipe",
            NotConnected => "not_connected",
            AlreadyConnected => "already_connected",
            HostUnreachable => "host_unreachable",
            NetworkUnreachable => "network_unreachable",
            AddressNotAvailable => "address_not_available",
            AddressFamilyNotSupported => "address_family_not_supported",
            MessageTooLong => "message_too_long",
            NoBufferSpace => "no_buffer_space",
            Empty => "empty",
            Cancelled => "cancelled",
            ThreadBusy => "thread_busy",
            ThreadDead => "thread_dead",
            ThreadPanicked => "thread_panicked",
            ThreadFailed => "thread_failed",
            WrongType => "wrong_type",
            NotInThread => "not_in_thread",
            LoopBusy => "loop_busy",
            NoLocalSet => "no_local_set",
            UnknownOption => "unknown_option",
            ReadOnlyOption => "read_only_option",
            InvalidOptionValue => "invalid_option_value",
            InvalidAddress => "invalid_address",
            InvalidArgument => "invalid_argument",
            NotSupported => "not_supported",
            LineTooLong => "line_too_long",
            InvalidData => "invalid_data",
            Destroyed => "destroyed",
            TooMany => "too_many",
            TlsHandshakeFailed => "tls_handshake_failed",
            CertificateInvalid => "certificate_invalid",
            CertificateExpired => "certificate_expired",
            UnknownIssuer => "unknown_issuer",
            NameMismatch => "name_mismatch",
            TlsTruncated => "tls_truncated",
            TlsError => "tls_error",
            InvalidTlsConfig => "invalid_tls_config",
            Lookup | Os | Other => return None,
        })
    }

    /// The `std::io::ErrorKind` this kind converts to.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::ErrorKind;
    /// assert_eq!(ErrorKind::Timeout.io_kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(ErrorKind::Cancelled.io_kind(), std::io::ErrorKind::Interrupted);
    /// ```
    pub fn io_kind(self) -> io::ErrorKind {
        use ErrorKind::*;
        match self {
            Timeout => io::ErrorKind::TimedOut,
            Eof => io::ErrorKind::UnexpectedEof,
            Closed => io::ErrorKind::NotConnected,
            ConnectionRefused => io::ErrorKind::ConnectionRefused,
            ConnectionReset => io::ErrorKind::ConnectionReset,
            ConnectionAborted => io::ErrorKind::ConnectionAborted,
            AddressInUse => io::ErrorKind::AddrInUse,
            AccessDenied => io::ErrorKind::PermissionDenied,
            BrokenPipe => io::ErrorKind::BrokenPipe,
            NotConnected => io::ErrorKind::NotConnected,
            AddressNotAvailable => io::ErrorKind::AddrNotAvailable,
            Cancelled => io::ErrorKind::Interrupted,
            NotSupported => io::ErrorKind::Unsupported,
            UnknownOption | ReadOnlyOption | InvalidOptionValue | InvalidAddress
            | InvalidArgument | InvalidTlsConfig => io::ErrorKind::InvalidInput,
            LineTooLong | InvalidData | WrongType | TlsHandshakeFailed | CertificateInvalid
            | CertificateExpired | UnknownIssuer | NameMismatch | TlsError => {
                io::ErrorKind::InvalidData
            }
            TlsTruncated => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        }
    }

    /// Maps a `std::io::ErrorKind` (for errors without an OS number).
    fn from_io_kind(kind: io::ErrorKind) -> ErrorKind {
        use io::ErrorKind as K;
        match kind {
            K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
            K::UnexpectedEof => ErrorKind::Eof,
            K::ConnectionRefused => ErrorKind::ConnectionRefused,
            K::ConnectionReset => ErrorKind::ConnectionReset,
            K::ConnectionAborted => ErrorKind::ConnectionAborted,
            K::AddrInUse => ErrorKind::AddressInUse,
            K::PermissionDenied => ErrorKind::AccessDenied,
            K::BrokenPipe => ErrorKind::BrokenPipe,
            K::NotConnected => ErrorKind::NotConnected,
            K::AddrNotAvailable => ErrorKind::AddressNotAvailable,
            K::Interrupted => ErrorKind::Cancelled,
            K::InvalidInput => ErrorKind::InvalidArgument,
            _ => ErrorKind::Other,
        }
    }
}

/// The errno -> kind table (Linux numbers). The one place that knows them.
#[cfg(target_os = "linux")]
fn kind_from_errno(errno: i32) -> Option<ErrorKind> {
    use ErrorKind::*;
    Some(match errno {
        1 | 13 => AccessDenied,          // EPERM, EACCES
        9 => Closed,                     // EBADF: the descriptor is gone
        12 | 105 => NoBufferSpace,       // ENOMEM, ENOBUFS
        32 => BrokenPipe,                // EPIPE
        90 => MessageTooLong,            // EMSGSIZE
        97 => AddressFamilyNotSupported, // EAFNOSUPPORT
        98 => AddressInUse,              // EADDRINUSE
        99 => AddressNotAvailable,       // EADDRNOTAVAIL
        100 | 101 => NetworkUnreachable, // ENETDOWN, ENETUNREACH
        102 | 104 => ConnectionReset,    // ENETRESET, ECONNRESET
        103 => ConnectionAborted,        // ECONNABORTED
        106 => AlreadyConnected,         // EISCONN
        107 | 108 => NotConnected,       // ENOTCONN, ESHUTDOWN
        110 => Timeout,                  // ETIMEDOUT
        111 => ConnectionRefused,        // ECONNREFUSED
        112 | 113 => HostUnreachable,    // EHOSTDOWN, EHOSTUNREACH
        22 => InvalidArgument,           // EINVAL
        _ => return None,
    })
}

#[cfg(not(target_os = "linux"))]
fn kind_from_errno(errno: i32) -> Option<ErrorKind> {
    match ErrorKind::from_io_kind(io::Error::from_raw_os_error(errno).kind()) {
        ErrorKind::Other => None,
        k => Some(k),
    }
}

/// The errno a kind made without one stands for, for its OS text
/// ([`Error::luasocket_str`]); the reverse of [`kind_from_errno`] for the
/// kinds LuaSocket reports with `strerror`.
#[cfg(target_os = "linux")]
fn errno_of(kind: ErrorKind) -> Option<i32> {
    use ErrorKind::*;
    Some(match kind {
        MessageTooLong => 90,
        AddressFamilyNotSupported => 97,
        AddressNotAvailable => 99,
        NetworkUnreachable => 101,
        NoBufferSpace => 105,
        NotConnected => 107,
        HostUnreachable => 113,
        _ => return None,
    })
}

#[cfg(not(target_os = "linux"))]
fn errno_of(_kind: ErrorKind) -> Option<i32> {
    None
}

/// `strerror(errno)`: the OS text without std's ` (os error N)`.
fn os_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A resolver message (glibc's `gai_strerror` text, as sock.lua reports
/// it) in LuaSocket's words (its `socket_gaistrerror`); other text as is.
fn gai_words(text: &str) -> &str {
    match text {
        "Name or service not known" => "host or service not provided, or not known",
        "Temporary failure in name resolution" => "temporary failure in name resolution",
        "Non-recoverable failure in name resolution" => {
            "non-recoverable failure in name resolution"
        }
        "Bad value for ai_flags" => "invalid value for ai_flags",
        "Memory allocation failure" => "memory allocation failure",
        "Servname not supported for ai_socktype" => "service not supported for socket type",
        other => other,
    }
}

/// A sockloop error: a kind with its normalized Lua name, an optional
/// message, the bytes moved before the failure and the OS error number.
///
/// The layout is one box, so `Result<usize>` stays two words.
///
/// # Examples
///
/// ```
/// use sockloop::{Error, ErrorKind};
///
/// let e = Error::from(std::io::Error::from_raw_os_error(111)); // ECONNREFUSED on Linux
/// # #[cfg(target_os = "linux")] {
/// assert_eq!(e.name(), "connection_refused");
/// assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
/// assert_eq!(e.os_error(), Some(111));
/// assert!(e.to_string().starts_with("connection_refused"));
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    /// For `Os`/`Lookup`/`Other` this is the name; otherwise detail for `Display`.
    message: Option<Cow<'static, str>>,
    partial: Option<usize>,
    data: Option<Vec<u8>>,
    os: Option<i32>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The upstream library's own word for this error, where the kind
    /// alone does not give it (Copas' `"not armed"`, `"stopping"`, ...):
    /// what [`Error::luasocket_str`] returns.
    word: Option<&'static str>,
}

impl Error {
    /// An error of `kind` with no message.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = sockloop::Error::new(sockloop::ErrorKind::Closed);
    /// assert_eq!(e.to_string(), "closed");
    /// ```
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: None,
                partial: None,
                data: None,
                os: None,
                source: None,
                word: None,
            }),
        }
    }

    /// An error of `kind` with a message saying what was wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Error, ErrorKind};
    /// let e = Error::with_message(ErrorKind::InvalidArgument, "count must be > 0");
    /// assert_eq!(e.name(), "invalid_argument");
    /// assert_eq!(e.to_string(), "invalid_argument: count must be > 0");
    /// ```
    pub fn with_message(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        let mut e = Error::new(kind);
        e.inner.message = Some(message.into());
        e
    }

    /// An error from an OS error number, normalized where sockloop knows the
    /// number (see the table in the crate's `PORTING.md`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// let e = sockloop::Error::from_os(104); // ECONNRESET
    /// assert_eq!(e.name(), "connection_reset");
    /// assert_eq!(e.os_error(), Some(104));
    /// # }
    /// ```
    pub fn from_os(errno: i32) -> Error {
        Error::from(io::Error::from_raw_os_error(errno))
    }

    /// `"timeout"`.
    #[allow(dead_code)] // the socket layer's
    pub(crate) fn timeout() -> Error {
        Error::new(ErrorKind::Timeout)
    }

    /// `"closed"`.
    #[allow(dead_code)] // the socket layer's
    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed)
    }

    /// `"cancelled"`.
    pub(crate) fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled)
    }

    /// `"invalid_argument"` for a receive into an empty buffer: sock.lua
    /// requires `maxlen > 0`, and a zero-length read would look like a
    /// peer close (TCP) or eat a datagram (UDP).
    pub(crate) fn empty_buffer(call: &str) -> Error {
        Error::with_message(
            ErrorKind::InvalidArgument,
            format!("{call} into an empty buffer (maxlen must be > 0); nothing was read"),
        )
    }

    /// The normalized Lua error string: `"timeout"`, `"eof"`, `"closed"`,
    /// `"connection_refused"`, ... For an OS error with no normalized name,
    /// the OS message (as sock.lua does); for a lookup failure, the
    /// resolver's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Error, ErrorKind};
    /// assert_eq!(Error::new(ErrorKind::Eof).name(), "eof");
    /// # #[cfg(target_os = "linux")]
    /// assert_eq!(Error::from_os(2).name(), "No such file or directory"); // no normalized name
    /// ```
    pub fn name(&self) -> &str {
        match self.inner.kind.as_str() {
            Some(name) => name,
            None => self.inner.message.as_deref().unwrap_or("error"),
        }
    }

    /// The kind, for `match`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Error, ErrorKind};
    /// let e = Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    /// assert_eq!(e.kind(), ErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The bytes transferred before the failure (sock.lua's third return
    /// value). `send`, `recvn` and `recvall` set it on every error, `Some(0)`
    /// when nothing moved.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let l = sockloop::tcp().unwrap();
    /// l.listen(("127.0.0.1", 0)).unwrap();
    /// let c = sockloop::tcp().unwrap();
    /// c.connect(l.local_addr().unwrap(), None).await.unwrap();
    /// let s = l.accept(None).await.unwrap();
    /// s.send(b"abc", None).await.unwrap();
    /// s.close().unwrap();
    /// let mut buf = [0u8; 10];
    /// let e = c.recvn(&mut buf, sockloop::clock() + 5.0).await.unwrap_err();
    /// assert_eq!(e.name(), "eof");
    /// assert_eq!(e.partial(), Some(3)); // "abc" arrived before the peer closed
    /// assert_eq!(&buf[..3], b"abc");
    /// # });
    /// ```
    pub fn partial(&self) -> Option<usize> {
        self.inner.partial
    }

    /// The OS error number, where the error came from the OS.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Error, ErrorKind};
    /// assert_eq!(Error::from_os(13).os_error(), Some(13));
    /// assert_eq!(Error::new(ErrorKind::Timeout).os_error(), None);
    /// ```
    pub fn os_error(&self) -> Option<i32> {
        self.inner.os
    }

    /// The message with detail, if any (for the message-named kinds it is
    /// the same as [`name`](Error::name)).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = sockloop::Value::new(1i32).get::<u8>().unwrap_err();
    /// assert_eq!(e.message(), Some("expected u8, got i32"));
    /// ```
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// Takes the bytes received before the failure, where the call promises
    /// them (`recvall`, the LuaSocket-style `receive`). A second call
    /// returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let l = sockloop::tcp().unwrap();
    /// l.listen(("127.0.0.1", 0)).unwrap();
    /// let c = sockloop::tcp().unwrap();
    /// c.connect(l.local_addr().unwrap(), None).await.unwrap();
    /// let s = l.accept(None).await.unwrap();
    /// s.send(b"partial", None).await.unwrap(); // then quiet, the connection open
    /// let mut e = c.recvall(sockloop::clock() + 0.05).await.unwrap_err();
    /// assert_eq!(e.name(), "timeout");
    /// assert_eq!(e.take_data().as_deref(), Some(&b"partial"[..])); // what came before the deadline
    /// assert_eq!(e.take_data(), None);
    /// # });
    /// ```
    pub fn take_data(&mut self) -> Option<Vec<u8>> {
        self.inner.data.take()
    }

    /// The bytes received before the failure, without taking them.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = sockloop::Error::new(sockloop::ErrorKind::Closed).with_data(b"par".to_vec());
    /// assert_eq!(e.data(), Some(&b"par"[..]));
    /// ```
    pub fn data(&self) -> Option<&[u8]> {
        self.inner.data.as_deref()
    }

    /// The upstream string for this error, for code that compares the
    /// strings of LuaSocket or Copas.
    ///
    /// LuaSocket's word, as LuaSocket 3.1 builds it: `"closed"` for a peer
    /// close, reset, abort or broken pipe; `"timeout"`; `"connection
    /// refused"`; `"address already in use"`; `"already connected"`;
    /// `"permission denied"` (`EACCES`); the resolver's failures in
    /// LuaSocket's words (`"host or service not provided, or not known"`,
    /// ...); for any other OS error the OS text (`strerror`, e.g.
    /// `"Network is unreachable"`), as LuaSocket gives it.
    ///
    /// Copas' exact string for every error of its primitives
    /// ([`copas`](crate::copas)): `"timeout"`, `"destroyed"`,
    /// `"too many"`, `"cannot release a lock not owned"`, `"stopping"`,
    /// `"not armed"`, `"already armed"` (their [`name`](Error::name) is
    /// sockloop's: `too_many`, `invalid_argument`, `destroyed`, ...).
    ///
    /// Otherwise [`name`](Error::name) with `_` turned into spaces.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{Error, ErrorKind};
    /// assert_eq!(Error::new(ErrorKind::ConnectionReset).luasocket_str(), "closed");
    /// assert_eq!(Error::new(ErrorKind::BrokenPipe).luasocket_str(), "closed");
    /// assert_eq!(Error::new(ErrorKind::ConnectionRefused).luasocket_str(), "connection refused");
    /// # #[cfg(target_os = "linux")]
    /// assert_eq!(Error::from_os(101).luasocket_str(), "Network is unreachable"); // ENETUNREACH
    /// assert_eq!(Error::new(ErrorKind::LineTooLong).luasocket_str(), "line too long");
    ///
    /// use sockloop::copas::{Timer, TimerOptions};
    /// let timer = Timer::new(TimerOptions::default(), |_: &Timer| ())?;
    /// timer.cancel()?;
    /// let e = timer.cancel().unwrap_err(); // Copas: nil, "not armed"
    /// assert_eq!((e.name(), e.luasocket_str().as_ref()), ("invalid_argument", "not armed"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn luasocket_str(&self) -> Cow<'_, str> {
        use ErrorKind::*;
        if let Some(word) = self.inner.word {
            return Cow::Borrowed(word);
        }
        Cow::Borrowed(match self.inner.kind {
            Closed | Eof | ConnectionReset | ConnectionAborted | BrokenPipe | TlsTruncated => {
                "closed"
            }
            Timeout => "timeout",
            ConnectionRefused => "connection refused",
            AddressInUse => "address already in use",
            AlreadyConnected => "already connected",
            // EPERM shares the kind; LuaSocket gives its OS text.
            AccessDenied if matches!(self.inner.os, None | Some(13)) => "permission denied",
            Lookup => return Cow::Borrowed(gai_words(self.name())),
            kind => {
                return match self.inner.os.or_else(|| errno_of(kind)) {
                    Some(errno) => Cow::Owned(os_text(errno)),
                    None => Cow::Owned(self.name().replace('_', " ")),
                }
            }
        })
    }

    /// Sets the `partial` count (builder style).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = sockloop::Error::new(sockloop::ErrorKind::Timeout).with_partial(5);
    /// assert_eq!(e.partial(), Some(5));
    /// assert_eq!(e.to_string(), "timeout (after 5 bytes)");
    /// ```
    pub fn with_partial(mut self, n: usize) -> Error {
        self.inner.partial = Some(n);
        self
    }

    /// Attaches the bytes received before the failure (builder style).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut e = sockloop::Error::new(sockloop::ErrorKind::Eof).with_data(vec![1, 2]);
    /// assert_eq!(e.take_data(), Some(vec![1, 2]));
    /// ```
    pub fn with_data(mut self, data: Vec<u8>) -> Error {
        self.inner.data = Some(data);
        self
    }

    /// Keeps `e` as the [`source`](std::error::Error::source) (builder
    /// style), e.g. the `rustls::Error` behind a TLS error name.
    #[allow(dead_code)] // used by the `tls` feature
    pub(crate) fn with_source(
        mut self,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.inner.source = Some(Box::new(e));
        self
    }

    /// Sets the upstream library's own string for this error, which
    /// [`luasocket_str`](Error::luasocket_str) returns (builder style):
    /// for errors whose kind covers several upstream strings.
    pub(crate) fn with_word(mut self, word: &'static str) -> Error {
        self.inner.word = Some(word);
        self
    }

    /// Adds detail to the message, keeping the kind (builder style). For
    /// the message-named kinds the name is kept and the detail appended.
    pub(crate) fn context(mut self, detail: impl fmt::Display) -> Error {
        let msg = match (&self.inner.message, self.inner.kind.as_str()) {
            (Some(m), None) => format!("{m} ({detail})"),
            (Some(m), Some(_)) => format!("{detail}: {m}"),
            (None, _) => detail.to_string(),
        };
        if self.inner.kind.as_str().is_none() {
            // Keep `name()` equal to the OS/resolver message: store the
            // detail in the source chain instead of the name.
            let source: Box<dyn std::error::Error + Send + Sync> = msg.into();
            self.inner.source = Some(source);
        } else {
            self.inner.message = Some(msg.into());
        }
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("name", &self.name())
            .field("kind", &self.inner.kind);
        if let Some(m) = &self.inner.message {
            d.field("message", m);
        }
        if let Some(p) = self.inner.partial {
            d.field("partial", &p);
        }
        if let Some(os) = self.inner.os {
            d.field("os_error", &os);
        }
        if let Some(data) = &self.inner.data {
            d.field("data_len", &data.len());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        f.write_str(name)?;
        if let Some(m) = &self.inner.message {
            if m != name {
                write!(f, ": {m}")?;
            }
        }
        if self.inner.kind.as_str().is_none() {
            if let Some(src) = &self.inner.source {
                write!(f, ": {src}")?;
            }
        }
        if let Some(p) = self.inner.partial {
            write!(f, " (after {p} bytes)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        // An io::Error that wraps a sockloop Error converts back losslessly.
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            return Error::new(ErrorKind::Other);
        }
        match e.raw_os_error() {
            Some(errno) => {
                let kind = kind_from_errno(errno);
                let mut err = match kind {
                    Some(k) => Error::new(k),
                    None => Error::with_message(ErrorKind::Os, os_message(errno)),
                };
                err.inner.os = Some(errno);
                err.inner.source = Some(Box::new(e));
                err
            }
            None => {
                let kind = ErrorKind::from_io_kind(e.kind());
                let mut err = if kind == ErrorKind::Other {
                    Error::with_message(ErrorKind::Other, e.to_string())
                } else {
                    Error::new(kind)
                };
                err.inner.source = Some(Box::new(e));
                err
            }
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind().io_kind(), e)
    }
}

/// The OS message for `errno` without the " (os error N)" suffix std adds.
fn os_message(errno: i32) -> String {
    let full = io::Error::from_raw_os_error(errno).to_string();
    match full.rfind(" (os error ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_word() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn unknown_errno_uses_os_message() {
        // ENOENT has no normalized name.
        let e = Error::from_os(2);
        assert_eq!(e.kind(), ErrorKind::Os);
        assert_eq!(e.name(), "No such file or directory");
        assert_eq!(e.os_error(), Some(2));
    }
}
