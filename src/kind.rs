//! The kinds of [`Socket`](crate::Socket): its type parameter, which says
//! what the socket is and so which calls it has.
//!
//! Every socket is one [`Socket<K>`](crate::Socket) (as async-io's one
//! `Async<T>`): the calls every socket has (`close`, `setopt`,
//! `local_addr`, ...) are written once for every [`Kind`]; the stream calls
//! (`send`, `recv`, `recvn`, `recvall`, `until` and Tokio's I/O traits)
//! once for every stream [`Transport`]; the datagram calls once for every
//! [`Dgram`] kind. A kind adds only what differs: its constructor and its
//! own few calls. The names the crate has always used are aliases:
//!
//! | alias | type | |
//! |---|---|---|
//! | [`Tcp`](crate::Tcp) | `Socket<Stream>` | TCP and Unix-domain stream sockets |
//! | `Stcp` (feature `tls`) | `Socket<Tls>` | TLS connections over a `Tcp` |
//! | [`Udp`](crate::Udp) | `Socket<Dgram<kind::Udp>>` | UDP and Unix-domain datagram sockets |
//! | [`Raw`](crate::Raw) | `Socket<Dgram<kind::Raw>>` | raw IP sockets |
//!
//! The traits are sealed: the kinds are sockloop's. They are for code
//! generic over sockets, e.g. one function for plain and TLS streams.
//!
//! # Examples
//!
//! ```
//! # sockloop::run(async {
//! use sockloop::kind::Transport;
//! use sockloop::{clock, Socket};
//!
//! // One function for every stream socket: TCP, Unix stream, TLS.
//! async fn greet<K: Transport>(s: &Socket<K>) -> sockloop::Result<()> {
//!     s.send(b"hello\n", clock() + 5.0).await
//! }
//!
//! let server = sockloop::tcp()?;
//! server.listen(("127.0.0.1", 0))?;
//! let client = sockloop::tcp()?;
//! client.connect(server.local_addr()?, clock() + 5.0).await?;
//! let conn = server.accept(clock() + 5.0).await?;
//! greet(&client).await?;
//! let mut buf = [0u8; 6];
//! conn.recvn(&mut buf, clock() + 5.0).await?;
//! assert_eq!(&buf, b"hello\n");
//! # Ok::<(), sockloop::Error>(())
//! # }).unwrap();
//! ```

pub use crate::socket::{Kind, Native, Plain, Proto, Raw, Transport, Udp};
pub use crate::tcp::Stream;
#[cfg(feature = "tls")]
pub use crate::tls::Tls;
pub use crate::udp::Dgram;
