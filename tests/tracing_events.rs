//! The `tracing` feature: a span per sockloop thread, lifecycle events in
//! order, failed socket calls traced with their name and partial count.
#![cfg(feature = "tracing")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use support::{bounded, tcp_pair};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct Collect(BTreeMap<String, String>);

impl Visit for Collect {
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0.insert(f.name().to_string(), format!("{v:?}"));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().to_string(), v.to_string());
    }
}

/// One event: its fields (message included) and its span's fields.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    fields: Fields,
    span: Option<Fields>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Collect::default();
        attrs.record(&mut c);
        if let Some(s) = ctx.span(id) {
            s.extensions_mut().insert(c.0);
        }
    }

    fn on_event(&self, e: &Event<'_>, ctx: Context<'_, S>) {
        let mut c = Collect::default();
        e.record(&mut c);
        let span = ctx
            .event_span(e)
            .and_then(|s| s.extensions().get::<Fields>().cloned());
        self.0.lock().unwrap().push(Seen {
            target: e.metadata().target().to_string(),
            fields: c.0,
            span,
        });
    }
}

fn with_recorder<R>(f: impl FnOnce() -> R) -> (R, Vec<Seen>) {
    let rec = Recorder::default();
    let sub = tracing_subscriber::registry().with(rec.clone());
    let r = tracing::subscriber::with_default(sub, f);
    let seen = rec.0.lock().unwrap().clone();
    (r, seen)
}

/// The lifecycle messages of the thread named `name`, in order.
fn lifecycle(seen: &[Seen], name: &str) -> Vec<String> {
    seen.iter()
        .filter(|s| s.target == "sockloop::thread")
        .filter(|s| {
            s.span
                .as_ref()
                .and_then(|f| f.get("name"))
                .map(String::as_str)
                == Some(name)
        })
        .map(|s| s.fields["message"].clone())
        .collect()
}

#[test]
fn spans_carry_the_thread_name_and_user_events_inherit_them() {
    let ((), seen) = with_recorder(|| {
        let t = sockloop::thread_named("worker", async {
            tracing::info!(target: "user", "hello from inside");
        });
        assert!(t.is_finished());
    });
    let user = seen.iter().find(|s| s.target == "user").unwrap();
    let span = user.span.as_ref().unwrap();
    assert_eq!(span["name"], "worker");
    assert!(span["id"].parse::<u64>().is_ok(), "{span:?}");
}

#[test]
fn lifecycle_events_in_order() {
    let ((), seen) = with_recorder(|| {
        let t = sockloop::newthread_named("life", async {
            sockloop::suspend(()).await;
            sockloop::sleep(0.001).await;
        });
        sockloop::resume(&t, ()).unwrap();
        sockloop::resume(&t, ()).unwrap();
        sockloop::start().unwrap();
        assert!(t.is_finished());
    });
    assert_eq!(
        lifecycle(&seen, "life"),
        [
            "created",
            "resumed",
            "suspended",
            "resumed",
            "waiting",
            "resumed",
            "finished"
        ]
    );
}

#[test]
fn cancel_and_panic_events() {
    let ((), seen) = with_recorder(|| {
        let c = sockloop::thread_named("victim", async { sockloop::sleep(60.0).await });
        c.cancel();
        let _p = sockloop::thread_named("boom", async {
            sockloop::sleep(0.001).await;
            panic!("kaboom");
        });
        let e = sockloop::start().unwrap_err();
        assert_eq!(e.name(), "thread_panicked");
    });
    assert_eq!(
        lifecycle(&seen, "victim"),
        [
            "created",
            "resumed",
            "waiting",
            "resumed",
            "cancelled",
            "finished"
        ]
    );
    let boom = lifecycle(&seen, "boom");
    assert_eq!(
        boom,
        ["created", "resumed", "waiting", "resumed", "panicked", "finished"]
    );
    let p = seen
        .iter()
        .find(|s| s.fields.get("message").map(String::as_str) == Some("panicked"))
        .unwrap();
    assert!(p.fields["panic"].contains("kaboom"), "{p:?}");
    let fin = seen
        .iter()
        .filter(|s| s.fields.get("message").map(String::as_str) == Some("finished"))
        .find(|s| s.span.as_ref().unwrap()["name"] == "boom")
        .unwrap();
    assert_eq!(fin.fields["panicked"], "true");
}

#[test]
fn failed_socket_call_carries_name_partial_and_addresses() {
    let ((), seen) = bounded(20, || {
        with_recorder(|| {
            sockloop::run(async {
                let (c, s) = tcp_pair().await;
                s.send(b"abc", None).await.unwrap();
                s.close().unwrap();
                let mut buf = [0u8; 10];
                let e = c
                    .recvn(&mut buf, sockloop::clock() + 5.0)
                    .await
                    .unwrap_err();
                assert_eq!((e.name(), e.partial()), ("eof", Some(3)));
                let e = c.recv(&mut buf, sockloop::clock() + 0.05).await;
                assert!(e.is_ok()); // 0: end of stream
                let (c2, _s2) = tcp_pair().await;
                let e = c2
                    .recvn(&mut buf, sockloop::clock() + 0.05)
                    .await
                    .unwrap_err();
                assert_eq!((e.name(), e.partial()), ("timeout", Some(0)));
                let want_local = c2.local_addr().unwrap().to_string();
                let want_remote = c2.remote_addr().unwrap().to_string();
                tracing::info!(target: "test", local = %want_local, remote = %want_remote);
            });
        })
    });
    let marks = seen.iter().find(|s| s.target == "test").unwrap();
    let failed: Vec<_> = seen
        .iter()
        .filter(|s| s.target == "sockloop::sock")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let f = &failed[0].fields;
    assert_eq!(f["message"], "socket call failed");
    assert_eq!(f["error"], "timeout");
    assert_eq!(f["partial"], "0");
    assert_eq!(f["local"], marks.fields["local"]);
    assert_eq!(f["remote"], marks.fields["remote"]);
}

#[test]
fn partial_counts_bytes_before_the_error() {
    let ((), seen) = bounded(20, || {
        with_recorder(|| {
            sockloop::run(async {
                let (c, s) = tcp_pair().await;
                s.send(b"abcd", None).await.unwrap();
                let mut buf = [0u8; 10];
                let e = c
                    .recvn(&mut buf, sockloop::clock() + 0.05)
                    .await
                    .unwrap_err();
                assert_eq!((e.name(), e.partial()), ("timeout", Some(4)));
            });
        })
    });
    let f = seen
        .iter()
        .find(|s| s.target == "sockloop::sock")
        .map(|s| s.fields.clone())
        .unwrap();
    assert_eq!(
        (f["error"].as_str(), f["partial"].as_str()),
        ("timeout", "4")
    );
}
