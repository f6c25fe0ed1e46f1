//! LuaSocket's UDP objects (`socket.udp()`, `udp4()`, `udp6()`) over
//! sockloop's async [`Udp`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Result};
use crate::{clock, Family, Flags, Hints, OptValue, SockAddr, SockType, Udp};

use super::{DATAGRAMSIZE, SOCKETINVALID};

/// The largest datagram a UDP socket can receive (the 16-bit length field
/// of the UDP header): `receive(size)` never allocates more than this.
const MAX_DATAGRAM: usize = 65_535;

/// A LuaSocket UDP object (`socket.udp()`, `socket.udp4()`,
/// `socket.udp6()`): unconnected until [`setpeername`](UdpObject::setpeername),
/// connected after it, unconnected again after `setpeername("*")`.
///
/// Methods take `&self` and return LuaSocket's values: `Ok(..)` for the
/// results, `Err(e)` for `nil, err` (`e.name()` is sockloop's name,
/// `e.luasocket_str()` LuaSocket's word). Receives are async and wait at
/// most the [`settimeout`](UdpObject::settimeout) time; nothing blocks the
/// loop. The datagram calls run on an async [`Udp`]
/// ([`getsocket`](UdpObject::getsocket)).
///
/// # Examples
///
/// `echosrvr.lua` and `echoclnt.lua`, line by line:
///
/// ```
/// # sockloop::run(async {
/// use sockloop::luasocket;
///
/// let server = luasocket::udp()?;
/// server.setsockname("127.0.0.1", 0)?;
/// server.settimeout(Some(5.0));
/// let (ip, port, _family) = server.getsockname()?;
///
/// let client = luasocket::udp()?;
/// client.setpeername(&ip, port).await?;
/// client.send(b"hello").await?;
///
/// let (dgram, from_ip, from_port) = server.receivefrom(None).await?;
/// server.sendto(&dgram, &from_ip, from_port).await?;
/// assert_eq!(client.receive(None).await?, b"hello");
/// # Ok::<(), sockloop::Error>(())
/// # }).unwrap();
/// ```
#[doc(alias = "udp{connected}", alias = "udp{unconnected}")]
pub struct UdpObject {
    /// `None` until the family is chosen (`udp()`), or after `close`.
    sock: RefCell<Option<Rc<Udp>>>,
    /// `None`: `udp()`, family not chosen yet.
    family: Cell<Option<Family>>,
    connected: Cell<bool>,
    closed: Cell<bool>,
    timeout: Cell<Option<f64>>,
}

impl fmt::Debug for UdpObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpObject")
            .field("family", &self.family.get())
            .field("connected", &self.connected.get())
            .field("closed", &self.closed.get())
            .field("timeout", &self.timeout.get())
            .finish()
    }
}

/// `socket.udp()`: an unconnected UDP object whose family (IPv4 or IPv6)
/// is chosen by the first [`setsockname`](UdpObject::setsockname),
/// [`setpeername`](UdpObject::setpeername) or
/// [`sendto`](UdpObject::sendto), from the address it is given, as in
/// LuaSocket 3.0. Until then the object has no socket: the other calls
/// (`receive`, `setoption`, `getsockname`, ...) fail with `"closed"`,
/// saying why.
///
/// # Errors
///
/// None today (the socket is made later); `Result` for LuaSocket's
/// `nil, err` shape.
///
/// # Examples
///
/// ```
/// let u = sockloop::luasocket::udp()?;
/// assert_eq!(u.getsockname().unwrap_err().name(), "closed"); // no socket yet
/// u.setsockname("::1", 0)?; // IPv6 from now on
/// assert_eq!(u.getsockname()?.2, sockloop::Family::Inet6);
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn udp() -> Result<UdpObject> {
    Ok(UdpObject::empty(None))
}

/// `socket.udp4()`: an unconnected IPv4 UDP object. Needs no runtime.
///
/// # Errors
///
/// An OS error (e.g. out of descriptors).
///
/// # Examples
///
/// ```
/// use sockloop::{luasocket, Family};
/// let u = luasocket::udp4()?;
/// assert_eq!(u.getfamily(), Family::Inet);
/// // Not bound yet: the wildcard address, port 0.
/// assert_eq!(u.getsockname()?, ("0.0.0.0".to_string(), 0, Family::Inet));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn udp4() -> Result<UdpObject> {
    UdpObject::with_family(Family::Inet)
}

/// `socket.udp6()`: an unconnected IPv6 UDP object, with `ipv6-v6only`
/// set (as LuaSocket does). Needs no runtime.
///
/// # Errors
///
/// An OS error (e.g. no IPv6 support).
///
/// # Examples
///
/// ```
/// let u = sockloop::luasocket::udp6()?;
/// assert_eq!(u.getoption("ipv6-v6only")?.as_bool(), Some(true));
/// # Ok::<(), sockloop::Error>(())
/// ```
pub fn udp6() -> Result<UdpObject> {
    UdpObject::with_family(Family::Inet6)
}

/// A new datagram socket of `family`, as LuaSocket's `inet_trycreate`:
/// IPv6 sockets get `ipv6_v6only`.
fn new_udp(family: Family) -> Result<Udp> {
    let u = Udp::new(family)?;
    if family == Family::Inet6 {
        u.setopt("ipv6_v6only", true)?;
    }
    Ok(u)
}

/// LuaSocket's option names -> sock.lua's (`"ip-multicast-ttl"` ->
/// `ip_multicast_ttl`, `"recv-buffer-size"` -> `rcvbuf`).
fn option_name(name: &str) -> String {
    match name {
        "recv-buffer-size" => "rcvbuf".to_string(),
        "send-buffer-size" => "sndbuf".to_string(),
        n => n.replace('-', "_"),
    }
}

fn split(a: &SockAddr) -> (String, u16, Family) {
    (a.ip().to_string(), a.port(), a.family())
}

impl UdpObject {
    fn empty(family: Option<Family>) -> UdpObject {
        UdpObject {
            sock: RefCell::new(None),
            family: Cell::new(family),
            connected: Cell::new(false),
            closed: Cell::new(false),
            timeout: Cell::new(None),
        }
    }

    fn with_family(family: Family) -> Result<UdpObject> {
        let o = UdpObject::empty(Some(family));
        *o.sock.borrow_mut() = Some(Rc::new(new_udp(family)?));
        Ok(o)
    }

    /// The socket, or `"closed"` (closed, or `udp()` before its family
    /// was chosen).
    fn socket(&self) -> Result<Rc<Udp>> {
        if self.closed.get() {
            return Err(Error::with_message(
                ErrorKind::Closed,
                "the UDP object is closed",
            ));
        }
        match &*self.sock.borrow() {
            Some(s) => Ok(s.clone()),
            None => Err(Error::with_message(
                ErrorKind::Closed,
                "this udp() object has no socket yet: its family is chosen by the first \
                 setsockname, setpeername or sendto (udp4()/udp6() choose it at once)",
            )),
        }
    }

    /// The socket to use for an address of `family`: the object's own, or
    /// for `udp()` a new one (kept by [`adopt`](Self::adopt) once it works).
    fn socket_for(&self, family: Family) -> Result<Rc<Udp>> {
        if self.closed.get() {
            return self.socket();
        }
        match (&*self.sock.borrow(), self.family.get()) {
            (Some(s), _) => return Ok(s.clone()),
            (None, Some(f)) if f != family => {
                return Err(Error::with_message(
                    ErrorKind::InvalidAddress,
                    format!("a {family} address for a {f} UDP object"),
                ))
            }
            _ => {}
        }
        Ok(Rc::new(new_udp(family)?))
    }

    /// The sockets to try for each address of `ai` (as LuaSocket tries
    /// them in turn), and the error to return if none works: the last
    /// socket error, or "no address to `what`".
    fn candidates(
        &self,
        ai: &crate::AddrInfo,
        what: &str,
        address: &str,
    ) -> (Vec<(Rc<Udp>, SockAddr)>, Error) {
        let mut last = Error::with_message(
            ErrorKind::InvalidAddress,
            format!("no address to {what} for {address:?}"),
        );
        let mut out = Vec::new();
        for entry in ai.iter() {
            match self.socket_for(entry.family()) {
                Ok(s) => out.push((s, entry.addr())),
                Err(e) => last = e,
            }
        }
        (out, last)
    }

    /// Keeps a socket made by [`socket_for`](Self::socket_for): the
    /// object's family is chosen now.
    fn adopt(&self, s: &Rc<Udp>) {
        let mut slot = self.sock.borrow_mut();
        if slot.is_none() && !self.closed.get() {
            self.family.set(Some(s.family()));
            *slot = Some(s.clone());
        }
    }

    /// The absolute deadline of a receive starting now.
    fn expires(&self) -> Option<f64> {
        self.timeout.get().map(|t| clock() + t)
    }

    fn hints(&self, passive: bool) -> Hints {
        Hints {
            socktype: Some(SockType::Udp),
            family: self.family.get(),
            protocol: None,
            flags: Flags {
                passive,
                ..Flags::default()
            },
        }
    }

    fn must_be_unconnected(&self, call: &str) -> Result<()> {
        if self.connected.get() {
            return Err(Error::with_message(
                ErrorKind::AlreadyConnected,
                format!("{call} on a connected UDP object (setpeername(\"*\") first)"),
            ));
        }
        Ok(())
    }

    fn must_be_connected(&self, call: &str) -> Result<()> {
        if !self.connected.get() {
            return Err(Error::with_message(
                ErrorKind::NotConnected,
                format!("{call} on an unconnected UDP object (setpeername first)"),
            ));
        }
        Ok(())
    }

    /// `unconnected:setsockname(address, port)`: binds to a local address.
    /// `"*"` is all interfaces, port 0 an ephemeral port. The addresses
    /// `address` resolves to are tried in turn until one binds. Literal
    /// addresses need no resolver; a host name is looked up blocking, as in
    /// LuaSocket (call it before the loop runs, or bind a literal).
    ///
    /// # Errors
    ///
    /// `"already_connected"` (LuaSocket allows it on unconnected objects
    /// only), `"address_already_in_use"`, `"address_not_available"`,
    /// `"invalid_address"` (an IPv6 address for an IPv4 object, a bad
    /// port), a lookup error, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket;
    /// let u = luasocket::udp4()?;
    /// u.setsockname("127.0.0.1", 0)?; // port 0: the kernel picks one
    /// let (ip, port, _) = u.getsockname()?;
    /// assert_eq!(ip, "127.0.0.1");
    /// assert_ne!(port, 0);
    /// let any = luasocket::udp4()?;
    /// any.setsockname("*", 0)?; // every interface
    /// assert_eq!(any.getsockname()?.0, "0.0.0.0");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    #[doc(alias = "bind")]
    pub fn setsockname(&self, address: &str, port: u16) -> Result<()> {
        self.must_be_unconnected("setsockname")?;
        if self.closed.get() {
            return self.socket().map(drop);
        }
        let ai = crate::addr_with(address, port, &self.hints(true))?;
        let (candidates, mut last) = self.candidates(&ai, "bind to", address);
        for (s, addr) in candidates {
            match s.bind(addr) {
                Ok(()) => {
                    self.adopt(&s);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `udp:setpeername(address, port)`: connects the object to a peer
    /// (only datagrams from it are received; `send`/`receive` use it).
    /// `setpeername("*", _)` disconnects: the object is unconnected again
    /// and receives from anyone (the port is ignored, as in LuaSocket).
    /// A host name is looked up without blocking the loop.
    ///
    /// # Errors
    ///
    /// `"invalid_address"`, a lookup error, `"network_unreachable"`,
    /// `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a lookup in progress is abandoned, nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let u = sockloop::luasocket::udp4()?;
    /// u.setpeername("127.0.0.1", 9).await?;
    /// assert_eq!(u.getpeername()?.1, 9);
    /// u.setpeername("*", 0).await?;
    /// assert_eq!(u.getpeername().unwrap_err().name(), "not_connected");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    #[doc(alias = "connect")]
    pub async fn setpeername(&self, address: &str, port: u16) -> Result<()> {
        if address == "*" {
            if self.closed.get() {
                return self.socket().map(drop);
            }
            let s = self.sock.borrow().clone();
            if let Some(s) = s {
                s.connect(("*", 0), None).await?;
            }
            self.connected.set(false);
            return Ok(());
        }
        if self.closed.get() {
            return self.socket().map(drop);
        }
        let ai = crate::addr_async(address, port, &self.hints(false)).await?;
        let (candidates, mut last) = self.candidates(&ai, "connect to", address);
        for (s, addr) in candidates {
            match s.connect(addr, None).await {
                Ok(()) => {
                    self.adopt(&s);
                    self.connected.set(true);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `udp:getsockname()`: the local IP address (as text), port and
    /// family. Before any bind or send the address is the wildcard and the
    /// port 0.
    ///
    /// # Errors
    ///
    /// `"closed"` (also for `udp()` before its family is chosen).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{luasocket, Family};
    /// let u = luasocket::udp6()?;
    /// u.setsockname("::1", 0)?;
    /// let (ip, port, family) = u.getsockname()?;
    /// assert_eq!((ip.as_str(), family), ("::1", Family::Inet6));
    /// assert!(port > 0);
    /// u.close()?;
    /// assert_eq!(u.getsockname().unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn getsockname(&self) -> Result<(String, u16, Family)> {
        Ok(split(&self.socket()?.local_addr()?))
    }

    /// `connected:getpeername()`: the peer's IP address (as text), port
    /// and family.
    ///
    /// # Errors
    ///
    /// `"not_connected"` on an unconnected object, `"closed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{luasocket, Family};
    /// let u = luasocket::udp4()?;
    /// assert_eq!(u.getpeername().unwrap_err().name(), "not_connected");
    /// u.setpeername("127.0.0.1", 5353).await?;
    /// assert_eq!(u.getpeername()?, ("127.0.0.1".to_string(), 5353, Family::Inet));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getpeername(&self) -> Result<(String, u16, Family)> {
        let s = self.socket()?;
        self.must_be_connected("getpeername")?;
        Ok(split(&s.remote_addr()?))
    }

    /// `connected:send(datagram)`: sends one datagram to the peer; returns
    /// the bytes sent. An empty datagram is allowed.
    ///
    /// The [`settimeout`](UdpObject::settimeout) time bounds the wait for
    /// buffer space (LuaSocket's "send never blocks": the kernel takes a
    /// datagram at once unless its buffer is full).
    ///
    /// # Errors
    ///
    /// `"not_connected"` (unconnected object: use `sendto`),
    /// `"message_too_long"`, `"connection_refused"` (an ICMP error from an
    /// earlier datagram), `"timeout"`, `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent whole or not at all.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket;
    /// let server = luasocket::udp4()?;
    /// server.setsockname("127.0.0.1", 0)?;
    /// server.settimeout(Some(5.0));
    /// let (ip, port, _) = server.getsockname()?;
    ///
    /// let client = luasocket::udp4()?;
    /// client.setpeername(&ip, port).await?;
    /// assert_eq!(client.send(b"ping").await?, 4);
    /// assert_eq!(client.send(b"").await?, 0); // an empty datagram is one too
    /// assert_eq!(server.receive(None).await?, b"ping");
    /// assert_eq!(server.receive(None).await?, b"");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, datagram: &[u8]) -> Result<usize> {
        let s = self.socket()?;
        self.must_be_connected("send")?;
        s.send(datagram, self.expires()).await
    }

    /// `unconnected:sendto(datagram, ip, port)`: sends one datagram to
    /// `ip`:`port`; returns the bytes sent. `ip` must be a numeric address
    /// (LuaSocket takes no host names here); for a `udp()` object it
    /// chooses the family.
    ///
    /// # Errors
    ///
    /// `"invalid_address"` (a host name, or an address of the other
    /// family), `"already_connected"` (use `send`), `"message_too_long"`,
    /// `"timeout"`, `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{luasocket, Family};
    /// # let server = luasocket::udp4()?;
    /// # server.setsockname("127.0.0.1", 0)?;
    /// # server.settimeout(Some(5.0));
    /// # let (ip, port, _) = server.getsockname()?;
    /// let u = luasocket::udp()?; // no family yet
    /// assert_eq!(u.sendto(b"hi", &ip, port).await?, 2);
    /// assert_eq!(u.getfamily(), Family::Inet); // chosen by the address
    /// assert_eq!(server.receive(None).await?, b"hi");
    /// let e = u.sendto(b"hi", "localhost", port).await.unwrap_err();
    /// assert_eq!(e.name(), "invalid_address"); // numeric addresses only
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn sendto(&self, datagram: &[u8], ip: &str, port: u16) -> Result<usize> {
        self.must_be_unconnected("sendto")?;
        let addr: IpAddr = ip.parse().map_err(|_| {
            Error::with_message(
                ErrorKind::InvalidAddress,
                format!(
                    "sendto needs a numeric IP address, got {ip:?} (look names up with dns::toip)"
                ),
            )
        })?;
        let family = match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        };
        let s = self.socket_for(family)?;
        let n = s
            .sendto(SocketAddr::new(addr, port), datagram, self.expires())
            .await?;
        self.adopt(&s);
        Ok(n)
    }

    /// `udp:receive([size])`: receives one datagram of at most `size`
    /// bytes (`None`: [`DATAGRAMSIZE`], 8192); the rest of a longer
    /// datagram is discarded. On a connected object only the peer's
    /// datagrams arrive.
    ///
    /// Waits at most the [`settimeout`](UdpObject::settimeout) time:
    /// without one it waits until a datagram comes; with `Some(0.0)` it
    /// only takes a datagram that is already there.
    ///
    /// # Errors
    ///
    /// `"timeout"`, `"invalid_argument"` for `Some(0)` (no datagram is
    /// taken), `"connection_refused"` (an ICMP error from an earlier
    /// datagram), `"closed"`, `"cancelled"`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only when the future completes.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket;
    /// # let server = luasocket::udp4()?;
    /// # server.setsockname("127.0.0.1", 0)?;
    /// # let (ip, port, _) = server.getsockname()?;
    /// # let client = luasocket::udp4()?;
    /// client.sendto(b"0123456789", &ip, port).await?;
    /// server.settimeout(Some(5.0));
    /// // At most 4 bytes: the rest of the datagram is dropped.
    /// assert_eq!(server.receive(Some(4)).await?, b"0123");
    /// server.settimeout(Some(0.0)); // only what is already there
    /// assert_eq!(server.receive(None).await.unwrap_err().name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receive(&self, size: Option<usize>) -> Result<Vec<u8>> {
        let s = self.socket()?;
        let mut buf = vec![0u8; size.unwrap_or(DATAGRAMSIZE).min(MAX_DATAGRAM)];
        let n = s.recv(&mut buf, self.expires()).await?;
        buf.truncate(n);
        Ok(buf)
    }

    /// `unconnected:receivefrom([size])`: as [`receive`](UdpObject::receive),
    /// plus the sender's IP address (as text) and port.
    ///
    /// # Errors
    ///
    /// As [`receive`](UdpObject::receive); `"already_connected"` on a
    /// connected object (LuaSocket allows `receivefrom` on unconnected
    /// objects only: use `receive`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::luasocket;
    /// # let server = luasocket::udp4()?;
    /// # server.setsockname("127.0.0.1", 0)?;
    /// # server.settimeout(Some(5.0));
    /// # let (ip, port, _) = server.getsockname()?;
    /// let client = luasocket::udp4()?;
    /// client.sendto(b"who", &ip, port).await?;
    /// let (dgram, from_ip, from_port) = server.receivefrom(None).await?;
    /// assert_eq!(dgram, b"who");
    /// assert_eq!((from_ip, from_port), ("127.0.0.1".to_string(), client.getsockname()?.1));
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn receivefrom(&self, size: Option<usize>) -> Result<(Vec<u8>, String, u16)> {
        let s = self.socket()?;
        self.must_be_unconnected("receivefrom")?;
        let mut buf = vec![0u8; size.unwrap_or(DATAGRAMSIZE).min(MAX_DATAGRAM)];
        let (n, from) = s.recvnext(&mut buf, self.expires()).await?;
        buf.truncate(n);
        Ok((buf, from.ip().to_string(), from.port()))
    }

    /// `udp:settimeout(value)`: later receives wait at most `value`
    /// seconds, each on its own (relative, as LuaSocket's default `"b"`
    /// mode), then fail with `"timeout"`. `None`, a negative or a NaN
    /// value waits without limit (the default); `Some(0.0)` makes receives
    /// non-blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let u = sockloop::luasocket::udp4()?;
    /// u.setsockname("127.0.0.1", 0)?;
    /// u.settimeout(Some(0.0));
    /// assert_eq!(u.receive(None).await.unwrap_err().name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn settimeout(&self, value: Option<f64>) {
        self.timeout.set(value.filter(|t| *t >= 0.0));
    }

    /// `udp:gettimeout()`: the value set by
    /// [`settimeout`](UdpObject::settimeout) (`None`: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let u = sockloop::luasocket::udp4()?;
    /// assert_eq!(u.gettimeout(), None); // no limit
    /// u.settimeout(Some(2.5));
    /// assert_eq!(u.gettimeout(), Some(2.5));
    /// u.settimeout(Some(-1.0)); // no limit again
    /// assert_eq!(u.gettimeout(), None);
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn gettimeout(&self) -> Option<f64> {
        self.timeout.get()
    }

    /// `udp:setoption(option, value)`: LuaSocket's option names, mapped to
    /// sock.lua's ([`Udp::setopt`]): `"dontroute"`, `"broadcast"`,
    /// `"reuseaddr"`, `"reuseport"`, `"ip-multicast-loop"`,
    /// `"ip-multicast-ttl"`, `"ipv6-v6only"`, `"ipv6-unicast-hops"`,
    /// `"ipv6-multicast-hops"`, `"ipv6-multicast-loop"`,
    /// `"recv-buffer-size"` (`rcvbuf`), `"send-buffer-size"` (`sndbuf`).
    ///
    /// # Errors
    ///
    /// As [`Udp::setopt`]: `"unknown_option"` (among them
    /// `"ip-multicast-if"`, `"ip-add-membership"`,
    /// `"ip-drop-membership"`: use [`getsocket`](UdpObject::getsocket)
    /// and [`Udp::with_socket`]), `"invalid_option_value"`,
    /// `"not_supported"` (`"dontroute"`); `"closed"` (also for `udp()`
    /// before its family is chosen, as in LuaSocket).
    ///
    /// # Examples
    ///
    /// ```
    /// let u = sockloop::luasocket::udp4()?;
    /// u.setoption("broadcast", true)?;
    /// u.setoption("ip-multicast-ttl", 4)?;
    /// assert_eq!(u.getoption("ip-multicast-ttl")?.as_int(), Some(4));
    /// let e = u.setoption("ip-add-membership", true).unwrap_err();
    /// assert_eq!(e.name(), "unknown_option");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn setoption(&self, option: &str, value: impl Into<OptValue>) -> Result<()> {
        self.socket()?.setopt(&option_name(option), value)
    }

    /// `udp:getoption(option)`: as [`setoption`](UdpObject::setoption).
    ///
    /// # Errors
    ///
    /// As [`setoption`](UdpObject::setoption).
    ///
    /// # Examples
    ///
    /// ```
    /// let u = sockloop::luasocket::udp4()?;
    /// assert_eq!(u.getoption("broadcast")?.as_bool(), Some(false));
    /// u.setoption("recv-buffer-size", 65536)?;
    /// assert!(u.getoption("recv-buffer-size")?.as_int() >= Some(65536));
    /// assert_eq!(sockloop::luasocket::udp()?.getoption("broadcast").unwrap_err().name(), "closed");
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn getoption(&self, option: &str) -> Result<OptValue> {
        self.socket()?.getopt(&option_name(option))
    }

    /// `udp:close()`: closes the socket now; a receive parked on it (in
    /// any thread) wakes with `"closed"`, and every later call but `close`
    /// fails with `"closed"`. Closing again is `Ok`, as in LuaSocket.
    ///
    /// # Errors
    ///
    /// None today; `Result` for LuaSocket's shape.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use std::rc::Rc;
    /// use sockloop::{clock, luasocket};
    ///
    /// let u = Rc::new(luasocket::udp4()?);
    /// u.setsockname("127.0.0.1", 0)?;
    /// let reader = u.clone();
    /// let t = sockloop::thread(async move { reader.receive(None).await });
    /// sockloop::sleep(0.01).await; // it waits for a datagram
    /// u.close()?;
    /// assert_eq!(t.join(clock() + 5.0).await?.unwrap_err().name(), "closed");
    /// u.close()?; // again: fine
    /// assert_eq!(u.getfd(), luasocket::SOCKETINVALID);
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> Result<()> {
        self.closed.set(true);
        let s = self.sock.borrow_mut().take();
        if let Some(s) = s {
            let _ = s.close();
        }
        Ok(())
    }

    /// `udp:dirty()`: whether bytes are buffered above the socket: never
    /// for UDP, as in LuaSocket.
    ///
    /// # Examples
    ///
    /// ```
    /// let u = sockloop::luasocket::udp4()?;
    /// assert!(!u.dirty()); // datagrams are never buffered above the socket
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn dirty(&self) -> bool {
        false
    }

    /// `udp:getfd()`: the socket's descriptor, or
    /// [`SOCKETINVALID`](super::SOCKETINVALID) (`-1`) when it is closed or
    /// not made yet (`udp()` before its family is chosen).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::luasocket;
    /// assert!(luasocket::udp4()?.getfd() >= 0);
    /// assert_eq!(luasocket::udp()?.getfd(), luasocket::SOCKETINVALID); // no socket yet
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn getfd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.socket()
            .and_then(|s| s.with_socket(|s| s.as_raw_fd()))
            .unwrap_or(SOCKETINVALID)
    }

    /// `udp:getfamily()`: the object's family; [`Family::Inet`] for a
    /// `udp()` whose family is not chosen yet (LuaSocket says `"inet4"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockloop::{luasocket, Family};
    /// assert_eq!(luasocket::udp6()?.getfamily(), Family::Inet6);
    /// assert_eq!(luasocket::udp()?.getfamily(), Family::Inet); // not chosen yet
    /// # Ok::<(), sockloop::Error>(())
    /// ```
    pub fn getfamily(&self) -> Family {
        self.family.get().unwrap_or(Family::Inet)
    }

    /// `true` after [`setpeername`](UdpObject::setpeername) (LuaSocket's
    /// `udp{connected}` class), until `setpeername("*")`.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// let u = sockloop::luasocket::udp4()?;
    /// assert!(!u.is_connected()); // send to an address: sendto
    /// assert_eq!(u.send(b"x").await.unwrap_err().name(), "not_connected");
    /// u.setpeername("127.0.0.1", 9).await?;
    /// assert!(u.is_connected()); // send to the peer: send
    /// assert_eq!(u.sendto(b"x", "127.0.0.1", 9).await.unwrap_err().name(), "already_connected");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_connected(&self) -> bool {
        self.connected.get()
    }

    /// The async [`Udp`] underneath (shared), for sock.lua's calls
    /// (`recvnext`, `connect` with a deadline) and socket2's.
    ///
    /// # Errors
    ///
    /// `"closed"`, also for `udp()` before its family is chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// # sockloop::run(async {
    /// use sockloop::{clock, luasocket};
    /// let u = luasocket::udp4()?;
    /// u.setsockname("127.0.0.1", 0)?;
    /// let udp = u.getsocket()?; // sockloop's Udp: calls with absolute deadlines
    /// let mut buf = [0u8; 16];
    /// let e = udp.recv(&mut buf, clock() + 0.01).await.unwrap_err();
    /// assert_eq!(e.name(), "timeout");
    /// # Ok::<(), sockloop::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn getsocket(&self) -> Result<Rc<Udp>> {
        self.socket()
    }
}

impl From<Udp> for UdpObject {
    /// Wraps a sockloop [`Udp`]; connected if it has a peer.
    fn from(u: Udp) -> UdpObject {
        let o = UdpObject::empty(Some(u.family()));
        o.connected.set(u.remote_addr().is_ok());
        *o.sock.borrow_mut() = Some(Rc::new(u));
        o
    }
}
