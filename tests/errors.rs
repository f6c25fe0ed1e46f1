//! The error model: names, kinds, partial counts, io conversions, and the
//! named errors of scheduler misuse.

mod support;

use std::io;

use sockloop::{Error, ErrorKind};
use support::bounded;

#[test]
fn errno_table_names() {
    // Linux errno numbers.
    let table = [
        (13, "access_denied", ErrorKind::AccessDenied),
        (1, "access_denied", ErrorKind::AccessDenied),
        (98, "address_already_in_use", ErrorKind::AddressInUse),
        (103, "connection_aborted", ErrorKind::ConnectionAborted),
        (104, "connection_reset", ErrorKind::ConnectionReset),
        (111, "connection_refused", ErrorKind::ConnectionRefused),
        (32, "broken_pipe", ErrorKind::BrokenPipe),
        (107, "not_connected", ErrorKind::NotConnected),
        (113, "host_unreachable", ErrorKind::HostUnreachable),
        (101, "network_unreachable", ErrorKind::NetworkUnreachable),
        (99, "address_not_available", ErrorKind::AddressNotAvailable),
        (110, "timeout", ErrorKind::Timeout),
        (90, "message_too_long", ErrorKind::MessageTooLong),
        (106, "already_connected", ErrorKind::AlreadyConnected),
    ];
    for (errno, name, kind) in table {
        let e = Error::from(io::Error::from_raw_os_error(errno));
        assert_eq!(e.name(), name, "errno {errno}");
        assert_eq!(e.kind(), kind, "errno {errno}");
        assert_eq!(e.os_error(), Some(errno));
        assert!(e.to_string().starts_with(name), "{e}");
    }
}

#[test]
fn unnormalized_os_error_is_named_by_its_message() {
    let e = Error::from_os(2); // ENOENT
    assert_eq!(e.kind(), ErrorKind::Os);
    assert_eq!(e.name(), "No such file or directory");
    assert!(e.to_string().starts_with("No such file or directory"));
}

#[test]
fn every_kind_has_a_distinct_name() {
    use ErrorKind::*;
    let kinds = [
        Timeout,
        Eof,
        Closed,
        ConnectionRefused,
        ConnectionReset,
        ConnectionAborted,
        AddressInUse,
        AccessDenied,
        BrokenPipe,
        NotConnected,
        AlreadyConnected,
        HostUnreachable,
        NetworkUnreachable,
        AddressNotAvailable,
        AddressFamilyNotSupported,
        MessageTooLong,
        NoBufferSpace,
        Empty,
        Cancelled,
        ThreadBusy,
        ThreadDead,
        ThreadPanicked,
        ThreadFailed,
        WrongType,
        NotInThread,
        LoopBusy,
        NoLocalSet,
        UnknownOption,
        ReadOnlyOption,
        InvalidOptionValue,
        InvalidAddress,
        InvalidArgument,
        NotSupported,
        LineTooLong,
        InvalidData,
        TlsHandshakeFailed,
        CertificateInvalid,
        CertificateExpired,
        UnknownIssuer,
        NameMismatch,
        TlsTruncated,
        TlsError,
        InvalidTlsConfig,
    ];
    let mut names: Vec<&str> = kinds.iter().map(|k| k.as_str().unwrap()).collect();
    for (k, n) in kinds.iter().zip(&names) {
        assert_eq!(Error::new(*k).name(), *n);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), kinds.len());
    assert_eq!(ErrorKind::Timeout.as_str(), Some("timeout"));
    assert_eq!(ErrorKind::ThreadFailed.as_str(), Some("thread_failed"));
    assert_eq!(ErrorKind::WrongType.as_str(), Some("wrong_type"));
    assert_eq!(ErrorKind::Os.as_str(), None);
}

#[test]
fn tls_names_and_io_kinds() {
    // The TLS names (issue 11) are part of the contract, feature or not.
    let table = [
        (
            ErrorKind::TlsHandshakeFailed,
            "tls_handshake_failed",
            io::ErrorKind::InvalidData,
        ),
        (
            ErrorKind::CertificateInvalid,
            "certificate_invalid",
            io::ErrorKind::InvalidData,
        ),
        (
            ErrorKind::CertificateExpired,
            "certificate_expired",
            io::ErrorKind::InvalidData,
        ),
        (
            ErrorKind::UnknownIssuer,
            "unknown_issuer",
            io::ErrorKind::InvalidData,
        ),
        (
            ErrorKind::NameMismatch,
            "name_mismatch",
            io::ErrorKind::InvalidData,
        ),
        (
            ErrorKind::TlsTruncated,
            "tls_truncated",
            io::ErrorKind::UnexpectedEof,
        ),
        (ErrorKind::TlsError, "tls_error", io::ErrorKind::InvalidData),
        (
            ErrorKind::InvalidTlsConfig,
            "invalid_tls_config",
            io::ErrorKind::InvalidInput,
        ),
    ];
    for (kind, name, io_kind) in table {
        assert_eq!(kind.as_str(), Some(name));
        let e = Error::with_message(kind, "rustls says why");
        assert_eq!(e.name(), name);
        assert_eq!(e.to_string(), format!("{name}: rustls says why"));
        let io_err: io::Error = e.into();
        assert_eq!(io_err.kind(), io_kind, "{name}");
        // Back through io::Error without loss (AsyncRead users see this).
        assert_eq!(Error::from(io_err).kind(), kind);
    }
    // A truncated TLS stream is a peer close in LuaSocket's words.
    assert_eq!(
        Error::new(ErrorKind::TlsTruncated).luasocket_str(),
        "closed"
    );
    assert_eq!(
        Error::new(ErrorKind::UnknownIssuer).luasocket_str(),
        "unknown issuer"
    );
}

#[test]
fn partial_and_data() {
    let mut e = Error::new(ErrorKind::Eof)
        .with_partial(5)
        .with_data(b"hello".to_vec());
    assert_eq!(e.partial(), Some(5));
    assert_eq!(e.data(), Some(&b"hello"[..]));
    assert_eq!(e.take_data().as_deref(), Some(&b"hello"[..]));
    assert_eq!(e.take_data(), None);
    assert!(e.to_string().starts_with("eof"));
    assert!(e.to_string().contains("5 bytes"));
}

#[test]
fn io_error_round_trip() {
    let e = Error::new(ErrorKind::Timeout).with_partial(3);
    let io_err: io::Error = e.into();
    assert_eq!(io_err.kind(), io::ErrorKind::TimedOut);
    let back = Error::from(io_err);
    assert_eq!(back.name(), "timeout");
    assert_eq!(back.partial(), Some(3), "lossless round trip");

    let e: io::Error = Error::new(ErrorKind::ConnectionRefused).into();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let e: io::Error = Error::new(ErrorKind::UnknownOption).into();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);

    // io errors without an OS number map by kind.
    let e = Error::from(io::Error::new(io::ErrorKind::UnexpectedEof, "short"));
    assert_eq!(e.name(), "eof");
    let e = Error::from(io::Error::other("weird"));
    assert_eq!(e.kind(), ErrorKind::Other);
    assert_eq!(e.name(), "weird");
}

#[test]
fn luasocket_words() {
    assert_eq!(
        Error::new(ErrorKind::ConnectionReset).luasocket_str(),
        "closed"
    );
    assert_eq!(
        Error::new(ErrorKind::ConnectionRefused).luasocket_str(),
        "connection refused"
    );
    assert_eq!(
        Error::new(ErrorKind::AddressInUse).luasocket_str(),
        "address already in use"
    );
    assert_eq!(
        Error::new(ErrorKind::AccessDenied).luasocket_str(),
        "permission denied"
    );
    assert_eq!(Error::new(ErrorKind::Timeout).luasocket_str(), "timeout");
}

#[test]
fn error_is_send_sync_and_std_error() {
    fn check<T: std::error::Error + Send + Sync + 'static>() {}
    check::<Error>();
    let e = Error::from_os(111);
    let src = std::error::Error::source(&e).expect("the OS error is the source");
    assert!(src.to_string().contains("refused"));
}

// ===== scheduler misuse =====

#[test]
fn resume_misuse_is_named() {
    bounded(10, || {
        // Resuming a thread that waits on a timer.
        let sleeper = sockloop::thread(async { sockloop::sleep(0.01).await });
        let e = sockloop::resume(&sleeper, ()).unwrap_err();
        assert_eq!(e.name(), "thread_busy");
        assert_eq!(e.kind(), ErrorKind::ThreadBusy);

        // Resuming the running thread (itself).
        let t = sockloop::thread(async {
            let me = sockloop::currentthread().unwrap();
            let e = sockloop::resume(&me, ()).unwrap_err();
            assert_eq!(e.name(), "thread_busy");
        });
        assert!(t.is_finished() && !t.is_panicked());

        // Resuming a finished thread.
        let e = sockloop::resume(&t, ()).unwrap_err();
        assert_eq!(e.name(), "thread_dead");

        // A thread that panics during a resume.
        let p = sockloop::newthread(async { panic!("bad") });
        let e = sockloop::resume(&p, ()).unwrap_err();
        assert_eq!(e.name(), "thread_panicked");
        assert_eq!(sockloop::resume(&p, ()).unwrap_err().name(), "thread_dead");

        sockloop::start().unwrap();
        assert!(sleeper.is_finished());
    });
}

#[test]
fn suspend_outside_a_thread() {
    bounded(10, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(sockloop::try_suspend(1)).unwrap_err();
        assert_eq!(e.name(), "not_in_thread");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(sockloop::suspend(1));
        }));
        let msg = r
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("outside a sockloop thread"), "{msg}");
    });
}

#[test]
fn start_and_poll_inside_a_thread_are_loop_busy() {
    bounded(10, || {
        sockloop::run(async {
            assert_eq!(sockloop::start().unwrap_err().name(), "loop_busy");
            assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "loop_busy");
        });
        assert_eq!(sockloop::poll(Some(0.0)).unwrap_err().name(), "empty");
    });
}
