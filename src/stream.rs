//! (private) The looping stream calls, `recvn` and `recvall`, written once
//! over a poll function that reads part of one sockloop call: the partial
//! counts, `"eof"` and the data kept on error are the same for every
//! stream socket that uses them.

use std::future::poll_fn;
use std::task::{Context, Poll};

use crate::error::{Error, ErrorKind, Result};
use crate::sock::Call;

/// Fills all of `buf` (non-empty) with reads of the call `call`; the
/// peer's end first is `"eof"`; every error carries `partial()`.
pub(crate) async fn recvn(
    buf: &mut [u8],
    call: &mut Call,
    mut read: impl FnMut(&mut Context<'_>, &mut Call, &mut [u8]) -> Poll<Result<usize>>,
) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let rest = &mut buf[got..];
        match poll_fn(|cx| read(cx, call, rest)).await {
            Ok(0) => return Err(Error::new(ErrorKind::Eof).with_partial(got)),
            Ok(n) => got += n,
            Err(e) => return Err(e.with_partial(got)),
        }
    }
    Ok(got)
}

/// Reads until the peer's end with reads of the call `call`; an error
/// carries `partial()` and the bytes read so far.
pub(crate) async fn recvall(
    call: &mut Call,
    mut read: impl FnMut(&mut Context<'_>, &mut Call, &mut [u8]) -> Poll<Result<usize>>,
) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match poll_fn(|cx| read(cx, call, &mut chunk)).await {
            Ok(0) => return Ok(data),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) => {
                let n = data.len();
                return Err(e.with_partial(n).with_data(data));
            }
        }
    }
}
