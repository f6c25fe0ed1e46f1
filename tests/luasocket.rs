//! `sockloop::luasocket`: LTN12 sinks/sources, receive patterns, headers,
//! newtry, gettime, skip, over real loopback TCP sockets.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sockloop::luasocket::{
    self, headers, newtry, pump_all, receive, sink, source, Pattern, Sink, SinkMode, Source,
    SourceMode, DEFAULT_LINE_LIMIT,
};
use sockloop::{Error, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Every test body is bounded: a hang is a failure, not a stuck CI job.
async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("test timed out")
}

/// A connected loopback pair: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Writes `data` in `piece`-byte writes with a pause between them, so the
/// reader sees it in many small reads.
async fn trickle(w: &mut TcpStream, data: &[u8], piece: usize) {
    for part in data.chunks(piece) {
        w.write_all(part).await.unwrap();
        w.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn drain<R: tokio::io::AsyncRead + Unpin>(src: &mut Source<R>) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = src.read().await? {
        assert!(!chunk.is_empty(), "sources never return empty chunks");
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

// ===== sinks =====

#[tokio::test]
async fn sink_close_when_done_sends_fin() {
    bounded(async {
        let (client, server) = pair().await;
        let mut s = sink("close-when-done", client).unwrap();
        assert_eq!(s.mode(), SinkMode::CloseWhenDone);
        let data = payload(70_000);
        let reader = tokio::spawn(async move {
            let mut r = BufReader::new(server);
            receive(&mut r, "*a", b"", DEFAULT_LINE_LIMIT).await
        });
        s.write(Some(&data[..10])).await.unwrap();
        s.write(Some(b"")).await.unwrap();
        s.write(Some(&data[10..])).await.unwrap();
        s.write(None).await.unwrap();
        assert!(s.get_ref().is_none(), "close-when-done drops the socket");
        s.write(None).await.unwrap(); // ending twice is a no-op
        let err = s.write(Some(b"late")).await.unwrap_err();
        assert_eq!(err.name(), "closed");
        assert_eq!(reader.await.unwrap().unwrap(), data);
    })
    .await;
}

#[tokio::test]
async fn sink_keep_open_leaves_socket_usable() {
    bounded(async {
        let (client, mut server) = pair().await;
        let mut s = Sink::new(SinkMode::KeepOpen, client);
        s.write(Some(b"one ")).await.unwrap();
        s.write(None).await.unwrap();
        s.write(Some(b"two ")).await.unwrap(); // keep-open still writes
        let mut client = s.into_inner().expect("keep-open keeps the socket");
        client.write_all(b"three").await.unwrap();
        drop(client);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"one two three");
    })
    .await;
}

#[tokio::test]
async fn sink_and_source_modes_parse_lua_names() {
    for (name, mode) in [
        ("close-when-done", SinkMode::CloseWhenDone),
        ("keep-open", SinkMode::KeepOpen),
        ("http-chunked", SinkMode::HttpChunked),
    ] {
        assert_eq!(name.parse::<SinkMode>().unwrap(), mode);
        assert_eq!(mode.to_string(), name);
    }
    for (name, mode) in [
        ("by-length", SourceMode::ByLength),
        ("until-closed", SourceMode::UntilClosed),
        ("http-chunked", SourceMode::HttpChunked),
    ] {
        assert_eq!(name.parse::<SourceMode>().unwrap(), mode);
        assert_eq!(mode.to_string(), name);
    }
    let err = sink("keep-closed", Vec::<u8>::new()).unwrap_err();
    assert_eq!(err.name(), "invalid_argument");
    assert!(err.to_string().contains("keep-closed"), "{err}");
    let err = source("by-size", &b""[..], Some(1)).unwrap_err();
    assert_eq!(err.name(), "invalid_argument");
    assert!(err.to_string().contains("by-size"), "{err}");
    let err = source("by-length", &b""[..], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

// ===== sources =====

#[tokio::test]
async fn source_by_length_stops_at_length() {
    bounded(async {
        let (mut client, server) = pair().await;
        let body = payload(10_000);
        let mut wire = body.clone();
        wire.extend_from_slice(b"TAIL");
        let writer = tokio::spawn(async move {
            trickle(&mut client, &wire, 3000).await;
            client // keep it open: by-length must not wait for a close
        });
        let mut src = source("by-length", server, Some(body.len() as u64)).unwrap();
        assert_eq!(src.mode(), SourceMode::ByLength);
        assert_eq!(drain(&mut src).await.unwrap(), body);
        assert_eq!(src.read().await.unwrap(), None);
        // What follows the body is still there: in the buffer, then the socket.
        let mut rest = src.read_buffer().to_vec();
        let mut server = src.into_inner().unwrap();
        while rest.len() < 4 {
            let mut b = [0u8; 16];
            let n = server.read(&mut b).await.unwrap();
            assert!(n > 0);
            rest.extend_from_slice(&b[..n]);
        }
        assert_eq!(rest, b"TAIL");
        drop(writer.await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn source_by_length_zero_reads_nothing() {
    bounded(async {
        let (_client, server) = pair().await; // nothing is ever sent
        let mut src = Source::by_length(server, 0);
        assert_eq!(src.read().await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn source_by_length_short_is_closed() {
    bounded(async {
        let (mut client, server) = pair().await;
        client.write_all(b"12345").await.unwrap();
        drop(client);
        let mut src = Source::by_length(server, 8);
        let err = drain(&mut src).await.unwrap_err();
        assert_eq!(err.name(), "closed");
        assert_eq!(src.read().await.unwrap(), None, "finished after an error");
    })
    .await;
}

#[tokio::test]
async fn source_until_closed_reads_all_then_drops_socket() {
    bounded(async {
        let (mut client, server) = pair().await;
        let body = payload(50_000);
        let wire = body.clone();
        tokio::spawn(async move {
            trickle(&mut client, &wire, 7000).await;
        });
        let mut src = Source::until_closed(server);
        assert_eq!(drain(&mut src).await.unwrap(), body);
        assert_eq!(src.read().await.unwrap(), None);
        assert!(src.into_inner().is_none(), "until-closed closes the socket");
    })
    .await;
}

// ===== http-chunked =====

#[tokio::test]
async fn http_chunked_round_trip_over_tcp() {
    bounded(async {
        let (client, server) = pair().await;
        let big = payload(20_000);
        let pieces: Vec<Vec<u8>> = vec![b"a".to_vec(), big.clone(), b"xyz".to_vec()];
        let expected: Vec<u8> = pieces.concat();
        let writer = tokio::spawn(async move {
            let mut s = sink("http-chunked", client).unwrap();
            for p in &pieces {
                s.write(Some(p)).await.unwrap();
            }
            s.write(None).await.unwrap();
            s.write(None).await.unwrap(); // no second last-chunk
            assert_eq!(s.write(Some(b"more")).await.unwrap_err().name(), "closed");
            let mut client = s.into_inner().unwrap(); // http-chunked keeps it open
            client.write_all(b"NEXT").await.unwrap();
            client
        });
        let mut src = source("http-chunked", server, None).unwrap();
        assert_eq!(drain(&mut src).await.unwrap(), expected);
        let mut rest = src.read_buffer().to_vec();
        let mut server = src.into_inner().unwrap();
        let _client = writer.await.unwrap();
        while rest.len() < 4 {
            let mut b = [0u8; 16];
            let n = server.read(&mut b).await.unwrap();
            assert!(n > 0);
            rest.extend_from_slice(&b[..n]);
        }
        assert_eq!(rest, b"NEXT", "nothing after the body is eaten");
    })
    .await;
}

#[tokio::test]
async fn http_chunked_sink_wire_format() {
    bounded(async {
        let (client, mut server) = pair().await;
        let mut s = Sink::new(SinkMode::HttpChunked, client);
        s.write(Some(&[b'x'; 26])).await.unwrap();
        s.write(Some(b"")).await.unwrap(); // no early last-chunk
        s.write(Some(b"hi")).await.unwrap();
        s.write(None).await.unwrap();
        drop(s);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        let mut want = b"1A\r\n".to_vec();
        want.extend_from_slice(&[b'x'; 26]);
        want.extend_from_slice(b"\r\n2\r\nhi\r\n0\r\n\r\n");
        assert_eq!(got, want);
    })
    .await;
}

#[tokio::test]
async fn http_chunked_source_across_read_boundaries() {
    bounded(async {
        let (mut client, server) = pair().await;
        // Extensions, upper and lower case hex, CR-less lines, blanks,
        // a trailer, and bytes after the body; sent 3 bytes at a time so
        // every line and chunk is split across reads.
        let wire = b"5;name=value\r\nhello\r\na \r\n, chunked \r\n1\nX\n\
                     0\r\nExpires: never\r\nX-Trailer: 2\r\n\r\nAFTER";
        let writer = tokio::spawn(async move {
            trickle(&mut client, wire, 3).await;
            client
        });
        let mut src = Source::http_chunked(server);
        assert_eq!(drain(&mut src).await.unwrap(), b"hello, chunked X");
        assert_eq!(src.read().await.unwrap(), None);
        let _client = writer.await.unwrap();
    })
    .await;
}

async fn chunked_error(wire: &'static [u8], close: bool) -> Error {
    let (mut client, server) = pair().await;
    client.write_all(wire).await.unwrap();
    if close {
        drop(client);
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(client);
        });
    }
    let mut src = Source::http_chunked(server);
    let err = drain(&mut src).await.unwrap_err();
    assert_eq!(src.read().await.unwrap(), None, "finished after an error");
    err
}

#[tokio::test]
async fn http_chunked_malformed_sizes_are_errors() {
    bounded(async {
        let err = chunked_error(b"zz\r\nhello\r\n0\r\n\r\n", false).await;
        assert_eq!(err.name(), "invalid_data");
        assert!(err.to_string().contains("invalid chunk size"), "{err}");

        let err = chunked_error(b"\r\n", false).await;
        assert_eq!(err.name(), "invalid_data");

        let err = chunked_error(b"+5\r\nhello\r\n", false).await;
        assert_eq!(err.name(), "invalid_data");

        // 2^72: does not fit a u64.
        let err = chunked_error(b"1000000000000000000\r\n", false).await;
        assert_eq!(err.name(), "invalid_data");

        // Chunk data not followed by CRLF.
        let err = chunked_error(b"3\r\nabcdef\r\n", false).await;
        assert_eq!(err.name(), "invalid_data");

        // An endless size line is cut off, not buffered without bound.
        static LONG: [u8; 10_000] = [b'1'; 10_000];
        let err = chunked_error(&LONG, false).await;
        assert_eq!(err.name(), "line_too_long");

        // The peer closes in the middle of a chunk.
        let err = chunked_error(b"10\r\nshort", true).await;
        assert_eq!(err.name(), "closed");
        // ... or before the trailer's empty line.
        let err = chunked_error(b"0\r\nX-A: 1\r\n", true).await;
        assert_eq!(err.name(), "closed");
    })
    .await;
}

#[tokio::test]
async fn pump_all_moves_a_body_between_sockets() {
    bounded(async {
        let (mut a_client, a_server) = pair().await;
        let (b_client, b_server) = pair().await;
        let body = payload(30_000);
        let wire = body.clone();
        tokio::spawn(async move {
            trickle(&mut a_client, &wire, 4096).await;
        });
        let reader = tokio::spawn(async move {
            let mut src = Source::http_chunked(b_server);
            drain(&mut src).await
        });
        let mut src = Source::until_closed(a_server);
        let mut snk = Sink::new(SinkMode::HttpChunked, b_client);
        let n = pump_all(&mut src, &mut snk).await.unwrap();
        assert_eq!(n, body.len() as u64);
        assert_eq!(reader.await.unwrap().unwrap(), body);
    })
    .await;
}

// ===== receive patterns =====

#[tokio::test]
async fn receive_line_drops_every_cr() {
    bounded(async {
        let (mut client, server) = pair().await;
        let writer = tokio::spawn(async move {
            trickle(&mut client, b"abc\r\nd\re\rf\r\n\n\r\nlast", 2).await;
        });
        let mut r = BufReader::new(server);
        let mut lines = Vec::new();
        for _ in 0..4 {
            lines.push(
                receive(&mut r, "*l", b"", DEFAULT_LINE_LIMIT)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(lines, [&b"abc"[..], b"def", b"", b""]);
        writer.await.unwrap();
        let mut err = receive(&mut r, Pattern::Line, b"", DEFAULT_LINE_LIMIT)
            .await
            .unwrap_err();
        assert_eq!(err.name(), "closed");
        assert_eq!(err.luasocket_str(), "closed");
        assert_eq!(err.take_data().unwrap(), b"last");
        assert_eq!(err.take_data(), None, "taken once");
    })
    .await;
}

#[tokio::test]
async fn receive_line_limit() {
    bounded(async {
        let (mut client, server) = pair().await;
        client
            .write_all(b"0123456789\r\n0123456789ABCDEF\n")
            .await
            .unwrap();
        let mut r = BufReader::new(server);
        // 10 bytes + CR = 11 counted bytes: fits a limit of 11, not of 10.
        let line = receive(&mut r, "*l", b"", 11).await.unwrap();
        assert_eq!(line, b"0123456789");
        let mut err = receive(&mut r, "*l", b"", 10).await.unwrap_err();
        assert_eq!(err.name(), "line_too_long");
        assert_eq!(err.kind(), ErrorKind::LineTooLong);
        assert_eq!(err.take_data().unwrap(), b"0123456789");
    })
    .await;
}

#[tokio::test]
async fn receive_all_and_counts() {
    bounded(async {
        let (mut client, server) = pair().await;
        let body = payload(5000);
        let wire = body.clone();
        tokio::spawn(async move {
            trickle(&mut client, &wire, 1000).await;
        });
        let mut r = BufReader::new(server);
        let head = receive(&mut r, 10usize, b"", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(head, &body[..10]);
        let mid = receive(&mut r, "2000", b"", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(mid, &body[10..2010]);
        let zero = receive(&mut r, 0usize, b"pre", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(zero, b"pre");
        // LuaSocket 3.0 counts the prefix in a byte count (resuming a
        // partial read): 5 with a 2-byte prefix reads 3 bytes ...
        let resumed = receive(&mut r, 5usize, b"ab", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(&resumed[..2], b"ab");
        assert_eq!(&resumed[2..], &body[2010..2013]);
        // ... and a prefix already that long is returned whole, reading nothing.
        let whole = receive(&mut r, 2usize, b"abcd", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(whole, b"abcd");
        let rest = receive(&mut r, "*a", b"P:", DEFAULT_LINE_LIMIT)
            .await
            .unwrap();
        assert_eq!(&rest[..2], b"P:");
        assert_eq!(&rest[2..], &body[2013..]);
        // "*a" after the close: empty, not an error (LuaSocket returns "").
        assert_eq!(receive(&mut r, "*a", b"", 1).await.unwrap(), b"");
    })
    .await;
}

#[tokio::test]
async fn receive_count_closed_keeps_partial_with_prefix() {
    bounded(async {
        let (mut client, server) = pair().await;
        client.write_all(b"partial").await.unwrap();
        drop(client);
        let mut r = BufReader::new(server);
        let mut err = receive(&mut r, 100usize, b"pre-", DEFAULT_LINE_LIMIT)
            .await
            .unwrap_err();
        assert_eq!(err.name(), "closed");
        assert_eq!(err.take_data().unwrap(), b"pre-partial");
        // Nothing at all left: the data is just the prefix, possibly empty.
        let mut err = receive(&mut r, "*l", b"", DEFAULT_LINE_LIMIT)
            .await
            .unwrap_err();
        assert_eq!(err.name(), "closed");
        assert_eq!(err.take_data().unwrap(), b"");
    })
    .await;
}

#[tokio::test]
async fn receive_invalid_pattern_reads_nothing() {
    bounded(async {
        let mut input: &[u8] = b"data\n";
        let err = receive(&mut input, "*x", b"", DEFAULT_LINE_LIMIT)
            .await
            .unwrap_err();
        assert_eq!(err.name(), "invalid_argument");
        assert!(err.to_string().contains("*x"), "{err}");
        assert_eq!(input, b"data\n");
        assert_eq!(Pattern::parse("*line").unwrap(), Pattern::Line);
        assert_eq!(Pattern::parse("*all").unwrap(), Pattern::All);
        assert!(matches!(Pattern::from("l"), Pattern::Invalid(_)));
        assert_eq!(Pattern::parse("*q").unwrap_err().name(), "invalid_argument");
        assert_eq!(Pattern::from(3).to_string(), "3");
        assert_eq!(Pattern::Line.to_string(), "*l");
        assert_eq!(Pattern::default(), Pattern::Line);
    })
    .await;
}

// ===== the rest of the namespace =====

#[test]
fn headers_canonic() {
    assert_eq!(headers::canonic("content-type"), "Content-Type");
    assert_eq!(headers::canonic("Content-Length"), "Content-Length");
    assert_eq!(headers::canonic("WWW-AUTHENTICATE"), "WWW-Authenticate");
    assert_eq!(headers::canonic("content-md5"), "Content-MD5");
    assert_eq!(headers::canonic("mime-version"), "MIME-Version");
    assert_eq!(headers::canonic("te"), "TE");
    assert_eq!(headers::canonic("etag"), "ETag");
    assert_eq!(headers::canonic("message-id"), "Message-ID");
    assert_eq!(headers::canonic("x-mailer"), "X-Mailer");
    assert_eq!(headers::canonic("x-forwarded-for"), "X-Forwarded-For");
    assert_eq!(headers::canonic("dnt"), "Dnt");
    assert_eq!(headers::canonic(""), "");
    assert_eq!(headers::lookup("user-agent"), Some("User-Agent"));
    assert_eq!(headers::lookup("x-forwarded-for"), None);
}

#[test]
fn newtry_finalizer_runs_once_on_error_only() {
    let runs = Cell::new(0);
    let ok_path = || -> sockloop::Result<u32> {
        let try_ = newtry(|| runs.set(runs.get() + 1));
        let a = try_.check(Ok::<u32, Error>(1))?;
        let b = try_.check(Ok::<u32, std::io::Error>(2))?;
        assert!(!try_.finalized());
        Ok(a + b)
    };
    assert_eq!(ok_path().unwrap(), 3);
    assert_eq!(runs.get(), 0, "no finalizer on success");

    let try_ = newtry(|| runs.set(runs.get() + 1));
    let e1 = try_
        .check(Err::<(), _>(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
        .unwrap_err();
    assert_eq!(e1.name(), "connection_refused");
    assert!(try_.finalized());
    let e2 = try_
        .check(Err::<(), _>(Error::new(ErrorKind::Timeout)))
        .unwrap_err();
    assert_eq!(e2.name(), "timeout");
    assert_eq!(runs.get(), 1, "finalizer runs exactly once");

    let r = luasocket::protect(|| -> std::io::Result<u8> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    });
    assert_eq!(r.unwrap_err().name(), "broken_pipe");
    assert_eq!(luasocket::protect(|| Ok::<_, Error>(7)).unwrap(), 7);
}

#[test]
fn gettime_is_unix_time() {
    let sys = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let t = luasocket::gettime();
    assert!((t - sys).abs() < 1.0, "gettime {t} vs SystemTime {sys}");
}

#[test]
fn skip_drops_leading_values() {
    assert_eq!(luasocket::skip(2, ["1", "4", "250", "-"]), ["250", "-"]);
    assert_eq!(luasocket::skip(0, vec![1, 2]), [1, 2]);
    assert!(luasocket::skip(3, [1, 2]).is_empty());
    assert!(luasocket::skip::<u8>(1, []).is_empty());
}

const _: () = assert!(!luasocket::DEBUG);

#[test]
fn constants() {
    assert_eq!(luasocket::DATAGRAMSIZE, 8192);
    assert_eq!(luasocket::SETSIZE, usize::MAX);
    assert_eq!(luasocket::SOCKETINVALID, -1);
    assert!(luasocket::VERSION.starts_with("LuaSocket 3.0"));
    assert!(luasocket::VERSION.contains("sockloop"));
}

#[tokio::test(start_paused = true)]
async fn sleep_waits_and_negative_returns_at_once() {
    bounded(sleeps_on_a_paused_clock()).await;
}

async fn sleeps_on_a_paused_clock() {
    let t0 = tokio::time::Instant::now();
    luasocket::sleep(-1.0).await;
    luasocket::sleep(f64::NAN).await;
    luasocket::sleep(0.0).await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    luasocket::sleep(2.5).await;
    let e = t0.elapsed();
    assert!(
        e >= Duration::from_millis(2500) && e < Duration::from_millis(2600),
        "{e:?}"
    );
}

#[test]
fn sleep_in_a_sockloop_thread_ends_on_cancel() {
    let (slept, saw_cancel) = sockloop::run(bounded(async {
        let t0 = sockloop::clock();
        luasocket::sleep(0.02).await;
        assert!(sockloop::clock() - t0 >= 0.02);
        let saw = std::rc::Rc::new(Cell::new(false));
        let saw2 = saw.clone();
        let sleeper = sockloop::thread(async move {
            luasocket::sleep(3600.0).await;
            saw2.set(sockloop::cancelled());
        });
        sockloop::runafter(0.01, move || sleeper.cancel());
        sockloop::sleep(0.05).await;
        (sockloop::clock() - t0, saw.get())
    }));
    assert!(saw_cancel, "the sleeper saw its cancel");
    assert!(
        slept < 60.0,
        "the cancelled sleeper did not keep the loop alive"
    );
}

#[test]
fn luasocket_error_kinds_are_named() {
    for (kind, name, io, lua) in [
        (
            ErrorKind::LineTooLong,
            "line_too_long",
            std::io::ErrorKind::InvalidData,
            "line too long",
        ),
        (
            ErrorKind::InvalidData,
            "invalid_data",
            std::io::ErrorKind::InvalidData,
            "invalid data",
        ),
    ] {
        let e = Error::new(kind);
        assert_eq!(e.name(), name);
        assert_eq!(kind.as_str(), Some(name));
        assert_eq!(kind.io_kind(), io);
        assert_eq!(e.luasocket_str(), lua);
        assert_eq!(std::io::Error::from(e).kind(), io);
    }
}

#[test]
fn sink_and_source_inside_sockloop_threads() {
    let body = sockloop::run(bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = sockloop::thread(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut snk = sink("http-chunked", conn).unwrap();
            for part in [&b"sock"[..], b"loop"] {
                snk.write(Some(part)).await.unwrap();
                sockloop::sleep(0.005).await;
            }
            snk.write(None).await.unwrap();
        });
        let conn = TcpStream::connect(addr).await.unwrap();
        let mut src = source("http-chunked", conn, None).unwrap();
        let body = drain(&mut src).await.unwrap();
        sockloop::sleep(0.01).await;
        assert!(writer.is_finished());
        body
    }));
    assert_eq!(body, b"sockloop");
}

// ===== socket.bind, socket.connect[46], socket.select, over sockloop =====

mod support;

use sockloop::luasocket::{bind, connect, connect4, connect6, select, Selectable};
use sockloop::socketloop::ASocket;
use sockloop::{clock, Family, OptValue, Tcp};

/// Raises the soft descriptor limit to at least `want` (as far as the hard
/// limit allows) and returns the soft limit now in force.
fn raise_nofile(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let cur = lim.current.unwrap_or(u64::MAX);
    if cur >= want {
        return cur;
    }
    let target = lim.maximum.map_or(want, |m| m.min(want));
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: lim.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// A connected sockloop pair (client, accepted).
async fn tcp_pair(listener: &Tcp) -> (Tcp, Tcp) {
    let addr = listener.local_addr().unwrap();
    let c = sockloop::tcp().unwrap();
    c.connect(&addr, clock() + 5.0).await.unwrap();
    let s = listener.accept(clock() + 5.0).await.unwrap();
    (c, s)
}

#[test]
fn bind_sets_reuseaddr_and_listens() {
    support::bounded(10, || {
        sockloop::run(async {
            let server = bind("127.0.0.1", 0, None).unwrap();
            assert_eq!(server.getoption("reuseaddr").unwrap(), OptValue::Bool(true));
            assert_eq!(
                server.getoption("acceptconn").unwrap(),
                OptValue::Bool(true)
            );
            let port = server.getsockname().unwrap().port();
            // A second listener on the same port is refused.
            let e = bind("127.0.0.1", port, Some(1)).unwrap_err();
            assert_eq!(e.name(), "address_already_in_use");
            assert_eq!(e.luasocket_str(), "address already in use");
            let c = connect("127.0.0.1", port, None, None, None).await.unwrap();
            let s = server.accept().await.unwrap();
            c.send(b"hi\n").await.unwrap();
            assert_eq!(s.receive("*l").await.unwrap(), b"hi");
            assert_eq!(s.getpeername().unwrap(), c.getsockname().unwrap());
            assert_eq!(
                bind("no such host.invalid", 0, None).unwrap_err().kind(),
                ErrorKind::InvalidAddress
            );
        })
    });
}

#[test]
fn connect_families_and_local_address() {
    support::bounded(10, || {
        sockloop::run(async {
            let v4 = bind("127.0.0.1", 0, None).unwrap();
            let p4 = v4.getsockname().unwrap().port();
            let v6 = bind("::1", 0, None).unwrap();
            let p6 = v6.getsockname().unwrap().port();
            assert_eq!(v6.getsocket().family(), Family::Inet6);

            let c = connect4("127.0.0.1", p4, Some("127.0.0.1"), None)
                .await
                .unwrap();
            assert_eq!(c.getsocket().family(), Family::Inet);
            let first = v4.accept().await.unwrap();
            assert_eq!(first.getpeername().unwrap(), c.getsockname().unwrap());
            let c6 = connect6("::1", p6, None, None).await.unwrap();
            assert_eq!(c6.getpeername().unwrap().to_string(), format!("[::1]:{p6}"));
            assert_eq!(c6.getsocket().family(), Family::Inet6);
            // The wrong family for the address: nothing to try.
            let e = connect4("::1", p6, None, None).await.unwrap_err();
            assert_eq!(e.name(), "invalid_address");
            let e = connect("127.0.0.1", p4, None, None, Some(Family::Inet6))
                .await
                .unwrap_err();
            assert_eq!(e.name(), "invalid_address");

            // A local port of our choice.
            let free = sockloop::tcp().unwrap();
            free.bind(("127.0.0.1", 0)).unwrap();
            let lport = free.local_addr().unwrap().port();
            drop(free);
            let c = connect("127.0.0.1", p4, Some("127.0.0.1"), Some(lport), None)
                .await
                .unwrap();
            assert_eq!(c.getsockname().unwrap().port(), lport);
            let s = v4.accept().await.unwrap();
            assert_eq!(s.getpeername().unwrap().port(), lport);

            // Refused.
            v4.close().unwrap();
            let e = connect("127.0.0.1", p4, None, None, None)
                .await
                .unwrap_err();
            assert_eq!(e.name(), "connection_refused");
            assert_eq!(e.luasocket_str(), "connection refused");
        })
    });
}

#[test]
fn select_over_2000_sockets() {
    let limit = raise_nofile(4200);
    assert!(
        limit >= 2100,
        "need ~2,050 descriptors, the soft limit is {limit}"
    );
    let (ready, writable, timed_out) = support::bounded(60, || {
        sockloop::run(async {
            let listener = sockloop::tcp().unwrap();
            listener.listen_backlog(1024, ("127.0.0.1", 0)).unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..1000 {
                let (c, s) = tcp_pair(&listener).await;
                clients.push(c);
                servers.push(s);
            }
            for &i in &[3usize, 500, 999] {
                clients[i].send(b"x", None).await.unwrap();
            }
            // recvt: 2,000 sockets, clients first.
            let recvt: Vec<&dyn Selectable> = clients
                .iter()
                .chain(servers.iter())
                .map(|t| t as &dyn Selectable)
                .collect();
            assert_eq!(recvt.len(), 2000);
            let mut sel = select(&recvt, &[], Some(5.0)).await.unwrap();
            // The data may land in more than one reactor turn: wait for all.
            let t0 = clock();
            while sel.recv.len() < 3 && clock() - t0 < 5.0 {
                sockloop::sleep(0.01).await;
                sel = select(&recvt, &[], Some(5.0)).await.unwrap();
            }
            let sendt: Vec<&dyn Selectable> =
                servers.iter().map(|t| t as &dyn Selectable).collect();
            let wsel = select(&[], &sendt, Some(5.0)).await.unwrap();
            // Nobody wrote to the clients: a bounded wait times out.
            let client_set: Vec<&dyn Selectable> =
                clients.iter().map(|t| t as &dyn Selectable).collect();
            let e = select(&client_set, &[], Some(0.05)).await.unwrap_err();
            (sel, wsel.send.len(), e.name().to_string())
        })
    });
    assert_eq!(ready.recv, [1003, 1500, 1999]);
    assert!(ready.is_readable(1500) && !ready.is_readable(3));
    assert!(ready.send.is_empty());
    assert_eq!(writable, 1000);
    assert_eq!(timed_out, "timeout");
}

#[test]
fn select_listener_dirty_closed_and_late_data() {
    support::bounded(10, || {
        sockloop::run(async {
            let server = bind("127.0.0.1", 0, None).unwrap();
            let port = server.getsockname().unwrap().port();
            assert_eq!(
                select(&[&server], &[], Some(0.0)).await.unwrap_err().name(),
                "timeout"
            );
            let c = connect("127.0.0.1", port, None, None, None).await.unwrap();
            let sel = select(&[&server], &[], Some(5.0)).await.unwrap();
            assert_eq!(sel.recv, [0]); // a connection is pending
            let s = server.accept().await.unwrap();

            // Buffered bytes in an ASocket make it readable (dirty).
            c.send(b"a\nb\n").await.unwrap();
            assert_eq!(s.receive("*l").await.unwrap(), b"a");
            assert_eq!(s.buffered(), 2);
            let sel = select(&[&s], &[], Some(0.0)).await.unwrap();
            assert_eq!(sel.recv, [0]);
            assert_eq!(s.receive("*l").await.unwrap(), b"b");
            assert_eq!(
                select(&[&s], &[], Some(0.0)).await.unwrap_err().name(),
                "timeout"
            );

            // A closed socket is ignored.
            let dead = sockloop::tcp().unwrap();
            dead.close().unwrap();
            let e = select(&[&dead, &s], &[], Some(0.02)).await.unwrap_err();
            assert_eq!(e.name(), "timeout");

            // Late data wakes a select without a timeout.
            let c = std::rc::Rc::new(c);
            let c2 = c.clone();
            sockloop::thread(async move {
                sockloop::sleep(0.02).await;
                c2.send(b"late\n").await.unwrap();
            });
            let t0 = clock();
            let sel = select(&[&dead, &s], &[], None).await.unwrap();
            assert!(clock() - t0 >= 0.015);
            assert_eq!(sel.recv, [1]);
            assert_eq!(s.receive("*l").await.unwrap(), b"late");
            // A peer close counts as readable.
            drop(c);
            sockloop::sleep(0.01).await;
            let sel = select(&[&s], &[], Some(5.0)).await.unwrap();
            assert_eq!(sel.recv, [0]);
            let mut e = s.receive("*l").await.unwrap_err();
            assert_eq!(e.name(), "closed");
            assert_eq!(e.take_data().unwrap(), b"");
        })
    });
}

/// Sends `parts` through a sink of `sink_mode` on one side of a sockloop
/// TCP pair and drains a source of `source_mode` on the other.
async fn ltn12_over_tcp(sink_mode: &str, source_mode: &str, len: Option<u64>) -> Vec<u8> {
    let listener = sockloop::tcp().unwrap();
    listener.listen(("127.0.0.1", 0)).unwrap();
    let (c, s) = tcp_pair(&listener).await;
    let sink_mode = sink_mode.to_string();
    let writer = sockloop::thread(async move {
        let mut snk = sink(&sink_mode, c).unwrap();
        for part in [&b"hello "[..], b"", b"sockloop", b" world"] {
            snk.write(Some(part)).await.unwrap();
            sockloop::sleep(0.002).await;
        }
        snk.write(None).await.unwrap();
        if let Some(c) = snk.into_inner() {
            // keep-open: the socket still works after the end.
            c.send(b"+tail", None).await.unwrap();
        }
    });
    let mut src = source(source_mode, &s, len).unwrap();
    let body = drain(&mut src).await.unwrap();
    while !writer.is_finished() {
        sockloop::sleep(0.002).await;
    }
    body
}

#[test]
fn ltn12_modes_round_trip_over_sockloop_tcp() {
    let (a, b, c, d) = support::bounded(20, || {
        sockloop::run(async {
            let a = ltn12_over_tcp("close-when-done", "until-closed", None).await;
            let b = ltn12_over_tcp("keep-open", "by-length", Some(11)).await;
            let c = ltn12_over_tcp("http-chunked", "http-chunked", None).await;
            let d = ltn12_over_tcp("keep-open", "until-closed", None).await;
            (a, b, c, d)
        })
    });
    assert_eq!(a, b"hello sockloop world");
    assert_eq!(b, b"hello sockl"); // 11 bytes
    assert_eq!(c, b"hello sockloop world");
    assert_eq!(d, b"hello sockloop world+tail");
}

#[test]
fn asocket_is_the_luasocket_tcp_object() {
    support::bounded(10, || {
        sockloop::run(async {
            let server: ASocket = bind("127.0.0.1", 0, None).unwrap();
            server.settimeout(Some(0.02));
            assert_eq!(server.accept().await.unwrap_err().name(), "timeout");
            server.settimeout(None);
            let port = server.getsockname().unwrap().port();
            let c = connect("127.0.0.1", port, None, None, None).await.unwrap();
            let s = server.accept().await.unwrap();
            let try_ = newtry(|| {
                let _ = c.close();
            });
            try_.check(c.send(b"GET / HTTP/1.0\r\n\r\n").await).unwrap();
            assert_eq!(s.receive("*l").await.unwrap(), b"GET / HTTP/1.0");
            assert_eq!(s.receive("*l").await.unwrap(), b"");
            s.close().unwrap();
            let e = try_.check(c.receive("*l").await).unwrap_err();
            assert_eq!(e.name(), "closed");
            assert!(try_.finalized());
            assert_eq!(c.close().unwrap_err().name(), "closed");
        })
    });
}
