//! `socket.sink(mode, sock)` and `socket.source(mode, sock, len)`: LTN12
//! sinks and sources over any Tokio byte stream, HTTP chunked transfer
//! encoding included.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::str::FromStr;

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, FramedRead};

use crate::error::{Error, ErrorKind, Result};

/// LuaSocket's `socket.BLOCKSIZE` (2048): the chunk size LuaSocket's own
/// sources ask for. sockloop's sources return whatever has arrived (never
/// more than the read buffer), so this is informational.
///
/// # Examples
///
/// ```
/// let mut buf = vec![0u8; sockloop::luasocket::BLOCKSIZE]; // a LuaSocket-sized read
/// assert_eq!(buf.len(), 2048);
/// # buf.clear();
/// ```
pub const BLOCKSIZE: usize = 2048;

/// The longest HTTP chunk-size, chunk-end or trailer line accepted by the
/// `"http-chunked"` source, in bytes.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::{Source, CHUNK_LINE_LIMIT};
/// let long = format!("{}\r\n", "0".repeat(CHUNK_LINE_LIMIT + 1)); // a size line too long
/// let mut src = Source::http_chunked(long.as_bytes());
/// assert_eq!(src.read().await.unwrap_err().name(), "line_too_long");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub const CHUNK_LINE_LIMIT: usize = 4096;

/// The most trailer lines the `"http-chunked"` source accepts after the
/// last chunk.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::{Source, CHUNK_TRAILER_LIMIT};
/// let mut body = String::from("0\r\n");
/// for i in 0..=CHUNK_TRAILER_LIMIT {
///     body.push_str(&format!("X-T{i}: v\r\n"));
/// }
/// body.push_str("\r\n");
/// let mut src = Source::http_chunked(body.as_bytes());
/// assert_eq!(src.read().await.unwrap_err().name(), "line_too_long");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub const CHUNK_TRAILER_LIMIT: usize = 256;

fn unknown_mode(kind: &str, s: &str, known: &str) -> Error {
    Error::with_message(
        ErrorKind::InvalidArgument,
        format!("unknown {kind} mode {s:?} (expected {known})"),
    )
}

// ===== SinkMode =====

/// The behaviour of a [`Sink`], named as in `socket.sink(mode, sock)`.
///
/// `FromStr` and `Display` use LuaSocket's strings.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::SinkMode;
///
/// assert_eq!("keep-open".parse::<SinkMode>().unwrap(), SinkMode::KeepOpen);
/// assert_eq!(SinkMode::HttpChunked.to_string(), "http-chunked");
/// assert_eq!("bogus".parse::<SinkMode>().unwrap_err().name(), "invalid_argument");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SinkMode {
    /// `"close-when-done"`: write every chunk; at the end shut the writer
    /// down (a TCP FIN) and drop it, which closes a socket.
    CloseWhenDone,
    /// `"keep-open"`: write every chunk; at the end only flush.
    KeepOpen,
    /// `"http-chunked"`: write each chunk in HTTP/1.1 chunked transfer
    /// encoding (`<hex size>\r\n<data>\r\n`); at the end write the last
    /// chunk `0\r\n\r\n` and keep the writer open.
    HttpChunked,
}

impl SinkMode {
    /// LuaSocket's name of the mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::SinkMode;
    /// assert_eq!(SinkMode::KeepOpen.as_str(), "keep-open");
    /// assert_eq!("http-chunked".parse::<SinkMode>().unwrap(), SinkMode::HttpChunked);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SinkMode::CloseWhenDone => "close-when-done",
            SinkMode::KeepOpen => "keep-open",
            SinkMode::HttpChunked => "http-chunked",
        }
    }
}

impl FromStr for SinkMode {
    type Err = Error;

    /// # Errors
    ///
    /// `"invalid_argument"` naming the unknown mode.
    fn from_str(s: &str) -> Result<SinkMode> {
        match s {
            "close-when-done" => Ok(SinkMode::CloseWhenDone),
            "keep-open" => Ok(SinkMode::KeepOpen),
            "http-chunked" => Ok(SinkMode::HttpChunked),
            _ => Err(unknown_mode(
                "sink",
                s,
                "\"close-when-done\", \"keep-open\" or \"http-chunked\"",
            )),
        }
    }
}

impl fmt::Display for SinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ===== SourceMode =====

/// The behaviour of a [`Source`], named as in `socket.source(mode, sock, len)`.
///
/// `FromStr` and `Display` use LuaSocket's strings.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::{source, SourceMode};
/// let src = source("until-closed", &b"data"[..], None)?;
/// assert_eq!(src.mode(), SourceMode::UntilClosed);
/// assert_eq!("bogus".parse::<SourceMode>().unwrap_err().name(), "invalid_argument");
/// # Ok::<(), sockloop::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceMode {
    /// `"by-length"`: exactly `len` bytes, then the end.
    ByLength,
    /// `"until-closed"`: everything until the peer closes; the reader is
    /// then dropped (LuaSocket closes the socket).
    UntilClosed,
    /// `"http-chunked"`: decode HTTP/1.1 chunked transfer encoding up to and
    /// including the last chunk and its trailer.
    HttpChunked,
}

impl SourceMode {
    /// LuaSocket's name of the mode.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(sockloop::luasocket::SourceMode::ByLength.as_str(), "by-length");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SourceMode::ByLength => "by-length",
            SourceMode::UntilClosed => "until-closed",
            SourceMode::HttpChunked => "http-chunked",
        }
    }
}

impl FromStr for SourceMode {
    type Err = Error;

    /// # Errors
    ///
    /// `"invalid_argument"` naming the unknown mode.
    fn from_str(s: &str) -> Result<SourceMode> {
        match s {
            "by-length" => Ok(SourceMode::ByLength),
            "until-closed" => Ok(SourceMode::UntilClosed),
            "http-chunked" => Ok(SourceMode::HttpChunked),
            _ => Err(unknown_mode(
                "source",
                s,
                "\"by-length\", \"until-closed\" or \"http-chunked\"",
            )),
        }
    }
}

impl fmt::Display for SourceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ===== impl Sink =====

/// An LTN12 sink over an async writer: `socket.sink(mode, sock)`.
///
/// In Lua a sink is a function called with each chunk and with `nil` at the
/// end; here it is [`Sink::write`] with `Some(chunk)` and `None`.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::sink;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut out = Vec::new();
/// let mut s = sink("http-chunked", &mut out)?;
/// s.write(Some(b"hello")).await?;
/// s.write(None).await?;
/// drop(s);
/// assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Sink<W> {
    mode: SinkMode,
    writer: Option<W>,
    ended: bool,
}

/// `socket.sink(mode, sock)`: an LTN12 sink writing to `writer`.
///
/// `mode` is one of LuaSocket's strings (see [`SinkMode`]); with the mode
/// already typed use [`Sink::new`].
///
/// # Errors
///
/// `"invalid_argument"` for an unknown mode (the message names it).
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::sink;
/// let mut snk = sink("http-chunked", Vec::new())?;
/// snk.write(Some(b"hello")).await?;
/// snk.write(None).await?; // the end: the last chunk
/// assert_eq!(snk.get_ref().unwrap(), b"5\r\nhello\r\n0\r\n\r\n");
/// assert_eq!(sink("sideways", Vec::new()).unwrap_err().name(), "invalid_argument");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn sink<W: AsyncWrite + Unpin>(mode: &str, writer: W) -> Result<Sink<W>> {
    Ok(Sink::new(mode.parse()?, writer))
}

impl<W: AsyncWrite + Unpin> Sink<W> {
    /// A sink of `mode` writing to `writer`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::{Sink, SinkMode};
    /// let mut snk = Sink::new(SinkMode::KeepOpen, Vec::new());
    /// snk.write(Some(b"abc")).await?;
    /// assert_eq!(snk.into_inner().unwrap(), b"abc");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new(mode: SinkMode, writer: W) -> Sink<W> {
        Sink {
            mode,
            writer: Some(writer),
            ended: false,
        }
    }

    /// The mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::{sink, SinkMode};
    /// assert_eq!(sink("keep-open", Vec::new())?.mode(), SinkMode::KeepOpen);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn mode(&self) -> SinkMode {
        self.mode
    }

    /// The writer, unless a `"close-when-done"` sink has dropped it.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::sink;
    /// let mut snk = sink("close-when-done", Vec::new())?;
    /// snk.write(Some(b"x")).await?;
    /// assert_eq!(snk.get_ref().map(Vec::len), Some(1));
    /// snk.write(None).await?; // shuts the writer down and drops it
    /// assert!(snk.get_ref().is_none());
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get_ref(&self) -> Option<&W> {
        self.writer.as_ref()
    }

    /// Gives the writer back, unless a `"close-when-done"` sink has dropped it.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::sink;
    /// let mut snk = sink("keep-open", Vec::new())?;
    /// snk.write(Some(b"kept")).await?;
    /// snk.write(None).await?;
    /// assert_eq!(snk.into_inner().unwrap(), b"kept");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_inner(self) -> Option<W> {
        self.writer
    }

    /// Feeds the sink: `Some(chunk)` writes a chunk, `None` ends the data
    /// (Lua's `sink(nil)`).
    ///
    /// Each chunk is written in full and flushed before this returns. An
    /// empty chunk writes nothing in every mode (LuaSocket's
    /// `"http-chunked"` sink would write the last chunk for it and end the
    /// body early; sockloop does not). At the end, `"close-when-done"`
    /// shuts the writer down and drops it, `"keep-open"` flushes,
    /// `"http-chunked"` writes `0\r\n\r\n`. Ending twice is a no-op.
    ///
    /// # Errors
    ///
    /// * `"closed"`: a chunk after the end of a `"close-when-done"` or
    ///   `"http-chunked"` sink.
    /// * The writer's I/O errors under their normalized names
    ///   (`"broken_pipe"`, `"connection_reset"`, ...).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, part of the chunk (and
    /// in `"http-chunked"` mode, part of the framing) may have been written.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket::sink;
    /// let mut snk = sink("close-when-done", Vec::new())?;
    /// snk.write(Some(b"last words")).await?;
    /// snk.write(None).await?;
    /// assert_eq!(snk.write(Some(b"more")).await.unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn write(&mut self, chunk: Option<&[u8]>) -> Result<()> {
        match chunk {
            Some(data) => self.write_chunk(data).await,
            None => self.end().await,
        }
    }

    async fn write_chunk(&mut self, data: &[u8]) -> Result<()> {
        let ended_refuses = self.ended && self.mode != SinkMode::KeepOpen;
        let Some(w) = self.writer.as_mut().filter(|_| !ended_refuses) else {
            return Err(Error::with_message(
                ErrorKind::Closed,
                format!("{} sink already ended", self.mode),
            ));
        };
        if data.is_empty() {
            return Ok(());
        }
        if self.mode == SinkMode::HttpChunked {
            // One write for the whole frame, as LuaSocket's
            // `size .. chunk .. "\r\n"`: separate small writes of the size
            // line and the CRLF would meet Nagle's algorithm.
            let head = format!("{:X}\r\n", data.len());
            let mut frame = Vec::with_capacity(head.len() + data.len() + 2);
            frame.extend_from_slice(head.as_bytes());
            frame.extend_from_slice(data);
            frame.extend_from_slice(b"\r\n");
            w.write_all(&frame).await?;
        } else {
            w.write_all(data).await?;
        }
        w.flush().await?;
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        match self.mode {
            SinkMode::CloseWhenDone => {
                let Some(mut w) = self.writer.take() else {
                    return Ok(());
                };
                w.shutdown().await?;
            }
            SinkMode::KeepOpen => {
                if let Some(w) = self.writer.as_mut() {
                    w.flush().await?;
                }
            }
            SinkMode::HttpChunked => {
                if let Some(w) = self.writer.as_mut() {
                    w.write_all(b"0\r\n\r\n").await?;
                    w.flush().await?;
                }
            }
        }
        Ok(())
    }
}

// ===== impl Source =====

/// An LTN12 source over an async reader: `socket.source(mode, sock, len)`.
///
/// In Lua a source is a function returning the next chunk, `nil` at the
/// end; here it is [`Source::read`] returning `Ok(Some(chunk))` and
/// `Ok(None)`. Chunks are whatever has arrived (never empty), not
/// LuaSocket's fixed [`BLOCKSIZE`] blocks; their concatenation is the same.
///
/// The reader is buffered internally (a `tokio_util::codec::FramedRead`),
/// so bytes past the end of a `"by-length"` or `"http-chunked"` body may
/// already have been read from it; [`Source::read_buffer`] shows them.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::source;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let wire: &[u8] = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n";
/// let mut src = source("http-chunked", wire, None)?;
/// let mut body = Vec::new();
/// while let Some(chunk) = src.read().await? {
///     body.extend_from_slice(&chunk);
/// }
/// assert_eq!(body, b"abcde");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Source<R> {
    mode: SourceMode,
    framed: Option<FramedRead<R, SourceDecoder>>,
    done: bool,
}

/// `socket.source(mode, sock, len)`: an LTN12 source reading from `reader`.
///
/// `mode` is one of LuaSocket's strings (see [`SourceMode`]); `len` is the
/// byte count of `"by-length"` and ignored by the other modes.
///
/// # Errors
///
/// `"invalid_argument"` for an unknown mode, or for `"by-length"` without
/// a `len`.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::source;
/// let mut src = source("by-length", &b"hello, rest"[..], Some(5))?;
/// assert_eq!(src.read().await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(src.read().await?, None); // the end
/// assert_eq!(source("by-length", &b""[..], None).unwrap_err().name(), "invalid_argument");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub fn source<R: AsyncRead + Unpin>(mode: &str, reader: R, len: Option<u64>) -> Result<Source<R>> {
    Source::new(mode.parse()?, reader, len)
}

impl<R: AsyncRead + Unpin> Source<R> {
    /// A source of `mode` reading from `reader`; `len` is required by
    /// [`SourceMode::ByLength`] and ignored otherwise.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for `ByLength` with `len == None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::{Source, SourceMode};
    /// let src = Source::new(SourceMode::ByLength, &b"abc"[..], Some(2))?;
    /// assert_eq!(src.mode(), SourceMode::ByLength);
    /// assert!(Source::new(SourceMode::ByLength, &b""[..], None).is_err());
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn new(mode: SourceMode, reader: R, len: Option<u64>) -> Result<Source<R>> {
        let state = match (mode, len) {
            (SourceMode::ByLength, Some(n)) => State::ByLength(n),
            (SourceMode::ByLength, None) => {
                return Err(Error::with_message(
                    ErrorKind::InvalidArgument,
                    "\"by-length\" source needs a length",
                ))
            }
            (SourceMode::UntilClosed, _) => State::UntilClosed,
            (SourceMode::HttpChunked, _) => State::Chunked(Chunked::Size),
        };
        Ok(Source {
            mode,
            done: matches!(state, State::ByLength(0)),
            framed: Some(FramedRead::new(reader, SourceDecoder { state })),
        })
    }

    /// A `"by-length"` source: exactly `len` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let mut src = sockloop::luasocket::Source::by_length(&b"12345"[..], 3);
    /// assert_eq!(src.read().await?.as_deref(), Some(&b"123"[..]));
    /// assert_eq!(src.read_buffer(), b"45"); // read ahead, not part of the body
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn by_length(reader: R, len: u64) -> Source<R> {
        Source {
            mode: SourceMode::ByLength,
            done: len == 0,
            framed: Some(FramedRead::new(
                reader,
                SourceDecoder {
                    state: State::ByLength(len),
                },
            )),
        }
    }

    /// An `"until-closed"` source.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let mut src = sockloop::luasocket::Source::until_closed(&b"all of it"[..]);
    /// let mut got = Vec::new();
    /// while let Some(chunk) = src.read().await? {
    ///     got.extend(chunk);
    /// }
    /// assert_eq!(got, b"all of it");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn until_closed(reader: R) -> Source<R> {
        Source {
            mode: SourceMode::UntilClosed,
            done: false,
            framed: Some(FramedRead::new(
                reader,
                SourceDecoder {
                    state: State::UntilClosed,
                },
            )),
        }
    }

    /// An `"http-chunked"` source.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let body = &b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT"[..];
    /// let mut src = sockloop::luasocket::Source::http_chunked(body);
    /// let mut got = Vec::new();
    /// while let Some(chunk) = src.read().await? {
    ///     got.extend(chunk);
    /// }
    /// assert_eq!(got, b"abcde");
    /// assert_eq!(src.read_buffer(), b"NEXT"); // what follows the body
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn http_chunked(reader: R) -> Source<R> {
        Source {
            mode: SourceMode::HttpChunked,
            done: false,
            framed: Some(FramedRead::new(
                reader,
                SourceDecoder {
                    state: State::Chunked(Chunked::Size),
                },
            )),
        }
    }

    /// The mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let src = sockloop::luasocket::Source::until_closed(&b""[..]);
    /// assert_eq!(src.mode().as_str(), "until-closed");
    /// ```
    pub fn mode(&self) -> SourceMode {
        self.mode
    }

    /// Bytes read from the reader but not yet returned (for `"by-length"`
    /// and `"http-chunked"`, what follows the body).
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let mut src = sockloop::luasocket::Source::by_length(&b"HEADbody"[..], 4);
    /// src.read().await?;
    /// assert_eq!(src.read_buffer(), b"body");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn read_buffer(&self) -> &[u8] {
        match &self.framed {
            Some(f) => f.read_buffer(),
            None => &[],
        }
    }

    /// Gives the reader back (the bytes in [`read_buffer`](Source::read_buffer)
    /// are not in it any more), unless an `"until-closed"` source has
    /// reached the end and dropped it.
    ///
    /// # Examples
    ///
    /// ```
    /// let src = sockloop::luasocket::Source::by_length(&b"xyz"[..], 1);
    /// let reader: &[u8] = src.into_inner().unwrap();
    /// assert_eq!(reader, b"xyz"); // nothing read yet
    /// ```
    pub fn into_inner(self) -> Option<R> {
        self.framed.map(FramedRead::into_inner)
    }

    /// The next chunk: `Ok(Some(bytes))` (never empty), or `Ok(None)` at the
    /// end, and `Ok(None)` again on every later call.
    ///
    /// # Errors
    ///
    /// * `"closed"`: the stream ended before the body did (a `"by-length"`
    ///   source short of `len`, an `"http-chunked"` source before its last
    ///   chunk and trailer).
    /// * `"invalid_data"`: a malformed chunk-size line (not hex, or too
    ///   large for 64 bits) or chunk data not followed by CRLF.
    /// * `"line_too_long"`: a chunk-size, chunk-end or trailer line longer
    ///   than [`CHUNK_LINE_LIMIT`], or more than [`CHUNK_TRAILER_LIMIT`]
    ///   trailer lines.
    /// * The reader's I/O errors under their normalized names.
    ///
    /// After an error the source is finished: later calls return `Ok(None)`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the decoding state and the buffered bytes live in the
    /// source, so dropping the future loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let mut src = sockloop::luasocket::Source::by_length(&b"ab"[..], 5);
    /// assert_eq!(src.read().await?.as_deref(), Some(&b"ab"[..]));
    /// assert_eq!(src.read().await.unwrap_err().name(), "closed"); // short of 5 bytes
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let Some(framed) = self.framed.as_mut() else {
            return Ok(None);
        };
        let next = poll_fn(|cx| Pin::new(&mut *framed).poll_next(cx)).await;
        match next {
            Some(Ok(Frame::Data(data))) => {
                if matches!(framed.decoder().state, State::ByLength(0)) {
                    self.done = true;
                }
                Ok(Some(data))
            }
            Some(Ok(Frame::End)) | None => {
                self.done = true;
                if self.mode == SourceMode::UntilClosed {
                    self.framed = None;
                }
                Ok(None)
            }
            Some(Err(e)) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

/// `ltn12.pump.all(source, sink)`: moves every chunk from `source` to
/// `sink`, then ends the sink. Returns the number of bytes moved.
///
/// # Errors
///
/// The first error of either side. The sink is not ended after an error
/// (as in LTN12, where the sink receives `nil, err`).
///
/// # Cancel safety
///
/// Not cancel safe: a chunk taken from the source may be lost.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::{pump_all, sink, source};
/// let mut src = source("by-length", &b"payload and more"[..], Some(7))?;
/// let mut snk = sink("keep-open", Vec::new())?;
/// assert_eq!(pump_all(&mut src, &mut snk).await?, 7);
/// assert_eq!(snk.into_inner().unwrap(), b"payload");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "pump.all")]
pub async fn pump_all<R, W>(source: &mut Source<R>, sink: &mut Sink<W>) -> Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut total = 0u64;
    while let Some(chunk) = source.read().await? {
        sink.write(Some(&chunk)).await?;
        total += chunk.len() as u64;
    }
    sink.write(None).await?;
    Ok(total)
}

// ===== decoder =====

/// What the decoder hands to [`Source::read`].
#[derive(Debug)]
enum Frame {
    Data(Vec<u8>),
    End,
}

#[derive(Debug, Clone, Copy)]
enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: this many trailer lines seen.
    Trailer(usize),
    /// The body is complete.
    Done,
}

#[derive(Debug, Clone, Copy)]
enum State {
    ByLength(u64),
    UntilClosed,
    Chunked(Chunked),
}

#[derive(Debug)]
struct SourceDecoder {
    state: State,
}

/// Takes one line (LF-terminated) from `buf`: LF removed, every CR dropped,
/// as LuaSocket's `"*l"`. `None` until a full line is buffered.
fn take_line(buf: &mut BytesMut) -> Result<Option<Vec<u8>>> {
    let window = buf.len().min(CHUNK_LINE_LIMIT + 1);
    match buf[..window].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = buf.split_to(i + 1);
            Ok(Some(
                line[..i].iter().copied().filter(|&b| b != b'\r').collect(),
            ))
        }
        None if buf.len() > CHUNK_LINE_LIMIT => Err(Error::with_message(
            ErrorKind::LineTooLong,
            format!("http-chunked line longer than {CHUNK_LINE_LIMIT} bytes"),
        )),
        None => Ok(None),
    }
}

/// `s` without leading and trailing ASCII whitespace (`<[u8]>::trim_ascii`
/// is newer than the crate's MSRV).
fn trim_blanks(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

/// A chunk-size line: hex digits, optional `;extensions` (ignored),
/// surrounding blanks allowed.
fn parse_chunk_size(line: &[u8]) -> Result<u64> {
    let size = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    let size = trim_blanks(size);
    let bad = || {
        Error::with_message(
            ErrorKind::InvalidData,
            format!(
                "invalid chunk size {:?}",
                String::from_utf8_lossy(&line[..line.len().min(64)])
            ),
        )
    };
    if size.is_empty() || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let text = std::str::from_utf8(size).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

impl Decoder for SourceDecoder {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        loop {
            match self.state {
                State::ByLength(left) => {
                    if buf.is_empty() || left == 0 {
                        return Ok(None);
                    }
                    let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    self.state = State::ByLength(left - n as u64);
                    return Ok(Some(Frame::Data(buf.split_to(n).to_vec())));
                }
                State::UntilClosed => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = buf.len();
                    return Ok(Some(Frame::Data(buf.split_to(n).to_vec())));
                }
                State::Chunked(c) => match c {
                    Chunked::Size => {
                        let Some(line) = take_line(buf)? else {
                            return Ok(None);
                        };
                        let size = parse_chunk_size(&line)?;
                        self.state = State::Chunked(if size == 0 {
                            Chunked::Trailer(0)
                        } else {
                            Chunked::Data(size)
                        });
                    }
                    Chunked::Data(left) => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                        let left = left - n as u64;
                        self.state = State::Chunked(if left == 0 {
                            Chunked::DataEnd
                        } else {
                            Chunked::Data(left)
                        });
                        return Ok(Some(Frame::Data(buf.split_to(n).to_vec())));
                    }
                    Chunked::DataEnd => {
                        let Some(line) = take_line(buf)? else {
                            return Ok(None);
                        };
                        if !line.is_empty() {
                            return Err(Error::with_message(
                                ErrorKind::InvalidData,
                                "chunk data not followed by CRLF",
                            ));
                        }
                        self.state = State::Chunked(Chunked::Size);
                    }
                    Chunked::Trailer(seen) => {
                        let Some(line) = take_line(buf)? else {
                            return Ok(None);
                        };
                        if line.is_empty() {
                            self.state = State::Chunked(Chunked::Done);
                            return Ok(Some(Frame::End));
                        }
                        if seen >= CHUNK_TRAILER_LIMIT {
                            return Err(Error::with_message(
                                ErrorKind::LineTooLong,
                                format!("more than {CHUNK_TRAILER_LIMIT} trailer lines"),
                            ));
                        }
                        self.state = State::Chunked(Chunked::Trailer(seen + 1));
                    }
                    Chunked::Done => return Ok(None),
                },
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        match self.state {
            State::UntilClosed | State::ByLength(0) | State::Chunked(Chunked::Done) => {
                Ok(Some(Frame::End))
            }
            State::ByLength(left) => Err(Error::with_message(
                ErrorKind::Closed,
                format!("stream closed {left} bytes before the end of a by-length body"),
            )),
            State::Chunked(_) => Err(Error::with_message(
                ErrorKind::Closed,
                "stream closed before the last chunk",
            )),
        }
    }
}
