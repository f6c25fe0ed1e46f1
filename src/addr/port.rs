//! [`Port`]: a number or a service name, with the one port-string
//! parser; and the checks of hosts and Unix paths.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::invalid;
use crate::error::{Error, Result};

// ===== ports =====

/// A port: a number or a service name (`"http"`).
///
/// Every port string (`addr_with(host, "8080", ..)`, `("h", "80")`,
/// `"host:port"`) goes through one parser, [`Port::parse`] (also
/// `str::parse::<Port>()`): decimal digits are a port number and must be
/// in 0–65535; anything else is a service name from `/etc/services`.
/// `From<&str>` keeps a string it cannot parse as a [`Port::Service`], and
/// the lookup that uses it then fails with the parser's error.
///
/// # Examples
///
/// ```
/// use sockloop::Port;
/// assert_eq!(Port::parse("8080").unwrap(), Port::Number(8080));
/// assert_eq!(Port::parse("http").unwrap(), Port::Service("http".into()));
/// assert_eq!(Port::parse("99999").unwrap_err().name(), "invalid_address");
/// assert_eq!(Port::parse("").unwrap_err().name(), "invalid_address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    /// A port number (0 = any).
    Number(u16),
    /// A service name from `/etc/services`.
    Service(String),
}

impl Port {
    /// Parses a port string: decimal digits are a number in 0–65535
    /// (leading zeros allowed), anything else a service name.
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, with a message naming the port, for an empty
    /// string, a number above 65535, and a string that is neither a number
    /// nor a possible service name (a sign, whitespace or a NUL byte;
    /// `getaddrinfo` would read `"-1"` or `" 80"` as a number and wrap it).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::Port;
    /// assert_eq!(Port::parse("0080")?, Port::Number(80));
    /// assert_eq!(Port::parse("-1").unwrap_err().name(), "invalid_address");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Port> {
        let bad = |why: &str| invalid(format!("port {s:?} {why}"));
        if s.is_empty() {
            return Err(bad("is empty (use 0 for any port)"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u16>()
                .map(Port::Number)
                .map_err(|_| bad("is out of range (0-65535)"));
        }
        if s.starts_with(['+', '-']) || s.contains(|c: char| c.is_whitespace() || c == '\0') {
            return Err(bad("is neither a number nor a service name"));
        }
        Ok(Port::Service(s.to_string()))
    }

    /// The port checked by [`Port::parse`] (a `Service` holding a number
    /// becomes a `Number`).
    pub(super) fn checked(&self) -> Result<Port> {
        match self {
            Port::Number(n) => Ok(Port::Number(*n)),
            Port::Service(s) => Port::parse(s),
        }
    }
}

impl FromStr for Port {
    type Err = Error;
    /// [`Port::parse`].
    fn from_str(s: &str) -> Result<Port> {
        Port::parse(s)
    }
}

impl From<u16> for Port {
    fn from(p: u16) -> Port {
        Port::Number(p)
    }
}

impl From<&str> for Port {
    /// [`Port::parse`]; a string it rejects is kept as a `Service`, which
    /// the lookup rejects with the same error.
    fn from(s: &str) -> Port {
        Port::parse(s).unwrap_or_else(|_| Port::Service(s.to_string()))
    }
}

impl From<String> for Port {
    fn from(s: String) -> Port {
        Port::from(s.as_str())
    }
}

impl From<&String> for Port {
    fn from(s: &String) -> Port {
        Port::from(s.as_str())
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Service(s) => f.write_str(s),
        }
    }
}

// ===== hosts and paths =====

/// Checks a host string: a hostname, an IP literal (IPv6 optionally in
/// brackets) or `"*"`. The one host check of every lookup.
pub(super) fn check_host(host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(invalid(
            "host \"\" is empty (use \"*\" for all interfaces)".to_string(),
        ));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '\0') {
        return Err(invalid(format!("host {host:?} (whitespace or a NUL byte)")));
    }
    Ok(())
}

/// The longest Unix socket path: `sun_path` holds it with its closing NUL.
#[cfg(any(target_os = "linux", target_os = "android"))]
const UNIX_PATH_MAX: usize = 107;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const UNIX_PATH_MAX: usize = 103;

/// Checks a Unix socket path: no NUL byte (the kernel would stop there),
/// and short enough for `sun_path`. Every path bound, connected or sent
/// to goes through here.
pub(super) fn check_unix_path(p: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    if let Some(at) = b.iter().position(|&c| c == 0) {
        return Err(invalid(format!(
            "unix socket path {p:?}: a NUL byte at offset {at}"
        )));
    }
    if b.len() > UNIX_PATH_MAX {
        return Err(invalid(format!(
            "unix socket path {p:?}: {} bytes, sun_path holds at most {UNIX_PATH_MAX}",
            b.len()
        )));
    }
    Ok(())
}
