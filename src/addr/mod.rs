//! Address lookup (sock's `sock.addr`, `ai:*`, `sa:*`, `ip:*`): [`addr`],
//! [`addr_with`], [`addr_async`], [`AddrInfo`], [`SockAddr`], [`Hints`],
//! [`ToAddr`].
//!
//! Literal addresses (`"127.0.0.1"`, `"::1"`, `"[::1]"`, `"*"`) are parsed
//! here without the resolver; only real names go to `getaddrinfo`.
//!
//! The files: `kinds` (socket type, family, protocol), `sockaddr` (one
//! socket address), `port` (ports and the host/path checks), `lookup`
//! (address lists and the resolver), `to_addr` (what a socket call accepts
//! as an address).

use std::fmt;

use crate::error::{Error, ErrorKind};

mod kinds;
mod lookup;
mod port;
mod sockaddr;
mod to_addr;

pub use kinds::{Family, Protocol, SockType};
pub use lookup::{addr, addr_async, addr_with, AddrEntry, AddrInfo, Flags, Hints};
pub use port::Port;
pub use sockaddr::{IpAddrExt, SockAddr};
pub(crate) use to_addr::is_any;
pub use to_addr::{AddrRequest, ToAddr};

pub(crate) fn invalid(what: impl fmt::Display) -> Error {
    Error::with_message(ErrorKind::InvalidAddress, format!("invalid address {what}"))
}
