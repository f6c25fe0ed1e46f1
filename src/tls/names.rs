//! rustls' errors -> sockloop's TLS error names. The rustls reason is the
//! message, and the `rustls::Error` is kept as the source.

use std::io;

use rustls::{AlertDescription as Alert, CertificateError as Cert};

use crate::error::{Error, ErrorKind};

/// The name of a rustls failure. `handshaking`: the failure happened
/// before the handshake completed (everything is then
/// `"tls_handshake_failed"` unless the certificate is to blame).
pub(crate) fn from_rustls(e: rustls::Error, handshaking: bool) -> Error {
    use ErrorKind::*;
    let kind = match &e {
        rustls::Error::InvalidCertificate(c) => match c {
            Cert::Expired | Cert::ExpiredContext { .. } => CertificateExpired,
            Cert::UnknownIssuer => UnknownIssuer,
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => NameMismatch,
            _ => CertificateInvalid,
        },
        // In TLS 1.3 a client has finished its handshake before the server
        // has looked at the client's certificate: the server's verdict
        // comes as an alert on the client's first read.
        rustls::Error::AlertReceived(a) if handshaking || rejects_handshake(*a) => {
            TlsHandshakeFailed
        }
        rustls::Error::NoCertificatesPresented
        | rustls::Error::NoApplicationProtocol
        | rustls::Error::PeerIncompatible(_) => TlsHandshakeFailed,
        _ if handshaking => TlsHandshakeFailed,
        _ => TlsError,
    };
    let msg = match &e {
        rustls::Error::AlertReceived(a) => format!("the peer sent the TLS alert {a:?}"),
        e => e.to_string(),
    };
    Error::with_message(kind, msg).with_source(e)
}

/// Alerts by which a peer refuses the handshake (also when they arrive
/// after this side has finished it).
fn rejects_handshake(a: Alert) -> bool {
    matches!(
        a,
        Alert::HandshakeFailure
            | Alert::BadCertificate
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnknownCA
            | Alert::CertificateRequired
            | Alert::AccessDenied
            | Alert::InsufficientSecurity
            | Alert::ProtocolVersion
            | Alert::NoApplicationProtocol
            | Alert::UnrecognisedName
    )
}

/// An I/O error rustls made itself (not one from the socket): a full
/// buffer, a message too large. Named `"tls_error"`.
pub(crate) fn from_rustls_io(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => e,
        _ if e.raw_os_error().is_some() => e,
        _ => Error::with_message(ErrorKind::TlsError, e.to_string()).into(),
    }
}

/// `"tls_truncated"`.
pub(crate) fn truncated() -> Error {
    Error::with_message(
        ErrorKind::TlsTruncated,
        "the peer closed the connection without a TLS close_notify: the data may be cut short",
    )
}
