//! The sockets made on this OS thread, for the inventory: weak references
//! in this OS thread's list (the one `thread_local!` here), each able to
//! describe itself as a [`Row`]. The socket code adds to it
//! ([`add`]); the inventory reads it ([`rows`]). It knows no socket type,
//! only [`Listed`].

use std::cell::RefCell;
use std::sync::Weak;

use crate::addr::{Family, SockAddr, SockType};

/// What the inventory shows of one live, open socket.
pub(crate) struct Row {
    /// The socket's key in the threads' park notes (see
    /// [`Park::Socket`](crate::park_note::Park::Socket)).
    pub(crate) key: usize,
    pub(crate) fd: i32,
    pub(crate) socktype: SockType,
    pub(crate) family: Family,
    pub(crate) local: Option<SockAddr>,
    pub(crate) remote: Option<SockAddr>,
    /// Bytes received and sent by sockloop calls.
    pub(crate) moved: [u64; 2],
}

/// A socket the list can describe.
pub(crate) trait Listed: Send + Sync {
    /// Its row; `None` once it is closed.
    fn row(&self) -> Option<Row>;
}

thread_local! {
    static SOCKETS: RefCell<SockList> = const {
        RefCell::new(SockList {
            list: Vec::new(),
            prune_at: 0,
        })
    };
}

struct SockList {
    list: Vec<Weak<dyn Listed>>,
    /// Prune the dead entries when the list reaches this length.
    prune_at: usize,
}

/// Lists a new socket. Dead entries are pruned when the list has doubled
/// since the last prune, so this is O(1) amortized and the list holds at
/// most about twice the live sockets.
pub(crate) fn add(s: Weak<dyn Listed>) {
    let _ = SOCKETS.try_with(|socks| {
        let Ok(mut socks) = socks.try_borrow_mut() else {
            return;
        };
        if socks.list.len() >= socks.prune_at {
            socks.list.retain(|w| w.strong_count() > 0);
            socks.prune_at = (socks.list.len() * 2).max(64);
        }
        socks.list.push(s);
    });
}

/// The rows of the live, open sockets made on this OS thread.
pub(crate) fn rows() -> Vec<Row> {
    let live: Vec<_> = SOCKETS
        .try_with(|socks| {
            let mut socks = socks.borrow_mut();
            socks.list.retain(|w| w.strong_count() > 0);
            socks.list.iter().filter_map(Weak::upgrade).collect()
        })
        .unwrap_or_default();
    // No borrow held while the sockets lock their own state.
    live.iter().filter_map(|s| s.row()).collect()
}
