//! Socket options: the one table of sock.lua option names -> `socket2`
//! calls, behind every socket's `setopt`/`getopt`.
//!
//! Names (an `so_` prefix is accepted too): `reuseaddr`, `reuseport`,
//! `keepalive`, `broadcast`, `linger`, `rcvbuf`, `sndbuf`, `rcvtimeo`,
//! `sndtimeo`, `error` (read-only), `type` (read-only), `acceptconn`
//! (read-only), `oobinline`, `tcp_nodelay`, `tcp_keepidle`,
//! `tcp_keepintvl`, `tcp_keepcnt`, `tcp_maxseg`, `tcp_quickack`,
//! `tcp_user_timeout`, `ip_ttl`, `ip_tos`, `ip_multicast_ttl`,
//! `ip_multicast_loop`, `ipv6_v6only`, `ipv6_unicast_hops`,
//! `ipv6_multicast_hops`, `ipv6_multicast_loop`.
//!
//! `rcvlowat`, `sndlowat` and `dontroute` are known names but have no safe
//! call in `socket2`/`rustix`, and sockloop has no `unsafe`: they return an
//! error of kind [`ErrorKind::Other`] saying so.

use std::fmt;
use std::time::Duration;

use socket2::{SockRef, Socket, TcpKeepalive};

use crate::error::{Error, ErrorKind, Result};

/// A socket option value for [`Tcp::setopt`](crate::Tcp::setopt) and
/// friends.
///
/// Boolean options take `Bool` (or `Int`, non-zero = true), integer options
/// `Int`, time options `Duration` (or `Int` seconds). `linger` takes
/// `Bool(false)` (off) or a `Duration`/`Int` (on, with that time) and reads
/// back as `Duration` when on, `Bool(false)` when off. `rcvtimeo`/`sndtimeo`
/// read back `Duration::ZERO` when unset. `type` reads as `Str("tcp")`...,
/// `error` as `Int` (the pending OS error number, 0 for none).
///
/// # Examples
///
/// ```
/// use sockloop::OptValue;
/// assert_eq!(OptValue::from(true), OptValue::Bool(true));
/// assert_eq!(OptValue::from(4096u32), OptValue::Int(4096));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptValue {
    /// A flag.
    Bool(bool),
    /// A number.
    Int(i64),
    /// A time.
    Duration(Duration),
    /// A name.
    Str(String),
}

impl OptValue {
    /// The flag, for `Bool` (and `Int`: non-zero).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OptValue::Bool(b) => Some(*b),
            OptValue::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    /// The number, for `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            OptValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The time, for `Duration` (and `Int`: seconds).
    pub fn as_duration(&self) -> Option<Duration> {
        match self {
            OptValue::Duration(d) => Some(*d),
            OptValue::Int(i) if *i >= 0 => Some(Duration::from_secs(*i as u64)),
            _ => None,
        }
    }

    /// The text, for `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            OptValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptValue::Bool(b) => write!(f, "{b}"),
            OptValue::Int(i) => write!(f, "{i}"),
            OptValue::Duration(d) => write!(f, "{}", d.as_secs_f64()),
            OptValue::Str(s) => f.write_str(s),
        }
    }
}

impl From<bool> for OptValue {
    fn from(v: bool) -> OptValue {
        OptValue::Bool(v)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for OptValue {
            fn from(v: $t) -> OptValue {
                OptValue::Int(v as i64)
            }
        }
    )*};
}
from_int!(i32, u32, i64, u8, u16, i16);

impl From<usize> for OptValue {
    fn from(v: usize) -> OptValue {
        OptValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<Duration> for OptValue {
    fn from(v: Duration) -> OptValue {
        OptValue::Duration(v)
    }
}

impl From<&str> for OptValue {
    fn from(v: &str) -> OptValue {
        OptValue::Str(v.to_string())
    }
}

impl From<String> for OptValue {
    fn from(v: String) -> OptValue {
        OptValue::Str(v)
    }
}

fn bad(name: &str, v: &OptValue, want: &str) -> Error {
    Error::with_message(
        ErrorKind::InvalidOptionValue,
        format!("option {name:?} wants {want}, got {v:?}"),
    )
}

fn flag(name: &str, v: &OptValue) -> Result<bool> {
    v.as_bool().ok_or_else(|| bad(name, v, "a bool"))
}

fn uint(name: &str, v: &OptValue) -> Result<u32> {
    match v {
        OptValue::Int(i) => u32::try_from(*i).map_err(|_| bad(name, v, "a number in 0..2^32")),
        _ => Err(bad(name, v, "a number")),
    }
}

fn dur(name: &str, v: &OptValue) -> Result<Duration> {
    v.as_duration()
        .ok_or_else(|| bad(name, v, "a duration or seconds"))
}

/// Known options that have no safe call.
const UNSUPPORTED: &[&str] = &["rcvlowat", "sndlowat", "dontroute"];

fn normalize(name: &str) -> &str {
    name.strip_prefix("so_").unwrap_or(name)
}

fn unknown(name: &str) -> Error {
    Error::with_message(
        ErrorKind::UnknownOption,
        format!("unknown socket option {name:?}"),
    )
}

fn unsupported(name: &str) -> Error {
    Error::with_message(
        ErrorKind::Other,
        format!("socket option {name:?} is not supported: it has no safe call in socket2/rustix"),
    )
}

/// Sets option `name` on `s`.
pub(crate) fn setopt(s: &Socket, name: &str, v: &OptValue) -> Result<()> {
    let n = normalize(name);
    let r = SockRef::from(s);
    let res = match n {
        "reuseaddr" => r.set_reuse_address(flag(n, v)?),
        "reuseport" => r.set_reuse_port(flag(n, v)?),
        "keepalive" => r.set_keepalive(flag(n, v)?),
        "broadcast" => r.set_broadcast(flag(n, v)?),
        "linger" => match v {
            OptValue::Bool(false) => r.set_linger(None),
            OptValue::Bool(true) => r.set_linger(Some(Duration::ZERO)),
            _ => r.set_linger(Some(dur(n, v)?)),
        },
        "rcvbuf" => r.set_recv_buffer_size(uint(n, v)? as usize),
        "sndbuf" => r.set_send_buffer_size(uint(n, v)? as usize),
        "rcvtimeo" => r.set_read_timeout(Some(dur(n, v)?).filter(|d| !d.is_zero())),
        "sndtimeo" => r.set_write_timeout(Some(dur(n, v)?).filter(|d| !d.is_zero())),
        "oobinline" => r.set_out_of_band_inline(flag(n, v)?),
        "error" | "type" | "acceptconn" => {
            return Err(Error::with_message(
                ErrorKind::ReadOnlyOption,
                format!("socket option {name:?} can only be read"),
            ))
        }
        "tcp_nodelay" => r.set_nodelay(flag(n, v)?),
        "tcp_keepidle" => {
            let keep = r.keepalive()?;
            let res = r.set_tcp_keepalive(&TcpKeepalive::new().with_time(dur(n, v)?));
            // set_tcp_keepalive turns SO_KEEPALIVE on; keep it as it was.
            res.and_then(|()| r.set_keepalive(keep))
        }
        "tcp_keepintvl" => {
            let keep = r.keepalive()?;
            let res = r.set_tcp_keepalive(&TcpKeepalive::new().with_interval(dur(n, v)?));
            res.and_then(|()| r.set_keepalive(keep))
        }
        "tcp_keepcnt" => {
            let keep = r.keepalive()?;
            let res = r.set_tcp_keepalive(&TcpKeepalive::new().with_retries(uint(n, v)?));
            res.and_then(|()| r.set_keepalive(keep))
        }
        "tcp_maxseg" => r.set_mss(uint(n, v)?),
        "tcp_quickack" => r.set_quickack(flag(n, v)?),
        "tcp_user_timeout" => r.set_tcp_user_timeout(Some(dur(n, v)?).filter(|d| !d.is_zero())),
        "ip_ttl" => r.set_ttl(uint(n, v)?),
        "ip_tos" => r.set_tos(uint(n, v)?),
        "ip_multicast_ttl" => r.set_multicast_ttl_v4(uint(n, v)?),
        "ip_multicast_loop" => r.set_multicast_loop_v4(flag(n, v)?),
        "ipv6_v6only" => r.set_only_v6(flag(n, v)?),
        "ipv6_unicast_hops" => r.set_unicast_hops_v6(uint(n, v)?),
        "ipv6_multicast_hops" => r.set_multicast_hops_v6(uint(n, v)?),
        "ipv6_multicast_loop" => r.set_multicast_loop_v6(flag(n, v)?),
        _ if UNSUPPORTED.contains(&n) => return Err(unsupported(name)),
        _ => return Err(unknown(name)),
    };
    res.map_err(|e| Error::from(e).context(format!("setopt {name}")))
}

/// Reads option `name` from `s`.
pub(crate) fn getopt(s: &Socket, name: &str) -> Result<OptValue> {
    let n = normalize(name);
    let r = SockRef::from(s);
    let b = OptValue::Bool;
    let i = |v: u32| OptValue::Int(i64::from(v));
    let res = match n {
        "reuseaddr" => r.reuse_address().map(b),
        "reuseport" => r.reuse_port().map(b),
        "keepalive" => r.keepalive().map(b),
        "broadcast" => r.broadcast().map(b),
        "linger" => r.linger().map(|l| match l {
            Some(d) => OptValue::Duration(d),
            None => OptValue::Bool(false),
        }),
        "rcvbuf" => r.recv_buffer_size().map(OptValue::from),
        "sndbuf" => r.send_buffer_size().map(OptValue::from),
        "rcvtimeo" => r
            .read_timeout()
            .map(|d| OptValue::Duration(d.unwrap_or_default())),
        "sndtimeo" => r
            .write_timeout()
            .map(|d| OptValue::Duration(d.unwrap_or_default())),
        "oobinline" => r.out_of_band_inline().map(b),
        "error" => r
            .take_error()
            .map(|e| OptValue::Int(e.and_then(|e| e.raw_os_error()).map_or(0, i64::from))),
        "type" => r.r#type().map(|t| {
            OptValue::from(if t == socket2::Type::STREAM {
                "tcp"
            } else if t == socket2::Type::DGRAM {
                "udp"
            } else {
                "raw"
            })
        }),
        "acceptconn" => r.is_listener().map(b),
        "tcp_nodelay" => r.nodelay().map(b),
        "tcp_keepidle" => r.keepalive_time().map(OptValue::Duration),
        "tcp_keepintvl" => r.keepalive_interval().map(OptValue::Duration),
        "tcp_keepcnt" => r.keepalive_retries().map(i),
        "tcp_maxseg" => r.mss().map(i),
        "tcp_quickack" => r.quickack().map(b),
        "tcp_user_timeout" => r
            .tcp_user_timeout()
            .map(|d| OptValue::Duration(d.unwrap_or_default())),
        "ip_ttl" => r.ttl().map(i),
        "ip_tos" => r.tos().map(i),
        "ip_multicast_ttl" => r.multicast_ttl_v4().map(i),
        "ip_multicast_loop" => r.multicast_loop_v4().map(b),
        "ipv6_v6only" => r.only_v6().map(b),
        "ipv6_unicast_hops" => r.unicast_hops_v6().map(i),
        "ipv6_multicast_hops" => r.multicast_hops_v6().map(i),
        "ipv6_multicast_loop" => r.multicast_loop_v6().map(b),
        _ if UNSUPPORTED.contains(&n) => return Err(unsupported(name)),
        _ => return Err(unknown(name)),
    };
    res.map_err(|e| Error::from(e).context(format!("getopt {name}")))
}
