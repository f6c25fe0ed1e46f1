//! LuaSocket's receive patterns (`"*l"`, `"*a"`, a byte count) over any
//! buffered async reader. The socketloop layer's `ASocket::receive` is built
//! on [`receive`].

use std::fmt;
use std::str::FromStr;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{Error, ErrorKind, Result};

/// The longest line (in bytes, CRs included, LF excluded) that a `"*l"`
/// receive accepts by default: 1 MiB.
///
/// LuaSocket has no limit; a limit keeps a peer that never sends a newline
/// from growing the buffer without bound. Pass another value to
/// [`receive`] where a protocol needs longer lines.
///
/// # Examples
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket::{receive, DEFAULT_LINE_LIMIT};
/// let long = vec![b'x'; DEFAULT_LINE_LIMIT + 1];
/// let mut input = &long[..]; // no newline within the limit
/// let e = receive(&mut input, "*l", b"", DEFAULT_LINE_LIMIT).await.unwrap_err();
/// assert_eq!(e.name(), "line_too_long");
/// # });
/// ```
pub const DEFAULT_LINE_LIMIT: usize = 1 << 20;

/// How much a LuaSocket-style `receive` reads.
///
/// Built from the Lua pattern: `"*l"` gives [`Line`](Pattern::Line), `"*a"`
/// gives [`All`](Pattern::All) (LuaSocket looks at two characters only, so
/// `"*line"` and `"*all"` work too), a number gives [`Bytes`](Pattern::Bytes). A decimal string such as `"10"` is a byte count
/// too, as Lua's number coercion makes it. Any other string gives
/// [`Invalid`](Pattern::Invalid), which [`receive`] rejects with an `Err`
/// named `"invalid_argument"`; use [`Pattern::parse`] (or `str::parse`) to
/// get that error at once instead.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::Pattern;
///
/// assert_eq!(Pattern::from("*l"), Pattern::Line);
/// assert_eq!(Pattern::from("*a"), Pattern::All);
/// assert_eq!(Pattern::from(512), Pattern::Bytes(512));
/// assert!(matches!(Pattern::from("*x"), Pattern::Invalid(_)));
/// assert_eq!("*x".parse::<Pattern>().unwrap_err().name(), "invalid_argument");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Pattern {
    /// `"*l"`: one line. LF ends it and is not returned; every CR in the
    /// line is dropped (LuaSocket's `recvline`). The default, as LuaSocket's
    /// `receive()` without a pattern.
    #[default]
    Line,
    /// `"*a"`: everything until the peer closes; the close is not an error.
    All,
    /// `n`: `n` bytes in all, the prefix counted (see [`receive`]).
    Bytes(usize),
    /// A pattern string LuaSocket does not know (kept to name it in the error).
    Invalid(String),
}

impl Pattern {
    /// Parses a LuaSocket pattern string.
    ///
    /// # Errors
    ///
    /// `"invalid_argument"` for a string that does not start with `"*l"` or
    /// `"*a"` and is not a decimal byte count; the message quotes the string.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket::Pattern;
    /// assert_eq!(Pattern::parse("*l")?, Pattern::Line);
    /// assert_eq!(Pattern::parse("512")?, Pattern::Bytes(512));
    /// assert_eq!(Pattern::parse("*x").unwrap_err().name(), "invalid_argument");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Pattern> {
        match Pattern::from(s) {
            Pattern::Invalid(s) => Err(invalid_pattern(&s)),
            p => Ok(p),
        }
    }
}

fn invalid_pattern(s: &str) -> Error {
    Error::with_message(
        ErrorKind::InvalidArgument,
        format!("invalid receive pattern {s:?} (expected \"*l\", \"*a\" or a byte count)"),
    )
}

impl From<&str> for Pattern {
    fn from(s: &str) -> Pattern {
        // LuaSocket checks the first two characters only, so "*line" and
        // "*all" work too.
        if s.starts_with("*l") {
            return Pattern::Line;
        }
        if s.starts_with("*a") {
            return Pattern::All;
        }
        match s.trim().parse::<usize>() {
            Ok(n) => Pattern::Bytes(n),
            Err(_) => Pattern::Invalid(s.to_owned()),
        }
    }
}

impl From<usize> for Pattern {
    fn from(n: usize) -> Pattern {
        Pattern::Bytes(n)
    }
}

impl FromStr for Pattern {
    type Err = Error;

    fn from_str(s: &str) -> Result<Pattern> {
        Pattern::parse(s)
    }
}

impl fmt::Display for Pattern {
    /// The Lua spelling: `*l`, `*a`, the count, or the invalid string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Line => f.write_str("*l"),
            Pattern::All => f.write_str("*a"),
            Pattern::Bytes(n) => write!(f, "{n}"),
            Pattern::Invalid(s) => f.write_str(s),
        }
    }
}

/// Receives from `reader` by a LuaSocket pattern, as LuaSocket's
/// `tcp:receive(pattern, prefix)` does, returning `prefix` followed by the
/// bytes read.
///
/// * [`Pattern::Line`]: reads up to and including the next LF; returns the
///   line without the LF and without any CR (all of them, not only a
///   trailing one).
/// * [`Pattern::All`]: reads until end of stream; the end is not an error.
/// * [`Pattern::Bytes`]`(n)`: returns `n` bytes in all, **the prefix
///   counted**, as LuaSocket 3.0 does so that `receive(n, partial)` resumes a
///   read cut short: it reads `n - prefix.len()` bytes, and nothing when the
///   prefix is already that long (the prefix is then returned whole).
///
/// Nothing beyond what the pattern needs is consumed from `reader`, so
/// receives can be chained on one buffered reader.
///
/// # Errors
///
/// * `"closed"`: the stream ended before the line's LF or before `n` bytes.
///   [`Error::take_data`] returns what was received so far, `prefix`
///   included (CRs already dropped for a line), possibly just the prefix —
///   LuaSocket's third return value.
/// * `"line_too_long"`: the line grew past `max_line` bytes (CRs counted,
///   LF not). The bytes kept so far are in `take_data()`; the rest of the
///   line is still unread, so such a stream is best closed.
/// * `"invalid_argument"`: a [`Pattern::Invalid`] pattern (nothing is read).
/// * Any I/O error from `reader`, converted to its normalized name, with the
///   bytes received so far in `take_data()`.
///
/// # Cancel safety
///
/// Not cancel safe: the bytes already consumed from `reader` are held by the
/// future and are lost if it is dropped before it completes.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::{receive, Pattern, DEFAULT_LINE_LIMIT};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut input: &[u8] = b"HTTP/1.1 200 OK\r\nbody";
/// let line = receive(&mut input, "*l", b"", DEFAULT_LINE_LIMIT).await?;
/// assert_eq!(line, b"HTTP/1.1 200 OK");
/// let mut err = receive(&mut input, 10, b">", DEFAULT_LINE_LIMIT).await.unwrap_err();
/// assert_eq!(err.name(), "closed");
/// assert_eq!(err.take_data().unwrap(), b">body");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
pub async fn receive<R>(
    reader: &mut R,
    pattern: impl Into<Pattern>,
    prefix: &[u8],
    max_line: usize,
) -> Result<Vec<u8>>
where
    R: AsyncBufRead + Unpin + ?Sized,
{
    match pattern.into() {
        Pattern::Line => receive_line(reader, prefix, max_line).await,
        Pattern::All => receive_all(reader, prefix).await,
        Pattern::Bytes(n) => receive_exact(reader, n.saturating_sub(prefix.len()), prefix).await,
        Pattern::Invalid(s) => Err(invalid_pattern(&s)),
    }
}

/// `"*l"`: see [`receive`].
pub(crate) async fn receive_line<R>(
    reader: &mut R,
    prefix: &[u8],
    max_line: usize,
) -> Result<Vec<u8>>
where
    R: AsyncBufRead + Unpin + ?Sized,
{
    let mut out = prefix.to_vec();
    // Bytes of this line consumed so far, CRs included, LF excluded.
    let mut line_len = 0usize;
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => return Err(Error::from(e).with_data(out)),
        };
        if buf.is_empty() {
            return Err(Error::closed().with_data(out));
        }
        let (body, found_lf) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        let room = max_line.saturating_sub(line_len);
        if body.len() > room {
            let kept = &body[..room];
            out.extend(kept.iter().copied().filter(|&b| b != b'\r'));
            reader.consume(room);
            return Err(Error::with_message(
                ErrorKind::LineTooLong,
                format!("line longer than {max_line} bytes"),
            )
            .with_data(out));
        }
        out.extend(body.iter().copied().filter(|&b| b != b'\r'));
        line_len += body.len();
        let used = body.len() + usize::from(found_lf);
        reader.consume(used);
        if found_lf {
            return Ok(out);
        }
    }
}

/// `"*a"`: see [`receive`].
pub(crate) async fn receive_all<R>(reader: &mut R, prefix: &[u8]) -> Result<Vec<u8>>
where
    R: AsyncBufRead + Unpin + ?Sized,
{
    let mut out = prefix.to_vec();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => return Err(Error::from(e).with_data(out)),
        };
        if buf.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(buf);
        let n = buf.len();
        reader.consume(n);
    }
}

/// Reads exactly `n` more bytes after `prefix` (the caller does the
/// prefix accounting of a byte-count pattern, see [`receive`]).
pub(crate) async fn receive_exact<R>(reader: &mut R, n: usize, prefix: &[u8]) -> Result<Vec<u8>>
where
    R: AsyncBufRead + Unpin + ?Sized,
{
    // Do not trust `n` for the allocation: it may come from the peer.
    let mut out = Vec::with_capacity(prefix.len() + n.min(64 * 1024));
    out.extend_from_slice(prefix);
    let mut left = n;
    while left > 0 {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => return Err(Error::from(e).with_data(out)),
        };
        if buf.is_empty() {
            return Err(Error::closed().with_data(out));
        }
        let take = buf.len().min(left);
        out.extend_from_slice(&buf[..take]);
        reader.consume(take);
        left -= take;
    }
    Ok(out)
}
