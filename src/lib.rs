//! sockloop: Lua-style coroutine sockets on Tokio.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod deadline;
mod error;
mod thread;
mod time;

#[macro_use]
mod sock;
mod addr;
mod opt;
mod raw;
mod tcp;
mod udp;

pub use addr::{
    addr, addr_async, addr_with, AddrEntry, AddrInfo, AddrRequest, Family, Flags, Hints, IpAddrExt,
    Port, Protocol, SockAddr, SockType, ToAddr,
};
pub use error::{Error, ErrorKind, Result};
pub use opt::OptValue;
pub use raw::{raw, Raw};
pub use std::net::IpAddr;
pub use tcp::{tcp, Tcp};
pub use time::clock;
pub use udp::{udp, Udp};
