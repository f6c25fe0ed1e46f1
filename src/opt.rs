//! Socket options: the one table of sock.lua option names -> `socket2`
//! calls, behind every socket's `setopt`/`getopt`.
//!
//! Every option is one row of [`OPTS`]: its name, the type and range of
//! its kernel field ([`Ty`]), and its setter and getter. A value is checked
//! against its row's type by one function, [`check`], before any call is
//! made, so a value the field cannot hold is `"invalid_option_value"` and
//! never wraps.
//!
//! `rcvlowat`, `sndlowat` and `dontroute` are known names with no safe call
//! in `socket2` or `rustix` (and sockloop has no `unsafe`): they are
//! `"not_supported"`, saying so.

use std::fmt;
use std::io;
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
/// # Names, types and ranges
///
/// An `so_` prefix is accepted on every name. A value outside the range
/// of the option's kernel field, or of the wrong type, is
/// `"invalid_option_value"` and changes nothing; so is a value the kernel
/// rejects (`EINVAL`, e.g. `tcp_keepcnt` over 127).
///
/// | name | value | range |
/// | --- | --- | --- |
/// | `reuseaddr`, `reuseport`, `keepalive`, `broadcast`, `oobinline`, `tcp_nodelay`, `tcp_quickack`, `ip_multicast_loop`, `ipv6_v6only`, `ipv6_multicast_loop` | bool | — |
/// | `rcvbuf`, `sndbuf` | int (bytes; the kernel doubles it) | 0 ..= 2^31-1 |
/// | `priority` | int (`SO_PRIORITY`; over 6 needs `CAP_NET_ADMIN`, else `"access_denied"`) | 0 ..= 2^31-1 |
/// | `tcp_keepcnt`, `tcp_maxseg` | int | 0 ..= 2^31-1 |
/// | `ip_ttl` | int | 1 ..= 255 |
/// | `ip_tos`, `ip_multicast_ttl`, `ipv6_unicast_hops`, `ipv6_multicast_hops` | int | 0 ..= 255 |
/// | `linger` | `false` (off) or a time in whole seconds (on) | 0 ..= 2^31-1 s |
/// | `tcp_keepidle`, `tcp_keepintvl` | time, whole seconds | 0 ..= 2^31-1 s |
/// | `tcp_user_timeout` | time, whole milliseconds (0: system default) | 0 ..= 2^31-1 ms |
/// | `rcvtimeo`, `sndtimeo` | time, whole microseconds (0: none; the kernel rounds up to its tick) | 0 ..= 2^31-1 s |
/// | `error`, `type`, `acceptconn` | read-only | — |
/// | `rcvlowat`, `sndlowat`, `dontroute` | `"not_supported"` | — |
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

crate::thread::plain_outputs!(OptValue);

impl OptValue {
    /// The flag, for `Bool` (and `Int`: non-zero).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// s.setopt("tcp_nodelay", true)?;
    /// assert_eq!(s.getopt("tcp_nodelay")?.as_bool(), Some(true));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OptValue::Bool(b) => Some(*b),
            OptValue::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    /// The number, for `Int`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::udp()?;
    /// s.setopt("ip_ttl", 32)?;
    /// assert_eq!(s.getopt("ip_ttl")?.as_int(), Some(32));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn as_int(&self) -> Option<i64> {
        match self {
            OptValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The time, for `Duration` (and `Int`: seconds).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = sockloop::tcp()?;
    /// s.setopt("linger", Duration::from_secs(2))?;
    /// assert_eq!(s.getopt("linger")?.as_duration(), Some(Duration::from_secs(2)));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn as_duration(&self) -> Option<Duration> {
        match self {
            OptValue::Duration(d) => Some(*d),
            OptValue::Int(i) if *i >= 0 => Some(Duration::from_secs(*i as u64)),
            _ => None,
        }
    }

    /// The text, for `Str`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = sockloop::tcp()?;
    /// assert_eq!(s.getopt("type")?.as_str(), Some("tcp"));
    /// # Ok::<(), sockloop::Error>(())
    /// ```
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

fn bad(name: &str, v: &OptValue, want: impl fmt::Display) -> Error {
    Error::with_message(
        ErrorKind::InvalidOptionValue,
        format!("option {name:?} wants {want}, got {v:?}"),
    )
}

/// The largest value of a C `int` field.
const INT_MAX: i64 = i32::MAX as i64;

/// The type of an option's kernel field and the range it holds.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// A flag (a C `int`, non-zero = on).
    Bool,
    /// An integer in `lo..=hi`.
    Int(i64, i64),
    /// A time in whole `unit`s, at most `max` of them.
    Time { unit: Unit, max: u64 },
    /// `linger`: off, or on with a time in whole seconds.
    Linger,
    /// Can be read, not set.
    ReadOnly,
    /// A known name with no safe call; the reason.
    Unsupported(&'static str),
}

/// The resolution of a time field.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Sec,
    Milli,
    Micro,
}

impl Unit {
    fn nanos(self) -> u128 {
        match self {
            Unit::Sec => 1_000_000_000,
            Unit::Milli => 1_000_000,
            Unit::Micro => 1_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Sec => "seconds",
            Unit::Milli => "milliseconds",
            Unit::Micro => "microseconds",
        }
    }
}

/// A value that passed [`check`]: it fits its field.
#[derive(Debug, Clone, Copy)]
enum Val {
    Bool(bool),
    Int(i64),
    Time(Duration),
    Off,
}

impl Val {
    fn flag(self) -> bool {
        matches!(self, Val::Bool(true))
    }

    /// The integer; `check` has put it in its field's range (at most
    /// `u32::MAX` for every row).
    fn uint(self) -> u32 {
        match self {
            Val::Int(i) => u32::try_from(i).unwrap_or(u32::MAX),
            _ => 0,
        }
    }

    fn time(self) -> Duration {
        match self {
            Val::Time(d) => d,
            _ => Duration::ZERO,
        }
    }

    /// The time, `None` for zero (the option's "unset").
    fn time_or_unset(self) -> Option<Duration> {
        Some(self.time()).filter(|d| !d.is_zero())
    }
}

type Setter = fn(&SockRef<'_>, Val) -> io::Result<()>;
type Getter = fn(&SockRef<'_>) -> io::Result<OptValue>;

/// One option: its sock.lua name, field type, setter and getter.
struct Opt {
    name: &'static str,
    ty: Ty,
    set: Setter,
    get: Getter,
}

const C_INT: Ty = Ty::Int(0, INT_MAX);
const BYTE: Ty = Ty::Int(0, 255);
const SECS: Ty = Ty::Time {
    unit: Unit::Sec,
    max: INT_MAX as u64,
};
/// A `struct timeval`, as the kernel keeps it (in whole seconds that fit
/// an `int`, to stay clear of its "forever" threshold).
const TIMEVAL: Ty = Ty::Time {
    unit: Unit::Micro,
    max: INT_MAX as u64 * 1_000_000,
};

fn no_set(_: &SockRef<'_>, _: Val) -> io::Result<()> {
    Ok(())
}

fn no_get(_: &SockRef<'_>) -> io::Result<OptValue> {
    Ok(OptValue::Bool(false))
}

fn int(v: u32) -> OptValue {
    OptValue::Int(i64::from(v))
}

/// A time option that is unset reads as zero.
fn unset_is_zero(d: Option<Duration>) -> OptValue {
    OptValue::Duration(d.unwrap_or_default())
}

/// Sets one keepalive field; `set_tcp_keepalive` also turns
/// `SO_KEEPALIVE` on (before it tries the field), so it is put back as it
/// was, also when the kernel refuses the field.
fn keepalive_field(r: &SockRef<'_>, k: TcpKeepalive) -> io::Result<()> {
    let was = r.keepalive()?;
    let set = r.set_tcp_keepalive(&k);
    let restored = r.set_keepalive(was);
    set.and(restored)
}

const UNSUPPORTED: &str = "neither socket2 nor rustix has a safe call for it, and sockloop has \
                           no unsafe code";

/// A row for a flag with plain socket2 calls.
macro_rules! flag {
    ($name:literal, $set:ident, $get:ident) => {
        Opt {
            name: $name,
            ty: Ty::Bool,
            set: |r, v| r.$set(v.flag()),
            get: |r| r.$get().map(OptValue::Bool),
        }
    };
}

/// A row for an integer with plain socket2 calls taking a `u32`.
macro_rules! int {
    ($name:literal, $ty:expr, $set:ident, $get:ident) => {
        Opt {
            name: $name,
            ty: $ty,
            set: |r, v| r.$set(v.uint()),
            get: |r| r.$get().map(int),
        }
    };
}

/// A row for a known option with no safe call.
macro_rules! unsupported {
    ($name:literal) => {
        Opt {
            name: $name,
            ty: Ty::Unsupported(UNSUPPORTED),
            set: no_set,
            get: no_get,
        }
    };
}

/// The option table. Linux names; `so_` prefixes are stripped first.
static OPTS: &[Opt] = &[
    flag!("reuseaddr", set_reuse_address, reuse_address),
    flag!("reuseport", set_reuse_port, reuse_port),
    flag!("keepalive", set_keepalive, keepalive),
    flag!("broadcast", set_broadcast, broadcast),
    flag!("oobinline", set_out_of_band_inline, out_of_band_inline),
    Opt {
        name: "linger",
        ty: Ty::Linger,
        set: |r, v| {
            r.set_linger(match v {
                Val::Off => None,
                v => Some(v.time()),
            })
        },
        get: |r| {
            r.linger()
                .map(|l| l.map_or(OptValue::Bool(false), OptValue::Duration))
        },
    },
    Opt {
        name: "rcvbuf",
        ty: C_INT,
        set: |r, v| r.set_recv_buffer_size(v.uint() as usize),
        get: |r| r.recv_buffer_size().map(OptValue::from),
    },
    Opt {
        name: "sndbuf",
        ty: C_INT,
        set: |r, v| r.set_send_buffer_size(v.uint() as usize),
        get: |r| r.send_buffer_size().map(OptValue::from),
    },
    Opt {
        name: "rcvtimeo",
        ty: TIMEVAL,
        set: |r, v| r.set_read_timeout(v.time_or_unset()),
        get: |r| r.read_timeout().map(unset_is_zero),
    },
    Opt {
        name: "sndtimeo",
        ty: TIMEVAL,
        set: |r, v| r.set_write_timeout(v.time_or_unset()),
        get: |r| r.write_timeout().map(unset_is_zero),
    },
    Opt {
        name: "priority",
        ty: C_INT,
        set: |r, v| r.set_priority(v.uint()),
        get: |r| r.priority().map(int),
    },
    Opt {
        name: "error",
        ty: Ty::ReadOnly,
        set: no_set,
        get: |r| {
            r.take_error()
                .map(|e| OptValue::Int(e.and_then(|e| e.raw_os_error()).map_or(0, i64::from)))
        },
    },
    Opt {
        name: "type",
        ty: Ty::ReadOnly,
        set: no_set,
        get: |r| {
            r.r#type().map(|t| {
                OptValue::from(if t == socket2::Type::STREAM {
                    "tcp"
                } else if t == socket2::Type::DGRAM {
                    "udp"
                } else {
                    "raw"
                })
            })
        },
    },
    Opt {
        name: "acceptconn",
        ty: Ty::ReadOnly,
        set: no_set,
        get: |r| r.is_listener().map(OptValue::Bool),
    },
    unsupported!("rcvlowat"),
    unsupported!("sndlowat"),
    unsupported!("dontroute"),
    flag!("tcp_nodelay", set_tcp_nodelay, tcp_nodelay),
    Opt {
        name: "tcp_keepidle",
        ty: SECS,
        set: |r, v| keepalive_field(r, TcpKeepalive::new().with_time(v.time())),
        get: |r| r.tcp_keepalive_time().map(OptValue::Duration),
    },
    Opt {
        name: "tcp_keepintvl",
        ty: SECS,
        set: |r, v| keepalive_field(r, TcpKeepalive::new().with_interval(v.time())),
        get: |r| r.tcp_keepalive_interval().map(OptValue::Duration),
    },
    Opt {
        name: "tcp_keepcnt",
        ty: C_INT,
        set: |r, v| keepalive_field(r, TcpKeepalive::new().with_retries(v.uint())),
        get: |r| r.tcp_keepalive_retries().map(int),
    },
    int!("tcp_maxseg", C_INT, set_tcp_mss, tcp_mss),
    flag!("tcp_quickack", set_tcp_quickack, tcp_quickack),
    Opt {
        name: "tcp_user_timeout",
        ty: Ty::Time {
            unit: Unit::Milli,
            max: INT_MAX as u64,
        },
        set: |r, v| r.set_tcp_user_timeout(v.time_or_unset()),
        get: |r| r.tcp_user_timeout().map(unset_is_zero),
    },
    int!("ip_ttl", Ty::Int(1, 255), set_ttl_v4, ttl_v4),
    int!("ip_tos", BYTE, set_tos_v4, tos_v4),
    int!(
        "ip_multicast_ttl",
        BYTE,
        set_multicast_ttl_v4,
        multicast_ttl_v4
    ),
    flag!(
        "ip_multicast_loop",
        set_multicast_loop_v4,
        multicast_loop_v4
    ),
    flag!("ipv6_v6only", set_only_v6, only_v6),
    int!(
        "ipv6_unicast_hops",
        BYTE,
        set_unicast_hops_v6,
        unicast_hops_v6
    ),
    int!(
        "ipv6_multicast_hops",
        BYTE,
        set_multicast_hops_v6,
        multicast_hops_v6
    ),
    flag!(
        "ipv6_multicast_loop",
        set_multicast_loop_v6,
        multicast_loop_v6
    ),
];

/// The table row for `name` (`so_` prefix accepted).
fn find(name: &str) -> Result<&'static Opt> {
    let n = name.strip_prefix("so_").unwrap_or(name);
    OPTS.iter().find(|o| o.name == n).ok_or_else(|| {
        Error::with_message(
            ErrorKind::UnknownOption,
            format!("unknown socket option {name:?}"),
        )
    })
}

fn unsupported(name: &str, why: &str) -> Error {
    Error::with_message(
        ErrorKind::NotSupported,
        format!("socket option {name:?} is not supported: {why}"),
    )
}

/// The one range check: `v` as a value of type `ty`, or
/// `"invalid_option_value"` when the field cannot hold it.
fn check(name: &str, ty: Ty, v: &OptValue) -> Result<Val> {
    match ty {
        Ty::Bool => v
            .as_bool()
            .map(Val::Bool)
            .ok_or_else(|| bad(name, v, "a bool")),
        Ty::Int(lo, hi) => match v {
            OptValue::Int(i) if (lo..=hi).contains(i) => Ok(Val::Int(*i)),
            _ => Err(bad(name, v, format_args!("an integer in {lo}..={hi}"))),
        },
        Ty::Time { unit, max } => {
            let want = || {
                format!(
                    "a time in whole {} from 0 to {max} {}",
                    unit.name(),
                    unit.name()
                )
            };
            let d = match v {
                OptValue::Duration(d) => *d,
                OptValue::Int(i) => match u64::try_from(*i) {
                    Ok(s) => Duration::from_secs(s),
                    Err(_) => return Err(bad(name, v, want())),
                },
                _ => return Err(bad(name, v, want())),
            };
            let n = d.as_nanos();
            if n % unit.nanos() != 0 || n / unit.nanos() > u128::from(max) {
                return Err(bad(name, v, want()));
            }
            Ok(Val::Time(d))
        }
        Ty::Linger => match v {
            OptValue::Bool(false) => Ok(Val::Off),
            OptValue::Bool(true) => Ok(Val::Time(Duration::ZERO)),
            _ => check(name, SECS, v).map_err(|_| {
                bad(
                    name,
                    v,
                    "false (off) or a time in whole seconds up to 2^31-1",
                )
            }),
        },
        Ty::ReadOnly => Err(Error::with_message(
            ErrorKind::ReadOnlyOption,
            format!("socket option {name:?} can only be read"),
        )),
        Ty::Unsupported(why) => Err(unsupported(name, why)),
    }
}

/// Sets option `name` on `s`.
pub(crate) fn setopt(s: &Socket, name: &str, v: &OptValue) -> Result<()> {
    let o = find(name)?;
    let val = check(name, o.ty, v)?;
    (o.set)(&SockRef::from(s), val).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidInput {
            // EINVAL: the field holds the value but the kernel refuses it.
            Error::with_message(
                ErrorKind::InvalidOptionValue,
                format!("option {name:?}: the kernel rejected {v:?} ({e})"),
            )
        } else {
            Error::from(e).context(format!("setopt {name}"))
        }
    })
}

/// Reads option `name` from `s`.
pub(crate) fn getopt(s: &Socket, name: &str) -> Result<OptValue> {
    let o = find(name)?;
    if let Ty::Unsupported(why) = o.ty {
        return Err(unsupported(name, why));
    }
    (o.get)(&SockRef::from(s)).map_err(|e| Error::from(e).context(format!("getopt {name}")))
}
