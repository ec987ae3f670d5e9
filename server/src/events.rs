//! `GET /api/events`: server-sent events telling an open page which kinds of data changed
//! (`event: change`, `data: alerts runs`), so it asks again for what it shows, and nothing asks
//! when nothing changed. Only topic names travel; the data comes through the usual, checked
//! server functions. Viewer or above, by session or API token.
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower_sessions::Session;

use app::model::{Role, Topic};
use app::ssr::changes::Stamp;
use app::ssr::{auth, AppState};

use crate::export::refuse;

/// At most one message per this long per page: a storm of 1,000 alerts/s is four messages a
/// second naming `alerts`, not a thousand, and a page still hears of a change well within a
/// second.
pub const COALESCE: Duration = Duration::from_millis(250);

/// A comment line this often keeps proxies and the browser from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A stream ends after this long; the browser reconnects at once (EventSource does), and the
/// reconnect checks the session again: a user signed out or disabled stops hearing news.
const MAX_STREAM: Duration = Duration::from_secs(600);

/// The browser waits this long before reconnecting after the stream ended or broke.
const RETRY: Duration = Duration::from_secs(1);

#[tracing::instrument(skip_all)]
pub async fn events(State(state): State<AppState>, session: Session, headers: HeaderMap) -> Response {
    let who = auth::principal(&state, headers.get(header::AUTHORIZATION), &session).await;
    if let Err(e) = who.and_then(|user| auth::check_role(user, Role::Viewer)) {
        return refuse(e);
    }
    let last = headers.get("last-event-id").map(|v| v.to_str().unwrap_or_default().to_owned());
    let stream = follow(state.changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, last.as_deref());
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // A buffering proxy (nginx by default) would hold the messages back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where one page's stream stands.
struct Follower {
    news: watch::Receiver<Stamp>,
    seen: Stamp,
    /// The next message may not leave before this (coalescing).
    not_before: Instant,
    ends_at: Instant,
    greeted: bool,
    /// What changed while the page was not listening (it reconnected), told right after `ready`.
    missed: Vec<Topic>,
}

/// The messages for one page: first `ready` (with the reconnect delay); on a reconnect (`last`,
/// the `Last-Event-ID` the browser sent back), one `change` naming what changed since that
/// message — every topic when the id is of another run of the server; then one `change` per
/// burst of changes, at most one per `gap`, until the server stops or `ends_at`. Every message
/// carries the stamp it was sent at as its id.
pub fn follow(
    mut news: watch::Receiver<Stamp>,
    gap: Duration,
    ends_at: Instant,
    last: Option<&str>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let seen = *news.borrow_and_update();
    let missed = match last.map(|id| seen.of_id(id)) {
        None => Vec::new(),
        Some(Some(then)) => seen.changed_since(&then),
        Some(None) => Topic::ALL.to_vec(),
    };
    let follower = Follower { news, seen, not_before: Instant::now(), ends_at, greeted: false, missed };
    stream::unfold(follower, move |mut f| async move {
        if !f.greeted {
            f.greeted = true;
            let ready = Event::default().event("ready").retry(RETRY).id(f.seen.id()).data("");
            return Some((Ok(ready), f));
        }
        if !f.missed.is_empty() {
            let topics = std::mem::take(&mut f.missed);
            f.not_before = Instant::now() + gap;
            return Some((Ok(change(&topics, &f.seen)), f));
        }
        loop {
            if f.seen.closed {
                return None;
            }
            tokio::select! {
                () = tokio::time::sleep_until(f.ends_at) => return None,
                changed = f.news.changed() => changed.ok()?,
            }
            // Let the burst finish: whatever else changes before the gap is over joins this message.
            tokio::time::sleep_until(f.not_before).await;
            let now = *f.news.borrow_and_update();
            let topics = now.changed_since(&f.seen);
            f.seen = now;
            if now.closed {
                return None;
            }
            if topics.is_empty() {
                continue;
            }
            f.not_before = Instant::now() + gap;
            return Some((Ok(change(&topics, &f.seen)), f));
        }
    })
}

/// `event: change`, `data: alerts runs`, `id:` the stamp it was sent at.
fn change(topics: &[Topic], at: &Stamp) -> Event {
    let data = topics.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    Event::default().event("change").id(at.id()).data(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::ssr::changes::Changes;
    use futures_util::StreamExt;

    /// The message as it goes on the wire (its Debug shows the encoded bytes).
    fn text(e: Event) -> String {
        format!("{e:?}")
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_message_and_the_next_waits_out_the_gap() {
        let changes = Changes::default();
        let mut s = Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, None));
        assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
        for _ in 0..1000 {
            changes.touch(&[Topic::Alerts]);
        }
        changes.touch(&[Topic::Runs]);
        let first = text(s.next().await.unwrap().unwrap());
        assert!(first.contains("alerts runs"), "{first}");
        let sent = Instant::now();
        changes.touch(&[Topic::Output]);
        let second = text(s.next().await.unwrap().unwrap());
        assert!(second.contains("output") && !second.contains("alerts"), "{second}");
        assert!(Instant::now() - sent >= COALESCE, "the second message waited out the gap");
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_ends_when_the_server_stops_or_its_time_is_up() {
        let changes = Changes::default();
        let mut s = Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, None));
        assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
        changes.close();
        assert!(s.next().await.is_none(), "closed: the stream ends");

        let changes = Changes::default();
        let mut s = Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, None));
        assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
        assert!(
            s.next().await.is_none(),
            "after MAX_STREAM the stream ends (time is paused and skips ahead)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconnect_hears_at_once_what_changed_since_its_last_message_and_only_that() {
        let changes = Changes::default();
        let mut s = Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, None));
        let ready = text(s.next().await.unwrap().unwrap());
        changes.touch(&[Topic::Alerts]);
        let change = text(s.next().await.unwrap().unwrap());
        let id = |message: &str| {
            let at = message.find("id: ").expect("every message has an id") + 4;
            message[at..].split("\\n").next().unwrap().to_owned()
        };
        assert!(!id(&ready).is_empty() && id(&ready) != id(&change), "{ready} / {change}");
        drop(s);

        // Gone a while: runs and approvals changed meanwhile.
        changes.touch(&[Topic::Runs, Topic::Approvals]);
        let mut s =
            Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, Some(&id(&change))));
        assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
        let missed = text(s.next().await.unwrap().unwrap());
        assert!(missed.contains("data: runs approvals") && !missed.contains("alerts"), "{missed}");

        // Nothing missed: only `ready`, then the next real change.
        let latest = id(&missed);
        let mut s =
            Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, Some(&latest)));
        assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
        changes.touch(&[Topic::Output]);
        let next = text(s.next().await.unwrap().unwrap());
        assert!(next.contains("data: output"), "nothing missed, nothing re-sent: {next}");

        // An id of another run of the server (or anything else): every topic may have changed.
        for foreign in ["1.0.0.0.0.0.0", "garbage", ""] {
            let mut s =
                Box::pin(follow(changes.subscribe(), COALESCE, Instant::now() + MAX_STREAM, Some(foreign)));
            assert!(text(s.next().await.unwrap().unwrap()).contains("ready"));
            let all = text(s.next().await.unwrap().unwrap());
            assert!(all.contains("data: alerts runs approvals breakers pauses output"), "{foreign:?}: {all}");
        }
    }
}
